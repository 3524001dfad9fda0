//! Attestation benchmarks: verifying a 3-of-5 Hyperlane message-id attestation and a 3-of-5 operator
//! attestation of one event. Run with `cargo bench -p igra-proto --bench attestation`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use igra_proto::event::evm::EvmSigner;
use igra_proto::event::hyperlane::{self, HyperlaneConfig, HyperlaneOrigin};
use igra_proto::event::operators::{self, OperatorAttestation, OperatorConfig};
use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind, verify};
use igra_proto::kaspa::script::pay_to_pubkey;
use igra_proto::template::Payment;
use igra_proto::{GroupId, LocalSigner, Signer, SigningPublicKey};

fn benches(c: &mut Criterion) {
    let group = GroupId([9; 32]);
    let payment = Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount: 250_000_000 };

    // Hyperlane: five validators, threshold three, an 18-decimal warp route from domain 1.
    let validators: Vec<EvmSigner> =
        (1u8..=5).map(|i| EvmSigner::from_secret(&[i; 32]).expect("valid secret")).collect();
    let hook = [0x22; 32];
    let config = HyperlaneConfig {
        local_domain: 0x97b1,
        recipient: [0x33; 32],
        origins: vec![HyperlaneOrigin {
            domain: 1,
            merkle_tree_hook: hook,
            senders: vec![[0x44; 32]],
            validators: validators.iter().map(EvmSigner::address).collect(),
            threshold: 3,
            token_decimals: 18,
        }],
    };
    let message = hyperlane::warp_message(&config, 1, [0x44; 32], 7, &payment).expect("payable");
    let attestation =
        hyperlane::attest_message_id(&message, hook, [0x55; 32], 7, &validators[..3]).expect("signable");
    let event = Event {
        source: EventSource { kind: SourceKind::Hyperlane, id: 1 },
        external_id: message.id(),
        payment: payment.clone(),
        attestation: Attestation::Hyperlane(attestation),
    };
    let sources = AttestationConfig { hyperlane: Some(config), ..AttestationConfig::default() };
    assert_eq!(verify(&event, &sources, group), Ok(()));
    c.bench_function("verify a 3-of-5 hyperlane attestation", |b| {
        b.iter(|| verify(black_box(&event), black_box(&sources), group));
    });

    // Operators: five keys, threshold three.
    let signers: Vec<LocalSigner> =
        (1u8..=5).map(|i| LocalSigner::from_secrets([i; 32], [i; 32]).expect("valid secrets")).collect();
    let mut event = Event {
        source: EventSource { kind: SourceKind::Operators, id: 0 },
        external_id: [0x66; 32],
        payment,
        attestation: Attestation::Operators(OperatorAttestation {
            approvals: igra_proto::wire::BoundedVec::default(),
        }),
    };
    let id = event.id();
    let approvals: Vec<_> = (0u8..3)
        .map(|i| operators::approve(&signers[usize::from(i)], i, group, &id).expect("signs"))
        .collect();
    event.attestation = Attestation::Operators(OperatorAttestation {
        approvals: approvals.try_into().expect("within bound"),
    });
    let sources = AttestationConfig {
        operators: Some(OperatorConfig {
            keys: signers.iter().map(Signer::identity_public_key).collect(),
            threshold: 3,
        }),
        ..AttestationConfig::default()
    };
    assert_eq!(verify(&event, &sources, group), Ok(()));
    c.bench_function("verify a 3-of-5 operator attestation", |b| {
        b.iter(|| verify(black_box(&event), black_box(&sources), group));
    });
}

criterion_group!(attestation, benches);
criterion_main!(attestation);
