//! Votes and quorum certificates: signed on their own, independent of the envelope that carries them,
//! so that they can be forwarded, bundled and checked by anyone who knows the group.
//!
//! A vote says "member `i` votes template `H` for event `E` in epoch `e`, round `r`". Its signature is
//! the member's Ed25519 identity signature over the [`Domain::Vote`] hash of
//! `group_id (32) ‖ event_id (32) ‖ epoch (u32 LE) ‖ round (u32 LE) ‖ template_hash (32)`.
//! A quorum certificate (QC) is `Q` such signatures on one vote from distinct members, listed with
//! strictly ascending member indices so that each QC has exactly one encoding.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::group::{Group, MAX_MEMBERS, MemberIndex};
use crate::hash::{Domain, DomainHasher};
use crate::ids::{EventId, GroupId, TemplateHash};
use crate::keys::{IdentitySignature, Signer, SignerError};
use crate::wire::BoundedVec;

/// What a member votes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vote {
    /// The event.
    pub event_id: EventId,
    /// The event's signing epoch (advances only when a signed template can provably never confirm).
    pub epoch: u32,
    /// The voting round within the epoch.
    pub round: u32,
    /// The template voted for.
    pub template_hash: TemplateHash,
}

impl Vote {
    /// The digest a member signs for this vote in `group`.
    pub fn digest(&self, group: GroupId) -> [u8; 32] {
        DomainHasher::new(Domain::Vote)
            .update(&group.0)
            .update(&self.event_id.0)
            .update(&self.epoch.to_le_bytes())
            .update(&self.round.to_le_bytes())
            .update(&self.template_hash.0)
            .finalize()
    }
}

/// A vote with its voter's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedVote {
    /// The vote.
    pub vote: Vote,
    /// Who voted.
    pub voter: MemberIndex,
    /// The voter's identity signature over [`Vote::digest`].
    pub signature: IdentitySignature,
}

/// One member's signature inside a quorum certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VoteSignature {
    /// Who voted.
    pub voter: MemberIndex,
    /// The voter's identity signature over the certificate's [`Vote::digest`].
    pub signature: IdentitySignature,
}

/// Proof that a quorum voted for one template: `Q` signatures on one [`Vote`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuorumCertificate {
    /// The vote the quorum signed.
    pub vote: Vote,
    /// The signatures, voters strictly ascending.
    pub signatures: BoundedVec<VoteSignature, MAX_MEMBERS>,
}

/// Why a vote or a quorum certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteError {
    /// The voter is not a member of the group.
    UnknownVoter(MemberIndex),
    /// The voter's signature does not verify.
    BadSignature(MemberIndex),
    /// A certificate has fewer signatures than the quorum.
    TooFewVotes {
        /// Signatures present.
        have: usize,
        /// Signatures needed.
        need: usize,
    },
    /// Voters are not strictly ascending (a duplicate voter, or a non-canonical order).
    VotersNotAscending,
    /// The votes given to build a certificate are not all for the same vote.
    MixedVotes,
}

impl fmt::Display for VoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownVoter(m) => write!(f, "{m} is not in the group"),
            Self::BadSignature(m) => write!(f, "vote signature of {m} does not verify"),
            Self::TooFewVotes { have, need } => write!(f, "{have} votes, a quorum needs {need}"),
            Self::VotersNotAscending => f.write_str("voters are not strictly ascending"),
            Self::MixedVotes => f.write_str("votes are for different templates, events or rounds"),
        }
    }
}

impl core::error::Error for VoteError {}

impl SignedVote {
    /// Signs `vote` as `voter` of `group`.
    pub fn sign(
        vote: Vote,
        voter: MemberIndex,
        group: GroupId,
        signer: &dyn Signer,
    ) -> Result<Self, SignerError> {
        let signature = signer.sign_identity(&vote.digest(group))?;
        Ok(Self { vote, voter, signature })
    }

    /// Checks that the voter is a member and the signature is theirs.
    pub fn verify(&self, group: &Group) -> Result<(), VoteError> {
        verify_one(group, &self.vote.digest(group.id()), self.voter, &self.signature)
    }
}

fn verify_one(
    group: &Group,
    digest: &[u8; 32],
    voter: MemberIndex,
    sig: &IdentitySignature,
) -> Result<(), VoteError> {
    let key = group.identity(voter).ok_or(VoteError::UnknownVoter(voter))?;
    key.verify(digest, sig).map_err(|_| VoteError::BadSignature(voter))
}

impl QuorumCertificate {
    /// Bundles votes into a certificate. The votes must all be for one [`Vote`], from distinct voters;
    /// they are sorted by voter. The result is not checked against a group: call [`Self::verify`].
    pub fn from_votes(votes: &[SignedVote]) -> Result<Self, VoteError> {
        let first = votes.first().ok_or(VoteError::TooFewVotes { have: 0, need: 1 })?;
        let mut signatures = alloc::vec::Vec::with_capacity(votes.len());
        for v in votes {
            if v.vote != first.vote {
                return Err(VoteError::MixedVotes);
            }
            signatures.push(VoteSignature { voter: v.voter, signature: v.signature });
        }
        signatures.sort_by_key(|s| s.voter);
        if signatures.windows(2).any(|w| matches!(w, [a, b] if a.voter >= b.voter)) {
            return Err(VoteError::VotersNotAscending);
        }
        let signatures = BoundedVec::try_from(signatures).map_err(|_| VoteError::VotersNotAscending)?;
        Ok(Self { vote: first.vote, signatures })
    }

    /// Checks that at least a quorum of distinct members, listed in ascending order, signed the vote.
    pub fn verify(&self, group: &Group) -> Result<(), VoteError> {
        let need = group.quorum();
        if self.signatures.len() < need {
            return Err(VoteError::TooFewVotes { have: self.signatures.len(), need });
        }
        if self.signatures.windows(2).any(|w| matches!(w, [a, b] if a.voter >= b.voter)) {
            return Err(VoteError::VotersNotAscending);
        }
        let digest = self.vote.digest(group.id());
        for s in self.signatures.iter() {
            verify_one(group, &digest, s.voter, &s.signature)?;
        }
        Ok(())
    }

    /// The votes this certificate is made of, each transferable on its own.
    pub fn votes(&self) -> impl Iterator<Item = SignedVote> + '_ {
        self.signatures.iter().map(|s| SignedVote { vote: self.vote, voter: s.voter, signature: s.signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{GroupConfig, Limits, Member, Network};
    use crate::keys::LocalSigner;
    use alloc::vec::Vec;

    fn setup(n: u8, m: u8) -> (Group, Vec<LocalSigner>) {
        let signers: Vec<_> =
            (0..n).map(|i| LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).unwrap()).collect();
        let members = signers
            .iter()
            .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
            .collect();
        let group = GroupConfig {
            members,
            threshold: m,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .unwrap();
        (group, signers)
    }

    fn vote(round: u32) -> Vote {
        Vote { event_id: EventId([1; 32]), epoch: 0, round, template_hash: TemplateHash([2; 32]) }
    }

    fn signed(group: &Group, signers: &[LocalSigner], voters: &[u8], v: Vote) -> Vec<SignedVote> {
        voters
            .iter()
            .map(|&i| SignedVote::sign(v, MemberIndex(i), group.id(), &signers[usize::from(i)]).unwrap())
            .collect()
    }

    #[test]
    fn a_signed_vote_verifies_only_for_its_voter_and_fields() {
        let (group, signers) = setup(3, 2);
        let v = signed(&group, &signers, &[1], vote(0))[0];
        assert_eq!(v.verify(&group), Ok(()));
        let mut other_voter = v;
        other_voter.voter = MemberIndex(2);
        assert_eq!(other_voter.verify(&group), Err(VoteError::BadSignature(MemberIndex(2))));
        let mut other_round = v;
        other_round.vote.round = 1;
        assert_eq!(other_round.verify(&group), Err(VoteError::BadSignature(MemberIndex(1))));
        let mut stranger = v;
        stranger.voter = MemberIndex(3);
        assert_eq!(stranger.verify(&group), Err(VoteError::UnknownVoter(MemberIndex(3))));
        let (other_group, _) = setup(4, 3);
        assert!(v.verify(&other_group).is_err(), "a vote is bound to its group");
    }

    #[test]
    fn a_quorum_certificate_needs_q_distinct_valid_votes() {
        let (group, signers) = setup(5, 3);
        let votes = signed(&group, &signers, &[4, 0, 2], vote(1));
        let qc = QuorumCertificate::from_votes(&votes).unwrap();
        assert_eq!(qc.verify(&group), Ok(()));
        assert_eq!(qc.votes().map(|v| v.voter.0).collect::<Vec<_>>(), [0, 2, 4]);
        assert!(qc.votes().all(|v| v.verify(&group).is_ok()));

        let two = QuorumCertificate::from_votes(&votes[..2]).unwrap();
        assert_eq!(two.verify(&group), Err(VoteError::TooFewVotes { have: 2, need: 3 }));

        let mut dup = votes.clone();
        dup[2] = dup[0];
        assert_eq!(QuorumCertificate::from_votes(&dup), Err(VoteError::VotersNotAscending));
        let mut forged = qc.clone();
        let mut sigs = forged.signatures.clone().into_inner();
        sigs[1].voter = sigs[0].voter;
        forged.signatures = BoundedVec::try_from(sigs).unwrap();
        assert_eq!(forged.verify(&group), Err(VoteError::VotersNotAscending));

        let mut bad = qc;
        bad.vote.template_hash = TemplateHash([3; 32]);
        assert_eq!(bad.verify(&group), Err(VoteError::BadSignature(MemberIndex(0))));

        let mut mixed = votes;
        mixed.extend(signed(&group, &signers, &[1], vote(2)));
        assert_eq!(QuorumCertificate::from_votes(&mixed), Err(VoteError::MixedVotes));
        assert_eq!(QuorumCertificate::from_votes(&[]), Err(VoteError::TooFewVotes { have: 0, need: 1 }));
    }
}
