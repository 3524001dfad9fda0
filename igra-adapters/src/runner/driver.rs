//! The synchronous half of a runner: one [`Node`], the frames it may send only once a batch is durable,
//! and the index of events the API lists. No runtime, no I/O: every runtime's loop calls the same
//! methods, and tests call them directly.

use std::collections::{BTreeMap, VecDeque};

use igra_proto::event::Event;
use igra_proto::node::{
    BatchId, ChainRequest, Destination, EventRefusal, EventStatus, EventUpdate, Input, Node, Output, Phase,
    Record,
};
use igra_proto::{EventId, Instant, UnixMs};

/// Events the index remembers; beyond it, the oldest finished ones are forgotten first.
pub const MAX_INDEXED_EVENTS: usize = 100_000;
/// Frames held for batches that are not yet durable; beyond it the node is persisting far slower than
/// it produces and the runner stops rather than grow without bound.
pub const MAX_HELD_FRAMES: usize = 65_536;

/// What one call into the node asks the runtime to do, in the order the node asked.
#[derive(Debug, Default)]
pub struct Effects {
    /// Batches to write durably; report each with [`Driver::durable`].
    pub persist: Vec<(BatchId, Vec<Record>)>,
    /// Frames to send now.
    pub send: Vec<(Destination, Vec<u8>)>,
    /// Requests to the chain.
    pub chain: Vec<ChainRequest>,
    /// What happened to events.
    pub updates: Vec<EventUpdate>,
}

impl Effects {
    fn absorb(&mut self, other: Self) {
        self.persist.extend(other.persist);
        self.send.extend(other.send);
        self.chain.extend(other.chain);
        self.updates.extend(other.updates);
    }
}

/// Why the driver stopped the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// More than [`MAX_HELD_FRAMES`] frames wait for durability.
    TooManyHeldFrames,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooManyHeldFrames => {
                write!(f, "more than {MAX_HELD_FRAMES} frames wait for storage; storage is not keeping up")
            }
        }
    }
}

impl std::error::Error for DriverError {}

/// The answer to a submitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// The node took the event (now or earlier).
    Accepted(EventId),
    /// The node refused it.
    Refused(EventId, EventRefusal),
}

/// One node and the bookkeeping around it.
pub struct Driver {
    node: Node,
    held: BTreeMap<BatchId, Vec<(Destination, Vec<u8>)>>,
    held_frames: usize,
    index: BTreeMap<EventId, Phase>,
    order: VecDeque<EventId>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("node", &self.node)
            .field("held_batches", &self.held.len())
            .field("indexed", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver around `node` (new or restored).
    pub fn new(node: Node) -> Self {
        Self { node, held: BTreeMap::new(), held_frames: 0, index: BTreeMap::new(), order: VecDeque::new() }
    }

    /// The node, read-only (status, counters).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Drains what the node produced so far (a restored node re-sends its votes at once).
    pub fn start(&mut self) -> Result<Effects, DriverError> {
        self.drain()
    }

    /// Feeds `input` and collects what the node asks for.
    pub fn handle(&mut self, now: Instant, wall: UnixMs, input: Input) -> Result<Effects, DriverError> {
        self.node.handle(now, wall, input);
        self.drain()
    }

    /// Submits an event and tells at once whether the node took it.
    pub fn submit(
        &mut self,
        now: Instant,
        wall: UnixMs,
        event: Event,
    ) -> Result<(Submission, Effects), DriverError> {
        let id = event.id();
        let effects = self.handle(now, wall, Input::NewEvent(event))?;
        let refusal = effects.updates.iter().find_map(|u| match u {
            EventUpdate::Refused { event_id, reason } if *event_id == id => Some(reason.clone()),
            _ => None,
        });
        let answer = match refusal {
            // The node refuses a known event as a duplicate only through its own state; a refusal of an
            // event it already holds does not undo it.
            Some(reason) if !self.index.contains_key(&id) => Submission::Refused(id, reason),
            _ => Submission::Accepted(id),
        };
        Ok((answer, effects))
    }

    /// Batches `batches` are durable: releases the frames they held, in batch order, and tells the node.
    pub fn durable(
        &mut self,
        now: Instant,
        wall: UnixMs,
        batches: &[BatchId],
    ) -> Result<Effects, DriverError> {
        let mut effects = Effects::default();
        let mut sorted = batches.to_vec();
        sorted.sort_unstable();
        for batch in sorted {
            if let Some(frames) = self.held.remove(&batch) {
                self.held_frames -= frames.len();
                effects.send.extend(frames);
            }
            effects.absorb(self.handle(now, wall, Input::Persisted { batch })?);
        }
        Ok(effects)
    }

    /// When the node wants [`Input::Timer`].
    pub fn deadline(&self) -> Option<Instant> {
        self.node.poll_timeout().map(|(at, _)| at)
    }

    /// An event's status.
    pub fn status(&self, id: &EventId) -> Option<EventStatus> {
        self.node.status(id)
    }

    /// Events after `after` (exclusive) in id order whose phase passes `filter`, at most `limit`.
    pub fn list(
        &self,
        filter: impl Fn(&Phase) -> bool,
        after: Option<EventId>,
        limit: usize,
    ) -> Vec<(EventId, EventStatus)> {
        let range = match after {
            Some(a) => self.index.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self.index.range(..),
        };
        range
            .filter_map(|(id, _)| self.node.status(id).map(|s| (*id, s)))
            .filter(|(_, s)| filter(&s.phase))
            .take(limit)
            .collect()
    }

    /// Events the index holds.
    pub fn indexed(&self) -> usize {
        self.index.len()
    }

    fn drain(&mut self) -> Result<Effects, DriverError> {
        let mut effects = Effects::default();
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Persist { batch, records } => effects.persist.push((batch, records)),
                Output::Send { to, frame } => effects.send.push((to, frame)),
                Output::SendAfterPersist { batch, to, frame } => {
                    if self.held_frames >= MAX_HELD_FRAMES {
                        return Err(DriverError::TooManyHeldFrames);
                    }
                    self.held_frames += 1;
                    self.held.entry(batch).or_default().push((to, frame));
                }
                Output::Chain(request) => effects.chain.push(request),
                Output::Notify(update) => {
                    self.track(&update);
                    effects.updates.push(update);
                }
            }
        }
        Ok(effects)
    }

    fn track(&mut self, update: &EventUpdate) {
        let (id, phase) = match update {
            EventUpdate::Accepted { event_id } => (*event_id, Phase::Voting),
            EventUpdate::Signed { event_id, .. } => (*event_id, Phase::Signing),
            EventUpdate::Finalized { event_id, transaction_id } => {
                (*event_id, Phase::Submitted { transaction_id: *transaction_id })
            }
            EventUpdate::Confirmed { event_id, transaction_id } => {
                (*event_id, Phase::Confirmed { transaction_id: *transaction_id })
            }
            EventUpdate::Abandoned { event_id } => (*event_id, Phase::Abandoned),
            EventUpdate::Revived { event_id, .. } | EventUpdate::Dead { event_id, .. } => {
                (*event_id, Phase::Voting)
            }
            EventUpdate::Refused { .. } | EventUpdate::Voted { .. } | EventUpdate::Certified { .. } => return,
        };
        if self.index.insert(id, phase).is_none() {
            self.order.push_back(id);
            self.evict();
        }
    }

    /// Keeps the index within [`MAX_INDEXED_EVENTS`], forgetting the oldest finished events first.
    fn evict(&mut self) {
        while self.index.len() > MAX_INDEXED_EVENTS {
            let finished = self.order.iter().position(|id| {
                matches!(self.index.get(id), Some(Phase::Confirmed { .. } | Phase::Abandoned) | None)
            });
            let Some(position) = finished.or(Some(0)) else { return };
            if let Some(id) = self.order.remove(position) {
                self.index.remove(&id);
            }
        }
    }
}
