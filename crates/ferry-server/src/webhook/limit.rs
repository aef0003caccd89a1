//! The per-endpoint rate limit (off by default): a token bucket per flow config on this node,
//! refilled at the configured rate, with a burst of one second's worth. A request that finds
//! the bucket empty is answered 429 with `Retry-After`, and nothing is queued.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

struct Bucket {
    tokens: f64,
    filled_at: Instant,
}

/// Token buckets by flow config.
pub(crate) struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second per endpoint.
    pub(crate) fn new(per_second: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The requests per second allowed.
    pub(crate) fn rate(&self) -> f64 {
        self.per_second
    }

    /// Takes a token for `endpoint`; when there is none, how long until there is one.
    pub(crate) fn take(&self, endpoint: Uuid) -> Result<(), Duration> {
        let now = Instant::now();
        // No code panics while holding this lock; a poisoned map is still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(endpoint).or_insert(Bucket {
            tokens: self.per_second,
            filled_at: now,
        });
        let elapsed = now.duration_since(bucket.filled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.per_second);
        bucket.filled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(Duration::from_secs_f64(missing / self.per_second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_seconds_worth_then_the_rate() {
        let limiter = RateLimiter::new(3);
        let endpoint = Uuid::nil();
        for _ in 0..3 {
            assert!(limiter.take(endpoint).is_ok());
        }
        let wait = limiter.take(endpoint).unwrap_err();
        assert!(wait <= Duration::from_millis(334), "{wait:?}");
        assert!(
            limiter.take(Uuid::max()).is_ok(),
            "each endpoint has its own bucket"
        );
        std::thread::sleep(Duration::from_millis(350));
        assert!(limiter.take(endpoint).is_ok());
    }
}
