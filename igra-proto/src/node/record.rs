//! What a node persists, and why each record exists.
//!
//! The node never writes: it emits [`Record`]s in `Persist` batches, and marks the frames that may only
//! leave once a batch is durable (`SendAfterPersist`). A restarted node is rebuilt from its records
//! (`Node::restore`) and honours every vote and signature they hold.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::event::policy::Commitment;
use crate::ids::{EventId, TemplateHash, TransactionId};
use crate::kaspa::tx::Outpoint;
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
    /// A confirmed event is final (`confirm_depth + finality_depth` past its acceptance) and the node
    /// released its state, keeping only this. **Every earlier record of the event may be deleted** once
    /// this one is durable: a store that compacts its log (see [`Record::event_id`]) keeps this record
    /// and drops the others; a store that does not is equally correct.
    Released {
        /// The event.
        event_id: EventId,
        /// The epoch it was paid in.
        epoch: u32,
        /// The transaction that paid it.
        transaction_id: TransactionId,
        /// This node's policy commitment to the event while it still counts in the policy's window
        /// (the commitment records it replaces may be deleted with the rest).
        commitment: Option<Commitment>,
    },
    /// Another transaction spent an input of the template this node signed for the event's epoch: the
    /// template dies once the spend is `finality_depth` deep. Persisted because the chain does not tell
    /// a restarted node of a spend again (its notifications are of changes; a snapshot only lacks the
    /// spent output).
    Conflict {
        /// The event.
        event_id: EventId,
        /// The epoch of the signed template.
        epoch: u32,
        /// The template's input that was spent.
        outpoint: Outpoint,
        /// The spending transaction.
        by: TransactionId,
        /// The DAA score of its acceptance.
        daa_score: u64,
    },
    /// A reorg orphaned `by`: its conflicts with the event's signed template no longer count.
    ConflictOrphaned {
        /// The event.
        event_id: EventId,
        /// The epoch of the signed template.
        epoch: u32,
        /// The orphaned transaction.
        by: TransactionId,
    },
}

impl Record {
    /// The event the record belongs to; `None` only for an `Event` record whose event does not decode
    /// (which `Node::restore` refuses anyway). Decoding an `Event` record's event costs a decode and a
    /// hash; every other kind holds its event id.
    pub fn event_id(&self) -> Option<EventId> {
        match self {
            Self::Event { event } => crate::event::Event::decode(event).ok().map(|e| e.id()),
            Self::Vote { event_id, .. }
            | Self::Commitment { event_id, .. }
            | Self::Ended { event_id, .. }
            | Self::Released { event_id, .. }
            | Self::Conflict { event_id, .. }
            | Self::ConflictOrphaned { event_id, .. } => Some(*event_id),
            Self::Lock { certificate } | Self::SignOnce { certificate, .. } => {
                Some(certificate.vote.event_id)
            }
        }
    }

    /// The event whose earlier records this record makes obsolete: `Some` for [`Record::Released`].
    pub fn releases(&self) -> Option<EventId> {
        match self {
            Self::Released { event_id, .. } => Some(*event_id),
            _ => None,
        }
    }
}

/// Compacts a log held in memory: drops every record of an event that a later
/// [`Record::Released`] released (the release itself stays). The order of what remains is kept. For
/// stores that hold the whole log in memory (tests, the simulator); a disk store does the same with an
/// index by event.
pub fn compact(log: &mut Vec<Record>) {
    let released: BTreeSet<EventId> = log.iter().filter_map(Record::releases).collect();
    if released.is_empty() {
        return;
    }
    log.retain(|r| r.releases().is_some() || r.event_id().is_none_or(|id| !released.contains(&id)));
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
