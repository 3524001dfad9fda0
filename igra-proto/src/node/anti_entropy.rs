//! Anti-entropy: members repair what the network lost by exchanging compact digests and sending each
//! other exactly what the other lacks.
//!
//! Every `anti_entropy_interval_ms` a node with unfinished events sends every peer a [`DigestMessage`]:
//! per event its epoch, round, lock and, per template, whose complete signature sets it holds. A peer
//! answers with what the sender lacks and it has (the event and its own vote for an event the sender
//! does not list, its lock when higher, signatures of members the sender lacks, its vote when the
//! sender is in an earlier round), and asks with a [`RequestMessage`] for events it has never seen. A
//! digest holds at most [`MAX_DIGEST_ENTRIES`] events, and a reply at most one message per event and
//! kind, so the cost per tick is bounded; nothing is ever taken on a peer's word: everything repaired
//! this way goes through the same verification as the original message.
//!
//! Replies re-send votes and signatures this node has persisted. They are emitted as
//! `SendAfterPersist` for the latest batch, since batches become durable in the order they were emitted.

use alloc::vec::Vec;

use super::{BatchId, Destination, Misbehaviour, Node, Output, Phase};
use crate::group::{MemberIndex, MemberSet};
use crate::ids::{EventId, TemplateHash};
use crate::time::{Instant, UnixMs};
use crate::wire::{
    Body, BoundedVec, CertificateMessage, DigestEntry, DigestMessage, EventAnnouncement, LockSummary,
    MAX_DIGEST_ENTRIES, MAX_TEMPLATES_PER_DIGEST_ENTRY, RequestItem, RequestMessage, TemplateMessage,
    TemplateSigners, VoteMessage,
};

impl Node {
    /// Sends every peer a digest of this node's unfinished events, and schedules the next one.
    pub(super) fn on_anti_entropy(&mut self, now: Instant, wall: UnixMs) {
        self.anti_entropy_at = Some(now.plus_millis(self.config.timing.anti_entropy_interval_ms));
        let mut active = BoundedVec::new();
        for (id, state) in self.events.iter().filter(|(_, e)| !e.is_finished()) {
            let mut signers = BoundedVec::new();
            for (hash, set) in state.sets.iter().take(MAX_TEMPLATES_PER_DIGEST_ENTRY) {
                let _ =
                    signers.push(TemplateSigners { template_hash: *hash, signers: set.complete_signers() });
            }
            let entry = DigestEntry {
                event_id: *id,
                epoch: state.epoch,
                round: state.round,
                lock: state
                    .lock
                    .as_ref()
                    .map(|qc| LockSummary { round: qc.vote.round, template_hash: qc.vote.template_hash }),
                signers,
            };
            if active.push(entry).is_err() {
                break;
            }
        }
        if active.is_empty() {
            return;
        }
        let digest = DigestMessage { active, ended: BoundedVec::new() };
        self.send_now(wall, Destination::All, &Body::Digest(digest));
    }

    /// Answers a peer's digest with what it lacks, and asks for events this node has never seen.
    pub(super) fn on_digest(&mut self, wall: UnixMs, from: MemberIndex, digest: &DigestMessage) {
        let mut unknown = BoundedVec::new();
        let mut replies: Vec<Body> = Vec::new();
        for entry in digest.active.iter() {
            let Some(state) = self.events.get(&entry.event_id) else {
                if !self.ended.contains_key(&entry.event_id) {
                    let _ = unknown.push(RequestItem::Event { event_id: entry.event_id });
                }
                continue;
            };
            if state.epoch != entry.epoch || matches!(state.phase, Phase::Abandoned) {
                continue;
            }
            // A higher lock: the certificate, with its template.
            if let Some(lock) = &state.lock
                && entry.lock.is_none_or(|l| l.round < lock.vote.round)
            {
                let template = state.templates.get(&lock.vote.template_hash).and_then(|t| t.encode().ok());
                replies.push(Body::Certificate(CertificateMessage { certificate: lock.clone(), template }));
            }
            // Complete signature sets the peer lacks.
            for (hash, set) in &state.sets {
                let theirs = entry
                    .signers
                    .iter()
                    .find(|t| t.template_hash == *hash)
                    .map_or(MemberSet::default(), |t| t.signers);
                let lacking = MemberSet(set.complete_signers().0 & !theirs.0);
                if !lacking.is_empty() {
                    let certificate = state.lock.clone().filter(|l| l.vote.template_hash == *hash);
                    replies.push(Body::Signatures(set.to_message(
                        entry.event_id,
                        state.epoch,
                        certificate,
                        lacking,
                    )));
                }
            }
            // The peer is behind in rounds: this node's latest vote helps it catch up.
            if entry.round < state.round
                && let Some(body) = self.own_vote(&entry.event_id, false)
            {
                replies.push(body);
            }
        }
        // Events the peer does not list at all (only when its digest was not cut short).
        if digest.active.len() < MAX_DIGEST_ENTRIES {
            let missing: Vec<EventId> = self
                .events
                .iter()
                .filter(|(id, e)| !e.is_finished() && !digest.active.iter().any(|d| d.event_id == **id))
                .map(|(id, _)| *id)
                .collect();
            for id in missing {
                if let Some(body) = self.own_vote(&id, true) {
                    replies.push(body);
                }
            }
        }
        for body in replies {
            self.send_durable(wall, Destination::Member(from), &body);
        }
        if !unknown.is_empty() {
            self.send_now(wall, Destination::Member(from), &Body::Request(RequestMessage { items: unknown }));
        }
    }

    /// Answers a peer's request for events it has never seen.
    /// Answers a peer's request for events it has never seen and templates it lacks.
    pub(super) fn on_request(&mut self, wall: UnixMs, from: MemberIndex, request: &RequestMessage) {
        for item in request.items.iter() {
            let body = match item {
                RequestItem::Event { event_id } => self
                    .events
                    .get(event_id)
                    .map(|state| Body::Event(EventAnnouncement { event: state.encoded.clone() })),
                RequestItem::Template { template_hash } => self
                    .events
                    .values()
                    .find_map(|state| state.templates.get(template_hash))
                    .and_then(|template| template.encode().ok())
                    .map(|template| Body::Template(TemplateMessage { template })),
                _ => None,
            };
            if let Some(body) = body {
                self.send_now(wall, Destination::Member(from), &body);
            }
        }
    }

    /// Asks every peer for a template this node needs (to vote for its lock or to sign it).
    pub(super) fn request_template(&mut self, wall: UnixMs, template_hash: TemplateHash) {
        let mut items = BoundedVec::new();
        let _ = items.push(RequestItem::Template { template_hash });
        self.send_now(wall, Destination::All, &Body::Request(RequestMessage { items }));
    }

    /// A template a peer sent on request: kept for every event that certified or voted for it (each
    /// validates it against its own payment), and those events resume.
    pub(super) fn on_template(
        &mut self,
        now: Instant,
        wall: UnixMs,
        from: MemberIndex,
        message: &TemplateMessage,
    ) {
        let Ok(template) = crate::template::Template::decode(&message.template) else {
            self.misbehaviour.record(from, Misbehaviour::InvalidTemplate, 1);
            return;
        };
        let hash = template.hash();
        let wanting: Vec<EventId> = self
            .events
            .iter()
            .filter(|(_, e)| {
                !e.is_finished()
                    && !e.templates.contains_key(&hash)
                    && (e.lock.as_ref().is_some_and(|l| l.vote.template_hash == hash)
                        || e.votes.values().flat_map(|v| v.values()).any(|v| v.vote.template_hash == hash))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in wanting {
            if !self.learn_template(now, wall, id, hash, &message.template) {
                self.misbehaviour.record(from, Misbehaviour::InvalidTemplate, 1);
                continue;
            }
            let Some(state) = self.events.get(&id) else { continue };
            let (round, lock) = (state.round, state.lock.clone());
            if let Some(lock) = lock {
                self.try_sign(wall, &lock);
            }
            self.vote_in_round(now, wall, id, round);
        }
    }

    /// This node's latest vote for `id`, with its lock and template (and the event, if asked).
    fn own_vote(&self, id: &EventId, with_event: bool) -> Option<Body> {
        let state = self.events.get(id)?;
        let (round, _) = state.my_votes.iter().next_back()?;
        let vote = state.votes.get(round)?.get(&self.config.me)?;
        Some(Body::Vote(VoteMessage {
            vote: *vote,
            lock: state.lock.clone(),
            template: state.templates.get(&vote.vote.template_hash).and_then(|t| t.encode().ok()),
            event: with_event.then(|| state.encoded.clone()),
        }))
    }

    fn send_now(&mut self, wall: UnixMs, to: Destination, body: &Body) {
        if let Ok(frame) = self.sealer.seal(self.signer.as_ref(), wall, body) {
            self.outputs.push_back(Output::Send { to, frame });
        }
    }

    /// Sends `body`, which repeats persisted votes or signatures, once every batch emitted so far is
    /// durable.
    fn send_durable(&mut self, wall: UnixMs, to: Destination, body: &Body) {
        match self.next_batch.checked_sub(1) {
            Some(latest) => self.send_after(wall, BatchId(latest), to, body),
            None => self.send_now(wall, to, body),
        }
    }
}
