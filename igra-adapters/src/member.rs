//! One member, assembled: its LMDB store (restored at start), the storage worker, the TCP transport, the
//! runner around its `Node`, and optionally the HTTP API. `igra run`, `igra devnet` and the integration
//! tests start members through [`Member::start`]; embedders with their own pieces use
//! [`crate::runner`] directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_channel::Receiver;
use igra_proto::keys::IdentitySignature;
use igra_proto::node::{EventStatus, Input, Node, NodeConfig, Record};
use igra_proto::{
    EventId, IdentityPublicKey, MemberIndex, SchnorrSignature, Signer, SignerError, SigningPublicKey,
};

use crate::api::{self, ApiBackend, ApiConfig, Readiness, StateFilter, SubmitError};
use crate::metrics::Metrics;
use crate::runner::{
    ChainClient, Clock, Driver, Runner, RunnerError, RunnerHandle, Runtime, Submission, Wiring,
};
use crate::storage::{LmdbOptions, LmdbStore, StorageWorker, Store, StoreError, WorkerLimits};
use crate::transport::{TransportConfig, TransportError, TransportHandle};

/// How long a restart waits for the previous run of the same member (in this process) to release its
/// database directory.
const REOPEN_PATIENCE: Duration = Duration::from_secs(10);

/// A signer shared between the node (which owns a `Box<dyn Signer>`) and the transport's handshake.
#[derive(Clone)]
pub struct SharedSigner(pub Arc<dyn Signer + Send + Sync>);

impl std::fmt::Debug for SharedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedSigner").field(&self.0.identity_public_key()).finish()
    }
}

impl Signer for SharedSigner {
    fn identity_public_key(&self) -> IdentityPublicKey {
        self.0.identity_public_key()
    }
    fn signing_public_key(&self) -> SigningPublicKey {
        self.0.signing_public_key()
    }
    fn sign_identity(&self, digest: &[u8; 32]) -> Result<IdentitySignature, SignerError> {
        self.0.sign_identity(digest)
    }
    fn sign_schnorr(&self, sighash: &[u8; 32], aux_rand: &[u8; 32]) -> Result<SchnorrSignature, SignerError> {
        self.0.sign_schnorr(sighash, aux_rand)
    }
}

/// Everything needed to start one member.
pub struct MemberSpec {
    /// The node's configuration (group, policy, timing, ...).
    pub config: NodeConfig,
    /// The member's keys.
    pub signer: SharedSigner,
    /// The node's seed (its own choices; fresh per start is fine, the boot epoch separates runs).
    pub seed: [u8; 32],
    /// The LMDB directory.
    pub data_dir: PathBuf,
    /// LMDB options.
    pub lmdb: LmdbOptions,
    /// Where peers connect.
    pub listen: SocketAddr,
    /// The other members' addresses.
    pub peers: Vec<(MemberIndex, SocketAddr)>,
    /// Serve the HTTP API here, if set (port 0 picks one).
    pub api: Option<(SocketAddr, ApiConfig)>,
}

impl std::fmt::Debug for MemberSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberSpec")
            .field("me", &self.config.me)
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

/// Why a member could not start.
#[derive(Debug)]
pub enum MemberError {
    /// The store could not be opened or read.
    Store(StoreError),
    /// The node could not be created or restored from its records.
    Node(String),
    /// The storage worker could not start.
    Storage(String),
    /// The transport could not start.
    Transport(TransportError),
    /// The API could not bind.
    Api(std::io::Error),
}

impl std::fmt::Display for MemberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Node(e) => write!(f, "node: {e}"),
            Self::Storage(e) => write!(f, "storage worker: {e}"),
            Self::Transport(e) => write!(f, "transport: {e}"),
            Self::Api(e) => write!(f, "API: {e}"),
        }
    }
}

impl std::error::Error for MemberError {}

/// A running member.
pub struct Member {
    /// The runner's handle.
    pub runner: RunnerHandle,
    /// The transport's handle.
    pub transport: TransportHandle,
    /// The metrics the runner and the API record.
    pub metrics: Arc<Metrics>,
    /// Where the API listens, if it does.
    pub api_addr: Option<SocketAddr>,
    /// The boot epoch of this run.
    pub boot_epoch: u64,
    /// Records restored at start.
    pub restored_records: usize,
    /// Every event update with the time it happened (bounded: unread updates beyond
    /// [`crate::runner::UPDATE_QUEUE`] are dropped and counted).
    pub updates: Receiver<(igra_proto::Instant, igra_proto::node::EventUpdate)>,
    done: Receiver<Result<(), RunnerError>>,
    api_stop: Option<async_channel::Sender<()>>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("boot_epoch", &self.boot_epoch)
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

/// Opens the store, waiting a little for an earlier run in this process to let go of the directory.
fn open_store(spec: &MemberSpec, clock: Clock) -> Result<LmdbStore, StoreError> {
    let start = clock.now();
    loop {
        match LmdbStore::open(&spec.data_dir, spec.lmdb) {
            Err(StoreError::AlreadyOpen { .. })
                if clock.now().millis_since(start)
                    < u64::try_from(REOPEN_PATIENCE.as_millis()).unwrap_or(0) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl Member {
    /// Starts a member on runtime `R` with `chain` as its chain client and `chain_in` as its news; its
    /// node's monotonic time is `clock`'s.
    pub async fn start<R: Runtime>(
        spec: MemberSpec,
        chain: Arc<dyn ChainClient>,
        chain_in: Receiver<Input>,
        clock: Clock,
    ) -> Result<Self, MemberError> {
        let mut store = open_store(&spec, clock).map_err(MemberError::Store)?;
        let records: Vec<Record> = store.load().map_err(MemberError::Store)?;
        let boot_epoch = store.next_boot_epoch().map_err(MemberError::Store)?;
        let signer: Box<dyn Signer> = Box::new(spec.signer.clone());
        let restored_records = records.len();
        let node = if records.is_empty() {
            Node::new(spec.config.clone(), signer, spec.seed, boot_epoch, clock.now())
                .map_err(|e| MemberError::Node(e.to_string()))?
        } else {
            Node::restore(
                spec.config.clone(),
                signer,
                spec.seed,
                boot_epoch,
                clock.now(),
                clock.wall(),
                &records,
            )
            .map_err(|e| MemberError::Node(e.to_string()))?
        };
        let (storage, reports) = StorageWorker::spawn(Box::new(store), WorkerLimits::default())
            .map_err(|e| MemberError::Storage(e.to_string()))?;
        let transport_config =
            TransportConfig::new(spec.config.me, spec.listen, spec.peers.clone(), spec.config.group.clone());
        let transport = R::spawn_transport(transport_config, Arc::clone(&spec.signer.0))
            .await
            .map_err(MemberError::Transport)?;
        let metrics = Arc::new(Metrics::new());
        let wiring = Wiring {
            frames_in: transport.incoming(),
            frames_out: Arc::new(transport.clone()),
            storage: Arc::new(storage),
            durable: reports,
            chain,
            chain_in,
        };
        let (runner, handle) = Runner::new(Driver::new(node), wiring, clock);
        let mut runner = runner.with_metrics(Arc::clone(&metrics));
        let updates = runner.observe();
        let (done_tx, done) = async_channel::bounded(1);
        R::spawn(async move {
            let result = runner.run::<R>().await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "the member's runner stopped");
            }
            let _ = done_tx.try_send(result);
        });
        // The peers gauge follows the transport once a second while the runner lives.
        let (gauge, watched, alive) = (Arc::clone(&metrics), transport.clone(), handle.clone());
        R::spawn(async move {
            while alive.is_running() {
                gauge.peers_connected(watched.stats().connected.len());
                R::sleep(Duration::from_secs(1)).await;
            }
        });
        let (mut api_addr, mut api_stop) = (None, None);
        if let Some((addr, api_config)) = spec.api {
            let listener = std::net::TcpListener::bind(addr).map_err(MemberError::Api)?;
            listener.set_nonblocking(true).map_err(MemberError::Api)?;
            api_addr = Some(listener.local_addr().map_err(MemberError::Api)?);
            let group = &spec.config.group;
            let backend = Arc::new(NodeBackend {
                runner: handle.clone(),
                transport: transport.clone(),
                peers_total: group.members().len().saturating_sub(1),
                peers_needed: usize::from(group.threshold()).saturating_sub(1),
            });
            let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
            api_stop = Some(stop_tx);
            let metrics = Arc::clone(&metrics);
            R::serve_api(Box::pin(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "the API listener could not be registered");
                        return;
                    }
                };
                let shutdown = async move {
                    let _ = stop_rx.recv().await;
                };
                if let Err(e) = api::serve(listener, backend, api_config, metrics, shutdown).await {
                    tracing::error!(error = %e, "the API stopped");
                }
            }));
        }
        Ok(Self {
            runner: handle,
            transport,
            metrics,
            api_addr,
            boot_epoch,
            restored_records,
            updates,
            done,
            api_stop,
        })
    }

    /// Stops the API, the runner (after the input in hand), the transport and the storage worker, and
    /// returns how the runner ended.
    pub async fn stop(self) -> Result<(), RunnerError> {
        if let Some(stop) = &self.api_stop {
            let _ = stop.try_send(());
        }
        self.runner.shutdown().await;
        let result = self.done.recv().await.unwrap_or(Err(RunnerError::Stopped));
        self.transport.shutdown().await;
        result
    }

    /// Waits until the runner stops on its own (a failure) and returns why.
    pub async fn stopped(&self) -> Result<(), RunnerError> {
        self.done.recv().await.unwrap_or(Err(RunnerError::Stopped))
    }
}

/// The API's view of a member: its runner, plus the transport for readiness.
#[derive(Debug, Clone)]
pub struct NodeBackend {
    /// The runner.
    pub runner: RunnerHandle,
    /// The transport.
    pub transport: TransportHandle,
    /// Peers in the group.
    pub peers_total: usize,
    /// Peers needed for a quorum with this node.
    pub peers_needed: usize,
}

impl ApiBackend for NodeBackend {
    async fn submit(&self, event: igra_proto::event::Event) -> Result<EventId, SubmitError> {
        match self.runner.submit(event).await {
            Ok(Submission::Accepted(id)) => Ok(id),
            Ok(Submission::Refused(_, reason)) => Err(SubmitError::Refused(reason)),
            Err(_) => Err(SubmitError::Stopped),
        }
    }

    async fn status(&self, event_id: EventId) -> Option<EventStatus> {
        self.runner.status(event_id).await.ok().flatten()
    }

    async fn list(
        &self,
        filter: Option<StateFilter>,
        after: Option<EventId>,
        limit: usize,
    ) -> Vec<(EventId, EventStatus)> {
        self.runner.list(filter, after, limit).await.unwrap_or_default()
    }

    async fn readiness(&self) -> Readiness {
        let chain = self.runner.chain_ready();
        Readiness {
            storage_ok: self.runner.is_running(),
            peers_connected: self.transport.stats().connected.len(),
            peers_total: self.peers_total,
            peers_needed: self.peers_needed,
            chain_connected: chain,
            chain_synced: chain,
        }
    }
}
