//! The wire codec: every message round-trips, every bound is enforced, and no input (truncated,
//! oversized, wrong version, garbage) panics or decodes into something it is not.

use igra_proto::envelope::UnverifiedFrame;
use igra_proto::wire::{
    DecodeError, EventAnnouncement, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, MAX_REQUEST_ITEMS, MessageKind,
    RequestItem, RequestMessage,
};
use igra_proto::{Body, EventId, Gate, Instant, MemberIndex, Sealer};
use proptest::prelude::*;
use proptests::{T0, arb_body, fixture};

fn encode(body: &Body) -> Vec<u8> {
    let mut out = Vec::new();
    body.encode_into(&mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_body_round_trips(body in arb_body()) {
        let bytes = encode(&body);
        prop_assert_eq!(bytes[0], body.kind() as u8);
        prop_assert_eq!(Body::decode(&bytes), Ok(body));
    }

    #[test]
    fn every_truncation_of_a_body_is_an_error(body in arb_body()) {
        let bytes = encode(&body);
        for len in 0..bytes.len() {
            prop_assert!(Body::decode(&bytes[..len]).is_err(), "prefix of {} bytes decoded", len);
        }
        let mut longer = bytes;
        longer.push(0);
        prop_assert_eq!(Body::decode(&longer), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn sealed_frames_round_trip_through_the_gate(body in arb_body(), epoch in 1u64.., sender in 0u8..3) {
        let f = fixture(3, 2);
        let receiver = MemberIndex((sender + 1) % 3);
        let mut sealer = Sealer::new(&f.group, MemberIndex(sender), epoch);
        let mut gate = Gate::new(&f.group, receiver);
        let frame = sealer.seal(&f.signers[usize::from(sender)], T0, &body).unwrap();
        let envelope = gate.open(Instant(0), T0, &frame).unwrap();
        prop_assert_eq!(envelope.body, body);
        prop_assert_eq!(envelope.header.boot_epoch, epoch);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = fixture(3, 2);
        let mut gate = Gate::new(&f.group, MemberIndex(0));
        let _ = Body::decode(&bytes);
        let _ = UnverifiedFrame::decode(&bytes, MAX_MESSAGE_BYTES);
        // Random bytes are never correctly signed by a member.
        prop_assert!(gate.open(Instant(0), T0, &bytes).is_err());
    }

    #[test]
    fn random_bytes_behind_a_valid_kind_byte_never_panic(kind in 1u8..=8, tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&tail);
        if let Ok(body) = Body::decode(&bytes) {
            // Whatever decodes re-encodes to something that decodes to the same body.
            prop_assert_eq!(Body::decode(&encode(&body)), Ok(body));
        }
    }
}

#[test]
fn unknown_kinds_are_refused_by_number() {
    for kind in [0u8, 9, 200, 255] {
        assert_eq!(Body::decode(&[kind, 0, 0]), Err(DecodeError::UnknownKind(kind)));
    }
    for kind in MessageKind::ALL {
        assert_eq!(MessageKind::try_from(kind as u8), Ok(kind));
    }
}

#[test]
fn collections_at_their_bound_decode_and_one_more_is_refused() {
    let item = RequestItem::Event { event_id: EventId([5; 32]) };
    let full: Vec<_> = vec![item; MAX_REQUEST_ITEMS];
    let body = Body::Request(RequestMessage { items: full.try_into().unwrap() });
    assert_eq!(Body::decode(&encode(&body)), Ok(body));

    let mut over = vec![MessageKind::Request as u8];
    over.extend(postcard::to_allocvec(&vec![item; MAX_REQUEST_ITEMS + 1]).unwrap());
    assert_eq!(Body::decode(&over), Err(DecodeError::OutOfBounds));

    let event = Body::Event(EventAnnouncement { event: vec![1u8; MAX_EVENT_BYTES].try_into().unwrap() });
    assert_eq!(Body::decode(&encode(&event)), Ok(event));
    let mut over = vec![MessageKind::Event as u8];
    over.extend(postcard::to_allocvec(&serde_bytes_like(MAX_EVENT_BYTES + 1)).unwrap());
    assert_eq!(Body::decode(&over), Err(DecodeError::OutOfBounds));
}

/// A byte string encoded the way `BoundedBytes` is: a varint length and the bytes.
fn serde_bytes_like(len: usize) -> ByteString {
    ByteString(vec![1; len])
}

struct ByteString(Vec<u8>);

impl serde::Serialize for ByteString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

#[test]
fn a_length_prefix_larger_than_the_input_is_truncation_not_allocation() {
    // Kind "event", then a varint length of 2^32 - 1 and nothing behind it.
    let bytes = [MessageKind::Event as u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(Body::decode(&bytes), Err(DecodeError::Truncated));
    let bytes = [MessageKind::Event as u8, 0x10];
    assert_eq!(Body::decode(&bytes), Err(DecodeError::Truncated));
}
