//! Rebuilding a node from its persisted records.
//!
//! A restarted node must honour everything it told others before the crash: the votes it cast (one per
//! round, never a different one), its lock, its sign-once record and signatures, its policy
//! commitments, and how its events ended. Records are replayed in the order they were written; a
//! `Released` record stands for every earlier record of its event, whether the store kept them or not.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use super::event_state::EventState;
use super::{Destination, Ending, Node, NodeConfig, NodeError, Output, Phase, Record};
use crate::event::Event;
use crate::event::policy::{Commitment, Policy, RestoreError as PolicyRestoreError};
use crate::ids::EventId;
use crate::keys::Signer;
use crate::template::Template;
use crate::time::{Instant, UnixMs};
use crate::vote::{QuorumCertificate, SignedVote};
use crate::wire::{Body, VoteMessage};

/// Why a node could not be rebuilt from its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// The configuration or signer is unusable.
    Node(NodeError),
    /// A record holds an event or template that does not decode.
    Undecodable,
    /// A record refers to an event no `Event` record introduced.
    UnknownEvent(EventId),
    /// The policy commitments are inconsistent.
    Policy(PolicyRestoreError),
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(e) => write!(f, "{e}"),
            Self::Undecodable => f.write_str("a record does not decode"),
            Self::UnknownEvent(id) => write!(f, "a record refers to unknown event {id}"),
            Self::Policy(e) => write!(f, "policy: {e}"),
        }
    }
}

impl core::error::Error for RestoreError {}

impl Node {
    /// A node rebuilt from `records` (in the order they were persisted), with a new `boot_epoch`
    /// above the previous run's. It re-sends its latest vote and its signatures for every event still
    /// in progress, since peers may have missed them while it was down.
    pub fn restore(
        config: NodeConfig,
        signer: Box<dyn Signer>,
        seed: [u8; 32],
        boot_epoch: u64,
        now: Instant,
        wall: UnixMs,
        records: &[Record],
    ) -> Result<Self, RestoreError> {
        let mut node = Self::new(config, signer, seed, boot_epoch, now).map_err(RestoreError::Node)?;
        let mut commitments: Vec<(EventId, Commitment)> = Vec::new();
        for record in records {
            node.replay(now, record, &mut commitments)?;
        }
        node.policy =
            Policy::restore(node.config.policy.clone(), wall, &commitments).map_err(RestoreError::Policy)?;
        // Events confirmed before the restart are final (their acceptance is at least `confirm_depth`
        // deep): only their summary is kept.
        node.release_confirmed(None);
        node.resume(now, wall);
        Ok(node)
    }

    fn replay(
        &mut self,
        now: Instant,
        record: &Record,
        commitments: &mut Vec<(EventId, Commitment)>,
    ) -> Result<(), RestoreError> {
        match record {
            Record::Event { event } => {
                let decoded = Event::decode(event).map_err(|_| RestoreError::Undecodable)?;
                let id = decoded.id();
                let deadline = now.plus_millis(self.config.timing.round_timeout(0));
                self.events.entry(id).or_insert_with(|| EventState::new(decoded, event.clone(), deadline));
            }
            Record::Commitment { event_id, commitment } => {
                commitments.retain(|(id, _)| id != event_id);
                commitments.push((*event_id, *commitment));
            }
            Record::Vote { event_id, epoch, round, template } => {
                let template = Template::decode(template).map_err(|_| RestoreError::Undecodable)?;
                let hash = template.hash();
                let vote = crate::vote::Vote {
                    event_id: *event_id,
                    epoch: *epoch,
                    round: *round,
                    template_hash: hash,
                };
                let signed =
                    SignedVote::sign(vote, self.config.me, self.config.group.id(), self.signer.as_ref())
                        .map_err(|e| RestoreError::Node(NodeError::Signer(e)))?;
                let state = self.events.get_mut(event_id).ok_or(RestoreError::UnknownEvent(*event_id))?;
                for outpoint in template.transaction.inputs.iter().map(|i| i.previous_outpoint) {
                    self.reservations.insert(outpoint, *event_id);
                }
                state.epoch = *epoch;
                if state.phase == Phase::Abandoned {
                    // A vote after the event was abandoned: it was revived in this round.
                    state.phase = Phase::Voting;
                    state.window_start = *round;
                }
                state.round = state.round.max(*round);
                state.keep_template(hash, template);
                state.my_votes.insert(*round, hash);
                state.votes.entry(*round).or_default().insert(self.config.me, signed);
            }
            Record::Lock { certificate } => {
                let id = certificate.vote.event_id;
                let state = self.events.get_mut(&id).ok_or(RestoreError::UnknownEvent(id))?;
                raise_lock(&mut state.lock, certificate);
            }
            Record::SignOnce { certificate, template, signatures } => {
                let id = certificate.vote.event_id;
                let template = Template::decode(template).map_err(|_| RestoreError::Undecodable)?;
                let hash = template.hash();
                let sighashes = template.sighashes();
                let group = &self.config.group;
                let state = self.events.get_mut(&id).ok_or(RestoreError::UnknownEvent(id))?;
                raise_lock(&mut state.lock, certificate);
                state.keep_template(hash, template);
                let set = super::signing::signature_set(&mut state.sets, group, hash, sighashes.len())
                    .ok_or(RestoreError::Undecodable)?;
                let _ = set.merge_from(group, &sighashes, signatures.iter().copied());
                state.signed = Some(hash);
                state.phase = Phase::Signing;
            }
            Record::Released { event_id, epoch, transaction_id, commitment } => {
                // Whatever earlier records of the event the store kept (all, or none if it compacts)
                // are superseded: the event is final.
                self.events.remove(event_id);
                self.reservations.retain(|_, owner| owner != event_id);
                commitments.retain(|(id, _)| id != event_id);
                if let Some(commitment) = commitment {
                    commitments.push((*event_id, *commitment));
                }
                self.ended.insert(
                    *event_id,
                    super::event_state::Ended { epoch: *epoch, transaction_id: *transaction_id },
                );
            }
            Record::Conflict { .. } | Record::ConflictOrphaned { .. } => self.replay_conflict(record)?,
            Record::Ended { event_id, outcome, .. } => {
                let state = self.events.get_mut(event_id).ok_or(RestoreError::UnknownEvent(*event_id))?;
                match outcome {
                    Ending::Abandoned => state.phase = Phase::Abandoned,
                    Ending::Confirmed { transaction_id } => {
                        state.phase = Phase::Confirmed { transaction_id: *transaction_id };
                    }
                    Ending::Dead { .. } => {
                        let next = state.epoch + 1;
                        state.start_epoch(next, now);
                    }
                }
                if !matches!(outcome, Ending::Dead { .. }) {
                    state.deadline = None;
                }
                self.reservations.retain(|_, owner| owner != event_id);
            }
        }
        Ok(())
    }

    /// A conflict with the signed template of an event's epoch, or its withdrawal by a reorg (ignored
    /// once the event moved to a later epoch).
    fn replay_conflict(&mut self, record: &Record) -> Result<(), RestoreError> {
        match *record {
            Record::Conflict { event_id, epoch, outpoint, by, daa_score } => {
                self.remember_spent(outpoint, by, daa_score);
                let state = self.events.get_mut(&event_id).ok_or(RestoreError::UnknownEvent(event_id))?;
                if state.epoch == epoch {
                    state.conflicts.insert(outpoint, (by, daa_score));
                }
            }
            Record::ConflictOrphaned { event_id, epoch, by } => {
                self.forget_spends_by(by);
                let state = self.events.get_mut(&event_id).ok_or(RestoreError::UnknownEvent(event_id))?;
                if state.epoch == epoch {
                    state.conflicts.retain(|_, (spender, _)| *spender != by);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Restarts every unfinished event's round timer and re-sends what this node said last.
    fn resume(&mut self, now: Instant, wall: UnixMs) {
        let active: Vec<EventId> =
            self.events.iter().filter(|(_, e)| !e.is_finished()).map(|(id, _)| *id).collect();
        for id in active {
            let Some(state) = self.events.get_mut(&id) else { continue };
            state.deadline = Some(now.plus_millis(self.config.timing.round_timeout(state.round)));
            let mut bodies = Vec::new();
            let latest = state.my_votes.iter().next_back().map(|(r, _)| *r);
            if let Some(vote) = latest.and_then(|r| state.votes.get(&r)).and_then(|v| v.get(&self.config.me))
            {
                let template = state.templates.get(&vote.vote.template_hash).and_then(|t| t.encode().ok());
                bodies.push(Body::Vote(VoteMessage {
                    vote: *vote,
                    lock: state.lock.clone(),
                    template,
                    event: Some(state.encoded.clone()),
                }));
            }
            if let Some(hash) = state.signed
                && let Some(set) = state.sets.get(&hash)
            {
                let mut me = crate::group::MemberSet::default();
                me.insert(self.config.me);
                bodies.push(Body::Signatures(set.to_message(id, state.epoch, state.lock.clone(), me)));
            }
            for body in bodies {
                if let Ok(frame) = self.sealer.seal(self.signer.as_ref(), wall, &body) {
                    self.outputs.push_back(Output::Send { to: Destination::All, frame });
                }
            }
        }
    }
}

/// Keeps the highest-round certificate.
fn raise_lock(lock: &mut Option<QuorumCertificate>, certificate: &QuorumCertificate) {
    if lock.as_ref().is_none_or(|l| certificate.vote.round > l.vote.round) {
        *lock = Some(certificate.clone());
    }
}
