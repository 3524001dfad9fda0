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
        output_keys: None,
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
            output_keys: None,
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

/// The attacks of Byzantine members within the bound (`b <= 2m - n - 1`, and `n - b >= m` so that the
/// honest members still form a quorum). Each attacker holds its real keys and seals real frames with
/// its own [`Sealer`]; it runs no node. Honest nodes must refuse and count each attack
/// (`Node::misbehaviour`, the gate's counters) while S1-S5 hold and L1 holds for every event.
pub(crate) mod within_bound {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};

    use igra_proto::kaspa::script::pay_to_pubkey;
    use igra_proto::template::{BuildRequest, Payment, Template, TemplatePolicy, build};
    use igra_proto::vote::VoteSignature;
    use igra_proto::wire::{
        Body, BoundedVec, CertificateMessage, CompletionMessage, PartialSignature, SignatureSetMessage,
        VoteMessage,
    };
    use igra_proto::{
        MemberIndex, QuorumCertificate, SchnorrSignature, Sealer, SignedVote, SigningPublicKey, TemplateHash,
        TransactionId, Vote,
    };

    use crate::fixture::member_signer;
    use crate::sim::Simulation;

    /// Frames kept for replay, most recent last.
    const MAX_REPLAYS: usize = 64;
    /// Frames one flood sends.
    const FLOOD_FRAMES: u32 = 40;

    /// The Byzantine members' shared state: their sealers, frames seen for replay, frames sent.
    #[derive(Default)]
    pub(crate) struct Coalition {
        sealers: BTreeMap<usize, Sealer>,
        replays: VecDeque<(usize, Vec<u8>)>,
        /// Frames sent per attack: `equivocation`, `forged_qc`, `completion_claim`,
        /// `invalid_signatures`, `wrong_destination`, `inflated_fee`, `replay`, `flood`.
        pub(crate) sent: BTreeMap<&'static str, u64>,
    }

    impl Coalition {
        /// A coalition of `members`, sealing with boot epoch 1 as their real nodes would.
        pub(crate) fn new(sim: &Simulation, members: &[usize]) -> Self {
            let sealers = members
                .iter()
                .map(|m| (*m, Sealer::new(&sim.fixture.group, MemberIndex(u8::try_from(*m).unwrap_or(0)), 1)))
                .collect();
            Self { sealers, ..Self::default() }
        }

        /// Keeps an honest frame for a later replay.
        pub(crate) fn overhear(&mut self, from: usize, frame: &[u8]) {
            if self.replays.len() >= MAX_REPLAYS {
                self.replays.pop_front();
            }
            self.replays.push_back((from, frame.to_vec()));
        }

        /// One wave of every attack on `event` by every coalition member: frames `(from, to, frame)`.
        pub(crate) fn attack(
            &mut self,
            sim: &Simulation,
            event: usize,
            honest: &[usize],
        ) -> Vec<(usize, usize, Vec<u8>)> {
            let mut frames = Vec::new();
            let attackers: Vec<usize> = self.sealers.keys().copied().collect();
            for attacker in attackers {
                for (name, to, body) in bodies(sim, event, attacker, honest) {
                    self.seal(sim, attacker, to, &body, name, &mut frames);
                }
                // A flood: votes far beyond the round limit, to every honest node.
                for k in 0..FLOOD_FRAMES {
                    if let Some(body) = far_vote(sim, event, attacker, k) {
                        let to = honest[usize::try_from(k).unwrap_or(0) % honest.len().max(1)];
                        self.seal(sim, attacker, to, &body, "flood", &mut frames);
                    }
                }
            }
            // Replays of honest frames heard earlier, to other honest nodes.
            for (i, (from, frame)) in self.replays.iter().enumerate() {
                let to = honest[i % honest.len().max(1)];
                if to != *from {
                    frames.push((*from, to, frame.clone()));
                    *self.sent.entry("replay").or_default() += 1;
                }
            }
            frames
        }

        fn seal(
            &mut self,
            sim: &Simulation,
            from: usize,
            to: usize,
            body: &Body,
            attack: &'static str,
            frames: &mut Vec<(usize, usize, Vec<u8>)>,
        ) {
            let signer = member_signer(u8::try_from(from).unwrap_or(0));
            let Some(sealer) = self.sealers.get_mut(&from) else { return };
            if let Ok(frame) = sealer.seal(&signer, sim.wall_of(from).max(sim.wall_of(to)), body) {
                frames.push((from, to, frame));
                *self.sent.entry(attack).or_default() += 1;
            }
        }
    }

    /// A template for `event` paying `payment`, from the ledger's outputs.
    fn template_paying(sim: &Simulation, event: usize, payment: &Payment, odd: bool) -> Option<Template> {
        let e = sim.fixture.events.get(event)?;
        let utxos: Vec<_> = if odd {
            sim.ledger.utxos().into_iter().skip(1).step_by(2).collect()
        } else {
            sim.ledger.utxos()
        };
        build(&BuildRequest {
            event_id: e.id(),
            epoch: 0,
            round: 0,
            payment,
            group_script: &sim.fixture.script,
            policy: &TemplatePolicy::default(),
            utxos: &utxos,
            output_keys: None,
            reserved: &BTreeSet::new(),
            virtual_daa_score: sim.ledger.daa_score(),
        })
        .ok()
    }

    fn vote_body(
        sim: &Simulation,
        event: usize,
        voter: MemberIndex,
        signer_index: u8,
        round: u32,
        t: &Template,
    ) -> Option<Body> {
        let e = sim.fixture.events.get(event)?;
        let vote = Vote { event_id: e.id(), epoch: 0, round, template_hash: t.hash() };
        let signed =
            SignedVote::sign(vote, voter, sim.fixture.group.id(), &member_signer(signer_index)).ok()?;
        Some(Body::Vote(VoteMessage {
            vote: signed,
            lock: None,
            template: t.encode().ok(),
            event: e.encode().ok(),
        }))
    }

    fn far_vote(sim: &Simulation, event: usize, attacker: usize, k: u32) -> Option<Body> {
        let e = sim.fixture.events.get(event)?;
        let me = u8::try_from(attacker).ok()?;
        let vote = Vote {
            event_id: e.id(),
            epoch: 0,
            round: 1_000 + k,
            template_hash: TemplateHash([u8::try_from(k % 256).unwrap_or(0); 32]),
        };
        let signed =
            SignedVote::sign(vote, MemberIndex(me), sim.fixture.group.id(), &member_signer(me)).ok()?;
        Some(Body::Vote(VoteMessage { vote: signed, lock: None, template: None, event: None }))
    }

    /// Every attack's bodies for one wave: `(attack, to, body)`.
    fn bodies(
        sim: &Simulation,
        event: usize,
        attacker: usize,
        honest: &[usize],
    ) -> Vec<(&'static str, usize, Body)> {
        let mut out = Vec::new();
        let (Some(e), Ok(me)) = (sim.fixture.events.get(event), u8::try_from(attacker)) else { return out };
        let id = e.id();
        let member = MemberIndex(me);
        // Equivocation: two valid templates, one to each half of the honest nodes, in the current round.
        let round = sim.honest_round(id);
        let (a, b) =
            (template_paying(sim, event, &e.payment, false), template_paying(sim, event, &e.payment, true));
        if let (Some(a), Some(b)) = (a, b) {
            for (i, to) in honest.iter().enumerate() {
                let t = if i % 2 == 0 { &a } else { &b };
                if let Some(body) = vote_body(sim, event, member, me, round, t) {
                    out.push(("equivocation", *to, body));
                }
            }
            // Both votes to one node, so that it sees the equivocation itself.
            if let (Some(to), Some(body)) = (honest.first(), vote_body(sim, event, member, me, round, &b)) {
                out.push(("equivocation", *to, body));
            }
            // A forged certificate: votes in honest members' names, all signed with the attacker's key.
            let vote = Vote { event_id: id, epoch: 0, round, template_hash: b.hash() };
            let signatures: Vec<VoteSignature> = (0..sim.swarm().m)
                .filter_map(|k| {
                    SignedVote::sign(vote, MemberIndex(k), sim.fixture.group.id(), &member_signer(me)).ok()
                })
                .map(|v| VoteSignature { voter: v.voter, signature: v.signature })
                .collect();
            if let Ok(signatures) = BoundedVec::try_from(signatures) {
                let certificate = QuorumCertificate { vote, signatures };
                for to in honest {
                    let body = Body::Certificate(CertificateMessage {
                        certificate: certificate.clone(),
                        template: b.encode().ok(),
                    });
                    out.push(("forged_qc", *to, body));
                }
            }
            // An inflated fee: template b with its change cut down, hashed anew.
            let mut fat = b;
            if let Some(change) = fat.transaction.outputs.get_mut(1) {
                change.value /= 2;
                for to in honest {
                    if let Some(body) = vote_body(sim, event, member, me, round, &fat) {
                        out.push(("inflated_fee", *to, body));
                    }
                }
            }
        }
        // A template paying the event's amount to the attacker.
        let theft =
            Payment { destination: pay_to_pubkey(&SigningPublicKey([0x77; 32])), amount: e.payment.amount };
        if let Some(t) = template_paying(sim, event, &theft, false) {
            for to in honest {
                if let Some(body) = vote_body(sim, event, member, me, round, &t) {
                    out.push(("wrong_destination", *to, body));
                }
            }
        }
        // Invalid partial signatures for the honest certified template (if one exists yet).
        if let Some(lock) = sim.honest_lock(id) {
            let junk: Vec<PartialSignature> = (0..4)
                .map(|i| PartialSignature {
                    input_index: i,
                    signer: member,
                    signature: SchnorrSignature([0x13; 64]),
                })
                .collect();
            if let Ok(signatures) = BoundedVec::try_from(junk) {
                for to in honest {
                    let body = Body::Signatures(SignatureSetMessage {
                        event_id: id,
                        epoch: lock.vote.epoch,
                        template_hash: lock.vote.template_hash,
                        certificate: Some(lock.clone()),
                        signatures: signatures.clone(),
                    });
                    out.push(("invalid_signatures", *to, body));
                }
            }
        }
        // A claim that the event is complete, with a made-up transaction.
        for to in honest {
            let body = Body::Completion(CompletionMessage {
                event_id: id,
                epoch: 0,
                template_hash: TemplateHash([0xcc; 32]),
                transaction_id: TransactionId([0xcc; 32]),
            });
            out.push(("completion_claim", *to, body));
        }
        out
    }
}
