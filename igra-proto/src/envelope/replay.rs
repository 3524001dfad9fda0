//! Replay protection per sender: a sliding window over the sender's sequence numbers within its
//! current boot epoch (the scheme of IPsec and WireGuard).

/// How many sequence numbers below the highest seen are remembered. A message further behind than this
/// is refused even if it was never seen; the protocol's messages are idempotent and anti-entropy
/// repairs what is lost, so refusing is always safe.
pub const REPLAY_WINDOW: u64 = 1024;

const WORDS: usize = 16; // REPLAY_WINDOW / 64

/// Why the window refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayVerdict {
    /// The epoch is older than the sender's current one.
    StaleEpoch,
    /// The sequence number was seen, or is too far behind to tell.
    Replayed,
}

/// The window of one sender.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    epoch: u64,
    top: u64,
    /// Bit `seq % REPLAY_WINDOW` is set when `seq` in `(top - REPLAY_WINDOW, top]` was seen.
    seen: [u64; WORDS],
}

impl ReplayWindow {
    /// A window that has seen exactly `(epoch, seq)`.
    pub(crate) fn new(epoch: u64, seq: u64) -> Self {
        let mut w = Self { epoch, top: seq, seen: [0; WORDS] };
        w.set(seq);
        w
    }

    /// Whether `(epoch, seq)` would be accepted. Does not change the window.
    pub(crate) fn check(&self, epoch: u64, seq: u64) -> Result<(), ReplayVerdict> {
        if epoch < self.epoch {
            return Err(ReplayVerdict::StaleEpoch);
        }
        if epoch > self.epoch || seq > self.top {
            return Ok(());
        }
        if self.top - seq >= REPLAY_WINDOW || self.is_set(seq) {
            return Err(ReplayVerdict::Replayed);
        }
        Ok(())
    }

    /// Records `(epoch, seq)`, which [`Self::check`] accepted.
    pub(crate) fn commit(&mut self, epoch: u64, seq: u64) {
        if epoch > self.epoch {
            *self = Self::new(epoch, seq);
            return;
        }
        if seq > self.top {
            if seq - self.top >= REPLAY_WINDOW {
                self.seen = [0; WORDS];
            } else {
                for cleared in self.top + 1..seq {
                    self.clear(cleared);
                }
            }
            self.top = seq;
        }
        self.set(seq);
    }

    fn position(seq: u64) -> (usize, u64) {
        let slot = seq % REPLAY_WINDOW;
        (usize::try_from(slot / 64).unwrap_or(0), 1u64 << (slot % 64))
    }

    fn is_set(&self, seq: u64) -> bool {
        let (word, mask) = Self::position(seq);
        self.seen.get(word).is_some_and(|w| w & mask != 0)
    }

    fn set(&mut self, seq: u64) {
        let (word, mask) = Self::position(seq);
        if let Some(w) = self.seen.get_mut(word) {
            *w |= mask;
        }
    }

    fn clear(&mut self, seq: u64) {
        let (word, mask) = Self::position(seq);
        if let Some(w) = self.seen.get_mut(word) {
            *w &= !mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(w: &mut ReplayWindow, epoch: u64, seq: u64) -> Result<(), ReplayVerdict> {
        w.check(epoch, seq)?;
        w.commit(epoch, seq);
        Ok(())
    }

    #[test]
    fn each_sequence_number_is_accepted_once_in_any_order() {
        let mut w = ReplayWindow::new(1, 10);
        assert_eq!(accept(&mut w, 1, 10), Err(ReplayVerdict::Replayed));
        assert_eq!(accept(&mut w, 1, 12), Ok(()));
        assert_eq!(accept(&mut w, 1, 11), Ok(()), "reordered but new");
        assert_eq!(accept(&mut w, 1, 11), Err(ReplayVerdict::Replayed));
        assert_eq!(accept(&mut w, 1, 9), Ok(()), "behind the top but inside the window");
        assert_eq!(accept(&mut w, 1, 9), Err(ReplayVerdict::Replayed));
    }

    #[test]
    fn the_window_slides_and_forgets_nothing_inside_it() {
        let mut w = ReplayWindow::new(1, 1);
        for seq in 2..=3000 {
            assert_eq!(accept(&mut w, 1, seq), Ok(()));
        }
        for seq in (3000 - REPLAY_WINDOW + 1)..=3000 {
            assert_eq!(w.check(1, seq), Err(ReplayVerdict::Replayed), "seq {seq}");
        }
        assert_eq!(w.check(1, 3000 - REPLAY_WINDOW), Err(ReplayVerdict::Replayed), "too old");
        // A jump past the whole window clears it; slots reused by new numbers start unseen.
        assert_eq!(accept(&mut w, 1, 3000 + 5 * REPLAY_WINDOW), Ok(()));
        assert_eq!(accept(&mut w, 1, 3000 + 5 * REPLAY_WINDOW - 1), Ok(()));
        // A gap smaller than the window: the skipped numbers stay acceptable once.
        let mut g = ReplayWindow::new(1, 100);
        assert_eq!(accept(&mut g, 1, 100 + REPLAY_WINDOW - 1), Ok(()));
        assert_eq!(accept(&mut g, 1, 101), Ok(()));
        assert_eq!(accept(&mut g, 1, 101), Err(ReplayVerdict::Replayed));
    }

    #[test]
    fn a_new_epoch_resets_and_an_old_one_is_refused() {
        let mut w = ReplayWindow::new(5, 50);
        assert_eq!(accept(&mut w, 6, 1), Ok(()));
        assert_eq!(accept(&mut w, 6, 1), Err(ReplayVerdict::Replayed));
        assert_eq!(accept(&mut w, 5, 51), Err(ReplayVerdict::StaleEpoch));
    }
}
