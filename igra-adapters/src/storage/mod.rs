//! Durable storage of the node's [`Record`]s: the `Output::Persist` half of the drive loop.
//!
//! The core never writes. It emits `Output::Persist { batch, records }` and holds back every frame of
//! `Output::SendAfterPersist { batch, .. }` until the runtime reports `Input::Persisted { batch }`. This
//! module is the runtime's side of that contract:
//!
//! * [`Store`] is what a backend must do: append batches of records in one atomic, synced transaction,
//!   load every record back in write order, and keep a boot counter for `Node::restore`'s `boot_epoch`.
//! * [`LmdbStore`] is the production backend (LMDB through heed); [`MemoryStore`] keeps the same
//!   contract in memory for tests, with a shared handle so a test can "crash" a node and restore it.
//! * [`StorageWorker`] runs a store on its own thread so the async runner never blocks on `fsync`: the
//!   runner queues batches without blocking ([`StorageHandle::persist`]), the worker commits everything
//!   queued in one transaction (group commit) and reports [`Durable`] on an async channel.
//!
//! The on-disk schema, the durability contract and the backup procedure are in `docs/storage.md`.
//!
//! [`Record`]: igra_proto::node::Record

mod lmdb;
mod memory;
#[cfg(test)]
mod tests;
mod worker;

use std::fmt;
use std::io;
use std::path::PathBuf;

use igra_proto::node::{BatchId, Record};

pub use lmdb::{DEFAULT_MAP_SIZE, LmdbBackup, LmdbOptions, LmdbStore, SCHEMA_VERSION};
pub use memory::MemoryStore;
pub use worker::{
    DEFAULT_MAX_BATCHES_PER_COMMIT, DEFAULT_MAX_QUEUED_BATCHES, DEFAULT_MAX_UNREAD_REPORTS, Durable,
    StorageError, StorageFailure, StorageHandle, StorageReport, StorageWorker, WorkerLimits,
};

/// A durable, append-only log of the node's records, plus its boot counter.
///
/// Every implementation keeps one contract: a call that returns `Ok` is durable (it survives a crash
/// of the process and of the machine), a call that returns `Err` wrote nothing, and [`Store::load`]
/// returns the records of the successful appends, in the order they were appended, except that a
/// store may leave out every record of an event that a later `Record::Released` released (the
/// release itself stays): the compaction that keeps a long-running node's log bounded. Both stores
/// here compact; `Node::restore` gives the same node either way.
pub trait Store: Send + 'static {
    /// Writes all the batches' records, batch after batch and each batch in order, in one atomic,
    /// synced transaction (group commit): after `Ok` all of them are durable, after `Err` none is.
    fn append(&mut self, batches: &[(BatchId, Vec<Record>)]) -> Result<(), StoreError>;

    /// Every record appended and not compacted away, in write order: the input of `Node::restore`.
    fn load(&self) -> Result<Vec<Record>, StoreError>;

    /// Increments the boot counter, stores it durably and returns the new value (1 on the first
    /// start). `Node::restore` needs a `boot_epoch` strictly above the previous run's.
    fn next_boot_epoch(&mut self) -> Result<u64, StoreError>;
}

/// Why a store could not open, write or read.
#[derive(Debug)]
pub enum StoreError {
    /// A file-system operation failed.
    Io {
        /// What was being done.
        operation: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// LMDB failed.
    Lmdb {
        /// What was being done.
        operation: &'static str,
        /// The error.
        source: heed::Error,
    },
    /// The LMDB map is full: reopen with a larger [`LmdbOptions::map_size`].
    MapFull {
        /// The map size in force, in bytes.
        map_size: usize,
    },
    /// The directory was written by a build with another schema. It is left untouched.
    SchemaMismatch {
        /// The version stored in the directory.
        found: u32,
        /// The version this build reads and writes ([`SCHEMA_VERSION`]).
        expected: u32,
    },
    /// The record at this sequence number does not decode.
    Corrupt {
        /// The record's sequence number (its position in write order, from 0).
        sequence: u64,
    },
    /// Records are missing: the log holds fewer (or more) records than were written and not
    /// compacted away, so some record was lost.
    Missing {
        /// How many records the log should hold.
        expected: u64,
        /// How many it holds.
        held: u64,
    },
    /// An entry of the index by event is malformed.
    CorruptIndex,
    /// A value of the meta database is malformed, or the meta database is missing from a directory
    /// that holds records.
    CorruptMeta {
        /// The key.
        key: &'static str,
    },
    /// A record could not be encoded (the protocol's records always can; this is a defect).
    Encode {
        /// The encoder's message.
        reason: String,
    },
    /// The directory is already open in this process. LMDB must not be opened twice in one process.
    AlreadyOpen {
        /// The directory, canonicalized.
        path: PathBuf,
    },
    /// The backup target already holds a data file; backups never overwrite.
    BackupTargetExists {
        /// The data file found.
        path: PathBuf,
    },
    /// The boot counter or the sequence number reached `u64::MAX`.
    CounterExhausted {
        /// Which counter.
        counter: &'static str,
    },
    /// [`MemoryStore::fail_next_append`] asked for this failure.
    InjectedFault,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { operation, path, source } => {
                write!(f, "cannot {operation} {}: {source}", path.display())
            }
            Self::Lmdb { operation, source } => write!(f, "LMDB: cannot {operation}: {source}"),
            Self::MapFull { map_size } => {
                write!(f, "the LMDB map of {map_size} bytes is full; reopen the store with a larger map size")
            }
            Self::SchemaMismatch { found, expected } => write!(
                f,
                "the store has schema version {found} but this build reads version {expected}; \
                 it was left untouched (see docs/storage.md)"
            ),
            Self::Corrupt { sequence } => write!(f, "the record at sequence {sequence} does not decode"),
            Self::Missing { expected, held } => {
                write!(
                    f,
                    "the record log holds {held} records where {expected} were written: records are lost"
                )
            }
            Self::CorruptIndex => f.write_str("an entry of the store's index by event is malformed"),
            Self::CorruptMeta { key } => write!(f, "the store's meta value {key:?} is missing or malformed"),
            Self::Encode { reason } => write!(f, "a record could not be encoded: {reason}"),
            Self::AlreadyOpen { path } => {
                write!(f, "the store at {} is already open in this process", path.display())
            }
            Self::BackupTargetExists { path } => {
                write!(f, "{} exists; a backup never overwrites one", path.display())
            }
            Self::CounterExhausted { counter } => write!(f, "the store's {counter} counter is exhausted"),
            Self::InjectedFault => f.write_str("injected storage fault"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Lmdb { source, .. } => Some(source),
            _ => None,
        }
    }
}
