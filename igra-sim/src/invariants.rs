//! The protocol's safety guarantees (protocol brief section 2), checked after every step.
//!
//! * **S1** an honest node signs at most one template per (event, epoch): every `Signed` notification
//!   and every node's `status(id).signed` is compared with what that node signed before, across its
//!   crashes (the simulator remembers; the node must too).
//! * **S2** the ledger accepts at most one transaction per event and pays each event exactly once.
//! * **S3** every accepted transaction's outputs are one event's payment plus change to the group.
//! * **S5** no two certificates for different templates of one (event, epoch, round), across nodes.
//!
//! Reorgs: a payment counts while its transaction is accepted; an orphaned one is forgotten (it may be
//! accepted again), so S2 compares only transactions on the ledger at once. A node's `Confirmed` must be
//! backed by the ledger at confirmation depth when it is reported, and a confirmed transaction must
//! never be orphaned afterwards (part of S2: a confirmation is a final payout).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use igra_proto::event::Event;
use igra_proto::kaspa::script::MultisigScript;
use igra_proto::node::ChainRules;
use igra_proto::{EventId, TemplateHash, TransactionId};

use crate::ledger::Accepted;

/// What broke, before the step number is attached.
pub type Broken = (&'static str, String);

/// What the checker remembers.
#[derive(Debug, Default)]
pub struct Invariants {
    signed: BTreeMap<(usize, EventId, u32), TemplateHash>,
    certified: BTreeMap<(EventId, u32, u32), TemplateHash>,
    payouts: BTreeMap<EventId, TransactionId>,
    confirmed: BTreeMap<TransactionId, usize>,
}

impl Invariants {
    /// S1: node `node` signed `hash` for (`event`, `epoch`).
    pub fn signed(
        &mut self,
        node: usize,
        event: EventId,
        epoch: u32,
        hash: TemplateHash,
    ) -> Result<(), Broken> {
        match self.signed.insert((node, event, epoch), hash) {
            Some(before) if before != hash => Err((
                "S1",
                format!(
                    "node {node} signed {} and then {} for event {event} epoch {epoch}",
                    short(&before.0),
                    short(&hash.0)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// S5: some node saw a certificate for `hash` in (`event`, `epoch`, `round`).
    pub fn certified(
        &mut self,
        event: EventId,
        epoch: u32,
        round: u32,
        hash: TemplateHash,
    ) -> Result<(), Broken> {
        match self.certified.insert((event, epoch, round), hash) {
            Some(before) if before != hash => Err((
                "S5",
                format!(
                    "two certificates for event {event} epoch {epoch} round {round}: {} and {}",
                    short(&before.0),
                    short(&hash.0)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// S2 and S3 for a transaction the ledger just accepted.
    pub fn accepted(
        &mut self,
        tx: &Accepted,
        events: &[Event],
        group: &MultisigScript,
    ) -> Result<(), Broken> {
        let change = group.script_public_key();
        let mut paid = Vec::new();
        for output in &tx.transaction.outputs {
            if output.script_public_key == change {
                continue;
            }
            let Some(event) = events.iter().find(|e| e.payment.destination == output.script_public_key)
            else {
                return Err((
                    "S3",
                    format!("transaction {} pays an address no event names", tx.transaction_id),
                ));
            };
            if output.value != event.payment.amount {
                return Err((
                    "S3",
                    format!(
                        "transaction {} pays event {} {} sompi, not {}",
                        tx.transaction_id,
                        event.id(),
                        output.value,
                        event.payment.amount
                    ),
                ));
            }
            paid.push(event.id());
        }
        if paid.len() != 1 {
            return Err((
                "S3",
                format!("transaction {} pays {} events, not one", tx.transaction_id, paid.len()),
            ));
        }
        for id in paid {
            if let Some(before) = self.payouts.insert(id, tx.transaction_id)
                && before != tx.transaction_id
            {
                return Err((
                    "S2",
                    format!("event {id} paid twice: by {before} and by {}", tx.transaction_id),
                ));
            }
        }
        Ok(())
    }

    /// A reorg orphaned `transaction_id`: the payment it made is forgotten. Broken if a node had
    /// confirmed it.
    pub fn orphaned(&mut self, transaction_id: TransactionId) -> Result<(), Broken> {
        self.payouts.retain(|_, tx| *tx != transaction_id);
        match self.confirmed.get(&transaction_id) {
            Some(node) => {
                Err(("S2", format!("node {node} confirmed {transaction_id}, which a reorg then orphaned")))
            }
            None => Ok(()),
        }
    }

    /// Node `node` reported `event` confirmed by `transaction_id`; the ledger has it accepted at
    /// `accepted_at` (if at all) and is at `daa_score`.
    pub fn confirmed(
        &mut self,
        node: usize,
        event: EventId,
        transaction_id: TransactionId,
        accepted_at: Option<u64>,
        daa_score: u64,
    ) -> Result<(), Broken> {
        let depth = ChainRules::default().confirm_depth;
        match accepted_at {
            Some(at) if daa_score >= at + depth && self.payouts.get(&event) == Some(&transaction_id) => {
                self.confirmed.insert(transaction_id, node);
                Ok(())
            }
            _ => Err((
                "S2",
                format!(
                    "node {node} confirmed event {event} by {transaction_id}, which the ledger does not \
                     carry {depth} deep (accepted at {accepted_at:?}, score {daa_score})"
                ),
            )),
        }
    }

    /// The transaction that paid `event`, if any.
    pub fn payout(&self, event: &EventId) -> Option<TransactionId> {
        self.payouts.get(event).copied()
    }
}

fn short(bytes: &[u8; 32]) -> String {
    bytes.iter().take(6).fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
