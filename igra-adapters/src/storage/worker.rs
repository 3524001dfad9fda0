//! [`StorageWorker`]: a [`Store`] on a thread of its own, with group commit.
//!
//! The async runner must never block its executor on `fsync`. It hands each `Output::Persist` batch to
//! [`StorageHandle::persist`], which only queues it (bounded, never blocking: a full queue is the typed
//! [`StorageError::Full`]). The worker thread waits for a batch, takes everything else already queued
//! (up to [`WorkerLimits::max_batches_per_commit`]), appends it all in one [`Store::append`] (one
//! synced transaction for many batches: group commit) and reports the outcome on an async channel the
//! runner awaits: [`Durable`] lists the batches, in the order they were queued, that the runner may now
//! acknowledge with `Input::Persisted`.
//!
//! A failed append is reported as a [`StorageFailure`] naming every batch that is not durable, and the
//! worker stops: it accepts nothing more ([`StorageError::Stopped`]). A node that cannot persist must
//! not send, so the runner stops the node.

use std::fmt;
use std::io;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, TryRecvError, TrySendError};
use igra_proto::node::{BatchId, Record};

use super::{Store, StoreError};

/// Default of [`WorkerLimits::max_queued_batches`].
pub const DEFAULT_MAX_QUEUED_BATCHES: usize = 1024;
/// Default of [`WorkerLimits::max_batches_per_commit`].
pub const DEFAULT_MAX_BATCHES_PER_COMMIT: usize = 256;
/// Default of [`WorkerLimits::max_unread_reports`].
pub const DEFAULT_MAX_UNREAD_REPORTS: usize = 64;

/// The bounds of a [`StorageWorker`]'s queues. Every limit must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Batches queued and not yet taken by the worker; one more is refused with
    /// [`StorageError::Full`].
    pub max_queued_batches: usize,
    /// The most batches one transaction commits.
    pub max_batches_per_commit: usize,
    /// Reports the runner has not read yet; past this the worker waits for the runner (and so the
    /// batch queue fills up).
    pub max_unread_reports: usize,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        Self {
            max_queued_batches: DEFAULT_MAX_QUEUED_BATCHES,
            max_batches_per_commit: DEFAULT_MAX_BATCHES_PER_COMMIT,
            max_unread_reports: DEFAULT_MAX_UNREAD_REPORTS,
        }
    }
}

/// Batches that are now durable: the runner feeds `Input::Persisted { batch }` for each, in order,
/// and may then release their `SendAfterPersist` frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durable {
    /// The batches, in the order they were queued.
    pub batches: Vec<BatchId>,
    /// How long the append (encoding, writing and the synced commit) took.
    pub elapsed: Duration,
    /// How many records the batches held.
    pub records: usize,
}

/// An append failed: none of these batches is durable, and the worker has stopped.
#[derive(Debug)]
pub struct StorageFailure {
    /// Every batch that was queued and is not durable, in the order they were queued.
    pub batches: Vec<BatchId>,
    /// Why the append failed.
    pub error: StoreError,
}

impl fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} batches could not be persisted: {}", self.batches.len(), self.error)
    }
}

impl std::error::Error for StorageFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Why the worker could not start or take a batch.
#[derive(Debug)]
pub enum StorageError {
    /// The queue holds [`WorkerLimits::max_queued_batches`] batches already.
    Full {
        /// The limit.
        limit: usize,
    },
    /// The worker has stopped (after a failed append, or because the report receiver was dropped).
    Stopped,
    /// A limit of [`WorkerLimits`] is 0.
    InvalidLimit {
        /// The limit's name.
        limit: &'static str,
    },
    /// The operating system refused to start the worker thread.
    Spawn(io::Error),
    /// The worker thread panicked.
    WorkerPanicked,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { limit } => write!(f, "the storage queue is full ({limit} batches)"),
            Self::Stopped => f.write_str("the storage worker has stopped"),
            Self::InvalidLimit { limit } => write!(f, "the storage limit {limit} must be at least 1"),
            Self::Spawn(e) => write!(f, "cannot start the storage thread: {e}"),
            Self::WorkerPanicked => f.write_str("the storage thread panicked"),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// One queued batch.
type Batch = (BatchId, Vec<Record>);

/// One report of the worker, per transaction: the batches it made durable, or the failure after which
/// it stopped. If the channel closes without a failure, the worker ended (shutdown, or its thread died):
/// a runner that still has batches in flight must treat that as a failure too.
pub type StorageReport = Result<Durable, StorageFailure>;

/// Starts storage workers (one thread each, draining its queue into one transaction per commit).
#[derive(Debug)]
pub struct StorageWorker;

impl StorageWorker {
    /// Moves `store` onto a new thread (named `igra-storage`) and returns the handle that queues batches
    /// and the receiver of the worker's reports, one per transaction, in commit order.
    ///
    /// Load the records and take the boot epoch from the store before handing it over.
    pub fn spawn(
        store: Box<dyn Store>,
        limits: WorkerLimits,
    ) -> Result<(StorageHandle, Receiver<StorageReport>), StorageError> {
        for (limit, value) in [
            ("max_queued_batches", limits.max_queued_batches),
            ("max_batches_per_commit", limits.max_batches_per_commit),
            ("max_unread_reports", limits.max_unread_reports),
        ] {
            if value == 0 {
                return Err(StorageError::InvalidLimit { limit });
            }
        }
        let (requests, queue) = async_channel::bounded(limits.max_queued_batches);
        let (reports, receiver) = async_channel::bounded(limits.max_unread_reports);
        let max_per_commit = limits.max_batches_per_commit;
        let thread = thread::Builder::new()
            .name("igra-storage".into())
            .spawn(move || run(store, &queue, &reports, max_per_commit))
            .map_err(StorageError::Spawn)?;
        Ok((StorageHandle { requests, limit: limits.max_queued_batches, thread }, receiver))
    }
}

/// Queues batches for a [`StorageWorker`]. Dropping it lets the worker commit what is queued and exit.
#[derive(Debug)]
pub struct StorageHandle {
    requests: Sender<Batch>,
    limit: usize,
    thread: JoinHandle<()>,
}

impl StorageHandle {
    /// Queues a batch without blocking. Its outcome arrives later on the report receiver.
    pub fn persist(&self, batch: BatchId, records: Vec<Record>) -> Result<(), StorageError> {
        self.requests.try_send((batch, records)).map_err(|error| match error {
            TrySendError::Full(_) => StorageError::Full { limit: self.limit },
            TrySendError::Closed(_) => StorageError::Stopped,
        })
    }

    /// Batches queued and not yet taken by the worker.
    pub fn queued(&self) -> usize {
        self.requests.len()
    }

    /// Stops taking batches, waits until the worker has committed (and reported) every batch already
    /// queued, and joins its thread, which closes the store. Blocks: call it outside the async
    /// executor (or from `spawn_blocking`), and keep reading reports meanwhile if they may fill up.
    pub fn shutdown(self) -> Result<(), StorageError> {
        self.requests.close();
        self.thread.join().map_err(|_| StorageError::WorkerPanicked)
    }
}

/// The worker thread: group commits until the queue closes, an append fails or nobody reads reports.
fn run(
    mut store: Box<dyn Store>,
    queue: &Receiver<Batch>,
    reports: &Sender<StorageReport>,
    max_per_commit: usize,
) {
    let mut group: Vec<Batch> = Vec::new();
    while let Ok(first) = queue.recv_blocking() {
        group.push(first);
        while group.len() < max_per_commit {
            match queue.try_recv() {
                Ok(batch) => group.push(batch),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let started = monotonic_now();
        let appended = store.append(&group);
        let mut batches: Vec<BatchId> = group.iter().map(|(batch, _)| *batch).collect();
        let report = match appended {
            Ok(()) => Ok(Durable {
                batches,
                elapsed: started.elapsed(),
                records: group.iter().map(|(_, records)| records.len()).sum(),
            }),
            Err(error) => {
                // Accept nothing more, and name every batch still queued as lost too.
                queue.close();
                while let Ok((batch, _)) = queue.try_recv() {
                    batches.push(batch);
                }
                Err(StorageFailure { batches, error })
            }
        };
        group.clear();
        let failed = report.is_err();
        if reports.send_blocking(report).is_err() || failed {
            // Nobody listens, or the store failed: stop, closing the queue so `persist` says so.
            queue.close();
            return;
        }
    }
}

/// The monotonic clock, for [`Durable::elapsed`].
#[expect(clippy::disallowed_methods, reason = "the adapters own the clock; this measures the commit")]
fn monotonic_now() -> Instant {
    Instant::now()
}
