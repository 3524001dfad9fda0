//! What `submitTransaction` answered, as a typed outcome.
//!
//! kaspad refuses a transaction with an RPC error `Rejected transaction <id>: <reason>`, the reason
//! being the Display text of rusty-kaspa's mempool `RuleError` (`mining/errors/src/mempool.rs`). The
//! texts below were read there and seen on a live kaspad 2.1.0 (docs/kaspad.md); matching is on their
//! stable fragments and the full text is always kept.

use igra_proto::TransactionId;
use igra_proto::kaspa::tx::Outpoint;

/// The outcome of one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The node took it into its mempool.
    Accepted {
        /// The id the node computed.
        transaction_id: TransactionId,
    },
    /// It is already in the mempool (another member submitted it first): success.
    AlreadyInMempool,
    /// It was already accepted by consensus: success.
    AlreadyAccepted,
    /// An input is spent by another transaction in the mempool.
    DoubleSpend {
        /// The contested output, when the node names it.
        outpoint: Option<Outpoint>,
        /// The transaction spending it, when the node names it.
        spender: Option<TransactionId>,
    },
    /// An input has no UTXO: spent on chain already, or its parent is unknown (the node cannot tell).
    MissingInputs,
    /// The fee is under the node's minimum.
    InsufficientFee {
        /// The fee paid, when the node says.
        fee: Option<u64>,
        /// The fee required, when the node says.
        required: Option<u64>,
    },
    /// The transaction breaks a standardness or mass rule.
    NonStandard {
        /// The node's reason.
        reason: String,
    },
    /// Any other refusal.
    Rejected {
        /// The node's message.
        reason: String,
    },
}

impl SubmitOutcome {
    /// Whether the transaction is in the mempool or on chain after this submission.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Accepted { .. } | Self::AlreadyInMempool | Self::AlreadyAccepted)
    }
}

impl std::fmt::Display for SubmitOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accepted { transaction_id } => write!(f, "accepted into the mempool as {transaction_id}"),
            Self::AlreadyInMempool => f.write_str("already in the mempool"),
            Self::AlreadyAccepted => f.write_str("already accepted by consensus"),
            Self::DoubleSpend { outpoint, spender } => {
                f.write_str("double spend")?;
                if let Some(o) = outpoint {
                    write!(f, " of {}:{}", o.transaction_id, o.index)?;
                }
                if let Some(s) = spender {
                    write!(f, " (spent by {s})")?;
                }
                Ok(())
            }
            Self::MissingInputs => f.write_str("an input has no UTXO (spent, or its parent is unknown)"),
            Self::InsufficientFee { fee, required } => {
                write!(f, "insufficient fee ({} < {})", opt(*fee), opt(*required))
            }
            Self::NonStandard { reason } => write!(f, "non-standard: {reason}"),
            Self::Rejected { reason } => write!(f, "rejected: {reason}"),
        }
    }
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

/// Maps the node's rejection `message` to an outcome.
pub fn classify_rejection(message: &str) -> SubmitOutcome {
    // `Rejected transaction <id>: <reason>`; older or other paths may send the reason alone.
    let reason = message
        .strip_prefix("Rejected transaction ")
        .and_then(|rest| rest.split_once(": ").map(|(_, reason)| reason))
        .unwrap_or(message);
    if reason.contains("was already accepted by the consensus") {
        SubmitOutcome::AlreadyAccepted
    } else if reason.contains("is already in the mempool") || reason.contains("is already in the orphan pool")
    {
        SubmitOutcome::AlreadyInMempool
    } else if let Some(rest) = reason.strip_prefix("output ")
        && let Some((outpoint, spender)) = rest.split_once(" already spent by transaction ")
    {
        SubmitOutcome::DoubleSpend {
            outpoint: parse_outpoint(outpoint),
            spender: spender.split_whitespace().next().and_then(parse_txid),
        }
    } else if reason.contains("is an orphan where orphan is disallowed")
        || reason.contains("lacking a matching UTXO entry")
    {
        SubmitOutcome::MissingInputs
    } else if let Some((_, rest)) = reason.split_once("transaction has ")
        && let Some((fee, rest)) = rest.split_once(" fees which is under the required amount of ")
    {
        SubmitOutcome::InsufficientFee {
            fee: fee.trim().parse().ok(),
            required: rest.split_whitespace().next().and_then(|n| n.parse().ok()),
        }
    } else if reason.contains("is not standard") || reason.contains("mass of") {
        SubmitOutcome::NonStandard { reason: reason.to_owned() }
    } else {
        SubmitOutcome::Rejected { reason: message.to_owned() }
    }
}

/// `(<txid>, <index>)`, rusty-kaspa's Display of an outpoint.
fn parse_outpoint(text: &str) -> Option<Outpoint> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (txid, index) = inner.split_once(',')?;
    Some(Outpoint { transaction_id: parse_txid(txid.trim())?, index: index.trim().parse().ok()? })
}

/// A 64-hex-digit transaction id.
pub(super) fn parse_txid(text: &str) -> Option<TransactionId> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(TransactionId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "4a4b0f1e4e3dd49b0c8d9cbc6e3b65a8ec1f2f11a09e0a8c7e33bda5e1b0c001";
    const B: &str = "9f9e00aa4e3dd49b0c8d9cbc6e3b65a8ec1f2f11a09e0a8c7e33bda5e1b0c002";

    fn rejected(reason: &str) -> String {
        format!("Rejected transaction {A}: {reason}")
    }

    #[test]
    fn successes_are_recognised() {
        assert_eq!(
            classify_rejection(&rejected(&format!("transaction {A} was already accepted by the consensus"))),
            SubmitOutcome::AlreadyAccepted
        );
        let dup = classify_rejection(&rejected(&format!("transaction {A} is already in the mempool")));
        assert_eq!(dup, SubmitOutcome::AlreadyInMempool);
        assert!(dup.is_success());
    }

    #[test]
    fn double_spends_name_the_outpoint_and_the_spender() {
        let outcome = classify_rejection(&rejected(&format!(
            "output ({B}, 3) already spent by transaction {A} in the mempool"
        )));
        let expected = SubmitOutcome::DoubleSpend {
            outpoint: Some(Outpoint { transaction_id: parse_txid(B).unwrap(), index: 3 }),
            spender: parse_txid(A),
        };
        assert_eq!(outcome, expected);
        assert!(!outcome.is_success());
        assert!(outcome.to_string().contains("spent by"));
    }

    #[test]
    fn fees_standardness_and_orphans_have_their_own_outcomes() {
        // 2.1.0's text, and master's (which adds the compute mass).
        let fee = "transaction has 4216 fees which is under the required amount of 4217";
        let outcome = classify_rejection(&rejected(&format!("transaction {A} is not standard: {fee}")));
        assert_eq!(outcome, SubmitOutcome::InsufficientFee { fee: Some(4216), required: Some(4217) });
        let master = classify_rejection(&rejected(&format!("{fee} for compute mass 4217")));
        assert_eq!(master, SubmitOutcome::InsufficientFee { fee: Some(4216), required: Some(4217) });
        let mass = "transaction storage mass of 1000000 is larger than max allowed size of 500000";
        assert!(matches!(classify_rejection(&rejected(mass)), SubmitOutcome::NonStandard { .. }));
        let script =
            format!("transaction {A} is not standard: transaction output #0: non-standard script form");
        assert!(matches!(classify_rejection(&rejected(&script)), SubmitOutcome::NonStandard { .. }));
        let orphan = format!("transaction {A} is an orphan where orphan is disallowed");
        assert_eq!(classify_rejection(&rejected(&orphan)), SubmitOutcome::MissingInputs);
        let other = classify_rejection("Method unavailable. Run the node with the --utxoindex argument.");
        assert!(matches!(other, SubmitOutcome::Rejected { reason } if reason.contains("--utxoindex")));
    }
}
