//! Kaspa: transactions, hashing, sighashes, scripts, addresses and mass, byte-for-byte as rusty-kaspa
//! 2.x computes them, for version-0 transactions.

pub mod address;
pub mod hashing;
pub mod mass;
pub mod script;
pub mod sighash;
pub mod tx;
