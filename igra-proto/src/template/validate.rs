//! The check every voter and signer runs on a template before voting for or signing it.
//!
//! It depends only on the template, the event's payment, the group's script and the group's policy,
//! never on the checker's own UTXO view: a template built from a view the checker has not seen yet is
//! judged on its own merits. Kaspa's sighash commits to each input's amount and script, so a template
//! that lies about an entry yields signatures the chain rejects; it can never move more than it says.

use alloc::collections::BTreeSet;
use core::fmt;

use super::{FeeMode, Payment, Template, TemplatePolicy, final_mass};
use crate::ids::TemplateHash;
use crate::kaspa::mass::{MassError, MassReport};
use crate::kaspa::script::MultisigScript;
use crate::kaspa::tx::{SEQUENCE_FINAL, ScriptPublicKey, Sompi, SubnetworkId, TX_VERSION, TransactionOutput};

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
    /// The fee is not one the builder could have chosen: off the policy's fee-rate ladder, or with more
    /// folded into it than change too small to keep.
    FeeOffLadder {
        /// The fee.
        fee: Sompi,
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
            Self::FeeOffLadder { fee } => write!(f, "fee {fee} is not on the policy's fee-rate ladder"),
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
    let fee = check_outputs_and_fee(
        template,
        payment,
        &group_spk,
        policy,
        &mass,
        group_script.signature_script_len(),
    )?;
    let minimum = mass.minimum_fee();
    if fee < minimum {
        return Err(TemplateError::FeeBelowMinimum { fee, minimum });
    }
    if fee > policy.max_fee {
        return Err(TemplateError::FeeAboveCap { fee, cap: policy.max_fee });
    }
    Ok(ValidatedTemplate { hash, fee, mass })
}

/// The payment first, then at most one change output to the group, of at least `min_change`; and a fee
/// the builder could have chosen.
///
/// The fee rule: with a change output, the network fee is exactly `feerate(r) × fee mass` for some
/// round `r` of the policy's ladder. Without one, it is that exact fee plus change that was too small
/// to keep: `feerate(r) × fee mass ≤ fee < feerate(r) × fee mass with a change output + min_change`. When
/// the recipient pays, the payment is the amount less the exact network fee, and anything folded is the
/// group's.
fn check_outputs_and_fee(
    template: &Template,
    payment: &Payment,
    group_spk: &ScriptPublicKey,
    policy: &TemplatePolicy,
    mass: &MassReport,
    signature_script_len: usize,
) -> Result<Sompi, TemplateError> {
    let tx = &template.transaction;
    let fee = template.fee().ok_or(TemplateError::ValueOverflow)?;
    let outputs = &tx.outputs;
    let first = outputs.first().ok_or(TemplateError::PaymentMismatch)?;
    if first.script_public_key != payment.destination {
        return Err(TemplateError::PaymentMismatch);
    }
    let change = match outputs.get(1..).unwrap_or_default() {
        [] => None,
        [change] => {
            if change.script_public_key != *group_spk {
                return Err(TemplateError::UnexpectedOutput { index: 1 });
            }
            if change.value < policy.min_change {
                return Err(TemplateError::ChangeTooSmall { change: change.value });
            }
            Some(change.value)
        }
        [_, _, ..] => return Err(TemplateError::UnexpectedOutput { index: 2 }),
    };
    let fee_mass = mass.fee_mass();
    // What the network fee is and what was folded into it, by fee mode.
    let (network_fee, folded) = match policy.fee_mode {
        FeeMode::GroupPays => {
            if first.value != payment.amount {
                return Err(TemplateError::PaymentMismatch);
            }
            if change.is_some() {
                (fee, 0)
            } else {
                let rate = policy
                    .ladder_rate_at_most(fee / fee_mass.max(1))
                    .ok_or(TemplateError::FeeOffLadder { fee })?;
                let exact = rate.saturating_mul(fee_mass);
                (exact, fee - exact.min(fee))
            }
        }
        FeeMode::RecipientPays => {
            let network_fee =
                payment.amount.checked_sub(first.value).ok_or(TemplateError::PaymentMismatch)?;
            if first.value == 0 {
                return Err(TemplateError::PaymentMismatch);
            }
            let folded = fee.checked_sub(network_fee).ok_or(TemplateError::PaymentMismatch)?;
            (network_fee, folded)
        }
    };
    let on_ladder = network_fee % fee_mass.max(1) == 0
        && policy.ladder_rate_at_most(network_fee / fee_mass.max(1)) == Some(network_fee / fee_mass.max(1));
    if !on_ladder {
        return Err(TemplateError::FeeOffLadder { fee });
    }
    if change.is_some() && folded != 0 {
        return Err(TemplateError::FeeOffLadder { fee });
    }
    if change.is_none() && folded > 0 {
        // Folding is allowed only when a change output could not have been afforded.
        let rate = network_fee / fee_mass.max(1);
        let mut with_change = tx.clone();
        with_change.outputs.push(TransactionOutput { value: 1, script_public_key: group_spk.clone() });
        let change_mass = final_mass(&with_change, &template.entries, signature_script_len)
            .ok_or(TemplateError::ValueOverflow)?
            .fee_mass();
        let bound = rate.saturating_mul(change_mass).saturating_add(policy.min_change);
        if network_fee.saturating_add(folded) >= bound.max(network_fee + 1)
            && policy.fee_mode == FeeMode::GroupPays
        {
            return Err(TemplateError::FeeOffLadder { fee });
        }
        if policy.fee_mode == FeeMode::RecipientPays && folded >= policy.min_change {
            return Err(TemplateError::FeeOffLadder { fee });
        }
    }
    Ok(fee)
}
