//! Events: what the group is asked to pay, who attests to it, and how it is identified.
//!
//! An [`Event`] names a payment (destination script and amount in sompi), its source (Hyperlane,
//! LayerZero or the group's operators, with the source's own identifier), an external id (the
//! Hyperlane message id, the LayerZero guid, or the operators' request id), and an attestation that
//! proves the payment was authorized at the source. A signer never signs for an event whose
//! attestation fails [`verify`] or whose payment fails the signer policy.
//!
//! **Binding rule.** An attestation must prove *this* payment, not just *some* message: the verified
//! message's recipient must commit to the event's destination script (see
//! [`recipient_commitment`]) and its amount must equal the event's amount (see [`to_source_units`]),
//! and the external id and source id must be the verified message's own.

pub mod evm;
pub mod hyperlane;
pub mod layerzero;
pub mod operators;
pub mod policy;

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{Domain, DomainHasher};
use crate::ids::{EventId, GroupId};
use crate::kaspa::tx::{ScriptPublicKey, Sompi};
use crate::template::Payment;
use crate::wire::{DecodeError, EncodedEvent, decode_exact};

/// The kinds of event source, with their stable codes in the event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SourceKind {
    /// A Hyperlane message verified by a validator quorum.
    Hyperlane,
    /// A LayerZero v2 packet verified by a DVN signer quorum.
    LayerZero,
    /// A request approved by `k` of the group's named operators.
    Operators,
}

impl SourceKind {
    /// The source's code in the event id: Hyperlane 1, LayerZero 2, operators 3.
    pub const fn code(self) -> u8 {
        match self {
            Self::Hyperlane => 1,
            Self::LayerZero => 2,
            Self::Operators => 3,
        }
    }
}

/// Where an event comes from: the source kind and the source's own identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventSource {
    /// The kind of source.
    pub kind: SourceKind,
    /// The Hyperlane origin domain, the LayerZero source endpoint id, or 0 for operators.
    pub id: u32,
}

/// The proof that an event was authorized at its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attestation {
    /// A Hyperlane message with its validators' ISM metadata.
    Hyperlane(hyperlane::HyperlaneAttestation),
    /// A LayerZero packet with its DVN signers' signatures.
    LayerZero(layerzero::LayerZeroAttestation),
    /// Operator signatures over the event.
    Operators(operators::OperatorAttestation),
}

impl Attestation {
    /// The source kind this attestation proves.
    pub fn kind(&self) -> SourceKind {
        match self {
            Self::Hyperlane(_) => SourceKind::Hyperlane,
            Self::LayerZero(_) => SourceKind::LayerZero,
            Self::Operators(_) => SourceKind::Operators,
        }
    }
}

/// A withdrawal the group is asked to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The source.
    pub source: EventSource,
    /// The source's id of this event (message id, guid, request id).
    pub external_id: [u8; 32],
    /// What to pay.
    pub payment: Payment,
    /// The proof.
    pub attestation: Attestation,
}

impl Event {
    /// The event id: the BLAKE3 `derive_key` hash (context `"igra 2026-11 event id v1"`) of
    ///
    /// ```text
    /// source kind u8 ‖ source id u32 LE ‖ external id [32] ‖ script version u16 LE ‖ script length u32 LE
    /// ‖ script ‖ amount u64 LE
    /// ```
    ///
    /// The attestation is not covered: the same event proven by two different signature sets is one
    /// event. The source is covered: identical payments from two sources never collide.
    pub fn id(&self) -> EventId {
        event_id(self.source, &self.external_id, &self.payment)
    }

    /// The wire encoding (postcard), for event announcements and votes.
    pub fn encode(&self) -> Result<EncodedEvent, EventTooLarge> {
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        let len = bytes.len();
        EncodedEvent::try_from(bytes).map_err(|_| EventTooLarge { len })
    }

    /// Decodes an event. Decoding says nothing about validity: run [`verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_exact(bytes)
    }
}

/// The event id of a payment from `source` with `external_id`; see [`Event::id`].
pub fn event_id(source: EventSource, external_id: &[u8; 32], payment: &Payment) -> EventId {
    let script = &payment.destination.script;
    let script_len = u32::try_from(script.len()).unwrap_or(u32::MAX);
    EventId(
        DomainHasher::new(Domain::EventId)
            .update(&[source.kind.code()])
            .update(&source.id.to_le_bytes())
            .update(external_id)
            .update(&payment.destination.version.to_le_bytes())
            .update(&script_len.to_le_bytes())
            .update(script)
            .update(&payment.amount.to_le_bytes())
            .finalize(),
    )
}

/// An event does not fit in [`crate::wire::MAX_EVENT_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    /// Its encoded length.
    pub len: usize,
}

impl fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event encodes to {} bytes, above MAX_EVENT_BYTES", self.len)
    }
}

impl core::error::Error for EventTooLarge {}

/// The 32-byte recipient that a source message must carry to pay `destination`:
/// `keccak256("igra:kaspa-recipient:v1" ‖ script version u16 BE ‖ script)`.
///
/// A 32-byte field cannot hold every Kaspa script (an ECDSA key is 33 bytes, and the script type would
/// be a guess), so the recipient is a commitment to the whole script: one recipient value matches
/// exactly one destination script, of any standard type, and nothing is left to interpretation.
pub fn recipient_commitment(destination: &ScriptPublicKey) -> [u8; 32] {
    evm::keccak256(&[b"igra:kaspa-recipient:v1", &destination.version.to_be_bytes(), &destination.script])
}

/// `sompi` in the units of a source token with `decimals` decimals (Kaspa has 8), if the conversion is
/// exact: `sompi × 10^(decimals − 8)`, or `sompi / 10^(8 − decimals)` when that divides evenly. `None`
/// when no amount in source units equals `sompi` exactly, or it does not fit in 128 bits.
pub fn to_source_units(sompi: Sompi, decimals: u8) -> Option<u128> {
    const KASPA_DECIMALS: u8 = 8;
    if decimals >= KASPA_DECIMALS {
        let factor = 10u128.checked_pow(u32::from(decimals - KASPA_DECIMALS))?;
        u128::from(sompi).checked_mul(factor)
    } else {
        let divisor = 10u64.pow(u32::from(KASPA_DECIMALS - decimals));
        sompi.is_multiple_of(divisor).then_some(u128::from(sompi / divisor))
    }
}

/// The most decimals a source token may have: `MAX_SOMPI × 10^(26 − 8)` still fits in 128 bits.
pub const MAX_SOURCE_DECIMALS: u8 = 26;

/// What a source verifier must confirm about an event.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The claimed source id (origin domain, source endpoint id).
    pub source_id: u32,
    /// The claimed external id.
    pub external_id: &'a [u8; 32],
    /// The claimed payment.
    pub payment: &'a Payment,
}

/// The attestation rules of a group: which sources it accepts and whom it trusts for each.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttestationConfig {
    /// The Hyperlane origins and validators, if Hyperlane events are accepted.
    pub hyperlane: Option<hyperlane::HyperlaneConfig>,
    /// The LayerZero peers and DVN, if LayerZero events are accepted.
    pub layerzero: Option<layerzero::LayerZeroConfig>,
    /// The operator set, if operator events are accepted.
    pub operators: Option<operators::OperatorConfig>,
}

/// An attestation configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationConfigError {
    /// No source is configured: the group could never pay anything.
    NoSources,
    /// The Hyperlane configuration is invalid.
    Hyperlane(hyperlane::HyperlaneConfigError),
    /// The LayerZero configuration is invalid.
    LayerZero(layerzero::LayerZeroConfigError),
    /// The operator configuration is invalid.
    Operators(operators::OperatorConfigError),
}

impl fmt::Display for AttestationConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSources => f.write_str("no event source is configured"),
            Self::Hyperlane(e) => write!(f, "hyperlane: {e}"),
            Self::LayerZero(e) => write!(f, "layerzero: {e}"),
            Self::Operators(e) => write!(f, "operators: {e}"),
        }
    }
}

impl core::error::Error for AttestationConfigError {}

impl AttestationConfig {
    /// Checks every configured source (thresholds within set sizes, no duplicate validators or
    /// signers, known domains) and that at least one is configured.
    pub fn validate(&self) -> Result<(), AttestationConfigError> {
        if self.hyperlane.is_none() && self.layerzero.is_none() && self.operators.is_none() {
            return Err(AttestationConfigError::NoSources);
        }
        if let Some(c) = &self.hyperlane {
            c.validate().map_err(AttestationConfigError::Hyperlane)?;
        }
        if let Some(c) = &self.layerzero {
            c.validate().map_err(AttestationConfigError::LayerZero)?;
        }
        if let Some(c) = &self.operators {
            c.validate().map_err(AttestationConfigError::Operators)?;
        }
        Ok(())
    }
}

/// Why an event's attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationError {
    /// The attestation's kind differs from the event's source kind.
    KindMismatch,
    /// The group does not accept events from this kind of source.
    SourceNotConfigured(SourceKind),
    /// The Hyperlane proof failed.
    Hyperlane(hyperlane::HyperlaneError),
    /// The LayerZero proof failed.
    LayerZero(layerzero::LayerZeroError),
    /// The operator approval failed.
    Operators(operators::OperatorError),
}

impl fmt::Display for AttestationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KindMismatch => f.write_str("the attestation is for another kind of source"),
            Self::SourceNotConfigured(kind) => write!(f, "events from {kind:?} are not accepted"),
            Self::Hyperlane(e) => write!(f, "Hyperlane: {e}"),
            Self::LayerZero(e) => write!(f, "LayerZero: {e}"),
            Self::Operators(e) => write!(f, "operators: {e}"),
        }
    }
}

impl core::error::Error for AttestationError {}

/// Verifies that `event` is attested under `config` for the group `group_id`: the proof holds, and it
/// binds this event's source id, external id, destination and amount.
pub fn verify(event: &Event, config: &AttestationConfig, group_id: GroupId) -> Result<(), AttestationError> {
    if event.attestation.kind() != event.source.kind {
        return Err(AttestationError::KindMismatch);
    }
    let claim =
        Claim { source_id: event.source.id, external_id: &event.external_id, payment: &event.payment };
    match &event.attestation {
        Attestation::Hyperlane(a) => {
            let cfg = config
                .hyperlane
                .as_ref()
                .ok_or(AttestationError::SourceNotConfigured(SourceKind::Hyperlane))?;
            hyperlane::verify(cfg, a, &claim).map_err(AttestationError::Hyperlane)
        }
        Attestation::LayerZero(a) => {
            let cfg = config
                .layerzero
                .as_ref()
                .ok_or(AttestationError::SourceNotConfigured(SourceKind::LayerZero))?;
            layerzero::verify(cfg, a, &claim).map_err(AttestationError::LayerZero)
        }
        Attestation::Operators(a) => {
            let cfg = config
                .operators
                .as_ref()
                .ok_or(AttestationError::SourceNotConfigured(SourceKind::Operators))?;
            if event.source.id != 0 {
                return Err(AttestationError::Operators(operators::OperatorError::NonZeroSourceId));
            }
            operators::verify(cfg, a, group_id, &event.id()).map_err(AttestationError::Operators)
        }
    }
}

/// Reads a packed big-endian encoding front to back; every read is `None` once the input runs out.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    /// The next `N` bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_be_bytes)
    }

    /// The next big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// The next big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// Everything not read yet.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Concatenates `parts`, which total exactly `N` bytes, into an array: a fixed-length packed encoding.
pub(crate) fn pack<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    debug_assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), N, "parts must fill the array");
    let mut out = [0u8; N];
    let mut rest = out.as_mut_slice();
    for part in parts {
        let n = part.len().min(rest.len());
        let (head, tail) = core::mem::take(&mut rest).split_at_mut(n);
        head.copy_from_slice(part.get(..n).unwrap_or_default());
        rest = tail;
    }
    out
}

/// Helper for configuration validation: the first duplicate in `items`, if any.
pub(crate) fn first_duplicate<T: Ord + Clone>(items: &[T]) -> Option<T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort();
    sorted.windows(2).find_map(|w| match w {
        [a, b] if a == b => Some((*a).clone()),
        _ => None,
    })
}
