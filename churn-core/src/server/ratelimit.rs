//! In-memory token buckets, one per key (a client IP, a project key).
//!
//! Each bucket holds up to `burst` tokens and refills at `per_second`; a request takes
//! one token. An empty bucket answers how long until the next token (the `Retry-After`
//! of the 429). Buckets of idle clients are forgotten once the map grows past
//! [`MAX_TRACKED`] (a full bucket carries no information).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Buckets kept before idle (full) ones are dropped.
pub const MAX_TRACKED: usize = 100_000;

/// A rate: `per_second` sustained, `burst` at once. `per_second == 0` disables it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Rate {
    /// A rate of `per_second` with a burst of `burst`.
    pub const fn new(per_second: f64, burst: f64) -> Self {
        Rate { per_second, burst }
    }

    /// No limit.
    pub const fn unlimited() -> Self {
        Rate {
            per_second: 0.0,
            burst: 0.0,
        }
    }

    /// Whether this rate limits anything.
    pub fn is_enabled(&self) -> bool {
        self.per_second > 0.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by `K`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use churn_core::server::ratelimit::{Limiter, Rate};
/// let l = Limiter::new(Rate::new(1.0, 2.0));
/// let t = Instant::now();
/// assert!(l.check_at(&"ip", t).is_ok());
/// assert!(l.check_at(&"ip", t).is_ok());
/// assert_eq!(l.check_at(&"ip", t), Err(Duration::from_secs(1)));
/// assert!(l.check_at(&"ip", t + Duration::from_secs(1)).is_ok());
/// ```
#[derive(Debug)]
pub struct Limiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter with this rate.
    pub fn new(rate: Rate) -> Self {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `key` now.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// Take a token for `key` at `now`; `Err(wait)` when the bucket is empty.
    pub fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if !self.rate.is_enabled() {
            return Ok(());
        }
        let Rate { per_second, burst } = self.rate;
        let mut map = self.buckets.lock();
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst
            });
        }
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }

    /// Buckets tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().len()
    }
}

/// Whole seconds to wait, rounded up, at least 1 (for `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refill_and_burst() {
        let l = Limiter::new(Rate::new(10.0, 5.0));
        let t = Instant::now();
        for _ in 0..5 {
            assert!(l.check_at(&1, t).is_ok());
        }
        let wait = l.check_at(&1, t).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(retry_after_secs(wait), 1);
        assert!(l.check_at(&2, t).is_ok(), "keys are independent");
        assert!(l.check_at(&1, t + Duration::from_millis(100)).is_ok());
        assert!(l.check_at(&1, t + Duration::from_millis(100)).is_err());
        // Long idle: refills to the burst, not beyond.
        let later = t + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(l.check_at(&1, later).is_ok());
        }
        assert!(l.check_at(&1, later).is_err());
    }

    #[test]
    fn unlimited_never_refuses() {
        let l = Limiter::new(Rate::unlimited());
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(l.check_at(&"k", t).is_ok());
        }
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn slow_version_agrees() {
        // Compare with a plain simulation in whole milliseconds: 1 token per 10 ms, burst 3.
        let l = Limiter::new(Rate::new(100.0, 3.0));
        let t0 = Instant::now();
        let times = [0u64, 0, 0, 0, 5, 10, 10, 25, 100, 100, 100, 100, 101];
        let mut tokens_x10 = 30i64; // tokens * 10
        let mut last = 0u64;
        for &ms in &times {
            tokens_x10 = (tokens_x10 + (ms - last) as i64).min(30);
            last = ms;
            let want = tokens_x10 >= 10;
            if want {
                tokens_x10 -= 10;
            }
            assert_eq!(
                l.check_at(&0, t0 + Duration::from_millis(ms)).is_ok(),
                want,
                "at {ms} ms"
            );
        }
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }
}
