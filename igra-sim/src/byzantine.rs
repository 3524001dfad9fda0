//! The canary's Byzantine coalition: members `0..m` forge a second certified, fully signed template.
//!
//! This is the "deliberately broken signer" the simulator must catch, built as crafted frames from
//! Byzantine members rather than as a modified node (the simulator only ever runs the real node). The
//! coalition holds `m` keys, so `b = m >= 2m - n` breaks the bound `2m > n + b` under which S2 and S5
//! are promised: it builds its own template for the event from a different UTXO selection, votes for it
//! in round 0 with all `m` keys (a valid certificate), signs every input with all `m` keys, and sends
//! the certificate and the complete signature set to every other member. Honest nodes accept both (each
//! piece is valid), report the certificate (S5: two certificates for one round) and finalize the forged
//! transaction (S2: the event is paid twice when its inputs are disjoint from the honest one's).

use std::collections::BTreeSet;

use igra_proto::template::{BuildRequest, TemplatePolicy, Utxo, build};
use igra_proto::wire::{Body, BoundedVec, CertificateMessage, SignatureSetMessage, VoteMessage};
use igra_proto::{MemberIndex, QuorumCertificate, Sealer, SignedVote, Vote};

use crate::fixture::member_signer;
use crate::sim::Simulation;

/// The boot epoch the coalition seals with: below the real members' (1), so that their own nodes'
/// later frames still pass the gate and the honest certificate can form next to the forged one.
const FORGER_BOOT_EPOCH: u64 = 0;

/// What the coalition does for one event: frames `(from, to, frame)` to inject, and the transaction it
/// finalizes on its own that pays the event's amount to the coalition instead of the event's destination.
pub(crate) struct Forgery {
    /// Frames to deliver.
    pub frames: Vec<(usize, usize, Vec<u8>)>,
    /// The theft, signed by `m` coalition keys.
    pub theft: Option<igra_proto::kaspa::tx::Transaction>,
}

/// The coalition's forgery for `event`: frames to inject and a theft to submit.
pub(crate) fn forge(sim: &Simulation, event: usize) -> Forgery {
    let frames = forge_frames(sim, event);
    let theft = steal(sim, event);
    Forgery { frames, theft }
}

/// With `m` keys the coalition can sign anything: a transaction paying the event's amount to itself. The
/// ledger accepts it (the signatures are valid); the simulator must see that it pays no event as asked
/// (S3).
pub(crate) fn steal(sim: &Simulation, event: usize) -> Option<igra_proto::kaspa::tx::Transaction> {
    let m = sim.swarm().m;
    let event = sim.fixture.events.get(event)?;
    let theft = igra_proto::template::Payment {
        destination: igra_proto::kaspa::script::pay_to_pubkey(&igra_proto::SigningPublicKey([0x66; 32])),
        amount: event.payment.amount,
    };
    let utxos = sim.ledger.utxos();
    let template = build(&BuildRequest {
        event_id: event.id(),
        epoch: 0,
        round: 0,
        payment: &theft,
        group_script: &sim.fixture.script,
        policy: &TemplatePolicy::default(),
        utxos: &utxos,
        reserved: &BTreeSet::new(),
        virtual_daa_score: sim.ledger.daa_score(),
    })
    .ok()?;
    let signatures: Vec<_> = (0..m)
        .filter_map(|k| template.sign(&member_signer(k), MemberIndex(k), &[0x5b; 32]).ok())
        .flatten()
        .collect();
    template.finalize(&sim.fixture.group, &sim.fixture.script, &signatures).ok()
}

/// Frames `(from, to, frame)` the coalition injects for `event`; none if it cannot build a template.
fn forge_frames(sim: &Simulation, event: usize) -> Vec<(usize, usize, Vec<u8>)> {
    let (n, m) = (sim.swarm().n, sim.swarm().m);
    let Some(event) = sim.fixture.events.get(event) else { return Vec::new() };
    let id = event.id();
    let group = &sim.fixture.group;
    // A different selection from the honest builder's: the other half of the pool, largest first
    // removed, so that the forged transaction's inputs tend to be disjoint from the honest one's.
    let utxos = sim.ledger.utxos();
    let odd: Vec<Utxo> = utxos.iter().skip(1).step_by(2).cloned().collect();
    let policy = TemplatePolicy::default();
    let reserved = BTreeSet::new();
    let attempt = |utxos: &[Utxo]| {
        build(&BuildRequest {
            event_id: id,
            epoch: 0,
            round: 0,
            payment: &event.payment,
            group_script: &sim.fixture.script,
            policy: &policy,
            utxos,
            reserved: &reserved,
            virtual_daa_score: sim.ledger.daa_score(),
        })
    };
    let Ok(template) = attempt(&odd).or_else(|_| attempt(&utxos)) else { return Vec::new() };
    let (Ok(encoded), Ok(encoded_event)) = (template.encode(), event.encode()) else { return Vec::new() };
    let hash = template.hash();
    let vote = Vote { event_id: id, epoch: 0, round: 0, template_hash: hash };
    let coalition: Vec<_> = (0..m).map(|k| (MemberIndex(k), member_signer(k))).collect();
    let votes: Vec<SignedVote> = coalition
        .iter()
        .filter_map(|(me, signer)| SignedVote::sign(vote, *me, group.id(), signer).ok())
        .collect();
    let Ok(certificate) = QuorumCertificate::from_votes(&votes) else { return Vec::new() };
    let aux = [0x5a; 32];
    let signatures: Vec<_> =
        coalition.iter().filter_map(|(me, signer)| template.sign(signer, *me, &aux).ok()).flatten().collect();
    let Ok(signatures) = BoundedVec::try_from(signatures) else { return Vec::new() };
    // Each coalition member votes the forged template, carrying the event so that a member that has
    // not heard of it yet learns it; then member 0 sends the certificate and the complete signature set.
    let wall = sim.wall_of(0);
    let mut frames = Vec::new();
    let mut sealers: Vec<Sealer> =
        (0..m).map(|k| Sealer::new(group, MemberIndex(k), FORGER_BOOT_EPOCH)).collect();
    let mut seal_to_all = |from: MemberIndex, body: &Body| {
        let signer = member_signer(from.0);
        let Some(sealer) = sealers.get_mut(usize::from(from.0)) else { return };
        let Ok(frame) = sealer.seal(&signer, wall, body) else { return };
        for to in (0..usize::from(n)).filter(|to| *to != usize::from(from.0)) {
            frames.push((usize::from(from.0), to, frame.clone()));
        }
    };
    for vote in &votes {
        let body = Body::Vote(VoteMessage {
            vote: *vote,
            lock: None,
            template: Some(encoded.clone()),
            event: Some(encoded_event.clone()),
        });
        seal_to_all(vote.voter, &body);
    }
    let certificate_body =
        Body::Certificate(CertificateMessage { certificate: certificate.clone(), template: Some(encoded) });
    let signatures_body = Body::Signatures(SignatureSetMessage {
        event_id: id,
        epoch: 0,
        template_hash: hash,
        certificate: Some(certificate),
        signatures,
    });
    seal_to_all(MemberIndex(0), &certificate_body);
    seal_to_all(MemberIndex(0), &signatures_body);
    frames
}
