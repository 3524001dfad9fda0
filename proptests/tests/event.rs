//! Events through the public API: the event id is stable under re-encoding and changes with every field
//! it covers; decoding and verifying arbitrary bytes never panics.

use igra_proto::event::operators::{OperatorApproval, OperatorAttestation, OperatorConfig, approve};
use igra_proto::event::{
    Attestation, AttestationConfig, AttestationConfigError, AttestationError, Event, EventSource, SourceKind,
    verify,
};
use igra_proto::kaspa::tx::ScriptPublicKey;
use igra_proto::keys::IdentitySignature;
use igra_proto::template::Payment;
use igra_proto::wire::BoundedVec;
use igra_proto::{GroupId, Signer};
use proptest::prelude::*;
use proptests::test_signer;

fn arb_kind() -> impl Strategy<Value = SourceKind> {
    prop_oneof![Just(SourceKind::Hyperlane), Just(SourceKind::LayerZero), Just(SourceKind::Operators)]
}

fn arb_event() -> impl Strategy<Value = Event> {
    (
        arb_kind(),
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..80),
        any::<u64>(),
        proptest::collection::vec((any::<u8>(), any::<[u8; 32]>(), any::<[u8; 32]>()), 0..4),
    )
        .prop_map(|(kind, id, external_id, version, script, amount, approvals)| Event {
            source: EventSource { kind, id },
            external_id,
            payment: Payment { destination: ScriptPublicKey { version, script }, amount },
            attestation: Attestation::Operators(OperatorAttestation {
                approvals: BoundedVec::try_from(
                    approvals
                        .into_iter()
                        .map(|(operator, a, b)| {
                            let mut sig = [0u8; 64];
                            sig[..32].copy_from_slice(&a);
                            sig[32..].copy_from_slice(&b);
                            OperatorApproval { operator, signature: IdentitySignature(sig) }
                        })
                        .collect::<Vec<_>>(),
                )
                .unwrap(),
            }),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_event_id_survives_re_encoding_and_ignores_the_attestation(event in arb_event()) {
        let decoded = Event::decode(event.encode().unwrap().as_slice()).unwrap();
        prop_assert_eq!(&decoded, &event);
        prop_assert_eq!(decoded.id(), event.id());
        let mut other_proof = event.clone();
        other_proof.attestation = Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() });
        prop_assert_eq!(other_proof.id(), event.id());
    }

    #[test]
    fn the_event_id_changes_with_every_field(event in arb_event(), bit in 0usize..256, byte in any::<u8>()) {
        let id = event.id();
        let mut changed = Vec::new();
        let mut e = event.clone();
        e.source.kind = match e.source.kind {
            SourceKind::Hyperlane => SourceKind::LayerZero,
            SourceKind::LayerZero => SourceKind::Operators,
            SourceKind::Operators => SourceKind::Hyperlane,
        };
        changed.push(e);
        let mut e = event.clone();
        e.source.id ^= 1 << (bit % 32);
        changed.push(e);
        let mut e = event.clone();
        e.external_id[bit / 8] ^= 1 << (bit % 8);
        changed.push(e);
        let mut e = event.clone();
        e.payment.destination.version ^= 1 << (bit % 16);
        changed.push(e);
        let mut e = event.clone();
        e.payment.destination.script.push(byte);
        changed.push(e);
        let mut e = event.clone();
        e.payment.amount ^= 1 << (bit % 64);
        changed.push(e);
        if !event.payment.destination.script.is_empty() {
            let mut e = event;
            let len = e.payment.destination.script.len();
            e.payment.destination.script[bit % len] ^= 1 << (bit % 8);
            changed.push(e);
        }
        for e in changed {
            prop_assert_ne!(e.id(), id, "{:?}", e);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_event_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(event) = Event::decode(&bytes) {
            // Whatever decodes verifies to a typed answer.
            let _ = verify(&event, &AttestationConfig::default(), GroupId([0; 32]));
        }
    }

    #[test]
    fn arbitrary_operator_approvals_are_refused_with_a_reason(event in arb_event()) {
        let signers: Vec<_> = (0..3).map(|i| test_signer(100 + i)).collect();
        let config = AttestationConfig {
            operators: Some(OperatorConfig { keys: signers.iter().map(Signer::identity_public_key).collect(), threshold: 2 }),
            ..AttestationConfig::default()
        };
        let mut event = event;
        event.source = EventSource { kind: SourceKind::Operators, id: 0 };
        prop_assert!(matches!(
            verify(&event, &config, GroupId([7; 32])),
            Err(AttestationError::Operators(_))
        ));
    }
}

#[test]
fn a_properly_approved_operator_event_verifies_and_binds_its_payment() {
    let signers: Vec<_> = (0..3).map(|i| test_signer(100 + i)).collect();
    let config = AttestationConfig {
        operators: Some(OperatorConfig {
            keys: signers.iter().map(Signer::identity_public_key).collect(),
            threshold: 2,
        }),
        ..AttestationConfig::default()
    };
    let group = GroupId([7; 32]);
    let mut event = Event {
        source: EventSource { kind: SourceKind::Operators, id: 0 },
        external_id: [5; 32],
        payment: Payment {
            destination: ScriptPublicKey { version: 0, script: vec![0x20; 34] },
            amount: 1_000_000_000,
        },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    };
    let id = event.id();
    let approvals =
        vec![approve(&signers[1], 1, group, &id).unwrap(), approve(&signers[2], 2, group, &id).unwrap()];
    event.attestation =
        Attestation::Operators(OperatorAttestation { approvals: approvals.try_into().unwrap() });
    assert_eq!(verify(&event, &config, group), Ok(()));
    // Changing the payment changes the id, so the approvals no longer match.
    let mut redirected = event.clone();
    redirected.payment.amount += 1;
    assert!(matches!(verify(&redirected, &config, group), Err(AttestationError::Operators(_))));
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(AttestationConfig::default().validate(), Err(AttestationConfigError::NoSources));
    // A source the group does not accept, and a kind mismatch.
    assert_eq!(
        verify(&event, &AttestationConfig::default(), group),
        Err(AttestationError::SourceNotConfigured(SourceKind::Operators))
    );
    let mut mismatched = event;
    mismatched.source.kind = SourceKind::Hyperlane;
    assert_eq!(verify(&mismatched, &config, group), Err(AttestationError::KindMismatch));
}
