//! [`LmdbStore`]: the production [`Store`], LMDB through heed.
//!
//! Three databases in one environment (schema version 2, `docs/storage.md`):
//!
//! * `records`: key = sequence number, `u64` big endian (so LMDB's byte order is write order), value =
//!   the postcard encoding of one [`Record`];
//! * `by_event`: key = event id (32 bytes) followed by a sequence number (`u64` big endian), empty
//!   value: which records belong to which event, so that a `Released` record can delete the others;
//! * `meta`: `schema_version` (`u32` big endian), `boot_epoch` (`u64` big endian) and `compacted`
//!   (`u64` big endian: how many records compaction deleted, so that a missing record is still found).
//!
//! Commits use LMDB's default durable mode (no `NO_SYNC`, no `NO_META_SYNC`): when `commit` returns,
//! the data and the meta page are on disk.

use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64, Unit};
use heed::{CommitOrAbort, CompactionOption, Database, Env, EnvOpenOptions, MdbError, RoTxn, RwTxn, WithTls};
use igra_proto::node::{BatchId, Record};
use igra_proto::wire::{decode_exact, encode_into};

use super::{Store, StoreError};

/// The schema this build reads and writes. A version-1 directory is upgraded in place when opened
/// (its index by event is built); any other version found in a directory is refused.
pub const SCHEMA_VERSION: u32 = 2;
/// The one older schema this build upgrades: the same records, no index by event, no compaction.
const UPGRADABLE_SCHEMA: u32 = 1;
/// The default LMDB map size: the most the store may grow to, 1 GiB.
pub const DEFAULT_MAP_SIZE: usize = 1 << 30;
/// The environment's named databases: `records`, `by_event` and `meta`.
const MAX_DBS: u32 = 3;
/// The database of records.
const RECORDS_DB: &str = "records";
/// The index of records by event.
const BY_EVENT_DB: &str = "by_event";
/// The database of meta values.
const META_DB: &str = "meta";
/// Meta key of the schema version.
const SCHEMA_VERSION_KEY: &str = "schema_version";
/// Meta key of the boot counter.
const BOOT_EPOCH_KEY: &str = "boot_epoch";
/// Meta key of the number of records compaction deleted.
const COMPACTED_KEY: &str = "compacted";
/// The file LMDB keeps its data in, inside the store's directory (and a backup's).
const DATA_FILE: &str = "data.mdb";

/// Records: sequence number (big endian) to postcard bytes.
type RecordsDb = Database<'static, U64<BigEndian>, Bytes>;
/// Meta: key name to big-endian integer bytes.
type MetaDb = Database<'static, Str, Bytes>;
/// Index: event id ‖ sequence number (big endian) to nothing.
type ByEventDb = Database<'static, Bytes, Unit>;

/// How to open an [`LmdbStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LmdbOptions {
    /// The most the store may grow to, in bytes; a multiple of the OS page size. LMDB reserves this
    /// much address space (not disk) up front. Default: [`DEFAULT_MAP_SIZE`].
    pub map_size: usize,
}

impl Default for LmdbOptions {
    fn default() -> Self {
        Self { map_size: DEFAULT_MAP_SIZE }
    }
}

/// Directories with an open LMDB environment in this process (canonical paths).
static OPEN_DIRECTORIES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A directory's entry in [`OPEN_DIRECTORIES`], removed on drop.
#[derive(Debug)]
struct Registration {
    path: PathBuf,
}

impl Registration {
    /// Claims `path` for this process's only environment on it.
    fn claim(path: PathBuf) -> Result<Self, StoreError> {
        // The set is only inserted into and removed from, one step each: a poisoned lock is consistent.
        let mut open = OPEN_DIRECTORIES.lock().unwrap_or_else(PoisonError::into_inner);
        if !open.insert(path.clone()) {
            return Err(StoreError::AlreadyOpen { path });
        }
        Ok(Self { path })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        OPEN_DIRECTORIES.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.path);
    }
}

/// The environment and its registration. Fields drop in order: the environment closes before the
/// directory is released for another open.
#[derive(Debug)]
struct OpenEnv {
    env: Env,
    map_size: usize,
    _registration: Registration,
}

impl OpenEnv {
    /// Maps a heed error of `operation` to a [`StoreError`], singling out a full map.
    fn error(&self, operation: &'static str) -> impl Fn(heed::Error) -> StoreError + '_ {
        move |source| match source {
            heed::Error::Mdb(MdbError::MapFull) => StoreError::MapFull { map_size: self.map_size },
            source => StoreError::Lmdb { operation, source },
        }
    }

    fn read_txn(&self) -> Result<RoTxn<'_, WithTls>, StoreError> {
        self.env.read_txn().map_err(self.error("begin a read transaction"))
    }

    fn write_txn(&self) -> Result<RwTxn<'_>, StoreError> {
        self.env.write_txn().map_err(self.error("begin a write transaction"))
    }

    fn commit(&self, txn: RwTxn<'_>) -> Result<(), StoreError> {
        txn.commit().map_err(self.error("commit"))
    }

    /// See [`LmdbStore::backup_to`].
    fn backup_to(&self, dir: &Path) -> Result<(), StoreError> {
        create_private_dir(dir)?;
        let target = dir.join(DATA_FILE);
        let io_error = |operation| {
            let path = target.clone();
            move |source| StoreError::Io { operation, path, source }
        };
        let mut file = private_file_options().open(&target).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                StoreError::BackupTargetExists { path: target.clone() }
            } else {
                io_error("create the backup file")(source)
            }
        })?;
        let copied = self
            .env
            .copy_to_file(&mut file, CompactionOption::Enabled)
            .map_err(self.error("copy the environment"))
            .and_then(|()| file.sync_all().map_err(io_error("sync the backup file")));
        if let Err(error) = copied {
            // Leave no partial backup behind; the copy's error is the one that matters.
            drop(file);
            let _ = fs::remove_file(&target);
            return Err(error);
        }
        sync_dir(dir)
    }
}

/// The production [`Store`]: an LMDB environment in a directory of its own.
///
/// At most one `LmdbStore` per directory is open in a process at a time (a second
/// [`open`](Self::open) fails with [`StoreError::AlreadyOpen`]); other processes are kept out by LMDB's
/// lock file.
#[derive(Debug)]
pub struct LmdbStore {
    open: Arc<OpenEnv>,
    records: RecordsDb,
    by_event: ByEventDb,
    meta: MetaDb,
    /// The sequence number of the next record appended.
    next_sequence: u64,
    /// How many records compaction deleted (the `compacted` meta value).
    compacted: u64,
    /// Reused encoding buffer.
    buffer: Vec<u8>,
}

impl LmdbStore {
    /// Opens the store in `dir`, creating the directory (mode 0700) and initialising it with the
    /// current schema if it holds no store yet.
    ///
    /// A directory with another schema version is refused with [`StoreError::SchemaMismatch`] and
    /// left exactly as it was.
    pub fn open(dir: &Path, options: LmdbOptions) -> Result<Self, StoreError> {
        Self::open_schema(dir, options, SCHEMA_VERSION)
    }

    /// [`open`](Self::open) for a given schema version: the current one, or another in tests.
    pub(super) fn open_schema(dir: &Path, options: LmdbOptions, schema: u32) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let path = fs::canonicalize(dir).map_err(|source| StoreError::Io {
            operation: "resolve",
            path: dir.to_path_buf(),
            source,
        })?;
        let registration = Registration::claim(path.clone())?;
        let mut env_options = EnvOpenOptions::new();
        env_options.map_size(options.map_size).max_dbs(MAX_DBS);
        // SAFETY: `EnvOpenOptions::open` is unsafe because LMDB memory-maps the data file, and writing
        // that file behind LMDB's back (in or out of this process) is undefined behaviour. Other
        // processes go through LMDB's lock file. Within this process the one hazard is a second
        // environment on the same file: `registration` (held for as long as the environment lives,
        // and dropped after it closes) guarantees there is none, and the store never writes the file
        // itself nor sets an unsafe flag (`NO_LOCK`, `NO_SYNC`, `NO_META_SYNC`, `WRITE_MAP`).
        #[allow(unsafe_code)]
        let env = unsafe { env_options.open(&path) }.map_err(|source| match source {
            heed::Error::EnvAlreadyOpened => StoreError::AlreadyOpen { path: path.clone() },
            source => StoreError::Lmdb { operation: "open the environment", source },
        })?;
        let open = OpenEnv { env, map_size: options.map_size, _registration: registration };
        let Databases { records, by_event, meta } = open_databases(&open, schema)?;
        let (next_sequence, compacted) = {
            let txn = open.read_txn()?;
            let next = match records.last(&txn).map_err(open.error("read the last record"))? {
                None => 0,
                Some((last, _)) => {
                    last.checked_add(1).ok_or(StoreError::CounterExhausted { counter: "sequence" })?
                }
            };
            let compacted = read_meta::<8>(&open, meta, &txn, COMPACTED_KEY)?.map_or(0, u64::from_be_bytes);
            (next, compacted)
        };
        Ok(Self {
            open: Arc::new(open),
            records,
            by_event,
            meta,
            next_sequence,
            compacted,
            buffer: Vec::new(),
        })
    }

    /// Writes a consistent, compacted copy of the store into `dir` (created with mode 0700 if
    /// missing) as `dir/data.mdb`, then syncs it. Safe while the store is in use: LMDB copies from a
    /// read transaction, and appends go on meanwhile. Never overwrites: if `dir/data.mdb` exists,
    /// fails with [`StoreError::BackupTargetExists`]. The backup opens with [`LmdbStore::open`].
    pub fn backup_to(&self, dir: &Path) -> Result<(), StoreError> {
        self.open.backup_to(dir)
    }

    /// A handle that backs this store up from any thread, for as long as it lives (also once the store
    /// itself was moved into a [`StorageWorker`](super::StorageWorker)). It keeps the environment, and
    /// so the directory's registration, open until it is dropped.
    pub fn backup_handle(&self) -> LmdbBackup {
        LmdbBackup { open: Arc::clone(&self.open) }
    }

    /// Reads a big-endian integer of `N` bytes from the meta database.
    fn meta_value<const N: usize>(
        &self,
        txn: &RoTxn<'_>,
        key: &'static str,
    ) -> Result<Option<[u8; N]>, StoreError> {
        read_meta(&self.open, self.meta, txn, key)
    }
}

/// Backs an [`LmdbStore`] up from any thread; see [`LmdbStore::backup_handle`].
#[derive(Debug, Clone)]
pub struct LmdbBackup {
    open: Arc<OpenEnv>,
}

impl LmdbBackup {
    /// The same as [`LmdbStore::backup_to`].
    pub fn backup_to(&self, dir: &Path) -> Result<(), StoreError> {
        self.open.backup_to(dir)
    }
}

impl Store for LmdbStore {
    fn append(&mut self, batches: &[(BatchId, Vec<Record>)]) -> Result<(), StoreError> {
        if batches.iter().all(|(_, records)| records.is_empty()) {
            return Ok(());
        }
        let open = &*self.open;
        let mut txn = open.write_txn()?;
        let mut sequence = self.next_sequence;
        let compacted_before = self.compacted;
        let mut compacted = self.compacted;
        for record in batches.iter().flat_map(|(_, records)| records) {
            self.buffer.clear();
            encode_into(record, &mut self.buffer)
                .map_err(|e| StoreError::Encode { reason: e.to_string() })?;
            if let Some(event_id) = record.releases() {
                let deleted = compact_event(open, self.records, self.by_event, &mut txn, &event_id.0)?;
                compacted = compacted.saturating_add(deleted);
            } else if let Some(event_id) = record.event_id() {
                self.by_event
                    .put(&mut txn, &index_key(&event_id.0, sequence), &())
                    .map_err(open.error("index a record"))?;
            }
            self.records.put(&mut txn, &sequence, &self.buffer).map_err(open.error("write a record"))?;
            sequence = sequence.checked_add(1).ok_or(StoreError::CounterExhausted { counter: "sequence" })?;
        }
        if compacted != compacted_before {
            self.meta
                .put(&mut txn, COMPACTED_KEY, &compacted.to_be_bytes())
                .map_err(open.error("write the compaction count"))?;
        }
        // Dropping `txn` on any error above aborts it: nothing of this call is written.
        open.commit(txn)?;
        self.next_sequence = sequence;
        self.compacted = compacted;
        Ok(())
    }

    fn load(&self) -> Result<Vec<Record>, StoreError> {
        let open = &*self.open;
        let txn = open.read_txn()?;
        let mut records = Vec::new();
        let mut next = 0u64;
        for entry in self.records.iter(&txn).map_err(open.error("read the records"))? {
            let (sequence, bytes) = entry.map_err(open.error("read a record"))?;
            records.push(decode_exact::<Record>(bytes).map_err(|_| StoreError::Corrupt { sequence })?);
            next = sequence.saturating_add(1);
        }
        // Compaction leaves holes in the sequence numbers, and counts them: any other hole is a lost
        // record.
        let held = u64::try_from(records.len()).unwrap_or(u64::MAX);
        let expected = next.saturating_sub(self.compacted);
        if held != expected {
            return Err(StoreError::Missing { expected, held });
        }
        Ok(records)
    }

    fn next_boot_epoch(&mut self) -> Result<u64, StoreError> {
        let open = &*self.open;
        let mut txn = open.write_txn()?;
        let current = self.meta_value::<8>(&txn, BOOT_EPOCH_KEY)?.map_or(0, u64::from_be_bytes);
        let next = current.checked_add(1).ok_or(StoreError::CounterExhausted { counter: "boot epoch" })?;
        self.meta
            .put(&mut txn, BOOT_EPOCH_KEY, &next.to_be_bytes())
            .map_err(open.error("write the boot epoch"))?;
        open.commit(txn)?;
        Ok(next)
    }
}

/// The three databases of an open environment.
struct Databases {
    records: RecordsDb,
    by_event: ByEventDb,
    meta: MetaDb,
}

/// Creates (or opens) the databases, initialising a fresh environment with `schema` (the current
/// [`SCHEMA_VERSION`] outside tests), upgrading a version-1 environment to the current version (its
/// index by event is built from its records, in the same transaction) and refusing any other version.
/// Nothing is written unless the environment was fresh or upgraded.
fn open_databases(open: &OpenEnv, schema: u32) -> Result<Databases, StoreError> {
    let txn = open.write_txn()?;
    let outcome = open
        .env
        .create_databases_and_commit(txn, |opener, txn| -> Result<_, OpenFailure> {
            let records: Database<'_, U64<BigEndian>, Bytes> = opener
                .create_database(txn, Some(RECORDS_DB))
                .map_err(open.error("create the records database"))?;
            let by_event: Database<'_, Bytes, Unit> = opener
                .create_database(txn, Some(BY_EVENT_DB))
                .map_err(open.error("create the index database"))?;
            let meta: Database<'_, Str, Bytes> =
                opener.create_database(txn, Some(META_DB)).map_err(open.error("create the meta database"))?;
            let fresh = records.is_empty(txn).map_err(open.error("read the records"))?;
            match read_meta::<4>(open, meta, txn, SCHEMA_VERSION_KEY)?.map(u32::from_be_bytes) {
                Some(found) if found == schema => {}
                Some(UPGRADABLE_SCHEMA) if schema == SCHEMA_VERSION => {
                    build_index(open, records, by_event, txn)?;
                    meta.put(txn, SCHEMA_VERSION_KEY, &schema.to_be_bytes())
                        .map_err(open.error("write the schema version"))?;
                }
                Some(found) => {
                    return Ok(CommitOrAbort::Abort(StoreError::SchemaMismatch { found, expected: schema }));
                }
                // Records without a schema version: not a store this build wrote. Refuse it too.
                None if !fresh => {
                    return Ok(CommitOrAbort::Abort(StoreError::CorruptMeta { key: SCHEMA_VERSION_KEY }));
                }
                None => meta
                    .put(txn, SCHEMA_VERSION_KEY, &schema.to_be_bytes())
                    .map_err(open.error("write the schema version"))?,
            }
            Ok(CommitOrAbort::Commit((records, by_event, meta)))
        })
        .map_err(|OpenFailure(error)| error)?;
    match outcome {
        CommitOrAbort::Commit((records, by_event, meta)) => Ok(Databases { records, by_event, meta }),
        CommitOrAbort::Abort(refusal) => Err(refusal),
    }
}

/// The `by_event` key of the record at `sequence` of event `event_id`.
fn index_key(event_id: &[u8; 32], sequence: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(event_id);
    key[32..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// Deletes every record of `event_id` and its index entries; returns how many records went.
fn compact_event(
    open: &OpenEnv,
    records: Database<'_, U64<BigEndian>, Bytes>,
    by_event: Database<'_, Bytes, Unit>,
    txn: &mut RwTxn<'_>,
    event_id: &[u8; 32],
) -> Result<u64, StoreError> {
    let mut sequences = Vec::new();
    for entry in by_event.prefix_iter(txn, event_id).map_err(open.error("read the index"))? {
        let (key, ()) = entry.map_err(open.error("read the index"))?;
        let sequence = key.get(32..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        sequences.push(sequence.ok_or(StoreError::CorruptIndex)?);
    }
    let mut deleted = 0u64;
    for sequence in &sequences {
        if records.delete(txn, sequence).map_err(open.error("delete a record"))? {
            deleted += 1;
        }
    }
    let (low, high) = (index_key(event_id, 0), index_key(event_id, u64::MAX));
    by_event
        .delete_range(txn, &(Bound::Included(&low[..]), Bound::Included(&high[..])))
        .map_err(open.error("delete index entries"))?;
    Ok(deleted)
}

/// Indexes every record of a version-1 log by its event (the upgrade to version 2).
fn build_index(
    open: &OpenEnv,
    records: Database<'_, U64<BigEndian>, Bytes>,
    by_event: Database<'_, Bytes, Unit>,
    txn: &mut RwTxn<'_>,
) -> Result<(), StoreError> {
    let mut keys = Vec::new();
    for entry in records.iter(txn).map_err(open.error("read the records"))? {
        let (sequence, bytes) = entry.map_err(open.error("read a record"))?;
        let record = decode_exact::<Record>(bytes).map_err(|_| StoreError::Corrupt { sequence })?;
        if let Some(event_id) = record.event_id() {
            keys.push(index_key(&event_id.0, sequence));
        }
    }
    for key in &keys {
        by_event.put(txn, key, &()).map_err(open.error("index a record"))?;
    }
    Ok(())
}

/// The error of [`open_databases`]'s transaction: heed needs a `From<heed::Error>` for the commit it
/// makes itself, which every other step replaces with a named operation.
struct OpenFailure(StoreError);

impl From<heed::Error> for OpenFailure {
    fn from(source: heed::Error) -> Self {
        Self(StoreError::Lmdb { operation: "commit the new databases", source })
    }
}

impl From<StoreError> for OpenFailure {
    fn from(error: StoreError) -> Self {
        Self(error)
    }
}

/// Reads a meta value of exactly `N` bytes; any other length is [`StoreError::CorruptMeta`].
fn read_meta<const N: usize>(
    open: &OpenEnv,
    meta: Database<'_, Str, Bytes>,
    txn: &RoTxn<'_>,
    key: &'static str,
) -> Result<Option<[u8; N]>, StoreError> {
    let Some(bytes) = meta.get(txn, key).map_err(open.error("read the meta database"))? else {
        return Ok(None);
    };
    <[u8; N]>::try_from(bytes).map(Some).map_err(|_| StoreError::CorruptMeta { key })
}

/// Creates `dir` and its missing parents with mode 0700; an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| StoreError::Io {
        operation: "create",
        path: dir.to_path_buf(),
        source,
    })
}

/// Options that create a new file, readable by its owner only, and never open an existing one.
fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Syncs a directory so that the files just created in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| StoreError::Io {
        operation: "sync",
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
impl LmdbStore {
    /// Writes raw bytes at a sequence number, bypassing the encoder: for corruption tests.
    pub(super) fn put_raw_record(&mut self, sequence: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let open = &*self.open;
        let mut txn = open.write_txn()?;
        self.records.put(&mut txn, &sequence, bytes).map_err(open.error("write a record"))?;
        open.commit(txn)
    }

    /// Writes raw bytes under a meta key: for schema tests.
    pub(super) fn put_raw_meta(&mut self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let open = &*self.open;
        let mut txn = open.write_txn()?;
        self.meta.put(&mut txn, key, bytes).map_err(open.error("write a meta value"))?;
        open.commit(txn)
    }

    /// Empties the index by event, as a version-1 store has none: for upgrade tests.
    pub(super) fn clear_index(&mut self) -> Result<(), StoreError> {
        let open = &*self.open;
        let mut txn = open.write_txn()?;
        self.by_event.clear(&mut txn).map_err(open.error("clear the index"))?;
        open.commit(txn)
    }

    /// The schema version stored in the meta database.
    pub(super) fn stored_schema_version(&self) -> Result<Option<u32>, StoreError> {
        let txn = self.open.read_txn()?;
        Ok(self.meta_value::<4>(&txn, SCHEMA_VERSION_KEY)?.map(u32::from_be_bytes))
    }
}
