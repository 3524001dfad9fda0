//! The runtime-neutral transport: accept loop, dial loops, handshakes, per-connection read and write
//! loops, queues and counters. A runtime supplies sockets, timers and task spawning through [`Runtime`].

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_channel::{Receiver, Sender, TrySendError};
use futures_lite::future::or;
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use igra_proto::node::Destination;
use igra_proto::{Group, MemberIndex, Signer};

use super::backoff::Backoff;
use super::frame::{FrameDecoder, FrameError, encode_frame, encode_frame_into};
use super::handshake::{HANDSHAKE_MAX_FRAME, Handshake, HandshakeError, HandshakeStep, NONCE_BYTES};
use super::{
    DisconnectReason, INCOMING_QUEUE_LEN, MAX_PENDING_HANDSHAKES, RejectReason, TransportConfig,
    TransportHandle, TransportStats,
};

/// Bytes asked of the socket per read.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// The most bytes of queued frames gathered into one write.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// Pause after a failed `accept` (for example out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What the engine needs from an async runtime.
pub(crate) trait Runtime: Clone + Send + Sync + 'static {
    /// A connected TCP stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A bound TCP listener.
    type Listener: Send + Sync + 'static;

    /// Runs `task` in the background.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
    /// Opens a TCP connection to `addr`.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Accepts the next connection.
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// Signals stop when the last [`TransportHandle`] clone is dropped.
pub(crate) struct StopOnDrop(Sender<()>);

impl StopOnDrop {
    pub(crate) fn stop(&self) {
        self.0.close();
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One peer's send queue.
struct PeerQueue {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

/// The connection slot of a peer: which connection is current.
#[derive(Default)]
struct Slot {
    generation: u64,
    /// Closing it tells the current connection to end; `None` while disconnected.
    cancel: Option<Sender<()>>,
}

/// Counters and slots behind one lock.
#[derive(Default)]
struct State {
    slots: BTreeMap<MemberIndex, Slot>,
    dropped: BTreeMap<MemberIndex, u64>,
    unroutable: u64,
    rejected: BTreeMap<RejectReason, u64>,
    disconnects: BTreeMap<DisconnectReason, u64>,
    dial_failures: u64,
    /// Cloned into every task; taken at shutdown so that `done` closes when the last task ends.
    tasks: Option<Sender<()>>,
}

/// The state every task of one transport shares.
pub(crate) struct Shared {
    me: MemberIndex,
    group: Group,
    signer: Arc<dyn Signer + Send + Sync>,
    max_frame: u32,
    backoff: Backoff,
    handshake_timeout: Duration,
    queues: BTreeMap<MemberIndex, PeerQueue>,
    incoming_tx: Sender<(MemberIndex, Vec<u8>)>,
    incoming_rx: Receiver<(MemberIndex, Vec<u8>)>,
    stop: Receiver<()>,
    pending_handshakes: AtomicUsize,
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    state: Mutex<State>,
}

/// Why a connection attempt or a handshake failed.
enum ConnError {
    Reject(RejectReason),
    Connect(io::Error),
}

impl From<HandshakeError> for ConnError {
    fn from(error: HandshakeError) -> Self {
        Self::Reject(error.into())
    }
}

impl From<FrameError> for ConnError {
    fn from(_: FrameError) -> Self {
        Self::Reject(RejectReason::TooLarge)
    }
}

impl From<io::Error> for ConnError {
    fn from(_: io::Error) -> Self {
        Self::Reject(RejectReason::Io)
    }
}

/// Starts the tasks of a transport whose configuration was validated and whose listener is bound.
pub(crate) fn start<R: Runtime>(
    runtime: &R,
    listener: R::Listener,
    local_addr: SocketAddr,
    config: TransportConfig,
    signer: Arc<dyn Signer + Send + Sync>,
) -> TransportHandle {
    let (stop_tx, stop_rx) = async_channel::bounded(1);
    let (tasks_tx, done_rx) = async_channel::bounded(1);
    let (incoming_tx, incoming_rx) = async_channel::bounded(INCOMING_QUEUE_LEN);
    let queues = config
        .peers
        .iter()
        .map(|&(peer, _)| {
            let (tx, rx) = async_channel::bounded(config.queue_len);
            (peer, PeerQueue { tx, rx })
        })
        .collect();
    let shared = Arc::new(Shared {
        me: config.me,
        group: config.group,
        signer,
        max_frame: config.max_frame,
        backoff: config.backoff,
        handshake_timeout: config.handshake_timeout,
        queues,
        incoming_tx,
        incoming_rx,
        stop: stop_rx,
        pending_handshakes: AtomicUsize::new(0),
        frames_sent: AtomicU64::new(0),
        frames_received: AtomicU64::new(0),
        state: Mutex::new(State { tasks: Some(tasks_tx), ..State::default() }),
    });
    tracing::info!(me = config.me.0, %local_addr, "transport listening");
    spawn_task(runtime, &shared, accept_loop(runtime.clone(), Arc::clone(&shared), listener));
    for &(peer, addr) in config.peers.iter().filter(|(peer, _)| *peer > config.me) {
        spawn_task(runtime, &shared, dial_loop(runtime.clone(), Arc::clone(&shared), peer, addr));
    }
    TransportHandle { shared, stop: Arc::new(StopOnDrop(stop_tx)), done: done_rx, local_addr }
}

/// Spawns `task` holding a task token, unless the transport is shutting down.
fn spawn_task<R: Runtime>(runtime: &R, shared: &Shared, task: impl Future<Output = ()> + Send + 'static) {
    let Some(token) = shared.lock().tasks.clone() else {
        return;
    };
    runtime.spawn(async move {
        let _token = token;
        task.await;
    });
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn me(&self) -> MemberIndex {
        self.me
    }

    /// Completes when the transport is told to stop.
    async fn stopped(&self) {
        // Nothing is ever sent: `recv` fails once the stop sender is closed or dropped.
        let _ = self.stop.recv().await;
    }

    pub(crate) fn send(&self, to: Destination, frame: Vec<u8>) {
        let oversized = u32::try_from(frame.len()).map_or(true, |len| len > self.max_frame);
        match to {
            Destination::All => {
                for (&peer, queue) in &self.queues {
                    self.enqueue(peer, queue, frame.clone(), oversized);
                }
            }
            Destination::Member(peer) => {
                if let Some(queue) = self.queues.get(&peer) {
                    self.enqueue(peer, queue, frame, oversized);
                } else {
                    tracing::warn!(peer = peer.0, "frame for a member that is not a peer dropped");
                    self.lock().unroutable += 1;
                }
            }
        }
    }

    fn enqueue(&self, peer: MemberIndex, queue: &PeerQueue, frame: Vec<u8>, oversized: bool) {
        let len = frame.len();
        let why = if oversized {
            "above the frame limit"
        } else {
            match queue.tx.try_send(frame) {
                Ok(()) => return,
                Err(TrySendError::Full(_)) => "queue full",
                Err(TrySendError::Closed(_)) => "transport stopped",
            }
        };
        tracing::debug!(peer = peer.0, len, why, "frame dropped");
        *self.lock().dropped.entry(peer).or_default() += 1;
    }

    pub(crate) fn incoming(&self) -> Receiver<(MemberIndex, Vec<u8>)> {
        self.incoming_rx.clone()
    }

    pub(crate) fn stats(&self) -> TransportStats {
        let state = self.lock();
        TransportStats {
            connected: state.slots.iter().filter(|(_, s)| s.cancel.is_some()).map(|(&p, _)| p).collect(),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            frames_received: self.frames_received.load(Ordering::Relaxed),
            dropped: state.dropped.clone(),
            unroutable: state.unroutable,
            rejected: state.rejected.clone(),
            disconnects: state.disconnects.clone(),
            dial_failures: state.dial_failures,
        }
    }

    pub(crate) fn release_tasks(&self) {
        self.lock().tasks = None;
    }

    pub(crate) fn close_incoming(&self) {
        self.incoming_tx.close();
    }

    fn count_failure(&self, peer: Option<MemberIndex>, addr: SocketAddr, error: &ConnError) {
        let peer = peer.map(|p| p.0);
        match error {
            ConnError::Reject(reason) => {
                tracing::warn!(me = self.me.0, ?peer, %addr, ?reason, "connection refused");
                *self.lock().rejected.entry(*reason).or_default() += 1;
            }
            ConnError::Connect(e) => {
                tracing::debug!(me = self.me.0, ?peer, %addr, error = %e, "dial failed");
                self.lock().dial_failures += 1;
            }
        }
    }

    /// Makes a new connection to `peer` current, ending the previous one.
    fn register(self: &Arc<Self>, peer: MemberIndex) -> Registration {
        let (cancel_tx, cancel_rx) = async_channel::bounded(1);
        let mut state = self.lock();
        let slot = state.slots.entry(peer).or_default();
        slot.generation += 1;
        if let Some(previous) = slot.cancel.replace(cancel_tx) {
            previous.close();
        }
        Registration {
            shared: Arc::clone(self),
            peer,
            generation: slot.generation,
            cancel: cancel_rx,
            reason: DisconnectReason::Shutdown,
        }
    }
}

/// An established connection's claim on its peer's slot; releases it when dropped.
struct Registration {
    shared: Arc<Shared>,
    peer: MemberIndex,
    generation: u64,
    cancel: Receiver<()>,
    reason: DisconnectReason,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        *state.disconnects.entry(self.reason).or_default() += 1;
        if let Some(slot) = state.slots.get_mut(&self.peer)
            && slot.generation == self.generation
        {
            slot.cancel = None;
        }
        drop(state);
        tracing::info!(me = self.shared.me.0, peer = self.peer.0, reason = ?self.reason, "peer disconnected");
    }
}

/// Counts an inbound connection in its handshake; uncounts it when dropped.
struct Pending<'a>(&'a AtomicUsize);

impl<'a> Pending<'a> {
    fn enter(counter: &'a AtomicUsize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_PENDING_HANDSHAKES).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter))
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `future` unless the transport stops first.
async fn until_stopped<T>(shared: &Shared, future: impl Future<Output = T>) -> Option<T> {
    or(async { Some(future.await) }, async {
        shared.stopped().await;
        None
    })
    .await
}

/// Runs `future` for at most `limit`.
async fn within<R: Runtime, T>(
    runtime: &R,
    limit: Duration,
    future: impl Future<Output = Result<T, ConnError>>,
) -> Result<T, ConnError> {
    or(future, async {
        runtime.sleep(limit).await;
        Err(ConnError::Reject(RejectReason::Timeout))
    })
    .await
}

async fn accept_loop<R: Runtime>(runtime: R, shared: Arc<Shared>, listener: R::Listener) {
    while let Some(accepted) = until_stopped(&shared, R::accept(&listener)).await {
        match accepted {
            Ok((stream, addr)) => {
                let task = inbound(runtime.clone(), Arc::clone(&shared), stream, addr);
                spawn_task(&runtime, &shared, task);
            }
            Err(e) => {
                tracing::warn!(me = shared.me.0, error = %e, "accept failed");
                if until_stopped(&shared, runtime.sleep(ACCEPT_ERROR_PAUSE)).await.is_none() {
                    break;
                }
            }
        }
    }
    tracing::info!(me = shared.me.0, "transport stopped listening");
}

/// An accepted connection: listener side of the handshake, then frames.
async fn inbound<R: Runtime>(runtime: R, shared: Arc<Shared>, stream: R::Stream, addr: SocketAddr) {
    let Some(pending) = Pending::enter(&shared.pending_handshakes) else {
        shared.count_failure(None, addr, &ConnError::Reject(RejectReason::TooManyPending));
        return;
    };
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    let mut decoder = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    let handshake = async {
        let mut handshake = Handshake::listen(&shared.group, shared.me, nonce()?)?;
        let peer =
            run_handshake(&shared, &mut handshake, None, &mut reader, &mut writer, &mut decoder).await?;
        if shared.queues.contains_key(&peer) {
            Ok(peer)
        } else {
            Err(ConnError::Reject(RejectReason::NotAPeer))
        }
    };
    let result = until_stopped(&shared, within(&runtime, shared.handshake_timeout, handshake)).await;
    drop(pending);
    match result {
        None => {}
        Some(Ok(peer)) => {
            tracing::info!(me = shared.me.0, peer = peer.0, %addr, "peer connected (inbound)");
            connection(&shared, peer, reader, writer, decoder).await;
        }
        Some(Err(error)) => shared.count_failure(None, addr, &error),
    }
}

/// Dials `peer` (a higher index) until the transport stops, redialing with backoff.
async fn dial_loop<R: Runtime>(runtime: R, shared: Arc<Shared>, peer: MemberIndex, addr: SocketAddr) {
    let mut attempt: u32 = 0;
    loop {
        let Some(outcome) = until_stopped(&shared, dial(&runtime, &shared, peer, addr)).await else {
            return;
        };
        match outcome {
            Ok(()) => attempt = 0,
            Err(error) => {
                shared.count_failure(Some(peer), addr, &error);
                attempt = attempt.saturating_add(1);
            }
        }
        let delay = shared.backoff.delay(attempt, getrandom::u64().unwrap_or(u64::MAX));
        tracing::debug!(me = shared.me.0, peer = peer.0, attempt, ?delay, "redialing after backoff");
        if until_stopped(&shared, runtime.sleep(delay)).await.is_none() {
            return;
        }
    }
}

/// One dial: connect, handshake, then carry frames until the connection ends.
async fn dial<R: Runtime>(
    runtime: &R,
    shared: &Arc<Shared>,
    peer: MemberIndex,
    addr: SocketAddr,
) -> Result<(), ConnError> {
    let mut decoder = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    let (reader, writer) = within(runtime, shared.handshake_timeout, async {
        let stream = runtime.connect(addr).await.map_err(ConnError::Connect)?;
        let (mut reader, mut writer) = futures_lite::io::split(stream);
        let (mut handshake, hello) = Handshake::dial(&shared.group, shared.me, peer, nonce()?)?;
        run_handshake(shared, &mut handshake, Some(hello), &mut reader, &mut writer, &mut decoder).await?;
        Ok((reader, writer))
    })
    .await?;
    tracing::info!(me = shared.me.0, peer = peer.0, %addr, "peer connected (outbound)");
    connection(shared, peer, reader, writer, decoder).await;
    Ok(())
}

fn nonce() -> Result<[u8; NONCE_BYTES], ConnError> {
    let mut nonce = [0; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|_| ConnError::Reject(RejectReason::Entropy))?;
    Ok(nonce)
}

/// Exchanges handshake messages until the peer is proven; `first` is the dialer's opening message.
async fn run_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    handshake: &mut Handshake,
    first: Option<Vec<u8>>,
    reader: &mut ReadHalf<S>,
    writer: &mut WriteHalf<S>,
    decoder: &mut FrameDecoder,
) -> Result<MemberIndex, ConnError> {
    if let Some(message) = first {
        write_frame(writer, &message, HANDSHAKE_MAX_FRAME).await?;
    }
    let mut buf = [0; 512];
    loop {
        let message = loop {
            if let Some(message) = decoder.next()? {
                break message;
            }
            let n = reader.read(&mut buf).await?;
            let read =
                buf.get(..n).filter(|r| !r.is_empty()).ok_or(ConnError::Reject(RejectReason::Closed))?;
            decoder.push(read);
        };
        match handshake.receive(&message, &*shared.signer)? {
            HandshakeStep::Reply(reply) => write_frame(writer, &reply, HANDSHAKE_MAX_FRAME).await?,
            HandshakeStep::Established { peer, reply } => {
                if let Some(reply) = reply {
                    write_frame(writer, &reply, HANDSHAKE_MAX_FRAME).await?;
                }
                return Ok(peer);
            }
        }
    }
}

async fn write_frame(
    writer: &mut (impl AsyncWrite + Unpin),
    payload: &[u8],
    max: u32,
) -> Result<(), ConnError> {
    writer.write_all(&encode_frame(payload, max)?).await?;
    writer.flush().await?;
    Ok(())
}

/// Carries frames over an established connection until it ends, is replaced, or the transport stops.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    peer: MemberIndex,
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
    mut decoder: FrameDecoder,
) {
    let Some(queue) = shared.queues.get(&peer) else {
        return;
    };
    let mut registration = shared.register(peer);
    decoder.set_max(shared.max_frame);
    let cancel = registration.cancel.clone();
    let ended =
        or(or(read_loop(shared, peer, reader, decoder), write_loop(shared, &queue.rx, writer)), async {
            let _ = cancel.recv().await;
            DisconnectReason::Replaced
        });
    registration.reason = until_stopped(shared, ended).await.unwrap_or(DisconnectReason::Shutdown);
}

async fn read_loop<S: AsyncRead + Unpin>(
    shared: &Shared,
    peer: MemberIndex,
    mut reader: ReadHalf<S>,
    mut decoder: FrameDecoder,
) -> DisconnectReason {
    let mut buf = vec![0; READ_BUFFER_BYTES];
    loop {
        loop {
            match decoder.next() {
                Ok(Some(frame)) => {
                    shared.frames_received.fetch_add(1, Ordering::Relaxed);
                    if shared.incoming_tx.send((peer, frame)).await.is_err() {
                        return DisconnectReason::Shutdown;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(me = shared.me.0, peer = peer.0, error = %e, "peer sent an oversized frame");
                    return DisconnectReason::TooLarge;
                }
            }
        }
        match reader.read(&mut buf).await {
            Ok(0) => return DisconnectReason::Closed,
            Ok(n) => decoder.push(buf.get(..n).unwrap_or_default()),
            Err(e) => {
                tracing::debug!(me = shared.me.0, peer = peer.0, error = %e, "read failed");
                return DisconnectReason::Io;
            }
        }
    }
}

async fn write_loop<S: AsyncWrite + Unpin>(
    shared: &Shared,
    queue: &Receiver<Vec<u8>>,
    mut writer: WriteHalf<S>,
) -> DisconnectReason {
    // Frames queued while a write was in flight go out together in one write: under load a connection
    // carries several frames per system call instead of one.
    let mut batch = Vec::new();
    while let Ok(first) = queue.recv().await {
        batch.clear();
        let mut frames = 0u64;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            // `send` refuses frames above the limit, so this never fails; skip the frame if it does.
            if encode_frame_into(&mut batch, &frame, shared.max_frame).is_ok() {
                frames += 1;
            }
            if batch.len() < WRITE_BATCH_BYTES {
                next = queue.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            return DisconnectReason::Io;
        }
        shared.frames_sent.fetch_add(frames, Ordering::Relaxed);
    }
    DisconnectReason::Shutdown
}
