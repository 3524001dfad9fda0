//! What a node knows about one event.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::Phase;
use crate::event::Event;
use crate::group::MemberIndex;
use crate::ids::{TemplateHash, TransactionId};
use crate::kaspa::tx::{Outpoint, Transaction};
use crate::signature_set::SignatureSet;
use crate::template::Template;
use crate::time::Instant;
use crate::vote::{QuorumCertificate, SignedVote};
use crate::wire::EncodedEvent;

/// Templates kept per event (own, voted, certified); more are refused.
pub(super) const MAX_TEMPLATES_PER_EVENT: usize = 16;
/// Signature sets kept per event: one per certified template.
pub(super) const MAX_SIGNATURE_SETS_PER_EVENT: usize = 4;
/// Rounds of other members' votes kept per event (the current one and those just before it).
pub(super) const VOTE_ROUNDS_KEPT: u32 = 4;

/// What a node keeps of a confirmed event once its state is released (`confirm_depth +
/// finality_depth` past its acceptance, beyond any reorg the chain model allows): the epoch and the
/// paying transaction, enough to answer for the event and to never run it again. Votes, lock,
/// templates, signature sets and the transaction itself are dropped; nothing can change the event any
/// more, so nothing in them can still be asked of this node. Persisted as
/// [`Record::Released`](super::Record::Released).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ended {
    pub(super) epoch: u32,
    pub(super) transaction_id: TransactionId,
}

/// One event's state in this node.
pub(super) struct EventState {
    pub(super) event: Event,
    pub(super) encoded: EncodedEvent,
    pub(super) phase: Phase,
    pub(super) epoch: u32,
    pub(super) round: u32,
    /// The first round of the current window of `max_rounds` rounds (0, or where a revival restarted).
    pub(super) window_start: u32,
    pub(super) deadline: Option<Instant>,
    pub(super) templates: BTreeMap<TemplateHash, Template>,
    pub(super) votes: BTreeMap<u32, BTreeMap<MemberIndex, SignedVote>>,
    pub(super) my_votes: BTreeMap<u32, TemplateHash>,
    pub(super) lock: Option<QuorumCertificate>,
    pub(super) signed: Option<TemplateHash>,
    pub(super) sets: BTreeMap<TemplateHash, SignatureSet>,
    pub(super) equivocators: BTreeSet<MemberIndex>,
    /// The transaction id of every template in `templates`, computed once when it is kept.
    pub(super) template_ids: BTreeSet<TransactionId>,
    /// Sighashes of the templates signatures arrived for, computed once per template.
    pub(super) sighashes: BTreeMap<TemplateHash, Vec<[u8; 32]>>,
    /// The finalized transaction of this epoch and its id (computed once), kept for resubmission.
    pub(super) transaction: Option<(TransactionId, Transaction)>,
    /// The accepted transaction that pays this event (one of its templates'), if the chain said so.
    pub(super) paid_by: Option<TransactionId>,
    /// DAA score at which the chain accepted it.
    pub(super) accepted_at: Option<u64>,
    /// Other transactions spending an input of the signed template, by input: the spender and the DAA
    /// score of its acceptance (a reorg can orphan one; at most one entry per signed input).
    pub(super) conflicts: BTreeMap<Outpoint, (TransactionId, u64)>,
}

impl EventState {
    pub(super) fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Submitted { .. } | Phase::Confirmed { .. } | Phase::Abandoned)
    }

    /// The template with most votes in `round` among those this node validated (ties: lowest hash).
    pub(super) fn favourite(&self, round: u32) -> Option<TemplateHash> {
        let mut tally: BTreeMap<TemplateHash, usize> = BTreeMap::new();
        for v in self.votes.get(&round)?.values() {
            if self.templates.contains_key(&v.vote.template_hash) {
                *tally.entry(v.vote.template_hash).or_default() += 1;
            }
        }
        tally.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))).map(|(h, _)| h)
    }

    pub(super) fn prune_votes(&mut self) {
        let keep_from = self.round.saturating_sub(VOTE_ROUNDS_KEPT);
        self.votes.retain(|r, _| *r >= keep_from);
    }
}

impl EventState {
    /// A new event in round 0 of epoch 0, its first round ending at `deadline`.
    pub(super) fn new(event: Event, encoded: EncodedEvent, deadline: Instant) -> Self {
        Self {
            event,
            encoded,
            phase: Phase::Voting,
            epoch: 0,
            round: 0,
            window_start: 0,
            deadline: Some(deadline),
            templates: BTreeMap::new(),
            votes: BTreeMap::new(),
            my_votes: BTreeMap::new(),
            lock: None,
            signed: None,
            sets: BTreeMap::new(),
            equivocators: BTreeSet::new(),
            template_ids: BTreeSet::new(),
            sighashes: BTreeMap::new(),
            transaction: None,
            paid_by: None,
            accepted_at: None,
            conflicts: BTreeMap::new(),
        }
    }

    /// Starts epoch `epoch` from round 0: everything of the old epoch (votes, lock, signature, sets,
    /// transaction) is dropped; the event and its templates' validity rules stay.
    pub(super) fn start_epoch(&mut self, epoch: u32, deadline: Instant) {
        self.epoch = epoch;
        self.round = 0;
        self.window_start = 0;
        self.phase = Phase::Voting;
        self.deadline = Some(deadline);
        self.templates.clear();
        self.template_ids.clear();
        self.votes.clear();
        self.my_votes.clear();
        self.lock = None;
        self.signed = None;
        self.sets.clear();
        self.sighashes.clear();
        self.transaction = None;
        self.paid_by = None;
        self.accepted_at = None;
        self.conflicts.clear();
    }

    /// Keeps a validated template and its transaction id (ids do not cover signatures, so it is the id
    /// of the signed transaction too).
    pub(super) fn keep_template(&mut self, hash: TemplateHash, template: Template) {
        self.template_ids.insert(crate::kaspa::hashing::transaction_id(&template.transaction));
        self.templates.insert(hash, template);
    }

    /// Whether `transaction_id` is the transaction of one of this event's templates.
    pub(super) fn pays_event(&self, transaction_id: TransactionId) -> bool {
        self.transaction_id() == Some(transaction_id) || self.template_ids.contains(&transaction_id)
    }

    /// The chain accepted `transaction_id`, a payment of this event, at `daa_score`.
    pub(super) fn paid(&mut self, transaction_id: TransactionId, daa_score: u64) {
        self.paid_by = Some(transaction_id);
        self.accepted_at = Some(self.accepted_at.map_or(daa_score, |d| d.min(daa_score)));
    }

    /// The DAA score of the earliest accepted conflicting spend of a signed input, if any.
    pub(super) fn conflict_at(&self) -> Option<u64> {
        self.conflicts.values().map(|(_, at)| *at).min()
    }

    /// The id of this epoch's finalized transaction.
    pub(super) fn transaction_id(&self) -> Option<TransactionId> {
        self.transaction.as_ref().map(|(id, _)| *id)
    }

    /// Whether the template this node signed spends `outpoint`.
    pub(super) fn signed_spends(&self, outpoint: &Outpoint) -> bool {
        self.signed
            .and_then(|h| self.templates.get(&h))
            .is_some_and(|t| t.transaction.inputs.iter().any(|i| &i.previous_outpoint == outpoint))
    }
}
