//! Signature hashes: what each input's signature commits to.
//!
//! The Schnorr sighash of input `i` is keyed BLAKE2b-256 (`"TransactionSigningHash"`) of
//!
//! ```text
//! version u16 ‖ prevouts_hash ‖ sequences_hash ‖ sig_op_counts_hash
//! ‖ input i: txid [32] ‖ index u32 ‖ spent spk version u16 ‖ len u64 ‖ spent spk script
//!           ‖ spent amount u64 ‖ sequence u64 ‖ sig_op_count u8
//! ‖ outputs_hash ‖ lock_time u64 ‖ subnetwork [20] ‖ gas u64 ‖ payload_hash ‖ hash_type u8
//! ```
//!
//! where each `*_hash` is the same keyed BLAKE2b over the field of every input (or output), replaced by
//! 32 zero bytes as the hash type prescribes: `ANYONECANPAY` zeroes the prevouts, sequences and sig-op
//! counts; `SINGLE` and `NONE` zero the sequences; `NONE` zeroes the outputs and `SINGLE` keeps only the
//! output at the input's index (zero if there is none). The payload hash is zero for a native
//! transaction with an empty payload. The ECDSA sighash is `SHA256(SHA256("TransactionSigningHashECDSA")
//! ‖ schnorr_sighash)`.
//!
//! [`SighashContext`] computes the transaction-wide sub-hashes once, so signing `n` inputs costs `n`
//! small hashes plus one pass over the transaction, not `n` passes.

use core::fmt;

use sha2::{Digest, Sha256};

use super::hashing::{KaspaHasher, write_output};
use super::tx::{SubnetworkId, Transaction, UtxoEntry};

/// A sighash type byte; only the six values consensus accepts can be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigHashType(u8);

const SIGHASH_ALL: u8 = 0x01;
const SIGHASH_NONE: u8 = 0x02;
const SIGHASH_SINGLE: u8 = 0x04;
const SIGHASH_ANYONECANPAY: u8 = 0x80;
const SIGHASH_MASK: u8 = 0x07;

impl SigHashType {
    /// Commit to every input and output (what Igra signs).
    pub const ALL: Self = Self(SIGHASH_ALL);
    /// Commit to every input, no output.
    pub const NONE: Self = Self(SIGHASH_NONE);
    /// Commit to every input and the output at the same index.
    pub const SINGLE: Self = Self(SIGHASH_SINGLE);
    /// Commit to this input only and every output.
    pub const ALL_ANYONECANPAY: Self = Self(SIGHASH_ALL | SIGHASH_ANYONECANPAY);
    /// Commit to this input only, no output.
    pub const NONE_ANYONECANPAY: Self = Self(SIGHASH_NONE | SIGHASH_ANYONECANPAY);
    /// Commit to this input only and the output at the same index.
    pub const SINGLE_ANYONECANPAY: Self = Self(SIGHASH_SINGLE | SIGHASH_ANYONECANPAY);

    /// The type of a sighash byte, if consensus accepts it.
    pub const fn from_byte(byte: u8) -> Result<Self, SighashError> {
        match byte {
            0x01 | 0x02 | 0x04 | 0x81 | 0x82 | 0x84 => Ok(Self(byte)),
            _ => Err(SighashError::InvalidSigHashType(byte)),
        }
    }

    /// The byte.
    pub const fn byte(self) -> u8 {
        self.0
    }

    const fn is_none(self) -> bool {
        self.0 & SIGHASH_MASK == SIGHASH_NONE
    }

    const fn is_single(self) -> bool {
        self.0 & SIGHASH_MASK == SIGHASH_SINGLE
    }

    const fn is_anyone_can_pay(self) -> bool {
        self.0 & SIGHASH_ANYONECANPAY != 0
    }
}

/// Why a sighash could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SighashError {
    /// The byte is not one of the six sighash types consensus accepts.
    InvalidSigHashType(u8),
    /// The transaction has no input at this index.
    InputIndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of inputs.
        inputs: usize,
    },
}

impl fmt::Display for SighashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSigHashType(b) => write!(f, "invalid sighash type {b:#04x}"),
            Self::InputIndexOutOfRange { index, inputs } => {
                write!(f, "input {index} does not exist (the transaction has {inputs})")
            }
        }
    }
}

impl core::error::Error for SighashError {}

/// The sub-hashes shared by every input's sighash, computed once per transaction.
#[derive(Debug, Clone)]
pub struct SighashContext<'a> {
    tx: &'a Transaction,
    prevouts: [u8; 32],
    sequences: [u8; 32],
    sig_op_counts: [u8; 32],
    outputs: [u8; 32],
    payload: [u8; 32],
}

const ZERO_HASH: [u8; 32] = [0; 32];

impl<'a> SighashContext<'a> {
    /// Precomputes the shared sub-hashes of `tx`.
    pub fn new(tx: &'a Transaction) -> Self {
        let mut prevouts = KaspaHasher::new(KaspaHasher::SIGNING);
        let mut sequences = KaspaHasher::new(KaspaHasher::SIGNING);
        let mut sig_op_counts = KaspaHasher::new(KaspaHasher::SIGNING);
        for input in &tx.inputs {
            prevouts.bytes(&input.previous_outpoint.transaction_id.0).u32(input.previous_outpoint.index);
            sequences.u64(input.sequence);
            sig_op_counts.u8(input.sig_op_count);
        }
        let mut outputs = KaspaHasher::new(KaspaHasher::SIGNING);
        for output in &tx.outputs {
            write_output(&mut outputs, output);
        }
        let payload = if tx.subnetwork_id == SubnetworkId::NATIVE && tx.payload.is_empty() {
            ZERO_HASH
        } else {
            KaspaHasher::new(KaspaHasher::SIGNING).var_bytes(&tx.payload).finalize()
        };
        Self {
            tx,
            prevouts: prevouts.finalize(),
            sequences: sequences.finalize(),
            sig_op_counts: sig_op_counts.finalize(),
            outputs: outputs.finalize(),
            payload,
        }
    }

    /// The transaction this context hashes.
    pub fn transaction(&self) -> &'a Transaction {
        self.tx
    }

    /// The Schnorr sighash of input `index`, which spends `entry`.
    pub fn schnorr(
        &self,
        index: usize,
        entry: &UtxoEntry,
        hash_type: SigHashType,
    ) -> Result<[u8; 32], SighashError> {
        let tx = self.tx;
        let input = tx
            .inputs
            .get(index)
            .ok_or(SighashError::InputIndexOutOfRange { index, inputs: tx.inputs.len() })?;
        let acp = hash_type.is_anyone_can_pay();
        let outputs = if hash_type.is_none() {
            ZERO_HASH
        } else if hash_type.is_single() {
            tx.outputs.get(index).map_or(ZERO_HASH, |output| {
                let mut h = KaspaHasher::new(KaspaHasher::SIGNING);
                write_output(&mut h, output);
                h.finalize()
            })
        } else {
            self.outputs
        };
        let mut h = KaspaHasher::new(KaspaHasher::SIGNING);
        h.u16(tx.version)
            .bytes(if acp { &ZERO_HASH } else { &self.prevouts })
            .bytes(if acp || hash_type.is_single() || hash_type.is_none() {
                &ZERO_HASH
            } else {
                &self.sequences
            })
            .bytes(if acp { &ZERO_HASH } else { &self.sig_op_counts })
            .bytes(&input.previous_outpoint.transaction_id.0)
            .u32(input.previous_outpoint.index)
            .u16(entry.script_public_key.version)
            .var_bytes(&entry.script_public_key.script)
            .u64(entry.amount)
            .u64(input.sequence)
            .u8(input.sig_op_count)
            .bytes(&outputs)
            .u64(tx.lock_time)
            .bytes(&tx.subnetwork_id.0)
            .u64(tx.gas)
            .bytes(&self.payload)
            .u8(hash_type.byte());
        Ok(h.finalize())
    }

    /// The ECDSA sighash of input `index`, which spends `entry`.
    pub fn ecdsa(
        &self,
        index: usize,
        entry: &UtxoEntry,
        hash_type: SigHashType,
    ) -> Result<[u8; 32], SighashError> {
        let schnorr = self.schnorr(index, entry, hash_type)?;
        let domain = Sha256::digest(b"TransactionSigningHashECDSA");
        let mut h = Sha256::new();
        h.update(domain);
        h.update(schnorr);
        Ok(h.finalize().into())
    }
}
