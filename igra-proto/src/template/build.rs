//! The deterministic template builder: every member with the same inputs builds the same template.
//!
//! 1. **Candidates**: the group's UTXOs (locked by the group's P2SH script) that are not reserved by
//!    another event, at least `min_input_depth` deep (`virtual DAA score − entry DAA score`) and, for
//!    coinbase outputs, past `coinbase_maturity`.
//! 2. **Order**: ascending by `output_key XOR seed`, compared as 32-byte big-endian numbers, where
//!    `output_key = BLAKE3-derive_key("igra 2026-11 output key v1", txid ‖ index u32 LE)` (one per UTXO,
//!    computed once per snapshot: [`output_keys`]) and `seed = BLAKE3-derive_key("igra 2026-11 input
//!    order v2", event_id ‖ epoch u32 LE ‖ round u32 LE)`, so that concurrent events and successive
//!    rounds draw from different parts of the pool (the UTXOs whose keys are nearest their seed).
//! 3. **Selection**: the shortest prefix of that order that pays the payment plus the exact fee,
//!    within `max_inputs` and `max_compute_mass`, with a standard storage mass.
//! 4. **Outputs**: the payment first (`amount`, or `amount − fee` when the recipient pays), then change
//!    to the group's own script. Change below `min_change` is not created: it is folded into the fee if
//!    the fee stays within `max_fee`, otherwise one more input is taken.
//! 5. **Fee**: `feerate(round) × max(compute mass, 2 × size)` of the final signed transaction, where
//!    `feerate(round)` rises by `feerate_step_percent` of the round-0 rate per round; never above
//!    `max_fee`.
//!
//! Inputs use `sequence = u64::MAX`, `sig_op_count = n` and empty signature scripts; the transaction is
//! version 0, native, with no lock time, gas or payload, and commits to its storage mass.

use alloc::collections::{BTreeSet, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::fmt;

use super::{Payment, Template, TemplatePolicy, Utxo, final_mass};
use crate::hash::{Domain, DomainHasher};
use crate::ids::EventId;
use crate::kaspa::mass::{MAX_STANDARD_STORAGE_MASS, MassReport};
use crate::kaspa::script::{MultisigScript, ScriptClass};
use crate::kaspa::tx::{
    MAX_SOMPI, Outpoint, SEQUENCE_FINAL, Sompi, SubnetworkId, TX_VERSION, Transaction, TransactionInput,
    TransactionOutput, UtxoEntry,
};

/// Everything the builder depends on. Two members with equal requests build equal templates.
#[derive(Debug, Clone, Copy)]
pub struct BuildRequest<'a> {
    /// The event being paid.
    pub event_id: EventId,
    /// The event's signing epoch.
    pub epoch: u32,
    /// The voting round.
    pub round: u32,
    /// What to pay.
    pub payment: &'a Payment,
    /// The group's redeem script (its P2SH script is both the input lock and the change destination).
    pub group_script: &'a MultisigScript,
    /// The group's template policy.
    pub policy: &'a TemplatePolicy,
    /// The group's UTXO snapshot as this member sees it.
    pub utxos: &'a [Utxo],
    /// The [`output_key`] of each of `utxos`, in the same order, if the caller keeps them (a node
    /// computes them once per snapshot for all its templates); computed here when `None` or when the
    /// lengths differ. They do not change the template, only its cost.
    pub output_keys: Option<&'a [[u8; 32]]>,
    /// Outpoints reserved by other events in flight.
    pub reserved: &'a BTreeSet<Outpoint>,
    /// The virtual DAA score of the snapshot.
    pub virtual_daa_score: u64,
}

/// Why no template could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildError {
    /// The payment amount is zero or above the supply.
    InvalidAmount(Sompi),
    /// The destination script is not a standard script the mempool accepts.
    NonStandardDestination,
    /// The spendable UTXOs do not cover the payment and its fee.
    InsufficientFunds {
        /// Sompi in spendable, unreserved UTXOs.
        available: Sompi,
        /// Sompi needed with the fee of the last attempt.
        needed: Sompi,
    },
    /// Covering the payment would take more inputs than the policy allows.
    TooManyInputs {
        /// The policy's limit.
        limit: u16,
    },
    /// Covering the payment would exceed the policy's compute mass.
    ExceedsMass {
        /// The compute mass of the smallest sufficient template.
        mass: u64,
        /// The policy's limit.
        limit: u64,
    },
    /// The fee for this payment would exceed the policy's cap.
    FeeAboveCap {
        /// The fee.
        fee: Sompi,
        /// The cap.
        cap: Sompi,
    },
    /// With the recipient paying, the fee would consume the whole amount.
    AmountBelowFee {
        /// The payment amount.
        amount: Sompi,
        /// The fee.
        fee: Sompi,
    },
    /// The payment output is too small for the mempool's storage-mass rule, whatever the inputs.
    StorageMassTooHigh {
        /// The storage mass of the best attempt.
        mass: u64,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidAmount(a) => write!(f, "invalid payment amount {a} sompi"),
            Self::NonStandardDestination => f.write_str("the destination script is not standard"),
            Self::InsufficientFunds { available, needed } => {
                write!(f, "insufficient funds: {available} sompi spendable, {needed} needed")
            }
            Self::TooManyInputs { limit } => write!(f, "the payment needs more than {limit} inputs"),
            Self::ExceedsMass { mass, limit } => {
                write!(f, "the template would have compute mass {mass} > {limit}")
            }
            Self::FeeAboveCap { fee, cap } => write!(f, "fee {fee} sompi is above the cap of {cap}"),
            Self::AmountBelowFee { amount, fee } => {
                write!(f, "amount {amount} sompi does not cover the fee {fee}")
            }
            Self::StorageMassTooHigh { mass } => write!(f, "storage mass {mass} is above the standard limit"),
        }
    }
}

impl core::error::Error for BuildError {}

/// An output in the order's heap: its distance's first 8 bytes (big endian), the whole distance, its
/// outpoint (the tie-break) and its position in the snapshot.
type Candidate = (u64, [u8; 32], Outpoint, usize);

/// Builds the template of `request` (see the module documentation for the rule).
pub fn build(request: &BuildRequest<'_>) -> Result<Template, BuildError> {
    let payment = request.payment;
    if payment.amount == 0 || payment.amount > MAX_SOMPI {
        return Err(BuildError::InvalidAmount(payment.amount));
    }
    if ScriptClass::of(&payment.destination) == ScriptClass::NonStandard {
        return Err(BuildError::NonStandardDestination);
    }
    let group_spk = request.group_script.script_public_key();
    // One hash per template (the seed), none per candidate when the caller kept the output keys; a
    // template needs only the first few outputs in key order, so they come off a heap (linear to build)
    // instead of a full sort of what may be thousands of outputs, and whether an output may be spent
    // (script, reservation, depth) is asked only of those taken off. The heap compares the distance's
    // first 8 bytes as an integer and the rest only on a tie; ties of the whole distance, impossible in
    // practice (distinct outpoints have distinct keys), go by outpoint.
    let seed = order_seed(request);
    let kept = request.output_keys.filter(|keys| keys.len() == request.utxos.len());
    let mut candidates: BinaryHeap<Reverse<Candidate>> = request
        .utxos
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let key = kept.and_then(|keys| keys.get(i).copied()).unwrap_or_else(|| output_key(&u.outpoint));
            let distance = xor(&key, &seed);
            let mut head = [0u8; 8];
            head.copy_from_slice(&distance[..8]);
            Reverse((u64::from_be_bytes(head), distance, u.outpoint, i))
        })
        .collect();

    let mut selection = Selection::new(request);
    let mut last = Shortfall::Funds { needed: payment.amount };
    while let Some(Reverse((_, _, _, index))) = candidates.pop() {
        let Some(utxo) = request.utxos.get(index) else { continue };
        if utxo.entry.script_public_key != group_spk || !spendable(request, utxo) {
            continue;
        }
        if selection.inputs.len() >= usize::from(request.policy.max_inputs) {
            return Err(BuildError::TooManyInputs { limit: request.policy.max_inputs });
        }
        selection.add(utxo, request.group_script.sig_op_count());
        match selection.try_finish()? {
            Ok(template) => return Ok(template),
            Err(shortfall) => last = shortfall,
        }
    }
    Err(match last {
        Shortfall::Funds { needed } => BuildError::InsufficientFunds { available: selection.total, needed },
        Shortfall::Storage { mass } => BuildError::StorageMassTooHigh { mass },
    })
}

/// Whether `utxo` may be spent now: unreserved, deep enough, and mature if it is a coinbase.
fn spendable(request: &BuildRequest<'_>, utxo: &Utxo) -> bool {
    let depth = request.virtual_daa_score.saturating_sub(utxo.entry.block_daa_score);
    !request.reserved.contains(&utxo.outpoint)
        && request.virtual_daa_score >= utxo.entry.block_daa_score
        && depth >= request.policy.min_input_depth
        && (!utxo.entry.is_coinbase || depth >= request.policy.coinbase_maturity)
}

/// The order's seed for the request's event, epoch and round: `H(event_id ‖ epoch ‖ round)` in the
/// input-order domain.
fn order_seed(request: &BuildRequest<'_>) -> [u8; 32] {
    DomainHasher::new(Domain::InputOrder)
        .update(&request.event_id.0)
        .update(&request.epoch.to_le_bytes())
        .update(&request.round.to_le_bytes())
        .finalize()
}

/// A UTXO's order key: `BLAKE3-derive_key("igra 2026-11 output key v1", txid ‖ index u32 LE)`. It depends
/// on the outpoint only, so a snapshot's keys serve every template built from it.
pub fn output_key(outpoint: &Outpoint) -> [u8; 32] {
    DomainHasher::new(Domain::OutputKey)
        .update(&outpoint.transaction_id.0)
        .update(&outpoint.index.to_le_bytes())
        .finalize()
}

/// The [`output_key`] of each UTXO, in order: what [`BuildRequest::output_keys`] takes.
pub fn output_keys(utxos: &[Utxo]) -> Vec<[u8; 32]> {
    utxos.iter().map(|u| output_key(&u.outpoint)).collect()
}

/// `a XOR b`, byte by byte.
fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// Why the current selection does not make a template yet (more inputs may help).
#[derive(Debug, Clone, Copy)]
enum Shortfall {
    /// Not enough value.
    Funds { needed: Sompi },
    /// The outputs' storage mass is above the limit.
    Storage { mass: u64 },
}

/// The inputs chosen so far.
struct Selection<'r, 'a> {
    request: &'r BuildRequest<'a>,
    inputs: Vec<TransactionInput>,
    entries: Vec<UtxoEntry>,
    total: Sompi,
    signature_script_len: usize,
}

impl<'r, 'a> Selection<'r, 'a> {
    fn new(request: &'r BuildRequest<'a>) -> Self {
        Self {
            request,
            inputs: Vec::new(),
            entries: Vec::new(),
            total: 0,
            signature_script_len: request.group_script.signature_script_len(),
        }
    }

    fn add(&mut self, utxo: &Utxo, sig_op_count: u8) {
        self.inputs.push(TransactionInput {
            previous_outpoint: utxo.outpoint,
            signature_script: Vec::new(),
            sequence: SEQUENCE_FINAL,
            sig_op_count,
        });
        self.entries.push(utxo.entry.clone());
        self.total = self.total.saturating_add(utxo.entry.amount).min(MAX_SOMPI);
    }

    /// A template from the current inputs, a reason to add more (`Ok(Err(_))`), or a reason to stop.
    fn try_finish(&self) -> Result<Result<Template, Shortfall>, BuildError> {
        let policy = self.request.policy;
        let amount = self.request.payment.amount;
        let rate = policy.feerate(self.request.round);
        // The fee depends on the outputs' scripts, not their values: price both shapes first.
        let with_change = self.transaction(&[amount, 1]);
        let without_change = self.transaction(&[amount]);
        // The smallest shape must fit the mass and fee limits; more inputs only make it bigger.
        let fee_without = self.fee(&without_change, rate)?;
        // The shape with a change output may not fit even when the smaller one does.
        let with = self.report(&with_change)?;
        let fee_with = with.fee_mass().saturating_mul(rate);
        let with_fits = self.fee(&with_change, rate);
        let Some(left) = self.total.checked_sub(amount) else {
            return Ok(Err(Shortfall::Funds { needed: amount.saturating_add(fee_without) }));
        };
        let (pay, change, fee) = match policy.fee_mode {
            super::FeeMode::GroupPays => {
                if left >= fee_with.saturating_add(policy.min_change) {
                    with_fits?;
                    (amount, left - fee_with, fee_with)
                } else if left >= fee_without && left <= policy.max_fee {
                    // Change too small to keep: it goes to the fee.
                    (amount, 0, left)
                } else {
                    return Ok(Err(Shortfall::Funds { needed: amount.saturating_add(fee_with) }));
                }
            }
            super::FeeMode::RecipientPays => {
                if amount <= fee_without {
                    return Err(BuildError::AmountBelowFee { amount, fee: fee_without });
                }
                if left >= policy.min_change {
                    with_fits?;
                    if amount <= fee_with {
                        return Err(BuildError::AmountBelowFee { amount, fee: fee_with });
                    }
                    (amount - fee_with, left, fee_with)
                } else if fee_without.saturating_add(left) <= policy.max_fee {
                    (amount - fee_without, 0, fee_without + left)
                } else {
                    return Err(BuildError::FeeAboveCap { fee: fee_without + left, cap: policy.max_fee });
                }
            }
        };
        debug_assert!(fee <= policy.max_fee);
        let mut tx = if change > 0 { self.transaction(&[pay, change]) } else { self.transaction(&[pay]) };
        let report = self.report(&tx)?;
        if report.storage > MAX_STANDARD_STORAGE_MASS {
            return Ok(Err(Shortfall::Storage { mass: report.storage }));
        }
        tx.storage_mass = report.storage;
        Ok(Ok(Template { transaction: tx, entries: self.entries.clone() }))
    }

    /// The exact fee of `tx` at `rate`, or why it cannot be paid.
    fn fee(&self, tx: &Transaction, rate: u64) -> Result<Sompi, BuildError> {
        let policy = self.request.policy;
        let report = self.report(tx)?;
        if report.compute > policy.max_compute_mass {
            return Err(BuildError::ExceedsMass { mass: report.compute, limit: policy.max_compute_mass });
        }
        let fee = report.fee_mass().saturating_mul(rate).max(report.minimum_fee());
        if fee > policy.max_fee {
            return Err(BuildError::FeeAboveCap { fee, cap: policy.max_fee });
        }
        Ok(fee)
    }

    fn report(&self, tx: &Transaction) -> Result<MassReport, BuildError> {
        // Output values are never zero here, so the storage mass is finite; a zero would be a bug.
        final_mass(tx, &self.entries, self.signature_script_len)
            .ok_or(BuildError::StorageMassTooHigh { mass: u64::MAX })
    }

    /// The transaction with the current inputs and outputs of `values`: the payment, then change.
    fn transaction(&self, values: &[Sompi]) -> Transaction {
        let change_spk = self.request.group_script.script_public_key();
        let outputs = values
            .iter()
            .enumerate()
            .map(|(i, &value)| TransactionOutput {
                value,
                script_public_key: if i == 0 {
                    self.request.payment.destination.clone()
                } else {
                    change_spk.clone()
                },
            })
            .collect();
        Transaction {
            version: TX_VERSION,
            inputs: self.inputs.clone(),
            outputs,
            lock_time: 0,
            subnetwork_id: SubnetworkId::NATIVE,
            gas: 0,
            payload: Vec::new(),
            storage_mass: 0,
        }
    }
}
