//! The receive pipeline: every frame from the network passes here before the protocol sees it.
//!
//! The checks run in this order, and a frame stops at the first it fails:
//!
//! 1. **size**: at most the group's `max_message_bytes`, before anything is decoded;
//! 2. **decode**: version, header, kind and body, every length bounded;
//! 3. **membership**: the claimed sender is a member of the group, and not this node;
//! 4. **signature**: the claimed sender's identity key signed the frame;
//! 5. **group**: the frame names this group;
//! 6. **freshness**: its send time lies within the window around this node's wall clock;
//! 7. **replay**: its `(boot epoch, sequence)` is new for this sender;
//! 8. **rate**: the sender has a token left in its bucket;
//! 9. then the [`Envelope`] is returned for dispatch.
//!
//! Per-sender state (replay window, token bucket) exists only for members and is touched only after
//! step 4, so a forger can neither create state nor spend a member's rate budget. Each rejection is a
//! typed [`Rejection`] and is counted by [`RejectReason`].

use alloc::vec::Vec;
use core::fmt;

use super::rate::TokenBucket;
use super::replay::{ReplayVerdict, ReplayWindow};
use super::{Envelope, UnverifiedFrame};
use crate::group::{Group, Limits, MAX_MEMBERS, MemberIndex};
use crate::ids::GroupId;
use crate::keys::PreparedIdentityKey;
use crate::time::{Instant, UnixMs};
use crate::wire::DecodeError;

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The frame could not be decoded (includes the size check).
    Decode(DecodeError),
    /// The claimed sender index is not a member.
    UnknownSender(MemberIndex),
    /// The frame claims to come from this node itself.
    OwnIndex,
    /// The signature does not verify against the claimed sender's identity key.
    BadSignature(MemberIndex),
    /// Correctly signed, but for another group.
    WrongGroup {
        /// The sender.
        sender: MemberIndex,
        /// The group the frame names.
        group_id: GroupId,
    },
    /// The send time is older than the freshness window.
    Stale {
        /// The sender.
        sender: MemberIndex,
        /// How old the message is, in ms.
        age_ms: u64,
    },
    /// The send time is further in the future than the window allows.
    FromFuture {
        /// The sender.
        sender: MemberIndex,
        /// How far ahead, in ms.
        ahead_ms: u64,
    },
    /// The sender's boot epoch is older than one already seen from it.
    StaleEpoch(MemberIndex),
    /// The sequence number was already accepted, or is too far behind to tell.
    Replayed(MemberIndex),
    /// The sender exceeded its rate.
    RateLimited(MemberIndex),
}

/// The reason of a [`Rejection`], without its details: the key of the rejection counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// Above the size limit.
    Oversized,
    /// An unsupported protocol version.
    UnsupportedVersion,
    /// An unknown message kind.
    UnknownKind,
    /// Any other decoding failure.
    Malformed,
    /// See [`Rejection::UnknownSender`].
    UnknownSender,
    /// See [`Rejection::OwnIndex`].
    OwnIndex,
    /// See [`Rejection::BadSignature`].
    BadSignature,
    /// See [`Rejection::WrongGroup`].
    WrongGroup,
    /// See [`Rejection::Stale`].
    Stale,
    /// See [`Rejection::FromFuture`].
    FromFuture,
    /// See [`Rejection::StaleEpoch`].
    StaleEpoch,
    /// See [`Rejection::Replayed`].
    Replayed,
    /// See [`Rejection::RateLimited`].
    RateLimited,
}

impl RejectReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 13] = [
        Self::Oversized,
        Self::UnsupportedVersion,
        Self::UnknownKind,
        Self::Malformed,
        Self::UnknownSender,
        Self::OwnIndex,
        Self::BadSignature,
        Self::WrongGroup,
        Self::Stale,
        Self::FromFuture,
        Self::StaleEpoch,
        Self::Replayed,
        Self::RateLimited,
    ];

    /// A stable snake-case name for metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKind => "unknown_kind",
            Self::Malformed => "malformed",
            Self::UnknownSender => "unknown_sender",
            Self::OwnIndex => "own_index",
            Self::BadSignature => "bad_signature",
            Self::WrongGroup => "wrong_group",
            Self::Stale => "stale",
            Self::FromFuture => "from_future",
            Self::StaleEpoch => "stale_epoch",
            Self::Replayed => "replayed",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl Rejection {
    /// The counter key of this rejection.
    pub const fn reason(&self) -> RejectReason {
        match self {
            Self::Decode(DecodeError::Oversized { .. }) => RejectReason::Oversized,
            Self::Decode(DecodeError::UnsupportedVersion(_)) => RejectReason::UnsupportedVersion,
            Self::Decode(DecodeError::UnknownKind(_)) => RejectReason::UnknownKind,
            Self::Decode(
                DecodeError::Truncated
                | DecodeError::OutOfBounds
                | DecodeError::Malformed
                | DecodeError::TrailingBytes,
            ) => RejectReason::Malformed,
            Self::UnknownSender(_) => RejectReason::UnknownSender,
            Self::OwnIndex => RejectReason::OwnIndex,
            Self::BadSignature(_) => RejectReason::BadSignature,
            Self::WrongGroup { .. } => RejectReason::WrongGroup,
            Self::Stale { .. } => RejectReason::Stale,
            Self::FromFuture { .. } => RejectReason::FromFuture,
            Self::StaleEpoch(_) => RejectReason::StaleEpoch,
            Self::Replayed(_) => RejectReason::Replayed,
            Self::RateLimited(_) => RejectReason::RateLimited,
        }
    }

    /// The authenticated member this rejection is charged to: set only for reasons found after the
    /// signature verified, so that no one can be blamed by a forger.
    pub const fn authenticated_sender(&self) -> Option<MemberIndex> {
        match self {
            Self::WrongGroup { sender, .. }
            | Self::Stale { sender, .. }
            | Self::FromFuture { sender, .. }
            | Self::StaleEpoch(sender)
            | Self::Replayed(sender)
            | Self::RateLimited(sender) => Some(*sender),
            Self::Decode(_) | Self::UnknownSender(_) | Self::OwnIndex | Self::BadSignature(_) => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "undecodable frame: {e}"),
            Self::UnknownSender(m) => write!(f, "{m} is not in the group"),
            Self::OwnIndex => f.write_str("frame claims to come from this node"),
            Self::BadSignature(m) => write!(f, "signature of {m} does not verify"),
            Self::WrongGroup { sender, group_id } => write!(f, "{sender} sent a frame for group {group_id}"),
            Self::Stale { sender, age_ms } => write!(f, "frame from {sender} is {age_ms} ms old"),
            Self::FromFuture { sender, ahead_ms } => write!(f, "frame from {sender} is {ahead_ms} ms ahead"),
            Self::StaleEpoch(m) => write!(f, "{m} used an old boot epoch"),
            Self::Replayed(m) => write!(f, "replayed frame from {m}"),
            Self::RateLimited(m) => write!(f, "{m} exceeded its rate"),
        }
    }
}

impl core::error::Error for Rejection {}

/// Counts of accepted and rejected frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectionCounters {
    accepted: u64,
    set_aside: u64,
    by_reason: [u64; RejectReason::ALL.len()],
    by_member: [u64; MAX_MEMBERS],
}

impl RejectionCounters {
    /// Frames accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Frames the receiver ignored before checking their signature ([`Gate::set_aside`]).
    pub fn set_aside(&self) -> u64 {
        self.set_aside
    }

    /// Frames rejected for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.by_reason.get(reason as usize).copied().unwrap_or(0)
    }

    /// Frames rejected for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.by_reason.iter().sum()
    }

    /// Frames from `member` rejected after their signature verified.
    pub fn rejected_from(&self, member: MemberIndex) -> u64 {
        self.by_member.get(member.get()).copied().unwrap_or(0)
    }

    fn count(&mut self, rejection: &Rejection) {
        if let Some(n) = self.by_reason.get_mut(rejection.reason() as usize) {
            *n = n.saturating_add(1);
        }
        if let Some(n) = rejection.authenticated_sender().and_then(|m| self.by_member.get_mut(m.get())) {
            *n = n.saturating_add(1);
        }
    }
}

/// What the gate keeps per member, created only once a frame from it has verified.
#[derive(Debug, Clone, Default)]
struct PeerState {
    replay: Option<ReplayWindow>,
    bucket: Option<TokenBucket>,
}

/// The receive pipeline of one node.
#[derive(Debug, Clone)]
pub struct Gate {
    group_id: GroupId,
    me: MemberIndex,
    identities: Vec<PreparedIdentityKey>,
    limits: Limits,
    peers: Vec<PeerState>,
    counters: RejectionCounters,
}

impl Gate {
    /// The gate of member `me` of `group`.
    pub fn new(group: &Group, me: MemberIndex) -> Self {
        Self {
            group_id: group.id(),
            me,
            identities: group.identities().to_vec(),
            limits: *group.limits(),
            peers: alloc::vec![PeerState::default(); group.size()],
            counters: RejectionCounters::default(),
        }
    }

    /// Runs `frame` through the pipeline at monotonic time `now` and wall-clock time `wall`:
    /// [`Self::decode`], then [`Self::admit`].
    pub fn open(&mut self, now: Instant, wall: UnixMs, frame: &[u8]) -> Result<Envelope, Rejection> {
        let unverified = self.decode(frame)?;
        self.admit(now, wall, unverified)
    }

    /// Steps 1-2 (size, decode): the frame's claimed header and body, not yet authenticated. A receiver
    /// that would ignore the claimed body hands the frame to [`Self::set_aside`] instead of paying for
    /// its signature check in [`Self::admit`]; ignoring a forged frame is as harmless as ignoring a
    /// genuine one.
    pub fn decode<'a>(&mut self, frame: &'a [u8]) -> Result<UnverifiedFrame<'a>, Rejection> {
        let max_len = usize::try_from(self.limits.max_message_bytes).unwrap_or(usize::MAX);
        UnverifiedFrame::decode(frame, max_len).map_err(|e| self.reject(Rejection::Decode(e)))
    }

    /// Steps 3-9 on a decoded frame: membership, signature, group, freshness, replay, rate.
    pub fn admit(
        &mut self,
        now: Instant,
        wall: UnixMs,
        frame: UnverifiedFrame<'_>,
    ) -> Result<Envelope, Rejection> {
        match self.check(now, wall, frame) {
            Ok(envelope) => {
                self.counters.accepted = self.counters.accepted.saturating_add(1);
                Ok(envelope)
            }
            Err(rejection) => Err(self.reject(rejection)),
        }
    }

    /// Counts a decoded frame the receiver ignores without checking it (see [`Self::decode`]).
    pub fn set_aside(&mut self) {
        self.counters.set_aside = self.counters.set_aside.saturating_add(1);
    }

    fn reject(&mut self, rejection: Rejection) -> Rejection {
        self.counters.count(&rejection);
        rejection
    }

    /// The counters so far.
    pub fn counters(&self) -> &RejectionCounters {
        &self.counters
    }

    /// Whether any per-sender state exists for `member` (for tests and diagnostics).
    pub fn has_state_for(&self, member: MemberIndex) -> bool {
        self.peers.get(member.get()).is_some_and(|p| p.replay.is_some() || p.bucket.is_some())
    }

    fn check(
        &mut self,
        now: Instant,
        wall: UnixMs,
        unverified: UnverifiedFrame<'_>,
    ) -> Result<Envelope, Rejection> {
        let header = unverified.header;
        let sender = header.sender;
        // 3. membership.
        if sender == self.me {
            return Err(Rejection::OwnIndex);
        }
        let key = self.identities.get(sender.get()).ok_or(Rejection::UnknownSender(sender))?;
        // 4. signature.
        key.verify(&unverified.digest(), &unverified.signature)
            .map_err(|_| Rejection::BadSignature(sender))?;
        // 5. group.
        if header.group_id != self.group_id {
            return Err(Rejection::WrongGroup { sender, group_id: header.group_id });
        }
        // 6. freshness.
        let skew = wall.signed_diff(header.sent_at);
        if skew > i128::from(self.limits.freshness_past_ms) {
            return Err(Rejection::Stale { sender, age_ms: u64::try_from(skew).unwrap_or(u64::MAX) });
        }
        if -skew > i128::from(self.limits.freshness_future_ms) {
            return Err(Rejection::FromFuture { sender, ahead_ms: u64::try_from(-skew).unwrap_or(u64::MAX) });
        }
        // 7. replay (checked now, recorded only once the frame is accepted).
        let peer = self.peers.get_mut(sender.get()).ok_or(Rejection::UnknownSender(sender))?;
        if let Some(window) = &peer.replay {
            window.check(header.boot_epoch, header.seq).map_err(|verdict| match verdict {
                ReplayVerdict::StaleEpoch => Rejection::StaleEpoch(sender),
                ReplayVerdict::Replayed => Rejection::Replayed(sender),
            })?;
        }
        // 8. rate.
        let Limits { rate_per_second, rate_burst, .. } = self.limits;
        let bucket = peer.bucket.get_or_insert_with(|| TokenBucket::full(now, rate_burst));
        if !bucket.try_take(now, rate_per_second, rate_burst) {
            return Err(Rejection::RateLimited(sender));
        }
        match &mut peer.replay {
            Some(window) => window.commit(header.boot_epoch, header.seq),
            None => peer.replay = Some(ReplayWindow::new(header.boot_epoch, header.seq)),
        }
        // 9. dispatch.
        Ok(Envelope { header, body: unverified.body })
    }
}
