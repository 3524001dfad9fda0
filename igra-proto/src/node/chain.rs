//! Ending an event: what the chain says about submitted transactions and the group's outputs.
//!
//! * **Confirmed**: a transaction of one of the event's templates (this node's own, or any other it
//!   validated: transaction ids do not cover signatures, so a template's id is its transaction's) was
//!   accepted at DAA score `a` and the virtual DAA score has reached `a + confirm_depth` (DAA score
//!   against DAA score). Acceptance is recognized before this node finalizes, too.
//! * **Dead**: an input of the signed template was spent by a *different* transaction accepted at `a`,
//!   and the virtual DAA score has reached `a + finality_depth`, while no template of the event is known
//!   to have paid it. The signed template can then never
//!   confirm, so the event starts over in epoch `e + 1` from round 0: the only way a signer ever signs a
//!   second template for one event.
//! * **Dropped**: a submitted transaction left the mempool without a conflicting spend: it is submitted
//!   again.
//! * **Unaccepted**: a reorg orphaned an accepted transaction. A payment it made is forgotten (the event
//!   waits again and is not confirmed by it; this node resubmits its finalized transaction), and a
//!   conflicting spend it made no longer counts towards a dead template. A reorg never starts a new
//!   epoch: only a conflicting spend at `finality_depth` does.

use alloc::vec::Vec;

use super::{ChainRequest, Ending, EventUpdate, Node, Output, Phase, Record};
use crate::ids::{EventId, TemplateHash, TransactionId};
use crate::kaspa::tx::Outpoint;
use crate::time::{Instant, UnixMs};

/// Accepted transactions remembered for templates learned late.
const MAX_REMEMBERED_ACCEPTANCES: usize = 4096;

/// What the chain reports to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEvent {
    /// The virtual DAA score advanced.
    DaaScore(u64),
    /// A transaction was accepted at `daa_score`.
    Accepted {
        /// The transaction.
        transaction_id: TransactionId,
        /// The DAA score of its acceptance.
        daa_score: u64,
    },
    /// An output of the group was spent by `by`, accepted at `daa_score`.
    Spent {
        /// The output.
        outpoint: Outpoint,
        /// The spending transaction.
        by: TransactionId,
        /// The DAA score of its acceptance.
        daa_score: u64,
    },
    /// A submitted transaction left the mempool without being accepted.
    Dropped {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// A reorg orphaned an accepted transaction: it is no longer accepted (it may be again later), and
    /// the outputs it spent are unspent again.
    Unaccepted {
        /// The transaction.
        transaction_id: TransactionId,
    },
}

/// The depths that end an event, in DAA score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainRules {
    /// Depth at which an accepted transaction counts as confirmed.
    pub confirm_depth: u64,
    /// Depth at which a conflicting spend is final and the signed template dead.
    pub finality_depth: u64,
}

impl ChainRules {
    /// The default confirmation depth: 10 s at 10 blocks per second.
    pub const DEFAULT_CONFIRM_DEPTH: u64 = 100;
    /// The default finality depth of a conflicting spend: about 3 min at 10 blocks per second.
    pub const DEFAULT_FINALITY_DEPTH: u64 = 2_000;
}

impl Default for ChainRules {
    fn default() -> Self {
        Self { confirm_depth: Self::DEFAULT_CONFIRM_DEPTH, finality_depth: Self::DEFAULT_FINALITY_DEPTH }
    }
}

impl Node {
    pub(super) fn on_chain(&mut self, now: Instant, wall: UnixMs, event: ChainEvent) {
        match event {
            ChainEvent::DaaScore(score) => self.virtual_daa_score = self.virtual_daa_score.max(score),
            ChainEvent::Accepted { transaction_id, daa_score } => {
                self.remember_accepted(transaction_id, daa_score);
                for state in self.events.values_mut() {
                    if state.pays_event(transaction_id) {
                        state.paid(transaction_id, daa_score);
                    }
                }
            }
            ChainEvent::Spent { outpoint, by, daa_score } => {
                self.remember_accepted(by, daa_score);
                // The snapshot may predate the spend: never offer a spent output to a template again
                // (the event that reserved it may end before the next snapshot arrives).
                if let Some(view) = &mut self.utxos {
                    view.remove(&outpoint);
                }
                self.remember_spent(outpoint, by, daa_score);
                let mut conflicts = Vec::new();
                for (id, state) in &mut self.events {
                    // A spend by one of this event's own templates is its payment, however this node
                    // learned of it (its id does not depend on signatures, so finalizing is not needed).
                    if state.pays_event(by) {
                        state.paid(by, daa_score);
                    } else if state.signed_spends(&outpoint)
                        && state.conflicts.insert(outpoint, (by, daa_score)) != Some((by, daa_score))
                    {
                        conflicts.push(Record::Conflict {
                            event_id: *id,
                            epoch: state.epoch,
                            outpoint,
                            by,
                            daa_score,
                        });
                    }
                }
                if !conflicts.is_empty() {
                    self.persist(conflicts);
                }
            }
            ChainEvent::Dropped { transaction_id } => {
                let resubmit: Vec<_> = self
                    .events
                    .iter()
                    .filter(|(_, e)| e.transaction_id() == Some(transaction_id) && e.accepted_at.is_none())
                    .filter_map(|(id, e)| Some((*id, e.transaction.as_ref()?.1.clone())))
                    .collect();
                for (event_id, transaction) in resubmit {
                    self.outputs.push_back(Output::Chain(ChainRequest::Submit { event_id, transaction }));
                }
            }
            ChainEvent::Unaccepted { transaction_id } => self.on_unaccepted(transaction_id),
        }
        self.settle(now, wall);
    }

    /// Ends what the chain has decided: confirmations and dead templates.
    fn settle(&mut self, now: Instant, wall: UnixMs) {
        let score = self.virtual_daa_score;
        let rules = self.config.chain;
        let mut confirmed = Vec::new();
        let mut dead = Vec::new();
        for (id, state) in &self.events {
            if matches!(state.phase, Phase::Confirmed { .. } | Phase::Abandoned) {
                continue;
            }
            if let (Some(at), Some(tx)) = (state.accepted_at, state.paid_by)
                && score >= at.saturating_add(rules.confirm_depth)
            {
                confirmed.push((*id, tx));
            } else if let (Some(at), Some(hash), None) = (state.conflict_at(), state.signed, state.paid_by)
                && score >= at.saturating_add(rules.finality_depth)
            {
                // Only while the event is not known to be paid: a payment by any of its templates
                // ends it; a conflicting spend by anything else kills the signed template.
                dead.push((*id, hash));
            }
        }
        for (id, transaction_id) in confirmed {
            let Some(state) = self.events.get_mut(&id) else { continue };
            state.phase = Phase::Confirmed { transaction_id };
            state.deadline = None;
            let epoch = state.epoch;
            self.reservations.retain(|_, owner| *owner != id);
            self.persist(alloc::vec![Record::Ended {
                event_id: id,
                epoch,
                outcome: Ending::Confirmed { transaction_id }
            }]);
            self.notify(EventUpdate::Confirmed { event_id: id, transaction_id });
        }
        self.release_confirmed(
            score.saturating_sub(rules.confirm_depth.saturating_add(rules.finality_depth)),
        );
        for (id, template_hash) in dead {
            let Some(state) = self.events.get_mut(&id) else { continue };
            let epoch = state.epoch;
            state.start_epoch(epoch + 1, now.plus_millis(self.config.timing.round_timeout(0)));
            self.reservations.retain(|_, owner| *owner != id);
            self.persist(alloc::vec![Record::Ended {
                event_id: id,
                epoch,
                outcome: Ending::Dead { template_hash }
            }]);
            self.notify(EventUpdate::Dead { event_id: id, epoch, template_hash });
            // The snapshot that built the dead template is stale: ask for a fresh one, then vote.
            self.utxos = None;
            self.vote_in_round(now, wall, id, 0);
        }
    }

    /// Releases the full state of every event confirmed by an acceptance at or below `accepted_by`
    /// (`None`: every confirmed event), keeping an [`Ended`](super::event_state::Ended) summary and persisting a
    /// [`Record::Released`] for each (after which a store may drop the event's other records). Released
    /// at `confirm_depth + finality_depth` past its acceptance, an event is beyond any reorg the chain
    /// model allows, and peers that lagged have had that long to catch up from this node's state.
    pub(super) fn release_confirmed(&mut self, accepted_by: impl Into<Option<u64>>) {
        let limit = accepted_by.into();
        let done: Vec<EventId> = self
            .events
            .iter()
            .filter(|(_, e)| matches!(e.phase, Phase::Confirmed { .. }))
            .filter(|(_, e)| limit.is_none_or(|l| e.accepted_at.is_some_and(|at| at <= l)))
            .map(|(id, _)| *id)
            .collect();
        let mut released = Vec::with_capacity(done.len());
        for id in done {
            let Some(state) = self.events.remove(&id) else { continue };
            let Phase::Confirmed { transaction_id } = state.phase else { continue };
            self.ended.insert(id, super::event_state::Ended { epoch: state.epoch, transaction_id });
            released.push(Record::Released {
                event_id: id,
                epoch: state.epoch,
                transaction_id,
                commitment: self.policy.commitment(&id).copied(),
            });
        }
        if !released.is_empty() {
            self.persist(released);
        }
    }

    /// A reorg orphaned `transaction_id`: forget its acceptance, un-pay the events it paid (they wait
    /// again; those this node finalized are submitted again) and drop the conflicts it caused. Events
    /// already confirmed stay confirmed: a reorg deeper than `confirm_depth` is outside the chain model.
    fn on_unaccepted(&mut self, transaction_id: TransactionId) {
        self.forget_spends_by(transaction_id);
        if self.accepted.remove(&transaction_id).is_some() {
            self.accepted_order.retain(|t| *t != transaction_id);
        }
        let mut resubmit = Vec::new();
        let mut orphaned = Vec::new();
        for (id, state) in &mut self.events {
            let before = state.conflicts.len();
            state.conflicts.retain(|_, (by, _)| *by != transaction_id);
            if state.conflicts.len() != before {
                orphaned.push(Record::ConflictOrphaned {
                    event_id: *id,
                    epoch: state.epoch,
                    by: transaction_id,
                });
            }
            if matches!(state.phase, Phase::Confirmed { .. }) || state.paid_by != Some(transaction_id) {
                continue;
            }
            state.paid_by = None;
            state.accepted_at = None;
            if let Some((_, transaction)) = state.transaction.clone() {
                resubmit.push((*id, transaction));
            }
        }
        if !orphaned.is_empty() {
            self.persist(orphaned);
        }
        for (event_id, transaction) in resubmit {
            self.outputs.push_back(Output::Chain(ChainRequest::Submit { event_id, transaction }));
        }
    }

    /// Forgets the spends `transaction_id` made (a reorg orphaned it).
    pub(super) fn forget_spends_by(&mut self, transaction_id: TransactionId) {
        self.spent.retain(|_, (by, _)| *by != transaction_id);
        self.spent_order.retain(|o| self.spent.contains_key(o));
    }

    /// Keeps the most recent spends of group outputs.
    pub(super) fn remember_spent(&mut self, outpoint: Outpoint, by: TransactionId, daa_score: u64) {
        if self.spent.insert(outpoint, (by, daa_score)).is_none() {
            self.spent_order.push_back(outpoint);
            while self.spent_order.len() > MAX_REMEMBERED_ACCEPTANCES {
                if let Some(old) = self.spent_order.pop_front() {
                    self.spent.remove(&old);
                }
            }
        }
    }

    /// Records, for the template `id` just signed, the spends of its inputs by other transactions that
    /// the chain reported before it was signed (they start the finality clock as if reported now).
    pub(super) fn conflicts_known_at_signing(&mut self, id: EventId) {
        let Some(state) = self.events.get_mut(&id) else { return };
        let Some(template) = state.signed.and_then(|h| state.templates.get(&h)) else { return };
        let own = crate::kaspa::hashing::transaction_id(&template.transaction);
        let known: Vec<(Outpoint, (TransactionId, u64))> = template
            .transaction
            .inputs
            .iter()
            .filter_map(|i| self.spent.get(&i.previous_outpoint).map(|s| (i.previous_outpoint, *s)))
            .filter(|(_, (by, _))| *by != own)
            .collect();
        let epoch = state.epoch;
        let records: Vec<Record> = known
            .iter()
            .map(|&(outpoint, (by, daa_score))| Record::Conflict {
                event_id: id,
                epoch,
                outpoint,
                by,
                daa_score,
            })
            .collect();
        state.conflicts.extend(known);
        if !records.is_empty() {
            self.persist(records);
        }
    }

    /// Keeps the most recent accepted transactions, so that a template learned after the chain accepted
    /// its transaction (from a peer, when this node had signed another one) is still recognized as the
    /// event's payment.
    fn remember_accepted(&mut self, transaction_id: TransactionId, daa_score: u64) {
        if self.accepted.insert(transaction_id, daa_score).is_none() {
            self.accepted_order.push_back(transaction_id);
            while self.accepted_order.len() > MAX_REMEMBERED_ACCEPTANCES {
                if let Some(old) = self.accepted_order.pop_front() {
                    self.accepted.remove(&old);
                }
            }
        }
    }

    /// After learning `template_hash` for `id`: if the chain already accepted its transaction, the event
    /// is paid.
    pub(super) fn check_paid(
        &mut self,
        now: Instant,
        wall: UnixMs,
        id: EventId,
        template_hash: TemplateHash,
    ) {
        let Some(state) = self.events.get_mut(&id) else { return };
        let Some(template) = state.templates.get(&template_hash) else { return };
        let txid = crate::kaspa::hashing::transaction_id(&template.transaction);
        if let Some(&daa_score) = self.accepted.get(&txid) {
            state.paid(txid, daa_score);
            self.settle(now, wall);
        }
    }

    /// The events whose submitted transaction is `transaction_id`.
    pub fn events_paid_by(&self, transaction_id: TransactionId) -> Vec<EventId> {
        self.events
            .iter()
            .filter(|(_, e)| e.transaction_id() == Some(transaction_id))
            .map(|(id, _)| *id)
            .collect()
    }
}
