//! Group identity: who the members are, how many must sign, on which network, under which limits.
//!
//! [`GroupConfig`] is what an operator writes; [`GroupConfig::validate`] turns it into a [`Group`], the
//! only form the rest of the core accepts, or says with a [`GroupError`] which unsafe shape it refused.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{Domain, DomainHasher};
use crate::ids::GroupId;
use crate::keys::{IdentityPublicKey, KeyError, PreparedIdentityKey, SigningPublicKey};
use crate::wire::PROTOCOL_VERSION;

/// The most members a group may have. Kaspa's mempool refuses P2SH inputs with more than 15 signature
/// operations (`MAX_STANDARD_P2SH_SIG_OPS`), and an m-of-n multisig input counts `n` of them.
pub const MAX_MEMBERS: usize = 15;

/// A member's position in the group's member list, from 0 to `n - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberIndex(pub u8);

impl MemberIndex {
    /// The index as a `usize` for indexing member tables.
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for MemberIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}", self.0)
    }
}

/// A set of members as a bit mask (bit `i` is member `i`); fits every group since `MAX_MEMBERS <= 16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MemberSet(pub u16);

impl MemberSet {
    /// Adds `member`.
    pub fn insert(&mut self, member: MemberIndex) {
        self.0 |= 1u16.checked_shl(u32::from(member.0)).unwrap_or(0);
    }

    /// Whether `member` is in the set.
    pub fn contains(self, member: MemberIndex) -> bool {
        self.0 & 1u16.checked_shl(u32::from(member.0)).unwrap_or(0) != 0
    }

    /// The number of members in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One member's public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Ed25519 key that signs the member's envelopes and votes.
    pub identity: IdentityPublicKey,
    /// secp256k1 x-only key in the group's multisig redeem script.
    pub signing: SigningPublicKey,
}

/// The chain network the group's funds live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// Kaspa mainnet.
    Mainnet,
    /// A Kaspa testnet; the suffix tells them apart (testnet-10, testnet-11).
    Testnet {
        /// The testnet number.
        suffix: u32,
    },
    /// Kaspa devnet.
    Devnet,
    /// Kaspa simnet (local, no proof of work).
    Simnet,
}

impl Network {
    /// The network's stable code in the group id: mainnet 0, testnet 1, devnet 2, simnet 3.
    const fn code(self) -> (u8, u32) {
        match self {
            Self::Mainnet => (0, 0),
            Self::Testnet { suffix } => (1, suffix),
            Self::Devnet => (2, 0),
            Self::Simnet => (3, 0),
        }
    }
}

/// Node-local limits on what a member accepts from its peers. They bound work and memory, not safety,
/// so they are not part of the group id and members may tune them independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest envelope accepted, in bytes; at most [`MAX_MESSAGE_BYTES`](crate::wire::MAX_MESSAGE_BYTES).
    pub max_message_bytes: u32,
    /// How far in the past a message's send time may lie, in ms (covers delay plus clock skew).
    pub freshness_past_ms: u64,
    /// How far in the future a message's send time may lie, in ms (covers clock skew).
    pub freshness_future_ms: u64,
    /// Sustained messages per second accepted from one member.
    pub rate_per_second: u32,
    /// Messages one member may send in a burst above the sustained rate.
    pub rate_burst: u32,
}

/// The longest freshness window accepted: beyond ten minutes the replay protection of a restarted
/// receiver (which forgets its replay windows) would cover too much history.
pub const MAX_FRESHNESS_MS: u64 = 10 * 60 * 1000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 256 * 1024,
            freshness_past_ms: 60_000,
            freshness_future_ms: 10_000,
            rate_per_second: 2_000,
            rate_burst: 4_000,
        }
    }
}

/// A group's configuration as an operator writes it. Validate it with [`GroupConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// The members; a member's index is its position in this list, and the order is part of the group id.
    pub members: Vec<Member>,
    /// `m`: signatures needed to spend, and votes needed for a quorum certificate.
    pub threshold: u8,
    /// The chain network.
    pub network: Network,
    /// Version of the signing policy all members run; members with different policies form different
    /// groups instead of one group that disagrees silently.
    pub policy_version: u32,
    /// Node-local limits.
    pub limits: Limits,
}

/// Why a group configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupError {
    /// The member list is empty.
    NoMembers,
    /// More members than a standard Kaspa P2SH multisig allows.
    TooManyMembers {
        /// Members configured.
        n: usize,
        /// The most allowed.
        max: usize,
    },
    /// A threshold of zero would let anyone spend.
    ZeroThreshold,
    /// The threshold is larger than the group.
    ThresholdAboveMembers {
        /// Threshold configured.
        m: u8,
        /// Members configured.
        n: usize,
    },
    /// `2m <= n`: two disjoint sets of `m` members could sign two different transactions.
    NoMajority {
        /// Threshold configured.
        m: u8,
        /// Members configured.
        n: usize,
    },
    /// Two members share an identity key.
    DuplicateIdentityKey {
        /// The first member with the key.
        first: MemberIndex,
        /// The later member with the same key.
        second: MemberIndex,
    },
    /// Two members share a signing key.
    DuplicateSigningKey {
        /// The first member with the key.
        first: MemberIndex,
        /// The later member with the same key.
        second: MemberIndex,
    },
    /// A member's identity key is not a usable Ed25519 key.
    InvalidIdentityKey {
        /// The member.
        member: MemberIndex,
        /// What is wrong with it.
        reason: KeyError,
    },
    /// A member's signing key is not a valid secp256k1 x-only key.
    InvalidSigningKey {
        /// The member.
        member: MemberIndex,
    },
    /// Policy version 0 is reserved for "no policy configured".
    PolicyVersionZero,
    /// A limit is out of its allowed range.
    InvalidLimit {
        /// The field of [`Limits`].
        field: &'static str,
        /// The allowed range.
        allowed: &'static str,
    },
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMembers => f.write_str("the group has no members"),
            Self::TooManyMembers { n, max } => write!(f, "{n} members, at most {max} are allowed"),
            Self::ZeroThreshold => f.write_str("threshold must be at least 1"),
            Self::ThresholdAboveMembers { m, n } => write!(f, "threshold {m} is above the member count {n}"),
            Self::NoMajority { m, n } => {
                write!(f, "threshold {m} of {n} is not a majority (2m must exceed n)")
            }
            Self::DuplicateIdentityKey { first, second } => {
                write!(f, "{first} and {second} share an identity key")
            }
            Self::DuplicateSigningKey { first, second } => {
                write!(f, "{first} and {second} share a signing key")
            }
            Self::InvalidIdentityKey { member, reason } => write!(f, "{member}: {reason}"),
            Self::InvalidSigningKey { member } => write!(f, "{member}: invalid signing key"),
            Self::PolicyVersionZero => f.write_str("policy version must be at least 1"),
            Self::InvalidLimit { field, allowed } => write!(f, "limits.{field} must be {allowed}"),
        }
    }
}

impl core::error::Error for GroupError {}

impl GroupConfig {
    /// Checks every rule and returns the validated [`Group`].
    pub fn validate(self) -> Result<Group, GroupError> {
        let n = self.members.len();
        if n == 0 {
            return Err(GroupError::NoMembers);
        }
        if n > MAX_MEMBERS {
            return Err(GroupError::TooManyMembers { n, max: MAX_MEMBERS });
        }
        let m = self.threshold;
        if m == 0 {
            return Err(GroupError::ZeroThreshold);
        }
        if usize::from(m) > n {
            return Err(GroupError::ThresholdAboveMembers { m, n });
        }
        if 2 * usize::from(m) <= n {
            return Err(GroupError::NoMajority { m, n });
        }
        for (i, member) in (0u8..).zip(&self.members) {
            let index = MemberIndex(i);
            member
                .identity
                .validate()
                .map_err(|reason| GroupError::InvalidIdentityKey { member: index, reason })?;
            member.signing.validate().map_err(|_| GroupError::InvalidSigningKey { member: index })?;
            for (j, earlier) in (0u8..).zip(&self.members).take(usize::from(i)) {
                if earlier.identity == member.identity {
                    return Err(GroupError::DuplicateIdentityKey { first: MemberIndex(j), second: index });
                }
                if earlier.signing == member.signing {
                    return Err(GroupError::DuplicateSigningKey { first: MemberIndex(j), second: index });
                }
            }
        }
        if self.policy_version == 0 {
            return Err(GroupError::PolicyVersionZero);
        }
        validate_limits(&self.limits)?;
        let group_id = group_id(&self);
        let identities = (0u8..)
            .zip(&self.members)
            .map(|(i, m)| {
                m.identity
                    .prepare()
                    .map_err(|reason| GroupError::InvalidIdentityKey { member: MemberIndex(i), reason })
            })
            .collect::<Result<_, _>>()?;
        Ok(Group { config: self, id: group_id, identities })
    }
}

fn validate_limits(limits: &Limits) -> Result<(), GroupError> {
    let max_bytes = u32::try_from(crate::wire::MAX_MESSAGE_BYTES).unwrap_or(u32::MAX);
    if limits.max_message_bytes < 1024 || limits.max_message_bytes > max_bytes {
        return Err(GroupError::InvalidLimit {
            field: "max_message_bytes",
            allowed: "between 1 KiB and MAX_MESSAGE_BYTES",
        });
    }
    if limits.freshness_past_ms == 0 || limits.freshness_past_ms > MAX_FRESHNESS_MS {
        return Err(GroupError::InvalidLimit { field: "freshness_past_ms", allowed: "between 1 and 600000" });
    }
    if limits.freshness_future_ms == 0 || limits.freshness_future_ms > MAX_FRESHNESS_MS {
        return Err(GroupError::InvalidLimit {
            field: "freshness_future_ms",
            allowed: "between 1 and 600000",
        });
    }
    if limits.rate_per_second == 0 {
        return Err(GroupError::InvalidLimit { field: "rate_per_second", allowed: "at least 1" });
    }
    if limits.rate_burst == 0 {
        return Err(GroupError::InvalidLimit { field: "rate_burst", allowed: "at least 1" });
    }
    Ok(())
}

/// The group id covers exactly what two members must agree on for the protocol to be safe, in this
/// order: protocol version (u8), network code (u8) and testnet suffix (u32 LE, 0 for other networks),
/// threshold `m` (u8), member count `n` (u8), then for each member in index order its identity key (32)
/// and signing key (32), then the policy version (u32 LE); hashed in [`Domain::GroupId`]. Limits are
/// node-local and excluded.
fn group_id(config: &GroupConfig) -> GroupId {
    let mut h = DomainHasher::new(Domain::GroupId);
    let (network, suffix) = config.network.code();
    let n = u8::try_from(config.members.len()).unwrap_or(u8::MAX);
    h.update(&[PROTOCOL_VERSION, network]).update(&suffix.to_le_bytes()).update(&[config.threshold, n]);
    for member in &config.members {
        h.update(&member.identity.0).update(&member.signing.0);
    }
    h.update(&config.policy_version.to_le_bytes());
    GroupId(h.finalize())
}

/// A validated group. Every rule of [`GroupConfig::validate`] holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    config: GroupConfig,
    id: GroupId,
    /// Each member's identity key, decompressed once for the many verifications it serves.
    identities: Vec<PreparedIdentityKey>,
}

impl Group {
    /// The group id (see [`GroupConfig::validate`] for what it covers).
    pub fn id(&self) -> GroupId {
        self.id
    }

    /// The members in index order.
    pub fn members(&self) -> &[Member] {
        &self.config.members
    }

    /// The member at `index`, if there is one.
    pub fn member(&self, index: MemberIndex) -> Option<&Member> {
        self.config.members.get(index.get())
    }

    /// A member's identity key, prepared for verification.
    pub fn identity(&self, index: MemberIndex) -> Option<&PreparedIdentityKey> {
        self.identities.get(index.get())
    }

    /// Every member's identity key, prepared for verification, in index order.
    pub fn identities(&self) -> &[PreparedIdentityKey] {
        &self.identities
    }

    /// The number of members, `n`.
    pub fn size(&self) -> usize {
        self.config.members.len()
    }

    /// The signing threshold `m`.
    pub fn threshold(&self) -> u8 {
        self.config.threshold
    }

    /// Votes needed for a quorum certificate. Equal to `m`; `2m > n` guarantees that two quorums share
    /// a member.
    pub fn quorum(&self) -> usize {
        usize::from(self.config.threshold)
    }

    /// The network.
    pub fn network(&self) -> Network {
        self.config.network
    }

    /// The policy version.
    pub fn policy_version(&self) -> u32 {
        self.config.policy_version
    }

    /// The node-local limits.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The configuration this group was validated from.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// The index of the member with this identity key.
    pub fn index_of(&self, identity: &IdentityPublicKey) -> Option<MemberIndex> {
        let i = self.config.members.iter().position(|m| &m.identity == identity)?;
        u8::try_from(i).ok().map(MemberIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{LocalSigner, Signer};
    use alloc::vec;

    fn member(i: u8) -> Member {
        let s = LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).unwrap();
        Member { identity: s.identity_public_key(), signing: s.signing_public_key() }
    }

    fn config(n: u8, m: u8) -> GroupConfig {
        GroupConfig {
            members: (0..n).map(member).collect(),
            threshold: m,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
    }

    #[test]
    fn accepts_every_majority_shape_up_to_fifteen() {
        for n in 1..=15u8 {
            for m in (n / 2 + 1)..=n {
                let group = config(n, m).validate().unwrap();
                assert_eq!(group.size(), usize::from(n));
                assert_eq!(group.quorum(), usize::from(m));
                assert!(2 * group.quorum() > group.size());
            }
        }
    }

    #[test]
    fn rejects_each_unsafe_shape_with_its_own_error() {
        assert_eq!(config(0, 0).validate(), Err(GroupError::NoMembers));
        assert_eq!(config(16, 9).validate(), Err(GroupError::TooManyMembers { n: 16, max: 15 }));
        assert_eq!(config(3, 0).validate(), Err(GroupError::ZeroThreshold));
        assert_eq!(config(3, 4).validate(), Err(GroupError::ThresholdAboveMembers { m: 4, n: 3 }));
        assert_eq!(config(4, 2).validate(), Err(GroupError::NoMajority { m: 2, n: 4 }));
        assert_eq!(config(5, 2).validate(), Err(GroupError::NoMajority { m: 2, n: 5 }));

        let mut dup_identity = config(3, 2);
        dup_identity.members[2].identity = dup_identity.members[0].identity;
        assert_eq!(
            dup_identity.validate(),
            Err(GroupError::DuplicateIdentityKey { first: MemberIndex(0), second: MemberIndex(2) })
        );
        let mut dup_signing = config(3, 2);
        dup_signing.members[2].signing = dup_signing.members[1].signing;
        assert_eq!(
            dup_signing.validate(),
            Err(GroupError::DuplicateSigningKey { first: MemberIndex(1), second: MemberIndex(2) })
        );

        let mut weak = config(3, 2);
        let mut small_order = [0u8; 32];
        small_order[0] = 1;
        weak.members[1].identity = IdentityPublicKey(small_order);
        assert_eq!(
            weak.validate(),
            Err(GroupError::InvalidIdentityKey { member: MemberIndex(1), reason: KeyError::WeakIdentityKey })
        );
        let mut bad_signing = config(3, 2);
        bad_signing.members[0].signing = SigningPublicKey([0xff; 32]);
        assert_eq!(bad_signing.validate(), Err(GroupError::InvalidSigningKey { member: MemberIndex(0) }));

        let mut policy = config(3, 2);
        policy.policy_version = 0;
        assert_eq!(policy.validate(), Err(GroupError::PolicyVersionZero));
    }

    #[test]
    fn rejects_each_out_of_range_limit() {
        type Case = (fn(&mut Limits), &'static str);
        let cases: [Case; 6] = [
            (|l| l.max_message_bytes = 0, "max_message_bytes"),
            (|l| l.max_message_bytes = u32::MAX, "max_message_bytes"),
            (|l| l.freshness_past_ms = MAX_FRESHNESS_MS + 1, "freshness_past_ms"),
            (|l| l.freshness_future_ms = 0, "freshness_future_ms"),
            (|l| l.rate_per_second = 0, "rate_per_second"),
            (|l| l.rate_burst = 0, "rate_burst"),
        ];
        for (mutate, name) in cases {
            let mut c = config(3, 2);
            mutate(&mut c.limits);
            match c.validate() {
                Err(GroupError::InvalidLimit { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: expected InvalidLimit, got {other:?}"),
            }
        }
    }

    #[test]
    fn group_id_covers_safety_fields_and_only_those() {
        let base = config(3, 2).validate().unwrap().id();
        let mut limits = config(3, 2);
        limits.limits.rate_per_second = 7;
        limits.limits.freshness_past_ms = 1234;
        assert_eq!(limits.validate().unwrap().id(), base, "limits are node-local");

        let mut changed = vec![];
        let mut c = config(3, 3);
        changed.push(c.clone().validate().unwrap().id());
        c = config(3, 2);
        c.network = Network::Testnet { suffix: 10 };
        changed.push(c.clone().validate().unwrap().id());
        c.network = Network::Testnet { suffix: 11 };
        changed.push(c.clone().validate().unwrap().id());
        c = config(3, 2);
        c.policy_version = 2;
        changed.push(c.clone().validate().unwrap().id());
        c = config(3, 2);
        c.members.swap(0, 1);
        changed.push(c.clone().validate().unwrap().id());
        c = config(3, 2);
        c.members[2].signing = member(9).signing;
        changed.push(c.clone().validate().unwrap().id());
        c = config(3, 2);
        c.members[2].identity = member(9).identity;
        changed.push(c.clone().validate().unwrap().id());
        changed.push(config(4, 3).validate().unwrap().id());
        for (i, id) in changed.iter().enumerate() {
            assert_ne!(*id, base, "change {i} must change the group id");
            for other in &changed[i + 1..] {
                assert_ne!(id, other);
            }
        }
    }

    #[test]
    fn member_sets_count_and_contain() {
        let mut set = MemberSet::default();
        assert!(set.is_empty());
        set.insert(MemberIndex(0));
        set.insert(MemberIndex(14));
        set.insert(MemberIndex(14));
        assert_eq!(set.len(), 2);
        assert!(set.contains(MemberIndex(14)));
        assert!(!set.contains(MemberIndex(3)));
        set.insert(MemberIndex(200));
        assert_eq!(set.len(), 2, "indices past the mask are ignored");
    }
}
