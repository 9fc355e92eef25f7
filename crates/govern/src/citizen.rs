//! Citizens' login (群众登录). The real platform would hand this to the provincial identity
//! provider (统一身份认证); the demo stands in with one-time codes that the server prints to its
//! log. Both sit behind [`CitizenIdentityProvider`], object-safe so the server can choose one by
//! configuration.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, TimeDelta, Utc};
use miaopi_model::ResidentId;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};

use crate::GovernError;
use crate::identity::expiry;
use crate::secret::{hash_secret, parse_ts, random_below, ts, verify_secret};

/// A one-time code is valid this long (5 minutes).
pub const OTP_TTL_S: u64 = 300;
/// Wrong (or right) tries allowed per code.
pub const OTP_MAX_ATTEMPTS: u32 = 5;
/// A new code for the same resident ID is refused this soon after the last one, so that asking
/// again and again cannot multiply the five tries into a brute force of the 10⁶ codes.
pub const OTP_RESEND_AFTER_S: u64 = 60;

/// A boxed future, so the trait can be used as `dyn CitizenIdentityProvider`.
pub type CodeBoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GovernError>> + Send + 'a>>;

/// A started login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenChallenge {
    /// The resident ID in canonical form (GB 11643).
    pub resident_id: String,
    /// Masked for display (`440304********0123`).
    pub resident_id_masked: String,
    pub expires_at: DateTime<Utc>,
    /// The demo provider's code, for the server to print to its log (a real provider sends it
    /// to the person's phone and leaves this empty). Never show it in a web page.
    pub demo_code: Option<String>,
}

/// Proves that someone is the holder of a resident ID.
pub trait CitizenIdentityProvider: Send + Sync {
    /// Starts a login for `resident_id` (checked with the GB 11643 strict parser).
    fn start<'a>(
        &'a self,
        resident_id: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, CitizenChallenge>;

    /// Whether `code` completes the login started for `resident_id`.
    fn finish<'a>(
        &'a self,
        resident_id: &'a str,
        code: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, bool>;
}

/// The demo provider: a 6-digit code valid [`OTP_TTL_S`] seconds, stored as an Argon2id hash,
/// single use, at most [`OTP_MAX_ATTEMPTS`] tries.
#[derive(Debug, Clone)]
pub struct OneTimeCodeProvider {
    pool: SqlitePool,
}

/// The canonical resident ID, or a Chinese explanation of what is wrong with it.
pub(crate) fn canonical_resident_id(resident_id: &str) -> Result<ResidentId, GovernError> {
    ResidentId::parse(resident_id.trim()).map_err(|e| GovernError::InvalidResidentId {
        reason: e.reason_zh(),
    })
}

/// What is hashed: the code bound to the ID, so a stored hash cannot be replayed for another
/// person.
fn code_material(resident_id: &str, code: &str) -> String {
    format!("{resident_id}:{code}")
}

impl OneTimeCodeProvider {
    pub fn new(pool: SqlitePool) -> OneTimeCodeProvider {
        OneTimeCodeProvider { pool }
    }

    async fn start_code(
        &self,
        resident_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CitizenChallenge, GovernError> {
        let id = canonical_resident_id(resident_id)?;
        let previous =
            sqlx::query("SELECT issued_at, used FROM gov_citizen_codes WHERE resident_id = ?")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        if let Some(row) = previous
            && row.try_get::<i64, _>("used")? == 0
        {
            let issued = parse_ts(&row.try_get::<String, _>("issued_at")?)?;
            let wait_until = issued + TimeDelta::seconds(OTP_RESEND_AFTER_S as i64);
            if wait_until > now {
                let left = (wait_until - now).num_seconds().max(1);
                return Err(GovernError::TooSoon {
                    retry_after_s: left as u64,
                });
            }
        }
        let code = format!("{:06}", random_below(1_000_000)?);
        let expires_at = expiry(now, OTP_TTL_S)?;
        let code_hash = hash_secret(&code_material(id.as_str(), &code)).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM gov_citizen_codes WHERE resident_id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO gov_citizen_codes (resident_id, code_hash, issued_at, expires_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(&code_hash)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CitizenChallenge {
            resident_id: id.as_str().to_owned(),
            resident_id_masked: id.masked(),
            expires_at,
            demo_code: Some(code),
        })
    }

    async fn finish_code(
        &self,
        resident_id: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, GovernError> {
        let id = canonical_resident_id(resident_id)?;
        // The try is counted (and committed) before the code is checked, so that no number of
        // concurrent guesses gets past the limit.
        let mut tx = self.pool.begin().await?;
        let counted = sqlx::query(
            "UPDATE gov_citizen_codes SET attempts = attempts + 1
             WHERE resident_id = ? AND used = 0 AND attempts < ? AND expires_at > ?",
        )
        .bind(id.as_str())
        .bind(i64::from(OTP_MAX_ATTEMPTS))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() == 0 {
            return Ok(false);
        }
        let code_hash: String =
            sqlx::query_scalar("SELECT code_hash FROM gov_citizen_codes WHERE resident_id = ?")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(false);
        }
        if !verify_secret(&code_material(id.as_str(), code), &code_hash).await? {
            return Ok(false);
        }
        // Single use: of two concurrent right answers only one marks the code used.
        let used = sqlx::query(
            "UPDATE gov_citizen_codes SET used = 1
             WHERE resident_id = ? AND used = 0 AND code_hash = ?",
        )
        .bind(id.as_str())
        .bind(&code_hash)
        .execute(&self.pool)
        .await?;
        Ok(used.rows_affected() == 1)
    }
}

impl CitizenIdentityProvider for OneTimeCodeProvider {
    fn start<'a>(
        &'a self,
        resident_id: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, CitizenChallenge> {
        Box::pin(self.start_code(resident_id, now))
    }

    fn finish<'a>(
        &'a self,
        resident_id: &'a str,
        code: &'a str,
        now: DateTime<Utc>,
    ) -> CodeBoxFuture<'a, bool> {
        Box::pin(self.finish_code(resident_id, code, now))
    }
}
