//! A Kaspa-like ledger for the group's address: a UTXO set, a virtual DAA score, and acceptance rules.
//!
//! A submitted transaction is accepted (at once: there is no mempool yet) only if every input spends
//! an unspent, mature output of the group, carries exactly the group's `m` Schnorr signatures in key
//! order over its sighash (what `OP_CHECKMULTISIG` checks), and its fee covers the minimum relay fee of
//! its mass. The ledger knows nothing of events: whether an accepted transaction pays the right event
//! is an invariant checked on top of it (see [`crate::invariants`]).

use std::collections::BTreeMap;

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::mass::MassReport;
use igra_proto::kaspa::script::{MultisigScript, SIGNATURE_PUSH_BYTES, push_data};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{Outpoint, Transaction, UtxoEntry};
use igra_proto::template::Utxo;
use igra_proto::{SchnorrSignature, TransactionId};

/// The virtual DAA score at simulated time 0.
pub const GENESIS_DAA_SCORE: u64 = 1_000_000;
/// DAA score per simulated second (Kaspa's 10 blocks per second).
pub const DAA_PER_SECOND: u64 = 10;
/// DAA score a coinbase output waits before it can be spent.
pub const COINBASE_MATURITY: u64 = 1_000;

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// An input's outpoint was never an output the ledger knows.
    UnknownInput(Outpoint),
    /// An input was spent already, by this transaction.
    DoubleSpend {
        /// The outpoint.
        outpoint: Outpoint,
        /// The transaction that spent it.
        spent_by: TransactionId,
        /// When that transaction was accepted.
        daa_score: u64,
    },
    /// An input spends a coinbase output before its maturity.
    ImmatureCoinbase(Outpoint),
    /// An input is not locked to the group's script.
    NotTheGroups(Outpoint),
    /// An input's signature script does not satisfy the redeem script.
    BadSignatureScript {
        /// The input.
        input: usize,
    },
    /// The outputs exceed the inputs.
    Overspend,
    /// The fee is below the minimum for the transaction's mass, or the mass is not standard.
    Fee {
        /// The fee paid.
        paid: u64,
        /// The least fee accepted.
        minimum: u64,
    },
}

/// A transaction the ledger accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its id.
    pub transaction_id: TransactionId,
    /// The transaction.
    pub transaction: Transaction,
    /// The entries its inputs spent.
    pub spent: Vec<UtxoEntry>,
    /// The DAA score of acceptance.
    pub daa_score: u64,
}

/// The ledger.
#[derive(Debug)]
pub struct Ledger {
    script: MultisigScript,
    unspent: BTreeMap<Outpoint, UtxoEntry>,
    spent: BTreeMap<Outpoint, (TransactionId, u64)>,
    accepted: Vec<Accepted>,
    daa_score: u64,
}

impl Ledger {
    /// A ledger funding `script` with `pool`.
    pub fn new(script: MultisigScript, pool: &[Utxo]) -> Self {
        Self {
            script,
            unspent: pool.iter().map(|u| (u.outpoint, u.entry.clone())).collect(),
            spent: BTreeMap::new(),
            accepted: Vec::new(),
            daa_score: GENESIS_DAA_SCORE,
        }
    }

    /// The virtual DAA score.
    pub fn daa_score(&self) -> u64 {
        self.daa_score
    }

    /// Advances the virtual DAA score to simulated time `now_ms`.
    pub fn advance_to(&mut self, now_ms: u64) {
        self.daa_score = self.daa_score.max(GENESIS_DAA_SCORE + now_ms * DAA_PER_SECOND / 1000);
    }

    /// The group's unspent outputs.
    pub fn utxos(&self) -> Vec<Utxo> {
        self.unspent
            .iter()
            .map(|(outpoint, entry)| Utxo { outpoint: *outpoint, entry: entry.clone() })
            .collect()
    }

    /// Every accepted transaction, in order.
    pub fn accepted(&self) -> &[Accepted] {
        &self.accepted
    }

    /// Whether `id` was accepted.
    pub fn is_accepted(&self, id: &TransactionId) -> bool {
        self.accepted.iter().any(|a| a.transaction_id == *id)
    }

    /// The group's redeem script.
    pub fn script(&self) -> &MultisigScript {
        &self.script
    }

    /// Validates `tx`; if it is new and valid, spends its inputs and creates its outputs (outputs to the
    /// group's address join the group's UTXO set). `Ok(None)`: accepted before.
    pub fn submit(&mut self, tx: &Transaction) -> Result<Option<&Accepted>, Rejection> {
        let id = transaction_id(tx);
        if self.is_accepted(&id) {
            return Ok(None);
        }
        let spent = self.validate(tx)?;
        for input in &tx.inputs {
            self.unspent.remove(&input.previous_outpoint);
            self.spent.insert(input.previous_outpoint, (id, self.daa_score));
        }
        let group = self.script.script_public_key();
        for (index, output) in tx.outputs.iter().enumerate() {
            if output.script_public_key == group {
                let outpoint =
                    Outpoint { transaction_id: id, index: u32::try_from(index).unwrap_or(u32::MAX) };
                let entry = UtxoEntry {
                    amount: output.value,
                    script_public_key: output.script_public_key.clone(),
                    block_daa_score: self.daa_score,
                    is_coinbase: false,
                };
                self.unspent.insert(outpoint, entry);
            }
        }
        self.accepted.push(Accepted {
            transaction_id: id,
            transaction: tx.clone(),
            spent,
            daa_score: self.daa_score,
        });
        Ok(self.accepted.last())
    }

    /// Checks every consensus and standardness rule the simulator models; returns the spent entries.
    pub fn validate(&self, tx: &Transaction) -> Result<Vec<UtxoEntry>, Rejection> {
        let group = self.script.script_public_key();
        let mut entries = Vec::with_capacity(tx.inputs.len());
        for input in &tx.inputs {
            let outpoint = input.previous_outpoint;
            if let Some((spent_by, daa_score)) = self.spent.get(&outpoint) {
                return Err(Rejection::DoubleSpend { outpoint, spent_by: *spent_by, daa_score: *daa_score });
            }
            let entry = self.unspent.get(&outpoint).ok_or(Rejection::UnknownInput(outpoint))?;
            if entry.is_coinbase && self.daa_score < entry.block_daa_score + COINBASE_MATURITY {
                return Err(Rejection::ImmatureCoinbase(outpoint));
            }
            if entry.script_public_key != group {
                return Err(Rejection::NotTheGroups(outpoint));
            }
            entries.push(entry.clone());
        }
        let context = SighashContext::new(tx);
        for (index, entry) in entries.iter().enumerate() {
            if !self.signature_script_holds(&context, index, entry) {
                return Err(Rejection::BadSignatureScript { input: index });
            }
        }
        let total_in: u64 = entries.iter().map(|e| e.amount).sum();
        let total_out: u64 = tx.outputs.iter().map(|o| o.value).sum();
        let paid = total_in.checked_sub(total_out).ok_or(Rejection::Overspend)?;
        let report = MassReport::of(tx, &entries).ok_or(Rejection::Fee { paid, minimum: u64::MAX })?;
        let minimum = report.minimum_fee();
        if paid < minimum || report.check_standard().is_err() {
            return Err(Rejection::Fee { paid, minimum });
        }
        Ok(entries)
    }

    /// `OP_CHECKMULTISIG` over the fixed layout: `m` pushes of a 64-byte signature plus the
    /// `SIGHASH_ALL` byte, then the push of the redeem script; signatures match keys in key order.
    fn signature_script_holds(&self, context: &SighashContext<'_>, index: usize, entry: &UtxoEntry) -> bool {
        let Some(input) = context.transaction().inputs.get(index) else { return false };
        let m = usize::from(self.script.threshold());
        let mut redeem = Vec::new();
        push_data(&mut redeem, self.script.script());
        let script = &input.signature_script;
        if input.sig_op_count != self.script.sig_op_count()
            || script.len() != m * SIGNATURE_PUSH_BYTES + redeem.len()
            || script[m * SIGNATURE_PUSH_BYTES..] != redeem[..]
        {
            return false;
        }
        let Ok(sighash) = context.schnorr(index, entry, SigHashType::ALL) else { return false };
        let mut keys = self.script.keys().iter();
        script[..m * SIGNATURE_PUSH_BYTES].chunks_exact(SIGNATURE_PUSH_BYTES).all(|push| {
            let (Some(&65), Some(&hash_type)) = (push.first(), push.last()) else { return false };
            let Ok(bytes) = <[u8; 64]>::try_from(&push[1..65]) else { return false };
            let signature = SchnorrSignature(bytes);
            hash_type == SigHashType::ALL.byte()
                && keys.any(|key| key.verify_schnorr(&sighash, &signature).is_ok())
        })
    }
}
