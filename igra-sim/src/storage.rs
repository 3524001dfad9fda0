//! Simulated durable storage of one node: a durable log and the batches still being written.
//!
//! Batches become durable in the order they were written (one sequential log, as a real fsync'd
//! file). A crash loses every batch not yet acknowledged; what was acknowledged survives and is what
//! `Node::restore` sees. A crash may also tear the batch being written: a prefix of its records (whole
//! records: each is one checksummed log entry) survives, though the node was never told it was durable.

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
                self.extend_durable(records);
                true
            }
            None => false,
        }
    }

    /// Whether `batch` is still being written (not durable yet).
    pub fn is_pending(&self, batch: BatchId) -> bool {
        self.pending.contains_key(&batch)
    }

    /// A crash: everything not yet durable is gone, except, if `torn_prefix` is `Some(k)`, the first
    /// `k` records of the batch being written (the oldest pending one). Returns the records kept.
    pub fn crash(&mut self, torn_prefix: Option<usize>) -> usize {
        let pending = std::mem::take(&mut self.pending);
        let Some((k, (_, mut torn))) = torn_prefix.zip(pending.into_iter().next()) else { return 0 };
        torn.truncate(k);
        let kept = torn.len();
        self.extend_durable(torn);
        kept
    }

    /// Appends to the durable log and compacts it as a disk store does: a `Released` record drops
    /// its event's other records.
    fn extend_durable(&mut self, records: Vec<Record>) {
        let releases = records.iter().any(|r| r.releases().is_some());
        self.durable.extend(records);
        if releases {
            igra_proto::node::compact(&mut self.durable);
        }
    }

    /// Records in the batch being written (the oldest pending one), if any.
    pub fn writing_len(&self) -> Option<usize> {
        self.pending.values().next().map(Vec::len)
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

#[cfg(test)]
mod tests {
    use igra_proto::EventId;
    use igra_proto::node::{BatchId, Ending, Record};

    use super::Storage;

    fn records(tags: &[u8]) -> Vec<Record> {
        tags.iter()
            .map(|t| Record::Ended { event_id: EventId([*t; 32]), epoch: 0, outcome: Ending::Abandoned })
            .collect()
    }

    #[test]
    fn a_torn_crash_keeps_a_prefix_of_the_batch_being_written_and_nothing_after_it() {
        let mut storage = Storage::default();
        storage.write(BatchId(1), records(&[1]), 0, 0);
        assert!(storage.acknowledge(BatchId(1)));
        storage.write(BatchId(2), records(&[2, 3, 4]), 0, 5);
        storage.write(BatchId(3), records(&[5]), 0, 5);
        assert_eq!(storage.writing_len(), Some(3));
        assert_eq!(storage.crash(Some(2)), 2);
        assert_eq!(storage.durable(), &records(&[1, 2, 3])[..]);
        assert!(!storage.is_pending(BatchId(2)) && !storage.acknowledge(BatchId(3)), "never acknowledged");
        assert_eq!(storage.crash(None), 0);
    }
}
