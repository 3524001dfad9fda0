//! In-process stand-ins for the transport and storage, for embedding tests and examples: a group of
//! runners in one process whose frames travel over channels and whose batches are acknowledged at
//! once (nothing survives the process: use the LMDB store for durability).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_channel::{Receiver, Sender};

use igra_proto::MemberIndex;
use igra_proto::node::{BatchId, Destination, Record};

use super::{BatchSink, FrameSink, Inbox};
use crate::storage::{Durable, StorageError, StorageReport};

/// A frame and the member it came from.
type Frame = (MemberIndex, Vec<u8>);

/// Frames queued for one member beyond this are dropped (counted), as a real transport's would be.
pub const LOCAL_QUEUE: usize = 65_536;

/// A group's in-process network: member `i`'s frames reach the others' receivers.
#[derive(Debug, Clone)]
pub struct LocalNet {
    inboxes: Arc<Vec<Sender<Frame>>>,
    dropped: Arc<AtomicU64>,
}

impl LocalNet {
    /// A network of `n` members and each member's inbox.
    pub fn new(n: u8) -> (Self, Vec<Inbox>) {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..n).map(|_| async_channel::bounded(LOCAL_QUEUE)).unzip();
        (Self { inboxes: Arc::new(senders), dropped: Arc::new(AtomicU64::new(0)) }, receivers)
    }

    /// Member `me`'s sending side.
    pub fn link(&self, me: MemberIndex) -> LocalLink {
        LocalLink { net: self.clone(), me }
    }

    /// Frames dropped because an inbox was full or its member gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One member's sending side of a [`LocalNet`].
#[derive(Debug, Clone)]
pub struct LocalLink {
    net: LocalNet,
    me: MemberIndex,
}

impl FrameSink for LocalLink {
    fn send(&self, to: Destination, frame: Vec<u8>) {
        let deliver = |i: usize, frame: Vec<u8>| {
            if let Some(inbox) = self.net.inboxes.get(i)
                && inbox.try_send((self.me, frame)).is_err()
            {
                self.net.dropped.fetch_add(1, Ordering::Relaxed);
            }
        };
        match to {
            Destination::Member(m) => deliver(usize::from(m.0), frame),
            Destination::All => {
                for i in (0..self.net.inboxes.len()).filter(|i| *i != usize::from(self.me.0)) {
                    deliver(i, frame.clone());
                }
            }
        }
    }
}

/// A [`BatchSink`] that reports every batch durable at once and keeps nothing.
#[derive(Debug, Clone)]
pub struct NoStorage {
    notices: Sender<StorageReport>,
}

impl NoStorage {
    /// The sink and the channel its notices arrive on.
    pub fn new() -> (Self, Receiver<StorageReport>) {
        let (notices, rx) = async_channel::bounded(LOCAL_QUEUE);
        (Self { notices }, rx)
    }
}

impl BatchSink for NoStorage {
    fn persist(&self, batch: BatchId, records: Vec<Record>) -> Result<(), StorageError> {
        let report = Ok(Durable { batches: vec![batch], elapsed: Duration::ZERO, records: records.len() });
        self.notices.try_send(report).map_err(|_| StorageError::Stopped)
    }
}
