//! A model-based test of one event's state machine on a 3-of-5 cluster: a random sequence of network,
//! timer, crash, restore and chain operations, with a plain reference model of what every node has shown
//! so far, checked against every node's `status()` after each operation.

use std::collections::BTreeMap;

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::tx::SOMPI_PER_KASPA;
use igra_proto::node::{ChainEvent, ChainRules, EventStatus, Input, Phase, Record};
use igra_proto::{EventId, TemplateHash, TransactionId};
use proptest::prelude::*;
use proptests::cluster::{Cluster, DAA};

const N: usize = 5;
const M: usize = 3;

/// One operation on the cluster.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Deliver the pending frame picked by the number (lost if its recipient is down).
    Deliver(usize),
    /// Lose the pending frame picked by the number.
    Drop(usize),
    /// Move the clock to the node's next deadline and fire its timer.
    Timer(usize),
    /// Crash the node (ignored if `n - m` nodes are down already).
    Crash(usize),
    /// Restart the node, if down, from its persisted records; it hears the chain's news again.
    Restore(usize),
    /// The chain accepts the submitted transaction picked by the number.
    Accept(usize),
    /// The chain's DAA score advances by this many.
    Daa(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let depth = ChainRules::default().confirm_depth;
    let finality = ChainRules::default().finality_depth;
    prop_oneof![
        12 => any::<usize>().prop_map(Op::Deliver),
        2 => any::<usize>().prop_map(Op::Drop),
        3 => (0..N).prop_map(Op::Timer),
        1 => (0..N).prop_map(Op::Crash),
        2 => (0..N).prop_map(Op::Restore),
        1 => any::<usize>().prop_map(Op::Accept),
        1 => (1..=depth).prop_map(Op::Daa),
        // A jump past finality: a confirmed event is released (and the node's log compacted).
        1 => Just(Op::Daa(finality)),
    ]
}

/// Where a phase stands on the way Voting → Signing → Submitted → Confirmed; `None` for Abandoned.
fn rank(phase: Phase) -> Option<u8> {
    match phase {
        Phase::Voting => Some(0),
        Phase::Signing => Some(1),
        Phase::Submitted { .. } => Some(2),
        Phase::Confirmed { .. } => Some(3),
        Phase::Abandoned => None,
    }
}

/// The highest round of a lock node `i` persisted for event `id`.
fn persisted_lock(c: &Cluster, i: usize, id: &EventId) -> Option<u32> {
    c.logs[i]
        .iter()
        .filter_map(|r| match r {
            Record::Lock { certificate } if certificate.vote.event_id == *id => Some(certificate.vote.round),
            _ => None,
        })
        .max()
}

/// A released event's status: confirmed by the one transaction, which the chain accepted at least
/// `confirm_depth` ago; nothing else is kept.
fn check_released(
    i: usize,
    now: &EventStatus,
    txid: Option<&TransactionId>,
    accepted: &BTreeMap<TransactionId, u64>,
    daa: u64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        now.transaction_id.as_ref(),
        txid,
        "node {} released the event with another transaction",
        i
    );
    prop_assert!(matches!(now.phase, Phase::Confirmed { .. }), "node {} released an unconfirmed event", i);
    let at = now.transaction_id.and_then(|t| accepted.get(&t).copied());
    let depth = ChainRules::default().confirm_depth;
    prop_assert!(
        at.is_some_and(|at| daa >= at + depth),
        "node {} released an event before its transaction was confirmed",
        i
    );
    prop_assert!(now.my_votes.is_empty() && now.lock.is_none() && now.signed.is_none());
    Ok(())
}

/// What one node has shown so far: the reference every later status must agree with.
#[derive(Debug, Default, Clone)]
struct Seen {
    status: Option<EventStatus>,
    /// Every vote it ever showed, by round.
    votes: BTreeMap<u32, TemplateHash>,
}

/// The reference model: the chain as the test drives it, which nodes are down, and what each node showed.
#[derive(Debug)]
struct Model {
    down: [bool; N],
    daa: u64,
    /// Transactions the chain accepted, with the DAA score of their acceptance.
    accepted: BTreeMap<TransactionId, u64>,
    /// Everything the chain reported, in order, replayed to a node that restarts.
    chain_log: Vec<ChainEvent>,
    /// The node restarted by the last operation, if any.
    restarted: Option<usize>,
    nodes: [Seen; N],
}

impl Model {
    fn new() -> Self {
        Self {
            down: [false; N],
            daa: DAA,
            accepted: BTreeMap::new(),
            chain_log: Vec::new(),
            restarted: None,
            nodes: Default::default(),
        }
    }

    fn chain(&mut self, c: &mut Cluster, news: ChainEvent) {
        self.chain_log.push(news);
        for i in (0..N).filter(|&i| !self.down[i]) {
            c.input(i, Input::Chain(news));
        }
    }

    fn apply(&mut self, c: &mut Cluster, op: Op) {
        match op {
            Op::Deliver(pick) if !c.network.is_empty() => {
                let (to, frame) = c.network.remove(pick % c.network.len()).expect("in range");
                if !self.down[to] {
                    c.input(to, Input::Frame(frame));
                }
            }
            Op::Drop(pick) if !c.network.is_empty() => {
                c.network.remove(pick % c.network.len());
            }
            Op::Timer(i) if !self.down[i] => {
                if let Some((deadline, _)) = c.nodes[i].poll_timeout() {
                    c.now = c.now.max(deadline);
                    c.input(i, Input::Timer);
                }
            }
            Op::Crash(i) if self.down.iter().filter(|d| **d).count() < N - M => self.down[i] = true,
            Op::Restore(i) if self.down[i] => {
                self.down[i] = false;
                self.restarted = Some(i);
                c.crash_and_restart(i);
                for news in self.chain_log.clone() {
                    c.input(i, Input::Chain(news));
                }
            }
            Op::Accept(pick) if !c.submitted.is_empty() => {
                let tx = c.submitted[pick % c.submitted.len()].2.clone();
                let txid = transaction_id(&tx);
                if self.accepted.contains_key(&txid) {
                    return;
                }
                self.accepted.insert(txid, self.daa);
                self.chain(c, ChainEvent::Accepted { transaction_id: txid, daa_score: self.daa });
                for input in &tx.inputs {
                    let spent = ChainEvent::Spent {
                        outpoint: input.previous_outpoint,
                        by: txid,
                        daa_score: self.daa,
                    };
                    self.chain(c, spent);
                }
            }
            Op::Daa(by) => {
                self.daa += by;
                self.chain(c, ChainEvent::DaaScore(self.daa));
            }
            _ => {}
        }
    }

    /// Checks every node's status against the model, then records it.
    fn check(&mut self, c: &Cluster, id: &EventId) -> Result<(), TestCaseError> {
        // The harness never produces a conflicting spend, so every transaction is of epoch 0 and the
        // same one.
        let txids: Vec<TransactionId> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
        prop_assert!(txids.windows(2).all(|w| w[0] == w[1]), "two different transactions: {:?}", txids);
        let confirm_depth = ChainRules::default().confirm_depth;
        for (i, seen) in self.nodes.iter_mut().enumerate() {
            let Some(now) = c.nodes[i].status(id) else {
                prop_assert!(seen.status.is_none(), "node {} forgot the event", i);
                continue;
            };
            prop_assert_eq!(now.epoch, 0, "node {}: a new epoch without a conflicting spend", i);
            if now.released {
                check_released(i, &now, txids.first(), &self.accepted, self.daa)?;
                seen.status = Some(now);
                continue;
            }
            prop_assert!(
                !seen.status.as_ref().is_some_and(|s| s.released),
                "node {} brought a released event back",
                i
            );
            // Votes: one per round, never changed, never forgotten (across restarts too).
            for &(round, hash) in &now.my_votes {
                let first = *seen.votes.entry(round).or_insert(hash);
                prop_assert_eq!(first, hash, "node {} changed its round-{} vote", i, round);
            }
            for (round, hash) in &seen.votes {
                prop_assert!(
                    now.my_votes.contains(&(*round, *hash)),
                    "node {} forgot its round-{} vote",
                    i,
                    round
                );
            }
            // Transactions: the one submitted, and confirmed only once the chain accepted it deep enough.
            if let Phase::Submitted { transaction_id } | Phase::Confirmed { transaction_id } = now.phase {
                prop_assert_eq!(
                    Some(&transaction_id),
                    txids.first(),
                    "node {} finalized another transaction",
                    i
                );
            }
            if let Phase::Confirmed { transaction_id } = now.phase {
                let at = self.accepted.get(&transaction_id);
                prop_assert!(at.is_some(), "node {} confirmed a transaction the chain never accepted", i);
                prop_assert!(
                    at.is_some_and(|at| self.daa >= at + confirm_depth),
                    "node {} confirmed too early",
                    i
                );
            }
            if let Some(before) = &seen.status {
                let restarted = self.restarted == Some(i);
                // Sign-once: a signed template never changes and is never forgotten.
                if before.signed.is_some() {
                    prop_assert_eq!(now.signed, before.signed, "node {} changed its signed template", i);
                }
                // The lock only climbs while the node runs. A restart keeps every persisted lock (a
                // `Lock` record, written whenever the lock rises) but not one whose batch was not yet
                // durable at the crash: the floor is then the persisted lock.
                let lock_round = |s: &EventStatus| s.lock.as_ref().map(|l| l.vote.round);
                let floor = if restarted { persisted_lock(c, i, id) } else { lock_round(before) };
                prop_assert!(
                    lock_round(&now) >= floor,
                    "node {}: lock {:?} after {:?} (restarted: {})",
                    i,
                    lock_round(&now),
                    lock_round(before),
                    restarted
                );
                // Phases only move forward; Abandoned only from Voting without a signature, and back to
                // Voting (revived) only in a later round. A restart loses what is not persisted (section
                // 13.4), the finalized transaction among it: Submitted falls back to Signing (with a
                // sign-once record) or Voting (without), never further; an ended event stays ended.
                match (rank(before.phase), rank(now.phase)) {
                    (Some(2), Some(n)) if restarted => prop_assert!(
                        n >= u8::from(now.signed.is_some()),
                        "node {} restored into {:?}",
                        i,
                        now.phase
                    ),
                    (Some(b), Some(n)) => {
                        prop_assert!(n >= b, "node {}: {:?} after {:?}", i, now.phase, before.phase);
                    }
                    (Some(b), None) => prop_assert!(
                        b == 0 && now.signed.is_none(),
                        "node {} abandoned from {:?}",
                        i,
                        before.phase
                    ),
                    (None, Some(n)) => prop_assert!(
                        n == 0 && now.round > before.round,
                        "node {} revived into {:?}",
                        i,
                        now.phase
                    ),
                    (None, None) => {}
                }
            }
            seen.status = Some(now);
        }
        self.restarted = None;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Proves, for any interleaving of deliveries, losses, timers, crashes (at most `n - m` nodes down),
    /// restarts, chain acceptances and DAA advances, that every node's view of the event obeys the state
    /// machine: phases only move forward (Voting → Signing → Submitted → Confirmed, Abandoned only from
    /// Voting without a signature and revived only into a later round), the epoch stays 0 without a
    /// conflicting spend, a node signs at most one template and never another, its vote per round never
    /// changes and is never forgotten, its lock round never decreases (all across restarts too), every
    /// submitted transaction is the same, and Confirmed means the chain accepted that very transaction
    /// at least `confirm_depth` ago. Once a node released the final event (its log compacted to one
    /// `Released` record, as a disk store does), it keeps only that transaction, and never takes the
    /// event back.
    #[test]
    fn every_node_follows_the_event_state_machine(ops in proptest::collection::vec(op(), 1..400)) {
        let mut c = Cluster::new(5, 3);
        let event = c.event(21, 3 * SOMPI_PER_KASPA);
        let id = event.id();
        c.input(0, Input::NewEvent(event));
        let mut model = Model::new();
        model.check(&c, &id)?;
        for op in ops {
            model.apply(&mut c, op);
            model.check(&c, &id)?;
        }
        // Node 0 took the event in: it voted in round 0 whatever happened next.
        prop_assert!(model.nodes[0].votes.contains_key(&0));
    }
}
