//! Abuse limits (防刷): per client address and per identity, on every endpoint that checks a
//! secret (console and API login, OAuth2 tokens, citizens' one-time codes) and on
//! applications. Token buckets in [`miaopi_govern::Governance::admit`]; the API and the
//! console call the same [`admit`], so neither is a way around the other.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::state::AppState;

/// What is being limited: each has its own buckets and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Console login (username + password), API or console form.
    Login,
    /// OAuth2 client credentials.
    Token,
    /// Citizens' one-time codes: asking for one and typing it.
    OneTimeCode,
    /// Applications (申请).
    Application,
}

impl Scope {
    fn key(self) -> &'static str {
        match self {
            Scope::Login => "login",
            Scope::Token => "token",
            Scope::OneTimeCode => "otp",
            Scope::Application => "apply",
        }
    }
}

/// Requests per minute allowed per client address and per identity, for each [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub login_per_address: u32,
    pub login_per_identity: u32,
    pub token_per_address: u32,
    pub token_per_identity: u32,
    pub one_time_code_per_address: u32,
    pub one_time_code_per_identity: u32,
    pub application_per_address: u32,
    pub application_per_identity: u32,
}

impl Default for Limits {
    /// A person logs in a few times a day; a script guessing passwords is stopped after ten
    /// tries a minute for one username, and one address cannot spread more than thirty tries a
    /// minute over many usernames. Argon2 costs tens of milliseconds of one core, so these
    /// limits also keep a flood from stalling a 2-core server.
    fn default() -> Limits {
        Limits {
            login_per_address: 30,
            login_per_identity: 10,
            token_per_address: 60,
            token_per_identity: 30,
            one_time_code_per_address: 30,
            one_time_code_per_identity: 10,
            application_per_address: 600,
            application_per_identity: 120,
        }
    }
}

impl Limits {
    fn of(&self, scope: Scope) -> (u32, u32) {
        match scope {
            Scope::Login => (self.login_per_address, self.login_per_identity),
            Scope::Token => (self.token_per_address, self.token_per_identity),
            Scope::OneTimeCode => (
                self.one_time_code_per_address,
                self.one_time_code_per_identity,
            ),
            Scope::Application => (self.application_per_address, self.application_per_identity),
        }
    }
}

/// The client's address: the peer of the connection, or — behind a TLS proxy that the
/// operator declared (`--behind-tls-proxy`) — the last address the proxy appended to
/// `X-Forwarded-For` (a client can forge the earlier ones, not the proxy's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if !state.options.behind_tls_proxy {
            return Ok(ClientAddr(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        Ok(ClientAddr(forwarded.unwrap_or(peer)))
    }
}

/// Over a limit: try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited;

impl Limited {
    /// 中文 message for the caller.
    pub const MESSAGE_ZH: &'static str = "尝试过于频繁，请一分钟后再试";
}

impl From<Limited> for crate::error::ApiError {
    fn from(_: Limited) -> crate::error::ApiError {
        crate::error::ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            Limited::MESSAGE_ZH,
        )
    }
}

/// Admits one more request of `scope` from `addr` for `identity` (a username, client id,
/// resident ID or caller id; compared case-insensitively), or refuses it. Both buckets are
/// charged, so neither many identities from one address nor many addresses on one identity
/// get past the limits.
pub fn admit(
    state: &AppState,
    scope: Scope,
    addr: ClientAddr,
    identity: &str,
) -> Result<(), Limited> {
    let (per_address, per_identity) = state.options.limits.of(scope);
    let now = std::time::Instant::now();
    let by_address = state
        .gov
        .admit(&format!("{}:ip:{}", scope.key(), addr.0), per_address, now);
    let identity = identity.trim().to_lowercase();
    let by_identity = state
        .gov
        .admit(&format!("{}:id:{identity}", scope.key()), per_identity, now);
    if by_address && by_identity {
        Ok(())
    } else {
        Err(Limited)
    }
}
