//! miaopi-govern: governance of who may read what, for which purpose (数据共享治理), and the
//! tamper-evident audit chain (审计链).
//!
//! - Identities: consumers (数据使用方) with API keys and OAuth2 client credentials, console
//!   accounts with roles, sessions, and citizens' login behind [`CitizenIdentityProvider`].
//! - Grants (共享授权): a consumer requests fields of a resource for a [`Purpose`] until a date;
//!   the resource's catalogue share type decides whether it is granted at once (无条件共享),
//!   waits for the provider's review (有条件共享) or is refused (不予共享). Every read is checked
//!   with [`Governance::authorize`], which also says which fields must stay masked.
//! - Rate limits per consumer, in memory.
//! - The audit chain: SM3-linked entries with checkpoints, verified end to end.
//!
//! Everything is kept in the meta store's database (`crates/meta`, migration `0003_govern`).
//! Nothing here reads the clock: `now` is always a parameter.

mod audit;
mod citizen;
mod demo;
mod error;
mod grant;
mod identity;
mod rate;
mod secret;

use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;

pub use audit::{
    ActorKind, AuditEntry, AuditFilter, AuditRecord, AuditVerification, ChainProblem,
    ChainProblemKind, Checkpoint, DEFAULT_CHECKPOINT_INTERVAL, entry_hash, mask_subject,
};
pub use citizen::{
    CitizenChallenge, CitizenIdentityProvider, CodeBoxFuture, OTP_MAX_ATTEMPTS, OTP_RESEND_AFTER_S,
    OTP_TTL_S, OneTimeCodeProvider,
};
pub use demo::{DemoAccount, DemoConsumer, DemoCredentials, DemoOptions, generate_password};
pub use error::GovernError;
pub use grant::{
    Authorization, Grant, GrantDecision, GrantRequest, GrantRequestRecord, GrantedField, Purpose,
    RequestState,
};
pub use identity::{AccessToken, Account, Consumer, Principal, Role};

/// Governance over the meta store's database. Cheap to clone: clones share the pool and the
/// in-memory rate limiter.
#[derive(Debug, Clone)]
pub struct Governance {
    pool: SqlitePool,
    limiter: Arc<Mutex<rate::Limiter>>,
    checkpoint_interval: u64,
}

impl Governance {
    /// Opens governance on a meta store whose migrations (including `0003_govern`) are applied,
    /// which [`miaopi_meta::SqliteMeta::open`] does.
    pub async fn open(meta: &miaopi_meta::SqliteMeta) -> Result<Governance, GovernError> {
        let pool = meta.pool().clone();
        // Fail here, not on the first request, when the store predates the governance tables.
        sqlx::query("SELECT last_seq FROM gov_audit_head WHERE id = 1")
            .fetch_one(&pool)
            .await?;
        Ok(Governance {
            pool,
            limiter: Arc::new(Mutex::new(rate::Limiter::default())),
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
        })
    }

    /// Writes an automatic checkpoint every `every` entries instead of
    /// [`DEFAULT_CHECKPOINT_INTERVAL`] (0 turns automatic checkpoints off).
    pub fn with_checkpoint_interval(mut self, every: u64) -> Governance {
        self.checkpoint_interval = every;
        self
    }

    /// The demo citizen identity provider over this store.
    pub fn one_time_codes(&self) -> OneTimeCodeProvider {
        OneTimeCodeProvider::new(self.pool.clone())
    }
}
