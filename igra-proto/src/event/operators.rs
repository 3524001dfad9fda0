//! Operator events: a withdrawal approved by `k` of the group's named operators.
//!
//! Each operator has an Ed25519 key. An approval is an operator's signature over the
//! [`Domain::OperatorApproval`] hash of `group_id ‖ event_id`, so it binds the whole event (source,
//! external id, destination and amount, through the event id) to one group. An operator event is valid
//! only with approvals from at least `k` distinct operators, every one of which verifies; there is no
//! unauthenticated "manual" or "api" source.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{Domain, DomainHasher};
use crate::ids::{EventId, GroupId};
use crate::keys::{IdentityPublicKey, IdentitySignature, KeyError, Signer, SignerError};
use crate::wire::BoundedVec;

/// The most operators a group may name.
pub const MAX_OPERATORS: usize = 32;

/// The group's operator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorConfig {
    /// The operators' Ed25519 keys; an operator's index is its position.
    pub keys: Vec<IdentityPublicKey>,
    /// `k`: approvals needed.
    pub threshold: u8,
}

/// One operator's approval of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OperatorApproval {
    /// The operator's index in the configured set.
    pub operator: u8,
    /// Its signature over [`approval_digest`].
    pub signature: IdentitySignature,
}

/// Approvals of an operator event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OperatorAttestation {
    /// The approvals, one per operator.
    pub approvals: BoundedVec<OperatorApproval, MAX_OPERATORS>,
}

/// Why an operator configuration is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorConfigError {
    /// No operators.
    NoOperators,
    /// More than [`MAX_OPERATORS`].
    TooManyOperators(usize),
    /// `k` is zero or above the number of operators.
    BadThreshold {
        /// Threshold configured.
        k: u8,
        /// Operators configured.
        n: usize,
    },
    /// Two operators share a key.
    DuplicateKey(IdentityPublicKey),
    /// An operator key is not a usable Ed25519 key.
    InvalidKey {
        /// The operator.
        operator: usize,
        /// What is wrong with it.
        reason: KeyError,
    },
}

impl fmt::Display for OperatorConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOperators => f.write_str("no operators configured"),
            Self::TooManyOperators(n) => write!(f, "{n} operators, at most {MAX_OPERATORS}"),
            Self::BadThreshold { k, n } => write!(f, "threshold {k} is invalid for {n} operators"),
            Self::DuplicateKey(key) => write!(f, "operator key {key:?} appears twice"),
            Self::InvalidKey { operator, reason } => write!(f, "operator {operator}: {reason}"),
        }
    }
}

impl core::error::Error for OperatorConfigError {}

/// Why an operator attestation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorError {
    /// The operator configuration is invalid (a threshold of zero would accept no approvals).
    InvalidConfig(OperatorConfigError),
    /// Operator events carry source id 0.
    NonZeroSourceId,
    /// An approval names an operator index that is not configured.
    UnknownOperator(u8),
    /// Two approvals from the same operator.
    DuplicateOperator(u8),
    /// An approval's signature does not verify.
    BadSignature(u8),
    /// Fewer valid approvals than the threshold.
    BelowThreshold {
        /// Approvals present.
        have: usize,
        /// Approvals needed.
        need: usize,
    },
}

impl fmt::Display for OperatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(e) => write!(f, "invalid operator configuration: {e}"),
            Self::NonZeroSourceId => f.write_str("operator events must have source id 0"),
            Self::UnknownOperator(i) => write!(f, "operator {i} is not configured"),
            Self::DuplicateOperator(i) => write!(f, "operator {i} approved twice"),
            Self::BadSignature(i) => write!(f, "approval of operator {i} does not verify"),
            Self::BelowThreshold { have, need } => write!(f, "{have} approvals, {need} needed"),
        }
    }
}

impl core::error::Error for OperatorError {}

impl OperatorConfig {
    /// Checks the set: 1 to [`MAX_OPERATORS`] distinct valid keys, `1 <= k <= n`.
    pub fn validate(&self) -> Result<(), OperatorConfigError> {
        let n = self.keys.len();
        if n == 0 {
            return Err(OperatorConfigError::NoOperators);
        }
        if n > MAX_OPERATORS {
            return Err(OperatorConfigError::TooManyOperators(n));
        }
        if self.threshold == 0 || usize::from(self.threshold) > n {
            return Err(OperatorConfigError::BadThreshold { k: self.threshold, n });
        }
        for (operator, key) in self.keys.iter().enumerate() {
            key.validate().map_err(|reason| OperatorConfigError::InvalidKey { operator, reason })?;
        }
        if let Some(key) = super::first_duplicate(&self.keys) {
            return Err(OperatorConfigError::DuplicateKey(key));
        }
        Ok(())
    }
}

/// What an operator signs to approve `event_id` for `group_id`.
pub fn approval_digest(group_id: GroupId, event_id: &EventId) -> [u8; 32] {
    DomainHasher::new(Domain::OperatorApproval).update(&group_id.0).update(&event_id.0).finalize()
}

/// Operator `operator`'s approval of `event_id` for `group_id`, signed with its Ed25519 key.
pub fn approve(
    signer: &dyn Signer,
    operator: u8,
    group_id: GroupId,
    event_id: &EventId,
) -> Result<OperatorApproval, SignerError> {
    let signature = signer.sign_identity(&approval_digest(group_id, event_id))?;
    Ok(OperatorApproval { operator, signature })
}

/// Checks that at least `k` distinct configured operators approved `event_id` for `group_id`, and that
/// every approval present verifies.
pub fn verify(
    config: &OperatorConfig,
    attestation: &OperatorAttestation,
    group_id: GroupId,
    event_id: &EventId,
) -> Result<(), OperatorError> {
    // The keys were validated with the configuration; the threshold is re-checked here because a
    // threshold of zero would accept an empty attestation.
    let n = config.keys.len();
    if config.threshold == 0 || usize::from(config.threshold) > n {
        return Err(OperatorError::InvalidConfig(OperatorConfigError::BadThreshold {
            k: config.threshold,
            n,
        }));
    }
    let digest = approval_digest(group_id, event_id);
    let mut seen = [false; MAX_OPERATORS];
    for approval in attestation.approvals.iter() {
        let index = usize::from(approval.operator);
        let key = config.keys.get(index).ok_or(OperatorError::UnknownOperator(approval.operator))?;
        let slot = seen.get_mut(index).ok_or(OperatorError::UnknownOperator(approval.operator))?;
        if *slot {
            return Err(OperatorError::DuplicateOperator(approval.operator));
        }
        *slot = true;
        key.verify(&digest, &approval.signature)
            .map_err(|_| OperatorError::BadSignature(approval.operator))?;
    }
    let need = usize::from(config.threshold);
    let have = attestation.approvals.len();
    if have < need {
        return Err(OperatorError::BelowThreshold { have, need });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LocalSigner;
    use alloc::vec;

    fn operators(n: u8) -> (Vec<LocalSigner>, OperatorConfig) {
        let signers: Vec<_> =
            (0..n).map(|i| LocalSigner::from_secrets([0x40 + i; 32], [0x40 + i; 32]).unwrap()).collect();
        let keys = signers.iter().map(Signer::identity_public_key).collect();
        (signers, OperatorConfig { keys, threshold: 2 })
    }

    fn attestation(approvals: Vec<OperatorApproval>) -> OperatorAttestation {
        OperatorAttestation { approvals: approvals.try_into().unwrap() }
    }

    #[test]
    fn k_distinct_valid_approvals_pass_and_each_forgery_has_its_reason() {
        let (signers, config) = operators(3);
        assert_eq!(config.validate(), Ok(()));
        let group = GroupId([1; 32]);
        let event = EventId([2; 32]);
        let a0 = approve(&signers[0], 0, group, &event).unwrap();
        let a2 = approve(&signers[2], 2, group, &event).unwrap();
        assert_eq!(verify(&config, &attestation(vec![a2, a0]), group, &event), Ok(()));
        assert_eq!(
            verify(&config, &attestation(vec![a0]), group, &event),
            Err(OperatorError::BelowThreshold { have: 1, need: 2 })
        );
        assert_eq!(
            verify(&config, &attestation(vec![a0, a0]), group, &event),
            Err(OperatorError::DuplicateOperator(0))
        );
        let mut stranger = a2;
        stranger.operator = 7;
        assert_eq!(
            verify(&config, &attestation(vec![a0, stranger]), group, &event),
            Err(OperatorError::UnknownOperator(7))
        );
        let mut swapped = a2;
        swapped.operator = 1;
        assert_eq!(
            verify(&config, &attestation(vec![a0, swapped]), group, &event),
            Err(OperatorError::BadSignature(1))
        );
        // Approvals are bound to the event and to the group.
        assert_eq!(
            verify(&config, &attestation(vec![a0, a2]), group, &EventId([3; 32])),
            Err(OperatorError::BadSignature(0))
        );
        assert_eq!(
            verify(&config, &attestation(vec![a0, a2]), GroupId([9; 32]), &event),
            Err(OperatorError::BadSignature(0))
        );
    }

    #[test]
    fn an_invalid_configuration_accepts_nothing() {
        let config = OperatorConfig { keys: vec![], threshold: 0 };
        let empty = attestation(vec![]);
        assert_eq!(
            verify(&config, &empty, GroupId([1; 32]), &EventId([2; 32])),
            Err(OperatorError::InvalidConfig(OperatorConfigError::BadThreshold { k: 0, n: 0 }))
        );
    }

    #[test]
    fn invalid_operator_sets_are_typed_errors() {
        let (_, config) = operators(3);
        let empty = OperatorConfig { keys: vec![], threshold: 1 };
        assert_eq!(empty.validate(), Err(OperatorConfigError::NoOperators));
        assert_eq!(
            OperatorConfig { threshold: 0, ..config.clone() }.validate(),
            Err(OperatorConfigError::BadThreshold { k: 0, n: 3 })
        );
        assert_eq!(
            OperatorConfig { threshold: 4, ..config.clone() }.validate(),
            Err(OperatorConfigError::BadThreshold { k: 4, n: 3 })
        );
        let mut dup = config.clone();
        dup.keys[2] = dup.keys[0];
        assert_eq!(dup.validate(), Err(OperatorConfigError::DuplicateKey(config.keys[0])));
        let mut weak = config.clone();
        let mut small = [0u8; 32];
        small[0] = 1;
        weak.keys[1] = IdentityPublicKey(small);
        assert!(matches!(weak.validate(), Err(OperatorConfigError::InvalidKey { operator: 1, .. })));
        let many = OperatorConfig { keys: vec![config.keys[0]; MAX_OPERATORS + 1], threshold: 1 };
        assert_eq!(many.validate(), Err(OperatorConfigError::TooManyOperators(MAX_OPERATORS + 1)));
    }
}
