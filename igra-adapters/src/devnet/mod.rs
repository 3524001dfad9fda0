//! `igra devnet`: a whole signer group in one process against an in-process chain, fed a stream of
//! attested events, with live progress and a final summary that checks every event was paid once.
//!
//! The members are real runners around real `Node`s; the chain is igra-sim's ledger model
//! ([`chain::DevChain`]); events carry real operator attestations. Nothing here decides anything
//! about the protocol.

pub mod chain;
mod track;

pub use track::{Progress, Summary, Tracker, mib, rss_kib};

use std::sync::Arc;
use std::time::Duration;

use igra_proto::event::operators::{OperatorAttestation, OperatorConfig, approve};
use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, UtxoEntry};
use igra_proto::node::{ChainRules, Node, NodeConfig};
use igra_proto::template::{Payment, Utxo};
use igra_proto::wire::BoundedVec;
use igra_proto::{
    Group, GroupConfig, Limits, LocalSigner, Member, MemberIndex, Network, Signer, SigningPublicKey,
    TransactionId,
};

use std::net::SocketAddr;

use crate::api::ApiConfig;
use crate::api::client::{ApiClient, ClientError};
use crate::member::{self, MemberSpec, SharedSigner};
use crate::runner::local::{LocalNet, NoStorage};
use crate::runner::{self, Clock, Driver, Runner, RunnerHandle, Runtime, Submission};
use crate::storage::LmdbOptions;
use chain::DevChain;

/// Operators attesting devnet events, and how many must approve one.
const OPERATORS: u8 = 3;
const OPERATOR_THRESHOLD: u8 = 2;
/// How often the chain's DAA score advances and is announced.
const TICK: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// Members of the group.
    pub members: u8,
    /// Signatures needed.
    pub threshold: u8,
    /// Events to submit.
    pub events: u32,
    /// Events submitted per second.
    pub rate: f64,
    /// UTXOs the group starts with.
    pub pool: u32,
    /// Every key and choice derives from this.
    pub seed: u64,
    /// Confirmation depth in DAA score (10 per second on the devnet chain).
    pub confirm_depth: u64,
    /// Depth at which a conflicting spend kills a signed template (the event then continues in its
    /// next epoch). The devnet chain never reorganises, so it can be far below mainnet's.
    pub finality_depth: u64,
    /// Give up waiting for confirmations this long after the last submission.
    pub drain_timeout: Duration,
    /// How the members are wired.
    pub wiring: Wiring,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            members: 5,
            threshold: 3,
            events: 200,
            rate: 50.0,
            pool: 1_000,
            seed: 1,
            confirm_depth: 10,
            finality_depth: 50,
            drain_timeout: Duration::from_mins(1),
            wiring: Wiring::Loopback,
        }
    }
}

/// Why a devnet could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevnetError {
    /// The group parameters are invalid.
    Group(String),
    /// A node could not start.
    Node(String),
    /// A member's runner stopped with an error.
    Runner(String),
    /// A loopback port chosen for a member was taken by another process before the member bound it
    /// (the group start is retried on fresh ports).
    PortTaken(String),
}

impl std::fmt::Display for DevnetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Group(e) => write!(f, "group: {e}"),
            Self::Node(e) => write!(f, "node: {e}"),
            Self::Runner(e) => write!(f, "runner: {e}"),
            Self::PortTaken(e) => write!(f, "port taken: {e}"),
        }
    }
}

impl std::error::Error for DevnetError {}

/// The fixed cast of a devnet: keys, group, node configurations, the funded pool.
pub struct Cast {
    /// The group.
    pub group: Group,
    /// Its redeem script.
    pub script: MultisigScript,
    /// Each member's node configuration.
    pub configs: Vec<NodeConfig>,
    /// The pool the group owns at start.
    pub pool: Vec<Utxo>,
    secrets: Vec<Secrets>,
    operators: Vec<LocalSigner>,
    seed: u64,
}

impl std::fmt::Debug for Cast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cast").field("group", &self.group.id()).finish_non_exhaustive()
    }
}

/// 32 bytes derived from the seed for `purpose` and `index`.
fn derive(seed: u64, purpose: &str, index: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("igra 2026-11 devnet keys v1");
    h.update(&seed.to_le_bytes()).update(purpose.as_bytes()).update(&index.to_le_bytes());
    *h.finalize().as_bytes()
}

/// A signer from the seed; the rare secret that is not a valid key is skipped deterministically.
/// An identity seed and a signing secret.
type Secrets = ([u8; 32], [u8; 32]);

fn signer(seed: u64, purpose: &str, index: u64) -> Result<(LocalSigner, Secrets), DevnetError> {
    for attempt in 0..16u64 {
        let secrets =
            (derive(seed, purpose, index * 16 + attempt), derive(seed, "signing", index * 16 + attempt));
        if let Ok(s) = LocalSigner::from_secrets(secrets.0, secrets.1) {
            return Ok((s, secrets));
        }
    }
    Err(DevnetError::Group(format!("no valid key for {purpose} {index}")))
}

impl Cast {
    /// The cast of `config`.
    pub fn new(config: &DevnetConfig) -> Result<Self, DevnetError> {
        let mut members = Vec::new();
        let mut secrets = Vec::new();
        for i in 0..config.members {
            let (s, pair) = signer(config.seed, "member", u64::from(i))?;
            members.push(Member { identity: s.identity_public_key(), signing: s.signing_public_key() });
            secrets.push(pair);
        }
        let group = GroupConfig {
            members,
            threshold: config.threshold,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .map_err(|e| DevnetError::Group(e.to_string()))?;
        let script = MultisigScript::for_group(&group).map_err(|e| DevnetError::Group(e.to_string()))?;
        let operators = (0..OPERATORS)
            .map(|i| signer(config.seed, "operator", u64::from(i)).map(|(s, _)| s))
            .collect::<Result<Vec<_>, _>>()?;
        let attestation = AttestationConfig {
            operators: Some(OperatorConfig {
                keys: operators.iter().map(Signer::identity_public_key).collect(),
                threshold: OPERATOR_THRESHOLD,
            }),
            ..AttestationConfig::default()
        };
        let chain = ChainRules { confirm_depth: config.confirm_depth, finality_depth: config.finality_depth };
        let configs = (0..config.members)
            .map(|i| NodeConfig {
                chain,
                max_events_in_flight: 10_000,
                ..igra_sim::fixture::node_config(&group, MemberIndex(i), &attestation)
            })
            .collect();
        let pool = (0..config.pool).map(|k| funding(&script, k)).collect();
        Ok(Self { group, script, configs, pool, secrets, operators, seed: config.seed })
    }

    /// Member `i`'s signer.
    pub fn signer(&self, i: u8) -> Result<LocalSigner, DevnetError> {
        let (identity, signing) =
            self.secrets.get(usize::from(i)).ok_or(DevnetError::Node("no such member".into()))?;
        LocalSigner::from_secrets(*identity, *signing).map_err(|e| DevnetError::Node(e.to_string()))
    }

    /// Member `i`'s node seed.
    pub fn node_seed(&self, i: u8) -> [u8; 32] {
        derive(self.seed, "node", u64::from(i))
    }

    /// Event `k` of the stream: a withdrawal of 1 to 10 KAS to its own destination, approved by the
    /// operators.
    pub fn event(&self, k: u64) -> Result<Event, DevnetError> {
        let mut external_id = [0u8; 32];
        external_id[..8].copy_from_slice(&k.to_be_bytes());
        external_id[8..16].copy_from_slice(&self.seed.to_be_bytes());
        let amount = amount(k);
        let mut event = Event {
            source: EventSource { kind: SourceKind::Operators, id: 0 },
            external_id,
            payment: Payment { destination: destination(self.seed, k), amount },
            attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
        };
        let id = event.id();
        let approvals = self
            .operators
            .iter()
            .zip(0u8..)
            .take(usize::from(OPERATOR_THRESHOLD))
            .map(|(operator, i)| approve(operator, i, self.group.id(), &id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DevnetError::Node(e.to_string()))?;
        let approvals = approvals.try_into().map_err(|_| DevnetError::Node("too many approvals".into()))?;
        event.attestation = Attestation::Operators(OperatorAttestation { approvals });
        Ok(event)
    }
}

/// The amount of event `k`: 1 to 10 KAS.
pub fn amount(k: u64) -> u64 {
    (1 + k % 10) * SOMPI_PER_KASPA
}

/// The payee of event `k`.
pub fn destination(seed: u64, k: u64) -> igra_proto::kaspa::tx::ScriptPublicKey {
    pay_to_pubkey(&SigningPublicKey(derive(seed, "destination", k)))
}

/// Pool output `k`: 100 KAS to the group, mature.
fn funding(script: &MultisigScript, k: u32) -> Utxo {
    let mut txid = [0xd0u8; 32];
    txid[..4].copy_from_slice(&k.to_le_bytes());
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId(txid), index: 0 },
        entry: UtxoEntry {
            amount: 100 * SOMPI_PER_KASPA,
            script_public_key: script.script_public_key(),
            block_daa_score: 0,
            is_coinbase: false,
        },
    }
}

/// How the devnet's members are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wiring {
    /// Real members: TCP on loopback, LMDB in a temporary directory, events through each member's HTTP
    /// API. The default.
    #[default]
    Loopback,
    /// Runners only, in one process: frames over channels, nothing persisted, events handed to the
    /// runners directly. Shows the protocol's own cost.
    InProcess,
}

/// A member of a running devnet.
enum Seat {
    /// An in-process runner.
    Runner(RunnerHandle),
    /// A real member, and the queue of its relayer thread (events to submit through its API).
    Member { member: Box<member::Member>, relayer: async_channel::Sender<Event> },
}

/// A running devnet group.
pub struct DevGroup {
    /// The cast.
    pub cast: Cast,
    /// The chain.
    pub chain: Arc<DevChain>,
    /// Every member's updates, merged.
    pub tracker: Tracker,
    seats: Vec<Seat>,
    failures: async_channel::Receiver<(u8, String)>,
    answers: async_channel::Receiver<Submission>,
    /// The members' databases (loopback); removed when the group is dropped.
    _data: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for DevGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevGroup").field("members", &self.seats.len()).finish_non_exhaustive()
    }
}

/// A loopback address with a free port.
fn free_port() -> Result<SocketAddr, DevnetError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| DevnetError::Node(e.to_string()))?;
    listener.local_addr().map_err(|e| DevnetError::Node(e.to_string()))
}

/// A member's relayer: submits each event it is given through the member's HTTP API, on its own thread
/// (the API client is blocking), and reports the answers.
fn relayer(
    i: u8,
    base: String,
    answers: async_channel::Sender<Submission>,
    failures: async_channel::Sender<(u8, String)>,
) -> Result<async_channel::Sender<Event>, DevnetError> {
    let (tx, rx) = async_channel::bounded::<Event>(RELAYER_QUEUE);
    std::thread::Builder::new()
        .name(format!("igra-relayer-{i}"))
        .spawn(move || {
            let client = ApiClient::new(&base, None);
            while let Ok(event) = rx.recv_blocking() {
                let id = event.id();
                let answer = match client.submit(&event) {
                    Ok(id) => Submission::Accepted(id),
                    Err(ClientError::Http { error: Some(body), .. }) => {
                        tracing::warn!(member = i, %id, code = %body.error.code, "the API refused an event");
                        Submission::Accepted(id)
                    }
                    Err(e) => {
                        let _ = failures.try_send((i, format!("API: {e}")));
                        return;
                    }
                };
                if answers.send_blocking(answer).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| DevnetError::Node(e.to_string()))?;
    Ok(tx)
}

/// Stops every member of `seats`.
async fn stop_seats(seats: Vec<Seat>) {
    for seat in seats {
        match seat {
            Seat::Runner(handle) => handle.shutdown().await,
            Seat::Member { member, relayer } => {
                relayer.close();
                if let Err(e) = member.stop().await {
                    tracing::warn!(error = %e, "a member stopped with an error");
                }
            }
        }
    }
}

/// Why member `i` did not start: [`DevnetError::PortTaken`] when it lost its port to another process.
fn start_error(i: u8, e: &member::MemberError) -> DevnetError {
    let taken = match e {
        member::MemberError::Transport(crate::transport::TransportError::Bind { source, .. })
        | member::MemberError::Api(source) => source.kind() == std::io::ErrorKind::AddrInUse,
        _ => false,
    };
    let message = format!("member {i}: {e}");
    if taken { DevnetError::PortTaken(message) } else { DevnetError::Node(message) }
}

/// Tries at starting a loopback group before a taken port is an error.
const PORT_ATTEMPTS: u32 = 3;

/// Events queued for one relayer.
const RELAYER_QUEUE: usize = 1_024;

impl DevGroup {
    /// Starts every member of `config`'s group on runtime `R`, with the chain ticking.
    pub async fn start<R: Runtime>(config: &DevnetConfig) -> Result<Self, DevnetError> {
        let cast = Cast::new(config)?;
        let clock = Clock::new();
        let chain = DevChain::new(cast.script.clone(), &cast.pool, clock);
        let (fail_tx, failures) = async_channel::bounded(usize::from(config.members) * 2);
        let (answer_tx, answers) = async_channel::bounded(usize::from(config.members) * RELAYER_QUEUE);
        let mut seats = Vec::new();
        let mut observers = Vec::new();
        let mut data = None;
        match config.wiring {
            Wiring::InProcess => {
                let (net, inboxes) = LocalNet::new(config.members);
                for (i, inbox) in (0..config.members).zip(inboxes) {
                    let node_config = cast.configs[usize::from(i)].clone();
                    let node =
                        Node::new(node_config, Box::new(cast.signer(i)?), cast.node_seed(i), 1, clock.now())
                            .map_err(|e| DevnetError::Node(e.to_string()))?;
                    let (storage, durable) = NoStorage::new();
                    let (client, chain_in) = chain.client();
                    let wiring = runner::Wiring {
                        frames_in: inbox,
                        frames_out: Arc::new(net.link(MemberIndex(i))),
                        storage: Arc::new(storage),
                        durable,
                        chain: Arc::new(client),
                        chain_in,
                    };
                    let (mut runner, handle) = Runner::new(Driver::new(node), wiring, clock);
                    observers.push(runner.observe());
                    let fail = fail_tx.clone();
                    R::spawn(async move {
                        if let Err(e) = runner.run::<R>().await {
                            let _ = fail.try_send((i, e.to_string()));
                        }
                    });
                    seats.push(Seat::Runner(handle));
                }
            }
            Wiring::Loopback => {
                let root = tempfile::Builder::new()
                    .prefix("igra-devnet-")
                    .tempdir()
                    .map_err(|e| DevnetError::Node(format!("temporary directory: {e}")))?;
                let addrs = (0..config.members).map(|_| free_port()).collect::<Result<Vec<_>, _>>()?;
                for i in 0..config.members {
                    let spec = MemberSpec {
                        config: cast.configs[usize::from(i)].clone(),
                        signer: SharedSigner(Arc::new(cast.signer(i)?)),
                        seed: cast.node_seed(i),
                        data_dir: root.path().join(format!("member-{i}")),
                        lmdb: LmdbOptions::default(),
                        listen: addrs[usize::from(i)],
                        peers: (0..config.members)
                            .filter(|j| *j != i)
                            .map(|j| (MemberIndex(j), addrs[usize::from(j)]))
                            .collect(),
                        api: Some((SocketAddr::from(([127, 0, 0, 1], 0)), devnet_api())),
                    };
                    let (client, chain_in) = chain.client();
                    let member =
                        match member::Member::start::<R>(spec, Arc::new(client), chain_in, clock).await {
                            Ok(member) => member,
                            Err(e) => {
                                // Stop the members already up before giving up (or retrying on new ports).
                                stop_seats(seats).await;
                                return Err(start_error(i, &e));
                            }
                        };
                    let api = member.api_addr.ok_or_else(|| DevnetError::Node("no API address".into()))?;
                    let relayer = relayer(i, format!("http://{api}"), answer_tx.clone(), fail_tx.clone())?;
                    observers.push(member.updates.clone());
                    seats.push(Seat::Member { member: Box::new(member), relayer });
                }
                data = Some(root);
            }
        }
        let ticking = Arc::clone(&chain);
        let alive = match &seats[0] {
            Seat::Runner(handle) => handle.clone(),
            Seat::Member { member, .. } => member.runner.clone(),
        };
        R::spawn(async move {
            while alive.is_running() {
                R::sleep(TICK).await;
                ticking.tick();
            }
        });
        Ok(Self {
            cast,
            chain,
            tracker: Tracker::new(observers, clock),
            seats,
            failures,
            answers,
            _data: data,
        })
    }

    /// Submits event `k` to every member, as each member's relayer would.
    pub async fn submit(&mut self, k: u64) -> Result<(), DevnetError> {
        let event = self.cast.event(k)?;
        self.tracker.submitted(event.id(), k);
        for seat in &self.seats {
            match seat {
                Seat::Runner(handle) => {
                    let answer =
                        handle.submit(event.clone()).await.map_err(|e| DevnetError::Runner(e.to_string()))?;
                    self.tracker.answered(&answer);
                }
                Seat::Member { relayer, .. } => {
                    relayer
                        .send(event.clone())
                        .await
                        .map_err(|_| DevnetError::Runner("a relayer stopped".into()))?;
                }
            }
        }
        while let Ok(answer) = self.answers.try_recv() {
            self.tracker.answered(&answer);
        }
        Ok(())
    }

    /// The first failure a member reported, if any.
    pub fn failure(&self) -> Option<(u8, String)> {
        self.failures.try_recv().ok()
    }

    /// Bytes every member has sent so far (loopback wiring; `None` in process, where nothing is
    /// encoded for a socket).
    pub fn bytes_sent(&self) -> Option<u64> {
        let mut total = None;
        for seat in &self.seats {
            if let Seat::Member { member, .. } = seat {
                total = Some(total.unwrap_or(0) + member.metrics.bytes_out_total());
            }
        }
        total
    }

    /// Stops every member.
    pub async fn shutdown(self) {
        stop_seats(self.seats).await;
    }
}

/// The devnet's API settings: open (loopback only) and without a rate limit worth the name, since the
/// devnet's own relayers are its only clients.
fn devnet_api() -> ApiConfig {
    ApiConfig {
        rate: crate::api::RateConfig { per_second: 1e6, burst: 1_000_000 },
        max_in_flight: 4_096,
        ..ApiConfig::default()
    }
}

/// Runs a whole devnet on runtime `R`: starts the group, submits `config.events` at `config.rate`,
/// waits for every confirmation (or the drain timeout), calls `progress` about once a second, and
/// returns the summary.
pub async fn run<R: Runtime>(
    config: &DevnetConfig,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary, DevnetError> {
    // Free ports are found by binding port 0 and letting go; another process can take one in between,
    // so a start that loses that race is tried again on fresh ports.
    let mut attempt = 1;
    let mut group = loop {
        match DevGroup::start::<R>(config).await {
            Err(DevnetError::PortTaken(e)) if attempt < PORT_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "a loopback port was taken; starting again");
                attempt += 1;
            }
            started => break started?,
        }
    };
    let clock = Clock::new();
    let interval = Duration::from_secs_f64(1.0 / config.rate.max(0.001));
    let mut last_report = clock.now();
    let mut peak_rss = None;
    let mut tick = |group: &mut DevGroup| {
        group.tracker.drain();
        if let Some((i, e)) = group.failure() {
            return Err(DevnetError::Runner(format!("member {i}: {e}")));
        }
        if clock.now().millis_since(last_report) >= 1_000 {
            last_report = clock.now();
            let mut now = group.tracker.progress();
            now.rss_kib = rss_kib();
            peak_rss = peak_rss.max(now.rss_kib);
            progress(&now);
        }
        Ok(())
    };
    let mut next = Duration::ZERO;
    let start = clock.now();
    for k in 0..u64::from(config.events) {
        let wait = next.saturating_sub(Duration::from_millis(clock.now().millis_since(start)));
        if !wait.is_zero() {
            R::sleep(wait).await;
        }
        next += interval;
        group.submit(k).await?;
        tick(&mut group)?;
    }
    let drain = u64::try_from(config.drain_timeout.as_millis()).unwrap_or(u64::MAX);
    let deadline = clock.now().plus_millis(drain);
    while group.tracker.progress().confirmed < u64::from(config.events) && clock.now() < deadline {
        R::sleep(Duration::from_millis(50)).await;
        tick(&mut group)?;
    }
    group.tracker.drain();
    let mut summary = group.tracker.summary(&group.chain, group.cast.seed);
    summary.bytes_per_event = group.bytes_sent().map(|b| b / u64::from(config.events.max(1)));
    summary.peak_rss_kib = peak_rss.max(rss_kib());
    group.shutdown().await;
    Ok(summary)
}
