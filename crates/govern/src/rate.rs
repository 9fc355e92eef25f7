//! Per-consumer rate limiting: a token bucket per consumer, in memory (a restart forgives
//! everyone, which is acceptable for a limit measured in minutes).

use std::collections::HashMap;
use std::time::Instant;

use crate::Governance;

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

/// Every bucket refills completely within a minute.
const FULL_REFILL: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Limiter {
    /// A bucket holds up to `limit_per_minute` requests and refills at that rate, so a consumer
    /// may burst to its whole minute's allowance but not beyond it on average.
    fn admit(&mut self, consumer_id: &str, limit_per_minute: u32, now: Instant) -> bool {
        if limit_per_minute == 0 {
            return false;
        }
        if self.buckets.len() >= MAX_BUCKETS {
            // A bucket idle for a minute has refilled completely: forgetting it changes no
            // answer, and keeps a flood of distinct keys (addresses) from growing the map.
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < FULL_REFILL);
        }
        let capacity = f64::from(limit_per_minute);
        let bucket = self
            .buckets
            .entry(consumer_id.to_owned())
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        // `now` may be slightly older than `last` when callers race; no refill then.
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        // A lowered limit takes effect at once: tokens never exceed the current capacity.
        bucket.tokens = (bucket.tokens + elapsed * capacity / 60.0).min(capacity);
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Governance {
    /// Whether one more request of this consumer is admitted at `now` under a limit of
    /// `limit_per_minute` (from [`Consumer`](crate::Consumer)); `false` when over it. A limit
    /// of 0 admits nothing (a suspended consumer).
    pub fn admit(&self, consumer_id: &str, limit_per_minute: u32, now: Instant) -> bool {
        // A panic elsewhere while holding the lock leaves buckets that are still valid
        // numbers, so a poisoned lock is used as it is.
        let mut limiter = self
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        limiter.admit(consumer_id, limit_per_minute, now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_a_minute_then_refills() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..60 {
            assert!(l.admit("a", 60, t0), "request {i} within the limit");
        }
        assert!(
            !l.admit("a", 60, t0),
            "the 61st in the same instant is over"
        );
        // Other consumers have their own buckets.
        assert!(l.admit("b", 60, t0));
        // One request per second comes back.
        assert!(!l.admit("a", 60, t0 + Duration::from_millis(500)));
        assert!(l.admit("a", 60, t0 + Duration::from_millis(1600)));
        assert!(!l.admit("a", 60, t0 + Duration::from_millis(1700)));
        // A full minute refills the whole bucket but no more.
        let later = t0 + Duration::from_secs(600);
        for _ in 0..60 {
            assert!(l.admit("a", 60, later));
        }
        assert!(!l.admit("a", 60, later));
    }

    #[test]
    fn zero_limit_admits_nothing_and_lowering_takes_effect() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        assert!(!l.admit("z", 0, t0));
        assert!(l.admit("c", 100, t0));
        let mut admitted = 0;
        while l.admit("c", 5, t0) {
            admitted += 1;
        }
        assert_eq!(admitted, 5, "a lowered limit caps the stored tokens");
    }
}
