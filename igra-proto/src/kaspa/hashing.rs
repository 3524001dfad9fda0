//! Transaction ids and hashes: keyed BLAKE2b-256 over rusty-kaspa's hashing serialization.
//!
//! The serialization (all integers little-endian, lengths as u64):
//!
//! ```text
//! version u16 ‖ #inputs u64 ‖ inputs ‖ #outputs u64 ‖ outputs ‖ lock_time u64 ‖ subnetwork [20]
//! ‖ gas u64 ‖ len u64 ‖ payload [‖ storage_mass u64]
//! input  = txid [32] ‖ index u32 ‖ len u64 ‖ signature_script ‖ sig_op_count u8 ‖ sequence u64
//! output = value u64 ‖ spk version u16 ‖ len u64 ‖ spk script
//! ```
//!
//! * The **transaction id** is keyed with `"TransactionID"` and leaves out every signature script (an
//!   empty length) together with its `sig_op_count` byte, and the storage mass. Signing does not change
//!   it, so every member that finalizes a template computes the same id.
//! * The **transaction hash** is keyed with `"TransactionHash"`, includes everything, and appends the
//!   storage mass only when it is non-zero (version 0).

use super::tx::{Transaction, TransactionInput, TransactionOutput};
use crate::ids::TransactionId;

/// BLAKE2b-256 keyed with an ASCII domain: the hasher of every Kaspa transaction digest.
pub(crate) struct KaspaHasher(blake2b_simd::State);

impl KaspaHasher {
    /// Key of transaction ids.
    pub(crate) const TRANSACTION_ID: &'static [u8] = b"TransactionID";
    /// Key of transaction hashes.
    pub(crate) const TRANSACTION_HASH: &'static [u8] = b"TransactionHash";
    /// Key of the Schnorr sighash and all of its sub-hashes.
    pub(crate) const SIGNING: &'static [u8] = b"TransactionSigningHash";

    /// A hasher keyed with `domain`.
    pub(crate) fn new(domain: &[u8]) -> Self {
        Self(blake2b_simd::Params::new().hash_length(32).key(domain).to_state())
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// A length as u64 LE.
    pub(crate) fn len(&mut self, len: usize) -> &mut Self {
        self.u64(len as u64)
    }

    /// A length-prefixed byte string.
    pub(crate) fn var_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.len(bytes.len()).bytes(bytes)
    }

    pub(crate) fn finalize(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finalize().as_bytes());
        out
    }
}

/// Whether signature scripts and the mass commitment are hashed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// The id: no signature scripts, no sig-op counts, no mass.
    Id,
    /// The hash: everything.
    Full,
}

/// The transaction id (version 0).
pub fn transaction_id(tx: &Transaction) -> TransactionId {
    let mut h = KaspaHasher::new(KaspaHasher::TRANSACTION_ID);
    write_transaction(&mut h, tx, Coverage::Id);
    TransactionId(h.finalize())
}

/// The transaction hash (version 0): covers signature scripts and a non-zero storage mass.
pub fn transaction_hash(tx: &Transaction) -> [u8; 32] {
    let mut h = KaspaHasher::new(KaspaHasher::TRANSACTION_HASH);
    write_transaction(&mut h, tx, Coverage::Full);
    h.finalize()
}

fn write_transaction(h: &mut KaspaHasher, tx: &Transaction, coverage: Coverage) {
    h.u16(tx.version).len(tx.inputs.len());
    for input in &tx.inputs {
        write_input(h, input, coverage);
    }
    h.len(tx.outputs.len());
    for output in &tx.outputs {
        write_output(h, output);
    }
    h.u64(tx.lock_time).bytes(&tx.subnetwork_id.0).u64(tx.gas).var_bytes(&tx.payload);
    if coverage == Coverage::Full && tx.storage_mass > 0 {
        h.u64(tx.storage_mass);
    }
}

fn write_input(h: &mut KaspaHasher, input: &TransactionInput, coverage: Coverage) {
    h.bytes(&input.previous_outpoint.transaction_id.0).u32(input.previous_outpoint.index);
    match coverage {
        Coverage::Full => {
            h.var_bytes(&input.signature_script).u8(input.sig_op_count);
        }
        Coverage::Id => {
            h.var_bytes(&[]);
        }
    }
    h.u64(input.sequence);
}

/// An output as the hashing serialization writes it (shared with the sighash's outputs hash).
pub(crate) fn write_output(h: &mut KaspaHasher, output: &TransactionOutput) {
    h.u64(output.value).u16(output.script_public_key.version).var_bytes(&output.script_public_key.script);
}
