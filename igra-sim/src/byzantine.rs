//! The canary's Byzantine coalition (filled in below).
use crate::sim::Simulation;

/// Frames `(from, to, frame)` the coalition injects for `event`.
pub(crate) fn forge(_sim: &Simulation, _event: usize) -> Vec<(usize, usize, Vec<u8>)> {
    Vec::new()
}
