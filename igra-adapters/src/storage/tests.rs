//! Tests of the stores and the worker, on records a real 1-of-1 node persisted.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use igra_proto::Instant;
use igra_proto::event::SourceKind;
use igra_proto::event::policy::Commitment;
use igra_proto::ids::{EventId, TemplateHash, TransactionId};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA};
use igra_proto::node::{BatchId, ChainRequest, Ending, Input, Node, Output, Record};
use igra_proto::wire::encode_into;
use igra_sim::fixture::{Fixture, WALL_AT_ZERO, member_signer};
use igra_sim::ledger::GENESIS_DAA_SCORE;
use igra_sim::swarm::{EventPlan, Swarm};

use super::{
    DEFAULT_MAP_SIZE, Durable, LmdbOptions, LmdbStore, MemoryStore, SCHEMA_VERSION, StorageError,
    StorageHandle, StorageReport, StorageWorker, Store, StoreError, WorkerLimits,
};

/// A 1-of-1 group from the simulator's fixture: its node's configuration, events and funds.
struct Cluster {
    fixture: Fixture,
}

const SEED: [u8; 32] = [7; 32];

impl Cluster {
    fn new() -> Self {
        let mut swarm = Swarm::from_seed(1);
        swarm.n = 1;
        swarm.m = 1;
        swarm.events =
            (1..=2).map(|kas| EventPlan { submit_at_ms: 0, amount: kas * SOMPI_PER_KASPA }).collect();
        swarm.pool = vec![10 * SOMPI_PER_KASPA; 4];
        Self { fixture: Fixture::new(&swarm) }
    }

    /// Drives a fresh node through the first `events` events and returns every batch it asked to
    /// persist, in order.
    fn persisted_batches(&self, events: usize) -> Vec<(BatchId, Vec<Record>)> {
        let mut node =
            Node::new(self.fixture.configs[0].clone(), Box::new(member_signer(0)), SEED, 1, Instant(0))
                .unwrap();
        let mut batches = Vec::new();
        for event in self.fixture.events.iter().take(events) {
            let mut inputs = vec![Input::NewEvent(event.clone())];
            while let Some(input) = inputs.pop() {
                node.handle(Instant(0), WALL_AT_ZERO, input);
                while let Some(output) = node.poll_output() {
                    match output {
                        Output::Persist { batch, records } => {
                            batches.push((batch, records));
                            inputs.push(Input::Persisted { batch });
                        }
                        Output::Chain(ChainRequest::FetchUtxos) => inputs.push(Input::Utxos {
                            utxos: self.fixture.pool.clone(),
                            virtual_daa_score: GENESIS_DAA_SCORE,
                        }),
                        _ => {}
                    }
                }
            }
        }
        assert!(!batches.is_empty(), "the node persisted its work");
        batches
    }

    /// The node's batches, then one batch of what only the chain would cause: a conflict, its
    /// orphaning, and the three endings.
    fn all_variants(&self) -> Vec<(BatchId, Vec<Record>)> {
        let mut batches = self.persisted_batches(2);
        let event_id = batches
            .iter()
            .flat_map(|(_, records)| records)
            .find_map(|record| match record {
                Record::Vote { event_id, .. } => Some(*event_id),
                _ => None,
            })
            .unwrap();
        let next = batches.last().map_or(0, |(batch, _)| batch.0 + 1);
        batches.push((
            BatchId(next),
            vec![
                Record::Conflict {
                    event_id,
                    epoch: 0,
                    outpoint: Outpoint { transaction_id: TransactionId([7; 32]), index: 1 },
                    by: TransactionId([8; 32]),
                    daa_score: 4_242,
                },
                Record::ConflictOrphaned { event_id, epoch: 0, by: TransactionId([9; 32]) },
                Record::Ended {
                    event_id,
                    epoch: 0,
                    outcome: Ending::Dead { template_hash: TemplateHash([5; 32]) },
                },
                Record::Ended { event_id, epoch: 1, outcome: Ending::Abandoned },
                Record::Ended {
                    event_id,
                    epoch: 2,
                    outcome: Ending::Confirmed { transaction_id: TransactionId([6; 32]) },
                },
            ],
        ));
        batches
    }

    /// Restores a node from `records`, as a runner does at startup.
    fn restore(&self, boot_epoch: u64, records: &[Record]) {
        let config = self.fixture.configs[0].clone();
        Node::restore(
            config,
            Box::new(member_signer(0)),
            SEED,
            boot_epoch,
            Instant(0),
            WALL_AT_ZERO,
            records,
        )
        .unwrap();
    }
}

/// Every record of `batches`, flattened in order.
fn flatten(batches: &[(BatchId, Vec<Record>)]) -> Vec<Record> {
    batches.iter().flat_map(|(_, records)| records.iter().cloned()).collect()
}

/// The discriminant names of the variants in `records`.
fn variant_names(records: &[Record]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = records
        .iter()
        .map(|record| match record {
            Record::Event { .. } => "Event",
            Record::Vote { .. } => "Vote",
            Record::Lock { .. } => "Lock",
            Record::SignOnce { .. } => "SignOnce",
            Record::Commitment { .. } => "Commitment",
            Record::Ended { .. } => "Ended",
            Record::Released { .. } => "Released",
            Record::Conflict { .. } => "Conflict",
            Record::ConflictOrphaned { .. } => "ConflictOrphaned",
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The contract every [`Store`] keeps. `reopen` drops nothing itself: it is called after the previous
/// store was dropped and returns the store "after a restart".
fn store_contract<S: Store>(mut reopen: impl FnMut() -> S) {
    let cluster = Cluster::new();
    let batches = cluster.all_variants();
    assert_eq!(
        variant_names(&flatten(&batches)),
        ["Commitment", "Conflict", "ConflictOrphaned", "Ended", "Event", "Lock", "SignOnce", "Vote"],
        "the fixture covers every record variant but `Released`, which the contract appends last"
    );
    let (first, second) = batches.split_at(batches.len() / 2);

    let mut store = reopen();
    assert_eq!(store.load().unwrap(), Vec::<Record>::new());
    assert_eq!(store.next_boot_epoch().unwrap(), 1);
    store.append(first).unwrap();
    store.append(&[]).unwrap();
    store.append(&[(BatchId(999), Vec::new())]).unwrap();
    store.append(second).unwrap();
    assert_eq!(store.load().unwrap(), flatten(&batches));
    drop(store);

    let mut store = reopen();
    assert_eq!(store.load().unwrap(), flatten(&batches), "every record, in write order, after a restart");
    assert_eq!(store.next_boot_epoch().unwrap(), 2);
    assert_eq!(store.next_boot_epoch().unwrap(), 3);
    // Appends after a restart continue the log.
    let more = cluster.persisted_batches(1);
    store.append(&more).unwrap();
    drop(store);

    let mut store = reopen();
    let mut expected = flatten(&batches);
    expected.extend(flatten(&more));
    let loaded = store.load().unwrap();
    assert_eq!(loaded, expected);
    assert_eq!(store.next_boot_epoch().unwrap(), 4);

    // Compaction: a `Released` record drops its event's other records, in the same append, and
    // nothing else; the release stays and later appends continue the log.
    let released_id = expected.iter().find_map(Record::event_id).unwrap();
    let release = released(released_id);
    let others = expected.iter().filter(|r| r.event_id() != Some(released_id)).count();
    assert!(others > 0 && others < expected.len(), "the log holds the released event and others");
    store.append(&[(BatchId(1000), vec![release.clone()])]).unwrap();
    expected.retain(|r| r.event_id() != Some(released_id));
    expected.push(release);
    assert_eq!(store.load().unwrap(), expected);
    drop(store);
    let mut store = reopen();
    assert_eq!(store.load().unwrap(), expected, "compacted, after a restart");
    let last = one_record(9);
    store.append(&[(BatchId(1001), last.clone())]).unwrap();
    expected.extend(last);
    assert_eq!(store.load().unwrap(), expected);
}

/// A `Released` record for `event_id`.
fn released(event_id: EventId) -> Record {
    Record::Released {
        event_id,
        epoch: 2,
        transaction_id: TransactionId([6; 32]),
        commitment: Some(Commitment { at: WALL_AT_ZERO, source: SourceKind::Operators, amount: 1 }),
    }
}

fn open(dir: &Path) -> LmdbStore {
    LmdbStore::open(dir, LmdbOptions::default()).unwrap()
}

#[test]
fn lmdb_store_keeps_the_contract_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    store_contract(|| open(&path));
}

#[test]
fn memory_store_keeps_the_contract_across_clones() {
    let store = MemoryStore::new();
    store_contract(|| store.clone());
    assert!(!store.is_empty());
}

#[test]
fn memory_store_injected_fault_writes_nothing() {
    let batches = Cluster::new().persisted_batches(1);
    let mut store = MemoryStore::new();
    store.fail_next_append();
    assert!(matches!(store.append(&batches), Err(StoreError::InjectedFault)));
    assert!(store.is_empty());
    store.append(&batches).unwrap();
    assert_eq!(store.load().unwrap(), flatten(&batches));
    assert_eq!(store.len(), flatten(&batches).len());
}

#[test]
fn lmdb_creates_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("store");
    let store = open(&path);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(store.stored_schema_version().unwrap(), Some(SCHEMA_VERSION));
}

#[test]
fn lmdb_refuses_another_schema_and_leaves_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let batches = Cluster::new().persisted_batches(1);
    let mut store = open(dir.path());
    store.append(&batches).unwrap();
    store.put_raw_meta("schema_version", &3u32.to_be_bytes()).unwrap();
    drop(store);
    let data = std::fs::read(dir.path().join("data.mdb")).unwrap();

    let refused = LmdbStore::open(dir.path(), LmdbOptions::default()).unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaMismatch { found: 3, expected: SCHEMA_VERSION }),
        "{refused}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("data.mdb")).unwrap(),
        data,
        "the refused store is not modified"
    );

    // Put the version back (as a migration would): every record is still there.
    let mut store = open_with_version(dir.path(), 3);
    store.put_raw_meta("schema_version", &SCHEMA_VERSION.to_be_bytes()).unwrap();
    drop(store);
    assert_eq!(open(dir.path()).load().unwrap(), flatten(&batches));
}

#[test]
fn lmdb_upgrades_a_version_1_store_in_place_and_compacts_it() {
    let dir = tempfile::tempdir().unwrap();
    let batches = Cluster::new().persisted_batches(2);
    let mut store = open_with_version(dir.path(), 1);
    store.append(&batches).unwrap();
    // A version-1 build kept no index by event.
    store.clear_index().unwrap();
    drop(store);

    let mut store = open(dir.path());
    assert_eq!(store.stored_schema_version().unwrap(), Some(SCHEMA_VERSION));
    let mut expected = flatten(&batches);
    assert_eq!(store.load().unwrap(), expected, "the upgrade keeps every record");
    // The index was built from the old records: a release compacts them.
    let event_id = expected.iter().find_map(Record::event_id).unwrap();
    store.append(&[(BatchId(500), vec![released(event_id)])]).unwrap();
    expected.retain(|r| r.event_id() != Some(event_id));
    expected.push(released(event_id));
    assert_eq!(store.load().unwrap(), expected);
    drop(store);
    assert_eq!(open(dir.path()).load().unwrap(), expected);
}

/// Opens a store of schema `version`, as a build of that version would.
fn open_with_version(dir: &Path, version: u32) -> LmdbStore {
    LmdbStore::open_schema(dir, LmdbOptions::default(), version).unwrap()
}

#[test]
fn lmdb_refuses_a_malformed_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.append(&Cluster::new().persisted_batches(1)).unwrap();
    store.put_raw_meta("schema_version", &[1, 2]).unwrap();
    drop(store);
    let refused = LmdbStore::open(dir.path(), LmdbOptions::default()).unwrap_err();
    assert!(matches!(refused, StoreError::CorruptMeta { key: "schema_version" }), "{refused}");
}

#[test]
fn lmdb_reports_a_corrupt_record_and_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let batches = Cluster::new().persisted_batches(1);
    let count = u64::try_from(flatten(&batches).len()).unwrap();
    let mut store = open(dir.path());
    store.append(&batches).unwrap();

    // Not a record at all.
    store.put_raw_record(count, &[0xff; 7]).unwrap();
    assert!(matches!(store.load(), Err(StoreError::Corrupt { sequence }) if sequence == count));
    // A valid record followed by a stray byte.
    let mut bytes = Vec::new();
    encode_into(&flatten(&batches)[0], &mut bytes).unwrap();
    bytes.push(0);
    store.put_raw_record(count, &bytes).unwrap();
    assert!(matches!(store.load(), Err(StoreError::Corrupt { sequence }) if sequence == count));

    // A hole in the sequence numbers that compaction did not make.
    bytes.pop();
    store.put_raw_record(count, &bytes).unwrap();
    assert_eq!(store.load().unwrap().len(), flatten(&batches).len() + 1);
    store.put_raw_record(count + 5, &bytes).unwrap();
    assert!(
        matches!(store.load(), Err(StoreError::Missing { expected, held }) if expected == count + 6 && held == count + 2)
    );
}

#[test]
fn lmdb_reports_a_malformed_boot_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store.put_raw_meta("boot_epoch", &[0, 1, 2]).unwrap();
    assert!(matches!(store.next_boot_epoch(), Err(StoreError::CorruptMeta { key: "boot_epoch" })));
}

#[test]
fn lmdb_refuses_a_second_open_of_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let again = LmdbStore::open(dir.path(), LmdbOptions::default()).unwrap_err();
    assert!(matches!(again, StoreError::AlreadyOpen { .. }), "{again}");
    // Another spelling of the same directory is the same directory.
    let dotted = dir.path().join(".");
    assert!(matches!(LmdbStore::open(&dotted, LmdbOptions::default()), Err(StoreError::AlreadyOpen { .. })));
    drop(store);
    open(&dotted);
}

#[test]
fn lmdb_full_map_is_typed_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = LmdbStore::open(dir.path(), LmdbOptions { map_size: 64 * 1024 }).unwrap();
    let batches = Cluster::new().persisted_batches(1);
    let mut written = Vec::new();
    let error = loop {
        match store.append(&batches) {
            Ok(()) => written.extend(flatten(&batches)),
            Err(error) => break error,
        }
        assert!(written.len() < 100_000, "a 64 KiB map cannot hold this many records");
    };
    assert!(matches!(error, StoreError::MapFull { map_size: 65_536 }), "{error}");
    assert_eq!(store.load().unwrap(), written, "the failed transaction wrote nothing");
    assert_ne!(DEFAULT_MAP_SIZE, 65_536);
}

#[test]
fn lmdb_backup_opens_with_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let batches = Cluster::new().all_variants();
    let mut store = open(&dir.path().join("live"));
    store.append(&batches).unwrap();
    store.next_boot_epoch().unwrap();

    let backup = dir.path().join("backup");
    store.backup_to(&backup).unwrap();
    let refused = store.backup_to(&backup).unwrap_err();
    assert!(matches!(refused, StoreError::BackupTargetExists { .. }), "{refused}");

    // A live backup from another thread while the worker owns the store.
    let handle = store.backup_handle();
    let (storage, reports) = StorageWorker::spawn(Box::new(store), WorkerLimits::default()).unwrap();
    let more = Cluster::new().persisted_batches(1);
    for (batch, records) in more.clone() {
        storage.persist(batch, records).unwrap();
    }
    let live = dir.path().join("live-backup");
    std::thread::spawn(move || handle.backup_to(&live)).join().unwrap().unwrap();
    wait_for_batches(&reports, more.len());
    storage.shutdown().unwrap();

    let mut restored = open(&backup);
    assert_eq!(restored.load().unwrap(), flatten(&batches));
    assert_eq!(restored.next_boot_epoch().unwrap(), 2, "the boot counter is backed up too");
    let live_backup = open(&dir.path().join("live-backup")).load().unwrap();
    assert!(live_backup.len() >= flatten(&batches).len(), "a live backup holds at least what preceded it");
    assert_eq!(live_backup[..flatten(&batches).len()], flatten(&batches)[..]);
}

/// Receives reports until `count` batches are durable; returns the reports.
fn wait_for_batches(reports: &async_channel::Receiver<StorageReport>, count: usize) -> Vec<Durable> {
    let mut durable = Vec::new();
    while durable.iter().map(|d: &Durable| d.batches.len()).sum::<usize>() < count {
        durable.push(reports.recv_blocking().unwrap().unwrap());
    }
    durable
}

/// A store whose first append waits until the test opens the gate, so batches pile up meanwhile.
struct GatedStore {
    inner: MemoryStore,
    entered: mpsc::Sender<()>,
    gate: Option<mpsc::Receiver<()>>,
}

impl Store for GatedStore {
    fn append(&mut self, batches: &[(BatchId, Vec<Record>)]) -> Result<(), StoreError> {
        if let Some(gate) = self.gate.take() {
            self.entered.send(()).unwrap();
            gate.recv().unwrap();
        }
        self.inner.append(batches)
    }

    fn load(&self) -> Result<Vec<Record>, StoreError> {
        self.inner.load()
    }

    fn next_boot_epoch(&mut self) -> Result<u64, StoreError> {
        self.inner.next_boot_epoch()
    }
}

/// A worker whose store is busy with batch 0 until the returned sender is used, with batches
/// `1..=queued` waiting behind it.
fn busy_worker(
    store: &MemoryStore,
    limits: WorkerLimits,
    queued: u8,
) -> (StorageHandle, async_channel::Receiver<StorageReport>, mpsc::Sender<()>) {
    let (entered_tx, entered) = mpsc::channel();
    let (open_gate, gate) = mpsc::channel();
    let gated = GatedStore { inner: store.clone(), entered: entered_tx, gate: Some(gate) };
    let (handle, reports) = StorageWorker::spawn(Box::new(gated), limits).unwrap();
    handle.persist(BatchId(0), one_record(0)).unwrap();
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    for tag in 1..=queued {
        handle.persist(BatchId(u64::from(tag)), one_record(tag)).unwrap();
    }
    (handle, reports, open_gate)
}

/// One small record, distinct per `tag`.
fn one_record(tag: u8) -> Vec<Record> {
    vec![Record::Ended { event_id: EventId([tag; 32]), epoch: u32::from(tag), outcome: Ending::Abandoned }]
}

#[test]
fn worker_group_commits_what_queued_while_busy_in_order() {
    let store = MemoryStore::new();
    let limits = WorkerLimits { max_batches_per_commit: 4, ..WorkerLimits::default() };
    let (handle, reports, open_gate) = busy_worker(&store, limits, 10);
    assert_eq!(handle.queued(), 10);
    open_gate.send(()).unwrap();

    let durable = wait_for_batches(&reports, 11);
    let groups: Vec<Vec<u64>> = durable.iter().map(|d| d.batches.iter().map(|b| b.0).collect()).collect();
    assert_eq!(groups, [vec![0], vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10]]);
    assert_eq!(durable.iter().map(|d| d.records).collect::<Vec<_>>(), [1, 4, 4, 2]);
    let expected: Vec<Record> = (0..=10).flat_map(one_record).collect();
    assert_eq!(store.load().unwrap(), expected, "records in the order they were queued");
    handle.shutdown().unwrap();
}

#[test]
fn worker_refuses_past_its_queue_limit() {
    let store = MemoryStore::new();
    let limits = WorkerLimits { max_queued_batches: 3, ..WorkerLimits::default() };
    let (handle, reports, open_gate) = busy_worker(&store, limits, 3);
    assert!(matches!(handle.persist(BatchId(4), one_record(4)), Err(StorageError::Full { limit: 3 })));
    open_gate.send(()).unwrap();
    let durable = wait_for_batches(&reports, 4);
    assert_eq!(durable.len(), 2, "batch 0 alone, then the three queued behind it");
    handle.persist(BatchId(4), one_record(4)).unwrap();
    // Shutdown commits what is queued before the thread ends.
    handle.shutdown().unwrap();
    assert_eq!(wait_for_batches(&reports, 1)[0].batches, [BatchId(4)]);
    assert_eq!(store.len(), 5);
}

#[test]
fn worker_stops_after_a_failed_append() {
    let store = MemoryStore::new();
    let (handle, reports, open_gate) = busy_worker(&store, WorkerLimits::default(), 2);
    store.fail_next_append();
    open_gate.send(()).unwrap();

    let failure = reports.recv_blocking().unwrap().unwrap_err();
    assert!(matches!(failure.error, StoreError::InjectedFault));
    assert_eq!(failure.batches, [BatchId(0), BatchId(1), BatchId(2)]);
    assert!(failure.to_string().contains("3 batches"));
    assert!(matches!(handle.persist(BatchId(3), one_record(3)), Err(StorageError::Stopped)));
    assert!(reports.recv_blocking().is_err(), "no report after the failure");
    assert!(store.is_empty());
    handle.shutdown().unwrap();
}

#[test]
fn worker_refuses_zero_limits() {
    let limits = WorkerLimits { max_unread_reports: 0, ..WorkerLimits::default() };
    let refused = StorageWorker::spawn(Box::new(MemoryStore::new()), limits).unwrap_err();
    assert!(matches!(refused, StorageError::InvalidLimit { limit: "max_unread_reports" }), "{refused}");
}

#[test]
fn worker_persists_a_node_and_the_node_restores_from_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::new();
    let batches = cluster.persisted_batches(2);
    let mut store = open(dir.path());
    assert_eq!(store.next_boot_epoch().unwrap(), 1);
    let (handle, reports) = StorageWorker::spawn(Box::new(store), WorkerLimits::default()).unwrap();
    // As the async runner does: queue without blocking, await the reports.
    let durable = smol::block_on(async {
        let mut durable = Vec::new();
        for (batch, records) in batches.clone() {
            handle.persist(batch, records).unwrap();
        }
        while durable.iter().map(|d: &Durable| d.batches.len()).sum::<usize>() < batches.len() {
            durable.push(reports.recv().await.unwrap().unwrap());
        }
        durable
    });
    let acknowledged: Vec<BatchId> = durable.iter().flat_map(|d| d.batches.iter().copied()).collect();
    assert_eq!(acknowledged, batches.iter().map(|(batch, _)| *batch).collect::<Vec<_>>());
    assert_eq!(durable.iter().map(|d| d.records).sum::<usize>(), flatten(&batches).len());
    handle.shutdown().unwrap();

    let mut store = open(dir.path());
    let boot_epoch = store.next_boot_epoch().unwrap();
    assert_eq!(boot_epoch, 2);
    let records = store.load().unwrap();
    assert_eq!(records, flatten(&batches));
    cluster.restore(boot_epoch, &records);
}
