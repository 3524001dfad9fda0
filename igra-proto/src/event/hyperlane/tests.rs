//! Verification of Hyperlane attestations: a valid one passes, and each forgery fails for its own
//! reason.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::event::{
    Attestation, AttestationConfig, AttestationError, Event, EventSource, SourceKind, recipient_commitment,
};
use crate::ids::GroupId;
use crate::kaspa::tx::ScriptPublicKey;

const LOCAL: u32 = 0x97BD;
const ORIGIN: u32 = 1000;
const HOOK: [u8; 32] = [0x22; 32];
const ROOT: [u8; 32] = [0x09; 32];
const ROUTER: [u8; 32] = [0xAA; 32];
const SENDER: [u8; 32] = [0x5E; 32];

fn validator(i: u8) -> EvmSigner {
    EvmSigner::from_secret(&[0x31 + i; 32]).unwrap()
}

fn stranger() -> EvmSigner {
    EvmSigner::from_secret(&[0x77; 32]).unwrap()
}

fn config() -> HyperlaneConfig {
    HyperlaneConfig {
        local_domain: LOCAL,
        recipient: ROUTER,
        origins: vec![HyperlaneOrigin {
            domain: ORIGIN,
            merkle_tree_hook: HOOK,
            senders: vec![SENDER],
            validators: (0..3).map(|i| validator(i).address()).collect(),
            threshold: 2,
            token_decimals: 18,
        }],
    }
}

fn payment() -> Payment {
    let mut script = vec![0x20];
    script.extend_from_slice(&[0x42; 32]);
    script.push(0xac);
    Payment { destination: ScriptPublicKey { version: 0, script }, amount: 150_000_000 }
}

fn message() -> HyperlaneMessage {
    warp_message(&config(), ORIGIN, SENDER, 7, &payment()).unwrap()
}

/// Verifies `attestation` against the fixture's configuration, for an event claiming `message`'s id
/// and the fixture's payment from `ORIGIN`.
fn check(message: &HyperlaneMessage, attestation: &HyperlaneAttestation) -> Result<(), HyperlaneError> {
    let id = message.id();
    let payment = payment();
    verify(&config(), attestation, &Claim { source_id: ORIGIN, external_id: &id, payment: &payment })
}

/// `message` attested in message-id mode by `signers`.
fn attested(message: &HyperlaneMessage, signers: &[EvmSigner]) -> HyperlaneAttestation {
    attest_message_id(message, HOOK, ROOT, 7, signers).unwrap()
}

/// `message` attested in message-id mode by raw signatures.
fn with_signatures(message: &HyperlaneMessage, signatures: &[[u8; 65]]) -> HyperlaneAttestation {
    let metadata = MessageIdMetadata { merkle_tree_hook: HOOK, root: ROOT, index: 7, signatures };
    HyperlaneAttestation {
        message: message.encode().try_into().unwrap(),
        metadata: HyperlaneMetadata::MessageId(metadata.encode().try_into().unwrap()),
    }
}

fn signature(message: &HyperlaneMessage, signer: &EvmSigner) -> [u8; 65] {
    let checkpoint = Checkpoint {
        origin: message.origin,
        merkle_tree_hook: HOOK,
        root: ROOT,
        index: 7,
        message_id: message.id(),
    };
    signer.sign_digest(&checkpoint.digest()).unwrap()
}

/// The high-s twin of a low-s signature: `s' = n - s` with the other recovery id.
fn high_s_twin(sig: [u8; 65]) -> [u8; 65] {
    let parsed = k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap();
    let (r, s) = parsed.split_scalars();
    let twin = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&twin.to_bytes());
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    out
}

#[test]
fn a_threshold_of_validators_in_configured_order_passes() {
    assert_eq!(config().validate(), Ok(()));
    let m = message();
    for signers in [[0, 1], [0, 2], [1, 2]] {
        let attestation = attested(&m, &signers.map(validator));
        assert_eq!(check(&m, &attestation), Ok(()), "{signers:?}");
    }
    // Signatures past the threshold are not read, as on chain.
    assert_eq!(check(&m, &attested(&m, &[validator(0), validator(1), validator(2)])), Ok(()));
    assert_eq!(check(&m, &attested(&m, &[validator(0), validator(1), stranger()])), Ok(()));
    // The configured order is the deployed one, not a sorted one.
    let mut reversed = config();
    reversed.origins[0].validators.reverse();
    let id = m.id();
    let payment = payment();
    let claim = Claim { source_id: ORIGIN, external_id: &id, payment: &payment };
    assert_eq!(verify(&reversed, &attested(&m, &[validator(2), validator(0)]), &claim), Ok(()));
}

#[test]
fn forged_signature_sets_each_fail_for_their_reason() {
    let m = message();
    let outsider = stranger().address();
    assert_eq!(
        check(&m, &attested(&m, &[validator(0), stranger()])),
        Err(HyperlaneError::SignatureByNonValidator { index: 1, signer: outsider })
    );
    assert_eq!(
        check(&m, &attested(&m, &[validator(1), validator(1)])),
        Err(HyperlaneError::DuplicateValidator { index: 1, validator: validator(1).address() })
    );
    assert_eq!(
        check(&m, &attested(&m, &[validator(2), validator(0)])),
        Err(HyperlaneError::ValidatorOutOfOrder { index: 1, validator: validator(0).address() })
    );
    assert_eq!(
        check(&m, &attested(&m, &[validator(0)])),
        Err(HyperlaneError::BelowThreshold { have: 1, need: 2 })
    );
    let good = [signature(&m, &validator(0)), signature(&m, &validator(1))];
    assert_eq!(check(&m, &with_signatures(&m, &good)), Ok(()));
    let high = [high_s_twin(good[0]), good[1]];
    assert_eq!(check(&m, &with_signatures(&m, &high)), Err(HyperlaneError::HighS { index: 0 }));
    let mut bad_v = good;
    bad_v[1][64] = 1;
    assert_eq!(check(&m, &with_signatures(&m, &bad_v)), Err(HyperlaneError::BadV { index: 1, v: 1 }));
    let mut zero_r = good;
    zero_r[0][..32].fill(0);
    assert_eq!(check(&m, &with_signatures(&m, &zero_r)), Err(HyperlaneError::InvalidSignature { index: 0 }));
    // Validators signing another checkpoint (here another root) sign for nobody here.
    let elsewhere = attest_message_id(&m, HOOK, [0x0A; 32], 7, &[validator(0), validator(1)]).unwrap();
    let HyperlaneMetadata::MessageId(bytes) = &elsewhere.metadata else { unreachable!() };
    let mut moved = bytes.to_vec();
    moved[32..64].copy_from_slice(&ROOT);
    let moved = HyperlaneAttestation {
        message: elsewhere.message.clone(),
        metadata: HyperlaneMetadata::MessageId(moved.try_into().unwrap()),
    };
    assert!(matches!(check(&m, &moved), Err(HyperlaneError::SignatureByNonValidator { index: 0, .. })));
}

#[test]
fn messages_that_do_not_pay_this_event_fail_for_their_reason() {
    let signers = || [validator(0), validator(1)];
    let forge = |edit: &dyn Fn(&mut HyperlaneMessage)| {
        let mut m = message();
        edit(&mut m);
        check(&m, &attested(&m, &signers()))
    };
    assert_eq!(forge(&|m| m.version = 2), Err(HyperlaneError::UnsupportedVersion(2)));
    assert_eq!(forge(&|m| m.destination = 1), Err(HyperlaneError::WrongDestinationDomain(1)));
    assert_eq!(forge(&|m| m.origin = 1001), Err(HyperlaneError::UnknownOrigin(1001)));
    assert_eq!(forge(&|m| m.sender = [1; 32]), Err(HyperlaneError::UnknownSender([1; 32])));
    assert_eq!(forge(&|m| m.recipient = [2; 32]), Err(HyperlaneError::WrongRecipientRouter([2; 32])));
    assert_eq!(forge(&|m| m.body.push(0)), Err(HyperlaneError::NotAWarpTransfer { len: 65 }));
    assert_eq!(forge(&|m| m.body[..32].fill(3)), Err(HyperlaneError::RecipientMismatch));
    assert_eq!(forge(&|m| m.body[63] ^= 1), Err(HyperlaneError::AmountMismatch));

    let m = message();
    let attestation = attested(&m, &signers());
    let id = m.id();
    let payment = payment();
    let claim = Claim { source_id: ORIGIN, external_id: &id, payment: &payment };
    assert_eq!(verify(&config(), &attestation, &claim), Ok(()));
    assert_eq!(
        verify(&config(), &attestation, &Claim { source_id: ORIGIN + 1, ..claim }),
        Err(HyperlaneError::SourceIdMismatch { message: ORIGIN, claim: ORIGIN + 1 })
    );
    assert_eq!(
        verify(&config(), &attestation, &Claim { external_id: &[0; 32], ..claim }),
        Err(HyperlaneError::MessageIdMismatch)
    );
    let elsewhere =
        Payment { destination: ScriptPublicKey { version: 0, script: vec![0x51] }, ..payment.clone() };
    assert_eq!(
        verify(&config(), &attestation, &Claim { payment: &elsewhere, ..claim }),
        Err(HyperlaneError::RecipientMismatch)
    );
    let more = Payment { amount: payment.amount + 1, ..payment.clone() };
    assert_eq!(
        verify(&config(), &attestation, &Claim { payment: &more, ..claim }),
        Err(HyperlaneError::AmountMismatch)
    );
    // A 6-decimal token cannot carry 1 sompi.
    let mut six = config();
    six.origins[0].token_decimals = 6;
    let dust = Payment { amount: 1, ..payment.clone() };
    assert_eq!(
        verify(&six, &attestation, &Claim { payment: &dust, ..claim }),
        Err(HyperlaneError::AmountNotRepresentable)
    );
    assert_eq!(
        warp_message(&config(), 5, SENDER, 0, &payment).unwrap_err(),
        HyperlaneError::UnknownOrigin(5)
    );
    // The message's recipient commits to the destination script.
    let transfer = WarpTransfer::parse(&m.body).unwrap();
    assert_eq!(transfer.recipient, recipient_commitment(&payment.destination));
}

#[test]
fn metadata_must_name_the_configured_hook_and_parse() {
    let m = message();
    let other_hook = attest_message_id(&m, [0x33; 32], ROOT, 7, &[validator(0), validator(1)]).unwrap();
    assert_eq!(check(&m, &other_hook), Err(HyperlaneError::WrongMerkleTreeHook([0x33; 32])));
    let good = attested(&m, &[validator(0), validator(1)]);
    let HyperlaneMetadata::MessageId(bytes) = &good.metadata else { unreachable!() };
    let truncated = |len: usize| HyperlaneAttestation {
        message: good.message.clone(),
        metadata: HyperlaneMetadata::MessageId(bytes[..len].to_vec().try_into().unwrap()),
    };
    assert_eq!(
        check(&m, &truncated(60)),
        Err(HyperlaneError::Metadata(MetadataError::TooShort { len: 60, min: 68 }))
    );
    assert_eq!(
        check(&m, &truncated(bytes.len() - 1)),
        Err(HyperlaneError::Metadata(MetadataError::SignaturesMisaligned { len: 129 }))
    );
    let short =
        HyperlaneAttestation { message: vec![3; 50].try_into().unwrap(), metadata: good.metadata.clone() };
    assert_eq!(check(&m, &short), Err(HyperlaneError::MessageTooShort(MessageTooShort { len: 50 })));
}

/// A tree holding three other messages around `m`, which sits at index 1.
fn tree_with(m: &HyperlaneMessage) -> MerkleTree {
    let mut tree = MerkleTree::new();
    tree.insert([0xE0; 32]).unwrap();
    assert_eq!(tree.insert(m.id()), Some(1));
    tree.insert([0xE2; 32]).unwrap();
    tree.insert([0xE3; 32]).unwrap();
    tree
}

#[test]
fn merkle_root_mode_proves_a_message_into_a_later_checkpoint() {
    let m = message();
    let tree = tree_with(&m);
    let signers = [validator(0), validator(2)];
    let attestation = attest_merkle_root(&m, HOOK, &tree, 1, &signers).unwrap();
    assert_eq!(check(&m, &attestation), Ok(()));
    assert_eq!(attest_merkle_root(&m, HOOK, &tree, 0, &signers), None, "leaf 0 is another message");

    let HyperlaneMetadata::MerkleRoot(bytes) = &attestation.metadata else { unreachable!() };
    let parsed = MerkleRootMetadata::parse(bytes).unwrap();
    assert_eq!((parsed.message_index, parsed.signed_index), (1, 3));
    let rebuild = |edit: &dyn Fn(&mut MerkleRootMetadata<'_>)| {
        let mut metadata = parsed;
        edit(&mut metadata);
        HyperlaneAttestation {
            message: attestation.message.clone(),
            metadata: HyperlaneMetadata::MerkleRoot(metadata.encode().try_into().unwrap()),
        }
    };
    // A bad proof yields a root nobody signed.
    assert_eq!(check(&m, &rebuild(&|md| md.proof[1][0] ^= 1)), Err(HyperlaneError::MerkleRootNotSigned));
    assert_eq!(check(&m, &rebuild(&|md| md.message_index = 0)), Err(HyperlaneError::MerkleRootNotSigned));
    assert_eq!(
        check(&m, &rebuild(&|md| md.message_index = 4)),
        Err(HyperlaneError::MessageAfterCheckpoint { message_index: 4, signed_index: 3 })
    );
    assert_eq!(
        check(&m, &rebuild(&|md| md.merkle_tree_hook = [0x33; 32])),
        Err(HyperlaneError::WrongMerkleTreeHook([0x33; 32]))
    );
    // Past the first signature, a stranger is reported as such.
    let mixed = attest_merkle_root(&m, HOOK, &tree, 1, &[validator(0), stranger()]).unwrap();
    assert_eq!(
        check(&m, &mixed),
        Err(HyperlaneError::SignatureByNonValidator { index: 1, signer: stranger().address() })
    );
    assert_eq!(check(&m, &rebuild(&|_| ())), Ok(()), "re-encoding alone changes nothing");
}

#[test]
fn events_route_to_the_hyperlane_verifier() {
    let m = message();
    let event = Event {
        source: EventSource { kind: SourceKind::Hyperlane, id: ORIGIN },
        external_id: m.id(),
        payment: payment(),
        attestation: Attestation::Hyperlane(
            attest_merkle_root(&m, HOOK, &tree_with(&m), 1, &[validator(0), validator(1)]).unwrap(),
        ),
    };
    let group = GroupId([1; 32]);
    let accepted = AttestationConfig { hyperlane: Some(config()), ..AttestationConfig::default() };
    assert_eq!(crate::event::verify(&event, &accepted, group), Ok(()));
    assert_eq!(
        crate::event::verify(&event, &AttestationConfig::default(), group),
        Err(AttestationError::SourceNotConfigured(SourceKind::Hyperlane))
    );
    let mut wrong_source = event.clone();
    wrong_source.source.id = ORIGIN + 1;
    assert_eq!(
        crate::event::verify(&wrong_source, &accepted, group),
        Err(AttestationError::Hyperlane(HyperlaneError::SourceIdMismatch {
            message: ORIGIN,
            claim: ORIGIN + 1
        }))
    );
    let mut other_kind = event.clone();
    other_kind.source.kind = SourceKind::LayerZero;
    assert_eq!(crate::event::verify(&other_kind, &accepted, group), Err(AttestationError::KindMismatch));
    // Even the largest attestation fits an event on the wire.
    let many: Vec<EvmSigner> = (0..32).map(|i| EvmSigner::from_secret(&[0x80 + i; 32]).unwrap()).collect();
    let mut big = event;
    big.attestation = Attestation::Hyperlane(attest_merkle_root(&m, HOOK, &tree_with(&m), 1, &many).unwrap());
    let encoded = big.encode().unwrap();
    assert_eq!(Event::decode(&encoded).unwrap(), big);
    let mut too_many = many;
    too_many.push(stranger());
    assert!(attest_merkle_root(&m, HOOK, &tree_with(&m), 1, &too_many).is_none());
}

#[test]
fn invalid_configurations_are_typed_errors() {
    use HyperlaneConfigError as E;
    let edit = |f: &dyn Fn(&mut HyperlaneConfig)| {
        let mut c = config();
        f(&mut c);
        c.validate()
    };
    let v0 = validator(0).address();
    assert_eq!(edit(&|c| c.origins.clear()), Err(E::NoOrigins));
    assert_eq!(
        edit(&|c| {
            let o = c.origins[0].clone();
            c.origins = (0..=u32::try_from(MAX_ORIGINS).unwrap())
                .map(|d| HyperlaneOrigin { domain: d + 1, ..o.clone() })
                .collect();
        }),
        Err(E::TooManyOrigins(MAX_ORIGINS + 1))
    );
    assert_eq!(edit(&|c| c.origins.push(c.origins[0].clone())), Err(E::DuplicateOrigin(ORIGIN)));
    assert_eq!(edit(&|c| c.origins[0].domain = LOCAL), Err(E::OriginIsLocal(LOCAL)));
    assert_eq!(edit(&|c| c.origins[0].senders.clear()), Err(E::NoSenders { origin: ORIGIN }));
    assert_eq!(
        edit(&|c| c.origins[0].senders = (0..=u8::try_from(MAX_SENDERS).unwrap()).map(|i| [i; 32]).collect()),
        Err(E::TooManySenders { origin: ORIGIN, count: MAX_SENDERS + 1 })
    );
    assert_eq!(
        edit(&|c| c.origins[0].senders.push(SENDER)),
        Err(E::DuplicateSender { origin: ORIGIN, sender: SENDER })
    );
    assert_eq!(edit(&|c| c.origins[0].validators.clear()), Err(E::NoValidators { origin: ORIGIN }));
    assert_eq!(
        edit(&|c| c.origins[0].validators =
            (0..=u8::try_from(MAX_VALIDATORS).unwrap()).map(|i| EvmAddress([i; 20])).collect()),
        Err(E::TooManyValidators { origin: ORIGIN, count: MAX_VALIDATORS + 1 })
    );
    assert_eq!(
        edit(&|c| c.origins[0].validators.push(v0)),
        Err(E::DuplicateValidator { origin: ORIGIN, validator: v0 })
    );
    assert_eq!(
        edit(&|c| c.origins[0].threshold = 0),
        Err(E::BadThreshold { origin: ORIGIN, threshold: 0, validators: 3 })
    );
    assert_eq!(
        edit(&|c| c.origins[0].threshold = 4),
        Err(E::BadThreshold { origin: ORIGIN, threshold: 4, validators: 3 })
    );
    assert_eq!(
        edit(&|c| c.origins[0].token_decimals = 27),
        Err(E::TooManyDecimals { origin: ORIGIN, decimals: 27 })
    );
    // An invalid configuration accepts nothing.
    let mut zero = config();
    zero.origins[0].threshold = 0;
    let m = message();
    let id = m.id();
    let payment = payment();
    assert_eq!(
        verify(&zero, &attested(&m, &[]), &Claim { source_id: ORIGIN, external_id: &id, payment: &payment }),
        Err(HyperlaneError::InvalidConfig(E::BadThreshold { origin: ORIGIN, threshold: 0, validators: 3 }))
    );
}

/// xorshift64*: deterministic pseudo-random bytes for the no-panic sweep.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

#[test]
fn random_and_mutated_inputs_never_panic_and_never_pass() {
    let mut noise = Noise(0x1234_5678_9abc_def1);
    let m = message();
    for round in 0..300 {
        let message = noise.bytes(300);
        let metadata = noise.bytes(1400);
        let attestation = HyperlaneAttestation {
            message: message.clone().try_into().unwrap(),
            metadata: if round % 2 == 0 {
                HyperlaneMetadata::MessageId(
                    metadata[..metadata.len().min(MAX_MESSAGE_ID_METADATA_BYTES)]
                        .to_vec()
                        .try_into()
                        .unwrap(),
                )
            } else {
                HyperlaneMetadata::MerkleRoot(metadata.try_into().unwrap())
            },
        };
        assert!(check(&m, &attestation).is_err());
        let _ = HyperlaneMessage::parse(&message);
        let _ = MessageIdMetadata::parse(&message);
        let _ = MerkleRootMetadata::parse(&message);
    }
    // Flipping any one byte of a valid attestation breaks it.
    let valid = attested(&m, &[validator(0), validator(1)]);
    let HyperlaneMetadata::MessageId(metadata) = &valid.metadata else { unreachable!() };
    for _ in 0..64 {
        let mut message = valid.message.to_vec();
        let mut metadata = metadata.to_vec();
        let pick = noise.below(message.len() + metadata.len());
        let bit = 1u8 << (noise.next() % 8);
        match pick.checked_sub(message.len()) {
            None => message[pick] ^= bit,
            Some(i) => metadata[i] ^= bit,
        }
        let forged = HyperlaneAttestation {
            message: message.try_into().unwrap(),
            metadata: HyperlaneMetadata::MessageId(metadata.try_into().unwrap()),
        };
        assert!(check(&m, &forged).is_err(), "flipped byte {pick}");
    }
}
