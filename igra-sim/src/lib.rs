//! Deterministic simulation of whole Igra signer groups, in the style of TigerBeetle's VOPR.
//!
//! A [`Simulation`] drives real [`igra_proto::node::Node`]s through their public sans-IO API (the same
//! one the runtime adapters use) over a simulated network, simulated storage and a simulated ledger,
//! and checks the protocol's safety invariants after every step. The seed chooses everything: the
//! swarm parameters (group size, events, pool, fault rates) and every random choice inside the run.
//! See `docs/simulator.md` for what is modelled and what is not yet.

pub mod bench;
mod byzantine;
pub mod fixture;
pub mod invariants;
pub mod ledger;
pub mod network;
pub mod report;
pub mod rng;
pub mod sim;
pub mod storage;
pub mod swarm;

pub use report::{Report, Violation};
pub use sim::Simulation;
pub use swarm::Swarm;
