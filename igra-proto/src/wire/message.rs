//! Message bodies for the whole protocol, one struct per [`MessageKind`].

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{BoundedBytes, BoundedVec, DecodeError, decode_exact, encode_into};
use crate::group::{MAX_MEMBERS, MemberIndex, MemberSet};
use crate::ids::{EventId, TemplateHash, TransactionId};
use crate::keys::SchnorrSignature;
use crate::vote::{QuorumCertificate, SignedVote};

/// Largest encoded event (with its attestation) in bytes: a Hyperlane merkle proof (32 x 32 bytes),
/// dozens of 65-byte validator signatures and the message body fit with room to spare.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;
/// Largest encoded transaction template in bytes: the unsigned transaction plus every input's UTXO
/// entry for [`MAX_TEMPLATE_INPUTS`] inputs.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Most inputs a template may spend (the template layer may set a lower, mass-derived bound).
pub const MAX_TEMPLATE_INPUTS: usize = 256;
/// Most partial signatures in one message: every input signed by every member.
pub const MAX_SIGNATURES_PER_MESSAGE: usize = MAX_TEMPLATE_INPUTS * MAX_MEMBERS;
/// Most events described in one anti-entropy digest (per list).
pub const MAX_DIGEST_ENTRIES: usize = 256;
/// Most templates one digest entry reports signatures for.
pub const MAX_TEMPLATES_PER_DIGEST_ENTRY: usize = 4;
/// Most items in one anti-entropy request.
pub const MAX_REQUEST_ITEMS: usize = 256;

/// An event with its attestation, in the event layer's encoding.
pub type EncodedEvent = BoundedBytes<MAX_EVENT_BYTES>;
/// A transaction template in the template layer's encoding.
pub type EncodedTemplate = BoundedBytes<MAX_TEMPLATE_BYTES>;

/// The kind byte of a frame. Values are stable: never reuse or renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MessageKind {
    /// [`EventAnnouncement`].
    Event = 1,
    /// [`VoteMessage`].
    Vote = 2,
    /// [`CertificateMessage`].
    Certificate = 3,
    /// [`SignatureSetMessage`].
    Signatures = 4,
    /// [`DigestMessage`].
    Digest = 5,
    /// [`RequestMessage`].
    Request = 6,
    /// [`CompletionMessage`].
    Completion = 7,
    /// [`TemplateMessage`].
    Template = 8,
}

impl MessageKind {
    /// Every kind, in kind-byte order.
    pub const ALL: [Self; 8] = [
        Self::Event,
        Self::Vote,
        Self::Certificate,
        Self::Signatures,
        Self::Digest,
        Self::Request,
        Self::Completion,
        Self::Template,
    ];
}

impl TryFrom<u8> for MessageKind {
    type Error = DecodeError;

    fn try_from(byte: u8) -> Result<Self, DecodeError> {
        Self::ALL.into_iter().find(|k| *k as u8 == byte).ok_or(DecodeError::UnknownKind(byte))
    }
}

/// "Here is an attested event": lets a member learn of an event from a peer and verify it itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAnnouncement {
    /// The event and its attestation.
    pub event: EncodedEvent,
}

/// A member's vote, with what a receiver needs to check and join it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteMessage {
    /// The signed vote.
    pub vote: SignedVote,
    /// The voter's lock: the highest-round certificate it knows for this event and epoch.
    pub lock: Option<QuorumCertificate>,
    /// The template voted for, so that the receiver can validate it without a round trip.
    pub template: Option<EncodedTemplate>,
    /// The event, for a receiver that has not heard of it yet.
    pub event: Option<EncodedEvent>,
}

/// A quorum certificate, with its template when the receiver may lack it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateMessage {
    /// The certificate.
    pub certificate: QuorumCertificate,
    /// The certified template.
    pub template: Option<EncodedTemplate>,
}

/// One member's Schnorr signature of one input's sighash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartialSignature {
    /// The input signed.
    pub input_index: u16,
    /// The member who signed.
    pub signer: MemberIndex,
    /// BIP340 signature over the input's sighash.
    pub signature: SchnorrSignature,
}

/// Signatures for one certified template: a delta or the whole set of the signature CRDT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureSetMessage {
    /// The event.
    pub event_id: EventId,
    /// The epoch the template was certified in.
    pub epoch: u32,
    /// The template signed.
    pub template_hash: TemplateHash,
    /// The certificate that allowed signing, for a receiver that has not seen it.
    pub certificate: Option<QuorumCertificate>,
    /// The signatures.
    pub signatures: BoundedVec<PartialSignature, MAX_SIGNATURES_PER_MESSAGE>,
}

/// A lock: the template of the highest-round certificate a member knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LockSummary {
    /// The certificate's round.
    pub round: u32,
    /// The certified template.
    pub template_hash: TemplateHash,
}

/// Whose complete signature sets a member holds for one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TemplateSigners {
    /// The template.
    pub template_hash: TemplateHash,
    /// Members whose signatures for every input the sender holds.
    pub signers: MemberSet,
}

/// The digest of one event still in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// The event.
    pub event_id: EventId,
    /// The sender's current epoch for it.
    pub epoch: u32,
    /// The sender's current round.
    pub round: u32,
    /// The sender's lock, if any.
    pub lock: Option<LockSummary>,
    /// Signature holdings per template.
    pub signers: BoundedVec<TemplateSigners, MAX_TEMPLATES_PER_DIGEST_ENTRY>,
}

/// How an event ended, as its sender saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndedOutcome {
    /// The transaction is on chain at confirmation depth.
    Confirmed {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// No quorum formed and no signature was released.
    Abandoned,
    /// The signed template can never confirm.
    Dead,
}

/// The digest of one recently ended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndedEntry {
    /// The event.
    pub event_id: EventId,
    /// The epoch it ended in.
    pub epoch: u32,
    /// How it ended.
    pub outcome: EndedOutcome,
}

/// Anti-entropy: a compact summary of what the sender knows, so a peer can send what it lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestMessage {
    /// Events in progress.
    pub active: BoundedVec<DigestEntry, MAX_DIGEST_ENTRIES>,
    /// Recently ended events.
    pub ended: BoundedVec<EndedEntry, MAX_DIGEST_ENTRIES>,
}

/// One thing a member asks a peer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestItem {
    /// The event and its attestation.
    Event {
        /// The event.
        event_id: EventId,
    },
    /// The peer's votes for one round.
    Votes {
        /// The event.
        event_id: EventId,
        /// The epoch.
        epoch: u32,
        /// The round.
        round: u32,
    },
    /// The peer's highest certificate for an event and epoch.
    Certificate {
        /// The event.
        event_id: EventId,
        /// The epoch.
        epoch: u32,
    },
    /// A template by hash.
    Template {
        /// The template.
        template_hash: TemplateHash,
    },
    /// Signatures of the listed members for a template.
    Signatures {
        /// The event.
        event_id: EventId,
        /// The epoch.
        epoch: u32,
        /// The template.
        template_hash: TemplateHash,
        /// Whose signatures are wanted.
        signers: MemberSet,
    },
}

/// Anti-entropy: what the sender lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMessage {
    /// The requested items.
    pub items: BoundedVec<RequestItem, MAX_REQUEST_ITEMS>,
}

/// "This event's transaction is final": a hint that receivers check against their own chain view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionMessage {
    /// The event.
    pub event_id: EventId,
    /// The epoch whose template was submitted.
    pub epoch: u32,
    /// The template.
    pub template_hash: TemplateHash,
    /// The transaction id.
    pub transaction_id: TransactionId,
}

/// A template, in answer to a request for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    /// The template.
    pub template: EncodedTemplate,
}

/// Any message body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // bodies are built and consumed one at a time; boxing buys nothing
pub enum Body {
    /// See [`EventAnnouncement`].
    Event(EventAnnouncement),
    /// See [`VoteMessage`].
    Vote(VoteMessage),
    /// See [`CertificateMessage`].
    Certificate(CertificateMessage),
    /// See [`SignatureSetMessage`].
    Signatures(SignatureSetMessage),
    /// See [`DigestMessage`].
    Digest(DigestMessage),
    /// See [`RequestMessage`].
    Request(RequestMessage),
    /// See [`CompletionMessage`].
    Completion(CompletionMessage),
    /// See [`TemplateMessage`].
    Template(TemplateMessage),
}

impl Body {
    /// This body's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Event(_) => MessageKind::Event,
            Self::Vote(_) => MessageKind::Vote,
            Self::Certificate(_) => MessageKind::Certificate,
            Self::Signatures(_) => MessageKind::Signatures,
            Self::Digest(_) => MessageKind::Digest,
            Self::Request(_) => MessageKind::Request,
            Self::Completion(_) => MessageKind::Completion,
            Self::Template(_) => MessageKind::Template,
        }
    }

    /// Appends `kind ‖ body` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
        out.push(self.kind() as u8);
        match self {
            Self::Event(b) => encode_into(b, out),
            Self::Vote(b) => encode_into(b, out),
            Self::Certificate(b) => encode_into(b, out),
            Self::Signatures(b) => encode_into(b, out),
            Self::Digest(b) => encode_into(b, out),
            Self::Request(b) => encode_into(b, out),
            Self::Completion(b) => encode_into(b, out),
            Self::Template(b) => encode_into(b, out),
        }
    }

    /// Decodes `kind ‖ body`, which must use up `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&kind, rest) = bytes.split_first().ok_or(DecodeError::Truncated)?;
        Ok(match MessageKind::try_from(kind)? {
            MessageKind::Event => Self::Event(decode_exact(rest)?),
            MessageKind::Vote => Self::Vote(decode_exact(rest)?),
            MessageKind::Certificate => Self::Certificate(decode_exact(rest)?),
            MessageKind::Signatures => Self::Signatures(decode_exact(rest)?),
            MessageKind::Digest => Self::Digest(decode_exact(rest)?),
            MessageKind::Request => Self::Request(decode_exact(rest)?),
            MessageKind::Completion => Self::Completion(decode_exact(rest)?),
            MessageKind::Template => Self::Template(decode_exact(rest)?),
        })
    }
}
