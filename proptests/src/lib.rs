//! Property suites over `igra-proto`. The properties live in `tests/`; this library holds the fixtures
//! and proptest strategies they share.

// Fixtures panic on purpose if a fixed test setup is wrong; that is a bug in the suite, not an input.
#![allow(clippy::missing_panics_doc)]

pub mod cluster;

use igra_proto::group::MAX_MEMBERS;
use igra_proto::keys::IdentitySignature;
use igra_proto::vote::VoteSignature;
use igra_proto::wire::{
    BoundedBytes, BoundedVec, CertificateMessage, CompletionMessage, DigestEntry, DigestMessage, EndedEntry,
    EndedOutcome, EventAnnouncement, LockSummary, PartialSignature, RequestItem, RequestMessage,
    SignatureSetMessage, TemplateMessage, TemplateSigners, VoteMessage,
};
use igra_proto::{
    Body, EventId, Group, GroupConfig, Limits, LocalSigner, Member, MemberIndex, MemberSet, Network,
    QuorumCertificate, SchnorrSignature, SignedVote, Signer, TemplateHash, TransactionId, UnixMs, Vote,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A wall-clock time to send and receive at in tests (2027-01-15).
pub const T0: UnixMs = UnixMs(1_800_000_000_000);

/// A group and the signers of its members, by index.
pub struct Fixture {
    /// The validated group.
    pub group: Group,
    /// `signers[i]` holds member `i`'s keys.
    pub signers: Vec<LocalSigner>,
}

/// The signer of test member `i` (fixed keys, different per index).
pub fn test_signer(i: u8) -> LocalSigner {
    LocalSigner::from_secrets([i.wrapping_add(1); 32], [i.wrapping_add(1); 32])
        .expect("fixed test secrets are valid")
}

/// An `m`-of-`n` simnet group of test signers with the given limits.
pub fn fixture_with(n: u8, m: u8, limits: Limits) -> Fixture {
    let signers: Vec<_> = (0..n).map(test_signer).collect();
    let members = signers
        .iter()
        .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
        .collect();
    let group = GroupConfig { members, threshold: m, network: Network::Simnet, policy_version: 1, limits }
        .validate()
        .expect("test groups are valid");
    Fixture { group, signers }
}

/// An `m`-of-`n` simnet group of test signers with default limits.
pub fn fixture(n: u8, m: u8) -> Fixture {
    fixture_with(n, m, Limits::default())
}

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn bytes64() -> impl Strategy<Value = [u8; 64]> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut out = [0; 64];
        out[..32].copy_from_slice(&a);
        out[32..].copy_from_slice(&b);
        out
    })
}

fn member() -> impl Strategy<Value = MemberIndex> {
    (0..=u8::try_from(MAX_MEMBERS).expect("fits")).prop_map(MemberIndex)
}

fn bounded_vec<T: core::fmt::Debug, const MAX: usize>(
    element: impl Strategy<Value = T>,
    max_len: usize,
) -> impl Strategy<Value = BoundedVec<T, MAX>> {
    vec(element, 0..=max_len.min(MAX)).prop_map(|v| BoundedVec::try_from(v).expect("within bound"))
}

fn bounded_bytes<const MAX: usize>(max_len: usize) -> impl Strategy<Value = BoundedBytes<MAX>> {
    vec(any::<u8>(), 0..=max_len.min(MAX)).prop_map(|v| BoundedBytes::try_from(v).expect("within bound"))
}

fn vote() -> impl Strategy<Value = Vote> {
    (bytes32(), any::<u32>(), any::<u32>(), bytes32()).prop_map(|(e, epoch, round, t)| Vote {
        event_id: EventId(e),
        epoch,
        round,
        template_hash: TemplateHash(t),
    })
}

fn signed_vote() -> impl Strategy<Value = SignedVote> {
    (vote(), member(), bytes64()).prop_map(|(vote, voter, sig)| SignedVote {
        vote,
        voter,
        signature: IdentitySignature(sig),
    })
}

fn certificate() -> impl Strategy<Value = QuorumCertificate> {
    (vote(), vec((member(), bytes64()), 0..=MAX_MEMBERS)).prop_map(|(vote, sigs)| QuorumCertificate {
        vote,
        signatures: BoundedVec::try_from(
            sigs.iter()
                .map(|(voter, sig)| VoteSignature { voter: *voter, signature: IdentitySignature(*sig) })
                .collect::<Vec<_>>(),
        )
        .expect("within bound"),
    })
}

fn member_set() -> impl Strategy<Value = MemberSet> {
    any::<u16>().prop_map(MemberSet)
}

fn request_item() -> impl Strategy<Value = RequestItem> {
    prop_oneof![
        bytes32().prop_map(|e| RequestItem::Event { event_id: EventId(e) }),
        (bytes32(), any::<u32>(), any::<u32>()).prop_map(|(e, epoch, round)| RequestItem::Votes {
            event_id: EventId(e),
            epoch,
            round
        }),
        (bytes32(), any::<u32>())
            .prop_map(|(e, epoch)| RequestItem::Certificate { event_id: EventId(e), epoch }),
        bytes32().prop_map(|t| RequestItem::Template { template_hash: TemplateHash(t) }),
        (bytes32(), any::<u32>(), bytes32(), member_set()).prop_map(|(e, epoch, t, signers)| {
            RequestItem::Signatures { event_id: EventId(e), epoch, template_hash: TemplateHash(t), signers }
        }),
    ]
}

fn digest_entry() -> impl Strategy<Value = DigestEntry> {
    (
        bytes32(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of((any::<u32>(), bytes32())),
        vec((bytes32(), member_set()), 0..=4),
    )
        .prop_map(|(e, epoch, round, lock, signers)| DigestEntry {
            event_id: EventId(e),
            epoch,
            round,
            lock: lock.map(|(round, t)| LockSummary { round, template_hash: TemplateHash(t) }),
            signers: BoundedVec::try_from(
                signers
                    .iter()
                    .map(|(t, s)| TemplateSigners { template_hash: TemplateHash(*t), signers: *s })
                    .collect::<Vec<_>>(),
            )
            .expect("within bound"),
        })
}

fn ended_entry() -> impl Strategy<Value = EndedEntry> {
    let outcome = prop_oneof![
        bytes32().prop_map(|t| EndedOutcome::Confirmed { transaction_id: TransactionId(t) }),
        Just(EndedOutcome::Abandoned),
        Just(EndedOutcome::Dead),
    ];
    (bytes32(), any::<u32>(), outcome).prop_map(|(e, epoch, outcome)| EndedEntry {
        event_id: EventId(e),
        epoch,
        outcome,
    })
}

/// Any message body, with small collections (the bounds themselves are tested separately).
pub fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        bounded_bytes(64).prop_map(|event| Body::Event(EventAnnouncement { event })),
        (
            signed_vote(),
            proptest::option::of(certificate()),
            proptest::option::of(bounded_bytes(64)),
            proptest::option::of(bounded_bytes(64))
        )
            .prop_map(|(vote, lock, template, event)| Body::Vote(VoteMessage {
                vote,
                lock,
                template,
                event
            })),
        (certificate(), proptest::option::of(bounded_bytes(64))).prop_map(|(certificate, template)| {
            Body::Certificate(CertificateMessage { certificate, template })
        }),
        (
            bytes32(),
            any::<u32>(),
            bytes32(),
            proptest::option::of(certificate()),
            vec((any::<u16>(), member(), bytes64()), 0..=8)
        )
            .prop_map(|(e, epoch, t, certificate, sigs)| Body::Signatures(SignatureSetMessage {
                event_id: EventId(e),
                epoch,
                template_hash: TemplateHash(t),
                certificate,
                signatures: BoundedVec::try_from(
                    sigs.iter()
                        .map(|(input_index, signer, sig)| PartialSignature {
                            input_index: *input_index,
                            signer: *signer,
                            signature: SchnorrSignature(*sig),
                        })
                        .collect::<Vec<_>>()
                )
                .expect("within bound"),
            })),
        (bounded_vec(digest_entry(), 4), bounded_vec(ended_entry(), 4))
            .prop_map(|(active, ended)| Body::Digest(DigestMessage { active, ended })),
        bounded_vec(request_item(), 8).prop_map(|items| Body::Request(RequestMessage { items })),
        (bytes32(), any::<u32>(), bytes32(), bytes32()).prop_map(|(e, epoch, t, tx)| Body::Completion(
            CompletionMessage {
                event_id: EventId(e),
                epoch,
                template_hash: TemplateHash(t),
                transaction_id: TransactionId(tx),
            }
        )),
        bounded_bytes(64).prop_map(|template| Body::Template(TemplateMessage { template })),
    ]
}
