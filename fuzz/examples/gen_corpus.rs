//! Writes the seed corpus of every fuzz target into `corpus/<target>/`.
//!
//! Not a fuzz target. Run it from `fuzz/` with `cargo run --example gen_corpus` after a wire change and
//! commit what changed. The output is deterministic (Ed25519 and the fixed BIP340 aux randomness are),
//! so an unchanged wire format rewrites identical files. It only (over)writes its own file names, so a
//! reproducer added to a corpus by hand stays; delete stale names by hand.
//!
//! * `body/`: every [`Body`] variant in several shapes, encoded as `kind ‖ postcard`, plus malformed ones.
//! * `node/`: operation sequences that drive the node world through a round, its signatures and the chain.
//! * `attestation/`: events that verify under the `attestation` target's configuration (Hyperlane in
//!   both metadata layouts, LayerZero, operators), and events that each fail one check deep inside.
//! * `address/`: every network and version, plus strings that each fail one check.
//! * `template/`: templates the builder makes in the `template` target's world, valid under one of its
//!   fee modes, plus near misses.
//! * `config/`: `docs/examples/node.toml` and edited variants, valid and not.
//! * `scenario/`: swarm encodings whose runs pass every invariant.
//! * `frame/`: the same bodies sealed by members of the `frame` target's group at the wall-clock time
//!   its gate runs at, so they pass every check, plus frames that each fail one check. Every seed is
//!   opened here with the target's gate and must meet the verdict its name gives.

use std::fs;
use std::path::Path;

use igra_fuzz::{NOW, RECEIVER, WALL, gate, group, signer};
use igra_proto::envelope::{SIGNATURE_BYTES, UnverifiedFrame};
use igra_proto::wire::{
    CertificateMessage, CompletionMessage, DigestEntry, DigestMessage, EndedEntry, EndedOutcome,
    EventAnnouncement, LockSummary, MAX_MESSAGE_BYTES, PartialSignature, RequestItem, RequestMessage,
    SignatureSetMessage, TemplateMessage, TemplateSigners, VoteMessage,
};
use igra_proto::{
    Body, EventId, GroupConfig, MemberIndex, MemberSet, MessageKind, QuorumCertificate, Sealer, SignedVote,
    Signer, TemplateHash, TransactionId, UnixMs, Vote,
};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let bodies = bodies();
    for kind in MessageKind::ALL {
        assert!(bodies.iter().any(|(_, b)| b.kind() == kind), "no seed body of kind {kind:?}");
    }

    let mut body_seeds: Vec<(String, Vec<u8>)> =
        bodies.iter().map(|(name, body)| ((*name).to_owned(), encode(body))).collect();
    body_seeds.extend(malformed_bodies(&bodies));
    for (name, bytes) in &body_seeds {
        let decoded = Body::decode(bytes);
        assert_eq!(decoded.is_ok(), !name.starts_with("bad-"), "body seed {name}: {decoded:?}");
    }
    write_all(&root.join("body"), &body_seeds);

    let frame_seeds = frames(&bodies);
    for (name, bytes) in &frame_seeds {
        let verdict = gate().open(NOW, WALL, bytes).map_err(|r| r.reason());
        match name.strip_prefix("reject-") {
            None => assert!(verdict.is_ok(), "frame seed {name} was rejected: {verdict:?}"),
            Some(rest) => {
                let reason = verdict.expect_err(name);
                assert!(rest.starts_with(&reason.name().replace('_', "-")), "{name}: {reason:?}");
            }
        }
    }
    write_all(&root.join("frame"), &frame_seeds);
    write_all(&root.join("node"), &node_seeds());
    write_all(&root.join("attestation"), &attestation_seeds());
    write_all(&root.join("address"), &address_seeds());
    write_all(&root.join("template"), &template_seeds());
    write_all(&root.join("config"), &config_seeds());
    write_all(&root.join("scenario"), &scenario_seeds());
}

fn write_all(dir: &Path, seeds: &[(String, Vec<u8>)]) {
    fs::create_dir_all(dir).expect("create corpus dir");
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes).expect("write seed");
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn encode(body: &Body) -> Vec<u8> {
    let mut out = Vec::new();
    body.encode_into(&mut out).expect("seed bodies encode");
    out
}

fn bytes<T: TryFrom<Vec<u8>>>(len: usize, fill: u8) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from((0..=u8::MAX).cycle().take(len).map(|i| fill ^ i).collect()).expect("within bound")
}

/// Every body variant, in the shapes worth seeding: empty and full optional fields and collections.
#[allow(clippy::too_many_lines)] // a table of seeds
fn bodies() -> Vec<(&'static str, Body)> {
    let group = group();
    let event_id = EventId([0x11; 32]);
    let template_hash = TemplateHash([0x22; 32]);
    let vote = Vote { event_id, epoch: 0, round: 1, template_hash };
    let sign =
        |voter: u8| SignedVote::sign(vote, MemberIndex(voter), group.id(), &signer(voter)).expect("sign");
    let votes: Vec<SignedVote> = [0, 2, 4].into_iter().map(sign).collect();
    let certificate = QuorumCertificate::from_votes(&votes).expect("a quorum of distinct votes");
    assert!(certificate.verify(group).is_ok(), "the seed certificate verifies");
    let partial = |input_index: u16, member: u8| PartialSignature {
        input_index,
        signer: MemberIndex(member),
        signature: signer(member)
            .sign_schnorr(&[input_index.to_le_bytes()[0]; 32], &[0x5a; 32])
            .expect("schnorr"),
    };
    let signers = |members: &[u8]| {
        let mut set = MemberSet::default();
        for &m in members {
            set.insert(MemberIndex(m));
        }
        set
    };

    vec![
        ("event", Body::Event(EventAnnouncement { event: bytes(96, 0x31) })),
        ("event-empty", Body::Event(EventAnnouncement { event: bytes(0, 0) })),
        ("vote-bare", Body::Vote(VoteMessage { vote: votes[0], lock: None, template: None, event: None })),
        (
            "vote-with-lock",
            Body::Vote(VoteMessage {
                vote: votes[1],
                lock: Some(certificate.clone()),
                template: None,
                event: None,
            }),
        ),
        (
            "vote-with-template-and-event",
            Body::Vote(VoteMessage {
                vote: votes[2],
                lock: Some(certificate.clone()),
                template: Some(bytes(128, 0x42)),
                event: Some(bytes(64, 0x31)),
            }),
        ),
        (
            "certificate",
            Body::Certificate(CertificateMessage { certificate: certificate.clone(), template: None }),
        ),
        (
            "certificate-with-template",
            Body::Certificate(CertificateMessage {
                certificate: certificate.clone(),
                template: Some(bytes(128, 0x42)),
            }),
        ),
        (
            "signatures",
            Body::Signatures(SignatureSetMessage {
                event_id,
                epoch: 0,
                template_hash,
                certificate: None,
                signatures: vec![partial(0, 0), partial(1, 0), partial(0, 3)]
                    .try_into()
                    .expect("within bound"),
            }),
        ),
        (
            "signatures-with-certificate",
            Body::Signatures(SignatureSetMessage {
                event_id,
                epoch: 7,
                template_hash,
                certificate: Some(certificate),
                signatures: vec![partial(300, 4)].try_into().expect("within bound"),
            }),
        ),
        (
            "signatures-empty",
            Body::Signatures(SignatureSetMessage {
                event_id,
                epoch: 0,
                template_hash,
                certificate: None,
                signatures: Vec::new().try_into().expect("within bound"),
            }),
        ),
        (
            "digest",
            Body::Digest(DigestMessage {
                active: vec![
                    DigestEntry {
                        event_id,
                        epoch: 0,
                        round: 3,
                        lock: Some(LockSummary { round: 2, template_hash }),
                        signers: vec![TemplateSigners { template_hash, signers: signers(&[0, 2, 4]) }]
                            .try_into()
                            .expect("within bound"),
                    },
                    DigestEntry {
                        event_id: EventId([0x12; 32]),
                        epoch: 1,
                        round: 0,
                        lock: None,
                        signers: Vec::new().try_into().expect("within bound"),
                    },
                ]
                .try_into()
                .expect("within bound"),
                ended: vec![
                    EndedEntry {
                        event_id: EventId([0x13; 32]),
                        epoch: 0,
                        outcome: EndedOutcome::Confirmed { transaction_id: TransactionId([0x33; 32]) },
                    },
                    EndedEntry { event_id: EventId([0x14; 32]), epoch: 2, outcome: EndedOutcome::Abandoned },
                    EndedEntry { event_id: EventId([0x15; 32]), epoch: 1, outcome: EndedOutcome::Dead },
                ]
                .try_into()
                .expect("within bound"),
            }),
        ),
        (
            "digest-empty",
            Body::Digest(DigestMessage {
                active: Vec::new().try_into().expect("within bound"),
                ended: Vec::new().try_into().expect("within bound"),
            }),
        ),
        (
            "request",
            Body::Request(RequestMessage {
                items: vec![
                    RequestItem::Event { event_id },
                    RequestItem::Votes { event_id, epoch: 0, round: 1 },
                    RequestItem::Certificate { event_id, epoch: 0 },
                    RequestItem::Template { template_hash },
                    RequestItem::Signatures { event_id, epoch: 0, template_hash, signers: signers(&[1, 3]) },
                ]
                .try_into()
                .expect("within bound"),
            }),
        ),
        (
            "completion",
            Body::Completion(CompletionMessage {
                event_id,
                epoch: 0,
                template_hash,
                transaction_id: TransactionId([0x33; 32]),
            }),
        ),
        ("template", Body::Template(TemplateMessage { template: bytes(200, 0x42) })),
    ]
}

/// Encodings `Body::decode` must refuse, each named `bad-…` after why.
fn malformed_bodies(bodies: &[(&'static str, Body)]) -> Vec<(String, Vec<u8>)> {
    let find = |name: &str| encode(&bodies.iter().find(|(n, _)| *n == name).expect("known seed").1);
    let vote = find("vote-with-template-and-event");
    let mut trailing = find("completion");
    trailing.push(0);
    let mut unknown_kind = find("completion");
    unknown_kind[0] = 0;
    let mut bad_option_tag = find("vote-bare");
    let last = bad_option_tag.len() - 1;
    bad_option_tag[last] = 2; // the `event` option's tag
    // An empty signature set whose length prefix (its last byte) claims 65535 signatures instead.
    let mut too_many_signatures = find("signatures-empty");
    too_many_signatures.pop();
    too_many_signatures.extend_from_slice(&[0xff, 0xff, 0x03]);
    vec![
        ("bad-empty".into(), Vec::new()),
        ("bad-unknown-kind-0".into(), unknown_kind),
        ("bad-unknown-kind-9".into(), vec![9]),
        ("bad-truncated-vote".into(), vote[..vote.len() / 2].to_vec()),
        ("bad-trailing-byte".into(), trailing),
        ("bad-option-tag".into(), bad_option_tag),
        ("bad-event-length-over-bound".into(), vec![MessageKind::Event as u8, 0x81, 0x80, 0x01]),
        ("bad-varint-overlong".into(), vec![MessageKind::Event as u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ("bad-signatures-over-bound".into(), too_many_signatures),
    ]
}

/// Sealed frames: every body from member 0, a few from other members, and frames that fail one check
/// each (named `reject-<reason>-…`).
fn frames(bodies: &[(&'static str, Body)]) -> Vec<(String, Vec<u8>)> {
    let group = group();
    let seal = |from: u8, at: UnixMs, body: &Body| {
        Sealer::new(group, MemberIndex(from), 1).seal(&signer(from), at, body).expect("seal")
    };
    let body = |name: &str| &bodies.iter().find(|(n, _)| *n == name).expect("known seed").1;

    let mut out: Vec<(String, Vec<u8>)> =
        bodies.iter().map(|(name, b)| (format!("{name}-from-0"), seal(0, WALL, b))).collect();
    for (from, name) in [(2, "completion"), (3, "vote-with-lock"), (4, "digest"), (2, "request")] {
        out.push((format!("{name}-from-{from}"), seal(from, WALL, body(name))));
    }
    // Within the freshness window, at both ends.
    out.push(("completion-from-3-old".into(), seal(3, UnixMs(WALL.0 - 59_000), body("completion"))));
    out.push(("completion-from-4-ahead".into(), seal(4, UnixMs(WALL.0 + 9_000), body("completion"))));

    let completion = seal(0, WALL, body("completion"));
    let signed_len = completion.len() - SIGNATURE_BYTES;
    let kind_at = signed_len - encode(body("completion")).len();
    let mut flipped = completion.clone();
    flipped[kind_at + 5] ^= 1;
    let mut unknown_kind = completion.clone();
    unknown_kind[kind_at] = 0x7f;
    let mut version = completion.clone();
    version[0] = 2;
    let mut trailing = completion.clone();
    trailing.insert(signed_len, 0);
    let stranger = Sealer::new(group, MemberIndex(7), 1).seal(&signer(0), WALL, body("completion"));
    let other_group = GroupConfig { policy_version: group.policy_version() + 1, ..group.config().clone() }
        .validate()
        .expect("the next policy version of the group is valid");
    let wrong_group = Sealer::new(&other_group, MemberIndex(0), 1).seal(&signer(0), WALL, body("completion"));
    // The right version byte, then noise: past the version check, into the header decoder.
    let garbage: Vec<u8> = std::iter::once(1)
        .chain((0u32..160).map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0]))
        .collect();

    out.extend([
        ("reject-own-index".into(), seal(RECEIVER.0, WALL, body("completion"))),
        ("reject-unknown-sender-7".into(), stranger.expect("seal")),
        ("reject-bad-signature-flipped-bit".into(), flipped),
        ("reject-wrong-group".into(), wrong_group.expect("seal")),
        ("reject-stale".into(), seal(0, UnixMs(WALL.0 - 61_000), body("completion"))),
        ("reject-from-future".into(), seal(0, UnixMs(WALL.0 + 11_000), body("completion"))),
        ("reject-unsupported-version".into(), version),
        ("reject-unknown-kind".into(), unknown_kind),
        ("reject-malformed-trailing-byte".into(), trailing),
        ("reject-malformed-truncated".into(), completion[..completion.len() / 2].to_vec()),
        ("reject-malformed-empty".into(), Vec::new()),
        ("reject-unknown-kind-noise-after-version".into(), garbage),
    ]);
    // Only the seeds named after a decoding failure fail to decode (signature unchecked).
    for (name, bytes) in &out {
        let decodes = UnverifiedFrame::decode(bytes, MAX_MESSAGE_BYTES).is_ok();
        let undecodable = ["malformed", "unknown-kind", "unsupported-version"]
            .iter()
            .any(|reason| name.starts_with(&format!("reject-{reason}")));
        assert_eq!(decodes, !undecodable, "frame seed {name}");
    }
    out
}

/// One `node` target operation: a body sealed by `sender`.
fn sealed_op(sender: u8, body: &Body) -> Vec<u8> {
    let bytes = encode(body);
    let len = u16::try_from(bytes.len()).expect("seed bodies are small");
    let mut op = vec![0, sender];
    op.extend_from_slice(&len.to_le_bytes());
    op.extend_from_slice(&bytes);
    op
}

/// Seeds of the `node` target: the happy path (two votes, then two signature sets, then the chain),
/// round timeouts, and chain news.
fn node_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_fuzz::node_world::{event, template};
    let event = event();
    let template = template();
    let hash = template.hash();
    let vote = Vote { event_id: event.id(), epoch: 0, round: 0, template_hash: hash };
    let mut happy = Vec::new();
    for member in [0u8, 2] {
        let signed =
            SignedVote::sign(vote, MemberIndex(member), group().id(), &signer(member)).expect("signs");
        let body = Body::Vote(VoteMessage {
            vote: signed,
            lock: None,
            template: Some(template.encode().expect("fits")),
            event: Some(event.encode().expect("fits")),
        });
        happy.extend(sealed_op(member, &body));
    }
    for member in [0u8, 2] {
        let signatures = template.sign(&signer(member), MemberIndex(member), &[member; 32]).expect("signs");
        let body = Body::Signatures(SignatureSetMessage {
            event_id: event.id(),
            epoch: 0,
            template_hash: hash,
            certificate: None,
            signatures: signatures.try_into().expect("fits"),
        });
        happy.extend(sealed_op(member, &body));
    }
    let mut chain = happy.clone();
    chain.extend([3, 0, 0x10, 0x00, 3, 1, 0x20, 0x00, 3, 3, 0x30, 0x00]);
    let timers: Vec<u8> = (0..12).flat_map(|_| [2, 0xe8, 0x03]).collect();
    vec![
        ("happy-path".to_owned(), happy),
        ("happy-path-then-chain".to_owned(), chain),
        ("timers".to_owned(), timers),
    ]
}

/// Seeds of the `attestation` target: each named `ok-…` verifies, each `bad-…` fails the check its
/// name gives (checked here).
fn attestation_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_fuzz::attestation_world::{GROUP, config, hyperlane, layerzero, operators, payment};
    use igra_proto::event::{Attestation, AttestationError, Event, verify};

    let config = config();
    assert_eq!(config.validate(), Ok(()), "the attestation world's configuration is valid");
    let pay = payment(150_000_000);
    let mut ok = vec![
        ("ok-hyperlane-message-id", hyperlane(&pay, 7, &[0, 1], false)),
        ("ok-hyperlane-message-id-3-of-3", hyperlane(&pay, 8, &[0, 1, 2], false)),
        ("ok-hyperlane-message-id-skips-one", hyperlane(&pay, 9, &[0, 2], false)),
        ("ok-hyperlane-merkle-root", hyperlane(&pay, 7, &[0, 1], true)),
        ("ok-hyperlane-merkle-root-1-2", hyperlane(&pay, 10, &[1, 2], true)),
        ("ok-layerzero", layerzero(&pay, 9, &[0, 1])),
        ("ok-layerzero-1-2", layerzero(&payment(1_000_000), 10, &[2, 1])),
        ("ok-operators", operators(&pay, [5; 32], &[0, 1])),
        ("ok-operators-3-of-3", operators(&payment(42), [6; 32], &[2, 0, 1])),
    ];
    let mut bad: Vec<(&str, Event)> = Vec::new();
    let mut e = hyperlane(&pay, 7, &[0, 1], false);
    e.payment.amount += 1;
    bad.push(("bad-hyperlane-amount", e));
    bad.push(("bad-hyperlane-order", hyperlane(&pay, 7, &[1, 0], false)));
    bad.push(("bad-hyperlane-below-threshold", hyperlane(&pay, 7, &[0], true)));
    let mut e = layerzero(&pay, 9, &[0, 1]);
    e.external_id[0] ^= 1;
    bad.push(("bad-layerzero-guid", e));
    bad.push(("bad-layerzero-above-quorum", layerzero(&pay, 9, &[0, 1, 2])));
    let mut e = operators(&pay, [5; 32], &[0, 1]);
    e.payment.destination.script[1] ^= 1;
    bad.push(("bad-operators-redirected", e));
    bad.push(("bad-operators-duplicate", operators(&pay, [5; 32], &[0, 0])));
    let mut e = operators(&pay, [5; 32], &[0, 1]);
    e.attestation = hyperlane(&pay, 7, &[0, 1], false).attestation;
    bad.push(("bad-kind-mismatch", e));
    for (name, event) in &ok {
        assert_eq!(verify(event, &config, GROUP), Ok(()), "attestation seed {name}");
    }
    for (name, event) in &bad {
        let verdict = verify(event, &config, GROUP);
        let deep = match (&event.attestation, &verdict) {
            (_, Ok(())) => false,
            (_, Err(AttestationError::KindMismatch)) => name.ends_with("kind-mismatch"),
            (Attestation::Hyperlane(_), Err(AttestationError::Hyperlane(_)))
            | (Attestation::LayerZero(_), Err(AttestationError::LayerZero(_)))
            | (Attestation::Operators(_), Err(AttestationError::Operators(_))) => true,
            _ => false,
        };
        assert!(deep, "attestation seed {name}: {verdict:?}");
    }
    ok.extend(bad);
    ok.into_iter().map(|(name, e)| (name.to_owned(), e.encode().expect("fits").to_vec())).collect()
}

/// Seeds of the `address` target: every network and version (`ok-…`), and strings that each fail one
/// check (`bad-…`, checked here).
fn address_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_proto::kaspa::address::{Address, AddressError, AddressVersion, Prefix};

    let mut out = Vec::new();
    let prefixes = [Prefix::Mainnet, Prefix::Testnet, Prefix::Simnet, Prefix::Devnet];
    let versions = [AddressVersion::PubKey, AddressVersion::PubKeyEcdsa, AddressVersion::ScriptHash];
    for (p, prefix) in prefixes.into_iter().enumerate() {
        for (v, version) in versions.into_iter().enumerate() {
            let payload: Vec<u8> = bytes(version.payload_len(), u8::try_from(p * 3 + v).expect("small"));
            let address = Address::new(prefix, version, &payload).expect("right length");
            out.push((format!("ok-{}-{version:?}", prefix.as_str()), address.encode().into_bytes()));
        }
    }
    let good = Address::new(Prefix::Mainnet, AddressVersion::PubKey, &[0x42; 32]).expect("valid").encode();
    let mut checksum = good.clone().into_bytes();
    let last = checksum.len() - 1;
    checksum[last] = if checksum[last] == b'q' { b'p' } else { b'q' };
    let cases: Vec<(&str, Vec<u8>, AddressError)> = vec![
        ("bad-checksum", checksum, AddressError::BadChecksum),
        ("bad-uppercase", good.replacen('q', "Q", 1).into_bytes(), AddressError::UpperCase),
        ("bad-prefix", good.replacen("kaspa:", "kaspax:", 1).into_bytes(), AddressError::UnknownPrefix),
        ("bad-no-prefix", good.as_bytes()["kaspa:".len()..].to_vec(), AddressError::MissingPrefix),
        ("bad-character", good.replacen('q', "b", 1).into_bytes(), AddressError::BadCharacter('b')),
        ("bad-short", b"kaspa:qqqq".to_vec(), AddressError::TooShort),
    ];
    for (name, text, expected) in cases {
        let text_str = std::str::from_utf8(&text).expect("ascii");
        let verdict = Address::decode(text_str);
        // A substitution may land on the prefix's own letters; only the kind of refusal matters.
        assert!(
            std::mem::discriminant(&verdict.expect_err(name)) == std::mem::discriminant(&expected),
            "address seed {name}"
        );
        out.push((name.to_owned(), text));
    }
    out
}

/// Seeds of the `template` target: templates the builder makes in the target's world, each valid
/// under at least one fee mode (checked here), and near misses named `bad-…`.
fn template_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_fuzz::template_world::{payment, policies, script, template, utxos};
    use igra_proto::kaspa::tx::SOMPI_PER_KASPA;
    use igra_proto::template::validate;

    let [group_pays, recipient_pays] = policies();
    let kas = SOMPI_PER_KASPA;
    let built = |utxos: &[igra_proto::template::Utxo], round, policy| {
        template(utxos, round, policy).expect("the seed pool pays the event")
    };
    let one_large = utxos(1, &[10 * kas]);
    let many_small = utxos(2, &[kas, kas, kas, kas, 2 * kas]);
    // Change below `min_change` is folded into the fee.
    let folded = utxos(3, &[3 * kas + 5_000_000]);
    let ok = vec![
        ("ok-group-pays-change", built(&one_large, 0, &group_pays)),
        ("ok-group-pays-round-3", built(&one_large, 3, &group_pays)),
        ("ok-group-pays-many-inputs", built(&many_small, 0, &group_pays)),
        ("ok-group-pays-folded", built(&folded, 0, &group_pays)),
        ("ok-recipient-pays-change", built(&one_large, 0, &recipient_pays)),
        ("ok-recipient-pays-many-inputs", built(&many_small, 1, &recipient_pays)),
        ("ok-recipient-pays-exact", built(&utxos(4, &[3 * kas]), 0, &recipient_pays)),
    ];
    let (payment, script) = (payment(), script());
    for (name, t) in &ok {
        let valid = policies().iter().any(|p| validate(t, t.hash(), &payment, &script, p).is_ok());
        assert!(valid, "template seed {name} is valid under no fee mode");
    }
    let mut out: Vec<(String, Vec<u8>)> =
        ok.iter().map(|(name, t)| ((*name).to_owned(), t.encode().expect("fits").to_vec())).collect();
    let base = &ok[0].1;
    let mut more = base.clone();
    more.transaction.outputs[0].value += 1;
    let mut foreign = base.clone();
    foreign.entries[0].script_public_key.script[2] ^= 1;
    let mut duplicate = ok[2].1.clone();
    duplicate.transaction.inputs[1].previous_outpoint = duplicate.transaction.inputs[0].previous_outpoint;
    let mut missing_entry = base.clone();
    missing_entry.entries.clear();
    for (name, t) in [
        ("bad-overpays", more),
        ("bad-foreign-input", foreign),
        ("bad-duplicate-input", duplicate),
        ("bad-missing-entry", missing_entry),
    ] {
        let valid = policies().iter().any(|p| validate(&t, t.hash(), &payment, &script, p).is_ok());
        assert!(!valid, "template seed {name} is valid");
        out.push((name.to_owned(), t.encode().expect("fits").to_vec()));
    }
    out
}

/// Seeds of the `config` target: the documented example and edits of it; `ok-…` parse, `bad-…` are
/// refused (checked here).
fn config_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_adapters::config::NodeFile;

    let example = include_str!("../../docs/examples/node.toml");
    let without = |start: &str, end: &str| {
        let from = example.find(start).expect("section present");
        let to = example[from..].find(end).map_or(example.len(), |i| from + i);
        format!("{}{}", &example[..from], &example[to..])
    };
    let simnet = example.replace("member = 0 ", "member = 2 ").replace("\"testnet-10\"", "\"simnet\"");
    let ok = vec![
        ("ok-example", example.to_owned()),
        ("ok-no-api", without("[api]", "# Identical in every member's file: the member list")),
        (
            "ok-operators-only",
            without("[attestation.hyperlane]", "# This signer's own policy")
                .replace("source = \"hyperlane\"", "source = \"operators\""),
        ),
        (
            "ok-member-2-simnet",
            simnet.lines().filter(|l| !l.starts_with("deny = ")).map(|l| format!("{l}\n")).collect(),
        ),
        ("ok-recipient-pays", example.replace("\"group_pays\"", "\"recipient_pays\"")),
        ("ok-no-optional-sections", without("[template]", "\u{0}")),
    ];
    let bad = vec![
        ("bad-threshold", example.replace("threshold = 2                           #", "threshold = 1 #")),
        ("bad-member", example.replace("member = 0 ", "member = 3 ")),
        ("bad-hex", example.replacen("identity = \"50de", "identity = \"zz", 1)),
        ("bad-address", example.replace("kaspatest:qpuw4cd04", "kaspatest:qpuw4cd05")),
        ("bad-unknown-key", example.replace("[kaspad]", "[kaspad]\nport = 1")),
        ("bad-deny-address-network", simnet.clone()),
        ("bad-url", example.replace("ws://127.0.0.1:17210", "http://127.0.0.1:17210")),
    ];
    for (name, text) in &ok {
        if let Err(e) = NodeFile::from_str(text) {
            panic!("config seed {name}: {e}");
        }
    }
    for (name, text) in &bad {
        assert!(NodeFile::from_str(text).is_err(), "config seed {name} parses");
    }
    ok.into_iter().chain(bad).map(|(name, text)| (name.to_owned(), text.into_bytes())).collect()
}

/// Seeds of the `scenario` target: swarm encodings of a few shapes, each run here and required to
/// pass every invariant.
fn scenario_seeds() -> Vec<(String, Vec<u8>)> {
    use igra_fuzz::scenario::scenario;
    use igra_sim::Simulation;
    use libfuzzer_sys::arbitrary::Unstructured;

    // Deterministic filler bytes (a multiplicative hash of the position and a tag).
    let noise = |tag: u32, len: u32| -> Vec<u8> {
        (0..len).map(|i| ((i ^ tag).wrapping_mul(2_654_435_761) >> 11).to_le_bytes()[0]).collect()
    };
    let seeds = vec![
        ("zeros-1-of-1".to_owned(), vec![0u8; 64]),
        ("noise-a".to_owned(), noise(1, 160)),
        ("noise-b".to_owned(), noise(2, 160)),
        ("noise-c".to_owned(), noise(3, 200)),
        ("noise-d".to_owned(), noise(4, 200)),
        ("ones".to_owned(), vec![0xffu8; 200]),
    ];
    for (name, bytes) in &seeds {
        let (seed, swarm) = scenario(&mut Unstructured::new(bytes)).expect("every input is a swarm");
        let report = Simulation::with_swarm(seed, swarm).run();
        assert!(report.passed(), "scenario seed {name}:\n{report}");
        let (m, n, events) = (report.swarm.m, report.swarm.n, report.events.len());
        println!("scenario seed {name}: {m}-of-{n}, {events} events, {} steps", report.steps);
    }
    seeds
}
