//! The coordination core: a sans-IO [`Node`] that turns attested events into exactly one transaction
//! each, with no leader.
//!
//! # Driving a node
//!
//! Every mutation is a call to [`Node::handle`] with the current monotonic time, the wall clock and one
//! [`Input`]; after each call, drain [`Node::poll_output`] until it returns `None` and execute what it
//! says; then ask [`Node::poll_timeout`] when to call again with [`Input::Timer`]. The node does no I/O:
//!
//! * `Output::Persist { batch, records }`: write the records durably, then call
//!   `handle(.., Input::Persisted { batch })`;
//! * `Output::SendAfterPersist { batch, .. }`: send the frame only once `batch` is durable (votes and
//!   signatures: a node must never forget what it told others);
//! * `Output::Send`: send now; `Output::Chain`: ask the chain; `Output::Notify`: tell the embedder.
//!
//! # Phases of an event (protocol brief section 3)
//!
//! 1. **Agree on a template.** In round 0 each node votes the template it builds itself. A vote is
//!    persisted before it is sent. `Q = m` votes for one template in one round form a quorum
//!    certificate (QC). Each later round, a node votes the template of the highest QC it knows (its
//!    lock); without a lock, the template with most valid votes of the previous round (ties: lowest
//!    hash); else its own. Votes carry the voter's lock, so locks spread. Votes for a higher round from
//!    `2m − n` distinct members pull a node into that round.
//! 2. **Collect signatures.** On a QC for round `r`, a node that has not voted in a later round and has
//!    not signed in this epoch persists the lock and its sign-once record, signs every input and sends
//!    the QC with its signatures. Signatures merge as a grow-only set, each verified before it enters.
//!    When every input has `m` signatures any node finalizes and submits the transaction.
//! 3. **End.** No QC within `max_rounds` and no signature released: `Abandoned`. A transaction
//!    accepted `confirm_depth` deep: `Confirmed`. A signed input spent by another transaction
//!    `finality_depth` deep: the event starts over in the next epoch.
//!
//! The normative description is section 13 of `docs/protocol.md`.
//!
//! # The drive loop
//!
//! A single-member group (1-of-1) pays an operator-approved event; a real runtime does the same with
//! sockets, a database and the chain client in place of the vectors here.
//!
//! ```
//! use igra_proto::event::operators::{approve, OperatorAttestation, OperatorConfig};
//! use igra_proto::event::policy::PolicyConfig;
//! use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
//! use igra_proto::kaspa::script::{pay_to_pubkey, MultisigScript};
//! use igra_proto::kaspa::tx::{Outpoint, UtxoEntry};
//! use igra_proto::node::{ChainRequest, ChainRules, Input, Node, NodeConfig, Output, Timing};
//! use igra_proto::wire::BoundedVec;
//! use igra_proto::template::{Payment, TemplatePolicy, Utxo};
//! use igra_proto::{
//!     GroupConfig, Instant, Limits, LocalSigner, Member, MemberIndex, Network, Signer, SigningPublicKey,
//!     TransactionId, UnixMs,
//! };
//!
//! let me = LocalSigner::from_secrets([1; 32], [1; 32])?;
//! let operator = LocalSigner::from_secrets([2; 32], [2; 32])?;
//! let group = GroupConfig {
//!     members: vec![Member { identity: me.identity_public_key(), signing: me.signing_public_key() }],
//!     threshold: 1,
//!     network: Network::Simnet,
//!     policy_version: 1,
//!     limits: Limits::default(),
//! }
//! .validate()?;
//! let config = NodeConfig {
//!     group: group.clone(),
//!     me: MemberIndex(0),
//!     attestation: AttestationConfig {
//!         operators: Some(OperatorConfig { keys: vec![operator.identity_public_key()], threshold: 1 }),
//!         ..AttestationConfig::default()
//!     },
//!     template_policy: TemplatePolicy::default(),
//!     policy: PolicyConfig {
//!         min_amount: 1,
//!         max_amount: 10_000_000_000,
//!         allow: None,
//!         deny: vec![],
//!         window_ms: 86_400_000,
//!         global_cap: None,
//!         source_caps: vec![],
//!         paused: false,
//!     },
//!     timing: Timing::default(),
//!     chain: ChainRules::default(),
//!     max_events_in_flight: 100,
//! };
//! let mut node = Node::new(config, Box::new(me), [7; 32], 1, Instant(0))?;
//!
//! // An operator-approved withdrawal of 1 KAS.
//! let mut event = Event {
//!     source: EventSource { kind: SourceKind::Operators, id: 0 },
//!     external_id: [9; 32],
//!     payment: Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount: 100_000_000 },
//!     attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
//! };
//! let approval = approve(&operator, 0, group.id(), &event.id())?;
//! event.attestation = Attestation::Operators(OperatorAttestation { approvals: vec![approval].try_into()? });
//!
//! // The group's funds, as the chain client would report them.
//! let script = MultisigScript::for_group(&group)?;
//! let utxo = Utxo {
//!     outpoint: Outpoint { transaction_id: TransactionId([3; 32]), index: 0 },
//!     entry: UtxoEntry { amount: 500_000_000, script_public_key: script.script_public_key(), block_daa_score: 0, is_coinbase: false },
//! };
//!
//! let (now, wall) = (Instant(0), UnixMs(1_800_000_000_000));
//! let mut inputs = vec![Input::NewEvent(event)];
//! let mut submitted = Vec::new();
//! while let Some(input) = inputs.pop() {
//!     node.handle(now, wall, input);
//!     // Drain after every mutation.
//!     while let Some(output) = node.poll_output() {
//!         match output {
//!             // Write the records durably, then acknowledge the batch.
//!             Output::Persist { batch, records: _ } => inputs.push(Input::Persisted { batch }),
//!             // Send once the batch is durable (here: at once, storage is instant).
//!             Output::SendAfterPersist { .. } | Output::Send { .. } => {}
//!             Output::Chain(ChainRequest::FetchUtxos) => {
//!                 inputs.push(Input::Utxos { utxos: vec![utxo.clone()], virtual_daa_score: 10_000 });
//!             }
//!             Output::Chain(ChainRequest::Submit { transaction, .. }) => submitted.push(transaction),
//!             Output::Notify(update) => println!("{update:?}"),
//!         }
//!     }
//! }
//! assert_eq!(submitted.len(), 1, "one fully signed transaction, ready for the chain");
//! assert_eq!(submitted[0].outputs[0].value, 100_000_000);
//! // No timer is pending: the event waits for the chain (`Input::Chain`) to confirm it. In general,
//! // call `handle(.., Input::Timer)` at `node.poll_timeout()`.
//! assert_eq!(node.poll_timeout(), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod anti_entropy;
mod chain;
mod event_state;
mod misbehaviour;
mod record;
mod restore;
mod signing;
mod voting;

use event_state::EventState;

pub use chain::{ChainEvent, ChainRules};
pub use misbehaviour::{Misbehaviour, MisbehaviourCounters};
pub use record::{Ending, Record, compact};
pub use restore::RestoreError;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use crate::envelope::{Gate, Sealer};
use crate::event::policy::{Policy, PolicyConfig, PolicyConfigError, PolicyViolation};
use crate::event::{AttestationConfig, AttestationError, Event};
use crate::group::{Group, MemberIndex};
use crate::hash::{Domain, DomainHasher};
use crate::ids::{EventId, TemplateHash, TransactionId};
use crate::kaspa::script::MultisigScript;
use crate::kaspa::tx::{Outpoint, Transaction};
use crate::keys::Signer;
use crate::signature_set::SignatureSet;
use crate::template::{self, TemplatePolicy, Utxo};
use crate::time::{Instant, UnixMs};
use crate::vote::{QuorumCertificate, Vote};
use crate::wire::Body;

/// Timers of the voting rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Round 0's timeout; round `r` waits `round_timeout_ms × (1 + r/2)`, up to the cap.
    pub round_timeout_ms: u64,
    /// The longest a round waits.
    pub round_timeout_cap_ms: u64,
    /// Rounds per epoch before an event without any released signature is abandoned.
    pub max_rounds: u32,
    /// How often a node with unfinished events sends its peers a digest.
    pub anti_entropy_interval_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            round_timeout_ms: 2_000,
            round_timeout_cap_ms: 8_000,
            max_rounds: 16,
            anti_entropy_interval_ms: 1_000,
        }
    }
}

impl Timing {
    /// How long round `round` waits before the next one starts.
    pub fn round_timeout(&self, round: u32) -> u64 {
        let grown = self.round_timeout_ms.saturating_mul(2 + u64::from(round)) / 2;
        grown.min(self.round_timeout_cap_ms.max(self.round_timeout_ms))
    }
}

/// Everything a node needs to know before it starts.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The group.
    pub group: Group,
    /// This node's member index.
    pub me: MemberIndex,
    /// Which event sources the group accepts, and whom it trusts for each.
    pub attestation: AttestationConfig,
    /// The group's template policy.
    pub template_policy: TemplatePolicy,
    /// This signer's policy: amount bounds, destination lists, volume caps, pause.
    pub policy: PolicyConfig,
    /// Round timers.
    pub timing: Timing,
    /// Confirmation and finality depths.
    pub chain: ChainRules,
    /// Events in progress at once; a new event beyond this is refused as busy.
    pub max_events_in_flight: usize,
}

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Every other member.
    All,
    /// One member.
    Member(MemberIndex),
}

/// Identifies a persist batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// What the node asks of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainRequest {
    /// Send a fresh snapshot of the group's UTXOs and the virtual DAA score.
    FetchUtxos,
    /// Submit a fully signed transaction.
    Submit {
        /// The event it pays.
        event_id: EventId,
        /// The transaction.
        transaction: Transaction,
    },
}

/// What happened to an event, for the API, metrics and embedders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventUpdate {
    /// The event passed attestation and entered the protocol.
    Accepted {
        /// The event.
        event_id: EventId,
    },
    /// The event was refused.
    Refused {
        /// The event.
        event_id: EventId,
        /// Why.
        reason: EventRefusal,
    },
    /// This node voted.
    Voted {
        /// The event.
        event_id: EventId,
        /// The vote.
        vote: Vote,
    },
    /// A quorum certificate formed or arrived.
    Certified {
        /// The event.
        event_id: EventId,
        /// The certified vote.
        vote: Vote,
    },
    /// This node released its signatures.
    Signed {
        /// The event.
        event_id: EventId,
        /// The template signed.
        template_hash: TemplateHash,
    },
    /// Every input has `m` signatures; the transaction was handed to the chain.
    Finalized {
        /// The event.
        event_id: EventId,
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// No quorum within the round limit, no signature released.
    Abandoned {
        /// The event.
        event_id: EventId,
    },
    /// An abandoned event is voting again (a resubmission, or peers voting in a later round).
    Revived {
        /// The event.
        event_id: EventId,
        /// The round it resumes in.
        round: u32,
    },
    /// The transaction reached the confirmation depth.
    Confirmed {
        /// The event.
        event_id: EventId,
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// The signed template can never confirm; the event continues in the next epoch.
    Dead {
        /// The event.
        event_id: EventId,
        /// The epoch that ended.
        epoch: u32,
        /// The dead template.
        template_hash: TemplateHash,
    },
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRefusal {
    /// Its attestation does not hold.
    Attestation(AttestationError),
    /// This signer's policy refuses it.
    Policy(PolicyViolation),
    /// Too many events are in flight.
    Busy,
    /// It does not fit in a message.
    TooLarge,
}

impl fmt::Display for EventRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attestation(e) => write!(f, "attestation: {e}"),
            Self::Policy(e) => write!(f, "policy: {e}"),
            Self::Busy => f.write_str("too many events in flight"),
            Self::TooLarge => f.write_str("the event does not fit in a message"),
        }
    }
}

/// Something the node wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these records durably, then report `Input::Persisted { batch }`.
    Persist {
        /// The batch.
        batch: BatchId,
        /// The records.
        records: Vec<Record>,
    },
    /// Send a frame now.
    Send {
        /// To whom.
        to: Destination,
        /// The sealed frame.
        frame: Vec<u8>,
    },
    /// Send a frame once `batch` is durable, not before.
    SendAfterPersist {
        /// The batch that must be durable first.
        batch: BatchId,
        /// To whom.
        to: Destination,
        /// The sealed frame.
        frame: Vec<u8>,
    },
    /// A request to the chain.
    Chain(ChainRequest),
    /// A notification.
    Notify(EventUpdate),
}

/// Something that happened to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A frame from the network.
    Frame(Vec<u8>),
    /// An event submitted through the API.
    NewEvent(Event),
    /// A snapshot of the group's UTXOs at a virtual DAA score.
    Utxos {
        /// The group's unspent outputs.
        utxos: Vec<Utxo>,
        /// The virtual DAA score of the snapshot.
        virtual_daa_score: u64,
    },
    /// News from the chain.
    Chain(ChainEvent),
    /// A persist batch is durable.
    Persisted {
        /// The batch.
        batch: BatchId,
    },
    /// A deadline from [`Node::poll_timeout`] has passed.
    Timer,
}

/// Why the node wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerReason {
    /// An event's voting round ends.
    RoundTimeout,
    /// Time to send peers a digest.
    AntiEntropy,
}

/// The phase an event is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Voting on a template.
    Voting,
    /// Signatures are being collected.
    Signing,
    /// The transaction was handed to the chain.
    Submitted {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// The transaction is confirmed: the event is paid.
    Confirmed {
        /// The transaction.
        transaction_id: TransactionId,
    },
    /// Ended without a quorum and without any released signature.
    Abandoned,
}

/// A read-only view of an event's progress (its audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStatus {
    /// The phase.
    pub phase: Phase,
    /// The epoch.
    pub epoch: u32,
    /// The current round.
    pub round: u32,
    /// This node's votes, by round.
    pub my_votes: Vec<(u32, TemplateHash)>,
    /// The highest certificate known.
    pub lock: Option<QuorumCertificate>,
    /// The template this node signed, if any.
    pub signed: Option<TemplateHash>,
    /// Signatures held per input for the signed (or most advanced) template.
    pub signatures_per_input: Vec<usize>,
    /// Members caught voting twice in one round.
    pub equivocators: Vec<MemberIndex>,
    /// The votes this node holds for the recent rounds of this epoch: (round, voter, template).
    pub votes: Vec<(u32, MemberIndex, TemplateHash)>,
    /// This epoch's finalized transaction, if any.
    pub transaction_id: Option<TransactionId>,
    /// The event is final and its state was released ([`Record::Released`]): only the phase, the epoch
    /// and the transaction are known; round, votes, lock and signatures read as empty.
    pub released: bool,
}

/// The node's UTXO snapshot, with each output's order key computed once for every template built
/// from it (`keys[i]` is `utxos[i]`'s).
struct UtxoView {
    utxos: Vec<Utxo>,
    keys: Vec<[u8; 32]>,
    virtual_daa_score: u64,
}

impl UtxoView {
    /// Drops `outpoint` from the view (the order of a snapshot does not matter to the builder).
    fn remove(&mut self, outpoint: &Outpoint) {
        if let Some(i) = self.utxos.iter().position(|u| u.outpoint == *outpoint) {
            self.utxos.swap_remove(i);
            if i < self.keys.len() {
                self.keys.swap_remove(i);
            }
        }
    }
}

/// The coordination core of one member.
pub struct Node {
    config: NodeConfig,
    script: MultisigScript,
    signer: Box<dyn Signer>,
    seed: [u8; 32],
    boot_epoch: u64,
    aux_counter: u64,
    sealer: Sealer,
    gate: Gate,
    outputs: VecDeque<Output>,
    next_batch: u64,
    utxos: Option<UtxoView>,
    virtual_daa_score: u64,
    accepted: BTreeMap<TransactionId, u64>,
    accepted_order: VecDeque<TransactionId>,
    /// Recently reported spends of group outputs (bounded like `accepted`): a snapshot taken before a
    /// spend but handled after its report must not bring the output back, and a template signed after
    /// the report of a conflicting spend must still see the conflict.
    spent: BTreeMap<Outpoint, (TransactionId, u64)>,
    spent_order: VecDeque<Outpoint>,
    utxos_requested_at: Option<Instant>,
    reservations: BTreeMap<Outpoint, EventId>,
    policy: Policy,
    misbehaviour: MisbehaviourCounters,
    anti_entropy_at: Option<Instant>,
    events: BTreeMap<EventId, EventState>,
    /// Confirmed events whose full state was released (see `Node::release_confirmed`).
    ended: BTreeMap<EventId, event_state::Ended>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("me", &self.config.me)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Why a node could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeError {
    /// `me` is not a member of the group, or the signer's keys are not that member's.
    NotAMember,
    /// The group's keys do not form a standard multisig script.
    Script(crate::kaspa::script::ScriptError),
    /// The signer policy is invalid.
    Policy(PolicyConfigError),
    /// The signer failed.
    Signer(crate::keys::SignerError),
    /// The attestation configuration is invalid.
    Attestation(crate::event::AttestationConfigError),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAMember => f.write_str("the signer is not the configured member"),
            Self::Script(e) => write!(f, "group script: {e}"),
            Self::Policy(e) => write!(f, "policy: {e}"),
            Self::Signer(e) => write!(f, "signer: {e}"),
            Self::Attestation(e) => write!(f, "attestation: {e}"),
        }
    }
}

impl core::error::Error for NodeError {}

impl Node {
    /// A fresh node. `boot_epoch` must exceed every earlier run's; `seed` drives every choice the node
    /// makes on its own (here: the auxiliary randomness of its Schnorr signatures).
    pub fn new(
        config: NodeConfig,
        signer: Box<dyn Signer>,
        seed: [u8; 32],
        boot_epoch: u64,
        now: Instant,
    ) -> Result<Self, NodeError> {
        let member = config.group.member(config.me).ok_or(NodeError::NotAMember)?;
        if member.identity != signer.identity_public_key() || member.signing != signer.signing_public_key() {
            return Err(NodeError::NotAMember);
        }
        let script = MultisigScript::for_group(&config.group).map_err(NodeError::Script)?;
        let policy = Policy::new(config.policy.clone()).map_err(NodeError::Policy)?;
        config.attestation.validate().map_err(NodeError::Attestation)?;
        Ok(Self {
            policy,
            misbehaviour: MisbehaviourCounters::default(),
            anti_entropy_at: Some(now.plus_millis(config.timing.anti_entropy_interval_ms)),
            sealer: Sealer::new(&config.group, config.me, boot_epoch),
            gate: Gate::new(&config.group, config.me),
            script,
            signer,
            seed,
            boot_epoch,
            aux_counter: 0,
            outputs: VecDeque::new(),
            next_batch: 0,
            utxos: None,
            virtual_daa_score: 0,
            accepted: BTreeMap::new(),
            accepted_order: VecDeque::new(),
            spent: BTreeMap::new(),
            spent_order: VecDeque::new(),
            utxos_requested_at: None,
            reservations: BTreeMap::new(),
            events: BTreeMap::new(),
            ended: BTreeMap::new(),
            config,
        })
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The next thing to do, if any. Drain after every [`Self::handle`].
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Self::handle`] with [`Input::Timer`] next, and why.
    pub fn poll_timeout(&self) -> Option<(Instant, TimerReason)> {
        // One pass over the events: the earliest round deadline, and whether any event is unfinished.
        let mut earliest: Option<Instant> = None;
        let mut active = false;
        for e in self.events.values() {
            if let Some(d) = e.deadline {
                earliest = Some(earliest.map_or(d, |t| t.min(d)));
            }
            active = active || !e.is_finished();
        }
        let round = earliest.map(|t| (t, TimerReason::RoundTimeout));
        let digest = self.anti_entropy_at.filter(|_| active).map(|t| (t, TimerReason::AntiEntropy));
        match (round, digest) {
            (Some(r), Some(d)) => Some(if d.0 < r.0 { d } else { r }),
            (r, d) => r.or(d),
        }
    }

    /// The receive pipeline's counters.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// This node's spending policy and its ledger of commitments (read-only: volume in the window,
    /// each event's commitment).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What authenticated peers sent that the protocol refused.
    pub fn misbehaviour(&self) -> &MisbehaviourCounters {
        &self.misbehaviour
    }

    /// An event's progress.
    pub fn status(&self, event_id: &EventId) -> Option<EventStatus> {
        let Some(e) = self.events.get(event_id) else {
            let ended = self.ended.get(event_id)?;
            return Some(EventStatus {
                phase: Phase::Confirmed { transaction_id: ended.transaction_id },
                epoch: ended.epoch,
                round: 0,
                my_votes: Vec::new(),
                lock: None,
                signed: None,
                signatures_per_input: Vec::new(),
                equivocators: Vec::new(),
                votes: Vec::new(),
                transaction_id: Some(ended.transaction_id),
                released: true,
            });
        };
        let best = e.signed.or_else(|| e.sets.keys().next().copied());
        let signatures_per_input = best
            .and_then(|h| e.sets.get(&h))
            .map(|set| {
                (0..set.inputs())
                    .filter_map(|i| u16::try_from(i).ok())
                    .map(|i| set.count_for_input(i))
                    .collect()
            })
            .unwrap_or_default();
        Some(EventStatus {
            phase: e.phase,
            epoch: e.epoch,
            round: e.round,
            my_votes: e.my_votes.iter().map(|(r, h)| (*r, *h)).collect(),
            lock: e.lock.clone(),
            signed: e.signed,
            signatures_per_input,
            equivocators: e.equivocators.iter().copied().collect(),
            votes: e
                .votes
                .iter()
                .flat_map(|(round, by)| by.values().map(move |v| (*round, v.voter, v.vote.template_hash)))
                .collect(),
            transaction_id: e.transaction_id(),
            released: false,
        })
    }

    /// Feeds one input to the node at monotonic time `now` and wall-clock time `wall`.
    pub fn handle(&mut self, now: Instant, wall: UnixMs, input: Input) {
        match input {
            Input::Frame(bytes) => self.on_frame(now, wall, &bytes),
            Input::NewEvent(event) => {
                let id = event.id();
                if let Err(reason) = self.accept_event(now, wall, event) {
                    self.notify(EventUpdate::Refused { event_id: id, reason });
                }
            }
            Input::Utxos { mut utxos, virtual_daa_score } => {
                self.virtual_daa_score = self.virtual_daa_score.max(virtual_daa_score);
                utxos.retain(|u| !self.spent.contains_key(&u.outpoint));
                let keys = template::output_keys(&utxos);
                self.utxos = Some(UtxoView { utxos, keys, virtual_daa_score });
                self.vote_where_waiting(now, wall);
            }
            Input::Chain(event) => self.on_chain(now, wall, event),
            Input::Persisted { .. } => {}
            Input::Timer => {
                self.on_timer(now, wall);
                if self.anti_entropy_at.is_some_and(|t| t <= now) {
                    self.on_anti_entropy(now, wall);
                }
            }
        }
    }
}

impl Node {
    fn on_frame(&mut self, now: Instant, wall: UnixMs, bytes: &[u8]) {
        // Rejections are typed and counted by the gate.
        let Ok(unverified) = self.gate.decode(bytes) else { return };
        if self.ignores(&unverified.body) {
            self.gate.set_aside();
            return;
        }
        let Ok(envelope) = self.gate.admit(now, wall, unverified) else { return };
        let from = envelope.header.sender;
        match envelope.body {
            Body::Vote(message) => self.on_vote(now, wall, from, &message),
            Body::Signatures(message) => self.on_signatures(now, wall, from, &message),
            Body::Certificate(message) => {
                let vote = message.certificate.vote;
                if let Some(bytes) = &message.template
                    && !self.learn_template(now, wall, vote.event_id, vote.template_hash, bytes)
                {
                    self.misbehaviour.record(from, Misbehaviour::InvalidTemplate, 1);
                }
                if !self.on_certificate(now, wall, &message.certificate) {
                    self.misbehaviour.record(from, Misbehaviour::BadCertificate, 1);
                }
            }
            Body::Event(announcement) => {
                let forged = match Event::decode(&announcement.event) {
                    Ok(event) => {
                        matches!(self.accept_event(now, wall, event), Err(EventRefusal::Attestation(_)))
                    }
                    Err(_) => true,
                };
                // A forged attestation is the sender's fault; this node's own policy or load is not.
                if forged {
                    self.misbehaviour.record(from, Misbehaviour::BadEvent, 1);
                }
            }
            Body::Digest(digest) => self.on_digest(wall, from, &digest),
            Body::Request(request) => self.on_request(wall, from, &request),
            Body::Template(message) => self.on_template(now, wall, from, &message),
            // Completion claims are hints this node's own chain view supersedes.
            Body::Completion(_) => {}
        }
    }

    /// Whether this node would ignore `body` whoever sent it, so that its frame need not be verified:
    /// a vote or a signature set for an epoch this node has left, a vote for a round at or below the
    /// certificate this node has signed on (it signs once per epoch, so no such vote can change what it
    /// does), signatures for a template whose signatures it holds enough of or whose transaction
    /// it has already submitted, and anything for an event it released as final.
    fn ignores(&self, body: &Body) -> bool {
        match body {
            Body::Vote(message) => {
                let vote = &message.vote.vote;
                self.ended.contains_key(&vote.event_id)
                    || self.events.get(&vote.event_id).is_some_and(|state| {
                        vote.epoch < state.epoch
                            || (vote.epoch == state.epoch
                                && (matches!(state.phase, Phase::Submitted { .. } | Phase::Confirmed { .. })
                                    || (state.signed.is_some()
                                        && state
                                            .lock
                                            .as_ref()
                                            .is_some_and(|lock| lock.vote.round >= vote.round))))
                    })
            }
            Body::Signatures(message) if self.ended.contains_key(&message.event_id) => true,
            Body::Signatures(message) => self.events.get(&message.event_id).is_some_and(|state| {
                message.epoch < state.epoch
                    || (message.epoch == state.epoch
                        && (matches!(state.phase, Phase::Submitted { .. } | Phase::Confirmed { .. })
                            || state.sets.get(&message.template_hash).is_some_and(SignatureSet::is_complete)))
            }),
            _ => false,
        }
    }

    fn persist(&mut self, records: Vec<Record>) -> BatchId {
        let batch = BatchId(self.next_batch);
        self.next_batch += 1;
        self.outputs.push_back(Output::Persist { batch, records });
        batch
    }

    fn send_after(&mut self, wall: UnixMs, batch: BatchId, to: Destination, body: &Body) {
        if let Ok(frame) = self.sealer.seal(self.signer.as_ref(), wall, body) {
            self.outputs.push_back(Output::SendAfterPersist { batch, to, frame });
        }
    }

    fn notify(&mut self, update: EventUpdate) {
        self.outputs.push_back(Output::Notify(update));
    }

    /// BIP340 auxiliary randomness, derived from the seed, the boot epoch and a counter: reproducible in
    /// simulation, unpredictable to anyone who does not know the seed, never repeated across restarts.
    fn next_aux(&mut self) -> [u8; 32] {
        self.aux_counter += 1;
        DomainHasher::new(Domain::AuxRandomness)
            .update(&self.seed)
            .update(&self.boot_epoch.to_le_bytes())
            .update(&self.aux_counter.to_le_bytes())
            .finalize()
    }
}
