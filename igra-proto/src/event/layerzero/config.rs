//! Which LayerZero peers a group accepts, and which DVN signers it trusts.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::event::MAX_SOURCE_DECIMALS;
use crate::event::evm::EvmAddress;

/// The most source chains a group accepts transfers from: a handful of bridged chains in practice.
pub const MAX_PEERS: usize = 32;
/// The most signers the DVN may have; also bounds the signatures an attestation carries.
pub const MAX_DVN_SIGNERS: usize = 32;

/// What the group accepts from LayerZero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerZeroConfig {
    /// The group's own endpoint id: every packet must be addressed to it.
    pub local_eid: u32,
    /// The receiving application, as `bytes32`: the group's `OApp` id on its endpoint.
    pub receiver: [u8; 32],
    /// The peers accepted: one OFT per source endpoint.
    pub peers: Vec<LayerZeroPeer>,
    /// The DVN whose signers attest packets.
    pub dvn: DvnConfig,
}

/// A source endpoint and the OFT the group accepts from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerZeroPeer {
    /// The source endpoint id (also the event's source id).
    pub eid: u32,
    /// The peer OFT, as `bytes32`.
    pub sender: [u8; 32],
    /// The token's shared decimals, to convert the event's sompi to the message's amount.
    pub shared_decimals: u8,
}

/// A DVN in the shape of LayerZero's EVM `DVN` contract: an `m`-of-`n` signer set that signs the
/// `ReceiveUln302.verify` call it would execute.
///
/// The group runs no `ReceiveUln302`, so `vid` and `target` are the group's own choice: signers attest
/// for this group by signing with them, as they would for a DVN contract at `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvnConfig {
    /// The DVN's id, covered by every signature.
    pub vid: u32,
    /// The verification target, covered by every signature.
    pub target: EvmAddress,
    /// The signer set.
    pub signers: Vec<EvmAddress>,
    /// Signatures needed, exactly (`MultiSig.quorum`).
    pub quorum: u8,
    /// The fewest source-chain confirmations an attestation may claim.
    pub min_confirmations: u64,
}

impl LayerZeroConfig {
    /// The configured peer on `eid`.
    pub fn peer(&self, eid: u32) -> Option<&LayerZeroPeer> {
        self.peers.iter().find(|p| p.eid == eid)
    }

    /// Checks the configuration: 1 to [`MAX_PEERS`] peers on distinct endpoints other than the local
    /// one with at most [`MAX_SOURCE_DECIMALS`] shared decimals, and 1 to [`MAX_DVN_SIGNERS`] distinct
    /// non-zero signers with `1 <= quorum <= signers`.
    pub fn validate(&self) -> Result<(), LayerZeroConfigError> {
        use LayerZeroConfigError as E;
        if self.peers.is_empty() {
            return Err(E::NoPeers);
        }
        if self.peers.len() > MAX_PEERS {
            return Err(E::TooManyPeers(self.peers.len()));
        }
        let eids: Vec<u32> = self.peers.iter().map(|p| p.eid).collect();
        if let Some(eid) = crate::event::first_duplicate(&eids) {
            return Err(E::DuplicatePeer(eid));
        }
        for peer in &self.peers {
            if peer.eid == self.local_eid {
                return Err(E::PeerIsLocal(peer.eid));
            }
            if peer.shared_decimals > MAX_SOURCE_DECIMALS {
                return Err(E::TooManyDecimals { eid: peer.eid, decimals: peer.shared_decimals });
            }
        }
        let signers = &self.dvn.signers;
        if signers.is_empty() {
            return Err(E::NoSigners);
        }
        if signers.len() > MAX_DVN_SIGNERS {
            return Err(E::TooManySigners(signers.len()));
        }
        if let Some(signer) = crate::event::first_duplicate(signers) {
            return Err(E::DuplicateSigner(signer));
        }
        if signers.contains(&EvmAddress([0; 20])) {
            return Err(E::ZeroSigner);
        }
        if self.dvn.quorum == 0 || usize::from(self.dvn.quorum) > signers.len() {
            return Err(E::BadQuorum { quorum: self.dvn.quorum, signers: signers.len() });
        }
        Ok(())
    }
}

/// Why a LayerZero configuration is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerZeroConfigError {
    /// No peers.
    NoPeers,
    /// More than [`MAX_PEERS`] peers.
    TooManyPeers(usize),
    /// Two peers share an endpoint.
    DuplicatePeer(u32),
    /// A peer is on the local endpoint.
    PeerIsLocal(u32),
    /// A token has more than [`MAX_SOURCE_DECIMALS`] shared decimals.
    TooManyDecimals {
        /// The peer's endpoint.
        eid: u32,
        /// Shared decimals configured.
        decimals: u8,
    },
    /// The DVN has no signers.
    NoSigners,
    /// The DVN has more than [`MAX_DVN_SIGNERS`] signers.
    TooManySigners(usize),
    /// The DVN lists a signer twice.
    DuplicateSigner(EvmAddress),
    /// The DVN lists the zero address, which no signature recovers to.
    ZeroSigner,
    /// The quorum is zero or above the number of signers.
    BadQuorum {
        /// Quorum configured.
        quorum: u8,
        /// Signers configured.
        signers: usize,
    },
}

impl fmt::Display for LayerZeroConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPeers => f.write_str("no LayerZero peers configured"),
            Self::TooManyPeers(n) => write!(f, "{n} peers, at most {MAX_PEERS}"),
            Self::DuplicatePeer(eid) => write!(f, "endpoint {eid} has two peers"),
            Self::PeerIsLocal(eid) => write!(f, "peer endpoint {eid} is the local endpoint"),
            Self::TooManyDecimals { eid, decimals } => {
                write!(f, "peer {eid}: {decimals} shared decimals, at most {MAX_SOURCE_DECIMALS}")
            }
            Self::NoSigners => f.write_str("the DVN has no signers"),
            Self::TooManySigners(n) => write!(f, "{n} DVN signers, at most {MAX_DVN_SIGNERS}"),
            Self::DuplicateSigner(s) => write!(f, "DVN signer {s:?} appears twice"),
            Self::ZeroSigner => f.write_str("the zero address cannot be a DVN signer"),
            Self::BadQuorum { quorum, signers } => {
                write!(f, "quorum {quorum} is invalid for {signers} signers")
            }
        }
    }
}

impl core::error::Error for LayerZeroConfigError {}
