//! Who is calling: a department consumer (API key or OAuth2 access token), a console user or a
//! citizen (session token, as a cookie or a bearer token). Extractors resolve the caller once
//! per request; handlers decide what that caller may do.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use miaopi_govern::{Account, ActorKind, Consumer, Principal, Role};
use sm3::{Digest, Sm3};

use crate::error::ApiError;
use crate::state::{AppState, KEY_CACHE_TTL, TOKEN_CACHE_TTL};

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
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

/// An identified caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// 数据使用方: a department system.
    Consumer(Consumer),
    /// A console user (administrator, provider reviewer, matter designer, auditor).
    Account(Account),
    /// 办事群众: a citizen logged in with their resident ID.
    Citizen { resident_id: String },
}

impl Caller {
    /// The actor as written to the audit chain: kind and id.
    pub fn actor(&self) -> (ActorKind, String) {
        match self {
            Caller::Consumer(c) => (ActorKind::Consumer, c.consumer_id.clone()),
            Caller::Account(a) => (ActorKind::Account, a.username.clone()),
            Caller::Citizen { resident_id } => (ActorKind::Citizen, resident_id.clone()),
        }
    }

    /// A console user holding `role` (administrators hold every role).
    pub fn account_with(&self, wanted: fn(&Role) -> bool) -> Option<&Account> {
        match self {
            Caller::Account(a)
                if a.roles
                    .iter()
                    .any(|r| matches!(r, Role::Administrator) || wanted(r)) =>
            {
                Some(a)
            }
            _ => None,
        }
    }

    pub fn is_administrator(&self) -> bool {
        matches!(self, Caller::Account(a) if a.roles.iter().any(|r| matches!(r, Role::Administrator)))
    }

    pub fn is_auditor(&self) -> bool {
        self.account_with(|r| matches!(r, Role::Auditor)).is_some()
    }
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

async fn consumer_by_key(state: &AppState, key: &str) -> Result<Option<Consumer>, ApiError> {
    let digest: [u8; 32] = Sm3::digest(key.as_bytes()).into();
    if let Some((consumer, at)) = state.key_cache.read().await.get(&digest)
        && at.elapsed() < KEY_CACHE_TTL
    {
        return Ok(Some(consumer.clone()));
    }
    let found = state
        .gov
        .authenticate_api_key(key)
        .await
        .map_err(|e| ApiError::internal("checking an API key", e))?;
    if let Some(c) = &found {
        state
            .key_cache
            .write()
            .await
            .insert(digest, (c.clone(), Instant::now()));
    }
    Ok(found)
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let now = chrono::Utc::now();
    if let Some(key) = header(parts, "x-api-key") {
        return match consumer_by_key(state, key.trim()).await? {
            Some(c) => Ok(Some(Caller::Consumer(c))),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "API Key 无效或已停用",
            )),
        };
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
    let digest: [u8; 32] = Sm3::digest(token.as_bytes()).into();
    if let Some((caller, at)) = state.token_cache.read().await.get(&digest)
        && at.elapsed() < TOKEN_CACHE_TTL
    {
        return Ok(Some(caller.clone()));
    }
    let found = token_caller(state, token, now).await?;
    if let Some(caller) = &found {
        let mut cache = state.token_cache.write().await;
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        if cache.len() < TOKEN_CACHE_MAX {
            cache.insert(digest, (caller.clone(), Instant::now()));
        }
        return Ok(found);
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

/// Most access tokens and sessions remembered at once; beyond it, stale entries are dropped
/// and new ones are checked against the store on every request until there is room.
const TOKEN_CACHE_MAX: usize = 100_000;

/// The caller an access token or session token stands for, from the store.
async fn token_caller(
    state: &AppState,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Caller>, ApiError> {
    if let Some(c) = state
        .gov
        .consumer_for_token(token, now)
        .await
        .map_err(|e| ApiError::internal("checking an access token", e))?
    {
        return Ok(Some(Caller::Consumer(c)));
    }
    match state
        .gov
        .session(token, now)
        .await
        .map_err(|e| ApiError::internal("checking a session", e))?
    {
        Some(Principal::Account(a)) => Ok(Some(Caller::Account(a))),
        Some(Principal::Citizen { resident_id }) => Ok(Some(Caller::Citizen { resident_id })),
        Some(Principal::Consumer(c)) => Ok(Some(Caller::Consumer(c))),
        None => Ok(None),
    }
}

/// Forgets a token at once (logout), so the cache never outlives the session it stands for.
pub async fn forget_token(state: &AppState, token: &str) {
    let digest: [u8; 32] = Sm3::digest(token.as_bytes()).into();
    state.token_cache.write().await.remove(&digest);
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
