//! Attestation parsing and verification never panic. The input is an encoded [`Event`]; one that
//! decodes is verified against a fixed [`AttestationConfig`] that accepts Hyperlane (2 of 3 validators),
//! LayerZero (a 2-of-3 DVN) and operators (2 of 3), all with real test keys, so that seeded events reach
//! message and packet parsing, ISM metadata parsing, merkle proofs, ECDSA recovery, the ordered
//! validator walk and the Ed25519 operator approvals.
//!
//! Beyond not panicking: a decoded event re-encodes to an encoding that decodes to the same event with
//! the same id, and the verdict does not change across that round trip.
//!
//! [`AttestationConfig`]: igra_proto::event::AttestationConfig
#![no_main]

use std::sync::LazyLock;

use igra_fuzz::attestation_world::{GROUP, config};
use igra_proto::event::{AttestationConfig, Event, verify};
use libfuzzer_sys::fuzz_target;

static CONFIG: LazyLock<AttestationConfig> = LazyLock::new(config);

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::decode(data) else { return };
    let verdict = verify(&event, &CONFIG, GROUP);
    let encoded = event.encode().expect("a decoded event fits its own bound");
    let decoded = Event::decode(&encoded).expect("the encoding of a decoded event decodes");
    assert_eq!(decoded, event, "round trip changed the event");
    assert_eq!(decoded.id(), event.id(), "round trip changed the event id");
    assert_eq!(verify(&decoded, &CONFIG, GROUP), verdict, "round trip changed the verdict");
});
