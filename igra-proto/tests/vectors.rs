//! Test vectors published in `docs/protocol.md`: if one of these changes, the wire protocol changed.

use igra_proto::wire::CompletionMessage;
use igra_proto::{
    Body, EventId, GroupConfig, Limits, LocalSigner, Member, MemberIndex, Network, Sealer, SignedVote,
    Signer, TemplateHash, TransactionId, UnixMs, Vote,
};

/// Public BIP39 reference mnemonics; never use them for real funds.
const MNEMONICS: [&str; 3] = [
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
];

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[test]
fn documented_keys_group_id_and_vote_digest() {
    let signers: Vec<_> = MNEMONICS.iter().map(|m| LocalSigner::from_mnemonic(m, "").unwrap()).collect();
    let keys: Vec<_> =
        signers.iter().map(|s| (hex(&s.identity_public_key().0), hex(&s.signing_public_key().0))).collect();
    for (i, (identity, signing)) in keys.iter().enumerate() {
        println!("member {i}: identity {identity} signing {signing}");
    }
    let expected = [
        (
            "adf1371b41b81b1d2cecb961ada6f6bcfa3c151107f7ed80a5b6f9c5240b664c",
            "a4ebef8e3553bd9bf9212c8c66c356d4beee198580cf9e85dc20a9305e5daba9",
        ),
        (
            "80effb248033bd68b9f37b93bd006f88b07ff12bf94cc8943aa4e254a9d56213",
            "b93ff1c2c3c89b5284e7e62c090032a3dac67a62b8b0372f9417ee5ee58b6d7b",
        ),
        (
            "8f3654c5ec369f2c85f384c63549c0535be807501ab4aab9363812b42e10fd96",
            "ca1582d546037ff74ebc280c84a40d7118c0959b7885b94eba69a578b273deec",
        ),
    ];
    for (got, want) in keys.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), want);
    }
    let group = GroupConfig {
        members: signers
            .iter()
            .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
            .collect(),
        threshold: 2,
        network: Network::Simnet,
        policy_version: 1,
        limits: Limits::default(),
    }
    .validate()
    .unwrap();
    assert_eq!(hex(&group.id().0), "023f40ec6865bbbf60208b1eb27f17579452057d9baa27dce663a2ec212237a2");

    let vote =
        Vote { event_id: EventId([0x11; 32]), epoch: 1, round: 2, template_hash: TemplateHash([0x22; 32]) };
    let digest = vote.digest(group.id());
    assert_eq!(hex(&digest), "5a359f0436508a5bdf86fc57bc6c34f84a11019dd3abb8988dd4faf873c91cb1");
    let signed = SignedVote::sign(vote, MemberIndex(0), group.id(), &signers[0]).unwrap();
    assert_eq!(
        hex(&signed.signature.0),
        "34e57332bd8dab8a5f7a0accb5e5b1053aa7f035f319aa9832e6c00eee942722\
         493b1230bc6efefdda1b6f9b623760b5786b5c0a826f9a43dd135ab1349ad207"
    );
    assert_eq!(signed.verify(&group), Ok(()));

    let body = Body::Completion(CompletionMessage {
        event_id: EventId([0x33; 32]),
        epoch: 1,
        template_hash: TemplateHash([0x44; 32]),
        transaction_id: TransactionId([0x55; 32]),
    });
    let frame =
        Sealer::new(&group, MemberIndex(0), 1).seal(&signers[0], UnixMs(1_800_000_000_000), &body).unwrap();
    assert_eq!(hex(&frame), FRAME);
}

/// The frame of `documented_keys_group_id_and_vote_digest`, as `docs/protocol.md` dissects it.
const FRAME: &str = concat!(
    "01",                                                               // version
    "023f40ec6865bbbf60208b1eb27f17579452057d9baa27dce663a2ec212237a2", // group id
    "00",                                                               // sender
    "01",                                                               // boot epoch (varint)
    "01",                                                               // seq (varint)
    "80a0f1c2b134",                                                     // sent_at ms (varint)
    "07",                                                               // kind: completion
    "3333333333333333333333333333333333333333333333333333333333333333", // event id
    "01",                                                               // epoch (varint)
    "4444444444444444444444444444444444444444444444444444444444444444", // template hash
    "5555555555555555555555555555555555555555555555555555555555555555", // transaction id
    "8a09d55f07f84dba31cffc41a69576877bba8ec7ed575f49d65adf9a4a47d4a9", // signature (R)
    "2590669ff783006fee821a84c1fdb8b08194c8881b09eab71b38448062a8a50b", // signature (S)
);

#[test]
fn documented_event_id() {
    use igra_proto::event::operators::OperatorAttestation;
    use igra_proto::event::{Attestation, Event, EventSource, SourceKind};
    use igra_proto::kaspa::script::pay_to_pubkey;
    use igra_proto::template::Payment;
    use igra_proto::wire::BoundedVec;

    let event = Event {
        source: EventSource { kind: SourceKind::Hyperlane, id: 1 },
        external_id: [0x11; 32],
        payment: Payment {
            destination: pay_to_pubkey(&igra_proto::SigningPublicKey([0x42; 32])),
            amount: 123_456_789,
        },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    };
    // The attestation is not covered by the id; the kind, source id, external id, script and amount are.
    assert_eq!(hex(&event.id().0), "9fbe1764cb1d09b486f3e066231dc3811e5f2abb7113f6e12978a1896759d7ee");
}
