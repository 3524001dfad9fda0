//! Operator events by hand: what `igra approve` and `igra event` do, for a group that accepts
//! withdrawals approved by `k` of its named operators (`[attestation.operators]` in the node file).
//!
//! 1. Each operator checks the withdrawal (external id, destination address, amount) and signs an
//!    approval of it with its Ed25519 key ([`Withdrawal::approve`]): the signature covers the group id
//!    and the event id, so it binds that payment to that group only (protocol section 11).
//! 2. Anyone gathers `k` approvals into the event ([`Withdrawal::event`]), which is checked here exactly
//!    as every member will check it (`igra_proto::event::verify`) before it is submitted to the
//!    members' APIs.
//!
//! An operator's key is the identity key of a keystore made by `igra keygen` (the `identity` it prints
//! is the value to list in `[attestation.operators] keys`).

use std::fmt;

use igra_proto::event::operators::{OperatorApproval, OperatorAttestation, approve};
use igra_proto::event::{Attestation, AttestationError, Event, EventSource, SourceKind, event_id, verify};
use igra_proto::kaspa::address::{Address, Prefix};
use igra_proto::kaspa::script::script_for_address;
use igra_proto::keys::{IdentitySignature, SignerError};
use igra_proto::node::NodeConfig;
use igra_proto::template::Payment;
use igra_proto::wire::BoundedVec;
use igra_proto::{EventId, Signer};
use serde::{Deserialize, Serialize};

/// A withdrawal the operators approve: the source's request id, whom to pay and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The request's id at its source (32 bytes): the same request always has the same id, so
    /// submitting it twice pays it once.
    pub external_id: [u8; 32],
    /// The payee.
    pub to: Address,
    /// The amount in sompi.
    pub amount: u64,
}

/// Why an approval or an event cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorError {
    /// The node file's group does not accept operator events (no `[attestation.operators]`).
    NoOperators,
    /// The payee's address is for another network than the group's.
    WrongNetwork {
        /// The address's network prefix.
        address: Prefix,
        /// The group's.
        group: Prefix,
    },
    /// The keystore's identity key is not among the group's operator keys.
    NotAnOperator {
        /// The keystore's identity key, hex.
        key: String,
    },
    /// An approval names another event (another withdrawal; an approval for another group names the
    /// same event and fails as a bad signature instead).
    ForAnotherEvent {
        /// The operator that signed it.
        operator: u8,
        /// The event it approves.
        approves: EventId,
        /// The event being built.
        event: EventId,
    },
    /// An approval is not of the form `igra approve` prints.
    MalformedApproval(String),
    /// The approvals do not make a valid attestation (too few, unknown or repeated operators, a
    /// signature that does not verify).
    Attestation(AttestationError),
    /// The key could not sign.
    Signer(SignerError),
}

impl fmt::Display for OperatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOperators => f.write_str(
                "the group accepts no operator events: the node file has no [attestation.operators]",
            ),
            Self::WrongNetwork { address, group } => {
                write!(f, "the address is for {} but the group is on {}", address.as_str(), group.as_str())
            }
            Self::NotAnOperator { key } => {
                write!(f, "identity key {key} is not among the group's [attestation.operators] keys")
            }
            Self::ForAnotherEvent { operator, approves, event } => {
                write!(f, "the approval of operator {operator} is for event {approves}, not {event}")
            }
            Self::MalformedApproval(why) => write!(f, "malformed approval: {why}"),
            Self::Attestation(e) => write!(f, "the approvals do not hold: {e}"),
            Self::Signer(e) => write!(f, "signing: {e}"),
        }
    }
}

impl std::error::Error for OperatorError {}

/// One approval as `igra approve` prints it and `igra event` reads it (one JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalView {
    /// The event approved (hex).
    pub event_id: String,
    /// The operator's index in the group's operator keys.
    pub operator: u8,
    /// The Ed25519 signature (128 hex characters).
    pub signature: String,
}

impl ApprovalView {
    fn new(event: EventId, approval: &OperatorApproval) -> Self {
        Self {
            event_id: event.to_string(),
            operator: approval.operator,
            signature: hex::encode(approval.signature.0),
        }
    }

    /// Reads an approval `igra approve` printed.
    pub fn parse(text: &str) -> Result<Self, OperatorError> {
        serde_json::from_str(text.trim()).map_err(|e| OperatorError::MalformedApproval(e.to_string()))
    }

    fn decode(&self) -> Result<(EventId, OperatorApproval), OperatorError> {
        let mut id = [0u8; 32];
        hex::decode_to_slice(&self.event_id, &mut id)
            .map_err(|e| OperatorError::MalformedApproval(format!("event_id: {e}")))?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut signature)
            .map_err(|e| OperatorError::MalformedApproval(format!("signature: {e}")))?;
        Ok((
            EventId(id),
            OperatorApproval { operator: self.operator, signature: IdentitySignature(signature) },
        ))
    }
}

impl Withdrawal {
    /// The event source of operator events (kind operators, id 0).
    const SOURCE: EventSource = EventSource { kind: SourceKind::Operators, id: 0 };

    fn payment(&self, config: &NodeConfig) -> Result<Payment, OperatorError> {
        let group = Prefix::from(config.group.network());
        if self.to.prefix() != group {
            return Err(OperatorError::WrongNetwork { address: self.to.prefix(), group });
        }
        Ok(Payment { destination: script_for_address(&self.to), amount: self.amount })
    }

    /// The event's id for the group `config` describes.
    pub fn event_id(&self, config: &NodeConfig) -> Result<EventId, OperatorError> {
        Ok(event_id(Self::SOURCE, &self.external_id, &self.payment(config)?))
    }

    /// `signer`'s approval of this withdrawal for the group `config` describes; `signer`'s identity
    /// key must be one of the group's operator keys.
    pub fn approve(&self, config: &NodeConfig, signer: &dyn Signer) -> Result<ApprovalView, OperatorError> {
        let operators = config.attestation.operators.as_ref().ok_or(OperatorError::NoOperators)?;
        let key = signer.identity_public_key();
        let index = operators
            .keys
            .iter()
            .position(|k| *k == key)
            .and_then(|i| u8::try_from(i).ok())
            .ok_or_else(|| OperatorError::NotAnOperator { key: hex::encode(key.0) })?;
        let id = self.event_id(config)?;
        let approval = approve(signer, index, config.group.id(), &id).map_err(OperatorError::Signer)?;
        Ok(ApprovalView::new(id, &approval))
    }

    /// The event with `approvals`, checked as every member checks it.
    pub fn event(&self, config: &NodeConfig, approvals: &[ApprovalView]) -> Result<Event, OperatorError> {
        if config.attestation.operators.is_none() {
            return Err(OperatorError::NoOperators);
        }
        let id = self.event_id(config)?;
        let mut decoded = Vec::with_capacity(approvals.len());
        for view in approvals {
            let (approves, approval) = view.decode()?;
            if approves != id {
                return Err(OperatorError::ForAnotherEvent {
                    operator: approval.operator,
                    approves,
                    event: id,
                });
            }
            decoded.push(approval);
        }
        let approvals = BoundedVec::try_from(decoded).map_err(|_| {
            OperatorError::MalformedApproval(format!(
                "{} approvals, at most {}",
                approvals.len(),
                igra_proto::event::operators::MAX_OPERATORS
            ))
        })?;
        let event = Event {
            source: Self::SOURCE,
            external_id: self.external_id,
            payment: self.payment(config)?,
            attestation: Attestation::Operators(OperatorAttestation { approvals }),
        };
        verify(&event, &config.attestation, config.group.id()).map_err(OperatorError::Attestation)?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use igra_proto::LocalSigner;
    use igra_proto::event::operators::OperatorError as Refused;
    use igra_proto::kaspa::script::address_for_script;

    use super::*;
    use crate::devnet::{Cast, DevnetConfig, destination};

    fn withdrawal(amount: u64) -> Withdrawal {
        let to = address_for_script(&destination(1, 0), Prefix::Simnet).expect("an address");
        Withdrawal { external_id: [7; 32], to, amount }
    }

    fn operator(i: u8) -> LocalSigner {
        LocalSigner::from_secrets([0x40 + i; 32], [0x50 + i; 32]).expect("a key")
    }

    /// The devnet group, accepting events approved by 2 of the 3 operators `operator(0..3)`.
    fn config() -> NodeConfig {
        let cast = Cast::new(&DevnetConfig::default()).expect("a cast");
        let mut config = cast.configs[0].clone();
        let operators = config.attestation.operators.as_mut().expect("the devnet accepts operator events");
        operators.keys = (0..3).map(|i| operator(i).identity_public_key()).collect();
        operators.threshold = 2;
        config
    }

    #[test]
    fn two_approvals_make_the_event_every_member_accepts() {
        let (config, w) = (config(), withdrawal(5_000));
        let approvals =
            [w.approve(&config, &operator(2)).unwrap(), w.approve(&config, &operator(0)).unwrap()];
        assert_eq!(approvals[0].operator, 2);
        let printed = serde_json::to_string(&approvals[0]).unwrap();
        assert_eq!(ApprovalView::parse(&printed).unwrap(), approvals[0]);
        let event = w.event(&config, &approvals).unwrap();
        assert_eq!(event.id(), w.event_id(&config).unwrap());
        assert_eq!(event.id().to_string(), approvals[0].event_id);
        assert_eq!(event.payment.amount, 5_000);
        assert_eq!(event.payment.destination, destination(1, 0));
        verify(&event, &config.attestation, config.group.id()).expect("a member accepts it");
    }

    #[test]
    fn too_few_repeated_or_foreign_approvals_are_refused_with_the_reason() {
        let (config, w) = (config(), withdrawal(5_000));
        let one = w.approve(&config, &operator(1)).unwrap();
        assert_eq!(
            w.event(&config, std::slice::from_ref(&one)),
            Err(OperatorError::Attestation(AttestationError::Operators(Refused::BelowThreshold {
                have: 1,
                need: 2
            })))
        );
        assert_eq!(
            w.event(&config, &[one.clone(), one.clone()]),
            Err(OperatorError::Attestation(AttestationError::Operators(Refused::DuplicateOperator(1))))
        );
        // Approved for another amount: another event.
        let other = withdrawal(5_001).approve(&config, &operator(0)).unwrap();
        assert!(matches!(
            w.event(&config, &[one.clone(), other]),
            Err(OperatorError::ForAnotherEvent { operator: 0, .. })
        ));
        // A signature that does not verify (one bit changed).
        let mut forged = w.approve(&config, &operator(0)).unwrap();
        forged.signature.replace_range(0..2, if forged.signature.starts_with("00") { "01" } else { "00" });
        assert_eq!(
            w.event(&config, &[one, forged]),
            Err(OperatorError::Attestation(AttestationError::Operators(Refused::BadSignature(0))))
        );
    }

    #[test]
    fn a_stranger_a_foreign_address_and_bad_text_are_refused() {
        let (config, w) = (config(), withdrawal(5_000));
        assert!(matches!(w.approve(&config, &operator(9)), Err(OperatorError::NotAnOperator { .. })));
        let mainnet =
            Withdrawal { to: address_for_script(&destination(1, 0), Prefix::Mainnet).unwrap(), ..w };
        assert_eq!(
            mainnet.approve(&config, &operator(0)),
            Err(OperatorError::WrongNetwork { address: Prefix::Mainnet, group: Prefix::Simnet })
        );
        let mut no_operators = config.clone();
        no_operators.attestation.operators = None;
        assert_eq!(w.approve(&no_operators, &operator(0)), Err(OperatorError::NoOperators));
        assert!(matches!(ApprovalView::parse("{\"operator\": 1}"), Err(OperatorError::MalformedApproval(_))));
        let short = ApprovalView { signature: "abcd".into(), ..w.approve(&config, &operator(0)).unwrap() };
        assert!(matches!(w.event(&config, &[short]), Err(OperatorError::MalformedApproval(_))));
    }
}
