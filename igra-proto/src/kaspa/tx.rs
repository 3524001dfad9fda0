//! The Kaspa transaction model (version 0), as rusty-kaspa 2.x defines it.
//!
//! Only what a version-0 transaction needs is modelled: no covenants, no compute budgets, no gas. The
//! types are plain data; hashing is in [`super::hashing`], sighashes in [`super::sighash`], sizes and
//! masses in [`super::mass`].

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::ids::TransactionId;

/// An amount in sompi: 1 KAS = 100,000,000 sompi.
pub type Sompi = u64;

/// Sompi in one KAS.
pub const SOMPI_PER_KASPA: Sompi = 100_000_000;

/// The most sompi that will ever exist (29 billion KAS); no output may carry more.
pub const MAX_SOMPI: Sompi = 29_000_000_000 * SOMPI_PER_KASPA;

/// The only transaction version Igra builds.
pub const TX_VERSION: u16 = 0;

/// `sequence` value that disables relative lock time and makes the input final.
pub const SEQUENCE_FINAL: u64 = u64::MAX;

/// A reference to a transaction output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Outpoint {
    /// The transaction that created the output.
    pub transaction_id: TransactionId,
    /// The output's index in that transaction.
    pub index: u32,
}

/// A locking script and its version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ScriptPublicKey {
    /// Script version; only 0 is standard.
    pub version: u16,
    /// The script bytes.
    pub script: Vec<u8>,
}

/// What the chain knows about an unspent output: everything a signer needs to sign its spend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UtxoEntry {
    /// The output's value.
    pub amount: Sompi,
    /// The output's locking script.
    pub script_public_key: ScriptPublicKey,
    /// DAA score of the block that created it.
    pub block_daa_score: u64,
    /// Whether it is a coinbase output (spendable only after coinbase maturity).
    pub is_coinbase: bool,
}

/// A transaction input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransactionInput {
    /// The output spent.
    pub previous_outpoint: Outpoint,
    /// The unlocking script; empty until the input is signed.
    pub signature_script: Vec<u8>,
    /// Relative lock time and finality (use [`SEQUENCE_FINAL`] unless a lock is wanted).
    pub sequence: u64,
    /// Signature operations the input may run (the budget committed in version 0).
    pub sig_op_count: u8,
}

/// A transaction output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransactionOutput {
    /// The amount paid.
    pub value: Sompi,
    /// The locking script of the payee.
    pub script_public_key: ScriptPublicKey,
}

/// A subnetwork id; Igra's transactions always use [`SubnetworkId::NATIVE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubnetworkId(pub [u8; 20]);

impl SubnetworkId {
    /// The native subnetwork: twenty zero bytes.
    pub const NATIVE: Self = Self([0; 20]);
}

/// A Kaspa transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transaction {
    /// Version; Igra builds [`TX_VERSION`].
    pub version: u16,
    /// Inputs.
    pub inputs: Vec<TransactionInput>,
    /// Outputs.
    pub outputs: Vec<TransactionOutput>,
    /// Lock time: a DAA score below 500,000,000,000, a Unix time in ms above; 0 for none.
    pub lock_time: u64,
    /// Subnetwork.
    pub subnetwork_id: SubnetworkId,
    /// Gas; must be 0 in version 0.
    pub gas: u64,
    /// Payload; Igra keeps it empty.
    pub payload: Vec<u8>,
    /// Storage mass commitment (KIP-9). Not part of the id; the mempool recomputes it.
    pub storage_mass: u64,
}
