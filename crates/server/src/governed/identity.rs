//! Who is calling (身份): logging in, the caller a credential stands for, logging out. The
//! API's extractors and the console's [`crate::console::Viewer`] both come here, so a session,
//! an access token or an API key means the same caller — with the same limits, caches and
//! expiry — whichever front end it is presented to.

use std::time::Instant;

use axum::http::StatusCode;
use chrono::Utc;
use miaopi_govern::{Account, ActorKind, CitizenChallenge, Consumer, GovernError, Principal, Role};
use sm3::{Digest, Sm3};

use crate::error::{ApiError, ApiResult, govern_error};
use crate::limits::{ClientAddr, Scope};
use crate::state::{AppState, KEY_CACHE_TTL, TOKEN_CACHE_TTL};

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

/// A session just started: the secret token (the cookie's value) and how long it lasts.
pub struct NewSession {
    pub token: String,
    pub ttl_s: u64,
    pub caller: Caller,
}

/// Most access tokens and sessions remembered at once; beyond it, stale entries are dropped
/// and new ones are checked against the store on every request until there is room.
const TOKEN_CACHE_MAX: usize = 100_000;

/// The consumer an API key belongs to; 401 for a key that is unknown or revoked.
pub async fn caller_for_api_key(state: &AppState, key: &str) -> ApiResult<Caller> {
    let digest: [u8; 32] = Sm3::digest(key.as_bytes()).into();
    if let Some((consumer, at)) = state.key_cache.read().await.get(&digest)
        && at.elapsed() < KEY_CACHE_TTL
    {
        return Ok(Caller::Consumer(consumer.clone()));
    }
    let found = state
        .gov
        .authenticate_api_key(key)
        .await
        .map_err(|e| ApiError::internal("checking an API key", e))?;
    let Some(consumer) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "API Key 无效或已停用",
        ));
    };
    state
        .key_cache
        .write()
        .await
        .insert(digest, (consumer.clone(), Instant::now()));
    Ok(Caller::Consumer(consumer))
}

/// The caller an OAuth2 access token or a session token stands for; `None` when it is unknown,
/// expired or ended. Remembered for [`TOKEN_CACHE_TTL`] (a logout forgets it at once).
pub async fn caller_for_token(state: &AppState, token: &str) -> ApiResult<Option<Caller>> {
    let digest: [u8; 32] = Sm3::digest(token.as_bytes()).into();
    if let Some((caller, at)) = state.token_cache.read().await.get(&digest)
        && at.elapsed() < TOKEN_CACHE_TTL
    {
        return Ok(Some(caller.clone()));
    }
    let now = Utc::now();
    let found = match state
        .gov
        .consumer_for_token(token, now)
        .await
        .map_err(|e| ApiError::internal("checking an access token", e))?
    {
        Some(c) => Some(Caller::Consumer(c)),
        None => state
            .gov
            .session(token, now)
            .await
            .map_err(|e| ApiError::internal("checking a session", e))?
            .map(caller_of),
    };
    if let Some(caller) = &found {
        let mut cache = state.token_cache.write().await;
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        if cache.len() < TOKEN_CACHE_MAX {
            cache.insert(digest, (caller.clone(), Instant::now()));
        }
    }
    Ok(found)
}

fn caller_of(principal: Principal) -> Caller {
    match principal {
        Principal::Account(a) => Caller::Account(a),
        Principal::Citizen { resident_id } => Caller::Citizen { resident_id },
        Principal::Consumer(c) => Caller::Consumer(c),
    }
}

async fn start_session(state: &AppState, principal: Principal) -> ApiResult<NewSession> {
    let ttl_s = state.options.session_ttl_s;
    let token = state
        .gov
        .create_session(&principal, Utc::now(), ttl_s)
        .await
        .map_err(|e| ApiError::internal("creating a session", e))?;
    Ok(NewSession {
        token,
        ttl_s,
        caller: caller_of(principal),
    })
}

/// A console account's login: the abuse limits per address and per username, then the
/// password (Argon2id on the blocking pool, as costly for an unknown user as for a known one).
/// 401 `invalid_credentials` for a wrong user or password, 429 `rate_limited` over the limits.
pub async fn log_in_account(
    state: &AppState,
    addr: ClientAddr,
    username: &str,
    password: &str,
) -> ApiResult<NewSession> {
    crate::limits::admit(state, Scope::Login, addr, username)?;
    let account = state
        .gov
        .authenticate_account(username.trim(), password)
        .await
        .map_err(|e| ApiError::internal("checking a password", e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "用户名或密码错误",
            )
        })?;
    start_session(state, Principal::Account(account)).await
}

/// A citizen's login, step 1: a one-time code for the resident ID, delivered by the identity
/// provider (the demo's to its outbox, never to the log).
pub async fn send_citizen_code(
    state: &AppState,
    addr: ClientAddr,
    resident_id: &str,
) -> ApiResult<CitizenChallenge> {
    crate::limits::admit(state, Scope::OneTimeCode, addr, resident_id)?;
    let challenge = state
        .citizens
        .start(resident_id.trim(), Utc::now())
        .await
        .map_err(|e| govern_error(e, "starting a citizen login"))?;
    crate::outbox::deliver(state, &challenge);
    Ok(challenge)
}

/// A citizen's login, step 2: the code checked, a session started. 400 for an invalid resident
/// ID, 401 `invalid_code` for a wrong or expired code.
pub async fn log_in_citizen(
    state: &AppState,
    addr: ClientAddr,
    resident_id: &str,
    code: &str,
) -> ApiResult<NewSession> {
    crate::limits::admit(state, Scope::OneTimeCode, addr, resident_id)?;
    let resident_id = miaopi_model::ResidentId::parse(resident_id.trim())
        .map_err(|e| {
            govern_error(
                GovernError::InvalidResidentId {
                    reason: e.to_string(),
                },
                "checking a resident ID",
            )
        })?
        .as_str()
        .to_string();
    let passed = state
        .citizens
        .finish(&resident_id, code.trim(), Utc::now())
        .await
        .map_err(|e| govern_error(e, "finishing a citizen login"))?;
    if !passed {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_code",
            "验证码错误或已过期",
        ));
    }
    start_session(state, Principal::Citizen { resident_id }).await
}

/// Ends a session or revokes its token at once: the store and the cache both forget it.
pub async fn end_session(state: &AppState, token: &str) -> ApiResult<()> {
    let digest: [u8; 32] = Sm3::digest(token.as_bytes()).into();
    state.token_cache.write().await.remove(&digest);
    state
        .gov
        .end_session(token)
        .await
        .map_err(|e| ApiError::internal("ending a session", e))
}
