//! `Body::decode` on arbitrary bytes never panics, and every body it accepts survives a round trip:
//! encoding it and decoding the encoding gives the same body, and that encoding is a fixed point
//! (encoding the decoded copy reproduces it byte for byte).
#![no_main]

use igra_proto::Body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = Body::decode(data) else { return };
    let mut encoded = Vec::new();
    body.encode_into(&mut encoded).expect("an accepted body encodes");
    let decoded = Body::decode(&encoded).expect("the encoding of an accepted body decodes");
    assert_eq!(decoded, body, "round trip changed the body");
    let mut again = Vec::new();
    decoded.encode_into(&mut again).expect("a decoded body encodes");
    assert_eq!(again, encoded, "encoding is not a fixed point");
});
