//! The devnet's chain: igra-sim's ledger model (Kaspa's UTXO, signature, fee and maturity rules) in
//! process, shared by every member, with the news a Kaspa node's subscriptions would carry.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_channel::{Receiver, Sender};
use igra_proto::kaspa::script::MultisigScript;
use igra_proto::kaspa::tx::Transaction;
use igra_proto::node::{ChainEvent, ChainRequest, Input};
use igra_proto::template::Utxo;
use igra_sim::ledger::{Accepted, Ledger, Rejection};

use crate::runner::{ChainClient, Clock};

/// News queued for one member beyond this is dropped (counted); the member's next snapshot repairs it.
/// The ring is resident from the start (about 150 bytes a slot), so it is sized for seconds of news,
/// not minutes.
pub const CHAIN_QUEUE: usize = 4_096;

/// What the chain did, for the devnet's summary and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainStats {
    /// Transactions accepted.
    pub accepted: u64,
    /// Submissions of an already accepted transaction (several members submit the same one).
    pub duplicates: u64,
    /// Submissions the ledger refused.
    pub rejected: u64,
    /// Double-spend refusals among them (two templates raced for an input).
    pub double_spends: u64,
    /// News items dropped because a member's queue was full.
    pub news_dropped: u64,
    /// The virtual DAA score.
    pub daa_score: u64,
}

struct Inner {
    ledger: Ledger,
    subscribers: Vec<Sender<Input>>,
    stats: ChainStats,
}

/// The shared in-process chain.
pub struct DevChain {
    inner: Mutex<Inner>,
    clock: Clock,
}

impl std::fmt::Debug for DevChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevChain").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl DevChain {
    /// A chain where the group (`script`) owns `pool`; its DAA score counts from `clock`'s start.
    pub fn new(script: MultisigScript, pool: &[Utxo], clock: Clock) -> Arc<Self> {
        let inner = Inner {
            ledger: Ledger::new(script, pool),
            subscribers: Vec::new(),
            stats: ChainStats::default(),
        };
        Arc::new(Self { inner: Mutex::new(inner), clock })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The ledger is only mutated by whole calls below; a panic elsewhere cannot leave it half-changed.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A client for one member, and the channel its news arrives on. Like a node's fresh subscription,
    /// it first hears every acceptance so far.
    pub fn client(self: &Arc<Self>) -> (DevChainClient, Receiver<Input>) {
        let (tx, rx) = async_channel::bounded(CHAIN_QUEUE);
        let mut inner = self.lock();
        let news: Vec<ChainEvent> = inner.ledger.accepted().iter().flat_map(news_of).collect();
        let score = inner.ledger.daa_score();
        for event in news.into_iter().chain([ChainEvent::DaaScore(score)]) {
            if tx.try_send(Input::Chain(event)).is_err() {
                inner.stats.news_dropped += 1;
            }
        }
        inner.subscribers.push(tx.clone());
        (DevChainClient { chain: Arc::clone(self), me: tx }, rx)
    }

    /// Advances the DAA score with wall time (10 per second) and tells every member.
    pub fn tick(&self) {
        let elapsed = self.clock.now().0;
        let mut inner = self.lock();
        inner.ledger.advance_to(elapsed);
        let score = inner.ledger.daa_score();
        inner.stats.daa_score = score;
        broadcast(&mut inner, &[ChainEvent::DaaScore(score)]);
    }

    /// The chain's counters.
    pub fn stats(&self) -> ChainStats {
        let inner = self.lock();
        ChainStats { daa_score: inner.ledger.daa_score(), ..inner.stats }
    }

    /// Every accepted transaction, in acceptance order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.lock().ledger.accepted().to_vec()
    }

    /// The group's unspent outputs now.
    pub fn utxos(&self) -> Vec<Utxo> {
        self.lock().ledger.utxos()
    }

    /// Submits `tx` as a member would.
    pub fn submit(&self, tx: &Transaction) -> Result<(), Rejection> {
        let mut inner = self.lock();
        let news = match inner.ledger.submit(tx) {
            Ok(Some(accepted)) => news_of(accepted),
            Ok(None) => {
                inner.stats.duplicates += 1;
                return Ok(());
            }
            Err(rejection) => {
                inner.stats.rejected += 1;
                if matches!(rejection, Rejection::DoubleSpend { .. }) {
                    inner.stats.double_spends += 1;
                }
                return Err(rejection);
            }
        };
        inner.stats.accepted += 1;
        broadcast(&mut inner, &news);
        Ok(())
    }

    /// Drops subscribers whose member has stopped.
    pub fn prune(&self) {
        self.lock().subscribers.retain(|s| !s.is_closed());
    }
}

fn broadcast(inner: &mut Inner, news: &[ChainEvent]) {
    let mut dropped = 0;
    for subscriber in &inner.subscribers {
        for event in news {
            if subscriber.try_send(Input::Chain(*event)).is_err() && !subscriber.is_closed() {
                dropped += 1;
            }
        }
    }
    inner.stats.news_dropped += dropped;
}

/// What a node's subscription reports about an accepted transaction: acceptance, then each spent output.
fn news_of(accepted: &Accepted) -> Vec<ChainEvent> {
    let (id, score) = (accepted.transaction_id, accepted.daa_score);
    std::iter::once(ChainEvent::Accepted { transaction_id: id, daa_score: score })
        .chain(accepted.transaction.inputs.iter().map(|i| ChainEvent::Spent {
            outpoint: i.previous_outpoint,
            by: id,
            daa_score: score,
        }))
        .collect()
}

/// One member's view of the [`DevChain`].
#[derive(Clone)]
pub struct DevChainClient {
    chain: Arc<DevChain>,
    me: Sender<Input>,
}

impl std::fmt::Debug for DevChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevChainClient").finish_non_exhaustive()
    }
}

impl ChainClient for DevChainClient {
    fn request(&self, request: ChainRequest) {
        match request {
            ChainRequest::FetchUtxos => {
                let (utxos, score) = {
                    let inner = self.chain.lock();
                    (inner.ledger.utxos(), inner.ledger.daa_score())
                };
                if self.me.try_send(Input::Utxos { utxos, virtual_daa_score: score }).is_err() {
                    self.chain.lock().stats.news_dropped += 1;
                }
            }
            ChainRequest::Submit { event_id, transaction } => {
                match self.chain.submit(&transaction) {
                    // As a Kaspa node's rejection names the spender, the submitter learns of the
                    // conflicting spend (it may have signed after the spender's news went by).
                    Err(Rejection::DoubleSpend { outpoint, spent_by, daa_score }) => {
                        let news = ChainEvent::Spent { outpoint, by: spent_by, daa_score };
                        if self.me.try_send(Input::Chain(news)).is_err() {
                            self.chain.lock().stats.news_dropped += 1;
                        }
                    }
                    Err(rejection) => {
                        tracing::warn!(%event_id, ?rejection, "devnet chain refused a transaction");
                    }
                    Ok(()) => {}
                }
            }
        }
    }

    fn ready(&self) -> bool {
        true
    }
}
