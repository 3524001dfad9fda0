//! Transaction templates: the unsigned transaction a group votes on, how every member derives the same
//! one, how every voter checks one, and how it is signed and finalized.
//!
//! A [`Template`] is an unsigned version-0 Kaspa transaction plus the UTXO entry of every input. It is
//! identified by its [`TemplateHash`]: the BLAKE3 `derive_key` hash (context `"igra 2026-11 template
//! v1"`) of its postcard encoding. Because multisig signature scripts have a fixed length, the final
//! size, masses and fee of the signed transaction are known exactly before anyone signs.
//!
//! * [`build`](mod@build): the deterministic builder (protocol brief section 4);
//! * [`validate`](mod@validate): the check every voter and signer runs, independent of its own UTXO view;
//! * [`sign`](mod@sign): per-input signatures, verification of a member's signatures, and finalization.

pub mod build;
pub mod sign;
pub mod validate;

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{Domain, domain_hash};
use crate::ids::TemplateHash;
use crate::kaspa::mass::{MassReport, storage_mass};
use crate::kaspa::tx::{MAX_SOMPI, Outpoint, ScriptPublicKey, Sompi, Transaction, UtxoEntry};
use crate::wire::{DecodeError, EncodedTemplate, MAX_TEMPLATE_INPUTS, decode_exact};

pub use build::{BuildError, BuildRequest, build, output_key, output_keys};
pub use validate::{TemplateError, ValidatedTemplate, validate};

/// What an event asks the group to pay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payment {
    /// The payee's locking script.
    pub destination: ScriptPublicKey,
    /// The amount the event names, in sompi.
    pub amount: Sompi,
}

/// Who pays the network fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeeMode {
    /// The payee receives `amount - fee`.
    RecipientPays,
    /// The payee receives `amount`; the fee comes out of the group's change.
    GroupPays,
}

/// The group's rules for building templates. Every member must run the same policy (its version is
/// part of the group id): the builder is deterministic only for equal policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatePolicy {
    /// Who pays the fee.
    pub fee_mode: FeeMode,
    /// Fee rate of round 0, in sompi per gram of fee mass (at least the relay floor of 100).
    pub feerate_sompi_per_gram: u64,
    /// Percent of the round-0 rate added per round, so that retries escalate deterministically.
    pub feerate_step_percent: u32,
    /// The most a template may pay in fees.
    pub max_fee: Sompi,
    /// The smallest change output the builder creates; smaller change is folded into the fee.
    pub min_change: Sompi,
    /// The most compute mass a template may have (at most the mempool's 500,000).
    pub max_compute_mass: u64,
    /// The most inputs a template may spend (at most [`MAX_TEMPLATE_INPUTS`]).
    pub max_inputs: u16,
    /// How deep, in DAA score, a UTXO must be before it is spent.
    pub min_input_depth: u64,
    /// DAA score a coinbase output must wait before it can be spent.
    pub coinbase_maturity: u64,
}

impl Default for TemplatePolicy {
    fn default() -> Self {
        Self {
            fee_mode: FeeMode::GroupPays,
            feerate_sompi_per_gram: crate::kaspa::mass::MIN_RELAY_FEE_SOMPI_PER_GRAM,
            feerate_step_percent: 25,
            max_fee: crate::kaspa::tx::SOMPI_PER_KASPA,
            // Below 0.2 KAS an output's storage mass (10^12 / value) exceeds 5,000 grams.
            min_change: 20_000_000,
            // What wallets treat as standard; the mempool allows up to 500,000.
            max_compute_mass: 100_000,
            max_inputs: 128,
            min_input_depth: 100,
            coinbase_maturity: 1000,
        }
    }
}

impl TemplatePolicy {
    /// The fee rate of `round` in sompi per gram: the round-0 rate plus `feerate_step_percent` of it per
    /// round, never below the relay floor, saturating.
    pub fn feerate(&self, round: u32) -> u64 {
        let base = self.base_feerate();
        let step = u128::from(base) * u128::from(self.feerate_step_percent) * u128::from(round) / 100;
        u64::try_from(u128::from(base) + step).unwrap_or(u64::MAX)
    }

    fn base_feerate(&self) -> u64 {
        self.feerate_sompi_per_gram.max(crate::kaspa::mass::MIN_RELAY_FEE_SOMPI_PER_GRAM)
    }

    /// The highest rate on the ladder that is at most `rate`.
    pub(crate) fn ladder_rate_at_most(&self, rate: u64) -> Option<u64> {
        let base = self.base_feerate();
        if rate < base {
            return None;
        }
        let per_round = u128::from(base) * u128::from(self.feerate_step_percent);
        if per_round == 0 {
            return Some(base);
        }
        // feerate(r) = base + floor(per_round * r / 100): solve for r, then step back over the rounding.
        let guess = (u128::from(rate - base) * 100 / per_round).min(u128::from(u32::MAX));
        let guess = u32::try_from(guess).unwrap_or(u32::MAX);
        [guess.saturating_add(1), guess, guess.saturating_sub(1)]
            .into_iter()
            .map(|r| self.feerate(r))
            .find(|&f| f <= rate)
    }
}

/// An unspent output of the group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Utxo {
    /// Where it is.
    pub outpoint: Outpoint,
    /// What it is.
    pub entry: UtxoEntry,
}

/// An unsigned transaction and the UTXO entry of each of its inputs, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Template {
    /// The unsigned transaction: empty signature scripts, final sig-op counts.
    pub transaction: Transaction,
    /// `entries[i]` is the UTXO spent by input `i`.
    pub entries: Vec<UtxoEntry>,
}

/// A template could not be encoded within the wire bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateTooLarge {
    /// Its encoded length.
    pub len: usize,
}

impl fmt::Display for TemplateTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template encodes to {} bytes, above MAX_TEMPLATE_BYTES", self.len)
    }
}

impl core::error::Error for TemplateTooLarge {}

impl Template {
    /// The template's identity.
    pub fn hash(&self) -> TemplateHash {
        TemplateHash(domain_hash(Domain::Template, &self.to_bytes()))
    }

    fn to_bytes(&self) -> Vec<u8> {
        // Encoding plain data into a vector cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// The wire encoding, for votes and template messages.
    pub fn encode(&self) -> Result<EncodedTemplate, TemplateTooLarge> {
        let bytes = self.to_bytes();
        let len = bytes.len();
        EncodedTemplate::try_from(bytes).map_err(|_| TemplateTooLarge { len })
    }

    /// Decodes a template from its wire encoding. Decoding says nothing about validity: run
    /// [`validate()`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let template: Self = decode_exact(bytes)?;
        if template.transaction.inputs.len() > MAX_TEMPLATE_INPUTS {
            return Err(DecodeError::OutOfBounds);
        }
        Ok(template)
    }

    /// `Σ entries − Σ outputs`, if the sums fit and inputs cover outputs.
    pub fn fee(&self) -> Option<Sompi> {
        let inputs = sum(self.entries.iter().map(|e| e.amount))?;
        let outputs = sum(self.transaction.outputs.iter().map(|o| o.value))?;
        inputs.checked_sub(outputs)
    }

    /// Size and masses of the signed transaction, each input's signature script being
    /// `signature_script_len` bytes. `None` if the storage mass overflows.
    pub fn final_mass(&self, signature_script_len: usize) -> Option<MassReport> {
        final_mass(&self.transaction, &self.entries, signature_script_len)
    }
}

/// Size and masses of `tx` (with empty signature scripts) once every input carries a signature script
/// of `signature_script_len` bytes.
pub(crate) fn final_mass(
    tx: &Transaction,
    entries: &[UtxoEntry],
    signature_script_len: usize,
) -> Option<MassReport> {
    let unsigned = crate::kaspa::mass::size(tx);
    let scripts = (tx.inputs.len() as u64).checked_mul(signature_script_len as u64)?;
    let size = unsigned.checked_add(scripts)?;
    Some(MassReport {
        size,
        compute: crate::kaspa::mass::compute_mass_with_size(tx, size),
        transient: crate::kaspa::mass::transient_mass(size),
        storage: storage_mass(entries, &tx.outputs)?,
    })
}

/// Sum of amounts, `None` above [`MAX_SOMPI`] or on overflow.
pub(crate) fn sum(values: impl Iterator<Item = Sompi>) -> Option<Sompi> {
    let mut total: Sompi = 0;
    for v in values {
        total = total.checked_add(v)?;
    }
    (total <= MAX_SOMPI).then_some(total)
}
