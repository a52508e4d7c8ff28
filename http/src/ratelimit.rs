//! Token-bucket rate limits, per key (a token, a client address, an account), and the
//! `RateLimit-Policy` / `RateLimit` headers (IETF draft) that tell a client where it stands
//! before it hits a 429.
//!
//! Limits are kept per process: with N API processes a client gets at most N times the limit.
//! That bounds abuse well enough without a shared store in the request path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A set of buckets sharing one rate.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per key per minute, in bursts of up to that many.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: per_minute.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket; on refusal, how long until the next is allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.take(key).map(drop).map_err(|refused| refused.retry_after)
    }

    /// Takes one request from `key`'s bucket and says what is left, or on refusal, how long
    /// until the next request is allowed.
    pub fn take(&self, key: &str) -> Result<Allowance, Refused> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget idle keys rather than grow without bound.
            buckets.retain(|_, b| now.duration_since(b.updated) < Duration::from_secs(60));
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        let until_full = |tokens: f64| Duration::from_secs_f64((capacity - tokens).max(0.0) / per_second);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(Allowance {
                limit: self.per_minute,
                remaining: bucket.tokens.floor() as u32,
                reset: until_full(bucket.tokens),
            })
        } else {
            let retry_after = Duration::from_secs_f64((1.0 - bucket.tokens) / per_second);
            Err(Refused {
                allowance: Allowance {
                    limit: self.per_minute,
                    remaining: 0,
                    reset: until_full(bucket.tokens),
                },
                retry_after,
            })
        }
    }
}

/// What a key may still send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests per minute.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// How long until the bucket is full again.
    pub reset: Duration,
}

/// A request over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Where the key stands.
    pub allowance: Allowance,
    /// How long until one more request is allowed.
    pub retry_after: Duration,
}

impl Allowance {
    /// The `RateLimit-Policy` and `RateLimit` header values for this allowance.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            ("ratelimit-policy", format!("\"per-token\";q={};w=60", self.limit)),
            (
                "ratelimit",
                format!("\"per-token\";r={};t={}", self.remaining, self.reset.as_secs_f64().ceil() as u64),
            ),
        ]
    }
}

/// Refuses a bearer token's requests beyond its per-minute allowance with 429 and
/// `Retry-After`, and tells every authenticated answer where the token stands. Keyed by the
/// token's digest, so it runs before (and without) authentication.
pub async fn limit_per_token(
    axum::extract::State(limiter): axum::extract::State<std::sync::Arc<RateLimiter>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(auth) = request.headers().get(axum::http::header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    let key = berth_eventstore::credentials::token_digest(&String::from_utf8_lossy(auth.as_bytes()));
    let (mut response, allowance) = match limiter.take(&key) {
        Ok(allowance) => (next.run(request).await, allowance),
        Err(refused) => {
            (crate::ApiError::TooManyRequests(refused.retry_after).into_response(), refused.allowance)
        }
    };
    for (name, value) in allowance.headers() {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_counts_down_and_says_when_it_is_full() {
        let limiter = RateLimiter::new(60);
        let first = limiter.take("a").unwrap();
        assert_eq!((first.limit, first.remaining), (60, 59));
        assert_eq!(first.headers()[0].1, "\"per-token\";q=60;w=60");
        assert!(first.headers()[1].1.starts_with("\"per-token\";r=59;t="), "{:?}", first.headers());
        for _ in 0..59 {
            limiter.take("a").unwrap();
        }
        let refused = limiter.take("a").unwrap_err();
        assert_eq!(refused.allowance.remaining, 0);
        assert!(refused.retry_after <= Duration::from_secs(1));
    }

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(5);
        for _ in 0..5 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(12), "{wait:?}");
        assert!(limiter.check("b").is_ok(), "keys are independent");
    }
}
