//! Fault-free group runs and the cryptographic floor, for the performance benchmarks.
//!
//! [`Cluster`] drives `n` real [`Node`]s through events one after another with instant, lossless
//! delivery, instant storage and a chain that accepts every submitted transaction at once: what is left
//! is the protocol's own work. A [`Meter`] wraps every call into a node, so a benchmark can time the
//! nodes alone and not this harness.
//!
//! [`Floor`] is the cryptography one node cannot avoid for one event of the same shape, done directly
//! on precomputed inputs: verify the attestation, sign one vote and verify `m - 1` peers' votes (enough
//! for a certificate), sign the two frames it must send (its vote and its signatures) and verify the
//! `2(m - 1)` frames it must hear, compute every input's sighash, sign every input, and verify `m - 1`
//! peers' signature of every input. The protocol's cost over this is its overhead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use igra_proto::envelope::{Sealer, UnverifiedFrame};
use igra_proto::event::{self, AttestationConfig, Event};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, Sompi, UtxoEntry};
use igra_proto::keys::IdentitySignature;
use igra_proto::node::{ChainEvent, ChainRequest, Destination, Input, Node, Output};
use igra_proto::template::{BuildRequest, Template, TemplatePolicy, Utxo, build};
use igra_proto::wire::{Body, MessageKind, PartialSignature};
use igra_proto::{Group, Instant, LocalSigner, MemberIndex, SignedVote, Signer, TransactionId, UnixMs, Vote};

use crate::fixture::{Fixture, WALL_AT_ZERO, member_signer};
use crate::ledger::GENESIS_DAA_SCORE;

/// The amount of every output of the benchmark's pool: 10 KAS.
pub const UNIT: Sompi = 10 * SOMPI_PER_KASPA;
/// How far simulated time moves between two events, in ms.
pub const EVENT_SPACING_MS: u64 = 10;
/// Accepted transaction ids the harness remembers to ignore resubmissions (events are paid one by one,
/// so only the latest can come again).
const RECENT_ACCEPTED: usize = 16;

/// The shape of a benchmark: an `m`-of-`n` group paying events with `inputs`-input templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Group size.
    pub n: u8,
    /// Threshold.
    pub m: u8,
    /// Inputs of every template.
    pub inputs: u16,
}

impl Shape {
    /// The amount an event pays so that its template spends exactly `inputs` outputs of [`UNIT`].
    pub fn amount(&self) -> Sompi {
        u64::from(self.inputs) * UNIT - UNIT / 2
    }

    /// Whether the group is valid (`2m > n`, `1 <= n <= 15`) and the template fits the policy.
    pub fn check(&self) -> Result<(), BenchError> {
        let valid_group =
            (1..=15).contains(&self.n) && self.m <= self.n && 2 * u16::from(self.m) > u16::from(self.n);
        if !valid_group
            || self.inputs == 0
            || usize::from(self.inputs) > igra_proto::wire::MAX_TEMPLATE_INPUTS
        {
            return Err(BenchError::Shape(*self));
        }
        Ok(())
    }

    /// The template policy of the benchmark: the default, except that large templates may use the
    /// mempool's whole compute mass and as many inputs as the shape asks.
    pub fn template_policy(&self) -> TemplatePolicy {
        TemplatePolicy {
            max_compute_mass: igra_proto::kaspa::mass::MAX_STANDARD_COMPUTE_MASS,
            max_inputs: u16::try_from(igra_proto::wire::MAX_TEMPLATE_INPUTS).unwrap_or(u16::MAX),
            max_fee: 100 * SOMPI_PER_KASPA,
            ..TemplatePolicy::default()
        }
    }
}

impl core::str::FromStr for Shape {
    type Err = String;

    /// `NxMxI` (members x threshold x inputs), checked with [`Shape::check`].
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('x').collect();
        let [n, m, i] = parts.as_slice() else {
            return Err(format!("shape {text:?} is not NxMxI (members x threshold x inputs)"));
        };
        let shape = Self {
            n: n.parse().map_err(|e| format!("shape {text:?}: n: {e}"))?,
            m: m.parse().map_err(|e| format!("shape {text:?}: m: {e}"))?,
            inputs: i.parse().map_err(|e| format!("shape {text:?}: inputs: {e}"))?,
        };
        shape.check().map_err(|e| e.to_string())?;
        Ok(shape)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-of-{}, {}-input", self.m, self.n, self.inputs)
    }
}

/// Why a benchmark could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchError {
    /// The shape is not a valid group or template.
    Shape(Shape),
    /// A template of this shape cannot be built (mass or fee over the policy's limits).
    Template(String),
    /// The nodes refuse the configuration (a policy window out of range).
    Config(String),
    /// An event did not reach the chain: the harness or the protocol is broken.
    Stalled {
        /// The event's position in the run.
        event: usize,
    },
    /// The nodes paid an event with a template of another input count than the shape's.
    WrongShape {
        /// Inputs the shape asks for.
        expected: u16,
        /// Inputs the transaction had.
        got: usize,
    },
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape(s) => write!(f, "invalid shape {s} (need 2m > n, n <= 15, 1 to 255 inputs)"),
            Self::Template(e) => write!(f, "no template of this shape: {e}"),
            Self::Config(e) => write!(f, "the nodes refuse the configuration: {e}"),
            Self::Stalled { event } => write!(f, "event {event} was not paid in a fault-free run"),
            Self::WrongShape { expected, got } => {
                write!(f, "paid with a {got}-input transaction, the shape asks for {expected}")
            }
        }
    }
}

impl std::error::Error for BenchError {}

/// Wraps every call into a node.
pub trait Meter {
    /// Runs `f`, a call into node `node`.
    fn measure<R>(&mut self, node: usize, f: impl FnOnce() -> R) -> R;
}

/// A meter that measures nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMeter;

impl Meter for NoMeter {
    fn measure<R>(&mut self, _node: usize, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// Frames and bytes on the wire (one count per receiver), by message kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Traffic {
    /// Per kind: frames and bytes.
    pub by_kind: BTreeMap<MessageKind, (u64, u64)>,
}

impl Traffic {
    /// All frames.
    pub fn frames(&self) -> u64 {
        self.by_kind.values().map(|(f, _)| f).sum()
    }

    /// All bytes.
    pub fn bytes(&self) -> u64 {
        self.by_kind.values().map(|(_, b)| b).sum()
    }
}

/// `n` nodes paying events one after another in a fault-free world.
pub struct Cluster {
    shape: Shape,
    fixture: Fixture,
    nodes: Vec<Node>,
    live: BTreeMap<Outpoint, Utxo>,
    next_funding: u32,
    now_ms: u64,
    daa_score: u64,
    queue: VecDeque<(usize, Input)>,
    held: Vec<(usize, igra_proto::node::BatchId, Destination, Vec<u8>)>,
    /// Transactions the chain accepted, counted; the latest few kept to refuse a resubmission (the
    /// harness holds no per-event state, so that a memory measurement sees only the nodes').
    accepted: usize,
    recent: VecDeque<TransactionId>,
    paid: usize,
    traffic: Traffic,
    events: usize,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("shape", &self.shape)
            .field("paid", &self.paid)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A group of `shape` ready to pay `events` events.
    pub fn new(shape: Shape, events: usize) -> Result<Self, BenchError> {
        Self::with_policy_window(shape, events, None)
    }

    /// [`new`](Self::new), with the nodes' policy window set to `window_ms` if given (the fixture's is a
    /// day; events are [`EVENT_SPACING_MS`] apart, so a shorter window lets commitments expire within a
    /// run). A window the policy refuses is [`BenchError::Config`].
    pub fn with_policy_window(
        shape: Shape,
        events: usize,
        window_ms: Option<u64>,
    ) -> Result<Self, BenchError> {
        shape.check()?;
        let amounts = vec![shape.amount(); events];
        let mut fixture = Fixture::of_group(shape.n, shape.m, &[], &amounts);
        for config in &mut fixture.configs {
            config.template_policy = shape.template_policy();
            config.max_events_in_flight = 1_024;
            if let Some(window_ms) = window_ms {
                config.policy.window_ms = window_ms;
            }
        }
        let nodes = (0..shape.n)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[0] = i;
                Node::new(
                    fixture.configs[usize::from(i)].clone(),
                    Box::new(member_signer(i)),
                    seed,
                    1,
                    Instant(0),
                )
                .map_err(|e| BenchError::Config(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut cluster = Self {
            shape,
            fixture,
            nodes,
            live: BTreeMap::new(),
            next_funding: 0,
            now_ms: 0,
            daa_score: GENESIS_DAA_SCORE,
            queue: VecDeque::new(),
            held: Vec::new(),
            accepted: 0,
            recent: VecDeque::new(),
            paid: 0,
            traffic: Traffic::default(),
            events,
        };
        cluster.refill();
        Ok(cluster)
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Events paid so far.
    pub fn paid(&self) -> usize {
        self.paid
    }

    /// Events this cluster can still pay.
    pub fn remaining(&self) -> usize {
        self.events - self.paid
    }

    /// Traffic so far.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Keeps four templates' worth of mature outputs in the pool.
    fn refill(&mut self) {
        let want = 4 * usize::from(self.shape.inputs);
        while self.live.len() < want {
            let utxo = unit_utxo(&self.fixture.script, 0xb0, self.next_funding);
            self.next_funding += 1;
            self.live.insert(utxo.outpoint, utxo);
        }
    }

    /// Pays the next event: every node hears of it, votes, certifies, signs; the chain accepts the
    /// transaction and then confirms it. Returns when every node has gone quiet.
    pub fn pay_next<M: Meter>(&mut self, meter: &mut M) -> Result<(), BenchError> {
        let index = self.paid;
        let Some(event) = self.fixture.events.get(index).cloned() else {
            return Err(BenchError::Stalled { event: index });
        };
        let before = self.accepted;
        for node in 0..self.nodes.len() {
            self.queue.push_back((node, Input::NewEvent(event.clone())));
        }
        self.drain(meter)?;
        if self.accepted != before + 1 {
            return Err(BenchError::Stalled { event: index });
        }
        // Confirm: the chain moves past the confirmation depth.
        self.daa_score += igra_proto::node::ChainRules::DEFAULT_CONFIRM_DEPTH + 1;
        for node in 0..self.nodes.len() {
            self.queue.push_back((node, Input::Chain(ChainEvent::DaaScore(self.daa_score))));
        }
        self.drain(meter)?;
        self.now_ms += EVENT_SPACING_MS;
        self.fire_timers(meter)?;
        self.paid += 1;
        Ok(())
    }

    fn fire_timers<M: Meter>(&mut self, meter: &mut M) -> Result<(), BenchError> {
        for node in 0..self.nodes.len() {
            if self.nodes[node].poll_timeout().is_some_and(|(at, _)| at.0 <= self.now_ms) {
                self.queue.push_back((node, Input::Timer));
            }
        }
        self.drain(meter)
    }

    fn drain<M: Meter>(&mut self, meter: &mut M) -> Result<(), BenchError> {
        let mut outputs = Vec::new();
        while let Some((node, input)) = self.queue.pop_front() {
            if let Input::Persisted { batch } = &input {
                let (ready, rest) = self.held.drain(..).partition(|(n, b, _, _)| *n == node && b == batch);
                self.held = rest;
                for (_, _, to, frame) in ready {
                    self.send(node, to, &frame);
                }
            }
            let now = Instant(self.now_ms);
            let wall = UnixMs(WALL_AT_ZERO.0 + self.now_ms);
            let target = &mut self.nodes[node];
            meter.measure(node, || {
                target.handle(now, wall, input);
                while let Some(output) = target.poll_output() {
                    outputs.push(output);
                }
            });
            for output in outputs.drain(..) {
                self.route(node, output)?;
            }
        }
        Ok(())
    }

    fn route(&mut self, node: usize, output: Output) -> Result<(), BenchError> {
        match output {
            Output::Persist { batch, .. } => self.queue.push_back((node, Input::Persisted { batch })),
            Output::Send { to, frame } => self.send(node, to, &frame),
            Output::SendAfterPersist { batch, to, frame } => self.held.push((node, batch, to, frame)),
            Output::Chain(ChainRequest::FetchUtxos) => {
                let utxos = self.live.values().cloned().collect();
                self.queue.push_back((node, Input::Utxos { utxos, virtual_daa_score: self.daa_score }));
            }
            Output::Chain(ChainRequest::Submit { transaction, .. }) => {
                let id = igra_proto::kaspa::hashing::transaction_id(&transaction);
                if self.recent.contains(&id) {
                    return Ok(());
                }
                if transaction.inputs.len() != usize::from(self.shape.inputs) {
                    return Err(BenchError::WrongShape {
                        expected: self.shape.inputs,
                        got: transaction.inputs.len(),
                    });
                }
                for input in &transaction.inputs {
                    self.live.remove(&input.previous_outpoint);
                }
                self.refill();
                self.accepted += 1;
                self.recent.push_back(id);
                if self.recent.len() > RECENT_ACCEPTED {
                    self.recent.pop_front();
                }
                self.daa_score += 1;
                for peer in 0..self.nodes.len() {
                    let news = ChainEvent::Accepted { transaction_id: id, daa_score: self.daa_score };
                    self.queue.push_back((peer, Input::Chain(news)));
                }
            }
            Output::Notify(_) => {}
        }
        Ok(())
    }

    fn send(&mut self, from: usize, to: Destination, frame: &[u8]) {
        let kind = igra_proto::envelope::peek_kind(frame);
        let receivers: Vec<usize> = match to {
            Destination::All => (0..self.nodes.len()).filter(|&i| i != from).collect(),
            Destination::Member(m) => vec![m.get()],
        };
        for receiver in receivers {
            if let Some(kind) = kind {
                let entry = self.traffic.by_kind.entry(kind).or_default();
                entry.0 += 1;
                entry.1 += frame.len() as u64;
            }
            self.queue.push_back((receiver, Input::Frame(frame.to_vec())));
        }
    }
}

/// The cryptographic floor of one node for one event of a shape, on precomputed inputs.
pub struct Floor {
    shape: Shape,
    event: Event,
    attestation: AttestationConfig,
    group: Group,
    signer: LocalSigner,
    template: Template,
    own_vote: Vote,
    peer_votes: Vec<SignedVote>,
    peer_frames: Vec<(igra_proto::PreparedIdentityKey, [u8; 32], IdentitySignature)>,
    own_frame_digests: [[u8; 32]; 2],
    peer_signatures: Vec<PartialSignature>,
}

impl fmt::Debug for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Floor").field("shape", &self.shape).finish_non_exhaustive()
    }
}

/// What one [`Floor::run`] did, to check it against the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FloorCount {
    /// Ed25519 signatures made.
    pub identity_signs: usize,
    /// Ed25519 signatures verified.
    pub identity_verifies: usize,
    /// Schnorr signatures made.
    pub schnorr_signs: usize,
    /// Schnorr signatures verified.
    pub schnorr_verifies: usize,
    /// Attestations verified.
    pub attestations: usize,
}

impl Floor {
    /// The floor of member 0 of `shape`.
    pub fn new(shape: Shape) -> Result<Self, BenchError> {
        shape.check()?;
        let fixture = Fixture::of_group(shape.n, shape.m, &[], &[shape.amount()]);
        let event = fixture.events[0].clone();
        let config = &fixture.configs[0];
        let group = fixture.group.clone();
        let pool: Vec<Utxo> =
            (0..u32::from(shape.inputs)).map(|i| unit_utxo(&fixture.script, 0xc0, i)).collect();
        let policy = shape.template_policy();
        let template = build(&BuildRequest {
            event_id: event.id(),
            epoch: 0,
            round: 0,
            payment: &event.payment,
            group_script: &fixture.script,
            policy: &policy,
            utxos: &pool,
            output_keys: None,
            reserved: &BTreeSet::new(),
            virtual_daa_score: GENESIS_DAA_SCORE,
        })
        .map_err(|e| BenchError::Template(e.to_string()))?;
        if template.transaction.inputs.len() != usize::from(shape.inputs) {
            return Err(BenchError::WrongShape {
                expected: shape.inputs,
                got: template.transaction.inputs.len(),
            });
        }
        let own_vote = Vote { event_id: event.id(), epoch: 0, round: 0, template_hash: template.hash() };
        let peers: Vec<u8> = (1..shape.m).collect();
        let sign_err = |e: igra_proto::SignerError| BenchError::Template(e.to_string());
        let peer_votes = peers
            .iter()
            .map(|&p| SignedVote::sign(own_vote, MemberIndex(p), group.id(), &member_signer(p)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sign_err)?;
        let sighashes = template.sighashes();
        let mut peer_signatures = Vec::new();
        for &p in &peers {
            let signed = template
                .sign(&member_signer(p), MemberIndex(p), &[p; 32])
                .map_err(|e| BenchError::Template(e.to_string()))?;
            peer_signatures.extend(signed);
        }
        debug_assert_eq!(sighashes.len(), usize::from(shape.inputs));
        // The frames a node must hear: each peer's vote and its signatures, as sealed by that peer.
        let mut peer_frames = Vec::new();
        for (&p, vote) in peers.iter().zip(&peer_votes) {
            let peer = member_signer(p);
            let mut sealer = Sealer::new(&group, MemberIndex(p), 1);
            let ours: Vec<PartialSignature> =
                peer_signatures.iter().filter(|s| s.signer == MemberIndex(p)).copied().collect();
            for body in [vote_body(vote), signatures_body(&event, &template, ours)] {
                let frame = sealer
                    .seal(&peer, WALL_AT_ZERO, &body)
                    .map_err(|e| BenchError::Template(e.to_string()))?;
                let unverified = UnverifiedFrame::decode(&frame, usize::MAX)
                    .map_err(|e| BenchError::Template(e.to_string()))?;
                // Keys are decompressed once, as the gate does (the group's prepared keys).
                let key = *group.identity(MemberIndex(p)).ok_or(BenchError::Shape(shape))?;
                peer_frames.push((key, unverified.digest(), unverified.signature));
            }
        }
        Ok(Self {
            shape,
            attestation: config.attestation.clone(),
            event,
            group,
            signer: member_signer(0),
            own_frame_digests: [[1; 32], [2; 32]],
            template,
            own_vote,
            peer_votes,
            peer_frames,
            peer_signatures,
        })
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Does the floor's work once. Every check is made; a failure is a bug in [`Self::new`].
    ///
    /// # Panics
    /// If a precomputed signature does not verify.
    pub fn run(&self) -> FloorCount {
        let mut count = FloorCount::default();
        event::verify(&self.event, &self.attestation, self.group.id())
            .expect("the fixture's event is attested");
        count.attestations += 1;
        let own = SignedVote::sign(self.own_vote, MemberIndex(0), self.group.id(), &self.signer)
            .expect("the fixture's signer signs");
        std::hint::black_box(own);
        count.identity_signs += 1;
        for vote in &self.peer_votes {
            vote.verify(&self.group).expect("peer votes verify");
            count.identity_verifies += 1;
        }
        for digest in &self.own_frame_digests {
            std::hint::black_box(self.signer.sign_identity(digest).expect("the fixture's signer signs"));
            count.identity_signs += 1;
        }
        for (key, digest, signature) in &self.peer_frames {
            key.verify(digest, signature).expect("peer frames verify");
            count.identity_verifies += 1;
        }
        let sighashes = self.template.sighashes();
        for sighash in &sighashes {
            std::hint::black_box(
                self.signer.sign_schnorr(sighash, &[7; 32]).expect("the fixture's signer signs"),
            );
            count.schnorr_signs += 1;
        }
        for signature in &self.peer_signatures {
            self.template
                .verify_signature(&self.group, &sighashes, signature)
                .expect("peer signatures verify");
            count.schnorr_verifies += 1;
        }
        count
    }
}

/// A mature output of [`UNIT`] to the group, from funding transaction `tag` of family `family`.
fn unit_utxo(script: &igra_proto::kaspa::script::MultisigScript, family: u8, tag: u32) -> Utxo {
    let mut txid = [family; 32];
    txid[..4].copy_from_slice(&tag.to_le_bytes());
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId(txid), index: 0 },
        entry: UtxoEntry {
            amount: UNIT,
            script_public_key: script.script_public_key(),
            block_daa_score: GENESIS_DAA_SCORE - 5_000,
            is_coinbase: false,
        },
    }
}

fn vote_body(vote: &SignedVote) -> Body {
    Body::Vote(igra_proto::wire::VoteMessage { vote: *vote, lock: None, template: None, event: None })
}

fn signatures_body(event: &Event, template: &Template, signatures: Vec<PartialSignature>) -> Body {
    Body::Signatures(igra_proto::wire::SignatureSetMessage {
        event_id: event.id(),
        epoch: 0,
        template_hash: template.hash(),
        certificate: None,
        signatures: signatures.try_into().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_free_cluster_pays_every_event_with_the_shape_s_template() {
        let shape = Shape { n: 5, m: 3, inputs: 2 };
        let mut cluster = Cluster::new(shape, 4).unwrap();
        while cluster.remaining() > 0 {
            cluster.pay_next(&mut NoMeter).unwrap();
        }
        assert_eq!(cluster.paid(), 4);
        let votes = cluster.traffic().by_kind.get(&MessageKind::Vote).copied().unwrap_or_default();
        // Every node broadcasts one vote per event to its four peers.
        assert_eq!(votes.0, 4 * 5 * 4);
        assert!(cluster.pay_next(&mut NoMeter).is_err(), "no fifth event");
    }

    #[test]
    fn the_floor_counts_the_mandatory_operations_of_its_shape() {
        let count = Floor::new(Shape { n: 5, m: 3, inputs: 10 }).unwrap().run();
        assert_eq!(
            count,
            FloorCount {
                identity_signs: 3,
                identity_verifies: 2 + 4,
                schnorr_signs: 10,
                schnorr_verifies: 20,
                attestations: 1
            }
        );
    }

    #[test]
    fn invalid_shapes_are_refused() {
        assert!(matches!(Cluster::new(Shape { n: 4, m: 2, inputs: 1 }, 1), Err(BenchError::Shape(_))));
        assert!(matches!(Floor::new(Shape { n: 3, m: 2, inputs: 0 }), Err(BenchError::Shape(_))));
    }
}
