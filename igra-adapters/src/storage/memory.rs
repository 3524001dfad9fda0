//! [`MemoryStore`]: the [`Store`] contract in memory, for tests and the simulator-backed devnet.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use igra_proto::node::{BatchId, Record};

use super::{Store, StoreError};

/// The records and counter behind every clone of one [`MemoryStore`].
#[derive(Debug, Default)]
struct Shared {
    records: Vec<Record>,
    boot_epoch: u64,
    fail_next_append: bool,
}

/// A [`Store`] in memory. Clones share the same records, so a test can drop a node's runner (a crash)
/// and restore a new node from a clone of its store.
///
/// "Durable" here means "survives the runner": nothing survives the process. Like [`LmdbStore`], it
/// compacts: a released event's other records are dropped when its `Released` record is appended.
///
/// [`LmdbStore`]: super::LmdbStore
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    shared: Arc<Mutex<Shared>>,
}

impl MemoryStore {
    /// An empty store whose boot counter is 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next [`Store::append`] fail with [`StoreError::InjectedFault`] and write nothing.
    pub fn fail_next_append(&self) {
        self.lock().fail_next_append = true;
    }

    /// How many records the store holds.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().records.is_empty()
    }

    /// The shared state. A holder that panicked left it consistent (every mutation below is a single
    /// step), so a poisoned lock is taken over rather than propagated.
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn append(&mut self, batches: &[(BatchId, Vec<Record>)]) -> Result<(), StoreError> {
        let mut shared = self.lock();
        if shared.fail_next_append {
            shared.fail_next_append = false;
            return Err(StoreError::InjectedFault);
        }
        shared.records.extend(batches.iter().flat_map(|(_, records)| records.iter().cloned()));
        if batches.iter().flat_map(|(_, records)| records).any(|r| r.releases().is_some()) {
            igra_proto::node::compact(&mut shared.records);
        }
        Ok(())
    }

    fn load(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.lock().records.clone())
    }

    fn next_boot_epoch(&mut self) -> Result<u64, StoreError> {
        let mut shared = self.lock();
        let next =
            shared.boot_epoch.checked_add(1).ok_or(StoreError::CounterExhausted { counter: "boot epoch" })?;
        shared.boot_epoch = next;
        Ok(next)
    }
}
