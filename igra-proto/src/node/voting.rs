//! Phase 1: votes, quorum certificates and rounds (see the module documentation of [`super`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::event_state::{MAX_TEMPLATES_PER_EVENT, VOTE_ROUNDS_KEPT};

/// The shortest interval between two requests for a UTXO snapshot.
const UTXO_REFRESH_MS: u64 = 1_000;
use super::{
    ChainRequest, Destination, Ending, EventRefusal, EventState, EventUpdate, Misbehaviour, Node, Output,
    Phase, Record,
};
use crate::event::{self, Event};
use crate::group::MemberIndex;
use crate::ids::{EventId, TemplateHash};
use crate::kaspa::tx::Outpoint;
use crate::template::{self, BuildRequest, Template};
use crate::time::{Instant, UnixMs};
use crate::vote::{QuorumCertificate, SignedVote, Vote};
use crate::wire::{Body, VoteMessage};

impl Node {
    pub(super) fn accept_event(
        &mut self,
        now: Instant,
        wall: UnixMs,
        event: Event,
    ) -> Result<(), EventRefusal> {
        let id = event.id();
        if self.ended.contains_key(&id) {
            // Confirmed long ago: a resubmission is the same event, already paid.
            return Ok(());
        }
        if let Some(state) = self.events.get(&id) {
            // A resubmission revives an event abandoned without a signature.
            if state.phase == Phase::Abandoned {
                let next = state.round.saturating_add(1);
                self.revive(now, wall, id, next);
            }
            return Ok(());
        }
        if self.events.values().filter(|e| !e.is_finished()).count() >= self.config.max_events_in_flight {
            return Err(EventRefusal::Busy);
        }
        event::verify(&event, &self.config.attestation, self.config.group.id())
            .map_err(EventRefusal::Attestation)?;
        let encoded = event.encode().map_err(|_| EventRefusal::TooLarge)?;
        self.persist(alloc::vec![Record::Event { event: encoded.clone() }]);
        let deadline = now.plus_millis(self.config.timing.round_timeout(0));
        self.events.insert(id, EventState::new(event, encoded, deadline));
        self.notify(EventUpdate::Accepted { event_id: id });
        self.vote_in_round(now, wall, id, 0);
        Ok(())
    }

    pub(super) fn vote_where_waiting(&mut self, now: Instant, wall: UnixMs) {
        let waiting: Vec<(EventId, u32)> = self
            .events
            .iter()
            .filter(|(_, e)| e.phase == Phase::Voting && !e.my_votes.contains_key(&e.round))
            .map(|(id, e)| (*id, e.round))
            .collect();
        for (id, round) in waiting {
            self.vote_in_round(now, wall, id, round);
        }
    }
}

impl Node {
    /// Votes in `round` of event `id`, once: the lock's template, else the previous round's favourite
    /// this node can validate, else its own.
    pub(super) fn vote_in_round(&mut self, now: Instant, wall: UnixMs, id: EventId, round: u32) {
        let Some(state) = self.events.get(&id) else { return };
        if state.is_finished() || state.my_votes.keys().any(|r| *r >= round) {
            return;
        }
        let choice = match &state.lock {
            Some(qc) => Some(qc.vote.template_hash),
            None => round.checked_sub(1).and_then(|prev| state.favourite(prev)),
        };
        let template_hash = match choice {
            Some(hash) => hash,
            None => match self.build_own(now, id, round) {
                Some(hash) => hash,
                None => return,
            },
        };
        let Some(state) = self.events.get_mut(&id) else { return };
        // The policy counts what this node votes for; a refusal now (a cap filled by other events,
        // a pause) means no vote.
        let commitment = match self.policy.commit(wall, &state.event) {
            Ok(commitment) => commitment,
            Err(violation) => {
                self.notify(EventUpdate::Refused { event_id: id, reason: EventRefusal::Policy(violation) });
                return;
            }
        };
        let Some(state) = self.events.get_mut(&id) else { return };
        let Some(template) = state.templates.get(&template_hash) else {
            // Certified or favoured, but never received: ask the peers for it.
            self.request_template(wall, template_hash);
            return;
        };
        let Ok(encoded) = template.encode() else { return };
        let vote = Vote { event_id: id, epoch: state.epoch, round, template_hash };
        let Ok(signed) = SignedVote::sign(vote, self.config.me, self.config.group.id(), self.signer.as_ref())
        else {
            return;
        };
        state.my_votes.insert(round, template_hash);
        state.votes.entry(round).or_default().insert(self.config.me, signed);
        for outpoint in template.transaction.inputs.iter().map(|i| i.previous_outpoint) {
            self.reservations.insert(outpoint, id);
        }
        let message = VoteMessage {
            vote: signed,
            lock: state.lock.clone(),
            template: Some(encoded.clone()),
            event: Some(state.encoded.clone()),
        };
        let batch = self.persist(alloc::vec![
            Record::Commitment { event_id: id, commitment },
            Record::Vote { event_id: id, epoch: vote.epoch, round, template: encoded },
        ]);
        self.send_after(wall, batch, Destination::All, &Body::Vote(message));
        self.notify(EventUpdate::Voted { event_id: id, vote });
        self.check_certificate(now, wall, id, round);
    }

    /// Builds this node's own template for `round` and remembers it; `None` without a UTXO view (one is
    /// requested) or when the builder refuses.
    pub(super) fn build_own(&mut self, now: Instant, id: EventId, round: u32) -> Option<TemplateHash> {
        let Some(view) = &self.utxos else {
            self.fetch_utxos(now);
            return None;
        };
        let state = self.events.get(&id)?;
        let reserved: BTreeSet<Outpoint> =
            self.reservations.iter().filter(|(_, owner)| **owner != id).map(|(o, _)| *o).collect();
        let request = BuildRequest {
            event_id: id,
            epoch: state.epoch,
            round,
            payment: &state.event.payment,
            group_script: &self.script,
            policy: &self.config.template_policy,
            utxos: &view.utxos,
            output_keys: Some(&view.keys),
            reserved: &reserved,
            // Depth is measured against the newest DAA score the chain reported, not only the
            // snapshot's: outputs of the snapshot mature as the chain moves on.
            virtual_daa_score: view.virtual_daa_score.max(self.virtual_daa_score),
        };
        let Ok(template) = template::build(&request) else {
            // Not payable from this view (funds reserved, immature or spent): ask for a fresh one, and
            // vote another round.
            self.fetch_utxos(now);
            return None;
        };
        let hash = template.hash();
        let txid = crate::kaspa::hashing::transaction_id(&template.transaction);
        let accepted = self.accepted.get(&txid).copied();
        let state = self.events.get_mut(&id)?;
        if let Some(daa_score) = accepted {
            // The chain already carries this very transaction: the event is paid.
            state.paid(txid, daa_score);
        }
        if state.templates.len() < MAX_TEMPLATES_PER_EVENT {
            state.keep_template(hash, template);
        }
        state.templates.contains_key(&hash).then_some(hash)
    }

    pub(super) fn on_vote(&mut self, now: Instant, wall: UnixMs, from: MemberIndex, message: &VoteMessage) {
        let vote = message.vote;
        if vote.voter != from || vote.verify(&self.config.group).is_err() {
            self.misbehaviour.record(from, Misbehaviour::ForgedVote, 1);
            return;
        }
        let id = vote.vote.event_id;
        if vote.vote.round >= self.round_limit(&id) {
            self.misbehaviour.record(from, Misbehaviour::RoundOutOfRange, 1);
            return;
        }
        if !self.events.contains_key(&id) {
            let Some(event) = message.event.as_ref().and_then(|bytes| Event::decode(bytes).ok()) else {
                return;
            };
            if event.id() != id {
                self.misbehaviour.record(from, Misbehaviour::BadEvent, 1);
                return;
            }
            if let Err(refusal) = self.accept_event(now, wall, event) {
                // A forged attestation is the sender's fault; this node's own policy or load is not.
                if matches!(refusal, EventRefusal::Attestation(_)) {
                    self.misbehaviour.record(from, Misbehaviour::BadEvent, 1);
                }
                return;
            }
        }
        if let Some(bytes) = &message.template
            && !self.learn_template(now, wall, id, vote.vote.template_hash, bytes)
        {
            self.misbehaviour.record(from, Misbehaviour::InvalidTemplate, 1);
        }
        if let Some(lock) = &message.lock
            && !self.on_certificate(now, wall, lock)
        {
            self.misbehaviour.record(from, Misbehaviour::BadCertificate, 1);
        }
        let Some(state) = self.events.get_mut(&id) else { return };
        let round = vote.vote.round;
        // A later vote revives an event this node abandoned without a signature.
        if state.phase == Phase::Abandoned && vote.vote.epoch == state.epoch && round > state.round {
            self.revive(now, wall, id, round);
        }
        let Some(state) = self.events.get_mut(&id) else { return };
        if vote.vote.epoch != state.epoch || state.is_finished() {
            return;
        }
        if round.saturating_add(VOTE_ROUNDS_KEPT) < state.round {
            return;
        }
        let votes = state.votes.entry(round).or_default();
        match votes.get(&vote.voter) {
            Some(existing) if existing.vote.template_hash != vote.vote.template_hash => {
                state.equivocators.insert(vote.voter);
                self.misbehaviour.record(from, Misbehaviour::Equivocation, 1);
                return;
            }
            Some(_) => return,
            None => {
                votes.insert(vote.voter, vote);
            }
        }
        // Round synchronisation: more members than can be Byzantine are in a later round.
        let pull =
            (2 * usize::from(self.config.group.threshold())).saturating_sub(self.config.group.size()).max(1);
        if round > state.round && votes.len() >= pull {
            state.round = round;
            state.deadline = Some(now.plus_millis(self.config.timing.round_timeout(round)));
            state.prune_votes();
            self.vote_in_round(now, wall, id, round);
        }
        self.check_certificate(now, wall, id, round);
    }

    /// Validates and keeps a template a peer sent for `id`, if it is new and the claimed hash matches.
    /// `false` when the template is invalid (a peer's fault); `true` when it is kept, known already, or
    /// not kept for lack of room.
    pub(super) fn learn_template(
        &mut self,
        now: Instant,
        wall: UnixMs,
        id: EventId,
        claimed: TemplateHash,
        bytes: &[u8],
    ) -> bool {
        let Some(state) = self.events.get_mut(&id) else { return true };
        if state.templates.contains_key(&claimed) || state.templates.len() >= MAX_TEMPLATES_PER_EVENT {
            return true;
        }
        let Ok(template) = Template::decode(bytes) else { return false };
        let valid = template::validate(
            &template,
            claimed,
            &state.event.payment,
            &self.script,
            &self.config.template_policy,
        );
        if valid.is_ok() {
            state.keep_template(claimed, template);
        }
        if valid.is_ok() {
            self.check_paid(now, wall, id, claimed);
        }
        valid.is_ok()
    }

    /// Forms a certificate for `round` if `Q` votes agree.
    pub(super) fn check_certificate(&mut self, now: Instant, wall: UnixMs, id: EventId, round: u32) {
        let Some(state) = self.events.get(&id) else { return };
        let Some(votes) = state.votes.get(&round) else { return };
        let quorum = self.config.group.quorum();
        let mut tally: BTreeMap<TemplateHash, Vec<SignedVote>> = BTreeMap::new();
        for v in votes.values() {
            tally.entry(v.vote.template_hash).or_default().push(*v);
        }
        let everyone = votes.len() >= self.config.group.size();
        let Some(agreeing) = tally.into_values().find(|v| v.len() >= quorum) else {
            // Every member's vote of the current round is in and none has a quorum: the round cannot
            // certify anything, so it ends now rather than at its timeout (rule 9 of section 13).
            if everyone && round == state.round && state.phase == Phase::Voting {
                self.end_round(now, wall, id);
            }
            return;
        };
        let Ok(certificate) = QuorumCertificate::from_votes(&agreeing) else { return };
        // Every vote in the table was verified when it arrived (or is this node's own).
        self.apply_certificate(now, wall, &certificate);
    }

    /// A certificate from anywhere: verified, it may raise the lock, pull this node into its round and
    /// let it sign.
    /// `false` when the certificate does not verify (a peer's fault).
    pub(super) fn on_certificate(
        &mut self,
        now: Instant,
        wall: UnixMs,
        certificate: &QuorumCertificate,
    ) -> bool {
        // Honest members never vote beyond the round window, so no valid certificate is there.
        if certificate.vote.round >= self.round_limit(&certificate.vote.event_id) {
            return false;
        }
        // A certificate for the very vote this node is locked on adds nothing: its own, verified copy
        // stands in and the copy's signatures are not checked again (peers attach it to every message).
        let held = self
            .events
            .get(&certificate.vote.event_id)
            .and_then(|state| state.lock.as_ref())
            .filter(|lock| lock.vote == certificate.vote)
            .cloned();
        if let Some(lock) = held {
            self.apply_certificate(now, wall, &lock);
            return true;
        }
        if certificate.verify(&self.config.group).is_err() {
            return false;
        }
        self.apply_certificate(now, wall, certificate);
        true
    }

    /// A verified certificate (or one formed from verified votes): it may raise the lock, pull this
    /// node into its round and let it sign.
    fn apply_certificate(&mut self, now: Instant, wall: UnixMs, certificate: &QuorumCertificate) {
        let id = certificate.vote.event_id;
        let Some(state) = self.events.get_mut(&id) else { return };
        if certificate.vote.epoch != state.epoch || state.is_finished() {
            return;
        }
        let round = certificate.vote.round;
        let raised = state.lock.as_ref().is_none_or(|lock| round > lock.vote.round);
        let signed_before = state.signed;
        if raised {
            state.lock = Some(certificate.clone());
            self.notify(EventUpdate::Certified { event_id: id, vote: certificate.vote });
        }
        self.try_sign(wall, certificate);
        let Some(state) = self.events.get_mut(&id) else { return };
        if raised && state.signed == signed_before {
            // Not signed on it (signing persists the lock with the sign-once record): persist the raised
            // lock on its own, so that a restarted node still votes its template in later rounds. No
            // frame waits for it: the lock steers liveness; sign-once alone carries safety.
            self.persist(alloc::vec![Record::Lock { certificate: certificate.clone() }]);
        }
        let Some(state) = self.events.get_mut(&id) else { return };
        if round > state.round {
            state.round = round;
            state.deadline = Some(now.plus_millis(self.config.timing.round_timeout(round)));
            state.prune_votes();
            self.vote_in_round(now, wall, id, round);
        }
    }

    pub(super) fn on_timer(&mut self, now: Instant, wall: UnixMs) {
        let due: Vec<EventId> = self
            .events
            .iter()
            .filter(|(_, e)| e.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.end_round(now, wall, id);
        }
    }

    /// Ends the current round of `id` (its timeout passed, or it cannot certify anything): the next
    /// round starts and this node votes in it, or, past the round window, the event is abandoned if no
    /// signature was released.
    fn end_round(&mut self, now: Instant, wall: UnixMs, id: EventId) {
        let Some(state) = self.events.get_mut(&id) else { return };
        let next = state.round + 1;
        if next >= state.window_start.saturating_add(self.config.timing.max_rounds) {
            state.deadline = None;
            if state.signed.is_none() && state.phase == Phase::Voting {
                state.phase = Phase::Abandoned;
                let epoch = state.epoch;
                self.reservations.retain(|_, owner| *owner != id);
                self.persist(alloc::vec![Record::Ended { event_id: id, epoch, outcome: Ending::Abandoned }]);
                self.notify(EventUpdate::Abandoned { event_id: id });
            }
            return;
        }
        state.round = next;
        state.deadline = Some(now.plus_millis(self.config.timing.round_timeout(next)));
        state.prune_votes();
        self.vote_in_round(now, wall, id, next);
    }
}

impl Node {
    /// Asks the chain for a fresh UTXO snapshot, at most once per [`UTXO_REFRESH_MS`]: a snapshot that
    /// still pays nothing must not turn into a request storm.
    pub(super) fn fetch_utxos(&mut self, now: Instant) {
        if self.utxos_requested_at.is_some_and(|at| now.millis_since(at) < UTXO_REFRESH_MS) {
            return;
        }
        self.utxos_requested_at = Some(now);
        self.outputs.push_back(Output::Chain(ChainRequest::FetchUtxos));
    }

    /// The first round beyond the window this node accepts votes and certificates for `id` in: its
    /// current round plus `max_rounds` (from round 0 for an event it does not know). No minority can drag
    /// an event further than that.
    pub(super) fn round_limit(&self, id: &EventId) -> u32 {
        let round = self.events.get(id).map_or(0, |e| e.round);
        round.saturating_add(self.config.timing.max_rounds)
    }

    /// Brings an event abandoned without a signature back to voting, from `round` on, with a fresh
    /// window of `max_rounds` rounds. Its policy commitment is taken again when it votes.
    pub(super) fn revive(&mut self, now: Instant, wall: UnixMs, id: EventId, round: u32) {
        let timeout = self.config.timing.round_timeout(0);
        let Some(state) = self.events.get_mut(&id) else { return };
        if state.phase != Phase::Abandoned || state.signed.is_some() {
            return;
        }
        state.phase = Phase::Voting;
        state.round = round;
        state.window_start = round;
        state.deadline = Some(now.plus_millis(timeout));
        state.prune_votes();
        self.notify(EventUpdate::Revived { event_id: id, round });
        self.vote_in_round(now, wall, id, round);
    }
}
