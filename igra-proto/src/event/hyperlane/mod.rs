//! Hyperlane events: a warp-route transfer to the group, proven by the origin's validator quorum
//! exactly as a destination chain's multisig ISM would accept it.
//!
//! An attestation is the packed [`HyperlaneMessage`] plus multisig ISM metadata in one of its two
//! layouts (see [`checkpoint`]). [`verify`] accepts it when all of these hold:
//!
//! * the message is version 3, addressed to the group's domain and router, from a configured origin
//!   router, and its origin, id, recipient and amount are the event's own (the binding rule of
//!   [`crate::event`]);
//! * the metadata names the origin's configured `MerkleTreeHook`; in the merkle-root layout, the
//!   message's leaf index is at or before the signed checkpoint's and its proof yields the signed root;
//! * the first `threshold` signatures recover, under `OpenZeppelin`'s rules, to validators in the
//!   configured order: the on-chain `AbstractMultisigIsm` walk, so any signature set the group
//!   accepts, an ISM with the same validators and threshold accepts too. Extra signatures are ignored,
//!   as on chain.
//!
//! The group is stricter than an ISM: the origin router and the hook are pinned by configuration, a
//! body with token metadata after the amount is refused, and so is a ragged signature section.
//!
//! A bad merkle proof cannot be told from a stranger's signature: both make the first signature
//! recover to a non-validator. In the merkle-root layout that case is reported as
//! [`HyperlaneError::MerkleRootNotSigned`], the likelier cause; later signatures by non-validators are
//! reported as such.

pub mod checkpoint;
pub mod config;
pub mod merkle;
pub mod message;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::Claim;
use super::evm::{self, EvmAddress, EvmSigner, RecoverError, SIGNATURE_LEN, uint256};
use crate::hash::Hex;
use crate::template::Payment;
use crate::wire::BoundedBytes;

pub use checkpoint::{Checkpoint, MerkleRootMetadata, MessageIdMetadata, MetadataError, domain_hash};
pub use config::{
    HyperlaneConfig, HyperlaneConfigError, HyperlaneOrigin, MAX_ORIGINS, MAX_SENDERS, MAX_VALIDATORS,
};
pub use merkle::{MerkleProof, MerkleTree, TREE_DEPTH, branch_root};
pub use message::{HyperlaneMessage, MESSAGE_VERSION, MessageTooShort, WARP_BODY_LEN, WarpTransfer};

/// The largest message accepted: a warp transfer is 141 bytes; the bound leaves room for other bodies
/// to be refused by reason rather than by size, and caps what a peer can make a node hash.
pub const MAX_HYPERLANE_MESSAGE_BYTES: usize = 1024;
/// The largest message-id metadata: the fixed part and a signature from every validator.
pub const MAX_MESSAGE_ID_METADATA_BYTES: usize =
    checkpoint::MESSAGE_ID_SIGNATURES_OFFSET + MAX_VALIDATORS * SIGNATURE_LEN;
/// The largest merkle-root metadata: the fixed part (with the proof) and a signature from every
/// validator.
pub const MAX_MERKLE_ROOT_METADATA_BYTES: usize =
    checkpoint::MERKLE_ROOT_SIGNATURES_OFFSET + MAX_VALIDATORS * SIGNATURE_LEN;

/// A Hyperlane message with the ISM metadata that proves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HyperlaneAttestation {
    /// The packed message.
    pub message: BoundedBytes<MAX_HYPERLANE_MESSAGE_BYTES>,
    /// The validators' proof.
    pub metadata: HyperlaneMetadata,
}

/// Multisig ISM metadata, in one of its two layouts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HyperlaneMetadata {
    /// `MessageIdMultisigIsm` metadata: validators signed a checkpoint at this message.
    MessageId(BoundedBytes<MAX_MESSAGE_ID_METADATA_BYTES>),
    /// `MerkleRootMultisigIsm` metadata: the message is proven into a signed checkpoint.
    MerkleRoot(BoundedBytes<MAX_MERKLE_ROOT_METADATA_BYTES>),
}

/// Why a Hyperlane attestation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyperlaneError {
    /// The configuration does not validate.
    InvalidConfig(HyperlaneConfigError),
    /// The message is shorter than its header.
    MessageTooShort(MessageTooShort),
    /// The message version is not [`MESSAGE_VERSION`].
    UnsupportedVersion(u8),
    /// The message is addressed to another domain.
    WrongDestinationDomain(u32),
    /// The message comes from an origin the group does not accept.
    UnknownOrigin(u32),
    /// The message's origin is not the event's source id.
    SourceIdMismatch {
        /// The message's origin.
        message: u32,
        /// The event's source id.
        claim: u32,
    },
    /// The sender is not an allowed router of the origin.
    UnknownSender([u8; 32]),
    /// The message recipient is not the group's router.
    WrongRecipientRouter([u8; 32]),
    /// The message id is not the event's external id.
    MessageIdMismatch,
    /// The body is not a plain warp transfer of [`WARP_BODY_LEN`] bytes.
    NotAWarpTransfer {
        /// The body length.
        len: usize,
    },
    /// The transfer's recipient does not commit to the event's destination.
    RecipientMismatch,
    /// The event's amount has no exact equivalent in the origin token's units.
    AmountNotRepresentable,
    /// The transfer's amount differs from the event's.
    AmountMismatch,
    /// The metadata does not parse.
    Metadata(MetadataError),
    /// The metadata names another `MerkleTreeHook` than the origin's.
    WrongMerkleTreeHook([u8; 32]),
    /// Merkle-root metadata proves the message into a checkpoint before it.
    MessageAfterCheckpoint {
        /// The message's leaf index.
        message_index: u32,
        /// The signed checkpoint's index.
        signed_index: u32,
    },
    /// Fewer signatures than the threshold.
    BelowThreshold {
        /// Signatures present.
        have: usize,
        /// Signatures needed.
        need: usize,
    },
    /// A signature's `s` is in the upper half of the curve order.
    HighS {
        /// The signature's position.
        index: usize,
    },
    /// A signature's `v` is not 27 or 28.
    BadV {
        /// The signature's position.
        index: usize,
        /// Its `v`.
        v: u8,
    },
    /// A signature does not recover to a key.
    InvalidSignature {
        /// The signature's position.
        index: usize,
    },
    /// A signature recovers to an address that is not a validator.
    SignatureByNonValidator {
        /// The signature's position.
        index: usize,
        /// The address it recovers to.
        signer: EvmAddress,
    },
    /// Merkle-root metadata whose first signature recovers to a non-validator: the root the proof
    /// yields is one no validator signed (a bad proof, or a signature by a stranger; they cannot be
    /// told apart, since a bad proof changes the digest every signature is checked against).
    MerkleRootNotSigned,
    /// A validator signed twice.
    DuplicateValidator {
        /// The second signature's position.
        index: usize,
        /// The validator.
        validator: EvmAddress,
    },
    /// A validator's signature comes after a later validator's (signatures follow the configured
    /// order).
    ValidatorOutOfOrder {
        /// The signature's position.
        index: usize,
        /// The validator.
        validator: EvmAddress,
    },
}

impl fmt::Display for HyperlaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(e) => write!(f, "configuration: {e}"),
            Self::MessageTooShort(e) => write!(f, "message of {} bytes is shorter than its header", e.len),
            Self::UnsupportedVersion(v) => write!(f, "message version {v}, expected {MESSAGE_VERSION}"),
            Self::WrongDestinationDomain(d) => write!(f, "message is for domain {d}, not ours"),
            Self::UnknownOrigin(d) => write!(f, "origin domain {d} is not accepted"),
            Self::SourceIdMismatch { message, claim } => {
                write!(f, "message origin {message} differs from the event's source id {claim}")
            }
            Self::UnknownSender(s) => write!(f, "sender 0x{} is not an allowed router", Hex(s)),
            Self::WrongRecipientRouter(r) => write!(f, "recipient 0x{} is not our router", Hex(r)),
            Self::MessageIdMismatch => f.write_str("message id differs from the event's external id"),
            Self::NotAWarpTransfer { len } => write!(f, "body of {len} bytes is not a plain warp transfer"),
            Self::RecipientMismatch => {
                f.write_str("transfer recipient does not commit to the event's destination")
            }
            Self::AmountNotRepresentable => {
                f.write_str("the event's amount is not exact in the token's units")
            }
            Self::AmountMismatch => f.write_str("transfer amount differs from the event's"),
            Self::Metadata(e) => write!(f, "metadata: {e}"),
            Self::WrongMerkleTreeHook(h) => write!(f, "merkle tree hook 0x{} is not the origin's", Hex(h)),
            Self::MessageAfterCheckpoint { message_index, signed_index } => {
                write!(f, "message index {message_index} is after the signed index {signed_index}")
            }
            Self::BelowThreshold { have, need } => write!(f, "{have} signatures, {need} needed"),
            Self::HighS { index } => write!(f, "signature {index} has a high s"),
            Self::BadV { index, v } => write!(f, "signature {index} has v = {v}"),
            Self::InvalidSignature { index } => write!(f, "signature {index} does not recover"),
            Self::SignatureByNonValidator { index, signer } => {
                write!(f, "signature {index} is by {signer:?}, not a validator")
            }
            Self::MerkleRootNotSigned => f.write_str("no validator signed the root the merkle proof yields"),
            Self::DuplicateValidator { index, validator } => {
                write!(f, "signature {index}: validator {validator:?} signed twice")
            }
            Self::ValidatorOutOfOrder { index, validator } => {
                write!(f, "signature {index}: validator {validator:?} is out of the configured order")
            }
        }
    }
}

impl core::error::Error for HyperlaneError {}

/// Checks that `attestation` proves, under `config`, the transfer `claim` describes.
pub fn verify(
    config: &HyperlaneConfig,
    attestation: &HyperlaneAttestation,
    claim: &Claim<'_>,
) -> Result<(), HyperlaneError> {
    use HyperlaneError as E;
    config.validate().map_err(E::InvalidConfig)?;
    let message = HyperlaneMessage::parse(&attestation.message).map_err(E::MessageTooShort)?;
    if message.version != MESSAGE_VERSION {
        return Err(E::UnsupportedVersion(message.version));
    }
    if message.destination != config.local_domain {
        return Err(E::WrongDestinationDomain(message.destination));
    }
    let origin = config.origin(message.origin).ok_or(E::UnknownOrigin(message.origin))?;
    if message.origin != claim.source_id {
        return Err(E::SourceIdMismatch { message: message.origin, claim: claim.source_id });
    }
    if !origin.senders.contains(&message.sender) {
        return Err(E::UnknownSender(message.sender));
    }
    if message.recipient != config.recipient {
        return Err(E::WrongRecipientRouter(message.recipient));
    }
    let id = message.id();
    if id != *claim.external_id {
        return Err(E::MessageIdMismatch);
    }
    let transfer =
        WarpTransfer::parse(&message.body).ok_or(E::NotAWarpTransfer { len: message.body.len() })?;
    if transfer.recipient != super::recipient_commitment(&claim.payment.destination) {
        return Err(E::RecipientMismatch);
    }
    let amount = super::to_source_units(claim.payment.amount, origin.token_decimals)
        .ok_or(E::AmountNotRepresentable)?;
    if transfer.amount != uint256(amount) {
        return Err(E::AmountMismatch);
    }

    // The digest uses the configured hook, which the metadata must name: validators of another
    // deployment on the same domain sign for another hook.
    let pinned = |hook: [u8; 32]| {
        if hook == origin.merkle_tree_hook { Ok(hook) } else { Err(E::WrongMerkleTreeHook(hook)) }
    };
    let (checkpoint, signatures, merkle_root) = match &attestation.metadata {
        HyperlaneMetadata::MessageId(bytes) => {
            let m = MessageIdMetadata::parse(bytes).map_err(E::Metadata)?;
            let checkpoint = Checkpoint {
                origin: message.origin,
                merkle_tree_hook: pinned(m.merkle_tree_hook)?,
                root: m.root,
                index: m.index,
                message_id: id,
            };
            (checkpoint, m.signatures, false)
        }
        HyperlaneMetadata::MerkleRoot(bytes) => {
            let m = MerkleRootMetadata::parse(bytes).map_err(E::Metadata)?;
            let merkle_tree_hook = pinned(m.merkle_tree_hook)?;
            if m.message_index > m.signed_index {
                return Err(E::MessageAfterCheckpoint {
                    message_index: m.message_index,
                    signed_index: m.signed_index,
                });
            }
            let checkpoint = Checkpoint {
                origin: message.origin,
                merkle_tree_hook,
                root: branch_root(&id, &m.proof, m.message_index),
                index: m.signed_index,
                message_id: m.signed_message_id,
            };
            (checkpoint, m.signatures, true)
        }
    };
    check_signatures(origin, &checkpoint.digest(), signatures, merkle_root)
}

/// The ISM's ordered walk: the first `threshold` signatures must recover to validators in strictly
/// increasing configured position. A validator found only behind the walk's position signed twice or
/// out of order; both fail, as on chain, but are reported apart.
fn check_signatures(
    origin: &HyperlaneOrigin,
    digest: &[u8; 32],
    signatures: &[[u8; SIGNATURE_LEN]],
    merkle_root: bool,
) -> Result<(), HyperlaneError> {
    use HyperlaneError as E;
    let need = usize::from(origin.threshold);
    let counted = signatures.get(..need).ok_or(E::BelowThreshold { have: signatures.len(), need })?;
    let mut used = [false; MAX_VALIDATORS];
    let mut next = 0;
    for (index, signature) in counted.iter().enumerate() {
        let signer = evm::recover_address(digest, signature).map_err(|e| match e {
            RecoverError::HighS => E::HighS { index },
            RecoverError::BadV(v) => E::BadV { index, v },
            RecoverError::Invalid => E::InvalidSignature { index },
        })?;
        let Some(position) = origin.validators.iter().position(|v| *v == signer) else {
            return Err(if merkle_root && index == 0 {
                E::MerkleRootNotSigned
            } else {
                E::SignatureByNonValidator { index, signer }
            });
        };
        if position < next {
            return Err(if used.get(position).copied().unwrap_or(false) {
                E::DuplicateValidator { index, validator: signer }
            } else {
                E::ValidatorOutOfOrder { index, validator: signer }
            });
        }
        if let Some(slot) = used.get_mut(position) {
            *slot = true;
        }
        next = position + 1;
    }
    Ok(())
}

/// The warp-transfer message that pays `payment` from `sender` on `origin` to the group, as the origin
/// router would dispatch it with `nonce`. For `igra devnet`, the simulator and tests.
pub fn warp_message(
    config: &HyperlaneConfig,
    origin: u32,
    sender: [u8; 32],
    nonce: u32,
    payment: &Payment,
) -> Result<HyperlaneMessage, HyperlaneError> {
    let decimals = config.origin(origin).ok_or(HyperlaneError::UnknownOrigin(origin))?.token_decimals;
    let transfer = WarpTransfer::paying(payment, decimals).ok_or(HyperlaneError::AmountNotRepresentable)?;
    Ok(HyperlaneMessage {
        version: MESSAGE_VERSION,
        nonce,
        origin,
        sender,
        destination: config.local_domain,
        recipient: config.recipient,
        body: transfer.encode().to_vec(),
    })
}

/// A message-id attestation of `message`: `signers` (in the configured validator order) sign the
/// checkpoint `(root, index)` at it. `None` if the message or the metadata exceeds its bound.
pub fn attest_message_id(
    message: &HyperlaneMessage,
    merkle_tree_hook: [u8; 32],
    root: [u8; 32],
    index: u32,
    signers: &[EvmSigner],
) -> Option<HyperlaneAttestation> {
    let checkpoint =
        Checkpoint { origin: message.origin, merkle_tree_hook, root, index, message_id: message.id() };
    let signatures = sign_all(&checkpoint.digest(), signers)?;
    let metadata = MessageIdMetadata { merkle_tree_hook, root, index, signatures: &signatures };
    Some(HyperlaneAttestation {
        message: message.encode().try_into().ok()?,
        metadata: HyperlaneMetadata::MessageId(metadata.encode().try_into().ok()?),
    })
}

/// A merkle-root attestation of the message at `message_index` in `tree`: `signers` (in the configured
/// validator order) sign the tree's latest checkpoint, and the metadata proves the message into it.
/// `None` if `message` is not that leaf, the tree is empty, or a bound is exceeded.
pub fn attest_merkle_root(
    message: &HyperlaneMessage,
    merkle_tree_hook: [u8; 32],
    tree: &MerkleTree,
    message_index: u32,
    signers: &[EvmSigner],
) -> Option<HyperlaneAttestation> {
    if tree.leaf(message_index)? != message.id() {
        return None;
    }
    let signed_index = u32::try_from(tree.count().checked_sub(1)?).ok()?;
    let checkpoint = Checkpoint {
        origin: message.origin,
        merkle_tree_hook,
        root: tree.root(),
        index: signed_index,
        message_id: tree.leaf(signed_index)?,
    };
    let signatures = sign_all(&checkpoint.digest(), signers)?;
    let metadata = MerkleRootMetadata {
        merkle_tree_hook,
        message_index,
        signed_message_id: checkpoint.message_id,
        proof: tree.proof(message_index)?,
        signed_index,
        signatures: &signatures,
    };
    Some(HyperlaneAttestation {
        message: message.encode().try_into().ok()?,
        metadata: HyperlaneMetadata::MerkleRoot(metadata.encode().try_into().ok()?),
    })
}

fn sign_all(digest: &[u8; 32], signers: &[EvmSigner]) -> Option<Vec<[u8; SIGNATURE_LEN]>> {
    signers.iter().map(|s| s.sign_digest(digest)).collect()
}
