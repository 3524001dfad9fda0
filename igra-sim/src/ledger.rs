//! A Kaspa-like ledger for the group's address: a UTXO set, a virtual DAA score, a mempool, reorgs and
//! acceptance rules.
//!
//! A transaction is accepted only if every input spends an unspent, mature output of the group, carries
//! exactly the group's `m` Schnorr signatures in key order over its sighash (what `OP_CHECKMULTISIG`
//! checks), and its fee covers the minimum relay fee of its mass. The ledger knows nothing of events:
//! whether an accepted transaction pays the right event is an invariant checked on top of it (see
//! [`crate::invariants`]).
//!
//! [`Ledger::new`] accepts a valid submission at once. [`Ledger::with_mempool`] puts it in a mempool
//! instead: it is accepted a seeded number of DAA steps later (by [`Ledger::advance_to`], checked again
//! then: a conflicting transaction accepted first makes it a double spend), or evicted without being
//! accepted (a seeded share of entries). [`Ledger::reorg`] orphans the transactions accepted within a
//! DAA depth: their inputs are unspent again, their outputs gone, and they return to the mempool or are
//! dropped. Every such change is reported as a [`Change`], for the chain news of the nodes.

use std::collections::{BTreeMap, BTreeSet};

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::mass::MassReport;
use igra_proto::kaspa::script::{MultisigScript, SIGNATURE_PUSH_BYTES, push_data};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{Outpoint, Transaction, UtxoEntry};
use igra_proto::template::Utxo;
use igra_proto::{SchnorrSignature, TransactionId};

use crate::rng::Rng;

/// The virtual DAA score at simulated time 0.
pub const GENESIS_DAA_SCORE: u64 = 1_000_000;
/// DAA score per simulated second (Kaspa's 10 blocks per second).
pub const DAA_PER_SECOND: u64 = 10;
/// DAA score a coinbase output waits before it can be spent.
pub const COINBASE_MATURITY: u64 = 1_000;
/// The most transactions the mempool holds; more are refused ([`Rejection::MempoolFull`]).
pub const MAX_MEMPOOL: usize = 1_024;

/// How the mempool treats submissions (drawn from the seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MempoolRules {
    /// Largest number of DAA steps a transaction waits in the mempool before acceptance (at least one).
    pub delay_max_daa: u64,
    /// Entries evicted without acceptance, per thousand.
    pub evict_permille: u64,
}

/// A change of the ledger that nodes hear about as chain news.
#[derive(Debug, Clone)]
pub enum Change {
    /// A mempool entry was accepted.
    Accepted(Accepted),
    /// A mempool entry was refused when its turn came (an input was spent by then).
    Refused {
        /// The transaction.
        transaction_id: TransactionId,
        /// Why.
        rejection: Rejection,
    },
    /// A mempool entry (or an orphaned transaction) left the mempool without being accepted.
    Dropped {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// A reorg orphaned an accepted transaction.
    Orphaned {
        /// The transaction.
        transaction_id: TransactionId,
    },
}

/// A transaction waiting in the mempool.
#[derive(Debug, Clone)]
struct Entry {
    transaction_id: TransactionId,
    transaction: Transaction,
    /// The DAA score from which it is accepted (or evicted).
    due: u64,
    evict: bool,
}

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
    /// The mempool is full.
    MempoolFull,
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
    mempool: Vec<Entry>,
    rules: Option<(MempoolRules, Rng)>,
    orphaned: u64,
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
            mempool: Vec::new(),
            rules: None,
            orphaned: 0,
        }
    }

    /// A ledger with a mempool: submissions wait and may be evicted as `rules` say, drawing from `rng`.
    pub fn with_mempool(script: MultisigScript, pool: &[Utxo], rules: MempoolRules, rng: Rng) -> Self {
        Self { rules: Some((rules, rng)), ..Self::new(script, pool) }
    }

    /// The virtual DAA score.
    pub fn daa_score(&self) -> u64 {
        self.daa_score
    }

    /// Advances the virtual DAA score to simulated time `now_ms`, and settles the mempool entries that
    /// are due: accepted, refused or evicted, in submission order. Returns what changed.
    pub fn advance_to(&mut self, now_ms: u64) -> Vec<Change> {
        self.daa_score = self.daa_score.max(GENESIS_DAA_SCORE + now_ms * DAA_PER_SECOND / 1000);
        let mut changes = Vec::new();
        if !self.mempool.iter().any(|e| e.due <= self.daa_score) {
            return changes;
        }
        let (due, waiting): (Vec<Entry>, Vec<Entry>) =
            std::mem::take(&mut self.mempool).into_iter().partition(|e| e.due <= self.daa_score);
        self.mempool = waiting;
        for entry in due {
            if entry.evict {
                changes.push(Change::Dropped { transaction_id: entry.transaction_id });
                continue;
            }
            match self.validate(&entry.transaction) {
                Ok(spent) => changes.push(Change::Accepted(self.accept(&entry.transaction, spent).clone())),
                Err(rejection) => {
                    changes.push(Change::Refused { transaction_id: entry.transaction_id, rejection });
                }
            }
        }
        changes
    }

    /// A reorg: every transaction accepted less than `depth` DAA steps below the virtual DAA score is
    /// orphaned, latest first: its outputs leave the UTXO set and its inputs are unspent again. Each
    /// returns to the mempool if `requeue` (accepted again after a fresh delay), else it is dropped.
    pub fn reorg(&mut self, depth: u64, requeue: bool) -> Vec<Change> {
        let floor = self.daa_score.saturating_sub(depth);
        let keep = self.accepted.iter().position(|a| a.daa_score > floor).unwrap_or(self.accepted.len());
        let orphans = self.accepted.split_off(keep);
        let mut changes = Vec::new();
        for orphan in orphans.iter().rev() {
            let id = orphan.transaction_id;
            self.unspent.retain(|outpoint, _| outpoint.transaction_id != id);
            for (input, entry) in orphan.transaction.inputs.iter().zip(&orphan.spent) {
                self.spent.remove(&input.previous_outpoint);
                self.unspent.insert(input.previous_outpoint, entry.clone());
            }
            self.orphaned += 1;
            changes.push(Change::Orphaned { transaction_id: id });
        }
        // Parents before children, as they were accepted.
        for orphan in orphans {
            if requeue && self.enqueue(orphan.transaction_id, orphan.transaction) {
                continue;
            }
            changes.push(Change::Dropped { transaction_id: orphan.transaction_id });
        }
        changes
    }

    /// Transactions orphaned by reorgs so far.
    pub fn orphaned(&self) -> u64 {
        self.orphaned
    }

    /// Whether `id` waits in the mempool.
    pub fn in_mempool(&self, id: &TransactionId) -> bool {
        self.mempool.iter().any(|e| e.transaction_id == *id)
    }

    /// The outpoints the mempool's entries spend.
    pub fn mempool_spends(&self) -> BTreeSet<Outpoint> {
        self.mempool.iter().flat_map(|e| e.transaction.inputs.iter().map(|i| i.previous_outpoint)).collect()
    }

    /// The DAA score of `id`'s acceptance, if it is accepted.
    pub fn accepted_at(&self, id: &TransactionId) -> Option<u64> {
        self.accepted.iter().find(|a| a.transaction_id == *id).map(|a| a.daa_score)
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
    /// group's address join the group's UTXO set). `Ok(None)`: accepted before, or (with a mempool)
    /// waiting in the mempool to be settled by [`Self::advance_to`].
    ///
    /// # Errors
    /// The [`Rejection`] of an invalid transaction (checked against the accepted state now), or
    /// [`Rejection::MempoolFull`].
    pub fn submit(&mut self, tx: &Transaction) -> Result<Option<&Accepted>, Rejection> {
        let id = transaction_id(tx);
        if self.is_accepted(&id) || self.in_mempool(&id) {
            return Ok(None);
        }
        let spent = self.validate(tx)?;
        if self.rules.is_none() {
            return Ok(Some(self.accept(tx, spent)));
        }
        if self.enqueue(id, tx.clone()) { Ok(None) } else { Err(Rejection::MempoolFull) }
    }

    /// Puts `transaction` in the mempool with a seeded delay and fate; false if the mempool is full.
    fn enqueue(&mut self, transaction_id: TransactionId, transaction: Transaction) -> bool {
        if self.mempool.len() >= MAX_MEMPOOL {
            return false;
        }
        let (delay, evict) = match self.rules.as_mut() {
            Some((rules, rng)) => {
                (rng.range(1, rules.delay_max_daa.max(1)), rng.chance(rules.evict_permille))
            }
            None => (0, false),
        };
        let due = self.daa_score + delay;
        self.mempool.push(Entry { transaction_id, transaction, due, evict });
        true
    }

    /// Applies a validated `tx`: spends its inputs, creates its outputs, records the acceptance.
    fn accept(&mut self, tx: &Transaction, spent: Vec<UtxoEntry>) -> &Accepted {
        let id = transaction_id(tx);
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
        let last = self.accepted.len() - 1;
        &self.accepted[last]
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use igra_proto::Signer;
    use igra_proto::kaspa::sighash::SigHashType;
    use igra_proto::kaspa::tx::{Outpoint, Transaction};
    use igra_proto::template::{BuildRequest, Template, TemplatePolicy, Utxo, build};
    use igra_proto::{LocalSigner, MemberIndex, TransactionId};

    use super::{Change, GENESIS_DAA_SCORE, Ledger, MempoolRules, Rejection};
    use crate::fixture::{Fixture, member_signer};
    use crate::rng::Rng;
    use crate::swarm::Swarm;

    fn setup() -> (Fixture, Ledger) {
        let fixture = Fixture::new(&Swarm::small(11));
        let ledger = Ledger::new(fixture.script.clone(), &fixture.pool);
        (fixture, ledger)
    }

    fn template(f: &Fixture, event: usize, utxos: &[Utxo]) -> Template {
        build(&BuildRequest {
            event_id: f.events[event].id(),
            epoch: 0,
            round: 0,
            payment: &f.events[event].payment,
            group_script: &f.script,
            policy: &TemplatePolicy::default(),
            utxos,
            output_keys: None,
            reserved: &BTreeSet::new(),
            virtual_daa_score: GENESIS_DAA_SCORE,
        })
        .expect("the pool covers the event")
    }

    /// The template's transaction with every input signed by `signers`.
    fn signed(f: &Fixture, t: &Template, signers: &[(u8, LocalSigner)]) -> Transaction {
        let mut tx = t.transaction.clone();
        let per_signer: Vec<_> = signers
            .iter()
            .map(|(i, s)| {
                let position = f.script.position_of(&s.signing_public_key()).unwrap_or(usize::from(*i));
                (position, t.sign(s, MemberIndex(*i), &[7; 32]).unwrap())
            })
            .collect();
        for (index, input) in tx.inputs.iter_mut().enumerate() {
            let sigs: Vec<_> = per_signer.iter().map(|(p, sigs)| (*p, sigs[index].signature)).collect();
            input.signature_script = f.script.signature_script(&sigs, SigHashType::ALL).unwrap();
        }
        tx
    }

    fn members(ids: &[u8]) -> Vec<(u8, LocalSigner)> {
        ids.iter().map(|i| (*i, member_signer(*i))).collect()
    }

    #[test]
    fn a_properly_signed_transaction_is_accepted_once_and_a_double_spend_is_refused() {
        let (f, mut ledger) = setup();
        let first = signed(&f, &template(&f, 0, &f.pool), &members(&[0, 1]));
        let accepted = ledger.submit(&first).unwrap().unwrap().transaction_id;
        assert!(ledger.is_accepted(&accepted));
        assert!(ledger.submit(&first).unwrap().is_none(), "the same transaction again changes nothing");
        // Another transaction spending the same outputs (one more sompi of fee).
        let mut retry = template(&f, 0, &f.pool);
        if let Some(change) = retry.transaction.outputs.get_mut(1) {
            change.value -= 1;
        } else {
            retry.transaction.outputs[0].value -= 1;
        }
        let second = signed(&f, &retry, &members(&[1, 2]));
        assert!(matches!(
            ledger.submit(&second),
            Err(Rejection::DoubleSpend { spent_by, .. }) if spent_by == accepted
        ));
        assert_eq!(ledger.accepted().len(), 1);
    }

    #[test]
    fn a_wrong_or_missing_signature_is_refused() {
        let (f, mut ledger) = setup();
        let t = template(&f, 0, &f.pool);
        let mut tx = signed(&f, &t, &members(&[0, 1]));
        tx.inputs[0].signature_script[5] ^= 1;
        assert_eq!(ledger.submit(&tx).unwrap_err(), Rejection::BadSignatureScript { input: 0 });
        // A key outside the group.
        let outsider = signed(&f, &t, &[(0, member_signer(0)), (1, member_signer(9))]);
        assert!(matches!(ledger.submit(&outsider), Err(Rejection::BadSignatureScript { .. })));
        // Unsigned.
        assert!(matches!(ledger.submit(&t.transaction), Err(Rejection::BadSignatureScript { .. })));
        assert!(ledger.accepted().is_empty());
    }

    #[test]
    fn unknown_inputs_and_immature_coinbase_outputs_are_refused() {
        let (f, _) = setup();
        let t = template(&f, 0, &f.pool);
        let tx = signed(&f, &t, &members(&[0, 2]));
        let unfunded = Ledger::new(f.script.clone(), &[]);
        assert!(matches!(unfunded.validate(&tx), Err(Rejection::UnknownInput(_))));
        let coinbase: Vec<Utxo> = f
            .pool
            .iter()
            .cloned()
            .map(|mut u| {
                u.entry.is_coinbase = true;
                u.entry.block_daa_score = GENESIS_DAA_SCORE;
                u
            })
            .collect();
        let young = Ledger::new(f.script.clone(), &coinbase);
        assert!(matches!(young.validate(&tx), Err(Rejection::ImmatureCoinbase(_))));
        let mut other = tx.clone();
        other.inputs[0].previous_outpoint = Outpoint { transaction_id: TransactionId([9; 32]), index: 0 };
        let ledger = Ledger::new(f.script.clone(), &f.pool);
        assert!(matches!(ledger.validate(&other), Err(Rejection::UnknownInput(_))));
        assert!(ledger.validate(&tx).is_ok());
    }

    fn mempool_ledger(f: &Fixture, delay: u64, evict_permille: u64) -> Ledger {
        let rules = MempoolRules { delay_max_daa: delay, evict_permille };
        Ledger::with_mempool(f.script.clone(), &f.pool, rules, Rng::new(3))
    }

    #[test]
    fn the_mempool_accepts_later_and_evicts_what_its_rate_says() {
        let (f, _) = setup();
        let tx = signed(&f, &template(&f, 0, &f.pool), &members(&[0, 1]));
        let mut ledger = mempool_ledger(&f, 1, 0);
        assert!(ledger.submit(&tx).unwrap().is_none(), "queued, not accepted at once");
        let id = igra_proto::kaspa::hashing::transaction_id(&tx);
        assert!(ledger.in_mempool(&id) && !ledger.is_accepted(&id));
        assert!(ledger.advance_to(0).is_empty(), "not due yet");
        let changes = ledger.advance_to(100);
        assert!(matches!(changes.as_slice(), [Change::Accepted(a)] if a.transaction_id == id));
        assert!(ledger.is_accepted(&id) && !ledger.in_mempool(&id));
        // Every entry evicted: dropped, never accepted.
        let mut evicting = mempool_ledger(&f, 1, 1000);
        evicting.submit(&tx).unwrap();
        let changes = evicting.advance_to(100);
        assert!(matches!(changes.as_slice(), [Change::Dropped { transaction_id }] if *transaction_id == id));
        assert!(!evicting.is_accepted(&id) && evicting.utxos().len() == f.pool.len());
    }

    #[test]
    fn two_conflicting_entries_settle_as_one_acceptance_and_one_double_spend() {
        let (f, _) = setup();
        let first = signed(&f, &template(&f, 0, &f.pool), &members(&[0, 1]));
        let mut rival = template(&f, 0, &f.pool);
        rival.transaction.outputs[0].value -= 1;
        let second = signed(&f, &rival, &members(&[1, 2]));
        let mut ledger = mempool_ledger(&f, 1, 0);
        ledger.submit(&first).unwrap();
        ledger.submit(&second).unwrap();
        let changes = ledger.advance_to(100);
        let first_id = igra_proto::kaspa::hashing::transaction_id(&first);
        assert!(matches!(
            changes.as_slice(),
            [Change::Accepted(a), Change::Refused { rejection: Rejection::DoubleSpend { spent_by, .. }, .. }]
                if a.transaction_id == first_id && *spent_by == first_id
        ));
    }

    #[test]
    fn a_reorg_returns_the_inputs_and_unaccepts_the_transaction() {
        let (f, mut ledger) = setup();
        let before = ledger.utxos();
        let tx = signed(&f, &template(&f, 0, &f.pool), &members(&[0, 1]));
        let id = ledger.submit(&tx).unwrap().unwrap().transaction_id;
        assert_ne!(ledger.utxos(), before);
        // Too shallow: accepted at the current score, and a reorg of depth 0 reaches nothing above it.
        assert!(ledger.reorg(0, false).is_empty());
        let changes = ledger.reorg(10, false);
        assert!(matches!(
            changes.as_slice(),
            [Change::Orphaned { transaction_id: o }, Change::Dropped { transaction_id: d }] if *o == id && *d == id
        ));
        assert!(!ledger.is_accepted(&id));
        assert_eq!(ledger.utxos(), before, "inputs unspent again, the change output gone");
        assert_eq!(ledger.orphaned(), 1);
        // The same transaction is valid again; requeued, it is accepted again later.
        ledger.submit(&tx).unwrap();
        let mut queued = mempool_ledger(&f, 5, 0);
        queued.submit(&tx).unwrap();
        queued.advance_to(1_000);
        assert!(queued.is_accepted(&id));
        let changes = queued.reorg(10, true);
        assert!(matches!(changes.as_slice(), [Change::Orphaned { .. }]));
        assert!(queued.in_mempool(&id) && !queued.is_accepted(&id));
        assert!(
            matches!(queued.advance_to(2_000).as_slice(), [Change::Accepted(a)] if a.transaction_id == id)
        );
        // Deep acceptances are out of a shallow reorg's reach.
        queued.advance_to(60_000);
        assert!(queued.reorg(50, true).is_empty() && queued.is_accepted(&id));
    }
}
