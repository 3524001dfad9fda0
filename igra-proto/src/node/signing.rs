//! Phase 2: sign once, collect signatures, finalize (see the module documentation of [`super`]).

use alloc::collections::BTreeMap;

use super::event_state::MAX_SIGNATURE_SETS_PER_EVENT;
use super::{ChainRequest, Destination, EventUpdate, Misbehaviour, Node, Output, Phase, Record};
use crate::group::{Group, MemberIndex};
use crate::ids::{EventId, TemplateHash};
use crate::signature_set::SignatureSet;
use crate::time::{Instant, UnixMs};
use crate::vote::QuorumCertificate;
use crate::wire::{Body, BoundedVec, SignatureSetMessage};

impl Node {
    /// Signs the certified template unless this node signed in this epoch already, or voted in a later
    /// round (the lock rule), or cannot validate the template.
    pub(super) fn try_sign(&mut self, wall: UnixMs, certificate: &QuorumCertificate) {
        let id = certificate.vote.event_id;
        let hash = certificate.vote.template_hash;
        let aux = self.next_aux();
        let Some(state) = self.events.get_mut(&id) else { return };
        let later_vote = state.my_votes.keys().any(|r| *r > certificate.vote.round);
        if state.signed.is_some() || later_vote {
            return;
        }
        if !state.templates.contains_key(&hash) {
            // Certified but never received: ask for it; signing resumes when it arrives.
            self.request_template(wall, hash);
            return;
        }
        // Every rule runs again before signing (a pause since the vote, a cap filled meanwhile).
        let Ok(commitment) = self.policy.commit(wall, &state.event) else { return };
        let Some(template) = state.templates.get(&hash) else { return };
        // The sighashes are computed once per template and kept for verifying peers' signatures.
        let sighashes = state.sighashes.entry(hash).or_insert_with(|| template.sighashes());
        let Ok(signatures) =
            crate::template::Template::sign_sighashes(sighashes, self.signer.as_ref(), self.config.me, &aux)
        else {
            return;
        };
        let Ok(encoded) = template.encode() else { return };
        let Some(set) = signature_set(&mut state.sets, &self.config.group, hash, sighashes.len()) else {
            return;
        };
        for sig in &signatures {
            // Made just now over these sighashes: admitted without verifying them again.
            let _ = set.insert_own(*sig);
        }
        state.signed = Some(hash);
        state.phase = Phase::Signing;
        let Ok(bounded) = BoundedVec::try_from(signatures) else { return };
        let records = alloc::vec![
            Record::Commitment { event_id: id, commitment },
            Record::Lock { certificate: certificate.clone() },
            Record::SignOnce {
                certificate: certificate.clone(),
                template: encoded,
                signatures: bounded.clone()
            },
        ];
        let message = SignatureSetMessage {
            event_id: id,
            epoch: certificate.vote.epoch,
            template_hash: hash,
            certificate: Some(certificate.clone()),
            signatures: bounded,
        };
        let batch = self.persist(records);
        self.send_after(wall, batch, Destination::All, &Body::Signatures(message));
        self.notify(EventUpdate::Signed { event_id: id, template_hash: hash });
        self.conflicts_known_at_signing(id);
        self.try_finalize(id, hash);
    }

    pub(super) fn on_signatures(
        &mut self,
        now: Instant,
        wall: UnixMs,
        from: MemberIndex,
        message: &SignatureSetMessage,
    ) {
        if let Some(certificate) = &message.certificate
            && !self.on_certificate(now, wall, certificate)
        {
            self.misbehaviour.record(from, Misbehaviour::BadCertificate, 1);
            return;
        }
        let id = message.event_id;
        let hash = message.template_hash;
        let Some(state) = self.events.get_mut(&id) else { return };
        if message.epoch != state.epoch || state.is_finished() {
            return;
        }
        // Only signatures of a certified template count; the certificate must be known.
        let certified = state.lock.as_ref().is_some_and(|l| l.vote.template_hash == hash)
            || state.sets.contains_key(&hash);
        if certified && !state.templates.contains_key(&hash) {
            self.request_template(wall, hash);
            return;
        }
        let Some(template) = state.templates.get(&hash) else { return };
        if !certified {
            self.misbehaviour.record(from, Misbehaviour::UncertifiedSignatures, 1);
            return;
        }
        if !state.sets.contains_key(&hash) && state.sets.len() >= MAX_SIGNATURE_SETS_PER_EVENT {
            return;
        }
        if state.sets.get(&hash).is_some_and(SignatureSet::is_complete) {
            // Already `m` signatures on every input: more would not change the transaction, so they
            // are not verified (the set still helps any peer that asks).
            return;
        }
        // A template's sighashes are computed once, not once per message carrying its signatures.
        let sighashes = state.sighashes.entry(hash).or_insert_with(|| template.sighashes());
        let Some(set) = signature_set(&mut state.sets, &self.config.group, hash, sighashes.len()) else {
            return;
        };
        // Invalid signatures are refused by the set; they never enter, and count against the sender.
        let report = set.merge_from(&self.config.group, sighashes, message.signatures.iter().copied());
        let rejected = u64::try_from(report.rejected_total).unwrap_or(u64::MAX);
        if rejected > 0 {
            self.misbehaviour.record(from, Misbehaviour::BadSignature, rejected);
        }
        self.try_finalize(id, hash);
    }

    pub(super) fn try_finalize(&mut self, id: EventId, hash: TemplateHash) {
        let Some(state) = self.events.get_mut(&id) else { return };
        if matches!(state.phase, Phase::Submitted { .. }) {
            return;
        }
        let (Some(set), Some(template)) = (state.sets.get(&hash), state.templates.get(&hash)) else { return };
        if !set.is_complete() {
            return;
        }
        let Ok(transaction) = set.finalize(template, &self.config.group, &self.script) else { return };
        let transaction_id = crate::kaspa::hashing::transaction_id(&transaction);
        state.phase = Phase::Submitted { transaction_id };
        state.deadline = None;
        state.transaction = Some((transaction_id, transaction.clone()));
        // The chain may have accepted it already (another member submitted first): the next chain
        // report then confirms the event.
        if let Some(&daa_score) = self.accepted.get(&transaction_id) {
            state.paid(transaction_id, daa_score);
        }
        self.outputs.push_back(Output::Chain(ChainRequest::Submit { event_id: id, transaction }));
        self.notify(EventUpdate::Finalized { event_id: id, transaction_id });
    }
}

/// The signature set of `hash`, created on first use.
pub(super) fn signature_set<'s>(
    sets: &'s mut BTreeMap<TemplateHash, SignatureSet>,
    group: &Group,
    hash: TemplateHash,
    inputs: usize,
) -> Option<&'s mut SignatureSet> {
    match sets.entry(hash) {
        alloc::collections::btree_map::Entry::Occupied(e) => Some(e.into_mut()),
        alloc::collections::btree_map::Entry::Vacant(v) => {
            SignatureSet::new(group, hash, inputs).ok().map(|set| v.insert(set))
        }
    }
}
