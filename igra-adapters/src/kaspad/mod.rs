//! The Kaspa node adapter: a client of kaspad's wRPC JSON protocol over WebSocket that serves a runner
//! as its [`ChainClient`].
//!
//! [`KaspadClient::start`] spawns (on tokio) one task that connects, checks the node (its network must
//! be the group's, with `--utxoindex`; a mismatch is [`KaspadError::WrongNetwork`] and the client stays
//! not ready), subscribes to `UtxosChanged` for the group's address, to `VirtualDaaScoreChanged` and to
//! `VirtualChainChanged` (for reorgs, see [`news`]), sends a fresh UTXO snapshot, and then serves requests and turns notifications into the node's
//! [`Input`]s (see [`news`] and [`attribution`] for how spenders are learned). When the node goes away the client reports
//! not ready, redials with capped jittered [`Backoff`], and after every reconnect subscribes again and
//! sends a fresh snapshot. Submissions that met a dead connection are retried after the reconnect.
//! A transaction kaspad took is kept until the client hears of its acceptance and submitted again after
//! every reconnect and every [`KaspadConfig::resubmit_interval`]: kaspad keeps no mempool across a
//! restart and may evict, and the node submits its finalized transaction only once.
//! Wire shapes: docs/kaspad.md.

pub mod attribution;
pub mod news;
pub mod rejection;
pub mod rpc;
pub mod wire;

#[cfg(test)]
mod recorded;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use igra_proto::kaspa::address::Prefix;
use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::script::address_for_script;
use igra_proto::kaspa::tx::{Outpoint, ScriptPublicKey, Transaction};
use igra_proto::node::{ChainEvent, ChainRequest, Input};
use igra_proto::{Network, TransactionId};
use serde_json::json;

pub use attribution::{Anchor, ChainReader, Search};
pub use news::Known;
pub use rejection::{SubmitOutcome, classify_rejection};
pub use rpc::KaspadRpc;
pub use wire::{BlockHash, BlockSummary, FeeEstimate, Notification, ServerInfo, UtxoRecord, VirtualChain};

use crate::runner::ChainClient;
use crate::transport::backoff::Backoff;

/// Requests queued for the client beyond this are dropped (counted): the node asks again.
pub const REQUEST_QUEUE: usize = 4_096;
/// News queued for the runner beyond this is dropped (counted).
pub const NEWS_QUEUE: usize = 65_536;
/// Submissions kept for retry after a lost connection; the oldest is dropped beyond this.
pub const MAX_RETRIES_HELD: usize = 1_024;
/// Transactions kept for resubmission until their acceptance is heard of; the oldest is dropped
/// beyond this.
pub const MAX_PENDING: usize = 4_096;
/// After a reorg, the client waits this many `attribution_retry` delays (1 s by default) for the UTXO
/// index to follow the chain change before it reads it.
pub const REORG_SETTLE_RETRIES: u32 = 5;

/// Why the client could not talk to the node, or refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KaspadError {
    /// The connection could not be made.
    Connect(String),
    /// The connection closed.
    Closed,
    /// A call got no answer in time.
    Timeout {
        /// The method called.
        method: &'static str,
    },
    /// The node answered with an error.
    Rpc {
        /// The method called.
        method: &'static str,
        /// The node's message.
        message: String,
    },
    /// The node sent something the client cannot read.
    Malformed {
        /// The method, or `frame` for a frame that could not be sorted.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The node serves another network than the group's.
    WrongNetwork {
        /// The group's network id.
        expected: String,
        /// The node's.
        actual: String,
    },
    /// The node runs without `--utxoindex`.
    NoUtxoIndex,
    /// A bounded queue is full.
    Busy,
    /// [`KaspadClient::start`] was called outside a tokio runtime.
    NoRuntime,
}

impl std::fmt::Display for KaspadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect to kaspad: {e}"),
            Self::Closed => f.write_str("the connection to kaspad closed"),
            Self::Timeout { method } => write!(f, "kaspad did not answer {method} in time"),
            Self::Rpc { method, message } => write!(f, "kaspad refused {method}: {message}"),
            Self::Malformed { method, detail } => {
                write!(f, "unreadable answer from kaspad ({method}): {detail}")
            }
            Self::WrongNetwork { expected, actual } => {
                write!(f, "kaspad serves network {actual}, the group is on {expected}")
            }
            Self::NoUtxoIndex => f.write_str("kaspad runs without --utxoindex"),
            Self::Busy => f.write_str("the kaspad client's queue is full"),
            Self::NoRuntime => f.write_str("the kaspad client needs a tokio runtime"),
        }
    }
}

impl std::error::Error for KaspadError {}

/// kaspad's `networkId` for `network`.
pub fn network_id(network: Network) -> String {
    match network {
        Network::Mainnet => "mainnet".into(),
        Network::Testnet { suffix } => format!("testnet-{suffix}"),
        Network::Devnet => "devnet".into(),
        Network::Simnet => "simnet".into(),
    }
}

/// Where and how to reach the node.
#[derive(Debug, Clone)]
pub struct KaspadConfig {
    /// `ws://host:port` of kaspad's `--rpclisten-json`.
    pub url: String,
    /// The group's network.
    pub network: Network,
    /// The group's script public key (its P2SH script).
    pub group_script: ScriptPublicKey,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// How long a call may wait for its answer.
    pub call_timeout: Duration,
    /// How often the node is asked whether it is alive and synced.
    pub health_interval: Duration,
    /// Redial schedule.
    pub backoff: Backoff,
    /// The delay before a search of the virtual chain is tried again (doubling each time; see
    /// [`attribution`]).
    pub attribution_retry: Duration,
    /// How often transactions kaspad took but has not accepted yet are submitted again (and after every
    /// reconnect): a kaspad restart empties its mempool, and eviction can drop one.
    pub resubmit_interval: Duration,
}

impl KaspadConfig {
    /// Defaults for `url`: 5 s connect and call timeouts, a health check every 2 s, 100 ms doubling
    /// to 5 s between redials, unaccepted transactions submitted again every 30 s.
    pub fn new(url: impl Into<String>, network: Network, group_script: ScriptPublicKey) -> Self {
        Self {
            url: url.into(),
            network,
            group_script,
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            health_interval: Duration::from_secs(2),
            backoff: Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(5) },
            attribution_retry: attribution::FIRST_RETRY,
            resubmit_interval: Duration::from_secs(30),
        }
    }
}

/// The client's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KaspadStats {
    /// Sessions established (connected, checked, subscribed, snapshot sent).
    pub sessions: u64,
    /// Snapshots sent to the runner.
    pub snapshots: u64,
    /// Transactions submitted.
    pub submitted: u64,
    /// Of those, submissions again of a transaction kaspad had taken but not accepted yet.
    pub resubmitted: u64,
    /// Submissions the node took or already had.
    pub accepted: u64,
    /// Submissions refused as double spends.
    pub double_spends: u64,
    /// Submissions refused for other reasons.
    pub rejected: u64,
    /// Removed group outputs whose spender the client could not learn (not even by searching the
    /// virtual chain).
    pub unresolved_spends: u64,
    /// Removed group outputs whose spender was found by searching the virtual chain
    /// ([`attribution`]): out-of-band spends, reported as [`ChainEvent::Spent`].
    pub attributed_spends: u64,
    /// Searches of the virtual chain that ended with an error or without naming every spender.
    pub attribution_failures: u64,
    /// `getBlock` calls made by those searches.
    pub blocks_fetched: u64,
    /// Chain blocks added to the selected chain (`VirtualChainChanged`).
    pub chain_blocks_added: u64,
    /// Chain changes that removed chain blocks.
    pub reorgs: u64,
    /// Transactions reported accepted that a reorg orphaned ([`ChainEvent::Unaccepted`]).
    pub unaccepted: u64,
    /// News or requests dropped because a queue was full.
    pub dropped: u64,
    /// The last error, if the client is not ready because of it.
    pub last_error: Option<KaspadError>,
    /// The node's last reported virtual DAA score.
    pub virtual_daa_score: u64,
}

struct Shared {
    config: KaspadConfig,
    address: String,
    ready: AtomicBool,
    stats: Mutex<KaspadStats>,
    known: Mutex<Known>,
    retries: Mutex<VecDeque<ChainRequest>>,
    /// Transactions kaspad took whose acceptance the client has not heard of, oldest first.
    pending: Mutex<VecDeque<(TransactionId, igra_proto::EventId, Transaction)>>,
    news: Sender<Input>,
    anchor: Mutex<Anchor>,
    /// The current session's attribution queue.
    attribution: Mutex<Option<tokio::sync::mpsc::Sender<Outpoint>>>,
    /// Outputs queued for attribution or being searched for.
    attributing: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value is changed by whole operations only: a panic cannot leave it half-changed.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, KaspadStats> {
        lock(&self.stats)
    }

    fn send(&self, input: Input) {
        self.deliver(input, &mut lock(&self.known));
    }

    /// Sends `input` to the runner, noting the spends and acceptances it reports in `known` first.
    fn deliver(&self, input: Input, known: &mut Known) {
        // An accepted transaction (or the spender of a spend) need not be submitted again.
        match &input {
            Input::Chain(ChainEvent::Spent { outpoint, by, .. }) => {
                known.note_spent(*outpoint, *by);
                self.forget_pending(*by);
            }
            Input::Chain(ChainEvent::Accepted { transaction_id, .. }) => {
                known.note_accepted(*transaction_id);
                self.forget_pending(*transaction_id);
            }
            _ => {}
        }
        if self.news.try_send(input).is_err() && !self.news.is_closed() {
            self.stats().dropped += 1;
            tracing::warn!("kaspad news dropped: the runner's chain queue is full");
        }
    }

    /// Sends news a background task read from the chain or the UTXO index, unless a reorg has taken
    /// the transaction it names off the chain since (the notification loop heard of the reorg while the
    /// task was reading): a stale spend would start a conflict's finality clock on an unspent output.
    /// Checked and noted under one lock, so a reorg heard of just after still finds it reported.
    fn send_found(&self, event: ChainEvent) {
        let mut known = lock(&self.known);
        let id = match event {
            ChainEvent::Spent { by, .. } => Some(by),
            ChainEvent::Accepted { transaction_id, .. } => Some(transaction_id),
            _ => None,
        };
        if id.is_some_and(|id| known.window.orphaned(&id)) {
            tracing::info!(?event, "found on the chain, then orphaned by a reorg: not reported");
            return;
        }
        self.deliver(Input::Chain(event), &mut known);
    }

    fn hold_for_retry(&self, request: ChainRequest) {
        let mut retries = lock(&self.retries);
        if retries.len() >= MAX_RETRIES_HELD {
            retries.pop_front();
            self.stats().dropped += 1;
        }
        retries.push_back(request);
    }

    /// Keeps `tx`, which kaspad took, for resubmission until its acceptance is heard of.
    fn keep_pending(&self, id: TransactionId, event_id: igra_proto::EventId, tx: Transaction) {
        let mut pending = lock(&self.pending);
        if pending.iter().any(|(p, _, _)| *p == id) {
            return;
        }
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
            self.stats().dropped += 1;
        }
        pending.push_back((id, event_id, tx));
    }

    /// Forgets a transaction kaspad refused for good or reported accepted.
    fn forget_pending(&self, id: TransactionId) {
        lock(&self.pending).retain(|(p, _, _)| *p != id);
    }

    /// Submits every pending transaction again.
    fn resubmit_pending(self: &Arc<Self>, rpc: &KaspadRpc) {
        let pending: Vec<_> = lock(&self.pending).iter().cloned().collect();
        if pending.is_empty() {
            return;
        }
        tracing::debug!(count = pending.len(), "submitting unaccepted transactions again");
        self.stats().resubmitted += pending.len() as u64;
        for (_, event_id, transaction) in pending {
            serve(self, rpc, ChainRequest::Submit { event_id, transaction });
        }
    }

    /// Queues `outpoints`, removed with no known spender, for a search of the virtual chain; those
    /// that do not fit are counted unresolved.
    fn attribute(&self, outpoints: &[Outpoint]) {
        let queue = lock(&self.attribution).clone();
        for &outpoint in outpoints {
            self.attributing.fetch_add(1, Ordering::AcqRel);
            if queue.as_ref().is_none_or(|q| q.try_send(outpoint).is_err()) {
                self.attributing.fetch_sub(1, Ordering::AcqRel);
                self.stats().unresolved_spends += 1;
                tracing::warn!(?outpoint, "attribution queue full or closed: spender unresolved");
            }
        }
    }
}

/// The chain client of one member: cheap to clone, all clones share one connection task.
#[derive(Clone)]
pub struct KaspadClient {
    requests: Sender<ChainRequest>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KaspadClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KaspadClient").field("url", &self.shared.config.url).finish_non_exhaustive()
    }
}

impl KaspadClient {
    /// Starts the client's task on the current tokio runtime; news arrives on the returned receiver.
    /// The task ends when every clone of the client is dropped.
    pub fn start(config: KaspadConfig) -> Result<(Self, Receiver<Input>), KaspadError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| KaspadError::NoRuntime)?;
        let address = address_for_script(&config.group_script, Prefix::from(config.network))
            .ok_or_else(|| KaspadError::Malformed {
                method: "config",
                detail: "group script has no address".into(),
            })?
            .encode();
        let (news, news_rx) = async_channel::bounded(NEWS_QUEUE);
        let (requests, requests_rx) = async_channel::bounded(REQUEST_QUEUE);
        let shared = Arc::new(Shared {
            config,
            address,
            ready: AtomicBool::new(false),
            stats: Mutex::new(KaspadStats::default()),
            known: Mutex::new(Known::default()),
            retries: Mutex::new(VecDeque::new()),
            pending: Mutex::new(VecDeque::new()),
            news,
            anchor: Mutex::new(Anchor::default()),
            attribution: Mutex::new(None),
            attributing: AtomicUsize::new(0),
        });
        runtime.spawn(run(Arc::clone(&shared), requests_rx));
        Ok((Self { requests, shared }, news_rx))
    }

    /// The group's address as the node knows it.
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    /// The client's counters.
    pub fn stats(&self) -> KaspadStats {
        self.shared.stats().clone()
    }
}

impl ChainClient for KaspadClient {
    fn request(&self, request: ChainRequest) {
        if self.requests.try_send(request).is_err() {
            self.shared.stats().dropped += 1;
            tracing::warn!("kaspad request dropped: the client's queue is full");
        }
    }

    fn ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }
}

/// The connection task: sessions separated by backoff, until the client is dropped.
async fn run(shared: Arc<Shared>, requests: Receiver<ChainRequest>) {
    let mut attempt = 0u32;
    loop {
        let established = match session(&shared, &requests).await {
            Ok(()) => return,
            Err((established, e)) => {
                shared.ready.store(false, Ordering::Release);
                tracing::warn!(url = %shared.config.url, error = %e, "kaspad session ended; redialing");
                shared.stats().last_error = Some(e);
                established
            }
        };
        if requests.is_closed() {
            return;
        }
        attempt = if established { 0 } else { attempt.saturating_add(1) };
        let delay = shared.config.backoff.delay(attempt, getrandom::u64().unwrap_or_default());
        tokio::time::sleep(delay).await;
    }
}

/// One connection: `Ok` when the client was dropped; otherwise the error and whether the session got
/// as far as being ready (which resets the backoff).
async fn session(shared: &Arc<Shared>, requests: &Receiver<ChainRequest>) -> Result<(), (bool, KaspadError)> {
    let config = &shared.config;
    let fail = |e| (false, e);
    let (rpc, mut notes) =
        KaspadRpc::connect(&config.url, config.connect_timeout, config.call_timeout).await.map_err(fail)?;
    let info = rpc.server_info().await.map_err(fail)?;
    check(&info, config.network).map_err(fail)?;
    // The anchor is read before subscribing: every removal this session hears of is accepted above it,
    // and, if the previous session's anchor is kept, every spend made while the client was away.
    let kept = match rpc.sink().await {
        Ok(sink) => lock(&shared.anchor).resume(sink, info.virtual_daa_score),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the sink; out-of-band spends are not attributed");
            false
        }
    };
    let (queue, queued) = tokio::sync::mpsc::channel(attribution::ATTRIBUTION_QUEUE);
    *lock(&shared.attribution) = Some(queue);
    tokio::spawn(attribute(Arc::clone(shared), rpc.clone(), queued));
    rpc.subscribe(json!({"UtxosChanged": {"addresses": [shared.address]}})).await.map_err(fail)?;
    rpc.subscribe(json!({"VirtualDaaScoreChanged": {}})).await.map_err(fail)?;
    // kaspad 2.1.0 reads this scope's field in snake case (camel case is refused as undecodable).
    rpc.subscribe(json!({"VirtualChainChanged": {"include_accepted_transaction_ids": true}}))
        .await
        .map_err(fail)?;
    let gap = match (shared.stats().sessions, kept) {
        (0, _) => Gap::None,
        (_, true) => Gap::Searchable,
        (_, false) => Gap::TooLong,
    };
    snapshot_after(shared, &rpc, gap).await.map_err(fail)?;
    lock(&shared.anchor).gap_closed();
    shared.ready.store(true, Ordering::Release);
    {
        let mut stats = shared.stats();
        stats.sessions += 1;
        stats.last_error = None;
    }
    tracing::info!(url = %config.url, address = %shared.address, "kaspad session ready");
    let held: Vec<ChainRequest> = lock(&shared.retries).drain(..).collect();
    for request in held {
        serve(shared, &rpc, request);
    }
    // The node may have restarted without its mempool.
    shared.resubmit_pending(&rpc);
    let mut health = tokio::time::interval(config.health_interval);
    health.tick().await;
    let mut resubmit = tokio::time::interval(config.resubmit_interval);
    resubmit.tick().await;
    let lost = |e| (true, e);
    loop {
        tokio::select! {
            note = notes.recv() => {
                let Some(note) = note else { return Err(lost(KaspadError::Closed)) };
                on_notification(shared, &rpc, note);
                if rpc.lost_notifications() {
                    let (shared, rpc) = (Arc::clone(shared), rpc.clone());
                    tokio::spawn(async move {
                        if let Err(e) = snapshot_after(&shared, &rpc, Gap::Searchable).await {
                            tracing::warn!(error = %e, "kaspad snapshot failed; the next session sends one");
                        }
                    });
                }
            }
            request = requests.recv() => match request {
                Ok(request) => serve(shared, &rpc, request),
                Err(_) => return Ok(()),
            },
            _ = resubmit.tick() => shared.resubmit_pending(&rpc),
            _ = health.tick() => {
                let info = rpc.server_info().await.map_err(lost)?;
                check(&info, config.network).map_err(lost)?;
                shared.ready.store(info.is_synced, Ordering::Release);
                let newer = {
                    let mut stats = shared.stats();
                    let newer = info.virtual_daa_score > stats.virtual_daa_score;
                    stats.virtual_daa_score = stats.virtual_daa_score.max(info.virtual_daa_score);
                    newer
                };
                if newer {
                    shared.send(Input::Chain(ChainEvent::DaaScore(info.virtual_daa_score)));
                }
                match rpc.sink().await {
                    Ok(sink) => {
                        let idle = shared.attributing.load(Ordering::Acquire) == 0;
                        lock(&shared.anchor).observe(sink, info.virtual_daa_score, idle);
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot read the sink"),
                }
            }
        }
    }
}

/// Refuses a node on another network or without a UTXO index.
fn check(info: &ServerInfo, network: Network) -> Result<(), KaspadError> {
    let expected = network_id(network);
    if info.network_id != expected {
        return Err(KaspadError::WrongNetwork { expected, actual: info.network_id.clone() });
    }
    if !info.has_utxo_index {
        return Err(KaspadError::NoUtxoIndex);
    }
    Ok(())
}

/// Sends the runner the group's outputs now.
async fn snapshot(shared: &Shared, rpc: &KaspadRpc) -> Result<(), KaspadError> {
    snapshot_after(shared, rpc, Gap::None).await.map(drop)
}

/// What preceded a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// Nothing: the client was listening.
    None,
    /// Notifications were missed, and the anchor is older than anything spent meanwhile.
    Searchable,
    /// Notifications were missed for too long: the anchor started over.
    TooLong,
}

/// Sends the runner the group's outputs now; after `gap`, the outputs that vanished meanwhile (spent
/// while the client was not listening) are searched for on the chain, as a removal would have been.
/// Returns the snapshot's outputs.
async fn snapshot_after(
    shared: &Shared,
    rpc: &KaspadRpc,
    gap: Gap,
) -> Result<std::collections::HashSet<Outpoint>, KaspadError> {
    let score = rpc.virtual_daa_score().await?;
    let records = rpc.utxos_by_addresses(std::slice::from_ref(&shared.address)).await?;
    let script = &shared.config.group_script;
    let utxos: Vec<_> =
        records.into_iter().map(|r| r.utxo).filter(|u| u.entry.script_public_key == *script).collect();
    // Only a snapshot after a gap (or the first) resets the known outputs: a routine one may race
    // notifications still queued, and must not swallow what a gap snapshot would find missing.
    let gone = {
        let mut known = lock(&shared.known);
        if gap == Gap::None && known.has_outputs() {
            Vec::new()
        } else {
            known.snapshot(utxos.iter().map(|u| u.outpoint))
        }
    };
    match gap {
        _ if gone.is_empty() => {}
        Gap::Searchable => {
            tracing::info!(outputs = ?gone, "group outputs spent while the client was not listening; searching the chain");
            shared.attribute(&gone);
        }
        Gap::TooLong => {
            shared.stats().unresolved_spends += gone.len() as u64;
            tracing::warn!(outputs = ?gone, "group outputs spent during a long disconnection: spenders not searched");
        }
        Gap::None => {}
    }
    {
        let mut stats = shared.stats();
        stats.snapshots += 1;
        stats.virtual_daa_score = stats.virtual_daa_score.max(score);
    }
    let outpoints = utxos.iter().map(|u| u.outpoint).collect();
    shared.send(Input::Utxos { utxos, virtual_daa_score: score });
    Ok(outpoints)
}

/// Starts serving `request` in its own task (each call is bounded by the call timeout).
fn serve(shared: &Arc<Shared>, rpc: &KaspadRpc, request: ChainRequest) {
    let (shared, rpc) = (Arc::clone(shared), rpc.clone());
    tokio::spawn(async move {
        match request {
            ChainRequest::FetchUtxos => {
                if let Err(e) = snapshot(&shared, &rpc).await {
                    tracing::warn!(error = %e, "kaspad snapshot failed; the next session sends one");
                }
            }
            ChainRequest::Submit { event_id, transaction } => {
                submit(&shared, &rpc, event_id, transaction).await;
            }
        }
    });
}

async fn submit(shared: &Arc<Shared>, rpc: &KaspadRpc, event_id: igra_proto::EventId, tx: Transaction) {
    let id = transaction_id(&tx);
    lock(&shared.known).remember(id, tx.clone());
    shared.stats().submitted += 1;
    let outcome = match rpc.submit_transaction(&tx).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(%event_id, transaction = %id, error = %e, "submission not delivered; retried after reconnect");
            shared.hold_for_retry(ChainRequest::Submit { event_id, transaction: tx });
            return;
        }
    };
    tracing::debug!(%event_id, transaction = %id, %outcome, "kaspad submission");
    match outcome {
        SubmitOutcome::Accepted { .. } | SubmitOutcome::AlreadyInMempool => {
            shared.stats().accepted += 1;
            shared.keep_pending(id, event_id, tx);
        }
        SubmitOutcome::AlreadyAccepted => {
            shared.stats().accepted += 1;
            shared.forget_pending(id);
            let inputs: Vec<Outpoint> = tx.inputs.iter().map(|i| i.previous_outpoint).collect();
            verify(shared, rpc, id, &inputs, IfNotFound::Search).await;
        }
        SubmitOutcome::DoubleSpend { outpoint, spender } => {
            shared.stats().double_spends += 1;
            shared.forget_pending(id);
            tracing::info!(%event_id, transaction = %id, ?outpoint, ?spender, "double spend refused");
            // Remember the spender, so that its acceptance is recognised as the spend of our inputs.
            if let Some(spender) = spender {
                match rpc.mempool_transaction(spender).await {
                    Ok(Some(other)) => lock(&shared.known).remember(spender, other),
                    Ok(None) => tracing::debug!(%spender, "double spender already left the mempool"),
                    Err(e) => tracing::warn!(%spender, error = %e, "cannot fetch the double spender"),
                }
            }
        }
        other => {
            shared.stats().rejected += 1;
            shared.forget_pending(id);
            tracing::warn!(%event_id, transaction = %id, outcome = %other, "kaspad refused a transaction");
        }
    }
}

fn on_notification(shared: &Arc<Shared>, rpc: &KaspadRpc, note: Notification) {
    match note {
        Notification::VirtualChainChanged(chain) => {
            let orphaned = news::chain_changed(&mut lock(&shared.known), &chain);
            {
                let mut stats = shared.stats();
                stats.chain_blocks_added += chain.added.len() as u64;
                stats.reorgs += u64::from(!chain.removed.is_empty());
            }
            if !orphaned.unaccepted.is_empty() || !orphaned.inputs.is_empty() {
                tracing::warn!(transactions = ?orphaned.unaccepted, removed = chain.removed.len(), "a reorg orphaned accepted transactions");
                after_reorg(shared, rpc, &orphaned.unaccepted, orphaned.inputs);
            }
        }
        Notification::VirtualDaaScore(score) => {
            {
                let mut stats = shared.stats();
                stats.virtual_daa_score = stats.virtual_daa_score.max(score);
            }
            shared.send(Input::Chain(ChainEvent::DaaScore(score)));
        }
        Notification::UtxosChanged { added, removed } => {
            let resolution = news::resolve(&mut lock(&shared.known), &added, &removed);
            let lost: Vec<TransactionId> = resolution
                .news
                .iter()
                .filter_map(|e| match e {
                    ChainEvent::Unaccepted { transaction_id } => Some(*transaction_id),
                    _ => None,
                })
                .collect();
            for event in resolution.news.into_iter().filter(|e| !matches!(e, ChainEvent::Unaccepted { .. })) {
                shared.send(Input::Chain(event));
            }
            if !lost.is_empty() {
                let inputs = lock(&shared.known).inputs_of(&lost);
                after_reorg(shared, rpc, &lost, inputs);
            }
            if !resolution.unresolved.is_empty() {
                tracing::info!(outputs = ?resolution.unresolved, "group outputs spent by a transaction this client does not know; searching the chain");
                shared.attribute(&resolution.unresolved);
            }
            for (id, spent) in resolution.verify {
                let (shared, rpc) = (Arc::clone(shared), rpc.clone());
                tokio::spawn(async move { verify(&shared, &rpc, id, &spent, IfNotFound::Search).await });
            }
        }
    }
}

/// After a reorg orphaned transactions: tells the node of those it had reported (`lost`), then, once
/// the UTXO index has caught up with the reorg (it follows the chain change), sends a fresh snapshot
/// (the orphans' inputs may be spendable again, their outputs are gone) and searches the chain for the
/// spenders of those of the orphans' `inputs` that did not come back: the new chain may have accepted
/// another transaction spending them (two templates that collided on an input), which the node must
/// learn.
fn after_reorg(shared: &Arc<Shared>, rpc: &KaspadRpc, lost: &[TransactionId], inputs: Vec<Outpoint>) {
    shared.stats().unaccepted += lost.len() as u64;
    for &transaction_id in lost {
        shared.send(Input::Chain(ChainEvent::Unaccepted { transaction_id }));
    }
    let (shared, rpc) = (Arc::clone(shared), rpc.clone());
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.attribution_retry.saturating_mul(REORG_SETTLE_RETRIES)).await;
        match snapshot_after(&shared, &rpc, Gap::None).await {
            Ok(back) => {
                let gone: Vec<Outpoint> = inputs.into_iter().filter(|o| !back.contains(o)).collect();
                if !gone.is_empty() {
                    tracing::info!(outputs = ?gone, "inputs of an orphaned transaction stay spent; searching the chain");
                    shared.attribute(&gone);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "kaspad snapshot after a reorg failed; the next session sends one");
            }
        }
    });
}

/// What [`verify`] does with the outputs when the transaction is not found accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfNotFound {
    /// Queue them for a search of the virtual chain.
    Search,
    /// Nothing: a search already ended without naming their spender (the caller counts them).
    Report,
}

/// Checks in the UTXO index whether remembered transaction `id` was accepted (an output of it exists)
/// and if so reports it and the outputs it spent. Returns whether it was found.
async fn verify(
    shared: &Shared,
    rpc: &KaspadRpc,
    id: TransactionId,
    spent: &[Outpoint],
    if_not: IfNotFound,
) -> bool {
    let prefix = Prefix::from(shared.config.network);
    let addresses: Vec<String> = {
        let known = lock(&shared.known);
        let Some(tx) = known.get(&id) else { return false };
        let mut list: Vec<String> = tx
            .outputs
            .iter()
            .filter_map(|o| address_for_script(&o.script_public_key, prefix).map(|a| a.encode()))
            .collect();
        list.dedup();
        list
    };
    match rpc.utxos_by_addresses(&addresses).await {
        Ok(records) => {
            if let Some(found) = records.iter().find(|r| r.utxo.outpoint.transaction_id == id) {
                for event in news::verified(id, found.utxo.entry.block_daa_score, spent) {
                    shared.send_found(event);
                }
                return true;
            }
            // Not accepted (or every output of it already spent again): another transaction spent
            // these outputs, or this one did and left no trace in the index. The chain knows.
            if if_not == IfNotFound::Search {
                tracing::info!(transaction = %id, "no output of the transaction is in the UTXO index; searching the chain");
                shared.attribute(spent);
            }
        }
        Err(e) => {
            tracing::warn!(transaction = %id, error = %e, "cannot verify an acceptance");
            if if_not == IfNotFound::Search {
                // The outputs are gone from what the client knows: search rather than lose them.
                shared.attribute(spent);
            }
        }
    }
    false
}

/// The attribution task of one session: searches the virtual chain for the spenders of queued outputs
/// (a batch at a time) and reports them. Ends when its session's queue is replaced and drained.
async fn attribute(shared: Arc<Shared>, rpc: KaspadRpc, mut queued: tokio::sync::mpsc::Receiver<Outpoint>) {
    while let Some(first) = queued.recv().await {
        let mut wanted = vec![first];
        while wanted.len() < attribution::MAX_SPENDS_PER_SEARCH {
            match queued.try_recv() {
                Ok(outpoint) => wanted.push(outpoint),
                Err(_) => break,
            }
        }
        let queued = wanted.len();
        // An output can be queued twice (two remembered candidates failed verification): look once.
        wanted.sort_unstable();
        wanted.dedup();
        let anchor = lock(&shared.anchor).current();
        let mut search = Search::new(wanted.iter().copied(), attribution::MAX_BLOCKS_PER_SEARCH);
        let outcome = match anchor {
            Some(anchor) => tokio::time::timeout(
                attribution::SEARCH_TIMEOUT,
                search_chain(&shared, &rpc, &mut search, anchor),
            )
            .await
            .unwrap_or(Err(KaspadError::Timeout { method: "getVirtualChainFromBlock" })),
            None => Err(KaspadError::Malformed { method: "getSink", detail: "no anchor block".into() }),
        };
        // Also after the last attempt: the chain change may have come while it ran.
        search.forget(|o| lock(&shared.known).gone_with_orphan(o));
        let missing = search.missing();
        {
            let mut stats = shared.stats();
            stats.attributed_spends += (wanted.len() - missing.len() - search.forgotten()) as u64;
            stats.blocks_fetched += search.blocks_fetched() as u64;
            if !missing.is_empty() || outcome.is_err() {
                stats.attribution_failures += 1;
            }
        }
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, missing = ?missing, "searching the virtual chain for spenders failed");
        } else if !missing.is_empty() {
            tracing::warn!(missing = ?missing, blocks = search.blocks_fetched(), "spenders not found on the virtual chain");
        }
        let unresolved =
            tokio::time::timeout(attribution::SEARCH_TIMEOUT, verify_learned(&shared, &rpc, &missing))
                .await
                .unwrap_or(missing);
        if !unresolved.is_empty() {
            shared.stats().unresolved_spends += unresolved.len() as u64;
            tracing::warn!(outputs = ?unresolved, "spenders unresolved");
        }
        shared.attributing.fetch_sub(queued, Ordering::AcqRel);
    }
}

/// Checks, for outputs a search did not attribute, the transactions the client has learned since that
/// spend them (its own submission of a transaction another member's reached kaspad first, heard of
/// after the removal): the UTXO index settles those. Returns the outputs still without a spender.
async fn verify_learned(shared: &Shared, rpc: &KaspadRpc, missing: &[Outpoint]) -> Vec<Outpoint> {
    let mut candidates: BTreeMap<TransactionId, Vec<Outpoint>> = BTreeMap::new();
    {
        let known = lock(&shared.known);
        for outpoint in missing {
            for id in known.spenders_of(outpoint) {
                candidates.entry(*id).or_default().push(*outpoint);
            }
        }
    }
    let mut unresolved: BTreeSet<Outpoint> = missing.iter().copied().collect();
    for (id, spent) in candidates {
        if verify(shared, rpc, id, &spent, IfNotFound::Report).await {
            for outpoint in &spent {
                unresolved.remove(outpoint);
            }
        }
    }
    unresolved.into_iter().collect()
}

/// Runs `search`'s attempts from `anchor`, reporting spends as they are found.
async fn search_chain(
    shared: &Shared,
    rpc: &KaspadRpc,
    search: &mut Search,
    anchor: BlockHash,
) -> Result<(), KaspadError> {
    let mut delay = shared.config.attribution_retry;
    for attempt in 0..attribution::SEARCH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        // The UTXO diff of a reorg can come before its chain change: a removed output of a
        // transaction the reorg orphaned is no spend, and no chain block will name a spender.
        search.forget(|o| lock(&shared.known).gone_with_orphan(o));
        if search.is_done() {
            break;
        }
        for event in search.step(rpc, anchor).await? {
            tracing::info!(?event, "out-of-band spend attributed from the virtual chain");
            shared.send_found(event);
        }
        if search.is_done() || search.is_exhausted() {
            break;
        }
    }
    Ok(())
}
