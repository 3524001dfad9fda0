//! Capped exponential backoff with full jitter, for redialing a peer.
//!
//! Attempt `k` (from 0) waits a uniformly random time in `[0, min(cap, base · 2^k)]`. Full jitter
//! spreads the redials of members that lost a peer at the same moment. The random number is a
//! parameter, so the schedule is deterministic under test.

use std::time::Duration;

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt's delay.
    pub base: Duration,
    /// The largest delay ever waited.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s.
    fn default() -> Self {
        Self { base: Duration::from_millis(100), cap: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The ceiling of attempt `attempt`'s delay: `min(cap, base · 2^attempt)`, saturating.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before attempt `attempt`, drawn from `[0, ceiling(attempt)]` by `random` (any
    /// uniformly random `u64`).
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        match nanos.checked_add(1) {
            Some(span) => Duration::from_nanos(random % span),
            None => Duration::from_nanos(random),
        }
    }
}
