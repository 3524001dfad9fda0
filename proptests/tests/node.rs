//! The coordination core on a tiny in-test cluster: every frame delivered, every batch durable at once,
//! time jumping to the next deadline when nothing else can happen.

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::script::pay_to_pubkey;
use igra_proto::kaspa::tx::SOMPI_PER_KASPA;
use igra_proto::node::{ChainEvent, ChainRules, EventRefusal, Input, Phase, Record, Timing};
use igra_proto::template::{Payment, TemplatePolicy};
use igra_proto::wire::{BoundedVec, MessageKind};
use igra_proto::{EventId, Instant, MemberIndex, SigningPublicKey, TransactionId};
use proptests::cluster::{Cluster, DAA, entries_of};
use proptests::test_signer;

#[test]
fn three_of_five_pays_an_event_in_one_round() {
    let mut c = Cluster::new(5, 3);
    let event = c.event(1, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id), "every node finalizes");
    let txids: Vec<_> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
    assert!(txids.windows(2).all(|w| w[0] == w[1]), "every node finalizes the same transaction");
    for node in &c.nodes {
        let status = node.status(&id).unwrap();
        assert_eq!(status.round, 0, "one voting round");
        assert_eq!(status.my_votes.len(), 1);
        assert!(status.signed.is_some());
    }
    let (_, _, tx) = &c.submitted[0];
    c.check_signed(tx, &entries_of(&c, tx));
    assert_eq!(tx.outputs[0].value, 3 * SOMPI_PER_KASPA);
}

#[test]
fn split_utxo_views_converge_in_a_later_round() {
    let mut c = Cluster::new(5, 3);
    // Each node sees a different part of the pool, so every round-0 template differs.
    let pool = c.views[0].clone();
    for (i, view) in c.views.iter_mut().enumerate() {
        *view = pool.iter().skip(i * 4).take(4).cloned().collect();
    }
    let event = c.event(2, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    let start = c.now;
    for i in 0..5 {
        c.input(i, Input::NewEvent(event.clone()));
    }
    c.run_until(120_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    let rounds: Vec<u32> = c.nodes.iter().map(|n| n.status(&id).unwrap().round).collect();
    assert!(rounds.iter().all(|r| *r >= 1), "no quorum in round 0: {rounds:?}");
    // Round 0 held every member's vote and no quorum: it ended at once, not at its timeout.
    let elapsed = c.now.millis_since(start);
    assert!(elapsed < Timing::default().round_timeout_ms, "took {elapsed} ms");
    let txids: Vec<_> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
    assert!(txids.windows(2).all(|w| w[0] == w[1]));
    // Sign-once: every node signed exactly one template.
    let signed: Vec<_> = c.nodes.iter().map(|n| n.status(&id).unwrap().signed.unwrap()).collect();
    assert!(signed.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_node_restarted_after_voting_keeps_its_vote_and_the_event_completes() {
    let mut c = Cluster::new(5, 3);
    let event = c.event(3, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    let before = c.nodes[0].status(&id).unwrap().my_votes;
    assert_eq!(before.len(), 1);
    // The vote's frame is still in flight; node 0 crashes and restarts from its records.
    c.crash_and_restart(0);
    let after = c.nodes[0].status(&id).unwrap();
    assert_eq!(after.my_votes, before, "the restarted node remembers its vote");
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    assert_eq!(
        c.nodes[0].status(&id).unwrap().my_votes[0],
        before[0],
        "and never votes differently in round 0"
    );
}

#[test]
fn a_node_restarted_after_signing_never_signs_another_template() {
    let mut c = Cluster::new(5, 3);
    let event = c.event(4, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    // Deliver until node 0 has signed, then crash it before anything else happens.
    while c.nodes[0].status(&id).unwrap().signed.is_none() {
        let (to, frame) = c.network.pop_front().expect("the protocol progresses");
        c.input(to, Input::Frame(frame));
    }
    let signed = c.nodes[0].status(&id).unwrap().signed;
    c.crash_and_restart(0);
    let restored = c.nodes[0].status(&id).unwrap();
    assert_eq!(restored.signed, signed, "the sign-once record survives the crash");
    assert_eq!(restored.phase, Phase::Signing);
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    for node in &c.nodes {
        assert_eq!(node.status(&id).unwrap().signed, signed);
    }
}

#[test]
fn the_policy_cap_holds_across_concurrent_events() {
    let mut c = Cluster::new(3, 2);
    for config in &mut c.configs {
        config.policy.global_cap = Some(5 * SOMPI_PER_KASPA);
    }
    for i in 0..3 {
        c.crash_and_restart(i);
    }
    // Each fits the cap alone, not together.
    let first = c.event(5, 3 * SOMPI_PER_KASPA);
    let second = c.event(6, 3 * SOMPI_PER_KASPA);
    let (a, b) = (first.id(), second.id());
    c.input(0, Input::NewEvent(first));
    c.input(0, Input::NewEvent(second));
    c.run_until(120_000, |c| c.all_submitted(&a));
    assert!(c.all_submitted(&a));
    assert!(
        c.nodes.iter().all(|n| n.status(&b).is_none_or(|s| s.signed.is_none())),
        "the second event is never signed"
    );
    assert!(c.refused.iter().any(|(_, r)| matches!(r, EventRefusal::Policy(_))), "refusals are typed");
}

#[test]
fn a_confirmed_event_ends_and_a_conflicting_spend_starts_a_new_epoch() {
    let mut c = Cluster::new(5, 3);
    let paid = c.event(7, 3 * SOMPI_PER_KASPA);
    let doomed = c.event(8, 2 * SOMPI_PER_KASPA);
    let (a, b) = (paid.id(), doomed.id());
    c.input(0, Input::NewEvent(paid));
    c.input(1, Input::NewEvent(doomed));
    c.run_until(60_000, |c| c.all_submitted(&a) && c.all_submitted(&b));
    let tx_of = |c: &Cluster, id: EventId| c.submitted.iter().find(|(_, e, _)| *e == id).unwrap().2.clone();
    let (tx_a, tx_b) = (tx_of(&c, a), tx_of(&c, b));

    // Event a: accepted, then deep enough.
    for i in 0..5 {
        c.input(
            i,
            Input::Chain(ChainEvent::Accepted { transaction_id: transaction_id(&tx_a), daa_score: DAA + 10 }),
        );
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 10 + ChainRules::default().confirm_depth)));
    }
    for node in &c.nodes {
        assert_eq!(
            node.status(&a).unwrap().phase,
            Phase::Confirmed { transaction_id: transaction_id(&tx_a) }
        );
    }

    // Event b: someone else spends one of its inputs; once final, the event starts over in epoch 1.
    let stolen = tx_b.inputs[0].previous_outpoint;
    for view in &mut c.views {
        view.retain(|u| {
            u.outpoint != stolen && tx_a.inputs.iter().all(|i| i.previous_outpoint != u.outpoint)
        });
    }
    for i in 0..5 {
        c.input(
            i,
            Input::Chain(ChainEvent::Spent {
                outpoint: stolen,
                by: TransactionId([0xee; 32]),
                daa_score: DAA + 20,
            }),
        );
        // Not final yet: nothing changes.
        assert_eq!(c.nodes[i].status(&b).unwrap().epoch, 0);
    }
    for i in 0..5 {
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 20 + ChainRules::default().finality_depth)));
    }
    c.submitted.clear();
    c.run_until(60_000, |c| c.all_submitted(&b));
    assert!(c.all_submitted(&b));
    for node in &c.nodes {
        assert_eq!(node.status(&b).unwrap().epoch, 1, "a dead template moves the event to the next epoch");
    }
    let retry = tx_of(&c, b);
    assert_ne!(transaction_id(&retry), transaction_id(&tx_b));
    assert!(retry.inputs.iter().all(|i| i.previous_outpoint != stolen));
    assert_eq!(retry.outputs[0].value, 2 * SOMPI_PER_KASPA, "the same payment, once");
}

#[test]
fn a_dropped_transaction_is_submitted_again() {
    let mut c = Cluster::new(3, 2);
    let event = c.event(9, SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(60_000, |c| c.all_submitted(&id));
    let tx = c.submitted[0].2.clone();
    let before = c.submitted.len();
    c.input(0, Input::Chain(ChainEvent::Dropped { transaction_id: transaction_id(&tx) }));
    assert_eq!(c.submitted.len(), before + 1);
    assert_eq!(transaction_id(&c.submitted[before].2), transaction_id(&tx));
}

/// A reorg orphans the payment before it is confirmed: the event waits again (no confirmation from the
/// orphaned acceptance), the node resubmits the same transaction, and the re-acceptance confirms it.
#[test]
fn an_orphaned_payment_waits_again_and_is_resubmitted_not_confirmed() {
    let mut c = Cluster::new(3, 2);
    let event = c.event(10, SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(60_000, |c| c.all_submitted(&id));
    let tx = c.submitted[0].2.clone();
    let txid = transaction_id(&tx);
    let depth = ChainRules::default().confirm_depth;
    c.input(0, Input::Chain(ChainEvent::Accepted { transaction_id: txid, daa_score: DAA + 10 }));
    for input in &tx.inputs {
        let spent = ChainEvent::Spent { outpoint: input.previous_outpoint, by: txid, daa_score: DAA + 10 };
        c.input(0, Input::Chain(spent));
    }
    let before = c.submitted.len();
    c.input(0, Input::Chain(ChainEvent::Unaccepted { transaction_id: txid }));
    assert_eq!(c.submitted.len(), before + 1, "the orphaned transaction is submitted again");
    assert_eq!(transaction_id(&c.submitted[before].2), txid, "the same transaction, not a new one");
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 10 + depth)));
    assert_eq!(c.nodes[0].status(&id).unwrap().phase, Phase::Submitted { transaction_id: txid });
    // Accepted again, later: confirmed only at depth from the new acceptance.
    c.input(0, Input::Chain(ChainEvent::Accepted { transaction_id: txid, daa_score: DAA + 50 }));
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 49 + depth)));
    assert_eq!(c.nodes[0].status(&id).unwrap().phase, Phase::Submitted { transaction_id: txid });
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 50 + depth)));
    assert_eq!(c.nodes[0].status(&id).unwrap().phase, Phase::Confirmed { transaction_id: txid });
}

/// A conflicting spend that a reorg orphans never kills the signed template, even once its DAA score is
/// past finality depth: no new epoch, no second signature.
/// A 2-of-3 cluster that took event `tag` (1 KAS) and handed its transaction to the chain.
fn one_submitted_event(tag: u8) -> (Cluster, EventId, igra_proto::kaspa::tx::Transaction) {
    let mut c = Cluster::new(3, 2);
    let event = c.event(tag, SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(60_000, |c| c.all_submitted(&id));
    let tx = c.submitted[0].2.clone();
    (c, id, tx)
}

#[test]
fn an_orphaned_conflicting_spend_starts_no_new_epoch() {
    let (mut c, id, tx) = one_submitted_event(11);
    let rival = TransactionId([0xdd; 32]);
    let spent =
        ChainEvent::Spent { outpoint: tx.inputs[0].previous_outpoint, by: rival, daa_score: DAA + 20 };
    for i in 0..3 {
        c.input(i, Input::Chain(spent));
        c.input(i, Input::Chain(ChainEvent::Unaccepted { transaction_id: rival }));
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 20 + ChainRules::default().finality_depth)));
        let status = c.nodes[i].status(&id).unwrap();
        assert_eq!(status.epoch, 0, "node {i}: a reorged conflict is no conflict");
        assert_eq!(status.phase, Phase::Submitted { transaction_id: transaction_id(&tx) });
    }
    // The same spend accepted again (and final) does kill it.
    c.input(0, Input::Chain(spent));
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 21 + ChainRules::default().finality_depth)));
    assert_eq!(c.nodes[0].status(&id).unwrap().epoch, 1);
}

/// Nodes that restart after the chain reported a conflicting spend of their signed template still see
/// it die at finality: the chain client does not report a spend again after a restart (kaspad's
/// notifications are of changes; the snapshot only lacks the output), so the conflict is persisted.
#[test]
fn a_conflict_reported_before_a_restart_still_kills_the_template() {
    let (mut c, id, tx) = one_submitted_event(12);
    let stolen = tx.inputs[0].previous_outpoint;
    for view in &mut c.views {
        view.retain(|u| u.outpoint != stolen);
    }
    let spent = ChainEvent::Spent { outpoint: stolen, by: TransactionId([0xcc; 32]), daa_score: DAA + 20 };
    for i in 0..3 {
        c.input(i, Input::Chain(spent));
        c.crash_and_restart(i);
    }
    for i in 0..3 {
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 20 + ChainRules::default().finality_depth)));
        assert_eq!(c.nodes[i].status(&id).unwrap().epoch, 1, "node {i}: the template died after the restart");
    }
    c.submitted.clear();
    c.run_until(60_000, |c| c.all_submitted(&id));
    let retry = c.submitted[0].2.clone();
    assert!(retry.inputs.iter().all(|i| i.previous_outpoint != stolen), "epoch 1 pays from other outputs");
}

/// A conflict orphaned by a reorg before a restart stays withdrawn after it.
#[test]
fn a_conflict_orphaned_before_a_restart_stays_withdrawn() {
    let (mut c, id, tx) = one_submitted_event(13);
    let rival = TransactionId([0xcd; 32]);
    let spent =
        ChainEvent::Spent { outpoint: tx.inputs[0].previous_outpoint, by: rival, daa_score: DAA + 20 };
    for i in 0..3 {
        c.input(i, Input::Chain(spent));
        c.input(i, Input::Chain(ChainEvent::Unaccepted { transaction_id: rival }));
        c.crash_and_restart(i);
    }
    for i in 0..3 {
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 20 + ChainRules::default().finality_depth)));
        assert_eq!(
            c.nodes[i].status(&id).unwrap().epoch,
            0,
            "node {i}: the withdrawn conflict stayed withdrawn"
        );
    }
    c.submitted.clear();
    c.run_until(60_000, |c| c.all_submitted(&id));
    for node in &c.nodes {
        assert_eq!(node.status(&id).unwrap().phase, Phase::Submitted { transaction_id: transaction_id(&tx) });
    }
}

/// Member 4 turns hostile: each attempt is refused, counted, and changes nothing it should not.
#[test]
fn hostile_inputs_are_refused_counted_and_harmless() {
    use igra_proto::node::Misbehaviour;
    use igra_proto::vote::VoteSignature;
    use igra_proto::wire::{Body, CertificateMessage, CompletionMessage, SignatureSetMessage, VoteMessage};
    use igra_proto::{QuorumCertificate, Sealer, SignedVote, Vote};

    let mut c = Cluster::new(5, 3);
    let event = c.event(10, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event.clone()));
    c.network.clear(); // node 0 voted; nobody heard it yet
    let group = c.f.group.id();
    let evil = test_signer(4);
    let mut sealer = Sealer::new(&c.f.group, MemberIndex(4), 9);
    let mut send = |c: &mut Cluster, body: Body| {
        let frame = sealer.seal(&evil, c.wall(), &body).unwrap();
        c.input(0, Input::Frame(frame));
    };
    let bad = thieving_template(&c, id, event.payment.amount);
    let bad_hash = bad.hash();
    let vote = |round, template_hash| Vote { event_id: id, epoch: 0, round, template_hash };
    let vote_message = |v: SignedVote, template: Option<&igra_proto::template::Template>| {
        Body::Vote(VoteMessage {
            vote: v,
            lock: None,
            template: template.map(|t| t.encode().unwrap()),
            event: None,
        })
    };

    // A vote in another member's name.
    let forged = SignedVote::sign(vote(0, bad_hash), MemberIndex(3), group, &evil).unwrap();
    send(&mut c, vote_message(forged, None));
    // A vote far beyond the round limit, trying to drag the node along.
    let far = SignedVote::sign(vote(1_000, bad_hash), MemberIndex(4), group, &evil).unwrap();
    send(&mut c, vote_message(far, None));
    assert_eq!(c.nodes[0].status(&id).unwrap().round, 0);
    // A vote for the thieving template, with the template attached.
    let theft_vote = SignedVote::sign(vote(0, bad_hash), MemberIndex(4), group, &evil).unwrap();
    send(&mut c, vote_message(theft_vote, Some(&bad)));
    // The same member votes again in round 0 for something else: equivocation.
    let other =
        SignedVote::sign(vote(0, igra_proto::TemplateHash([1; 32])), MemberIndex(4), group, &evil).unwrap();
    send(&mut c, vote_message(other, None));
    // A "certificate" with only the attacker's vote in it.
    let thin = QuorumCertificate {
        vote: vote(0, bad_hash),
        signatures: vec![VoteSignature { voter: MemberIndex(4), signature: theft_vote.signature }]
            .try_into()
            .unwrap(),
    };
    send(&mut c, Body::Certificate(CertificateMessage { certificate: thin, template: None }));
    // Signatures for a template nobody certified.
    send(
        &mut c,
        Body::Signatures(SignatureSetMessage {
            event_id: id,
            epoch: 0,
            template_hash: bad_hash,
            certificate: None,
            signatures: BoundedVec::new(),
        }),
    );
    // A claim that the event is complete.
    send(
        &mut c,
        Body::Completion(CompletionMessage {
            event_id: id,
            epoch: 0,
            template_hash: bad_hash,
            transaction_id: TransactionId([0xaa; 32]),
        }),
    );

    let counters = c.nodes[0].misbehaviour().clone();
    for kind in [
        Misbehaviour::ForgedVote,
        Misbehaviour::RoundOutOfRange,
        Misbehaviour::InvalidTemplate,
        Misbehaviour::Equivocation,
        Misbehaviour::BadCertificate,
    ] {
        assert!(counters.count(kind) >= 1, "{} not counted", kind.name());
    }
    assert_eq!(
        counters.of_member(MemberIndex(4)),
        counters.total(),
        "every rejection is charged to member 4"
    );
    let status = c.nodes[0].status(&id).unwrap();
    assert_eq!(status.signed, None, "nothing made the node sign");
    assert_eq!(status.phase, Phase::Voting, "a completion claim ends nothing");
    assert_eq!(status.equivocators, vec![MemberIndex(4)]);

    // The honest majority still pays the event, correctly.
    c.input(0, Input::NewEvent(event));
    for i in 1..4 {
        let e = c.event(10, 3 * SOMPI_PER_KASPA);
        c.input(i, Input::NewEvent(e));
    }
    c.run_until(60_000, |c| {
        (0..4).all(|i| c.nodes[i].status(&id).is_some_and(|s| matches!(s.phase, Phase::Submitted { .. })))
    });
    let (_, _, tx) = c.submitted.iter().find(|(_, e, _)| *e == id).unwrap();
    assert_eq!(tx.outputs[0].script_public_key, pay_to_pubkey(&SigningPublicKey([0x42; 32])));
    assert_ne!(c.nodes[0].status(&id).unwrap().signed, Some(bad_hash));
}

/// The node keeps each snapshot output's order key beside it (computed once per snapshot); a spend
/// reported after the snapshot removes the output and its key together, so the next template is the
/// one built from the smaller snapshot. Removing the output the template would start with moves the
/// snapshot's last output into its place: a key left behind would make the builder pick that one.
#[test]
fn a_reported_spend_removes_the_output_and_its_order_key_together() {
    let mut c = Cluster::new(5, 3);
    let event = c.event(18, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    let view = c.views[0].clone();
    assert!(view.len() >= 3, "a snapshot of several outputs");
    assert_eq!(c.configs[0].template_policy, TemplatePolicy::default());
    let template_of =
        |utxos: &[igra_proto::template::Utxo]| round_zero_template(&c, id, &event.payment, utxos, DAA + 1);
    let first = template_of(&view).transaction.inputs[0].previous_outpoint;
    let smaller: Vec<_> = view.iter().filter(|u| u.outpoint != first).cloned().collect();
    let expected = template_of(&smaller).hash();
    // The node hears of the snapshot with that output first (a snapshot's order is the chain's).
    let mut view = view;
    let at = view.iter().position(|u| u.outpoint == first).unwrap();
    view.swap(0, at);

    c.input(0, Input::Utxos { utxos: view, virtual_daa_score: DAA });
    let spent = ChainEvent::Spent { outpoint: first, by: TransactionId([0x55; 32]), daa_score: DAA + 1 };
    c.input(0, Input::Chain(spent));
    c.input(0, Input::NewEvent(event.clone()));
    let status = c.nodes[0].status(&id).unwrap();
    assert_eq!(status.my_votes.first().map(|(_, h)| *h), Some(expected));
}

/// A template for event `id` that pays an attacker instead of the event's destination.
fn thieving_template(c: &Cluster, id: EventId, amount: u64) -> igra_proto::template::Template {
    let theft = Payment { destination: pay_to_pubkey(&SigningPublicKey([0x66; 32])), amount };
    round_zero_template(c, id, &theft, &c.views[4], DAA)
}

/// The round-0, epoch-0 template of event `id` paying `payment` from `utxos`, nothing reserved, with
/// the group's default template policy.
fn round_zero_template(
    c: &Cluster,
    id: EventId,
    payment: &Payment,
    utxos: &[igra_proto::template::Utxo],
    virtual_daa_score: u64,
) -> igra_proto::template::Template {
    use igra_proto::template::{BuildRequest, build};
    build(&BuildRequest {
        event_id: id,
        epoch: 0,
        round: 0,
        payment,
        group_script: &c.script,
        policy: &TemplatePolicy::default(),
        utxos,
        output_keys: None,
        reserved: &std::collections::BTreeSet::new(),
        virtual_daa_score,
    })
    .unwrap()
}

#[test]
fn anti_entropy_repairs_lost_votes_and_signatures() {
    for lost in [MessageKind::Signatures, MessageKind::Vote] {
        let mut c = Cluster::new(5, 3);
        c.lost_kinds = vec![lost];
        c.lossy_until = Instant(500);
        let event = c.event(11, 3 * SOMPI_PER_KASPA);
        let id = event.id();
        c.input(0, Input::NewEvent(event));
        c.run_until(60_000, |c| c.all_submitted(&id));
        assert!(
            c.all_submitted(&id),
            "every {lost:?} frame of the first 500 ms was lost, and digests repaired it"
        );
        let txids: Vec<_> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
        assert!(txids.windows(2).all(|w| w[0] == w[1]));
    }
}

/// The lock rule: a node that has voted in round 1 does not sign on a round-0 certificate that arrives
/// late; it takes it as its lock and keeps voting its template.
#[test]
fn a_late_certificate_locks_but_does_not_sign_after_a_later_vote() {
    use igra_proto::wire::{Body, CertificateMessage};
    use igra_proto::{QuorumCertificate, Sealer, SignedVote, Vote};

    let mut c = Cluster::new(5, 3);
    let event = c.event(12, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.network.clear();
    // Round 0 times out with nobody heard: node 0 moves to round 1 and votes again.
    while c.nodes[0].status(&id).unwrap().round == 0 {
        c.now = c.nodes[0].poll_timeout().unwrap().0;
        c.input(0, Input::Timer);
        c.network.clear();
    }
    let status = c.nodes[0].status(&id).unwrap();
    assert_eq!(status.round, 1);
    let template_hash = status.my_votes[0].1;
    // A certificate of round 0 for node 0's template arrives now, from member 1.
    let vote = Vote { event_id: id, epoch: 0, round: 0, template_hash };
    let votes: Vec<_> = (0u8..3)
        .map(|i| {
            SignedVote::sign(vote, MemberIndex(i), c.f.group.id(), &c.f.signers[usize::from(i)]).unwrap()
        })
        .collect();
    let certificate = QuorumCertificate::from_votes(&votes).unwrap();
    let frame = Sealer::new(&c.f.group, MemberIndex(1), 7)
        .seal(
            &c.f.signers[1],
            c.wall(),
            &Body::Certificate(CertificateMessage { certificate, template: None }),
        )
        .unwrap();
    c.input(0, Input::Frame(frame));
    let status = c.nodes[0].status(&id).unwrap();
    assert_eq!(status.signed, None, "no signature on a certificate older than the node's latest vote");
    assert_eq!(status.lock.map(|l| l.vote.round), Some(0), "but the certificate is its lock now");
    // The lock it did not sign on is persisted too: a restart keeps it.
    c.crash_and_restart(0);
    let restored = c.nodes[0].status(&id).unwrap();
    assert_eq!(restored.lock.map(|l| l.vote.round), Some(0), "the restarted node lost its lock");
    assert_eq!(restored.signed, None);
    // The others, who never voted later, sign on round 0; node 0 finalizes from their signatures.
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    assert!(c.nodes[0].status(&id).unwrap().signed.is_none_or(|h| h == template_hash));
    let txids: Vec<_> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
    assert!(txids.windows(2).all(|w| w[0] == w[1]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..proptest::prelude::ProptestConfig::default() })]

    /// Under any delivery order, crashing and restoring nodes from their records gives back nodes that
    /// remember every vote, lock and signature, and the event still completes with one transaction.
    #[test]
    fn restore_of_persisted_state_behaves_as_the_original(
        picks in proptest::collection::vec((0usize..1000, 0usize..40), 1..120),
    ) {
        let mut c = Cluster::new(5, 3);
        let event = c.event(13, 3 * SOMPI_PER_KASPA);
        let id = event.id();
        c.input(0, Input::NewEvent(event));
        for (pick, crash) in picks {
            if crash < 3 {
                // Crash one of the first three nodes (at most n - m = 2 are ever down at once here:
                // a crash is immediately followed by the restart).
                let before = c.nodes[crash].status(&id);
                c.crash_and_restart(crash);
                let after = c.nodes[crash].status(&id);
                proptest::prop_assert_eq!(before.as_ref().map(|s| s.my_votes.clone()), after.as_ref().map(|s| s.my_votes.clone()));
                proptest::prop_assert_eq!(before.as_ref().map(|s| s.signed), after.as_ref().map(|s| s.signed));
                proptest::prop_assert_eq!(before.as_ref().map(|s| s.epoch), after.as_ref().map(|s| s.epoch));
                proptest::prop_assert_eq!(
                    before.as_ref().and_then(|s| s.lock.as_ref().map(|l| l.vote)),
                    after.as_ref().and_then(|s| s.lock.as_ref().map(|l| l.vote))
                );
            } else if !c.network.is_empty() {
                let (to, frame) = c.network.remove(pick % c.network.len()).unwrap();
                c.input(to, Input::Frame(frame));
            }
        }
        c.run_until(120_000, |c| c.all_submitted(&id));
        proptest::prop_assert!(c.all_submitted(&id));
        let txids: Vec<_> = c.submitted.iter().map(|(_, _, tx)| transaction_id(tx)).collect();
        proptest::prop_assert!(txids.windows(2).all(|w| w[0] == w[1]), "one transaction");
    }
}

/// A node that holds a certificate for a template it never received asks its peers for the template,
/// validates it, and takes part again.
#[test]
fn a_certified_template_never_received_is_fetched_from_peers() {
    let mut c = Cluster::new(5, 3);
    // Node 0 sees other UTXOs than the rest, so its own template differs from the group's.
    let pool = c.views[0].clone();
    c.views[0] = pool[10..].to_vec();
    for view in &mut c.views[1..] {
        *view = pool[..10].to_vec();
    }
    // And every vote to node 0 is lost: it learns the certified template's hash, never the template.
    c.lost_kinds = vec![MessageKind::Vote];
    c.lost_to = Some(0);
    c.lossy_until = Instant(60_000);
    let event = c.event(14, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    for i in 0..5 {
        c.input(i, Input::NewEvent(event.clone()));
    }
    c.run_until(30_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id), "node 0 fetched the template and finalized");
    let signed: Vec<_> = c.nodes[1..].iter().map(|n| n.status(&id).unwrap().signed).collect();
    assert!(signed.windows(2).all(|w| w[0] == w[1]));
    let own = c.nodes[0].status(&id).unwrap().my_votes[0].1;
    assert_ne!(Some(own), signed[0], "node 0's own template was not the certified one");
}

/// Found by the simulator: a node that signed but has not finalized yet (here: every signature sent to
/// it is lost) must take the chain's spend by its own template's transaction as the event's payment,
/// not as a conflict that would start a second epoch and pay the event twice.
#[test]
fn a_spend_by_the_events_own_template_is_its_payment_even_before_finalizing() {
    let mut c = Cluster::new(5, 3);
    c.lost_kinds = vec![MessageKind::Signatures];
    c.lost_to = Some(0);
    c.lossy_until = Instant(u64::MAX);
    let event = c.event(15, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(30_000, |c| {
        (1..5).all(|i| matches!(c.nodes[i].status(&id).unwrap().phase, Phase::Submitted { .. }))
    });
    let status = c.nodes[0].status(&id).unwrap();
    assert!(
        status.signed.is_some() && status.transaction_id.is_none(),
        "node 0 signed but could not finalize"
    );
    let tx = c.submitted[0].2.clone();
    let txid = transaction_id(&tx);
    c.input(
        0,
        Input::Chain(ChainEvent::Spent {
            outpoint: tx.inputs[0].previous_outpoint,
            by: txid,
            daa_score: DAA + 5,
        }),
    );
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 5 + ChainRules::default().finality_depth)));
    let status = c.nodes[0].status(&id).unwrap();
    assert_eq!(status.epoch, 0, "no second epoch");
    assert_eq!(status.phase, Phase::Confirmed { transaction_id: txid });
}

/// Verifying each signature once: a node that has signed sets aside, unverified, a vote for a round its
/// certificate covers (whatever its signature), but still checks a vote for a later round; and a
/// certificate equal to its lock, attached to peers' signature messages, is not verified again.
#[test]
fn a_signed_node_sets_aside_votes_it_would_ignore_and_checks_the_rest() {
    use igra_proto::node::Misbehaviour;
    use igra_proto::wire::{Body, VoteMessage};
    use igra_proto::{Sealer, SignedVote, Vote};

    let mut c = Cluster::new(5, 3);
    let event = c.event(13, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event));
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    let status = c.nodes[0].status(&id).unwrap();
    let lock = status.lock.unwrap();
    let node = &c.nodes[0];
    let forged_before = node.misbehaviour().count(Misbehaviour::ForgedVote);
    let bad_certificates = node.misbehaviour().count(Misbehaviour::BadCertificate);
    let set_aside_before = node.gate().counters().set_aside();
    assert!(set_aside_before > 0, "in a fault-free run, late votes and signatures are set aside");
    assert_eq!(bad_certificates, 0, "no certificate was refused");

    // A vote from member 4 whose signature is garbage: for round 0 it is set aside, for round 1 it is
    // checked and counted as forged.
    let forged = |round: u32| {
        let vote = Vote { event_id: id, epoch: 0, round, template_hash: lock.vote.template_hash };
        let mut signed = SignedVote::sign(vote, MemberIndex(4), c.f.group.id(), &c.f.signers[4]).unwrap();
        signed.signature.0[0] ^= 1;
        let body = Body::Vote(VoteMessage { vote: signed, lock: None, template: None, event: None });
        Sealer::new(&c.f.group, MemberIndex(4), 9 + u64::from(round))
            .seal(&c.f.signers[4], c.wall(), &body)
            .unwrap()
    };
    let (stale, later) = (forged(0), forged(1));
    c.input(0, Input::Frame(stale));
    assert_eq!(c.nodes[0].gate().counters().set_aside(), set_aside_before + 1);
    assert_eq!(c.nodes[0].misbehaviour().count(Misbehaviour::ForgedVote), forged_before);
    // Node 0 has submitted, so even a later round's vote cannot change what it does: set aside too.
    c.input(0, Input::Frame(later.clone()));
    assert_eq!(c.nodes[0].gate().counters().set_aside(), set_aside_before + 2);
    // A node that has not heard of the event checks the same frame and counts the forgery.
    let mut fresh = Cluster::new(5, 3);
    fresh.input(0, Input::Frame(later));
    assert_eq!(fresh.nodes[0].gate().counters().set_aside(), 0);
    assert_eq!(fresh.nodes[0].misbehaviour().count(Misbehaviour::ForgedVote), 1);
}

/// A node's snapshot can predate the spend of an output whose event has ended (and released its
/// reservation): the chain's report of the spend removes it, so the next event never builds a template
/// on it (before, such templates were signed, refused as double spends and waited for a new epoch).
#[test]
fn an_output_reported_spent_is_never_offered_again_by_a_stale_snapshot() {
    use proptests::cluster::utxo;

    let mut c = Cluster::new(5, 3);
    let only = utxo(&c.script, 500, 100 * SOMPI_PER_KASPA);
    for view in &mut c.views {
        *view = vec![only.clone()];
    }
    let first = c.event(14, 3 * SOMPI_PER_KASPA);
    let first_id = first.id();
    for i in 0..5 {
        c.input(i, Input::NewEvent(first.clone()));
    }
    c.run_until(60_000, |c| c.all_submitted(&first_id));
    let paid = c.submitted[0].2.clone();
    assert_eq!(paid.inputs[0].previous_outpoint, only.outpoint);
    let txid = transaction_id(&paid);
    for i in 0..5 {
        c.input(i, Input::Chain(ChainEvent::Accepted { transaction_id: txid, daa_score: DAA + 1 }));
        let spent = ChainEvent::Spent { outpoint: only.outpoint, by: txid, daa_score: DAA + 1 };
        c.input(i, Input::Chain(spent));
        let deep = DAA + 2 + ChainRules::default().confirm_depth;
        c.input(i, Input::Chain(ChainEvent::DaaScore(deep)));
        assert!(matches!(c.nodes[i].status(&first_id).unwrap().phase, Phase::Confirmed { .. }));
    }
    // The chain now holds another output; the nodes' snapshots still list the spent one.
    let fresh = utxo(&c.script, 501, 100 * SOMPI_PER_KASPA);
    for view in &mut c.views {
        *view = vec![fresh.clone()];
    }
    c.submitted.clear();
    let second = c.event(15, 3 * SOMPI_PER_KASPA);
    let second_id = second.id();
    for i in 0..5 {
        c.input(i, Input::NewEvent(second.clone()));
    }
    c.run_until(60_000, |c| c.all_submitted(&second_id));
    assert!(c.all_submitted(&second_id));
    let spends: Vec<_> = c.submitted[0].2.inputs.iter().map(|i| i.previous_outpoint).collect();
    assert_eq!(spends, vec![fresh.outpoint], "the second event spends the fresh output only");
}

/// Memory: a confirmed event's full state is released once its acceptance is `confirm_depth +
/// finality_depth` deep, and persisted as one `Released` record that compacts the node's log to it;
/// the node still answers for the event (confirmed, by the same transaction) and a resubmission of the
/// event is recognised as paid, before and after a restart from the compacted log.
#[test]
fn a_confirmed_event_is_released_to_a_summary_and_never_runs_again() {
    let mut c = Cluster::new(5, 3);
    let event = c.event(16, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    c.input(0, Input::NewEvent(event.clone()));
    c.run_until(60_000, |c| c.all_submitted(&id));
    let txid = transaction_id(&c.submitted[0].2);
    let rules = ChainRules::default();
    c.input(0, Input::Chain(ChainEvent::Accepted { transaction_id: txid, daa_score: DAA + 1 }));
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 1 + rules.confirm_depth)));
    let confirmed = c.nodes[0].status(&id).unwrap();
    assert_eq!(confirmed.phase, Phase::Confirmed { transaction_id: txid });
    assert!(
        !confirmed.votes.is_empty() && !confirmed.released,
        "the full state is held right after confirmation"
    );
    let records_of_event = c.logs[0].iter().filter(|r| r.event_id() == Some(id)).count();
    assert!(records_of_event >= 4, "event, vote, sign-once, ended: {records_of_event}");
    c.input(0, Input::Chain(ChainEvent::DaaScore(DAA + 1 + rules.confirm_depth + rules.finality_depth)));
    let released = c.nodes[0].status(&id).unwrap();
    assert!(released.released);
    assert!(released.votes.is_empty() && released.my_votes.is_empty() && released.lock.is_none());
    assert_eq!(released.phase, confirmed.phase);
    assert_eq!(released.epoch, confirmed.epoch);
    assert_eq!(released.transaction_id, Some(txid));
    // The log holds one record of the event now: its release, with the policy commitment that still
    // counts in the window.
    let of_event: Vec<&Record> = c.logs[0].iter().filter(|r| r.event_id() == Some(id)).collect();
    assert!(
        matches!(of_event[..], [Record::Released { transaction_id, commitment: Some(_), .. }] if *transaction_id == txid),
        "{of_event:?}"
    );
    let volume = c.nodes[0].policy().volume(c.wall(), None);
    assert!(volume >= 3 * SOMPI_PER_KASPA, "the commitment counts: {volume}");
    // A peer that repeats its vote and signatures for the event (it restarted) is set aside unverified,
    // and is no misbehaviour.
    let set_aside = c.nodes[0].gate().counters().set_aside();
    c.network.retain(|(to, _)| *to == 0);
    c.crash_and_restart(1);
    let repeated = c.network.iter().filter(|(to, _)| *to == 0).count();
    assert!(repeated >= 2, "vote and signatures: {repeated}");
    while let Some((to, frame)) = c.network.pop_front() {
        if to == 0 {
            c.input(0, Input::Frame(frame));
        }
    }
    assert_eq!(c.nodes[0].gate().counters().set_aside(), set_aside + repeated as u64);
    assert_eq!(c.nodes[0].misbehaviour().total(), 0);
    // Resubmitted, before and after a restart: nothing happens, nothing is sent.
    for restart in [false, true] {
        if restart {
            c.crash_and_restart(0);
            let restored = c.nodes[0].status(&id).unwrap();
            assert_eq!(restored, released, "restored from the compacted log");
            assert_eq!(c.nodes[0].policy().volume(c.wall(), None), volume, "the commitment survives");
        }
        c.network.clear();
        let sent_before = c.submitted.len();
        c.input(0, Input::NewEvent(event.clone()));
        assert!(c.network.is_empty(), "a paid event is not voted on again (restart: {restart})");
        assert_eq!(c.submitted.len(), sent_before);
        assert_eq!(c.nodes[0].status(&id).unwrap().phase, Phase::Confirmed { transaction_id: txid });
    }
}

/// The chain reports a spend of a template's input before the template is certified and signed (the
/// nodes built it from a snapshot taken before the spend): the conflict still counts from the report,
/// so after `finality_depth` the template is dead and the event pays in its next epoch. Found against a
/// real kaspad, where such an event stayed submitted-and-refused forever. A snapshot that arrives after
/// the report no longer brings the spent output back either.
#[test]
fn a_spend_reported_before_signing_still_kills_the_template_and_the_event_pays_in_the_next_epoch() {
    spend_reported_before_signing(false);
}

/// The same, with every node restarted after signing: the conflict recorded at signing was persisted.
#[test]
fn a_spend_reported_before_signing_survives_a_restart_and_still_kills_the_template() {
    spend_reported_before_signing(true);
}

fn spend_reported_before_signing(restart: bool) {
    use proptests::cluster::utxo;

    let mut c = Cluster::new(5, 3);
    let first = utxo(&c.script, 600, 100 * SOMPI_PER_KASPA);
    for view in &mut c.views {
        *view = vec![first.clone()];
    }
    let event = c.event(17, 3 * SOMPI_PER_KASPA);
    let id = event.id();
    for i in 0..5 {
        c.input(i, Input::NewEvent(event.clone()));
    }
    // Every node has voted for the template spending `first`; before any vote is delivered, the chain
    // reports `first` spent by a transaction none of them made.
    let thief = TransactionId([0x77; 32]);
    let rules = ChainRules::default();
    for i in 0..5 {
        let spent = ChainEvent::Spent { outpoint: first.outpoint, by: thief, daa_score: DAA + 1 };
        c.input(i, Input::Chain(spent));
    }
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id), "the certified template is still signed and submitted");
    assert_eq!(c.submitted[0].2.inputs[0].previous_outpoint, first.outpoint);
    if restart {
        for i in 0..5 {
            c.crash_and_restart(i);
        }
    }
    // A snapshot that still lists the spent output (taken before the report) changes nothing.
    for i in 0..5 {
        let stale = Input::Utxos { utxos: vec![first.clone()], virtual_daa_score: DAA };
        c.input(i, stale);
    }
    // The chain moves past the finality depth of the conflicting spend and now holds another output.
    let second = utxo(&c.script, 601, 100 * SOMPI_PER_KASPA);
    for view in &mut c.views {
        *view = vec![second.clone()];
    }
    c.submitted.clear();
    for i in 0..5 {
        c.input(i, Input::Chain(ChainEvent::DaaScore(DAA + 1 + rules.finality_depth)));
        assert_eq!(
            c.nodes[i].status(&id).unwrap().epoch,
            1,
            "node {i}: the template is dead, epoch 1 starts"
        );
    }
    c.run_until(60_000, |c| c.all_submitted(&id));
    assert!(c.all_submitted(&id));
    let spends: Vec<_> = c.submitted[0].2.inputs.iter().map(|i| i.previous_outpoint).collect();
    assert_eq!(spends, vec![second.outpoint], "epoch 1 pays from the output the chain still has");
}
