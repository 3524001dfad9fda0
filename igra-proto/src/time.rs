//! Time as the core sees it: two clocks, both passed in by the caller.
//!
//! The core never reads a clock. Adapters and the simulator pass a monotonic [`Instant`] (for timers and
//! rate limits, immune to wall-clock jumps) and a wall-clock [`UnixMs`] (for message freshness, which must
//! be comparable across machines) into every call that needs time.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A point on the caller's monotonic clock, in milliseconds since an arbitrary origin.
///
/// Only differences between two `Instant`s of the same process are meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later (a clock must never make the
    /// core panic).
    pub fn millis_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This instant moved `ms` milliseconds later, saturating at the end of time.
    #[must_use]
    pub fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

/// Wall-clock time: milliseconds since the Unix epoch, as the caller's clock reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct UnixMs(pub u64);

impl UnixMs {
    /// Signed distance `self - other` in milliseconds, saturating.
    pub fn signed_diff(self, other: Self) -> i128 {
        i128::from(self.0) - i128::from(other.0)
    }
}

impl fmt::Display for UnixMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms since the Unix epoch", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(Instant(5).millis_since(Instant(9)), 0);
        assert_eq!(Instant(9).millis_since(Instant(5)), 4);
        assert_eq!(Instant(u64::MAX).plus_millis(1), Instant(u64::MAX));
        assert_eq!(UnixMs(0).signed_diff(UnixMs(u64::MAX)), -i128::from(u64::MAX));
    }
}
