//! Counted, typed rejections of what peers send: the node's evidence of faulty or hostile members.
//!
//! The envelope gate counts frames it refuses; these counters cover authenticated frames whose content
//! the protocol refuses. Nothing here changes protocol state: a rejected input is dropped whole.

use crate::group::{MAX_MEMBERS, MemberIndex};

/// Why a peer's authenticated input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Misbehaviour {
    /// A vote whose signature does not verify, or whose voter is not the frame's sender.
    ForgedVote,
    /// A second vote of one member in one round for another template.
    Equivocation,
    /// A vote for a round at or beyond the round limit.
    RoundOutOfRange,
    /// A certificate that does not verify.
    BadCertificate,
    /// A template that does not validate against its event, or does not match its hash.
    InvalidTemplate,
    /// An event whose attestation or policy check failed, or that does not match its id.
    BadEvent,
    /// A partial signature that does not verify.
    BadSignature,
    /// Signatures for a template no certificate is known for.
    UncertifiedSignatures,
}

impl Misbehaviour {
    /// Every kind, in counter order.
    pub const ALL: [Self; 8] = [
        Self::ForgedVote,
        Self::Equivocation,
        Self::RoundOutOfRange,
        Self::BadCertificate,
        Self::InvalidTemplate,
        Self::BadEvent,
        Self::BadSignature,
        Self::UncertifiedSignatures,
    ];

    /// A stable snake-case name for metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ForgedVote => "forged_vote",
            Self::Equivocation => "equivocation",
            Self::RoundOutOfRange => "round_out_of_range",
            Self::BadCertificate => "bad_certificate",
            Self::InvalidTemplate => "invalid_template",
            Self::BadEvent => "bad_event",
            Self::BadSignature => "bad_signature",
            Self::UncertifiedSignatures => "uncertified_signatures",
        }
    }
}

/// Counts of [`Misbehaviour`], in total and per member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MisbehaviourCounters {
    by_kind: [u64; Misbehaviour::ALL.len()],
    by_member: [u64; MAX_MEMBERS],
}

impl MisbehaviourCounters {
    /// Rejections of `kind`.
    pub fn count(&self, kind: Misbehaviour) -> u64 {
        self.by_kind.get(kind as usize).copied().unwrap_or(0)
    }

    /// Rejections charged to `member`.
    pub fn of_member(&self, member: MemberIndex) -> u64 {
        self.by_member.get(member.get()).copied().unwrap_or(0)
    }

    /// All rejections.
    pub fn total(&self) -> u64 {
        self.by_kind.iter().sum()
    }

    pub(super) fn record(&mut self, member: MemberIndex, kind: Misbehaviour, times: u64) {
        if let Some(n) = self.by_kind.get_mut(kind as usize) {
            *n = n.saturating_add(times);
        }
        if let Some(n) = self.by_member.get_mut(member.get()) {
            *n = n.saturating_add(times);
        }
    }
}
