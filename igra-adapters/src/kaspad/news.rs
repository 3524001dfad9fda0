//! From kaspad's `UtxosChanged` notifications to the node's [`ChainEvent`]s.
//!
//! A notification lists the group's outputs the virtual chain created (`added`) and spent (`removed`),
//! but not *which* transaction spent a removed output. The client learns spenders this way:
//!
//! 1. every added output names its creating transaction: that transaction was accepted at the output's
//!    `blockDaaScore` ([`ChainEvent::Accepted`]); the group's templates pay change to the group, so a
//!    template with change is recognised here by every member, submitter or not;
//! 2. the client remembers each transaction it submitted, and each transaction a double-spend
//!    rejection named as the spender (fetched from the node's mempool), in [`Known`]. A removed output
//!    spent by a remembered transaction whose outputs are among `added` is a [`ChainEvent::Spent`] at
//!    once;
//! 3. otherwise (a remembered transaction without change, e.g. an exact payment) the client asks the
//!    UTXO index for the remembered transaction's other outputs (its payees' addresses): an output with
//!    its id proves its acceptance and gives the DAA score. This fails only if every such output was
//!    spent again before the query;
//! 4. a removed output no remembered transaction spends is *not* guessed at here (say, the one
//!    transaction of the same notification could be the wrong one and kill a template that was in fact
//!    paid): it is returned as unresolved and the client searches the virtual chain for its accepted
//!    spender ([`super::attribution`]), as it does for a remembered spender the UTXO index does not show.
//!
//! **Reorgs.** The client notes every transaction it reports accepted (an acceptance, or the spender of
//! a spend) and every spend. Two signs show that a reported transaction `T` is no longer accepted,
//! whichever arrives first:
//!
//! - `VirtualChainChanged` removes the chain block that accepted `T` and none of the chain blocks it
//!   adds accepts `T` ([`ChainWindow`] holds the recent chain blocks' accepted ids, so it knows the
//!   accepting block whether or not `T` was reported yet); this covers a reorg whose new chain accepts
//!   a *different* spender of `T`'s inputs at once (two templates that collided on an input, say), which
//!   the UTXO diff cannot show;
//! - a `UtxosChanged` adds back an output noted as spent by `T`.
//!
//! The news is [`ChainEvent::Unaccepted`] for `T`, once; `T`'s own removed outputs are then not taken
//! for spends (they went with `T`), and an output that came back is not reported as a new acceptance of
//! its creator. If the new chain accepts `T` again, that is an ordinary acceptance.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use igra_proto::TransactionId;
use igra_proto::kaspa::tx::{Outpoint, Transaction};
use igra_proto::node::ChainEvent;

use super::wire::{BlockHash, UtxoRecord, VirtualChain};

/// Transactions remembered for spender lookups; the oldest is forgotten beyond this.
pub const MAX_KNOWN_TRANSACTIONS: usize = 8_192;
/// Reported spends and reported transactions remembered for reorg detection; the oldest is forgotten
/// beyond this (a reorg deeper than thousands of spends is beyond any finality depth).
pub const MAX_REPORTED_SPENDS: usize = 8_192;
/// Accepted transaction ids held for the recent chain blocks ([`ChainWindow`]); the oldest chain blocks
/// are forgotten beyond this (about two minutes of mainnet at 500 transactions per second).
pub const MAX_WINDOW_IDS: usize = 65_536;
/// Transactions remembered as orphaned, whose removed outputs are not spends.
pub const MAX_ORPHANED: usize = 1_024;

/// The recent chain blocks and the transactions each accepted, from `VirtualChainChanged`.
#[derive(Debug, Default)]
pub struct ChainWindow {
    blocks: HashMap<BlockHash, Vec<TransactionId>>,
    order: VecDeque<BlockHash>,
    ids: usize,
    /// Transactions a reorg took off the chain, until a chain block accepts them again.
    orphans: Recent<TransactionId>,
}

impl ChainWindow {
    /// Applies a chain change; returns the transactions that the removed chain blocks accepted and the
    /// added ones do not.
    pub fn change(&mut self, chain: &VirtualChain) -> Vec<TransactionId> {
        let re_accepted: HashSet<TransactionId> =
            chain.accepted.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
        let mut lost = Vec::new();
        for block in &chain.removed {
            let Some(ids) = self.blocks.remove(block) else { continue };
            self.order.retain(|b| b != block);
            self.ids -= ids.len();
            lost.extend(ids.into_iter().filter(|id| !re_accepted.contains(id)));
        }
        for id in &lost {
            self.orphans.insert(*id, MAX_WINDOW_IDS);
        }
        for (block, ids) in &chain.accepted {
            for id in ids {
                self.orphans.remove(id);
            }
            if self.blocks.insert(*block, ids.clone()).is_none() {
                self.order.push_back(*block);
                self.ids += ids.len();
            }
        }
        while self.ids > MAX_WINDOW_IDS {
            let Some(old) = self.order.pop_front() else { break };
            self.ids -= self.blocks.remove(&old).map_or(0, |ids| ids.len());
        }
        lost
    }

    /// Whether a reorg took `id` off the chain (and no chain block accepted it again since).
    pub fn orphaned(&self, id: &TransactionId) -> bool {
        self.orphans.contains(id)
    }

    /// Chain blocks held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A bounded map remembering insertion order (the oldest leaves first); with `V = ()`, a set. Each
/// insertion gets a generation; a place in the order whose generation is not the key's current one is
/// stale (the key was removed, or inserted again later) and is dropped without evicting anything.
#[derive(Debug)]
struct Recent<K: std::hash::Hash + Eq + Copy, V = ()> {
    live: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    next: u64,
}

impl<K: std::hash::Hash + Eq + Copy, V> Default for Recent<K, V> {
    fn default() -> Self {
        Self { live: HashMap::new(), order: VecDeque::new(), next: 0 }
    }
}

impl<K: std::hash::Hash + Eq + Copy, V> Recent<K, V> {
    /// Maps `key` to `value` (as the newest key if it was absent; in its place if present), keeping at
    /// most `bound` keys.
    fn put(&mut self, key: K, value: V, bound: usize) {
        if let Some((held, _)) = self.live.get_mut(&key) {
            *held = value;
        } else {
            self.live.insert(key, (value, self.next));
            self.order.push_back((key, self.next));
            self.next += 1;
        }
        while self.live.len() > bound {
            let Some((old, generation)) = self.order.pop_front() else { break };
            if self.is_current(&old, generation) {
                self.live.remove(&old);
            }
        }
        while self.order.front().is_some_and(|(k, g)| !self.is_current(k, *g)) {
            self.order.pop_front();
        }
        if self.order.len() > 2 * bound.max(1) {
            let live = &self.live;
            self.order.retain(|(k, g)| live.get(k).is_some_and(|(_, at)| at == g));
        }
    }

    fn is_current(&self, key: &K, generation: u64) -> bool {
        self.live.get(key).is_some_and(|(_, at)| *at == generation)
    }

    /// Removes `key`, returning its value; its place in the order is dropped lazily.
    fn take(&mut self, key: &K) -> Option<V> {
        self.live.remove(key).map(|(value, _)| value)
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.live.get(key).map(|(value, _)| value)
    }

    fn contains(&self, key: &K) -> bool {
        self.live.contains_key(key)
    }

    /// The entries, oldest first.
    fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order.iter().filter(|(k, g)| self.is_current(k, *g)).filter_map(|(k, _)| Some((k, self.get(k)?)))
    }
}

impl<K: std::hash::Hash + Eq + Copy> Recent<K> {
    fn insert(&mut self, key: K, bound: usize) {
        self.put(key, (), bound);
    }

    fn remove(&mut self, key: &K) -> bool {
        self.take(key).is_some()
    }
}

/// Transactions the client knows the inputs of.
#[derive(Debug, Default)]
pub struct Known {
    transactions: HashMap<TransactionId, Transaction>,
    order: VecDeque<TransactionId>,
    spenders: HashMap<Outpoint, Vec<TransactionId>>,
    /// The spends reported to the node, by output.
    reported: Recent<Outpoint, TransactionId>,
    /// The transactions reported accepted to the node (an acceptance or a spend).
    accepted: Recent<TransactionId>,
    /// Transactions reported unaccepted, until accepted again.
    orphaned: Recent<TransactionId>,
    /// The recent chain blocks' accepted transactions.
    pub window: ChainWindow,
    /// The group's outputs as of the last snapshot and the notifications since (`None` before the
    /// first snapshot).
    outputs: Option<HashSet<Outpoint>>,
}

impl Known {
    /// Remembers `tx` (id `id`), forgetting the oldest beyond [`MAX_KNOWN_TRANSACTIONS`].
    pub fn remember(&mut self, id: TransactionId, tx: Transaction) {
        if self.transactions.contains_key(&id) {
            return;
        }
        for input in &tx.inputs {
            self.spenders.entry(input.previous_outpoint).or_default().push(id);
        }
        self.transactions.insert(id, tx);
        self.order.push_back(id);
        while self.order.len() > MAX_KNOWN_TRANSACTIONS {
            let Some(old) = self.order.pop_front() else { break };
            let Some(tx) = self.transactions.remove(&old) else { continue };
            for input in &tx.inputs {
                if let Some(ids) = self.spenders.get_mut(&input.previous_outpoint) {
                    ids.retain(|i| *i != old);
                    if ids.is_empty() {
                        self.spenders.remove(&input.previous_outpoint);
                    }
                }
            }
        }
    }

    /// Whether `outpoint` was created by a transaction a reorg took off the chain (so its removal was
    /// not a spend).
    pub fn gone_with_orphan(&self, outpoint: &Outpoint) -> bool {
        self.orphaned.contains(&outpoint.transaction_id) || self.window.orphaned(&outpoint.transaction_id)
    }

    /// Whether a snapshot set the known outputs yet.
    pub fn has_outputs(&self) -> bool {
        self.outputs.is_some()
    }

    /// A snapshot of the group's outputs: becomes the known set; returns the outputs the known set held
    /// that the snapshot lacks (spent while the client was not listening), in order.
    pub fn snapshot(&mut self, outputs: impl IntoIterator<Item = Outpoint>) -> Vec<Outpoint> {
        let now: HashSet<Outpoint> = outputs.into_iter().collect();
        let mut gone: Vec<Outpoint> =
            self.outputs.take().map(|before| before.difference(&now).copied().collect()).unwrap_or_default();
        gone.sort_unstable();
        self.outputs = Some(now);
        gone
    }

    /// The outputs `ids` spent, as far as the client knows: the inputs of its remembered transactions
    /// and the spends it reported; in order, once each.
    pub fn inputs_of(&self, ids: &[TransactionId]) -> Vec<Outpoint> {
        let mut inputs: Vec<Outpoint> = ids
            .iter()
            .filter_map(|id| self.transactions.get(id))
            .flat_map(|tx| tx.inputs.iter().map(|i| i.previous_outpoint))
            .chain(self.reported.iter().filter(|(_, by)| ids.contains(by)).map(|(o, _)| *o))
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        inputs
    }

    /// Notes that `id` was reported accepted (it is no longer orphaned).
    pub fn note_accepted(&mut self, id: TransactionId) {
        self.accepted.insert(id, MAX_REPORTED_SPENDS);
        self.orphaned.remove(&id);
    }

    /// Takes `id` out of the reported acceptances if it is there, remembering it as orphaned; whether
    /// it was (the node is then told it is [`ChainEvent::Unaccepted`]).
    pub fn orphan(&mut self, id: TransactionId) -> bool {
        if !self.accepted.remove(&id) {
            return false;
        }
        self.orphaned.insert(id, MAX_ORPHANED);
        true
    }

    /// Notes that `outpoint` was reported spent by `by`: should a reorg bring `outpoint` back, `by`
    /// is no longer accepted.
    pub fn note_spent(&mut self, outpoint: Outpoint, by: TransactionId) {
        self.note_accepted(by);
        self.reported.put(outpoint, by, MAX_REPORTED_SPENDS);
    }

    /// The remembered transaction `id`.
    pub fn get(&self, id: &TransactionId) -> Option<&Transaction> {
        self.transactions.get(id)
    }

    /// How many transactions are remembered.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The remembered transactions spending `outpoint`.
    pub fn spenders_of(&self, outpoint: &Outpoint) -> &[TransactionId] {
        self.spenders.get(outpoint).map_or(&[], Vec::as_slice)
    }
}

/// What one notification tells, and what remains to be found out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// News for the node, in order.
    pub news: Vec<ChainEvent>,
    /// Remembered transactions whose acceptance must be checked against the UTXO index, with the
    /// removed outputs they would have spent.
    pub verify: BTreeMap<TransactionId, Vec<Outpoint>>,
    /// Removed outputs with no known spender.
    pub unresolved: Vec<Outpoint>,
}

/// Resolves one `UtxosChanged` notification against `known` (which forgets the spends a reorg undid).
pub fn resolve(known: &mut Known, added: &[UtxoRecord], removed: &[UtxoRecord]) -> Resolution {
    let mut accepted: BTreeMap<TransactionId, u64> = BTreeMap::new();
    let mut out = Resolution::default();
    if let Some(outputs) = &mut known.outputs {
        outputs.extend(added.iter().map(|r| r.utxo.outpoint));
        for record in removed {
            outputs.remove(&record.utxo.outpoint);
        }
    }
    // Outputs back from a reorg: their reported spender is no longer accepted.
    let mut unaccepted: BTreeSet<TransactionId> = BTreeSet::new();
    let mut back: HashSet<Outpoint> = HashSet::new();
    for record in added {
        let outpoint = record.utxo.outpoint;
        if let Some(by) = known.reported.take(&outpoint) {
            unaccepted.insert(by);
            back.insert(outpoint);
        }
    }
    // A reported spend of an output an orphan created went with it: its spender is orphaned too (a
    // payment spending an orphaned payment's change; that change never shows in the diff).
    loop {
        let more: Vec<TransactionId> = known
            .reported
            .iter()
            .filter(|(o, by)| unaccepted.contains(&o.transaction_id) && !unaccepted.contains(*by))
            .map(|(_, by)| *by)
            .collect();
        if more.is_empty() {
            break;
        }
        unaccepted.extend(more);
    }
    // Once only: `VirtualChainChanged` may have told already.
    unaccepted.retain(|&id| known.orphan(id));
    out.news.extend(unaccepted.iter().map(|&transaction_id| ChainEvent::Unaccepted { transaction_id }));
    for record in added {
        if back.contains(&record.utxo.outpoint) {
            continue;
        }
        let id = record.utxo.outpoint.transaction_id;
        if known.window.orphaned(&id) {
            // A diff that kaspad's UTXO index sent after the chain change that took its transaction
            // off the chain (the chain change does not wait for the index): stale. If a chain block
            // accepts the transaction again, that change's own diff tells.
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = accepted.entry(id) {
            slot.insert(record.utxo.entry.block_daa_score);
            out.news.push(ChainEvent::Accepted {
                transaction_id: id,
                daa_score: record.utxo.entry.block_daa_score,
            });
        }
    }
    for record in removed {
        let outpoint = record.utxo.outpoint;
        if known.gone_with_orphan(&outpoint) {
            // Created by an orphaned transaction: gone with it, not spent.
            continue;
        }
        let candidates = known.spenders_of(&outpoint);
        if let Some((&by, &daa_score)) = candidates.iter().find_map(|id| accepted.get_key_value(id)) {
            out.news.push(ChainEvent::Spent { outpoint, by, daa_score });
        } else if candidates.is_empty() {
            out.unresolved.push(outpoint);
        } else {
            for id in candidates {
                out.verify.entry(*id).or_default().push(outpoint);
            }
        }
    }
    out
}

/// What a chain change took off the chain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Orphaned {
    /// The reported transactions it orphaned (each once): to be told [`ChainEvent::Unaccepted`].
    pub unaccepted: Vec<TransactionId>,
    /// The group outputs that orphaned transactions the client knows of spent (its own submissions,
    /// spenders it reported): if the new chain does not give them back, another transaction spent
    /// them, and the chain must be searched for it.
    pub inputs: Vec<Outpoint>,
}

/// A `VirtualChainChanged`: the transactions it orphaned.
pub fn chain_changed(known: &mut Known, chain: &VirtualChain) -> Orphaned {
    let mut lost = known.window.change(chain);
    lost.sort_unstable();
    lost.dedup();
    let inputs = known.inputs_of(&lost);
    lost.retain(|&id| known.orphan(id));
    Orphaned { unaccepted: lost, inputs }
}

/// The news once `id` is found accepted at `daa_score`: its acceptance, then each output it spent.
pub fn verified(id: TransactionId, daa_score: u64, spent: &[Outpoint]) -> Vec<ChainEvent> {
    std::iter::once(ChainEvent::Accepted { transaction_id: id, daa_score })
        .chain(spent.iter().map(|&outpoint| ChainEvent::Spent { outpoint, by: id, daa_score }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use igra_proto::kaspa::tx::{ScriptPublicKey, SubnetworkId, TransactionInput, UtxoEntry};
    use igra_proto::template::Utxo;

    fn txid(b: u8) -> TransactionId {
        TransactionId([b; 32])
    }

    fn op(b: u8, index: u32) -> Outpoint {
        Outpoint { transaction_id: txid(b), index }
    }

    fn record(outpoint: Outpoint, daa: u64) -> UtxoRecord {
        let entry = UtxoEntry {
            amount: 1,
            script_public_key: ScriptPublicKey { version: 0, script: vec![] },
            block_daa_score: daa,
            is_coinbase: false,
        };
        UtxoRecord { address: None, utxo: Utxo { outpoint, entry } }
    }

    fn spending(outpoints: &[Outpoint]) -> Transaction {
        Transaction {
            version: 0,
            inputs: outpoints
                .iter()
                .map(|&previous_outpoint| TransactionInput {
                    previous_outpoint,
                    signature_script: vec![],
                    sequence: 0,
                    sig_op_count: 1,
                })
                .collect(),
            outputs: vec![],
            lock_time: 0,
            subnetwork_id: SubnetworkId::NATIVE,
            gas: 0,
            payload: vec![],
            storage_mass: 0,
        }
    }

    #[test]
    fn change_names_the_spender_of_remembered_inputs() {
        let mut known = Known::default();
        known.remember(txid(7), spending(&[op(1, 0), op(1, 1)]));
        let r = resolve(&mut known, &[record(op(7, 1), 50)], &[record(op(1, 0), 3), record(op(1, 1), 3)]);
        assert_eq!(
            r.news,
            vec![
                ChainEvent::Accepted { transaction_id: txid(7), daa_score: 50 },
                ChainEvent::Spent { outpoint: op(1, 0), by: txid(7), daa_score: 50 },
                ChainEvent::Spent { outpoint: op(1, 1), by: txid(7), daa_score: 50 },
            ]
        );
        assert!(r.verify.is_empty() && r.unresolved.is_empty());
    }

    #[test]
    fn no_change_asks_for_verification_and_strangers_stay_unresolved() {
        let mut known = Known::default();
        known.remember(txid(7), spending(&[op(1, 0)]));
        // Another transaction's change in the same notification must not be taken for the spender.
        let r = resolve(&mut known, &[record(op(9, 1), 50)], &[record(op(1, 0), 3), record(op(2, 0), 3)]);
        assert_eq!(r.news, vec![ChainEvent::Accepted { transaction_id: txid(9), daa_score: 50 }]);
        assert_eq!(r.verify.get(&txid(7)), Some(&vec![op(1, 0)]));
        assert_eq!(r.unresolved, vec![op(2, 0)]);
        assert_eq!(
            verified(txid(7), 60, &[op(1, 0)]),
            vec![
                ChainEvent::Accepted { transaction_id: txid(7), daa_score: 60 },
                ChainEvent::Spent { outpoint: op(1, 0), by: txid(7), daa_score: 60 },
            ]
        );
    }

    #[test]
    fn a_reorg_that_brings_a_spent_output_back_unaccepts_its_spender() {
        let mut known = Known::default();
        known.remember(txid(7), spending(&[op(1, 0), op(1, 1)]));
        let r = resolve(&mut known, &[record(op(7, 1), 50)], &[record(op(1, 0), 3), record(op(1, 1), 3)]);
        for event in &r.news {
            if let ChainEvent::Spent { outpoint, by, .. } = event {
                known.note_spent(*outpoint, *by);
            }
        }
        // The chain block that accepted 7 is orphaned: its inputs come back (with their own creator's
        // entries), its change goes; a stranger's output added in the same notification is news.
        let r = resolve(
            &mut known,
            &[record(op(1, 0), 3), record(op(1, 1), 3), record(op(8, 0), 55)],
            &[record(op(7, 1), 50)],
        );
        assert_eq!(
            r.news,
            vec![
                ChainEvent::Unaccepted { transaction_id: txid(7) },
                ChainEvent::Accepted { transaction_id: txid(8), daa_score: 55 },
            ]
        );
        assert!(r.verify.is_empty() && r.unresolved.is_empty(), "the change went with 7: {r:?}");
        // Accepted again by the new chain: an ordinary acceptance.
        let again = resolve(&mut known, &[record(op(7, 1), 58)], &[record(op(1, 0), 3), record(op(1, 1), 3)]);
        assert_eq!(again.news[0], ChainEvent::Accepted { transaction_id: txid(7), daa_score: 58 });
        assert_eq!(again.news.len(), 3);
        // An output that comes back without a noted spend is only an acceptance of its creator.
        let plain = resolve(&mut known, &[record(op(1, 0), 3)], &[]);
        assert_eq!(plain.news, vec![ChainEvent::Accepted { transaction_id: txid(1), daa_score: 3 }]);
    }

    #[test]
    fn a_chain_of_orphaned_payments_is_unaccepted_whole() {
        // 7 spends the group's (1, 0) with change (7, 1); 8 spends that change with change (8, 0).
        let mut known = Known::default();
        known.remember(txid(7), spending(&[op(1, 0)]));
        known.remember(txid(8), spending(&[op(7, 1)]));
        for (outpoint, by) in [(op(1, 0), txid(7)), (op(7, 1), txid(8))] {
            known.note_spent(outpoint, by);
        }
        // Both orphaned: (1, 0) comes back, 8's change goes; 7's change was made and spent on the
        // orphaned side, so it is in neither list.
        let r = resolve(&mut known, &[record(op(1, 0), 3)], &[record(op(8, 0), 60)]);
        assert_eq!(
            r.news,
            vec![
                ChainEvent::Unaccepted { transaction_id: txid(7) },
                ChainEvent::Unaccepted { transaction_id: txid(8) },
            ]
        );
        assert!(r.unresolved.is_empty() && r.verify.is_empty(), "8's change went with 8: {r:?}");
    }

    /// 32 bytes: `i` (little endian) in the first eight, `fill` in the rest.
    fn numbered(i: usize, fill: u8) -> [u8; 32] {
        let mut bytes = [fill; 32];
        bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
        bytes
    }

    fn hash(b: u8) -> BlockHash {
        BlockHash([b; 32])
    }

    #[test]
    fn a_chain_change_orphans_reported_transactions_its_new_chain_does_not_accept() {
        let mut known = Known::default();
        let grow = |blocks: &[(u8, &[u8])]| VirtualChain {
            removed: Vec::new(),
            added: blocks.iter().map(|(b, _)| hash(*b)).collect(),
            accepted: blocks
                .iter()
                .map(|(b, ids)| (hash(*b), ids.iter().map(|i| txid(*i)).collect()))
                .collect(),
        };
        // Block 1 accepts 7 (ours, reported later: the chain change comes before the UTXO change), 8
        // (reported) and 9 (never reported); block 2 accepts 5.
        assert_eq!(chain_changed(&mut known, &grow(&[(1, &[7, 8, 9]), (2, &[5])])), Orphaned::default());
        known.note_accepted(txid(7));
        known.note_spent(op(1, 0), txid(8));
        assert_eq!(known.window.len(), 2);
        // A reorg removes both; the new chain accepts 8 and 5 again, not 7 or 9.
        let reorg = VirtualChain {
            removed: vec![hash(2), hash(1)],
            added: vec![hash(3)],
            accepted: vec![(hash(3), vec![txid(8), txid(5), txid(6)])],
        };
        assert_eq!(chain_changed(&mut known, &reorg).unaccepted, vec![txid(7)]);
        assert_eq!(known.window.len(), 1);
        // Off the chain now, reported or not; 8 was accepted again.
        assert!(known.window.orphaned(&txid(7)) && known.window.orphaned(&txid(9)));
        assert!(!known.window.orphaned(&txid(8)));
        // Told once: the UTXO diff of the same reorg (its input back) says nothing more.
        let r = resolve(&mut known, &[], &[record(op(7, 0), 50)]);
        assert!(r.news.is_empty() && r.unresolved.is_empty(), "7's output went with it: {r:?}");
        // A stale diff (sent by the index before it saw the reorg, heard after the chain change) that
        // still shows 7's output added: not believed while 7 is off the chain.
        let stale = resolve(&mut known, &[record(op(7, 0), 50)], &[]);
        assert!(stale.news.is_empty(), "{stale:?}");
        // Accepted again later (the chain change first, then its diff): an ordinary acceptance, and
        // orphaned again by a later reorg.
        assert_eq!(chain_changed(&mut known, &grow(&[(4, &[7])])), Orphaned::default());
        assert!(!known.window.orphaned(&txid(7)), "on the chain again");
        let again = resolve(&mut known, &[record(op(7, 0), 70)], &[]);
        assert_eq!(again.news, vec![ChainEvent::Accepted { transaction_id: txid(7), daa_score: 70 }]);
        known.note_accepted(txid(7));
        let reorg = VirtualChain { removed: vec![hash(4)], added: vec![], accepted: vec![] };
        assert_eq!(chain_changed(&mut known, &reorg).unaccepted, vec![txid(7)]);
    }

    #[test]
    fn a_diff_heard_after_the_reorg_that_orphaned_its_transaction_is_not_believed() {
        // kaspad sends a chain change before the UTXO diff of the same virtual change (the index
        // processes the diff first). Block 1 accepts 7 (spending (1, 0), change (7, 1)); a reorg
        // replaces block 1 by block 2, accepting 8 instead, which spends (1, 0) too; only then does
        // block 1's diff arrive. 7 must not be reported; the search for (1, 0) must be asked for.
        let mut known = Known::default();
        known.remember(txid(7), spending(&[op(1, 0)]));
        let grow =
            VirtualChain { removed: vec![], added: vec![hash(1)], accepted: vec![(hash(1), vec![txid(7)])] };
        assert_eq!(chain_changed(&mut known, &grow), Orphaned::default());
        let reorg = VirtualChain {
            removed: vec![hash(1)],
            added: vec![hash(2)],
            accepted: vec![(hash(2), vec![txid(8)])],
        };
        assert_eq!(
            chain_changed(&mut known, &reorg),
            Orphaned { unaccepted: vec![], inputs: vec![op(1, 0)] },
            "never reported, but its input must be looked at"
        );
        let late = resolve(&mut known, &[record(op(7, 1), 50)], &[record(op(1, 0), 3)]);
        assert!(late.news.is_empty(), "nothing about 7: {late:?}");
        assert_eq!(
            late.verify.get(&txid(7)),
            Some(&vec![op(1, 0)]),
            "its input is checked, not taken as spent by 7"
        );
        // The reorg's own diff: 7's change goes (with 7), 8 spends (1, 0) without change of its own.
        let own = resolve(&mut known, &[], &[record(op(7, 1), 50)]);
        assert!(own.news.is_empty() && own.unresolved.is_empty(), "{own:?}");
    }

    #[test]
    fn the_chain_window_is_bounded_by_ids() {
        let mut window = ChainWindow::default();
        let per_block = 1_000;
        for b in 0..=(MAX_WINDOW_IDS / per_block) {
            let h = numbered(b, 0);
            let ids = (0..per_block).map(|i| TransactionId([u8::try_from(i % 251).unwrap(); 32])).collect();
            window.change(&VirtualChain {
                removed: vec![],
                added: vec![BlockHash(h)],
                accepted: vec![(BlockHash(h), ids)],
            });
        }
        assert!(window.ids <= MAX_WINDOW_IDS, "{} ids held", window.ids);
        assert_eq!(window.len(), MAX_WINDOW_IDS / per_block);
    }

    #[test]
    fn a_snapshot_after_a_gap_names_the_outputs_spent_meanwhile() {
        let mut known = Known::default();
        assert!(known.snapshot([op(1, 0), op(2, 0)]).is_empty(), "nothing known before the first");
        // Heard while listening: (1, 0) spent, (3, 0) created.
        let _ = resolve(&mut known, &[record(op(3, 0), 9)], &[record(op(1, 0), 3)]);
        // Away: (2, 0) and (3, 0) spent, (4, 0) created.
        assert_eq!(known.snapshot([op(4, 0)]), vec![op(2, 0), op(3, 0)]);
        assert!(known.snapshot([op(4, 0)]).is_empty());
    }

    #[test]
    fn a_recent_set_keeps_its_newest_values_whatever_was_removed() {
        let mut recent = Recent::default();
        recent.insert(0u8, 3);
        recent.insert(1, 3);
        assert!(recent.remove(&1));
        recent.insert(2, 3);
        recent.insert(3, 3);
        recent.insert(1, 3);
        // Live: 0, 2, 3, 1 over a bound of 3: the oldest live value (0) goes, the newest stay.
        assert!(!recent.contains(&0));
        assert!(recent.contains(&1) && recent.contains(&2) && recent.contains(&3));
        // Removals leave stale places, which never make the order outgrow twice the bound.
        for v in 10..200u8 {
            recent.insert(v, 3);
            recent.remove(&v);
            assert!(recent.order.len() <= 6 && recent.live.len() <= 3);
        }
        // Every live value keeps its place (so it can still be evicted).
        let placed = recent.order.iter().filter(|(v, g)| recent.is_current(v, *g)).count();
        assert_eq!(placed, recent.live.len());
    }

    #[test]
    fn the_reported_spends_are_bounded() {
        let mut known = Known::default();
        for i in 0..=MAX_REPORTED_SPENDS {
            known.note_spent(Outpoint { transaction_id: TransactionId(numbered(i, 2)), index: 0 }, txid(9));
        }
        assert_eq!(
            (known.reported.live.len(), known.reported.order.len()),
            (MAX_REPORTED_SPENDS, MAX_REPORTED_SPENDS)
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let mut known = Known::default();
        for i in 0..=MAX_KNOWN_TRANSACTIONS {
            known.remember(
                TransactionId(numbered(i, 0)),
                spending(&[Outpoint { transaction_id: TransactionId(numbered(i, 1)), index: 0 }]),
            );
        }
        assert_eq!(known.len(), MAX_KNOWN_TRANSACTIONS);
        assert!(known.get(&TransactionId([0; 32])).is_none());
        assert_eq!(known.spenders.len(), MAX_KNOWN_TRANSACTIONS);
    }
}
