//! LayerZero v2 events: an OFT transfer to the group, proven by a DVN-style signer quorum.
//!
//! No LayerZero DVN verifies for a chain without a `ReceiveUln302`, so the group configures its own
//! DVN (see [`DvnConfig`]): signers that attest a packet exactly as an EVM DVN's `MultiSig` signs the
//! `verify` call it executes (see [`dvn`]). An attestation is the packet, the confirmations and
//! expiration the signers signed, and their signatures. [`verify`] accepts it when all of these hold:
//!
//! * the packet is version 1, addressed to the group's endpoint and receiver, from the configured peer
//!   of its source endpoint; its guid is the one its header derives, and its source endpoint, guid,
//!   recipient and amount are the event's own (the binding rule of [`crate::event`]);
//! * the attested confirmations reach the configured minimum;
//! * the signatures are exactly `quorum` 65-byte signatures over the DVN digest, recovered under
//!   `OpenZeppelin`'s rules to signers of the set in strictly ascending address order (`MultiSig`).
//!
//! **Expiration is not compared to a clock.** It is covered by the digest, so signers choose it and
//! nobody can change it, but a verdict must be the same on every node at any time, so an attestation
//! whose expiration has passed still verifies. A DVN contract refuses expired calls to bound how long
//! a leaked signature set stays usable; here replay is already harmless (the event id deduplicates).

pub mod config;
pub mod dvn;
pub mod packet;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::Claim;
use super::evm::{self, EvmAddress, EvmSigner, RecoverError, SIGNATURE_LEN};
use crate::hash::Hex;
use crate::template::Payment;
use crate::wire::BoundedBytes;

pub use config::{
    DvnConfig, LayerZeroConfig, LayerZeroConfigError, LayerZeroPeer, MAX_DVN_SIGNERS, MAX_PEERS,
};
pub use packet::{HEADER_LEN, OFT_MESSAGE_LEN, OftTransfer, PACKET_VERSION, Packet, PacketTooShort, guid};

/// The largest packet accepted: an OFT transfer is 153 bytes; the bound leaves room for other messages
/// to be refused by reason rather than by size, and caps what a peer can make a node hash.
pub const MAX_LAYERZERO_PACKET_BYTES: usize = 1024;
/// The largest signature list: one signature from every DVN signer.
pub const MAX_DVN_SIGNATURE_BYTES: usize = MAX_DVN_SIGNERS * SIGNATURE_LEN;

/// A LayerZero packet with the DVN signatures that attest it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerZeroAttestation {
    /// The packet: header, guid and message.
    pub packet: BoundedBytes<MAX_LAYERZERO_PACKET_BYTES>,
    /// The source-chain confirmations the signers attest.
    pub confirmations: u64,
    /// The signed expiration (Unix seconds); covered, not enforced (see the module documentation).
    pub expiration: u64,
    /// `quorum` signatures (`r ‖ s ‖ v`), ordered by ascending signer address.
    pub signatures: BoundedBytes<MAX_DVN_SIGNATURE_BYTES>,
}

/// Why a LayerZero attestation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerZeroError {
    /// The configuration does not validate.
    InvalidConfig(LayerZeroConfigError),
    /// The packet is shorter than a header and a guid.
    PacketTooShort(PacketTooShort),
    /// The packet version is not [`PACKET_VERSION`].
    UnsupportedVersion(u8),
    /// The packet is addressed to another endpoint.
    WrongDestinationEid(u32),
    /// The packet's receiver is not the group's application.
    WrongReceiver([u8; 32]),
    /// The packet comes from an endpoint the group does not accept.
    UnknownPeer(u32),
    /// The packet's source endpoint is not the event's source id.
    SourceIdMismatch {
        /// The packet's source endpoint.
        packet: u32,
        /// The event's source id.
        claim: u32,
    },
    /// The sender is not the configured peer of its endpoint.
    WrongSender([u8; 32]),
    /// The packet's guid is not the one its header derives.
    ForgedGuid,
    /// The packet's guid is not the event's external id.
    GuidMismatch,
    /// The message is not a plain OFT transfer of [`OFT_MESSAGE_LEN`] bytes.
    NotAnOftTransfer {
        /// The message length.
        len: usize,
    },
    /// The transfer's recipient does not commit to the event's destination.
    RecipientMismatch,
    /// The event's amount has no exact 64-bit equivalent in the token's shared decimals.
    AmountNotRepresentable,
    /// The transfer's amount differs from the event's.
    AmountMismatch,
    /// The attested confirmations are below the configured minimum.
    TooFewConfirmations {
        /// Confirmations attested.
        have: u64,
        /// Confirmations needed.
        need: u64,
    },
    /// The signature list is not a whole number of 65-byte signatures.
    SignaturesMisaligned {
        /// Its length.
        len: usize,
    },
    /// Fewer signatures than the quorum.
    BelowQuorum {
        /// Signatures present.
        have: usize,
        /// The quorum.
        need: usize,
    },
    /// More signatures than the quorum (`MultiSig` takes exactly `quorum`).
    AboveQuorum {
        /// Signatures present.
        have: usize,
        /// The quorum.
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
    /// A signer signed twice in a row.
    DuplicateSigner {
        /// The second signature's position.
        index: usize,
        /// The signer.
        signer: EvmAddress,
    },
    /// A signer's address is below the previous signer's.
    SignersNotAscending {
        /// The signature's position.
        index: usize,
        /// The signer.
        signer: EvmAddress,
    },
    /// A signature recovers to an address outside the signer set.
    SignerNotInSet {
        /// The signature's position.
        index: usize,
        /// The address it recovers to.
        signer: EvmAddress,
    },
}

impl fmt::Display for LayerZeroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(e) => write!(f, "configuration: {e}"),
            Self::PacketTooShort(e) => write!(f, "packet of {} bytes is shorter than header and guid", e.len),
            Self::UnsupportedVersion(v) => write!(f, "packet version {v}, expected {PACKET_VERSION}"),
            Self::WrongDestinationEid(eid) => write!(f, "packet is for endpoint {eid}, not ours"),
            Self::WrongReceiver(r) => write!(f, "receiver 0x{} is not our application", Hex(r)),
            Self::UnknownPeer(eid) => write!(f, "source endpoint {eid} is not accepted"),
            Self::SourceIdMismatch { packet, claim } => {
                write!(f, "packet source {packet} differs from the event's source id {claim}")
            }
            Self::WrongSender(s) => write!(f, "sender 0x{} is not the endpoint's peer", Hex(s)),
            Self::ForgedGuid => f.write_str("the guid is not the one the packet header derives"),
            Self::GuidMismatch => f.write_str("the guid differs from the event's external id"),
            Self::NotAnOftTransfer { len } => write!(f, "message of {len} bytes is not a plain OFT transfer"),
            Self::RecipientMismatch => {
                f.write_str("transfer recipient does not commit to the event's destination")
            }
            Self::AmountNotRepresentable => {
                f.write_str("the event's amount is not exact in 64 bits of shared decimals")
            }
            Self::AmountMismatch => f.write_str("transfer amount differs from the event's"),
            Self::TooFewConfirmations { have, need } => write!(f, "{have} confirmations, {need} needed"),
            Self::SignaturesMisaligned { len } => {
                write!(f, "signatures of {len} bytes are not a multiple of {SIGNATURE_LEN}")
            }
            Self::BelowQuorum { have, need } => write!(f, "{have} signatures, quorum {need}"),
            Self::AboveQuorum { have, need } => write!(f, "{have} signatures, exactly {need} expected"),
            Self::HighS { index } => write!(f, "signature {index} has a high s"),
            Self::BadV { index, v } => write!(f, "signature {index} has v = {v}"),
            Self::InvalidSignature { index } => write!(f, "signature {index} does not recover"),
            Self::DuplicateSigner { index, signer } => {
                write!(f, "signature {index}: {signer:?} signed twice")
            }
            Self::SignersNotAscending { index, signer } => {
                write!(f, "signature {index}: {signer:?} is below the previous signer")
            }
            Self::SignerNotInSet { index, signer } => {
                write!(f, "signature {index} is by {signer:?}, not a DVN signer")
            }
        }
    }
}

impl core::error::Error for LayerZeroError {}

/// Checks that `attestation` proves, under `config`, the transfer `claim` describes.
pub fn verify(
    config: &LayerZeroConfig,
    attestation: &LayerZeroAttestation,
    claim: &Claim<'_>,
) -> Result<(), LayerZeroError> {
    use LayerZeroError as E;
    config.validate().map_err(E::InvalidConfig)?;
    let packet = Packet::parse(&attestation.packet).map_err(E::PacketTooShort)?;
    if packet.version != PACKET_VERSION {
        return Err(E::UnsupportedVersion(packet.version));
    }
    if packet.dst_eid != config.local_eid {
        return Err(E::WrongDestinationEid(packet.dst_eid));
    }
    if packet.receiver != config.receiver {
        return Err(E::WrongReceiver(packet.receiver));
    }
    let peer = config.peer(packet.src_eid).ok_or(E::UnknownPeer(packet.src_eid))?;
    if packet.src_eid != claim.source_id {
        return Err(E::SourceIdMismatch { packet: packet.src_eid, claim: claim.source_id });
    }
    if packet.sender != peer.sender {
        return Err(E::WrongSender(packet.sender));
    }
    if packet.guid != packet.derived_guid() {
        return Err(E::ForgedGuid);
    }
    if packet.guid != *claim.external_id {
        return Err(E::GuidMismatch);
    }
    let transfer =
        OftTransfer::parse(&packet.message).ok_or(E::NotAnOftTransfer { len: packet.message.len() })?;
    if transfer.send_to != super::recipient_commitment(&claim.payment.destination) {
        return Err(E::RecipientMismatch);
    }
    let amount = super::to_source_units(claim.payment.amount, peer.shared_decimals)
        .and_then(|a| u64::try_from(a).ok())
        .ok_or(E::AmountNotRepresentable)?;
    if transfer.amount_sd != amount {
        return Err(E::AmountMismatch);
    }
    if attestation.confirmations < config.dvn.min_confirmations {
        return Err(E::TooFewConfirmations {
            have: attestation.confirmations,
            need: config.dvn.min_confirmations,
        });
    }
    let digest = dvn::digest(&config.dvn, &packet, attestation.confirmations, attestation.expiration);
    check_signatures(&config.dvn, &digest, &attestation.signatures)
}

/// `MultiSig.verifySignatures`: exactly `quorum` signatures, each recovering to a signer above the
/// previous one, each in the set. The checks run in the contract's order.
fn check_signatures(dvn: &DvnConfig, digest: &[u8; 32], signatures: &[u8]) -> Result<(), LayerZeroError> {
    use LayerZeroError as E;
    let (whole, []) = signatures.as_chunks::<SIGNATURE_LEN>() else {
        return Err(E::SignaturesMisaligned { len: signatures.len() });
    };
    let (have, need) = (whole.len(), usize::from(dvn.quorum));
    if have < need {
        return Err(E::BelowQuorum { have, need });
    }
    if have > need {
        return Err(E::AboveQuorum { have, need });
    }
    let mut previous: Option<EvmAddress> = None;
    for (index, signature) in whole.iter().enumerate() {
        let signer = evm::recover_address(digest, signature).map_err(|e| match e {
            RecoverError::HighS => E::HighS { index },
            RecoverError::BadV(v) => E::BadV { index, v },
            RecoverError::Invalid => E::InvalidSignature { index },
        })?;
        match previous {
            Some(p) if signer == p => return Err(E::DuplicateSigner { index, signer }),
            Some(p) if signer < p => return Err(E::SignersNotAscending { index, signer }),
            _ => {}
        }
        if !dvn.signers.contains(&signer) {
            return Err(E::SignerNotInSet { index, signer });
        }
        previous = Some(signer);
    }
    Ok(())
}

/// The OFT packet that pays `payment` from the peer on `src_eid` to the group, as the source endpoint
/// would send it with `nonce`. For `igra devnet`, the simulator and tests.
pub fn oft_packet(
    config: &LayerZeroConfig,
    src_eid: u32,
    nonce: u64,
    payment: &Payment,
) -> Result<Packet, LayerZeroError> {
    let peer = config.peer(src_eid).ok_or(LayerZeroError::UnknownPeer(src_eid))?;
    let transfer =
        OftTransfer::paying(payment, peer.shared_decimals).ok_or(LayerZeroError::AmountNotRepresentable)?;
    Ok(Packet {
        version: PACKET_VERSION,
        nonce,
        src_eid,
        sender: peer.sender,
        dst_eid: config.local_eid,
        receiver: config.receiver,
        guid: guid(nonce, src_eid, &peer.sender, config.local_eid, &config.receiver),
        message: transfer.encode().to_vec(),
    })
}

/// An attestation of `packet` by `signers` of `dvn` (pass exactly `quorum` of them, in any order: their
/// signatures are sorted by address). `None` if the packet or the signatures exceed their bounds.
pub fn attest(
    packet: &Packet,
    confirmations: u64,
    expiration: u64,
    dvn: &DvnConfig,
    signers: &[EvmSigner],
) -> Option<LayerZeroAttestation> {
    let digest = dvn::digest(dvn, packet, confirmations, expiration);
    let mut signed: Vec<(EvmAddress, [u8; SIGNATURE_LEN])> =
        signers.iter().map(|s| Some((s.address(), s.sign_digest(&digest)?))).collect::<Option<_>>()?;
    signed.sort_by_key(|(address, _)| *address);
    let signatures: Vec<u8> = signed.iter().flat_map(|(_, signature)| *signature).collect();
    Some(LayerZeroAttestation {
        packet: packet.encode().try_into().ok()?,
        confirmations,
        expiration,
        signatures: signatures.try_into().ok()?,
    })
}
