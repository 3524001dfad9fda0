//! The authenticated envelope every message travels in.
//!
//! A frame is `version ‖ header ‖ kind ‖ body ‖ signature` (see [`crate::wire`] for the framing). The
//! signature is the sender's Ed25519 identity signature over the [`Domain::Envelope`] hash of **every
//! byte before it**, so it covers the version, group id, sender index, boot epoch, sequence number, send
//! time and body alike: flipping any bit of a frame makes it fail.
//!
//! Sending is [`Sealer::seal`]; receiving is [`Gate::open`], which runs the checks in the order the
//! protocol prescribes (size, decode, membership, signature, group, freshness, replay, rate) and
//! returns either the authenticated [`Envelope`] or a typed, counted [`Rejection`].

mod gate;
mod rate;
mod replay;

pub use gate::{Gate, RejectReason, Rejection, RejectionCounters};
pub use replay::REPLAY_WINDOW;

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::group::{Group, MemberIndex};
use crate::hash::{Domain, domain_hash};
use crate::ids::GroupId;
use crate::keys::{IdentitySignature, Signer, SignerError};
use crate::time::UnixMs;
use crate::wire::{Body, DecodeError, MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

/// Length of the signature that ends every frame.
pub const SIGNATURE_BYTES: usize = 64;

/// The envelope fields that are not the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The group the message is for.
    pub group_id: GroupId,
    /// The sending member.
    pub sender: MemberIndex,
    /// The sender's boot epoch: strictly greater after every restart of the sender.
    pub boot_epoch: u64,
    /// The sender's message counter within the boot epoch, starting at 1.
    pub seq: u64,
    /// The sender's wall clock when it sealed the message.
    pub sent_at: UnixMs,
}

/// An authenticated message: what [`Gate::open`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: Body,
}

/// A decoded frame whose signature has not been checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedFrame<'a> {
    /// The header as claimed by the frame.
    pub header: Header,
    /// The body as claimed by the frame.
    pub body: Body,
    /// The bytes the signature covers.
    pub signed_bytes: &'a [u8],
    /// The signature.
    pub signature: IdentitySignature,
}

impl<'a> UnverifiedFrame<'a> {
    /// Splits and decodes a frame of at most `max_len` bytes without checking its signature.
    pub fn decode(bytes: &'a [u8], max_len: usize) -> Result<Self, DecodeError> {
        if bytes.len() > max_len {
            return Err(DecodeError::Oversized { len: bytes.len(), limit: max_len });
        }
        let split = bytes.len().checked_sub(SIGNATURE_BYTES).ok_or(DecodeError::Truncated)?;
        let (signed_bytes, signature) = bytes.split_at(split);
        let signature = IdentitySignature(signature.try_into().map_err(|_| DecodeError::Truncated)?);
        let (&version, rest) = signed_bytes.split_first().ok_or(DecodeError::Truncated)?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let (header, body_bytes) = postcard::take_from_bytes::<Header>(rest)?;
        let body = Body::decode(body_bytes)?;
        Ok(Self { header, body, signed_bytes, signature })
    }

    /// The digest the signature must cover.
    pub fn digest(&self) -> [u8; 32] {
        domain_hash(Domain::Envelope, self.signed_bytes)
    }
}

/// The message kind a frame claims, read from its header without decoding the body or checking the
/// signature: for metrics and logs, never for decisions (only [`Gate::open`] authenticates).
pub fn peek_kind(bytes: &[u8]) -> Option<crate::wire::MessageKind> {
    let (&version, rest) = bytes.split_first()?;
    if version != PROTOCOL_VERSION {
        return None;
    }
    let (_, body) = postcard::take_from_bytes::<Header>(rest).ok()?;
    crate::wire::MessageKind::try_from(*body.first()?).ok()
}

/// Why a message could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// The frame would exceed [`MAX_MESSAGE_BYTES`].
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The signer failed.
    Signer(SignerError),
    /// The body could not be encoded (a `Serialize` impl failed).
    Encoding,
    /// The sequence counter is exhausted for this boot epoch; restart with a higher epoch.
    SequenceExhausted,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, limit } => write!(f, "frame of {len} bytes exceeds the {limit}-byte limit"),
            Self::Signer(e) => write!(f, "signer: {e}"),
            Self::Encoding => f.write_str("body could not be encoded"),
            Self::SequenceExhausted => f.write_str("sequence numbers exhausted for this boot epoch"),
        }
    }
}

impl core::error::Error for SealError {}

/// Seals outgoing messages for one member: numbers them and signs them.
#[derive(Debug, Clone)]
pub struct Sealer {
    group_id: GroupId,
    sender: MemberIndex,
    boot_epoch: u64,
    next_seq: u64,
}

impl Sealer {
    /// A sealer for `sender` in `group`. `boot_epoch` must be strictly greater than the epoch of any
    /// earlier run of this member, or peers will drop its messages as replays.
    pub fn new(group: &Group, sender: MemberIndex, boot_epoch: u64) -> Self {
        Self { group_id: group.id(), sender, boot_epoch, next_seq: 1 }
    }

    /// Encodes, numbers and signs `body`, sent at wall-clock time `now`.
    pub fn seal(&mut self, signer: &dyn Signer, now: UnixMs, body: &Body) -> Result<Vec<u8>, SealError> {
        let seq = self.next_seq;
        let next = seq.checked_add(1).ok_or(SealError::SequenceExhausted)?;
        let header = Header {
            group_id: self.group_id,
            sender: self.sender,
            boot_epoch: self.boot_epoch,
            seq,
            sent_at: now,
        };
        let mut frame = Vec::with_capacity(256);
        frame.push(PROTOCOL_VERSION);
        crate::wire::encode_into(&header, &mut frame).map_err(|_| SealError::Encoding)?;
        body.encode_into(&mut frame).map_err(|_| SealError::Encoding)?;
        let len = frame.len() + SIGNATURE_BYTES;
        if len > MAX_MESSAGE_BYTES {
            return Err(SealError::TooLarge { len, limit: MAX_MESSAGE_BYTES });
        }
        let signature =
            signer.sign_identity(&domain_hash(Domain::Envelope, &frame)).map_err(SealError::Signer)?;
        frame.extend_from_slice(&signature.0);
        self.next_seq = next;
        Ok(frame)
    }

    /// The sequence number the next sealed message will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}
