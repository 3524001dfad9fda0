//! Per-member token-bucket rate limiting, on the caller's monotonic clock.

use crate::time::Instant;

/// Tokens are kept in thousandths so that refill needs no division per message.
const MILLI: u64 = 1000;

/// One member's bucket.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    milli_tokens: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn full(now: Instant, burst: u32) -> Self {
        Self { milli_tokens: u64::from(burst) * MILLI, last: now }
    }

    /// Takes one token if there is one, after refilling `rate_per_second` tokens per second up to
    /// `burst`. A clock that runs backwards refills nothing.
    pub(crate) fn try_take(&mut self, now: Instant, rate_per_second: u32, burst: u32) -> bool {
        let elapsed_ms = now.millis_since(self.last);
        let refill = elapsed_ms.saturating_mul(u64::from(rate_per_second));
        let capacity = u64::from(burst) * MILLI;
        self.milli_tokens = self.milli_tokens.saturating_add(refill).min(capacity);
        if now > self.last {
            self.last = now;
        }
        if self.milli_tokens < MILLI {
            return false;
        }
        self.milli_tokens -= MILLI;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_the_sustained_rate() {
        let mut b = TokenBucket::full(Instant(0), 3);
        assert!((0..3).all(|_| b.try_take(Instant(0), 10, 3)));
        assert!(!b.try_take(Instant(0), 10, 3), "burst spent");
        assert!(!b.try_take(Instant(99), 10, 3), "10/s refills one token per 100 ms");
        assert!(b.try_take(Instant(100), 10, 3));
        assert!(!b.try_take(Instant(100), 10, 3));
        // A long pause refills to the burst, not beyond.
        assert!((0..3).all(|_| b.try_take(Instant(60_000), 10, 3)));
        assert!(!b.try_take(Instant(60_000), 10, 3));
        // Time going backwards neither panics nor refills.
        assert!(!b.try_take(Instant(5), 10, 3));
    }
}
