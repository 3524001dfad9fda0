//! The simulated network and the agenda every future happening waits on.
//!
//! Frames get a random one-way delay from the profile (a wide range reorders them), may be lost or
//! delivered twice; a frame in flight when its sender crashes is still delivered, a frame arriving
//! at a crashed node is lost.

use std::collections::BTreeMap;

use crate::rng::Rng;
use crate::swarm::NetworkProfile;

/// Things due at a simulated time, in the order they were scheduled among equal times.
#[derive(Debug)]
pub struct Agenda<T> {
    items: BTreeMap<(u64, u64), T>,
    next_seq: u64,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Self { items: BTreeMap::new(), next_seq: 0 }
    }
}

impl<T> Agenda<T> {
    /// Schedules `item` at `at_ms`.
    pub fn schedule(&mut self, at_ms: u64, item: T) {
        self.items.insert((at_ms, self.next_seq), item);
        self.next_seq += 1;
    }

    /// When the next item is due.
    pub fn next_due(&self) -> Option<u64> {
        self.items.first_key_value().map(|((at, _), _)| *at)
    }

    /// Takes the next item.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        self.items.pop_first().map(|((at, _), item)| (at, item))
    }

    /// Items still scheduled.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The network's fault model.
#[derive(Debug)]
pub struct Network {
    profile: NetworkProfile,
    rng: Rng,
    /// Frames lost so far.
    pub dropped: u64,
    /// Frames delivered twice so far.
    pub duplicated: u64,
}

impl Network {
    /// A network with `profile`, drawing from `rng`.
    pub fn new(profile: NetworkProfile, rng: Rng) -> Self {
        Self { profile, rng, dropped: 0, duplicated: 0 }
    }

    /// Changes the profile (healing at the end of the safety phase).
    pub fn set_profile(&mut self, profile: NetworkProfile) {
        self.profile = profile;
    }

    /// The delivery delays of one frame sent now: none if lost, two if duplicated.
    pub fn delays(&mut self) -> Vec<u64> {
        if self.rng.chance(self.profile.drop_permille) {
            self.dropped += 1;
            return Vec::new();
        }
        let mut delays = vec![self.delay()];
        if self.rng.chance(self.profile.duplicate_permille) {
            self.duplicated += 1;
            delays.push(self.delay());
        }
        delays
    }

    fn delay(&mut self) -> u64 {
        self.rng.range(self.profile.delay_min_ms, self.profile.delay_max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::{Agenda, Network};
    use crate::rng::Rng;
    use crate::swarm::NetworkProfile;

    #[test]
    fn the_agenda_keeps_time_order_and_insertion_order_among_ties() {
        let mut agenda = Agenda::default();
        agenda.schedule(5, "b");
        agenda.schedule(1, "a");
        agenda.schedule(5, "c");
        let order: Vec<_> = std::iter::from_fn(|| agenda.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (5, "b"), (5, "c")]);
    }

    #[test]
    fn a_perfect_network_delivers_every_frame_once_and_a_lossy_one_loses_some() {
        let perfect =
            NetworkProfile { delay_min_ms: 1, delay_max_ms: 9, drop_permille: 0, duplicate_permille: 0 };
        let mut net = Network::new(perfect, Rng::new(1));
        assert!((0..1000).all(|_| matches!(net.delays().as_slice(), [d] if (1..=9).contains(d))));
        let lossy = NetworkProfile { drop_permille: 500, duplicate_permille: 500, ..perfect };
        net.set_profile(lossy);
        let counts: Vec<usize> = (0..1000).map(|_| net.delays().len()).collect();
        assert!(counts.contains(&0) && counts.contains(&2));
        assert!(net.dropped > 0 && net.duplicated > 0);
    }
}
