//! Per-client token buckets.
//!
//! Each client (keyed by IP address) has a bucket of `burst` tokens refilled at `per_second`; a request
//! takes one token, and a request finding the bucket empty is refused with how long until a token is
//! back. The table of clients is bounded by `max_clients`: a new client beyond it evicts the client that
//! was added first. Evicting gives that client a full bucket again when it returns, so the bound trades a
//! little leniency under an address-spraying flood for memory that cannot grow.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The rate each client may send at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Tokens refilled per second.
    pub per_second: f64,
    /// The bucket's size: how many requests a quiet client may send at once.
    pub burst: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self { per_second: 20.0, burst: 40 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

#[derive(Debug, Default)]
struct Table {
    buckets: BTreeMap<IpAddr, Bucket>,
    /// Clients in the order they were added, oldest first.
    order: VecDeque<IpAddr>,
}

/// The per-client limiter.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateConfig,
    max_clients: usize,
    table: Mutex<Table>,
}

impl RateLimiter {
    /// A limiter tracking at most `max_clients` clients (at least one).
    pub fn new(config: RateConfig, max_clients: usize) -> Self {
        Self { config, max_clients: max_clients.max(1), table: Mutex::new(Table::default()) }
    }

    /// Takes a token for `client` at `now`; `Err(wait)` when its bucket is empty, with the time until
    /// a token is back.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.config.burst.max(1));
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if !table.buckets.contains_key(&client) {
            while table.buckets.len() >= self.max_clients {
                let Some(oldest) = table.order.pop_front() else { break };
                table.buckets.remove(&oldest);
                tracing::debug!(client = %oldest, "rate limiter table full: evicted the oldest client");
            }
            table.order.push_back(client);
            table.buckets.insert(client, Bucket { tokens: burst, refilled_at: now });
        }
        let Some(bucket) = table.buckets.get_mut(&client) else { return Ok(()) };
        let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = elapsed.mul_add(self.config.per_second, bucket.tokens).min(burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if self.config.per_second > 0.0 {
            Err(Duration::from_secs_f64(((1.0 - bucket.tokens) / self.config.per_second).min(3600.0)))
        } else {
            Err(Duration::from_hours(1))
        }
    }

    /// How many clients the table holds.
    pub fn clients(&self) -> usize {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "a base instant; the test moves time itself")]
    fn bucket_refills_and_clients_are_independent() {
        let limiter = RateLimiter::new(RateConfig { per_second: 2.0, burst: 3 }, 16);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip(1), t0), Ok(()));
        }
        let wait = limiter.check(ip(1), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another client is untouched by the first one's flood.
        assert_eq!(limiter.check(ip(2), t0), Ok(()));
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(ip(1), t1), Ok(()));
        assert!(limiter.check(ip(1), t1).is_err());
        // Long idle: the bucket is full again, never above the burst.
        let t2 = t1 + Duration::from_mins(1);
        for _ in 0..3 {
            assert_eq!(limiter.check(ip(1), t2), Ok(()));
        }
        assert!(limiter.check(ip(1), t2).is_err());
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "a base instant; the test moves time itself")]
    fn table_is_bounded_and_evicts_the_oldest() {
        let limiter = RateLimiter::new(RateConfig { per_second: 1.0, burst: 1 }, 3);
        let t0 = Instant::now();
        for last in 1..=3 {
            assert_eq!(limiter.check(ip(last), t0), Ok(()));
        }
        assert!(limiter.check(ip(1), t0).is_err());
        assert_eq!(limiter.check(ip(4), t0), Ok(()));
        assert_eq!(limiter.clients(), 3);
        // Client 1 was the oldest: evicted, it starts again with a full bucket.
        assert_eq!(limiter.check(ip(1), t0), Ok(()));
        // Client 3 is still tracked and still empty.
        assert!(limiter.check(ip(3), t0).is_err());
        assert_eq!(limiter.clients(), 3);
    }
}
