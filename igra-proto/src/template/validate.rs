//! The check every voter and signer runs on a template before voting for or signing it.
//!
//! It depends only on the template, the event's payment, the group's script and the group's policy,
//! never on the checker's own UTXO view: a template built from a view the checker has not seen yet is
//! judged on its own merits. Kaspa's sighash commits to each input's amount and script, so a template
//! that lies about an entry yields signatures the chain rejects; it can never move more than it says.

use alloc::collections::BTreeSet;
use core::fmt;

use super::{FeeMode, Payment, Template, TemplatePolicy, sum};
use crate::ids::TemplateHash;
use crate::kaspa::mass::{MassError, MassReport};
use crate::kaspa::script::MultisigScript;
use crate::kaspa::tx::{SEQUENCE_FINAL, Sompi, SubnetworkId, TX_VERSION};

/// A template that passed [`validate`], with the figures the check computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatedTemplate {
    /// Its hash.
    pub hash: TemplateHash,
    /// Its fee in sompi.
    pub fee: Sompi,
    /// Size and masses of the signed transaction.
    pub mass: MassReport,
}

/// Why a template is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is not the one the hash names.
    HashMismatch,
    /// Not a version-0, native transaction without lock time, gas or payload.
    UnsupportedShape,
    /// No inputs, or more than the policy allows.
    InputCount {
        /// Inputs present.
        count: usize,
        /// The policy's limit.
        limit: u16,
    },
    /// The number of UTXO entries differs from the number of inputs.
    EntryCountMismatch,
    /// Two inputs spend the same outpoint.
    DuplicateInput {
        /// The later input.
        index: usize,
    },
    /// An input does not spend the group's script.
    ForeignInput {
        /// The input.
        index: usize,
    },
    /// An input's sig-op count, sequence or (non-empty) signature script is not what the group signs.
    InputFields {
        /// The input.
        index: usize,
    },
    /// The first output is not exactly the event's payment.
    PaymentMismatch,
    /// An output after the payment does not pay the group's own script, or there is more than one.
    UnexpectedOutput {
        /// The output.
        index: usize,
    },
    /// Change is below the policy's minimum change.
    ChangeTooSmall {
        /// The change.
        change: Sompi,
    },
    /// Outputs exceed inputs, or a sum overflows.
    ValueOverflow,
    /// The fee is below the relay floor of the signed transaction.
    FeeBelowMinimum {
        /// The fee.
        fee: Sompi,
        /// The floor.
        minimum: Sompi,
    },
    /// The fee is above the policy's cap.
    FeeAboveCap {
        /// The fee.
        fee: Sompi,
        /// The cap.
        cap: Sompi,
    },
    /// A mass is above its limit.
    Mass(MassError),
    /// The committed storage mass differs from the computed one.
    StorageMassCommitment {
        /// Committed.
        committed: u64,
        /// Computed.
        computed: u64,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HashMismatch => f.write_str("the template does not match its hash"),
            Self::UnsupportedShape => {
                f.write_str("not a version-0 native transaction without lock time, gas or payload")
            }
            Self::InputCount { count, limit } => write!(f, "{count} inputs, between 1 and {limit} allowed"),
            Self::EntryCountMismatch => f.write_str("entry count differs from input count"),
            Self::DuplicateInput { index } => write!(f, "input {index} spends an outpoint twice"),
            Self::ForeignInput { index } => write!(f, "input {index} does not spend the group's script"),
            Self::InputFields { index } => write!(f, "input {index} has unexpected fields"),
            Self::PaymentMismatch => f.write_str("the first output is not the event's payment"),
            Self::UnexpectedOutput { index } => write!(f, "output {index} is not change to the group"),
            Self::ChangeTooSmall { change } => write!(f, "change of {change} sompi is below the minimum"),
            Self::ValueOverflow => f.write_str("outputs exceed inputs or a sum overflows"),
            Self::FeeBelowMinimum { fee, minimum } => {
                write!(f, "fee {fee} is below the relay floor {minimum}")
            }
            Self::FeeAboveCap { fee, cap } => write!(f, "fee {fee} is above the cap {cap}"),
            Self::Mass(e) => write!(f, "{e}"),
            Self::StorageMassCommitment { committed, computed } => {
                write!(f, "storage mass commitment {committed} differs from {computed}")
            }
        }
    }
}

impl core::error::Error for TemplateError {}

impl From<MassError> for TemplateError {
    fn from(e: MassError) -> Self {
        Self::Mass(e)
    }
}

/// Checks `template` against its claimed `hash`, the event's `payment`, the group's script and policy.
pub fn validate(
    template: &Template,
    hash: TemplateHash,
    payment: &Payment,
    group_script: &MultisigScript,
    policy: &TemplatePolicy,
) -> Result<ValidatedTemplate, TemplateError> {
    if template.hash() != hash {
        return Err(TemplateError::HashMismatch);
    }
    let tx = &template.transaction;
    if tx.version != TX_VERSION
        || tx.subnetwork_id != SubnetworkId::NATIVE
        || tx.lock_time != 0
        || tx.gas != 0
        || !tx.payload.is_empty()
    {
        return Err(TemplateError::UnsupportedShape);
    }
    let count = tx.inputs.len();
    if count == 0 || count > usize::from(policy.max_inputs) {
        return Err(TemplateError::InputCount { count, limit: policy.max_inputs });
    }
    if template.entries.len() != count {
        return Err(TemplateError::EntryCountMismatch);
    }
    let group_spk = group_script.script_public_key();
    let mut seen = BTreeSet::new();
    for (index, (input, entry)) in tx.inputs.iter().zip(&template.entries).enumerate() {
        if !seen.insert(input.previous_outpoint) {
            return Err(TemplateError::DuplicateInput { index });
        }
        if entry.script_public_key != group_spk {
            return Err(TemplateError::ForeignInput { index });
        }
        if input.sig_op_count != group_script.sig_op_count()
            || input.sequence != SEQUENCE_FINAL
            || !input.signature_script.is_empty()
        {
            return Err(TemplateError::InputFields { index });
        }
    }
    let fee = template.fee().ok_or(TemplateError::ValueOverflow)?;
    let inputs_total = sum(template.entries.iter().map(|e| e.amount)).ok_or(TemplateError::ValueOverflow)?;
    check_outputs(template, payment, &group_spk, policy, fee, inputs_total)?;

    let mass = template
        .final_mass(group_script.signature_script_len())
        .ok_or(TemplateError::Mass(MassError::Storage { mass: u64::MAX, limit: 0 }))?;
    mass.check_standard()?;
    if mass.compute > policy.max_compute_mass {
        return Err(TemplateError::Mass(MassError::Compute {
            mass: mass.compute,
            limit: policy.max_compute_mass,
        }));
    }
    if tx.storage_mass != mass.storage {
        return Err(TemplateError::StorageMassCommitment {
            committed: tx.storage_mass,
            computed: mass.storage,
        });
    }
    let minimum = mass.minimum_fee();
    if fee < minimum {
        return Err(TemplateError::FeeBelowMinimum { fee, minimum });
    }
    if fee > policy.max_fee {
        return Err(TemplateError::FeeAboveCap { fee, cap: policy.max_fee });
    }
    Ok(ValidatedTemplate { hash, fee, mass })
}

/// The payment first, then at most one change output to the group, of at least `min_change`.
fn check_outputs(
    template: &Template,
    payment: &Payment,
    group_spk: &crate::kaspa::tx::ScriptPublicKey,
    policy: &TemplatePolicy,
    fee: Sompi,
    inputs_total: Sompi,
) -> Result<(), TemplateError> {
    let outputs = &template.transaction.outputs;
    let first = outputs.first().ok_or(TemplateError::PaymentMismatch)?;
    let paid = match policy.fee_mode {
        FeeMode::GroupPays => payment.amount,
        // The recipient bears the network fee; change the group folded into the fee it bears itself.
        FeeMode::RecipientPays => {
            let change: Sompi = outputs.get(1).map_or(0, |o| o.value);
            let folded = inputs_total.checked_sub(payment.amount).ok_or(TemplateError::ValueOverflow)?;
            let folded = folded.checked_sub(change).ok_or(TemplateError::ValueOverflow)?;
            let network_fee = fee.checked_sub(folded).ok_or(TemplateError::ValueOverflow)?;
            payment.amount.checked_sub(network_fee).ok_or(TemplateError::PaymentMismatch)?
        }
    };
    if first.script_public_key != payment.destination || first.value != paid || paid == 0 {
        return Err(TemplateError::PaymentMismatch);
    }
    match outputs.get(1..).unwrap_or_default() {
        [] => {}
        [change] => {
            if change.script_public_key != *group_spk {
                return Err(TemplateError::UnexpectedOutput { index: 1 });
            }
            if change.value < policy.min_change {
                return Err(TemplateError::ChangeTooSmall { change: change.value });
            }
        }
        [_, _, ..] => return Err(TemplateError::UnexpectedOutput { index: 2 }),
    }
    Ok(())
}
