//! The runner: the loop that feeds frames, durability acknowledgements, chain news, API commands and
//! timers into one [`Node`](igra_proto::node::Node) and carries out what it asks.
//!
//! The loop is written once, against runtime-neutral channels (`async-channel`) and the small traits
//! below; [`Runtime`] supplies the only runtime-specific piece, a timer. [`Tokio`] and [`Smol`] are the
//! two runtimes the project supports. The runner holds no protocol logic: every decision is the node's.
//!
//! Ordering rules the runner keeps (protocol brief, persistence):
//! * a `SendAfterPersist` frame leaves only after its batch is reported durable;
//! * a storage failure stops the node (a node that cannot persist must not speak);
//! * a timer that is due is served before more input, so a flood cannot starve rounds.

mod driver;
pub mod local;

pub use driver::{Driver, DriverError, Effects, MAX_HELD_FRAMES, MAX_INDEXED_EVENTS, Submission};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use futures_lite::future;
use igra_proto::envelope::peek_kind;
use igra_proto::event::Event;
use igra_proto::node::{BatchId, ChainRequest, Destination, EventStatus, EventUpdate, Input, Record};
use igra_proto::{EventId, Instant, MemberIndex, RejectReason, Signer, UnixMs};

use crate::api::StateFilter;
use crate::metrics::{Metrics, message_kind_name};
use crate::storage::{Durable, StorageError, StorageHandle, StorageReport};
use crate::transport::{TransportConfig, TransportError, TransportHandle};

/// Commands queued to a runner beyond this wait for room.
pub const COMMAND_QUEUE: usize = 1_024;
/// Updates queued for an observer beyond this are dropped (and counted). The queue's ring is allocated
/// and written in full when it is made (about 130 bytes a slot), so this is resident memory from the
/// start: 4,096 slots are half a megabyte, and several seconds of updates at hundreds of events a second.
pub const UPDATE_QUEUE: usize = 4_096;

/// The one runtime-specific service the loop needs.
pub trait Runtime: Send + Sync + 'static {
    /// Completes after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// Runs `task` in the background, detached.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);
    /// Starts the TCP transport on this runtime.
    fn spawn_transport(
        config: TransportConfig,
        signer: Arc<dyn Signer + Send + Sync>,
    ) -> impl Future<Output = Result<TransportHandle, TransportError>> + Send;
    /// Runs the HTTP API server (a tokio program) in the background.
    fn serve_api(server: Pin<Box<dyn Future<Output = ()> + Send>>);
}

/// The tokio runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        drop(tokio::spawn(task));
    }

    fn spawn_transport(
        config: TransportConfig,
        signer: Arc<dyn Signer + Send + Sync>,
    ) -> impl Future<Output = Result<TransportHandle, TransportError>> + Send {
        crate::transport::tokio::spawn(config, signer)
    }

    fn serve_api(server: Pin<Box<dyn Future<Output = ()> + Send>>) {
        drop(tokio::spawn(server));
    }
}

/// The smol runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    fn spawn_transport(
        config: TransportConfig,
        signer: Arc<dyn Signer + Send + Sync>,
    ) -> impl Future<Output = Result<TransportHandle, TransportError>> + Send {
        crate::transport::smol::spawn(config, signer)
    }

    /// The API is an axum (tokio) server: under smol it gets a thread with its own small tokio runtime.
    fn serve_api(server: Pin<Box<dyn Future<Output = ()> + Send>>) {
        let spawned = std::thread::Builder::new().name("igra-api".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(server),
                Err(e) => tracing::error!(error = %e, "no tokio runtime for the API"),
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "no thread for the API");
        }
    }
}

/// Where frames go: the transport.
pub trait FrameSink: Send + Sync {
    /// Queues `frame` for `to`; never blocks (a full queue drops and counts).
    fn send(&self, to: Destination, frame: Vec<u8>);
}

/// Where persist batches go: the storage worker.
pub trait BatchSink: Send + Sync {
    /// Queues a batch; its durability comes back on the runner's durable channel.
    fn persist(&self, batch: BatchId, records: Vec<Record>) -> Result<(), StorageError>;
}

impl BatchSink for StorageHandle {
    fn persist(&self, batch: BatchId, records: Vec<Record>) -> Result<(), StorageError> {
        Self::persist(self, batch, records)
    }
}

impl FrameSink for TransportHandle {
    fn send(&self, to: Destination, frame: Vec<u8>) {
        Self::send(self, to, frame);
    }
}

/// The chain: requests go out here, news comes back on the runner's chain channel as [`Input`]s.
pub trait ChainClient: Send + Sync {
    /// Starts `request`; never blocks.
    fn request(&self, request: ChainRequest);
    /// Whether the chain is reachable and synced enough to serve requests.
    fn ready(&self) -> bool;
}

/// Frames from peers, each with the member the transport proved.
pub type Inbox = Receiver<(MemberIndex, Vec<u8>)>;

/// Everything a runner is wired to.
pub struct Wiring {
    /// Frames from peers, with the member the transport proved.
    pub frames_in: Inbox,
    /// Frames to peers.
    pub frames_out: Arc<dyn FrameSink>,
    /// Persist batches.
    pub storage: Arc<dyn BatchSink>,
    /// Storage's reports.
    pub durable: Receiver<StorageReport>,
    /// Chain requests.
    pub chain: Arc<dyn ChainClient>,
    /// Chain news and answers.
    pub chain_in: Receiver<Input>,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring").finish_non_exhaustive()
    }
}

/// Why a runner stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerError {
    /// Storage failed.
    Storage(String),
    /// The node's bookkeeping hit a bound.
    Driver(DriverError),
    /// The runner is gone (answering a command).
    Stopped,
}

impl std::fmt::Display for RunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Storage(e) => write!(f, "storage failed: {e}"),
            Self::Driver(e) => write!(f, "{e}"),
            Self::Stopped => f.write_str("the runner has stopped"),
        }
    }
}

impl std::error::Error for RunnerError {}

/// Counters of one runner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerStats {
    /// Frames fed to the node.
    pub frames_in: u64,
    /// Frames handed to the transport.
    pub frames_out: u64,
    /// Batches persisted.
    pub batches: u64,
    /// Updates an observer missed because its queue was full.
    pub updates_dropped: u64,
    /// Events the node holds in its index.
    pub events: usize,
    /// Frames the node's gate refused.
    pub frames_refused: u64,
    /// Peer misbehaviour the node counted.
    pub misbehaviour: u64,
}

enum Command {
    Submit {
        event: Box<Event>,
        reply: Sender<Submission>,
    },
    Status {
        id: EventId,
        reply: Sender<Option<EventStatus>>,
    },
    List {
        filter: Option<StateFilter>,
        after: Option<EventId>,
        limit: usize,
        reply: Sender<Vec<(EventId, EventStatus)>>,
    },
    Stats {
        reply: Sender<RunnerStats>,
    },
    Shutdown,
}

/// A cloneable handle to a running node: what the API and embedders use.
#[derive(Clone)]
pub struct RunnerHandle {
    commands: Sender<Command>,
    chain: Arc<dyn ChainClient>,
}

impl std::fmt::Debug for RunnerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerHandle").finish_non_exhaustive()
    }
}

impl RunnerHandle {
    async fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Command) -> Result<T, RunnerError> {
        let (reply, answer) = async_channel::bounded(1);
        self.commands.send(make(reply)).await.map_err(|_| RunnerError::Stopped)?;
        answer.recv().await.map_err(|_| RunnerError::Stopped)
    }

    /// Submits an attested event.
    pub async fn submit(&self, event: Event) -> Result<Submission, RunnerError> {
        self.ask(|reply| Command::Submit { event: Box::new(event), reply }).await
    }

    /// An event's status and audit trail.
    pub async fn status(&self, id: EventId) -> Result<Option<EventStatus>, RunnerError> {
        self.ask(|reply| Command::Status { id, reply }).await
    }

    /// A page of events in id order, after `after`.
    pub async fn list(
        &self,
        filter: Option<StateFilter>,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<(EventId, EventStatus)>, RunnerError> {
        self.ask(|reply| Command::List { filter, after, limit, reply }).await
    }

    /// The runner's counters.
    pub async fn stats(&self) -> Result<RunnerStats, RunnerError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Whether the chain client is ready.
    pub fn chain_ready(&self) -> bool {
        self.chain.ready()
    }

    /// Asks the runner to stop after the input in hand.
    pub async fn shutdown(&self) {
        // A runner that is already gone is stopped, which is what was asked.
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// Whether the runner still runs.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// The node's two clocks: monotonic milliseconds since the runner started, and the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock starting now.
    #[expect(clippy::disallowed_methods, reason = "the runner owns the clock and passes it to the node")]
    pub fn new() -> Self {
        Self { start: std::time::Instant::now() }
    }

    /// Monotonic time.
    pub fn now(&self) -> Instant {
        Instant(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Wall-clock time.
    #[expect(clippy::disallowed_methods, reason = "the runner owns the clock and passes it to the node")]
    pub fn wall(&self) -> UnixMs {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        UnixMs(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The `std` instant of monotonic time now (for metrics' latency histograms).
    pub fn instant(&self) -> std::time::Instant {
        self.start + Duration::from_millis(self.now().0)
    }

    /// How long until `at`.
    pub fn until(&self, at: Instant) -> Duration {
        Duration::from_millis(at.0.saturating_sub(self.now().0))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// One node's loop.
pub struct Runner {
    driver: Driver,
    wiring: Wiring,
    clock: Clock,
    commands: Receiver<Command>,
    updates: Option<Sender<(Instant, EventUpdate)>>,
    metrics: Option<Arc<Metrics>>,
    /// Gate refusals by reason already reported to the metrics.
    rejections: [u64; RejectReason::ALL.len()],
    stats: RunnerStats,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("driver", &self.driver).finish_non_exhaustive()
    }
}

enum Wake {
    Frame(Vec<u8>),
    Storage(StorageReport),
    Chain(Input),
    Command(Command),
    Timer,
    /// A source closed; it is not polled again.
    Closed(Source),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Frames,
    Storage,
    Chain,
    Commands,
}

impl Runner {
    /// A runner around `driver` (whose node was created with `clock`'s time), and its handle.
    pub fn new(driver: Driver, wiring: Wiring, clock: Clock) -> (Self, RunnerHandle) {
        let (commands_tx, commands) = async_channel::bounded(COMMAND_QUEUE);
        let handle = RunnerHandle { commands: commands_tx, chain: Arc::clone(&wiring.chain) };
        (
            Self {
                driver,
                wiring,
                clock,
                commands,
                updates: None,
                metrics: None,
                rejections: [0; RejectReason::ALL.len()],
                stats: RunnerStats::default(),
            },
            handle,
        )
    }

    /// Also sends every event update, with the time it happened, to `observer` (bounded; a full
    /// observer misses updates, counted in [`RunnerStats::updates_dropped`]).
    pub fn observe(&mut self) -> Receiver<(Instant, EventUpdate)> {
        let (tx, rx) = async_channel::bounded(UPDATE_QUEUE);
        self.updates = Some(tx);
        rx
    }

    /// Also records frames, updates and persist latency in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Runs until shutdown (`Ok`) or a failure that must stop the node.
    pub async fn run<R: Runtime>(mut self) -> Result<(), RunnerError> {
        let first = self.driver.start().map_err(RunnerError::Driver)?;
        self.execute(first)?;
        // The node needs a UTXO snapshot before it can vote; ask at once.
        self.wiring.chain.request(ChainRequest::FetchUtxos);
        let mut closed: Vec<Source> = Vec::new();
        loop {
            // One look at the node's deadline per turn: finding it walks the node's active events.
            let deadline = self.driver.deadline();
            if let Some(at) = deadline
                && at <= self.clock.now()
            {
                self.feed(Input::Timer)?;
                continue;
            }
            let wait = deadline.map(|at| self.clock.until(at));
            let (w, commands) = (&self.wiring, &self.commands);
            match wake::<R>(&w.durable, commands, &w.chain_in, &w.frames_in, wait, &closed).await {
                Wake::Frame(frame) => {
                    self.stats.frames_in += 1;
                    if let Some(metrics) = &self.metrics {
                        metrics.frame_in(kind_name(&frame), frame.len());
                    }
                    self.feed(Input::Frame(frame))?;
                    self.count_rejections();
                }
                Wake::Storage(Ok(Durable { batches, elapsed, records })) => {
                    self.stats.batches += batches.len() as u64;
                    if let Some(metrics) = &self.metrics {
                        metrics.persist(elapsed, records);
                    }
                    let (now, wall) = (self.clock.now(), self.clock.wall());
                    let effects = self.driver.durable(now, wall, &batches).map_err(RunnerError::Driver)?;
                    self.execute(effects)?;
                }
                Wake::Storage(Err(failure)) => return Err(RunnerError::Storage(failure.to_string())),
                Wake::Chain(input) => self.feed(input)?,
                Wake::Command(Command::Shutdown) | Wake::Closed(Source::Commands) => return Ok(()),
                Wake::Command(command) => self.command(command)?,
                Wake::Timer => self.feed(Input::Timer)?,
                Wake::Closed(Source::Storage) => {
                    return Err(RunnerError::Storage("storage worker stopped".into()));
                }
                Wake::Closed(source) => closed.push(source),
            }
        }
    }

    /// Reports to the metrics the frames the node's gate refused since the last call, by reason. Costs
    /// one comparison unless something was refused.
    fn count_rejections(&mut self) {
        let Some(metrics) = &self.metrics else { return };
        let counters = self.driver.node().gate().counters();
        if counters.rejected_total() == self.rejections.iter().sum::<u64>() {
            return;
        }
        for (reason, seen) in RejectReason::ALL.iter().zip(self.rejections.iter_mut()) {
            let now = counters.rejected(*reason);
            for _ in *seen..now {
                metrics.rejected(reason.name());
            }
            *seen = now;
        }
    }

    fn feed(&mut self, input: Input) -> Result<(), RunnerError> {
        let effects =
            self.driver.handle(self.clock.now(), self.clock.wall(), input).map_err(RunnerError::Driver)?;
        self.execute(effects)
    }

    fn command(&mut self, command: Command) -> Result<(), RunnerError> {
        // A caller that stopped waiting does not stop the runner: replies are best effort.
        match command {
            Command::Submit { event, reply } => {
                let (now, wall) = (self.clock.now(), self.clock.wall());
                let (answer, effects) = self.driver.submit(now, wall, *event).map_err(RunnerError::Driver)?;
                self.execute(effects)?;
                let _ = reply.try_send(answer);
            }
            Command::Status { id, reply } => {
                let _ = reply.try_send(self.driver.status(&id));
            }
            Command::List { filter, after, limit, reply } => {
                let page = self.driver.list(|p| filter.is_none_or(|f| f.matches(p)), after, limit);
                let _ = reply.try_send(page);
            }
            Command::Stats { reply } => {
                let node = self.driver.node();
                let stats = RunnerStats {
                    events: self.driver.indexed(),
                    frames_refused: node.gate().counters().rejected_total(),
                    misbehaviour: node.misbehaviour().total(),
                    ..self.stats
                };
                let _ = reply.try_send(stats);
            }
            Command::Shutdown => {}
        }
        Ok(())
    }

    fn execute(&mut self, effects: Effects) -> Result<(), RunnerError> {
        for (batch, records) in effects.persist {
            self.wiring.storage.persist(batch, records).map_err(|e| RunnerError::Storage(e.to_string()))?;
        }
        for (to, frame) in effects.send {
            self.stats.frames_out += 1;
            if let Some(metrics) = &self.metrics {
                // Counted per receiver: a broadcast puts one copy on each peer's connection.
                let copies = match to {
                    Destination::All => self.driver.node().config().group.size().saturating_sub(1),
                    Destination::Member(_) => 1,
                };
                metrics.frame_out(kind_name(&frame), frame.len(), copies);
            }
            self.wiring.frames_out.send(to, frame);
        }
        for request in effects.chain {
            self.wiring.chain.request(request);
        }
        for update in &effects.updates {
            log(update);
        }
        if let Some(metrics) = &self.metrics {
            let now = self.clock.instant();
            for update in &effects.updates {
                metrics.on_update(update, now);
            }
        }
        if let Some(observer) = &self.updates {
            let now = self.clock.now();
            for update in effects.updates {
                if observer.try_send((now, update)).is_err() {
                    self.stats.updates_dropped += 1;
                }
            }
        }
        Ok(())
    }
}

/// The next thing to do. Takes the receivers alone (not the runner), so the runner's future stays `Send`
/// without the node having to be `Sync`.
async fn wake<R: Runtime>(
    durable: &Receiver<StorageReport>,
    commands: &Receiver<Command>,
    chain_in: &Receiver<Input>,
    frames_in: &Inbox,
    wait: Option<Duration>,
    closed: &[Source],
) -> Wake {
    let open = |s: Source| !closed.contains(&s);
    let storage = recv(durable, open(Source::Storage), Wake::Storage, Source::Storage);
    let commands = recv(commands, open(Source::Commands), Wake::Command, Source::Commands);
    let chain = recv(chain_in, open(Source::Chain), Wake::Chain, Source::Chain);
    let frames = recv(frames_in, open(Source::Frames), |(_, f)| Wake::Frame(f), Source::Frames);
    let timer = async {
        match wait {
            Some(wait) => {
                R::sleep(wait).await;
                Wake::Timer
            }
            None => future::pending().await,
        }
    };
    // Storage first: durability releases held frames and unblocks everything else.
    future::or(storage, future::or(commands, future::or(chain, future::or(frames, timer)))).await
}

/// One structured log line per event update: milestones at `info`, votes and certificates at `debug`,
/// refusals and dead templates at `warn`.
fn log(update: &EventUpdate) {
    match update {
        EventUpdate::Accepted { event_id } => tracing::info!(%event_id, "event accepted"),
        EventUpdate::Refused { event_id, reason } => tracing::warn!(%event_id, %reason, "event refused"),
        EventUpdate::Voted { event_id, vote } => {
            tracing::debug!(%event_id, round = vote.round, template = %vote.template_hash, "voted");
        }
        EventUpdate::Certified { event_id, vote } => {
            tracing::debug!(%event_id, round = vote.round, template = %vote.template_hash, "certified");
        }
        EventUpdate::Signed { event_id, template_hash } => {
            tracing::info!(%event_id, template = %template_hash, "signed");
        }
        EventUpdate::Finalized { event_id, transaction_id } => {
            tracing::info!(%event_id, transaction = %transaction_id, "finalized and submitted");
        }
        EventUpdate::Abandoned { event_id } => {
            tracing::warn!(%event_id, "abandoned: no quorum, nothing signed");
        }
        EventUpdate::Revived { event_id, round } => tracing::info!(%event_id, round, "revived"),
        EventUpdate::Confirmed { event_id, transaction_id } => {
            tracing::info!(%event_id, transaction = %transaction_id, "confirmed");
        }
        EventUpdate::Dead { event_id, epoch, template_hash } => {
            tracing::warn!(%event_id, epoch, template = %template_hash, "signed template dead; next epoch");
        }
    }
}

/// The metrics label of the kind `frame` claims.
fn kind_name(frame: &[u8]) -> &'static str {
    peek_kind(frame).map_or("undecodable", message_kind_name)
}

async fn recv<T>(rx: &Receiver<T>, open: bool, wrap: impl FnOnce(T) -> Wake, source: Source) -> Wake {
    if !open {
        return future::pending().await;
    }
    match rx.recv().await {
        Ok(item) => wrap(item),
        Err(_) => Wake::Closed(source),
    }
}
