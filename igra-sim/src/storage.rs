//! Simulated durable storage of one node: a durable log and the batches still being written.
//!
//! Batches become durable in the order they were written (one sequential log, as a real fsync'd
//! file). A crash loses every batch not yet acknowledged; what was acknowledged survives and is what
//! `Node::restore` sees.

use std::collections::BTreeMap;

use igra_proto::node::{BatchId, Record};

/// One node's storage.
#[derive(Debug, Default)]
pub struct Storage {
    durable: Vec<Record>,
    pending: BTreeMap<BatchId, Vec<Record>>,
    /// When the last pending batch becomes durable: later batches never overtake it.
    last_ack_ms: u64,
}

impl Storage {
    /// Starts writing `records` as `batch`; returns when it becomes durable, at `now_ms + delay_ms`
    /// or after the batch before it.
    pub fn write(&mut self, batch: BatchId, records: Vec<Record>, now_ms: u64, delay_ms: u64) -> u64 {
        self.pending.insert(batch, records);
        self.last_ack_ms = self.last_ack_ms.max(now_ms + delay_ms);
        self.last_ack_ms
    }

    /// The batch is durable. False if it was lost in a crash in the meantime.
    pub fn acknowledge(&mut self, batch: BatchId) -> bool {
        match self.pending.remove(&batch) {
            Some(records) => {
                self.durable.extend(records);
                true
            }
            None => false,
        }
    }

    /// Whether `batch` is still being written (not durable yet).
    pub fn is_pending(&self, batch: BatchId) -> bool {
        self.pending.contains_key(&batch)
    }

    /// A crash: everything not yet durable is gone.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    /// What survives a crash.
    pub fn durable(&self) -> &[Record] {
        &self.durable
    }

    /// Batches still being written.
    pub fn pending_batches(&self) -> usize {
        self.pending.len()
    }
}
