//! The JSON shapes of the API, shared by the server and [`super::client::ApiClient`].
//!
//! Ids and hashes are lowercase hex strings of their 32 bytes.

use std::fmt;
use std::str::FromStr;

use igra_proto::node::{EventStatus, Phase};
use igra_proto::{EventId, TemplateHash, TransactionId};
use serde::{Deserialize, Serialize};

/// The phase of an event as the API names it, and the `state` filter of the event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    /// Voting on a template.
    Voting,
    /// Collecting signatures.
    Signing,
    /// The transaction was handed to the chain.
    Submitted,
    /// The transaction is confirmed.
    Confirmed,
    /// Ended without a quorum.
    Abandoned,
}

impl StateFilter {
    /// Every state.
    pub const ALL: [Self; 5] =
        [Self::Voting, Self::Signing, Self::Submitted, Self::Confirmed, Self::Abandoned];

    /// The state of `phase`.
    pub const fn of(phase: &Phase) -> Self {
        match phase {
            Phase::Voting => Self::Voting,
            Phase::Signing => Self::Signing,
            Phase::Submitted { .. } => Self::Submitted,
            Phase::Confirmed { .. } => Self::Confirmed,
            Phase::Abandoned => Self::Abandoned,
        }
    }

    /// Whether `phase` is in this state.
    pub fn matches(self, phase: &Phase) -> bool {
        Self::of(phase) == self
    }

    /// The state's name in JSON and in the query string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Voting => "voting",
            Self::Signing => "signing",
            Self::Submitted => "submitted",
            Self::Confirmed => "confirmed",
            Self::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for StateFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown state {:?}: expected voting, signing, submitted, confirmed or abandoned", self.0)
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for StateFilter {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Whether the node can do its work, as `GET /v1/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// The database answers.
    pub storage_ok: bool,
    /// Peers with an open session.
    pub peers_connected: usize,
    /// Peers in the group (members other than this one).
    pub peers_total: usize,
    /// Peers needed to make progress: the threshold less this node (`m − 1`).
    pub peers_needed: usize,
    /// The chain client is connected to a node.
    pub chain_connected: bool,
    /// That node is synced.
    pub chain_synced: bool,
}

impl Readiness {
    /// Ready when storage works, the chain node is connected and synced, and at least
    /// [`Self::peers_needed`] peers are connected (so a quorum can form with this node).
    pub fn ready(&self) -> bool {
        self.storage_ok
            && self.chain_connected
            && self.chain_synced
            && self.peers_connected >= self.peers_needed
    }
}

/// The body of `GET /v1/ready`: the readiness and its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyView {
    /// [`Readiness::ready`].
    pub ready: bool,
    /// The details.
    #[serde(flatten)]
    pub readiness: Readiness,
}

/// The body of `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// Always `"ok"`.
    pub status: String,
}

/// The body of `POST /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Hex of the event's canonical encoding (`Event::encode`).
    pub event: String,
}

/// The answer to `POST /v1/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitView {
    /// The event's id.
    #[serde(with = "hex32")]
    pub event_id: EventId,
}

/// One of this node's votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyVoteView {
    /// The round.
    pub round: u32,
    /// The template voted for.
    #[serde(with = "hex32")]
    pub template_hash: TemplateHash,
}

/// A vote this node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteView {
    /// The round.
    pub round: u32,
    /// The voter's member index.
    pub voter: u8,
    /// The template voted for.
    #[serde(with = "hex32")]
    pub template_hash: TemplateHash,
}

/// A summary of the highest quorum certificate known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockView {
    /// The certificate's epoch.
    pub epoch: u32,
    /// The certificate's round.
    pub round: u32,
    /// The certified template.
    #[serde(with = "hex32")]
    pub template_hash: TemplateHash,
    /// The members whose signatures form it, ascending.
    pub voters: Vec<u8>,
}

/// An event's status and audit trail, the body of `GET /v1/events/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// The event.
    #[serde(with = "hex32")]
    pub event_id: EventId,
    /// Its phase.
    pub phase: StateFilter,
    /// The signing epoch.
    pub epoch: u32,
    /// The current round.
    pub round: u32,
    /// This node's votes.
    pub my_votes: Vec<MyVoteView>,
    /// The highest certificate known.
    pub lock: Option<LockView>,
    /// The template this node signed.
    #[serde(with = "hex32::option")]
    pub signed_template: Option<TemplateHash>,
    /// Signatures held per input.
    pub signatures_per_input: Vec<usize>,
    /// Members caught voting twice in one round.
    pub equivocators: Vec<u8>,
    /// The votes held for recent rounds.
    pub votes: Vec<VoteView>,
    /// The transaction paying the event, once finalized.
    #[serde(with = "hex32::option")]
    pub transaction_id: Option<TransactionId>,
    /// The event is final and this node released its state: only phase, epoch and transaction remain.
    pub released: bool,
}

impl EventView {
    /// The view of `status` for `event_id`.
    pub fn new(event_id: EventId, status: &EventStatus) -> Self {
        let phase_tx = match status.phase {
            Phase::Submitted { transaction_id } | Phase::Confirmed { transaction_id } => Some(transaction_id),
            Phase::Voting | Phase::Signing | Phase::Abandoned => None,
        };
        Self {
            event_id,
            phase: StateFilter::of(&status.phase),
            epoch: status.epoch,
            round: status.round,
            my_votes: status
                .my_votes
                .iter()
                .map(|&(round, template_hash)| MyVoteView { round, template_hash })
                .collect(),
            lock: status.lock.as_ref().map(|qc| LockView {
                epoch: qc.vote.epoch,
                round: qc.vote.round,
                template_hash: qc.vote.template_hash,
                voters: qc.signatures.iter().map(|s| s.voter.0).collect(),
            }),
            signed_template: status.signed,
            signatures_per_input: status.signatures_per_input.clone(),
            equivocators: status.equivocators.iter().map(|m| m.0).collect(),
            votes: status
                .votes
                .iter()
                .map(|&(round, voter, template_hash)| VoteView { round, voter: voter.0, template_hash })
                .collect(),
            transaction_id: status.transaction_id.or(phase_tx),
            released: status.released,
        }
    }
}

/// One entry of the event list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    /// The event.
    #[serde(with = "hex32")]
    pub event_id: EventId,
    /// Its phase.
    pub phase: StateFilter,
    /// The signing epoch.
    pub epoch: u32,
    /// The current round.
    pub round: u32,
    /// The transaction paying the event, once finalized.
    #[serde(with = "hex32::option")]
    pub transaction_id: Option<TransactionId>,
}

impl From<EventView> for EventSummary {
    fn from(v: EventView) -> Self {
        Self {
            event_id: v.event_id,
            phase: v.phase,
            epoch: v.epoch,
            round: v.round,
            transaction_id: v.transaction_id,
        }
    }
}

/// A page of `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListView {
    /// Events in ascending id order.
    pub events: Vec<EventSummary>,
    /// The cursor of the next page (pass it as `after`), absent on the last page.
    #[serde(with = "hex32::option")]
    pub next: Option<EventId>,
}

/// Parses 32 bytes of hex (64 characters, either case).
pub fn parse_id32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok().map(|()| out)
}

/// Serde for the 32-byte ids as hex strings.
pub(crate) mod hex32 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// The three id types that travel as hex.
    pub(crate) trait Id32: Sized {
        fn from_bytes(bytes: [u8; 32]) -> Self;
        fn bytes(&self) -> &[u8; 32];
    }

    macro_rules! id32 {
        ($($t:ty),*) => {$(
            impl Id32 for $t {
                fn from_bytes(bytes: [u8; 32]) -> Self {
                    Self(bytes)
                }
                fn bytes(&self) -> &[u8; 32] {
                    &self.0
                }
            }
        )*};
    }
    id32!(igra_proto::EventId, igra_proto::TemplateHash, igra_proto::TransactionId);

    pub(crate) fn serialize<T: Id32, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(id.bytes()))
    }

    pub(crate) fn deserialize<'de, T: Id32, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_id32(&s).map(T::from_bytes).ok_or_else(|| D::Error::custom("expected 32 bytes of hex"))
    }

    pub(crate) mod option {
        use super::Id32;
        use serde::{Deserialize, Deserializer, Serializer};

        #[expect(clippy::ref_option, reason = "the signature serde's `with` calls")]
        pub(crate) fn serialize<T: Id32, S: Serializer>(id: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => super::serialize(id, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, T: Id32, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap<T: Id32>(#[serde(deserialize_with = "super::deserialize")] T);
            Ok(Option::<Wrap<T>>::deserialize(d)?.map(|Wrap(id)| id))
        }
    }
}
