//! Who is calling: a department consumer (API key or OAuth2 access token), a console user or a
//! citizen (session token, as a cookie or a bearer token). Extractors resolve the caller once
//! per request; handlers decide what that caller may do.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use sm3::{Digest, Sm3};

use crate::error::ApiError;
use crate::governed::{Caller, identity};
use crate::state::AppState;

/// The session cookie set by the login endpoints and the console.
pub const SESSION_COOKIE: &str = "miaopi_session";

/// The header a cookie-authenticated API write must carry: the session's CSRF token (returned
/// by the login endpoints as `csrf_token`). Bearer-token and API-key callers need none: a
/// browser never adds those on its own.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: SM3 over a domain tag and the session token. The session
/// token is secret (an HttpOnly cookie), so another site cannot compute it.
pub fn csrf_token(session: &str) -> String {
    let mut h = Sm3::new();
    h.update(b"miaopi-console-csrf\0");
    h.update(session.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `presented` is the CSRF token of `session`, compared in constant time.
pub fn csrf_matches(session: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = csrf_token(session);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// The `Set-Cookie` value of a session: HttpOnly, SameSite=Lax, and `Secure` when the server
/// is reached over TLS (`--behind-tls-proxy`).
pub fn session_cookie_header(
    token: &str,
    max_age_s: u64,
    secure: bool,
) -> Option<axum::http::HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    axum::http::HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .ok()
}

/// The caller, if any credentials were presented and are valid.
pub struct MaybeCaller(pub Option<Caller>);

/// A caller that must be identified: 401 otherwise.
pub struct Authenticated(pub Caller);

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The session token from the `miaopi_session` cookie.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    if let Some(key) = header(parts, "x-api-key") {
        return identity::caller_for_api_key(state, key.trim())
            .await
            .map(Some);
    }
    let bearer = header(parts, "authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let token = bearer.or_else(|| session_cookie(&parts.headers));
    let Some(token) = token else {
        return Ok(None);
    };
    if bearer.is_none() && !parts.method.is_safe() {
        // A browser sends the cookie with any site's form post; only a page of ours knows the
        // token derived from it.
        let presented = header(parts, CSRF_HEADER).unwrap_or_default();
        if !csrf_matches(token, presented.trim()) {
            return Err(ApiError::forbidden(
                "csrf_required",
                "以会话 Cookie 提交的写操作须带 X-CSRF-Token（登录时返回的 csrf_token）",
            ));
        }
    }
    if let Some(caller) = identity::caller_for_token(state, token).await? {
        return Ok(Some(caller));
    }
    // A stale cookie is no identity; a stale bearer token is an error the client must see.
    if bearer.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "访问令牌或会话无效或已过期，请重新登录",
        ));
    }
    Ok(None)
}

/// Consumers are held to their rate limit on every request.
fn admit(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if let Caller::Consumer(c) = caller
        && !state
            .gov
            .admit(&c.consumer_id, c.rate_limit_per_minute, Instant::now())
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "调用过于频繁：每分钟最多 {} 次，请稍后再试",
                c.rate_limit_per_minute
            ),
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = resolve(parts, state).await?;
        if let Some(c) = &caller {
            admit(state, c)?;
        }
        Ok(MaybeCaller(caller))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(c) => Ok(Authenticated(c)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}
