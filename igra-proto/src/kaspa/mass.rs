//! Size, masses, the relay fee floor and standardness limits of version-0 transactions, as kaspad 2.x
//! (after the Toccata hard fork) computes them.
//!
//! * **Size** (`transaction_estimated_serialized_size`): `94 + Σ inputs (52 + signature_script) +
//!   Σ outputs (18 + script) + payload`. The 94 fixed bytes are version 2, two counts 8 + 8, lock time 8,
//!   subnetwork 20, gas 8, a payload hash 32 and its length 8; an input is outpoint 36, script length 8,
//!   sequence 8; an output is value 8, script version 2, script length 8. The sig-op count is not counted.
//! * **Compute mass**: `size + 10 × Σ outputs (2 + script) + 1000 × Σ inputs sig_op_count`.
//! * **Transient mass** (KIP-13): `4 × size`.
//! * **Storage mass** (KIP-9): see [`storage_mass`].
//! * **Relay fee floor**: `100 sompi × max(compute mass, 2 × size)`; the `2 × size` is the transient mass
//!   normalised by the ratio of the compute and transient block limits (500,000 / 1,000,000).
//!
//! Signature scripts of a multisig spend have a fixed length, so an unsigned template with the final
//! script lengths accounted for has exactly the size, masses and fee of its signed transaction.

use core::fmt;

use super::tx::{MAX_SOMPI, Sompi, Transaction, TransactionOutput, UtxoEntry};

/// Bytes of a transaction outside its inputs, outputs and payload.
pub const BASE_SIZE: u64 = 94;
/// Bytes of an input outside its signature script.
pub const INPUT_BASE_SIZE: u64 = 52;
/// Bytes of an output outside its script.
pub const OUTPUT_BASE_SIZE: u64 = 18;
/// Compute grams per script-public-key byte (with its 2-byte version).
pub const MASS_PER_SCRIPT_PUB_KEY_BYTE: u64 = 10;
/// Compute grams per committed signature operation.
pub const MASS_PER_SIG_OP: u64 = 1000;
/// Transient grams per byte.
pub const TRANSIENT_MASS_PER_BYTE: u64 = 4;
/// KIP-9's constant `C`: one KAS times 10,000.
pub const STORAGE_MASS_PARAMETER: u128 = 1_000_000_000_000;
/// The relay fee floor: sompi per gram of fee mass.
pub const MIN_RELAY_FEE_SOMPI_PER_GRAM: u64 = 100;
/// The mempool's standard limit on compute mass.
pub const MAX_STANDARD_COMPUTE_MASS: u64 = 500_000;
/// The mempool's standard limit on transient mass.
pub const MAX_STANDARD_TRANSIENT_MASS: u64 = 1_000_000;
/// The mempool's standard limit on storage mass (inclusive).
pub const MAX_STANDARD_STORAGE_MASS: u64 = 500_000;
/// The most signature operations a standard P2SH input may run.
pub const MAX_STANDARD_P2SH_SIG_OPS: u8 = 15;

/// The estimated serialized size in bytes (the node's size rule, not the hashing encoding).
pub fn size(tx: &Transaction) -> u64 {
    let inputs: u64 = tx.inputs.iter().map(|i| INPUT_BASE_SIZE + i.signature_script.len() as u64).sum();
    let outputs: u64 = tx.outputs.iter().map(output_size).sum();
    BASE_SIZE + inputs + outputs + tx.payload.len() as u64
}

fn output_size(output: &TransactionOutput) -> u64 {
    OUTPUT_BASE_SIZE + output.script_public_key.script.len() as u64
}

/// Compute mass, for a transaction whose size is `size` (pass [`size`] of it, or of its final form).
pub fn compute_mass_with_size(tx: &Transaction, size: u64) -> u64 {
    let spk: u64 = tx
        .outputs
        .iter()
        .map(|o| (2 + o.script_public_key.script.len() as u64) * MASS_PER_SCRIPT_PUB_KEY_BYTE)
        .sum();
    let sig_ops: u64 = tx.inputs.iter().map(|i| u64::from(i.sig_op_count) * MASS_PER_SIG_OP).sum();
    size + spk + sig_ops
}

/// Compute mass of `tx` as it is.
pub fn compute_mass(tx: &Transaction) -> u64 {
    compute_mass_with_size(tx, size(tx))
}

/// Transient mass for a transaction of `size` bytes.
pub const fn transient_mass(size: u64) -> u64 {
    size.saturating_mul(TRANSIENT_MASS_PER_BYTE)
}

/// KIP-9's plurality of a script: how many "standard outputs" it counts as.
fn plurality(script_len: usize) -> u128 {
    (63 + script_len as u128).div_ceil(100)
}

/// Storage mass (KIP-9) of spending `entries` into `outputs`, or `None` if it overflows.
///
/// With `C = 10^12`, each output of value `v` and plurality `p` weighs `⌊C·p²/v⌋`. When there is one
/// output, or one input, or two of each (counted in pluralities), the relaxed formula applies:
/// `max(0, Σ outputs ⌊C·p²/v⌋ − Σ inputs ⌊C·p²/a⌋)`. Otherwise the inputs count at their mean value:
/// `max(0, Σ outputs ⌊C·p²/v⌋ − |I|·⌊C/max(1, ⌊Σ a/|I|⌋)⌋)`, `|I|` counted in pluralities. A zero value or
/// amount has no finite weight (`None`), and so has a transaction without inputs on the general path.
pub fn storage_mass(entries: &[UtxoEntry], outputs: &[TransactionOutput]) -> Option<u64> {
    let c = STORAGE_MASS_PARAMETER;
    let mut outs_plurality: u128 = 0;
    let mut harmonic_outs: u128 = 0;
    for output in outputs {
        let p = plurality(output.script_public_key.script.len());
        outs_plurality += p;
        harmonic_outs = harmonic_outs.checked_add((c * p * p).checked_div(u128::from(output.value))?)?;
    }
    let mut ins_plurality: u128 = 0;
    let mut harmonic_ins: u128 = 0;
    let mut sum_ins: u128 = 0;
    for entry in entries {
        let p = plurality(entry.script_public_key.script.len());
        ins_plurality += p;
        sum_ins += u128::from(entry.amount);
        harmonic_ins = harmonic_ins.checked_add((c * p * p).checked_div(u128::from(entry.amount))?)?;
    }
    // As the node decides it: one output, or at most two inputs counting one or two (with two outputs).
    let relaxed = outs_plurality == 1
        || (entries.len() <= 2 && (ins_plurality == 1 || (outs_plurality == 2 && ins_plurality == 2)));
    let subtrahend = if relaxed {
        harmonic_ins
    } else {
        let mean = (sum_ins.checked_div(ins_plurality)?).max(1);
        ins_plurality.checked_mul(c / mean)?
    };
    u64::try_from(harmonic_outs.saturating_sub(subtrahend)).ok()
}

/// The relay fee floor for a transaction with this compute mass and size. As the node computes it, a
/// floor of zero (a massless transaction, which never exists) becomes the rate of one kilogram.
pub fn minimum_relay_fee(compute_mass: u64, size: u64) -> Sompi {
    let fee_mass = compute_mass.max(size.saturating_mul(2));
    match fee_mass.saturating_mul(MIN_RELAY_FEE_SOMPI_PER_GRAM) {
        0 => MIN_RELAY_FEE_SOMPI_PER_GRAM * 1000,
        fee => fee.min(MAX_SOMPI),
    }
}

/// A transaction's size and masses, computed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassReport {
    /// Estimated serialized size in bytes.
    pub size: u64,
    /// Compute mass in grams.
    pub compute: u64,
    /// Transient mass in grams.
    pub transient: u64,
    /// Storage mass in grams.
    pub storage: u64,
}

impl MassReport {
    /// Size and masses of `tx` spending `entries`. `None` if the storage mass overflows (an output or
    /// entry of zero value).
    pub fn of(tx: &Transaction, entries: &[UtxoEntry]) -> Option<Self> {
        let size = size(tx);
        Some(Self {
            size,
            compute: compute_mass_with_size(tx, size),
            transient: transient_mass(size),
            storage: storage_mass(entries, &tx.outputs)?,
        })
    }

    /// The relay fee floor.
    pub fn minimum_fee(&self) -> Sompi {
        minimum_relay_fee(self.compute, self.size)
    }

    /// The mass fees are charged for: `max(compute, 2 × size)`.
    pub fn fee_mass(&self) -> u64 {
        self.compute.max(self.size.saturating_mul(2))
    }

    /// The first standard limit this transaction breaks, if any.
    pub fn check_standard(&self) -> Result<(), MassError> {
        if self.compute > MAX_STANDARD_COMPUTE_MASS {
            return Err(MassError::Compute { mass: self.compute, limit: MAX_STANDARD_COMPUTE_MASS });
        }
        if self.transient > MAX_STANDARD_TRANSIENT_MASS {
            return Err(MassError::Transient { mass: self.transient, limit: MAX_STANDARD_TRANSIENT_MASS });
        }
        if self.storage > MAX_STANDARD_STORAGE_MASS {
            return Err(MassError::Storage { mass: self.storage, limit: MAX_STANDARD_STORAGE_MASS });
        }
        Ok(())
    }
}

/// A mass above its standard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MassError {
    /// Compute mass too high.
    Compute {
        /// The mass.
        mass: u64,
        /// The limit.
        limit: u64,
    },
    /// Transient mass too high.
    Transient {
        /// The mass.
        mass: u64,
        /// The limit.
        limit: u64,
    },
    /// Storage mass too high (an output too small for what it spends).
    Storage {
        /// The mass.
        mass: u64,
        /// The limit.
        limit: u64,
    },
}

impl fmt::Display for MassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compute { mass, limit } => write!(f, "compute mass {mass} exceeds {limit}"),
            Self::Transient { mass, limit } => write!(f, "transient mass {mass} exceeds {limit}"),
            Self::Storage { mass, limit } => write!(f, "storage mass {mass} exceeds {limit}"),
        }
    }
}

impl core::error::Error for MassError {}
