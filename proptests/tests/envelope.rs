//! The authenticated envelope, end to end through `Sealer` and `Gate`: every check of the receive
//! pipeline, each with the typed rejection it must produce.

use igra_proto::envelope::RejectionCounters;
use igra_proto::wire::{CompletionMessage, DecodeError, EventAnnouncement};
use igra_proto::{
    Body, EventId, Gate, Instant, Limits, MemberIndex, RejectReason, Rejection, Sealer, TemplateHash,
    TransactionId, UnixMs,
};
use proptests::{T0, fixture, fixture_with, test_signer};

fn completion(tag: u8) -> Body {
    Body::Completion(CompletionMessage {
        event_id: EventId([tag; 32]),
        epoch: 0,
        template_hash: TemplateHash([tag; 32]),
        transaction_id: TransactionId([tag; 32]),
    })
}

fn assert_counted(counters: &RejectionCounters, reason: RejectReason, n: u64) {
    assert_eq!(counters.rejected(reason), n, "count of {}", reason.name());
}

#[test]
fn a_sealed_frame_opens_once_with_its_header_and_body() {
    let f = fixture(3, 2);
    let mut sealer = Sealer::new(&f.group, MemberIndex(0), 7);
    let mut gate = Gate::new(&f.group, MemberIndex(1));
    let frame = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    let envelope = gate.open(Instant(0), T0, &frame).unwrap();
    assert_eq!(envelope.body, completion(1));
    assert_eq!(envelope.header.sender, MemberIndex(0));
    assert_eq!(envelope.header.boot_epoch, 7);
    assert_eq!(envelope.header.seq, 1);
    assert_eq!(envelope.header.sent_at, T0);
    assert_eq!(envelope.header.group_id, f.group.id());
    assert_eq!(sealer.next_seq(), 2);
    assert_eq!(gate.open(Instant(1), T0, &frame), Err(Rejection::Replayed(MemberIndex(0))));
    assert_eq!(gate.counters().accepted(), 1);
    assert_counted(gate.counters(), RejectReason::Replayed, 1);
    assert_eq!(gate.counters().rejected_from(MemberIndex(0)), 1);
}

#[test]
fn a_flipped_bit_anywhere_is_rejected_and_leaves_no_state() {
    let f = fixture(3, 2);
    let mut sealer = Sealer::new(&f.group, MemberIndex(2), 1);
    let frame = sealer.seal(&f.signers[2], T0, &completion(3)).unwrap();
    for byte in 0..frame.len() {
        for bit in 0..8 {
            let mut gate = Gate::new(&f.group, MemberIndex(0));
            let mut tampered = frame.clone();
            tampered[byte] ^= 1 << bit;
            let rejection = gate.open(Instant(0), T0, &tampered).expect_err("a tampered frame must not open");
            assert!(
                matches!(
                    rejection,
                    Rejection::Decode(_)
                        | Rejection::UnknownSender(_)
                        | Rejection::OwnIndex
                        | Rejection::BadSignature(_)
                ),
                "byte {byte} bit {bit}: rejected late, as {rejection:?}"
            );
            for m in 0..3 {
                assert!(!gate.has_state_for(MemberIndex(m)), "byte {byte} bit {bit}: state for member {m}");
            }
        }
    }
}

#[test]
fn frames_outside_the_freshness_window_are_rejected() {
    let limits = Limits { freshness_past_ms: 30_000, freshness_future_ms: 5_000, ..Limits::default() };
    let f = fixture_with(3, 2, limits);
    let mut sealer = Sealer::new(&f.group, MemberIndex(0), 1);
    let mut gate = Gate::new(&f.group, MemberIndex(1));
    let at = |ms: u64| UnixMs(T0.0 + ms);

    let old = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    assert_eq!(
        gate.open(Instant(0), at(30_001), &old),
        Err(Rejection::Stale { sender: MemberIndex(0), age_ms: 30_001 })
    );
    let future = sealer.seal(&f.signers[0], at(5_001), &completion(2)).unwrap();
    assert_eq!(
        gate.open(Instant(0), T0, &future),
        Err(Rejection::FromFuture { sender: MemberIndex(0), ahead_ms: 5_001 })
    );
    // At the edges of the window the frames are fresh.
    let edge_old = sealer.seal(&f.signers[0], T0, &completion(3)).unwrap();
    assert!(gate.open(Instant(0), at(30_000), &edge_old).is_ok());
    let edge_future = sealer.seal(&f.signers[0], at(35_000), &completion(4)).unwrap();
    assert!(gate.open(Instant(0), at(30_000), &edge_future).is_ok());
    assert_counted(gate.counters(), RejectReason::Stale, 1);
    assert_counted(gate.counters(), RejectReason::FromFuture, 1);
}

#[test]
fn non_members_and_forgers_are_rejected_before_any_state_exists() {
    let f = fixture(3, 2);
    let mut gate = Gate::new(&f.group, MemberIndex(0));
    // A sender index outside the group.
    let outsider = test_signer(9);
    let mut stranger = Sealer::new(&f.group, MemberIndex(7), 1);
    let frame = stranger.seal(&outsider, T0, &completion(1)).unwrap();
    assert_eq!(gate.open(Instant(0), T0, &frame), Err(Rejection::UnknownSender(MemberIndex(7))));
    // A member's index, signed with a key that is not that member's.
    let mut forger = Sealer::new(&f.group, MemberIndex(1), 1);
    for i in 0..100 {
        let frame = forger.seal(&outsider, T0, &completion(i)).unwrap();
        assert_eq!(gate.open(Instant(0), T0, &frame), Err(Rejection::BadSignature(MemberIndex(1))));
    }
    assert!(!gate.has_state_for(MemberIndex(1)), "a forger created state for the member it impersonates");
    // A frame claiming this node's own index.
    let mut mirror = Sealer::new(&f.group, MemberIndex(0), 1);
    let frame = mirror.seal(&f.signers[0], T0, &completion(1)).unwrap();
    assert_eq!(gate.open(Instant(0), T0, &frame), Err(Rejection::OwnIndex));
    // The real member is still served at its full rate: the forger spent none of its budget.
    let mut real = Sealer::new(&f.group, MemberIndex(1), 1);
    let frame = real.seal(&f.signers[1], T0, &completion(1)).unwrap();
    assert!(gate.open(Instant(0), T0, &frame).is_ok());
    assert_counted(gate.counters(), RejectReason::UnknownSender, 1);
    assert_counted(gate.counters(), RejectReason::BadSignature, 100);
    assert_counted(gate.counters(), RejectReason::OwnIndex, 1);
    assert_eq!(gate.counters().rejected_from(MemberIndex(1)), 0, "forgeries are not charged to the member");
}

#[test]
fn a_member_over_its_rate_is_throttled_and_recovers() {
    let limits = Limits { rate_per_second: 10, rate_burst: 5, ..Limits::default() };
    let f = fixture_with(3, 2, limits);
    let mut sealer = Sealer::new(&f.group, MemberIndex(2), 1);
    let mut gate = Gate::new(&f.group, MemberIndex(0));
    let mut send = |gate: &mut Gate, now: u64| {
        let frame = sealer.seal(&f.signers[2], T0, &completion(0)).unwrap();
        gate.open(Instant(now), T0, &frame)
    };
    for _ in 0..5 {
        assert!(send(&mut gate, 0).is_ok());
    }
    assert_eq!(send(&mut gate, 0), Err(Rejection::RateLimited(MemberIndex(2))));
    assert_eq!(send(&mut gate, 50), Err(Rejection::RateLimited(MemberIndex(2))));
    assert!(send(&mut gate, 100).is_ok(), "one token per 100 ms at 10/s");
    assert_eq!(send(&mut gate, 100), Err(Rejection::RateLimited(MemberIndex(2))));
    for _ in 0..5 {
        assert!(send(&mut gate, 10_000).is_ok(), "a pause refills the burst");
    }
    assert_counted(gate.counters(), RejectReason::RateLimited, 3);
    // Another member's budget is untouched.
    let mut other = Sealer::new(&f.group, MemberIndex(1), 1);
    let frame = other.seal(&f.signers[1], T0, &completion(0)).unwrap();
    assert!(gate.open(Instant(0), T0, &frame).is_ok());
}

#[test]
fn a_rate_limited_frame_can_be_retransmitted_later() {
    let limits = Limits { rate_per_second: 1, rate_burst: 1, ..Limits::default() };
    let f = fixture_with(2, 2, limits);
    let mut sealer = Sealer::new(&f.group, MemberIndex(1), 1);
    let mut gate = Gate::new(&f.group, MemberIndex(0));
    let first = sealer.seal(&f.signers[1], T0, &completion(1)).unwrap();
    let second = sealer.seal(&f.signers[1], T0, &completion(2)).unwrap();
    assert!(gate.open(Instant(0), T0, &first).is_ok());
    assert_eq!(gate.open(Instant(0), T0, &second), Err(Rejection::RateLimited(MemberIndex(1))));
    assert!(gate.open(Instant(1_000), T0, &second).is_ok(), "a throttled frame was not marked as seen");
}

#[test]
fn frames_for_another_group_are_rejected_after_authentication() {
    let f = fixture(3, 2);
    let other = fixture(3, 3); // same members, different threshold: another group id
    assert_ne!(f.group.id(), other.group.id());
    let mut sealer = Sealer::new(&other.group, MemberIndex(0), 1);
    let frame = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    let mut gate = Gate::new(&f.group, MemberIndex(1));
    assert_eq!(
        gate.open(Instant(0), T0, &frame),
        Err(Rejection::WrongGroup { sender: MemberIndex(0), group_id: other.group.id() })
    );
}

#[test]
fn an_older_boot_epoch_is_rejected_and_a_newer_one_resets_the_window() {
    let f = fixture(3, 2);
    let mut gate = Gate::new(&f.group, MemberIndex(1));
    let mut before = Sealer::new(&f.group, MemberIndex(0), 4);
    let mut after = Sealer::new(&f.group, MemberIndex(0), 5);
    let old = before.seal(&f.signers[0], T0, &completion(1)).unwrap();
    let new = after.seal(&f.signers[0], T0, &completion(1)).unwrap();
    assert!(gate.open(Instant(0), T0, &old).is_ok());
    assert!(gate.open(Instant(0), T0, &new).is_ok(), "seq 1 again, but in a new epoch");
    let late = before.seal(&f.signers[0], T0, &completion(2)).unwrap();
    assert_eq!(gate.open(Instant(0), T0, &late), Err(Rejection::StaleEpoch(MemberIndex(0))));
}

#[test]
fn size_version_and_garbage_are_typed_decode_errors() {
    let limits = Limits { max_message_bytes: 2048, ..Limits::default() };
    let f = fixture_with(3, 2, limits);
    let mut sealer = Sealer::new(&f.group, MemberIndex(0), 1);
    let mut gate = Gate::new(&f.group, MemberIndex(1));

    let big = Body::Event(EventAnnouncement { event: vec![0u8; 4000].try_into().unwrap() });
    let frame = sealer.seal(&f.signers[0], T0, &big).unwrap();
    assert_eq!(
        gate.open(Instant(0), T0, &frame),
        Err(Rejection::Decode(DecodeError::Oversized { len: frame.len(), limit: 2048 }))
    );

    let mut frame = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    frame[0] = 2;
    assert_eq!(gate.open(Instant(0), T0, &frame), Err(Rejection::Decode(DecodeError::UnsupportedVersion(2))));

    assert_eq!(gate.open(Instant(0), T0, &[]), Err(Rejection::Decode(DecodeError::Truncated)));
    assert_eq!(gate.open(Instant(0), T0, &[1; 64]), Err(Rejection::Decode(DecodeError::Truncated)));
    let frame = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    assert!(matches!(gate.open(Instant(0), T0, &frame[..frame.len() - 1]), Err(Rejection::Decode(_))));

    assert_counted(gate.counters(), RejectReason::Oversized, 1);
    assert_counted(gate.counters(), RejectReason::UnsupportedVersion, 1);
    assert_counted(gate.counters(), RejectReason::Malformed, 3);
    assert_eq!(gate.counters().rejected_total(), 5);
    assert_eq!(gate.counters().accepted(), 0);
}

#[test]
fn peek_kind_reads_the_claimed_kind_and_nothing_else() {
    use igra_proto::envelope::peek_kind;
    use igra_proto::wire::MessageKind;
    let f = fixture(3, 2);
    let mut sealer = Sealer::new(&f.group, MemberIndex(0), 1);
    let frame = sealer.seal(&f.signers[0], T0, &completion(1)).unwrap();
    assert_eq!(peek_kind(&frame), Some(MessageKind::Completion));
    // A wrong version, an empty frame and a truncated header claim nothing.
    let mut wrong_version = frame.clone();
    wrong_version[0] ^= 0xff;
    assert_eq!(peek_kind(&wrong_version), None);
    assert_eq!(peek_kind(&[]), None);
    assert_eq!(peek_kind(&frame[..3]), None);
}
