//! Randomness, hashing of secrets and the stored time format.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, SecondsFormat, Utc};
use sm3::{Digest, Sm3};

use crate::GovernError;

/// `n` random bytes from the operating system, as lower-case hex.
pub(crate) fn random_hex(n: usize) -> Result<String, GovernError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| GovernError::Random(e.to_string()))?;
    Ok(hex(&bytes))
}

/// A new identifier: a readable prefix and 12 random hex digits (48 bits: collisions are not a
/// concern at the scale of consumers, accounts and requests, and primary keys catch one anyway).
pub(crate) fn new_id(prefix: &str) -> Result<String, GovernError> {
    Ok(format!("{prefix}_{}", random_hex(6)?))
}

/// A uniformly random number below `bound` (rejection sampling, so no value is favoured).
pub(crate) fn random_below(bound: u32) -> Result<u32, GovernError> {
    let zone = u32::MAX - (u32::MAX % bound.max(1));
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| GovernError::Random(e.to_string()))?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok(v % bound.max(1));
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// SM3 of a high-entropy token, hex. Tokens are random (256 bits), so a fast hash is enough to
/// make a stolen table useless; passwords and long-lived secrets use [`hash_secret`].
pub(crate) fn sm3_hex(data: &[u8]) -> String {
    hex(&Sm3::digest(data))
}

/// Runs Argon2 work on tokio's blocking pool: one hash is tens of milliseconds of a core, and
/// on the async workers a small flood of logins would stall every other request.
async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GovernError> + Send + 'static,
) -> Result<T, GovernError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| GovernError::Hash(format!("the hashing task failed: {e}")))?
}

/// [`hash_secret_now`] on the blocking pool.
pub(crate) async fn hash_secret(secret: &str) -> Result<String, GovernError> {
    let secret = secret.to_owned();
    on_blocking_pool(move || hash_secret_now(&secret)).await
}

/// [`verify_secret_now`] on the blocking pool.
pub(crate) async fn verify_secret(secret: &str, stored: &str) -> Result<bool, GovernError> {
    let (secret, stored) = (secret.to_owned(), stored.to_owned());
    on_blocking_pool(move || verify_secret_now(&secret, &stored)).await
}

/// [`verify_against_nothing_now`] on the blocking pool.
pub(crate) async fn verify_against_nothing(secret: &str) {
    let secret = secret.to_owned();
    let _ = on_blocking_pool(move || {
        verify_against_nothing_now(&secret);
        Ok(())
    })
    .await;
}

/// Argon2id PHC string (`$argon2id$v=19$m=…`) with a random salt.
pub(crate) fn hash_secret_now(secret: &str) -> Result<String, GovernError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| GovernError::Hash(e.to_string()))
}

/// Whether `secret` matches a stored PHC string. A mismatch is `Ok(false)`; a stored string
/// that is not a valid hash is an error (the row was damaged).
pub(crate) fn verify_secret_now(secret: &str, stored: &str) -> Result<bool, GovernError> {
    match Argon2::default().verify_password(secret.as_bytes(), stored) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(GovernError::Hash(e.to_string())),
    }
}

/// Spends the time of one verification without a stored hash, so that "no such user" and
/// "wrong password" take equally long and usernames cannot be probed by timing.
pub(crate) fn verify_against_nothing_now(secret: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_secret_now("miaopi-timing-equaliser").ok());
    if let Some(stored) = dummy {
        let _ = verify_secret_now(secret, stored);
    }
}

/// The stored form of a time: RFC 3339 in UTC, microseconds, `Z`. Fixed width, so comparing
/// the text compares the times (in SQL too).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, GovernError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| GovernError::Corrupt(format!("time {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip_and_mismatch() {
        let stored = hash_secret_now("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify_secret_now("correct horse", &stored).unwrap());
        assert!(!verify_secret_now("correct hors", &stored).unwrap());
        assert!(verify_secret_now("x", "not a hash").is_err());
    }

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("csm").unwrap();
        let b = new_id("csm").unwrap();
        assert!(a.starts_with("csm_") && a.len() == 16, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn random_below_stays_in_range() {
        for _ in 0..1000 {
            assert!(random_below(10).unwrap() < 10);
        }
    }

    #[test]
    fn stored_times_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z").unwrap();
        let b = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.5Z").unwrap();
        let (a, b) = (ts(a.with_timezone(&Utc)), ts(b.with_timezone(&Utc)));
        assert_eq!(a, "2025-01-02T03:04:05.000000Z");
        assert!(a < b);
        assert_eq!(parse_ts(&a).unwrap(), parse_ts(&a).unwrap());
    }
}
