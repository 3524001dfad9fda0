//! The drive loop: one agenda of future happenings, real nodes, and an invariant check after every step.
//!
//! A step is one delivered frame, one fired timer, one durable batch, one chain notification, one DAA
//! tick, a crash or a restart. The loop takes whichever is due first (agenda items before node timers
//! at equal times, nodes in index order), so a run is a pure function of its seed.
//!
//! The run has two phases, as in TigerBeetle's VOPR: a **safety phase** with every fault of the swarm
//! (drops, duplicates, delays, crashes), then, from `safety_end_ms`, a **liveness phase** in which the
//! network is healed and every node is up; every event must then be paid and confirmed at every node
//! within [`LIVENESS_BOUND_MS`].

use igra_proto::envelope::UnverifiedFrame;
use igra_proto::event::Event;
use igra_proto::kaspa::tx::Transaction;
use igra_proto::node::{
    BatchId, ChainEvent, ChainRequest, Destination, EventUpdate, Input, Node, Output, Phase,
};
use std::collections::{BTreeMap, BTreeSet};

use igra_proto::template::Utxo;
use igra_proto::wire::MAX_MESSAGE_BYTES;
use igra_proto::{Instant, TransactionId, UnixMs};

use crate::fixture::{Fixture, WALL_AT_ZERO, member_signer};
use crate::invariants::{Broken, Invariants};
use crate::ledger::{Accepted, Change, Ledger, Rejection};
use crate::network::{Agenda, Network};
use crate::report::{EventReport, Report, Violation};
use crate::rng::Rng;
use crate::storage::Storage;
use crate::swarm::Swarm;

/// How often relayers resubmit unpaid events in the liveness phase.
const RELAYER_RETRY_MS: u64 = 60_000;
/// How many times they do within the liveness bound.
const RELAYER_RETRIES: u64 = LIVENESS_BOUND_MS / RELAYER_RETRY_MS - 1;

/// Simulated time for a conflicting spend to reach the nodes' finality depth.
const FINALITY_MS: u64 =
    igra_proto::node::ChainRules::DEFAULT_FINALITY_DEPTH * 1000 / crate::ledger::DAA_PER_SECOND;

/// How long the liveness phase may take to pay and confirm every event (L1's bound): five minutes of
/// voting and signing, plus three template deaths, each of which waits for the conflicting spend to be
/// final before the event may be signed again (a wait no protocol can skip without risking a second
/// payment after a reorg).
pub const LIVENESS_BOUND_MS: u64 = 300_000 + 3 * FINALITY_MS;
/// How often the chain reports a new virtual DAA score to every node.
const DAA_TICK_MS: u64 = 1_000;
/// Latest a source reports an event to a node after its first report to any.
const EVENT_JITTER_MS: u64 = 2_000;
/// How long a node's chain adapter waits before reporting a submission the ledger cannot place (an
/// input it does not know, e.g. the change of an orphaned transaction) as dropped: its retry interval.
const ADAPTER_RETRY_MS: u64 = 1_000;

/// Something due at a simulated time.
#[derive(Debug)]
enum Item {
    Deliver { from: usize, to: usize, frame: Vec<u8> },
    Durable { node: usize, boot: u64, batch: BatchId },
    NewEvent { node: usize, event: usize },
    Utxos { node: usize, boot: u64, utxos: Vec<Utxo>, daa_score: u64 },
    Chain { node: usize, boot: u64, event: ChainEvent },
    DaaTick,
    Crash { node: usize, down_ms: u64 },
    Restart { node: usize },
    Heal,
    Forge { event: usize },
    Reorg { depth: u64, requeue: bool },
    Theft { event: usize, attempts_left: u32 },
    Attack { event: usize },
}

/// When the Byzantine members attack an event, after it is first reported.
const ATTACK_WAVES_MS: [u64; 4] = [0, 2_000, 8_000, 30_000];

/// One member: its node (none while crashed), its storage and its frames waiting for a batch.
struct Member {
    node: Option<Node>,
    storage: Storage,
    held: Vec<(BatchId, Destination, Vec<u8>)>,
    /// The node's boot epoch; items addressed to an earlier boot are lost with it.
    boot: u64,
    skew_ms: i64,
    seed: [u8; 32],
    /// When the last chain news to this node is due: chain news arrives in order, as from one client.
    news_at_ms: u64,
    /// A crash waiting for the node to start writing a batch (to tear it).
    armed_crash: Option<u64>,
}

/// One seeded run.
pub struct Simulation {
    seed: u64,
    swarm: Swarm,
    pub(crate) fixture: Fixture,
    members: Vec<Member>,
    agenda: Agenda<Item>,
    network: Network,
    rng: Rng,
    pub(crate) ledger: Ledger,
    invariants: Invariants,
    now_ms: u64,
    step: u64,
    healed: bool,
    broken: Option<Broken>,
    hasher: blake3::Hasher,
    trace: Option<Vec<String>>,
    forgers: bool,
    frames_sent: u64,
    bytes_sent: u64,
    frames_delivered: u64,
    crashes: u64,
    rejected: u64,
    torn_records: u64,
    diverging_views: u64,
    /// Frames and bytes honest nodes sent, by message kind (one count per receiver).
    by_kind: BTreeMap<String, (u64, u64)>,
    /// Misbehaviour and gate rejections counted by honest nodes that crashed since (their counters
    /// restart with them).
    counted_before_crashes: (BTreeMap<&'static str, u64>, u64),
    /// The Byzantine members within the bound (none unless the swarm plants them).
    coalition: crate::byzantine::within_bound::Coalition,
    /// Who submitted each transaction (the nodes whose adapters hear that it was dropped or refused).
    submitters: BTreeMap<TransactionId, BTreeSet<usize>>,
}

impl Simulation {
    /// The run of `seed`, with the swarm the seed chooses.
    pub fn new(seed: u64) -> Self {
        Self::with_swarm(seed, Swarm::from_seed(seed))
    }

    /// A run of `seed` with a given swarm (tests pin parts of it).
    ///
    /// # Panics
    /// If a fixture node cannot be created (a bug in the fixture).
    pub fn with_swarm(seed: u64, swarm: Swarm) -> Self {
        let mut rng = Rng::new(seed).fork();
        let fixture = Fixture::new(&swarm);
        let members = (0..swarm.n)
            .map(|i| {
                let mut node_seed = [0u8; 32];
                node_seed[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
                node_seed[8] = i;
                let config = fixture.configs[usize::from(i)].clone();
                let node = Node::new(config, Box::new(member_signer(i)), node_seed, 1, Instant(0))
                    .expect("fixture configurations are valid");
                Member {
                    node: Some(node),
                    storage: Storage::default(),
                    held: Vec::new(),
                    boot: 1,
                    skew_ms: swarm.clock_skew_ms[usize::from(i)],
                    seed: node_seed,
                    news_at_ms: 0,
                    armed_crash: None,
                }
            })
            .collect();
        let ledger = Ledger::with_mempool(fixture.script.clone(), &fixture.pool, swarm.mempool, rng.fork());
        Self {
            network: Network::new(swarm.network, rng.fork()),
            seed,
            fixture,
            members,
            agenda: Agenda::default(),
            rng,
            ledger,
            invariants: Invariants::default(),
            now_ms: 0,
            step: 0,
            healed: false,
            broken: None,
            hasher: blake3::Hasher::new(),
            trace: None,
            forgers: false,
            frames_sent: 0,
            bytes_sent: 0,
            frames_delivered: 0,
            crashes: 0,
            rejected: 0,
            torn_records: 0,
            diverging_views: 0,
            submitters: BTreeMap::new(),
            coalition: crate::byzantine::within_bound::Coalition::default(),
            by_kind: BTreeMap::new(),
            counted_before_crashes: (BTreeMap::new(), 0),
            swarm,
        }
        .with_byzantine_members()
    }

    /// Replaces the swarm's Byzantine members' nodes by the coalition's attacks.
    fn with_byzantine_members(mut self) -> Self {
        for b in self.swarm.byzantine.clone() {
            if let Some(member) = self.members.get_mut(b) {
                member.node = None;
            }
        }
        self.coalition = crate::byzantine::within_bound::Coalition::new(&self, &self.swarm.byzantine.clone());
        self
    }

    fn is_honest(&self, node: usize) -> bool {
        !self.swarm.byzantine.contains(&node)
    }

    fn honest(&self) -> Vec<usize> {
        (0..self.members.len()).filter(|i| self.is_honest(*i)).collect()
    }

    /// The highest round an honest node is in for `id` (the round attacks aim at).
    pub(crate) fn honest_round(&self, id: igra_proto::EventId) -> u32 {
        self.members.iter().filter_map(|m| m.node.as_ref()?.status(&id)).map(|s| s.round).max().unwrap_or(0)
    }

    /// A certificate an honest node holds for `id`, if any.
    pub(crate) fn honest_lock(&self, id: igra_proto::EventId) -> Option<igra_proto::QuorumCertificate> {
        self.members.iter().find_map(|m| m.node.as_ref()?.status(&id)?.lock)
    }

    /// Keeps a human-readable line for every delivered frame and every notification.
    #[must_use]
    pub fn traced(mut self) -> Self {
        self.trace = Some(Vec::new());
        self
    }

    /// The canary: members `0..m` form a Byzantine coalition (beyond the bound `2m > n + b`) that forges
    /// a second certified, fully signed template for every event. The run must report S2 or S5.
    #[must_use]
    pub fn with_forgers(mut self) -> Self {
        self.forgers = true;
        self
    }

    /// What the seed chose.
    pub fn swarm(&self) -> &Swarm {
        &self.swarm
    }

    /// Runs the safety phase, then the liveness phase; stops at the first broken invariant.
    pub fn run(self) -> Report {
        self.run_with_trace().0
    }

    /// [`Self::run`], also returning the trace lines (empty unless [`Self::traced`]).
    pub fn run_with_trace(mut self) -> (Report, Vec<String>) {
        self.schedule_swarm();
        let deadline = self.swarm.safety_end_ms + LIVENESS_BOUND_MS;
        let mut violation = None;
        loop {
            let timer = self.next_timer();
            let item_due = self.agenda.next_due();
            let fire_timer = match (timer, item_due) {
                (Some((t, _)), Some(i)) => t < i,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let due = if fire_timer { timer.map(|(t, _)| t) } else { item_due };
            let Some(due) = due else { break };
            if due > deadline {
                violation = Some(self.liveness_failure());
                break;
            }
            self.now_ms = self.now_ms.max(due);
            let changes = self.ledger.advance_to(self.now_ms);
            self.apply(changes);
            self.step += 1;
            if fire_timer {
                if let Some((_, node)) = timer {
                    self.record(&format!("timer n{node}"), &[]);
                    self.input(node, Input::Timer);
                }
            } else if let Some((_, item)) = self.agenda.pop() {
                self.execute(item);
            }
            if let Some((invariant, detail)) = self.broken.take() {
                violation = Some(Violation { invariant, step: self.step, detail });
                break;
            }
            if self.healed && self.all_done() {
                break;
            }
        }
        let trace = self.trace.take().unwrap_or_default();
        (self.report(violation), trace)
    }

    fn schedule_swarm(&mut self) {
        for (event, plan) in self.swarm.events.clone().iter().enumerate() {
            for node in 0..self.members.len() {
                let at = plan.submit_at_ms + self.rng.range(0, EVENT_JITTER_MS);
                self.agenda.schedule(at, Item::NewEvent { node, event });
            }
            if self.forgers {
                self.agenda.schedule(plan.submit_at_ms, Item::Forge { event });
            }
            if !self.swarm.byzantine.is_empty() {
                for wave in ATTACK_WAVES_MS {
                    self.agenda.schedule(plan.submit_at_ms + wave, Item::Attack { event });
                }
            }
        }
        for crash in self.swarm.crashes.clone() {
            self.agenda.schedule(crash.at_ms, Item::Crash { node: crash.node, down_ms: crash.down_ms });
        }
        for reorg in self.swarm.reorgs.clone() {
            self.agenda.schedule(reorg.at_ms, Item::Reorg { depth: reorg.depth, requeue: reorg.requeue });
        }
        self.agenda.schedule(DAA_TICK_MS, Item::DaaTick);
        self.agenda.schedule(self.swarm.safety_end_ms, Item::Heal);
        // The relayers' retries: in the liveness phase every event is resubmitted to every node once a
        // minute (a node revives an event it abandoned; a known event is a no-op), as a bridge's relayer
        // would until the withdrawal is paid.
        for retry in 1..=RELAYER_RETRIES {
            let at = self.swarm.safety_end_ms + retry * RELAYER_RETRY_MS;
            for event in 0..self.swarm.events.len() {
                for node in 0..self.members.len() {
                    self.agenda.schedule(at, Item::NewEvent { node, event });
                }
            }
        }
    }

    fn next_timer(&self) -> Option<(u64, usize)> {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.node.as_ref().and_then(Node::poll_timeout).map(|(t, _)| (t.0, i)))
            .min()
    }

    fn execute(&mut self, item: Item) {
        match item {
            Item::Deliver { from, to, frame } => {
                if self.members[to].node.is_none() {
                    return;
                }
                if self.frames_delivered.is_multiple_of(16)
                    && self.is_honest(from)
                    && !self.swarm.byzantine.is_empty()
                {
                    self.coalition.overhear(from, &frame);
                }
                self.frames_delivered += 1;
                let line = format!("deliver {} n{from}->n{to} {}B", frame_kind(&frame), frame.len());
                self.record(&line, &frame);
                self.input(to, Input::Frame(frame));
            }
            Item::Durable { node, boot, batch } => {
                if self.members[node].boot != boot || !self.members[node].storage.acknowledge(batch) {
                    return;
                }
                self.record(&format!("durable n{node} batch {}", batch.0), &[]);
                let held = std::mem::take(&mut self.members[node].held);
                let (ready, waiting): (Vec<_>, Vec<_>) = held.into_iter().partition(|(b, _, _)| *b == batch);
                self.members[node].held = waiting;
                for (_, to, frame) in ready {
                    self.send(node, to, &frame);
                }
                self.input(node, Input::Persisted { batch });
            }
            Item::NewEvent { node, event } => {
                self.record(&format!("event {event} reported to n{node}"), &[]);
                let event = self.fixture.events[event].clone();
                self.input(node, Input::NewEvent(event));
            }
            Item::Utxos { node, boot, utxos, daa_score } => {
                if self.members[node].boot == boot {
                    self.record(&format!("utxos n{node}: {} outputs at {daa_score}", utxos.len()), &[]);
                    self.input(node, Input::Utxos { utxos, virtual_daa_score: daa_score });
                }
            }
            Item::Chain { node, boot, event } => {
                if self.members[node].boot == boot {
                    self.record(&format!("chain n{node}: {event:?}"), &[]);
                    self.input(node, Input::Chain(event));
                }
            }
            Item::DaaTick => {
                let score = self.ledger.daa_score();
                self.record(&format!("daa {score}"), &[]);
                for node in 0..self.members.len() {
                    self.input(node, Input::Chain(ChainEvent::DaaScore(score)));
                }
                self.agenda.schedule(self.now_ms + DAA_TICK_MS, Item::DaaTick);
            }
            // A crash that is to tear a batch waits for the node to be writing one.
            Item::Crash { node, down_ms } => {
                if self.members[node].storage.writing_len().is_none()
                    && self.rng.chance(self.swarm.torn_write_permille)
                {
                    self.members[node].armed_crash = Some(down_ms);
                } else {
                    self.crash(node, down_ms);
                }
            }
            Item::Restart { node } => self.restart(node),
            Item::Heal => {
                self.record("heal: no more faults, every node up", &[]);
                self.healed = true;
                self.network.set_profile(self.swarm.healed_network());
                for node in 0..self.members.len() {
                    self.restart(node);
                }
            }
            Item::Forge { event } => {
                let forgery = crate::byzantine::forge(self, event);
                // Forged frames arrive first, before any real frame of the same members.
                for (from, to, frame) in forgery.frames {
                    self.agenda.schedule(self.now_ms, Item::Deliver { from, to, frame });
                }
                if let Some(theft) = forgery.theft {
                    self.record("coalition submits a theft", &[]);
                    self.submit(0, &theft);
                }
                self.agenda.schedule(self.now_ms + 2_000, Item::Theft { event, attempts_left: 20 });
            }
            // The coalition retries its theft (a mempool may evict it, or an honest payment may win the
            // race for its inputs) until the run catches it.
            Item::Theft { event, attempts_left } => self.retry_theft(event, attempts_left),
            Item::Attack { event } => self.attack(event),
            Item::Reorg { depth, requeue } => self.reorg(depth, requeue),
        }
    }

    /// The canary coalition retries its theft (a mempool may evict it, or an honest payment may win the
    /// race for its inputs) until the run catches it.
    fn retry_theft(&mut self, event: usize, attempts_left: u32) {
        if let Some(theft) = crate::byzantine::steal(self, event) {
            self.record("coalition submits a theft again", &[]);
            self.submit(0, &theft);
        }
        if attempts_left > 1 {
            let next = Item::Theft { event, attempts_left: attempts_left - 1 };
            self.agenda.schedule(self.now_ms + 2_000, next);
        }
    }

    /// One wave of the within-bound coalition's attacks on `event`.
    fn attack(&mut self, event: usize) {
        let mut coalition = std::mem::take(&mut self.coalition);
        let honest = self.honest();
        let frames = coalition.attack(self, event, &honest);
        self.coalition = coalition;
        self.record(&format!("coalition attacks event {event}: {} frames", frames.len()), &[]);
        for (from, to, frame) in frames {
            self.schedule_frame(from, to, &frame);
        }
    }

    fn reorg(&mut self, depth: u64, requeue: bool) {
        let changes = self.ledger.reorg(depth, requeue);
        if !changes.is_empty() {
            self.record(&format!("reorg {depth} deep, orphans requeued: {requeue}"), &[]);
        }
        // A reorg with nothing to orphan waits for the next acceptance (within the safety phase).
        if changes.is_empty() && self.now_ms + DAA_TICK_MS < self.swarm.safety_end_ms {
            self.agenda.schedule(self.now_ms + DAA_TICK_MS, Item::Reorg { depth, requeue });
        }
        self.apply(changes);
    }

    /// Feeds one input to node `node` (if it is up) and executes everything it asks for.
    fn input(&mut self, node: usize, input: Input) {
        let now = Instant(self.now_ms);
        let wall = self.wall(node);
        let Some(n) = self.members[node].node.as_mut() else { return };
        n.handle(now, wall, input);
        self.drain(node);
        self.check_sign_once(node);
        if self.members[node].storage.writing_len().is_some()
            && let Some(down_ms) = self.members[node].armed_crash.take()
        {
            self.crash(node, down_ms);
        }
    }

    fn drain(&mut self, node: usize) {
        while let Some(output) = self.members[node].node.as_mut().and_then(Node::poll_output) {
            match output {
                Output::Persist { batch, records } => {
                    self.record(
                        &format!("persist n{node} batch {} ({} records)", batch.0, records.len()),
                        &[],
                    );
                    let delay = self.rng.range(0, self.swarm.persist_delay_max_ms);
                    let boot = self.members[node].boot;
                    let at = self.members[node].storage.write(batch, records, self.now_ms, delay);
                    self.agenda.schedule(at, Item::Durable { node, boot, batch });
                }
                // Held until its batch is durable; a batch that already is lets the frame go at once.
                Output::SendAfterPersist { batch, to, frame }
                    if self.members[node].storage.is_pending(batch) =>
                {
                    self.members[node].held.push((batch, to, frame));
                }
                Output::Send { to, frame } | Output::SendAfterPersist { to, frame, .. } => {
                    self.send(node, to, &frame);
                }
                Output::Chain(ChainRequest::FetchUtxos) => {
                    let lag = self.rng.range(0, self.swarm.chain_lag_max_ms);
                    let (utxos, daa_score, boot) =
                        (self.view(), self.ledger.daa_score(), self.members[node].boot);
                    self.agenda.schedule(self.now_ms + lag, Item::Utxos { node, boot, utxos, daa_score });
                }
                Output::Chain(ChainRequest::Submit { event_id, transaction }) => {
                    self.record(&format!("submit n{node} event {event_id}"), &[]);
                    self.submit(node, &transaction);
                }
                Output::Notify(update) => self.notify(node, &update),
            }
        }
    }

    fn send(&mut self, from: usize, to: Destination, frame: &[u8]) {
        let receivers = match to {
            Destination::All => self.members.len().saturating_sub(1),
            Destination::Member(_) => 1,
        };
        let receivers = u64::try_from(receivers).unwrap_or(0);
        let entry = self.by_kind.entry(frame_kind(frame)).or_default();
        entry.0 += receivers;
        entry.1 += receivers * u64::try_from(frame.len()).unwrap_or(0);
        match to {
            Destination::All => {
                for peer in (0..self.members.len()).filter(|p| *p != from) {
                    self.schedule_frame(from, peer, frame);
                }
            }
            Destination::Member(m) => self.schedule_frame(from, usize::from(m.0), frame),
        }
    }

    fn schedule_frame(&mut self, from: usize, to: usize, frame: &[u8]) {
        if to >= self.members.len() {
            return;
        }
        self.frames_sent += 1;
        self.bytes_sent += u64::try_from(frame.len()).unwrap_or(u64::MAX);
        let now = self.now_ms;
        if now < self.swarm.safety_end_ms && self.swarm.partitions.iter().any(|p| p.cuts(from, to, now)) {
            self.network.dropped += 1;
            return;
        }
        // A clogged link holds the frame until it clears.
        let clear_at = self
            .swarm
            .clogs
            .iter()
            .filter(|c| c.from == from && c.to == to && now >= c.from_ms && now < c.until_ms)
            .map(|c| c.until_ms)
            .max()
            .unwrap_or(0);
        for delay in self.network.delays() {
            let at = (now + delay).max(clear_at);
            self.agenda.schedule(at, Item::Deliver { from, to, frame: frame.to_vec() });
        }
    }

    fn submit(&mut self, node: usize, transaction: &Transaction) {
        let id = igra_proto::kaspa::hashing::transaction_id(transaction);
        self.submitters.entry(id).or_default().insert(node);
        match self.ledger.submit(transaction) {
            Ok(None) => {}
            Ok(Some(accepted)) => {
                let accepted = accepted.clone();
                self.announce(&accepted);
            }
            Err(rejection) => self.refused(id, &rejection),
        }
    }

    /// Tells the nodes what changed on the ledger.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Accepted(accepted) => self.announce(&accepted),
                Change::Refused { transaction_id, rejection } => self.refused(transaction_id, &rejection),
                Change::Dropped { transaction_id } => {
                    self.record(&format!("ledger dropped {transaction_id}"), &[]);
                    for node in self.submitters.get(&transaction_id).cloned().unwrap_or_default() {
                        self.news(node, ChainEvent::Dropped { transaction_id }, 0);
                    }
                }
                Change::Orphaned { transaction_id } => {
                    self.record(&format!("ledger orphaned {transaction_id}"), &[]);
                    if let Err(broken) = self.invariants.orphaned(transaction_id) {
                        self.broken.get_or_insert(broken);
                    }
                    for node in 0..self.members.len() {
                        self.news(node, ChainEvent::Unaccepted { transaction_id }, 0);
                    }
                }
            }
        }
    }

    /// Chain news for `node`, after its lag (at least `min_delay_ms`) and after any earlier news.
    fn news(&mut self, node: usize, event: ChainEvent, min_delay_ms: u64) {
        let lag = self.rng.range(0, self.swarm.chain_lag_max_ms);
        let member = &mut self.members[node];
        member.news_at_ms = member.news_at_ms.max(self.now_ms + min_delay_ms + lag);
        let (at, boot) = (member.news_at_ms, member.boot);
        self.agenda.schedule(at, Item::Chain { node, boot, event });
    }

    /// An accepted transaction: checked against S2/S3, then reported to every node with a snapshot.
    fn announce(&mut self, accepted: &Accepted) {
        self.record(&format!("ledger accepted {} at {}", accepted.transaction_id, accepted.daa_score), &[]);
        if let Err(broken) = self.invariants.accepted(accepted, &self.fixture.events, &self.fixture.script) {
            self.broken.get_or_insert(broken);
        }
        for peer in 0..self.members.len() {
            for event in chain_news(&accepted.transaction, accepted.transaction_id, accepted.daa_score) {
                self.news(peer, event, 0);
            }
            let (at, boot) = (self.members[peer].news_at_ms, self.members[peer].boot);
            let (utxos, daa_score) = (self.view(), self.ledger.daa_score());
            self.agenda.schedule(at, Item::Utxos { node: peer, boot, utxos, daa_score });
        }
    }

    /// The ledger refused `id`, now or when its mempool turn came.
    fn refused(&mut self, id: TransactionId, rejection: &Rejection) {
        self.rejected += 1;
        self.record(&format!("ledger refused {id}: {rejection:?}"), &[]);
        let submitters = self.submitters.get(&id).cloned().unwrap_or_default();
        match rejection {
            // A conflicting transaction was accepted first: the submitters' adapters report the spend.
            Rejection::DoubleSpend { outpoint, spent_by, daa_score } => {
                let event = ChainEvent::Spent { outpoint: *outpoint, by: *spent_by, daa_score: *daa_score };
                for node in submitters {
                    self.news(node, event, 0);
                }
            }
            // Not placeable now (an input unknown, e.g. the change of an orphaned transaction, or a full
            // mempool): the adapter reports it dropped after its retry interval, and the node resubmits.
            Rejection::UnknownInput(_) | Rejection::MempoolFull | Rejection::ImmatureCoinbase(_) => {
                for node in submitters {
                    self.news(node, ChainEvent::Dropped { transaction_id: id }, ADAPTER_RETRY_MS);
                }
            }
            Rejection::NotTheGroups(_)
            | Rejection::BadSignatureScript { .. }
            | Rejection::Overspend
            | Rejection::Fee { .. } => {
                let detail =
                    format!("nodes {submitters:?} finalized a transaction the ledger refuses: {rejection:?}");
                self.broken.get_or_insert(("S3", detail));
            }
        }
    }

    fn notify(&mut self, node: usize, update: &EventUpdate) {
        let line = format!("notify n{node}: {update:?}");
        self.record(&line, &[]);
        let result = match update {
            EventUpdate::Signed { event_id, template_hash } => {
                let (event_id, template_hash) = (*event_id, *template_hash);
                let epoch =
                    self.members[node].node.as_ref().and_then(|n| n.status(&event_id)).map_or(0, |s| s.epoch);
                self.invariants.signed(node, event_id, epoch, template_hash)
            }
            EventUpdate::Certified { event_id, vote } => {
                self.invariants.certified(*event_id, vote.epoch, vote.round, vote.template_hash)
            }
            EventUpdate::Confirmed { event_id, transaction_id } => {
                let at = self.ledger.accepted_at(transaction_id);
                self.invariants.confirmed(node, *event_id, *transaction_id, at, self.ledger.daa_score())
            }
            _ => Ok(()),
        };
        if let Err(broken) = result {
            self.broken.get_or_insert(broken);
        }
    }

    /// S1 from the node's own status: what it says it signed must match what it signed before.
    fn check_sign_once(&mut self, node: usize) {
        let Some(n) = self.members[node].node.as_ref() else { return };
        let signed: Vec<_> = self
            .fixture
            .events
            .iter()
            .map(Event::id)
            .filter_map(|id| n.status(&id).and_then(|s| s.signed.map(|h| (id, s.epoch, h))))
            .collect();
        for (id, epoch, hash) in signed {
            if let Err(broken) = self.invariants.signed(node, id, epoch, hash) {
                self.broken.get_or_insert(broken);
            }
        }
    }

    fn crash(&mut self, node: usize, down_ms: u64) {
        let down = self.honest().iter().filter(|i| self.members[**i].node.is_none()).count();
        let tolerated = usize::from(self.swarm.n - self.swarm.m) - self.swarm.byzantine.len();
        if self.healed || self.members[node].node.is_none() || down >= tolerated {
            return;
        }
        self.crashes += 1;
        // The batch being written may be torn: a prefix of its records survives, unacknowledged, so the
        // frames held for it never leave.
        let writing = self.members[node].storage.writing_len();
        let torn = match writing {
            Some(len) if self.rng.chance(self.swarm.torn_write_permille) => {
                Some(self.rng.range(0, len as u64))
            }
            _ => None,
        };
        if let Some(n) = self.members[node].node.as_ref() {
            let (kinds, gate) = counted(n);
            for (kind, count) in kinds {
                *self.counted_before_crashes.0.entry(kind).or_default() += count;
            }
            self.counted_before_crashes.1 += gate;
        }
        let member = &mut self.members[node];
        let lost = member.storage.pending_batches();
        member.node = None;
        let kept = member.storage.crash(torn.and_then(|k| usize::try_from(k).ok()));
        member.held.clear();
        self.torn_records += u64::try_from(kept).unwrap_or(0);
        self.record(
            &format!("crash n{node} ({lost} batches lost, {kept} torn records kept), down {down_ms} ms"),
            &[],
        );
        self.agenda.schedule(self.now_ms + down_ms, Item::Restart { node });
    }

    fn restart(&mut self, node: usize) {
        if self.members[node].node.is_some() || !self.is_honest(node) {
            return;
        }
        let member = &mut self.members[node];
        member.boot += 1;
        let (now, wall) = (Instant(self.now_ms), self.wall(node));
        let member = &mut self.members[node];
        let config = self.fixture.configs[node].clone();
        let signer = Box::new(member_signer(u8::try_from(node).unwrap_or(0)));
        match Node::restore(config, signer, member.seed, member.boot, now, wall, member.storage.durable()) {
            Ok(restored) => member.node = Some(restored),
            Err(e) => {
                self.broken
                    .get_or_insert(("S1", format!("node {node} cannot restore its durable records: {e:?}")));
                return;
            }
        }
        self.record(&format!("restart n{node} boot {}", self.members[node].boot), &[]);
        self.drain(node);
        // What the node's adapters would give it on start: the events its sources report and the chain's
        // news it missed while down.
        let reported: Vec<Event> = self
            .swarm
            .events
            .iter()
            .zip(&self.fixture.events)
            .filter(|(plan, _)| plan.submit_at_ms <= self.now_ms)
            .map(|(_, e)| e.clone())
            .collect();
        for event in reported {
            self.input(node, Input::NewEvent(event));
        }
        let news: Vec<ChainEvent> = self
            .ledger
            .accepted()
            .iter()
            .flat_map(|a| chain_news(&a.transaction, a.transaction_id, a.daa_score))
            .chain([ChainEvent::DaaScore(self.ledger.daa_score())])
            .collect();
        for event in news {
            self.input(node, Input::Chain(event));
        }
    }

    /// A node's wall clock: true time plus its skew plus its drift (ppm of the time elapsed).
    fn wall(&self, node: usize) -> UnixMs {
        let drift_ppm = self.swarm.clock_drift_ppm.get(node).copied().unwrap_or(0);
        let drift_ms = i64::try_from(self.now_ms).unwrap_or(i64::MAX).saturating_mul(drift_ppm) / 1_000_000;
        UnixMs(
            WALL_AT_ZERO
                .0
                .saturating_add(self.now_ms)
                .saturating_add_signed(self.members[node].skew_ms)
                .saturating_add_signed(drift_ms),
        )
    }

    /// A UTXO snapshot as one node's chain client sees it. During the safety phase it may diverge from
    /// the ledger (with the swarm's chance): it misses some outputs, or counts the outputs its own
    /// mempool view has spent as gone. Once faults heal, every view is the ledger's.
    fn view(&mut self) -> Vec<Utxo> {
        let utxos = self.ledger.utxos();
        if self.healed || !self.rng.chance(self.swarm.view_divergence_permille) {
            return utxos;
        }
        self.diverging_views += 1;
        let spent = if self.rng.chance(500) { self.ledger.mempool_spends() } else { BTreeSet::new() };
        let miss = self.rng.range(0, 500);
        utxos.into_iter().filter(|u| !spent.contains(&u.outpoint) && !self.rng.chance(miss)).collect()
    }

    /// Node `node`'s wall clock now (with its skew).
    pub(crate) fn wall_of(&self, node: usize) -> UnixMs {
        self.wall(node)
    }

    fn all_done(&self) -> bool {
        self.fixture.events.iter().all(|e| {
            let id = e.id();
            self.invariants.payout(&id).is_some()
                && self.members.iter().enumerate().filter(|(i, _)| self.is_honest(*i)).all(|(_, m)| {
                    m.node
                        .as_ref()
                        .and_then(|n| n.status(&id))
                        .is_some_and(|s| matches!(s.phase, Phase::Confirmed { .. }))
                })
        })
    }

    fn liveness_failure(&self) -> Violation {
        let stuck: Vec<String> = self
            .fixture
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let id = e.id();
                let phases: Vec<String> = self
                    .members
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| self.is_honest(*i))
                    .map(|(_, m)| match m.node.as_ref().and_then(|n| n.status(&id)) {
                        Some(s) => format!("{:?}/e{}r{}", s.phase, s.epoch, s.round),
                        None => "unknown".into(),
                    })
                    .collect();
                let done = self.invariants.payout(&id).is_some()
                    && phases.iter().all(|p| p.starts_with("Confirmed"));
                (!done).then(|| format!("event {i}: [{}]", phases.join(", ")))
            })
            .collect();
        Violation {
            invariant: "L1",
            step: self.step,
            detail: format!(
                "not every event paid and confirmed within {LIVENESS_BOUND_MS} ms of healing: {}",
                stuck.join("; ")
            ),
        }
    }

    /// Mixes one happening into the trace hash (and the readable trace when kept).
    fn record(&mut self, line: &str, bytes: &[u8]) {
        self.hasher.update(&self.now_ms.to_le_bytes());
        self.hasher.update(line.as_bytes());
        self.hasher.update(bytes);
        if let Some(trace) = self.trace.as_mut() {
            trace.push(format!("[{:>8} ms #{}] {line}", self.now_ms, self.step));
        }
    }

    fn report(&self, violation: Option<Violation>) -> Report {
        let events = self
            .fixture
            .events
            .iter()
            .map(|e| {
                let id = e.id();
                let statuses: Vec<_> =
                    self.members.iter().filter_map(|m| m.node.as_ref()?.status(&id)).collect();
                EventReport {
                    completed: self.invariants.payout(&id).is_some()
                        && statuses.len() == self.members.len() - self.swarm.byzantine.len()
                        && statuses.iter().all(|s| matches!(s.phase, Phase::Confirmed { .. })),
                    rounds: statuses.iter().map(|s| s.round + 1).max().unwrap_or(0),
                    epoch: statuses.iter().map(|s| s.epoch).max().unwrap_or(0),
                }
            })
            .collect();
        let (mut misbehaviour, mut gate_rejections) = self.counted_before_crashes.clone();
        for n in self.members.iter().filter_map(|m| m.node.as_ref()) {
            let (kinds, gate) = counted(n);
            for (kind, count) in kinds {
                *misbehaviour.entry(kind).or_default() += count;
            }
            gate_rejections += gate;
        }
        Report {
            by_kind: self.by_kind.clone(),
            attacks: self.coalition.sent.clone(),
            misbehaviour,
            gate_rejections,
            byzantine: self.swarm.byzantine.len(),
            seed: self.seed,
            swarm: self.swarm.clone(),
            violation,
            steps: self.step,
            simulated_ms: self.now_ms,
            liveness_from_ms: self.swarm.safety_end_ms,
            events,
            frames_delivered: self.frames_delivered,
            bytes_sent: self.bytes_sent,
            frames_sent: self.frames_sent,
            frames_dropped: self.network.dropped,
            frames_duplicated: self.network.duplicated,
            crashes: self.crashes,
            accepted_transactions: u64::try_from(self.ledger.accepted().len()).unwrap_or(u64::MAX),
            orphaned_transactions: self.ledger.orphaned(),
            torn_records: self.torn_records,
            diverging_views: self.diverging_views,
            rejected_submissions: self.rejected,
            trace_hash: *self.hasher.finalize().as_bytes(),
        }
    }
}

/// What the chain tells a node about an accepted transaction: acceptance, then each spent output.
fn chain_news(tx: &Transaction, transaction_id: TransactionId, daa_score: u64) -> Vec<ChainEvent> {
    core::iter::once(ChainEvent::Accepted { transaction_id, daa_score })
        .chain(tx.inputs.iter().map(|i| ChainEvent::Spent {
            outpoint: i.previous_outpoint,
            by: transaction_id,
            daa_score,
        }))
        .collect()
}

/// A node's misbehaviour counters by kind (non-zero only) and its gate's rejections.
fn counted(node: &Node) -> (Vec<(&'static str, u64)>, u64) {
    let counters = node.misbehaviour();
    let kinds = igra_proto::node::Misbehaviour::ALL
        .iter()
        .map(|k| (k.name(), counters.count(*k)))
        .filter(|(_, c)| *c > 0)
        .collect();
    (kinds, node.gate().counters().rejected_total())
}

fn frame_kind(frame: &[u8]) -> String {
    match UnverifiedFrame::decode(frame, MAX_MESSAGE_BYTES) {
        Ok(f) => format!("{:?}", f.body.kind()),
        Err(_) => "undecodable".into(),
    }
}
