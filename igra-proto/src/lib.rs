//! # igra-proto
//!
//! The sans-IO core of Igra: leaderless threshold-signing coordination for UTXO chains. It is
//! `#![no_std]` + `alloc` and performs no I/O, reads no clock and draws no ambient randomness: bytes,
//! time and seeds go in as parameters, and what must be sent or stored comes out as values.
//!
//! What is here so far:
//!
//! * [`group`]: the group's members, threshold, network and limits, validated into a [`Group`] whose
//!   [`GroupId`] covers exactly the safety-relevant fields;
//! * [`keys`]: identity (Ed25519) and signing (secp256k1 BIP340) keys, their derivation from a BIP39
//!   mnemonic, and the [`Signer`] trait;
//! * [`wire`]: every protocol message body, bounded, versioned and encoded with postcard;
//! * [`envelope`]: the authenticated envelope, the [`Sealer`] that signs outgoing frames and the [`Gate`]
//!   that runs incoming ones through size, decode, membership, signature, group, freshness, replay and
//!   rate checks;
//! * [`vote`]: transferable signed votes and quorum certificates;
//! * [`kaspa`] and [`template`]: the Kaspa version-0 transaction layer and the deterministic templates
//!   a group votes on;
//! * [`event`]: events, their ids, Hyperlane/LayerZero/operator attestation and the signer policy;
//! * [`signature_set`]: the grow-only set of verified partial signatures;
//! * [`node`]: the coordination core, driven by `handle` / `poll_output` / `poll_timeout`.
//!
//! ## Two members exchanging a message
//!
//! ```
//! use igra_proto::{
//!     Body, Gate, GroupConfig, Instant, Limits, LocalSigner, Member, MemberIndex, Network, Sealer,
//!     Signer, UnixMs,
//!     wire::{CompletionMessage},
//!     ids::{EventId, TemplateHash, TransactionId},
//! };
//!
//! let alice = LocalSigner::from_secrets([1; 32], [1; 32])?;
//! let bob = LocalSigner::from_secrets([2; 32], [2; 32])?;
//! let member = |s: &LocalSigner| Member { identity: s.identity_public_key(), signing: s.signing_public_key() };
//! let group = GroupConfig {
//!     members: vec![member(&alice), member(&bob)],
//!     threshold: 2,
//!     network: Network::Simnet,
//!     policy_version: 1,
//!     limits: Limits::default(),
//! }
//! .validate()?;
//!
//! let mut sealer = Sealer::new(&group, MemberIndex(0), 1);
//! let mut gate = Gate::new(&group, MemberIndex(1));
//! let body = Body::Completion(CompletionMessage {
//!     event_id: EventId([7; 32]),
//!     epoch: 0,
//!     template_hash: TemplateHash([8; 32]),
//!     transaction_id: TransactionId([9; 32]),
//! });
//! let frame = sealer.seal(&alice, UnixMs(1_700_000_000_000), &body)?;
//! let envelope = gate.open(Instant(0), UnixMs(1_700_000_000_050), &frame)?;
//! assert_eq!(envelope.body, body);
//! assert_eq!(envelope.header.sender, MemberIndex(0));
//! // The same frame again is a replay.
//! assert!(gate.open(Instant(1), UnixMs(1_700_000_000_060), &frame).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
// Input-derived data must never panic the node: no unwraps, no unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)
)]
#![warn(clippy::alloc_instead_of_core)]

extern crate alloc;

pub mod envelope;
pub mod event;
pub mod group;
pub mod hash;
pub mod ids;
pub mod kaspa;
pub mod keys;
pub mod node;
pub mod signature_set;
pub mod template;
pub mod time;
pub mod vote;
pub mod wire;

pub use envelope::{Envelope, Gate, Header, RejectReason, Rejection, SealError, Sealer};
pub use group::{Group, GroupConfig, GroupError, Limits, Member, MemberIndex, MemberSet, Network};
pub use ids::{EventId, GroupId, TemplateHash, TransactionId};
pub use keys::{
    IdentityPublicKey, LocalSigner, PreparedIdentityKey, SchnorrSignature, Signer, SignerError,
    SigningPublicKey,
};
pub use time::{Instant, UnixMs};
pub use vote::{QuorumCertificate, SignedVote, Vote, VoteError};
pub use wire::{Body, DecodeError, MessageKind};
