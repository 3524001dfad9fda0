//! The receive pipeline never panics on arbitrary bytes. A frame the gate of member 1 accepts claims a
//! member other than member 1 as its sender, and any frame that decodes (signature unchecked) holds a
//! body that survives an encode/decode round trip.
#![no_main]

use igra_fuzz::{NOW, RECEIVER, WALL, gate, group};
use igra_proto::Body;
use igra_proto::envelope::UnverifiedFrame;
use igra_proto::wire::MAX_MESSAGE_BYTES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A fresh gate per input, so that a crash never depends on the inputs run before it.
    if let Ok(envelope) = gate().open(NOW, WALL, data) {
        let sender = envelope.header.sender;
        assert!(group().member(sender).is_some(), "accepted a frame from non-member {sender}");
        assert_ne!(sender, RECEIVER, "accepted a frame claiming to come from the receiver");
    }

    // Postcard may accept non-canonical encodings, so compare bodies, not bytes.
    if let Ok(frame) = UnverifiedFrame::decode(data, MAX_MESSAGE_BYTES) {
        let mut encoded = Vec::new();
        frame.body.encode_into(&mut encoded).expect("a decoded body encodes");
        let decoded = Body::decode(&encoded).expect("the encoding of a decoded body decodes");
        assert_eq!(decoded, frame.body, "round trip changed the body");
    }
});
