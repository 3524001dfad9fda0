//! Which Hyperlane origins a group accepts, and whom it trusts for each.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::event::MAX_SOURCE_DECIMALS;
use crate::event::evm::EvmAddress;
use crate::hash::Hex;

/// The most origin chains a group accepts transfers from: a handful of bridged chains in practice.
pub const MAX_ORIGINS: usize = 32;
/// The most routers one origin may send from: one warp route per token, a few tokens at most.
pub const MAX_SENDERS: usize = 8;
/// The most validators one origin may have; also bounds the signatures an attestation carries.
pub const MAX_VALIDATORS: usize = 32;

/// What the group accepts from Hyperlane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HyperlaneConfig {
    /// The group's own domain id: every message must be addressed to it.
    pub local_domain: u32,
    /// The message recipient, as `bytes32`: the group's router id on its domain.
    pub recipient: [u8; 32],
    /// The origins accepted, each with its validators.
    pub origins: Vec<HyperlaneOrigin>,
}

/// One origin chain and whom the group trusts for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HyperlaneOrigin {
    /// The origin domain id (also the event's source id).
    pub domain: u32,
    /// The origin's `MerkleTreeHook` contract, as `bytes32`: what validators checkpoint.
    pub merkle_tree_hook: [u8; 32],
    /// The origin routers allowed to send, as `bytes32`.
    pub senders: Vec<[u8; 32]>,
    /// The validators, in the order the ISM was deployed with (signatures must follow it; never sort).
    pub validators: Vec<EvmAddress>,
    /// Signatures needed.
    pub threshold: u8,
    /// The origin token's decimals, to convert the event's sompi to the message's amount.
    pub token_decimals: u8,
}

impl HyperlaneConfig {
    /// The configured origin with `domain`.
    pub fn origin(&self, domain: u32) -> Option<&HyperlaneOrigin> {
        self.origins.iter().find(|o| o.domain == domain)
    }

    /// Checks the configuration: 1 to [`MAX_ORIGINS`] distinct origins other than the local domain,
    /// each with 1 to [`MAX_SENDERS`] distinct senders, 1 to [`MAX_VALIDATORS`] distinct validators,
    /// `1 <= threshold <= validators` and at most [`MAX_SOURCE_DECIMALS`] decimals.
    pub fn validate(&self) -> Result<(), HyperlaneConfigError> {
        use HyperlaneConfigError as E;
        if self.origins.is_empty() {
            return Err(E::NoOrigins);
        }
        if self.origins.len() > MAX_ORIGINS {
            return Err(E::TooManyOrigins(self.origins.len()));
        }
        let domains: Vec<u32> = self.origins.iter().map(|o| o.domain).collect();
        if let Some(domain) = crate::event::first_duplicate(&domains) {
            return Err(E::DuplicateOrigin(domain));
        }
        for o in &self.origins {
            let origin = o.domain;
            if origin == self.local_domain {
                return Err(E::OriginIsLocal(origin));
            }
            if o.senders.is_empty() {
                return Err(E::NoSenders { origin });
            }
            if o.senders.len() > MAX_SENDERS {
                return Err(E::TooManySenders { origin, count: o.senders.len() });
            }
            if let Some(sender) = crate::event::first_duplicate(&o.senders) {
                return Err(E::DuplicateSender { origin, sender });
            }
            if o.validators.is_empty() {
                return Err(E::NoValidators { origin });
            }
            if o.validators.len() > MAX_VALIDATORS {
                return Err(E::TooManyValidators { origin, count: o.validators.len() });
            }
            if let Some(validator) = crate::event::first_duplicate(&o.validators) {
                return Err(E::DuplicateValidator { origin, validator });
            }
            if o.threshold == 0 || usize::from(o.threshold) > o.validators.len() {
                return Err(E::BadThreshold {
                    origin,
                    threshold: o.threshold,
                    validators: o.validators.len(),
                });
            }
            if o.token_decimals > MAX_SOURCE_DECIMALS {
                return Err(E::TooManyDecimals { origin, decimals: o.token_decimals });
            }
        }
        Ok(())
    }
}

/// Why a Hyperlane configuration is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyperlaneConfigError {
    /// No origins.
    NoOrigins,
    /// More than [`MAX_ORIGINS`] origins.
    TooManyOrigins(usize),
    /// Two origins share a domain.
    DuplicateOrigin(u32),
    /// An origin is the local domain.
    OriginIsLocal(u32),
    /// An origin has no senders.
    NoSenders {
        /// The origin domain.
        origin: u32,
    },
    /// An origin has more than [`MAX_SENDERS`] senders.
    TooManySenders {
        /// The origin domain.
        origin: u32,
        /// Senders configured.
        count: usize,
    },
    /// An origin lists a sender twice.
    DuplicateSender {
        /// The origin domain.
        origin: u32,
        /// The sender.
        sender: [u8; 32],
    },
    /// An origin has no validators.
    NoValidators {
        /// The origin domain.
        origin: u32,
    },
    /// An origin has more than [`MAX_VALIDATORS`] validators.
    TooManyValidators {
        /// The origin domain.
        origin: u32,
        /// Validators configured.
        count: usize,
    },
    /// An origin lists a validator twice.
    DuplicateValidator {
        /// The origin domain.
        origin: u32,
        /// The validator.
        validator: EvmAddress,
    },
    /// A threshold is zero or above the number of validators.
    BadThreshold {
        /// The origin domain.
        origin: u32,
        /// Threshold configured.
        threshold: u8,
        /// Validators configured.
        validators: usize,
    },
    /// A token has more than [`MAX_SOURCE_DECIMALS`] decimals.
    TooManyDecimals {
        /// The origin domain.
        origin: u32,
        /// Decimals configured.
        decimals: u8,
    },
}

impl fmt::Display for HyperlaneConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOrigins => f.write_str("no Hyperlane origins configured"),
            Self::TooManyOrigins(n) => write!(f, "{n} origins, at most {MAX_ORIGINS}"),
            Self::DuplicateOrigin(d) => write!(f, "origin domain {d} appears twice"),
            Self::OriginIsLocal(d) => write!(f, "origin domain {d} is the local domain"),
            Self::NoSenders { origin } => write!(f, "origin {origin}: no senders"),
            Self::TooManySenders { origin, count } => {
                write!(f, "origin {origin}: {count} senders, at most {MAX_SENDERS}")
            }
            Self::DuplicateSender { origin, sender } => {
                write!(f, "origin {origin}: sender 0x{} appears twice", Hex(sender))
            }
            Self::NoValidators { origin } => write!(f, "origin {origin}: no validators"),
            Self::TooManyValidators { origin, count } => {
                write!(f, "origin {origin}: {count} validators, at most {MAX_VALIDATORS}")
            }
            Self::DuplicateValidator { origin, validator } => {
                write!(f, "origin {origin}: validator {validator:?} appears twice")
            }
            Self::BadThreshold { origin, threshold, validators } => {
                write!(f, "origin {origin}: threshold {threshold} is invalid for {validators} validators")
            }
            Self::TooManyDecimals { origin, decimals } => {
                write!(f, "origin {origin}: {decimals} decimals, at most {MAX_SOURCE_DECIMALS}")
            }
        }
    }
}

impl core::error::Error for HyperlaneConfigError {}
