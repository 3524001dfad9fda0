//! What a node persists, and why each record exists.
//!
//! The node never writes: it emits [`Record`]s in `Persist` batches, and marks the frames that may only
//! leave once a batch is durable (`SendAfterPersist`). A restarted node is rebuilt from its records
//! (`Node::restore`) and honours every vote and signature they hold.

use serde::{Deserialize, Serialize};

use crate::event::policy::Commitment;
use crate::ids::{EventId, TemplateHash, TransactionId};
use crate::vote::QuorumCertificate;
use crate::wire::BoundedVec;
use crate::wire::MAX_SIGNATURES_PER_MESSAGE;
use crate::wire::{EncodedEvent, EncodedTemplate, PartialSignature};

/// One persisted fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// An event this node accepted (attestation and policy passed).
    Event {
        /// The event, encoded.
        event: EncodedEvent,
    },
    /// This node's vote: at most one per (event, epoch, round), across crashes.
    Vote {
        /// The event.
        event_id: EventId,
        /// The epoch.
        epoch: u32,
        /// The round.
        round: u32,
        /// The template voted for.
        template: EncodedTemplate,
    },
    /// The highest quorum certificate this node knows for an event's epoch.
    Lock {
        /// The certificate.
        certificate: QuorumCertificate,
    },
    /// The sign-once record: this node signed this template for this (event, epoch) and nothing else.
    /// Written before any signature leaves the node.
    SignOnce {
        /// The certificate that allowed signing.
        certificate: QuorumCertificate,
        /// The template signed.
        template: EncodedTemplate,
        /// This node's signatures of every input.
        signatures: BoundedVec<PartialSignature, MAX_SIGNATURES_PER_MESSAGE>,
    },
    /// This node's policy commitment to an event, written with the first vote or signature it covers.
    Commitment {
        /// The event.
        event_id: EventId,
        /// The commitment.
        commitment: Commitment,
    },
    /// How an event ended.
    Ended {
        /// The event.
        event_id: EventId,
        /// The epoch it ended in.
        epoch: u32,
        /// The outcome.
        outcome: Ending,
    },
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ending {
    /// No quorum within the round limit, and no signature was released.
    Abandoned,
    /// The transaction is confirmed.
    Confirmed {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// The signed template can never confirm; the event continues in the next epoch.
    Dead {
        /// The template that died.
        template_hash: TemplateHash,
    },
}
