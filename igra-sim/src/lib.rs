//! Deterministic simulation of whole Igra signer groups.
//!
//! This crate will hold (issue 6 of the tracker): a seeded simulator in the style of TigerBeetle's
//! VOPR that drives real [`igra_proto`] nodes through their public sans-IO API over a simulated network
//! (delay, loss, duplication, reordering, partitions), simulated storage (synced and unsynced writes,
//! crashes), per-node clocks with skew, a Kaspa-like ledger with lagging views, and Byzantine members,
//! checking the protocol's safety and liveness invariants after every step.
//!
//! Nothing is implemented here yet; the crate exists so that the workspace has its final shape.
