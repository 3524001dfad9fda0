//! Who spent a group output the client saw removed but cannot name the spender of: a search of the
//! virtual chain.
//!
//! `UtxosChanged` does not name the spending transaction, and a spender the client never saw (an
//! out-of-band spend) cannot be recognised by [`super::news`]. Such an output is queued here. The search
//! asks `getVirtualChainFromBlock {startHash: anchor, includeAcceptedTransactionIds: true}` for the
//! chain blocks added since an *anchor* (a chain block older than the spend) with the transactions each
//! accepted, then walks those chain blocks newest first: `getBlock` of the chain block gives its DAA
//! score and merge set, `getBlock {includeTransactions: true}` of each merged block gives the
//! transactions and their inputs. A transaction that spends the output **and** is among the chain
//! block's accepted transactions is the spender (a merged block can hold a losing double spend: it is
//! not accepted and is ignored). The news is [`ChainEvent::Spent`] at the **accepting chain block's DAA
//! score**: the DAA score kaspad gives the outputs of that transaction in its UTXO index (seen live:
//! a transaction of a block at DAA score 28 accepted by the chain block at 29 has `blockDaaScore` 29),
//! so the node's finality clock (virtual DAA score minus the acceptance's DAA score) counts the same way
//! for a spend found here as for one learned from `UtxosChanged`.
//!
//! The UTXO index follows the *virtual* state: a spend in the sink itself (accepted by the virtual, not
//! yet by a chain block) is not found until the next chain block accepts it, so an unfinished search is
//! retried (the chain blocks already scanned are not fetched again) a few times with growing delays.
//!
//! Bounds: at most [`MAX_SPENDS_PER_SEARCH`] outputs per search, [`MAX_BLOCKS_PER_SEARCH`] `getBlock`
//! calls per search (over all its attempts), [`SEARCH_ATTEMPTS`] attempts, and the client wraps a
//! search in [`SEARCH_TIMEOUT`]. A search that ends without naming a spender counts the outputs as
//! unresolved (as before: the node's Dead path does not start from them).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;

use igra_proto::TransactionId;
use igra_proto::kaspa::tx::Outpoint;
use igra_proto::node::ChainEvent;

use super::KaspadError;
use super::rpc::KaspadRpc;
use super::wire::{BlockHash, BlockSummary, VirtualChain};

/// Outputs queued for attribution beyond this are counted unresolved at once.
pub const ATTRIBUTION_QUEUE: usize = 1_024;
/// Outputs looked for in one search (the rest of the queue waits for the next one).
pub const MAX_SPENDS_PER_SEARCH: usize = 64;
/// `getBlock` calls one search may make, over all its attempts.
pub const MAX_BLOCKS_PER_SEARCH: usize = 128;
/// Attempts of one search (the first at once, then after 200 ms, 400 ms, ...).
pub const SEARCH_ATTEMPTS: u32 = 6;
/// The first retry's delay; each further one doubles it.
pub const FIRST_RETRY: Duration = Duration::from_millis(200);
/// How long one search may take, all attempts together.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Health checks a sink is held before it may become the anchor: the anchor lags the chain by this
/// many health intervals (10 s at the default 2 s), so that a removal still queued when the sink was
/// read is not looked for above the anchor.
pub const ANCHOR_LAG: usize = 5;

/// The node's chain as the search reads it (kaspad over wRPC, or recorded answers in tests).
pub trait ChainReader {
    /// `getVirtualChainFromBlock {startHash, includeAcceptedTransactionIds: true}`.
    fn virtual_chain_from(
        &self,
        start: BlockHash,
    ) -> impl Future<Output = Result<VirtualChain, KaspadError>> + Send;
    /// `getBlock {hash, includeTransactions}`.
    fn block(
        &self,
        hash: BlockHash,
        include_transactions: bool,
    ) -> impl Future<Output = Result<BlockSummary, KaspadError>> + Send;
}

impl ChainReader for KaspadRpc {
    fn virtual_chain_from(
        &self,
        start: BlockHash,
    ) -> impl Future<Output = Result<VirtualChain, KaspadError>> + Send {
        Self::virtual_chain_from(self, start)
    }

    fn block(
        &self,
        hash: BlockHash,
        include_transactions: bool,
    ) -> impl Future<Output = Result<BlockSummary, KaspadError>> + Send {
        Self::block(self, hash, include_transactions)
    }
}

/// The chain block the search starts from: the sink as of [`ANCHOR_LAG`] health checks ago, moved on
/// only while no search is under way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Anchor {
    current: Option<BlockHash>,
    recent: VecDeque<BlockHash>,
}

impl Anchor {
    /// A new session: the sink read before subscribing (every removal the session will hear of is
    /// accepted above it).
    pub fn reset(&mut self, sink: BlockHash) {
        self.current = Some(sink);
        self.recent.clear();
    }

    /// A health check read `sink`; `idle` when no search is queued or under way.
    pub fn observe(&mut self, sink: BlockHash, idle: bool) {
        if self.recent.back() != Some(&sink) {
            self.recent.push_back(sink);
        }
        if self.recent.len() > ANCHOR_LAG {
            let old = self.recent.pop_front();
            if idle {
                self.current = old;
            }
        }
    }

    /// Where a search starts, if the session has read a sink.
    pub fn current(&self) -> Option<BlockHash> {
        self.current
    }
}

/// One search for the spenders of some removed outputs.
#[derive(Debug)]
pub struct Search {
    wanted: BTreeSet<Outpoint>,
    scanned: HashSet<BlockHash>,
    blocks_fetched: usize,
    max_blocks: usize,
}

impl Search {
    /// A search for the spenders of `wanted`, making at most `max_blocks` `getBlock` calls.
    pub fn new(wanted: impl IntoIterator<Item = Outpoint>, max_blocks: usize) -> Self {
        Self { wanted: wanted.into_iter().collect(), scanned: HashSet::new(), blocks_fetched: 0, max_blocks }
    }

    /// Whether every spender was found.
    pub fn is_done(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Whether the block budget is spent.
    pub fn is_exhausted(&self) -> bool {
        self.blocks_fetched >= self.max_blocks
    }

    /// The outputs whose spender is still unknown.
    pub fn missing(&self) -> Vec<Outpoint> {
        self.wanted.iter().copied().collect()
    }

    /// `getBlock` calls made so far.
    pub fn blocks_fetched(&self) -> usize {
        self.blocks_fetched
    }

    async fn fetch<R: ChainReader>(
        &mut self,
        reader: &R,
        hash: BlockHash,
        transactions: bool,
    ) -> Result<Option<BlockSummary>, KaspadError> {
        if self.is_exhausted() {
            return Ok(None);
        }
        self.blocks_fetched += 1;
        reader.block(hash, transactions).await.map(Some)
    }

    /// One attempt: the chain added since `anchor`, newest chain block first, skipping those scanned
    /// by an earlier attempt. Returns the spends found (each wanted output at most once, in the order
    /// found).
    pub async fn step<R: ChainReader>(
        &mut self,
        reader: &R,
        anchor: BlockHash,
    ) -> Result<Vec<ChainEvent>, KaspadError> {
        let chain = reader.virtual_chain_from(anchor).await?;
        let accepted: HashMap<BlockHash, HashSet<TransactionId>> =
            chain.accepted.into_iter().map(|(block, ids)| (block, ids.into_iter().collect())).collect();
        let mut news = Vec::new();
        for chain_block in chain.added.iter().rev() {
            if self.wanted.is_empty() {
                break;
            }
            if self.scanned.contains(chain_block) {
                continue;
            }
            let Some(ids) = accepted.get(chain_block).filter(|ids| !ids.is_empty()) else {
                self.scanned.insert(*chain_block);
                continue;
            };
            let Some(header) = self.fetch(reader, *chain_block, false).await? else { break };
            for merged in &header.merge_set {
                let Some(block) = self.fetch(reader, *merged, true).await? else { return Ok(news) };
                for (id, spends) in &block.transactions {
                    if !ids.contains(id) {
                        continue;
                    }
                    for outpoint in spends {
                        if self.wanted.remove(outpoint) {
                            news.push(ChainEvent::Spent {
                                outpoint: *outpoint,
                                by: *id,
                                daa_score: header.daa_score,
                            });
                        }
                    }
                }
            }
            self.scanned.insert(*chain_block);
        }
        Ok(news)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::Value;

    use super::super::recorded::{self, ACCEPTING, ACCEPTING_DAA, MERGED, SPENDER, SPENT};
    use super::super::wire::{parse_block, parse_virtual_chain};
    use super::*;

    /// The recorded node: answers the recorded chain and blocks, and counts `getBlock` calls.
    struct Recorded {
        chain: Value,
        calls: Mutex<Vec<(BlockHash, bool)>>,
    }

    impl Recorded {
        fn new(chain: Value) -> Self {
            Self { chain, calls: Mutex::default() }
        }
    }

    impl ChainReader for Recorded {
        async fn virtual_chain_from(&self, start: BlockHash) -> Result<VirtualChain, KaspadError> {
            assert_eq!(start, hash(MERGED), "the search starts at its anchor");
            parse_virtual_chain(&self.chain)
        }

        async fn block(&self, h: BlockHash, include_transactions: bool) -> Result<BlockSummary, KaspadError> {
            self.calls.lock().unwrap().push((h, include_transactions));
            if h == hash(ACCEPTING) {
                parse_block(&recorded::accepting_block())
            } else if h == hash(MERGED) {
                parse_block(&recorded::merged_block())
            } else {
                Err(KaspadError::Rpc { method: "getBlock", message: format!("cannot find header {h}") })
            }
        }
    }

    fn hash(text: &str) -> BlockHash {
        BlockHash::parse(text).unwrap()
    }

    fn txid(text: &str) -> TransactionId {
        TransactionId(hash(text).0)
    }

    fn spent() -> Outpoint {
        Outpoint { transaction_id: txid(SPENT), index: 0 }
    }

    #[tokio::test]
    async fn the_accepted_spender_is_named_at_the_accepting_chain_blocks_daa_score() {
        let node = Recorded::new(recorded::virtual_chain());
        let stranger = Outpoint { transaction_id: txid(SPENT), index: 1 };
        let mut search = Search::new([spent(), stranger], MAX_BLOCKS_PER_SEARCH);
        let news = search.step(&node, hash(MERGED)).await.unwrap();
        assert_eq!(
            news,
            vec![ChainEvent::Spent { outpoint: spent(), by: txid(SPENDER), daa_score: ACCEPTING_DAA }]
        );
        assert_eq!(search.missing(), vec![stranger]);
        assert_eq!(*node.calls.lock().unwrap(), vec![(hash(ACCEPTING), false), (hash(MERGED), true)]);
        // A second attempt does not fetch the scanned chain block again.
        assert!(search.step(&node, hash(MERGED)).await.unwrap().is_empty());
        assert_eq!(search.blocks_fetched(), 2);
        assert!(!search.is_done());
    }

    #[tokio::test]
    async fn a_spender_the_chain_block_did_not_accept_is_not_named() {
        // The same blocks, but the chain block accepted only the coinbase: the spending transaction in
        // the merged block lost (a double spend), so it must not be reported.
        let mut chain = recorded::virtual_chain();
        chain["acceptedTransactionIds"][0]["acceptedTransactionIds"] =
            serde_json::json!([recorded::COINBASE]);
        let node = Recorded::new(chain);
        let mut search = Search::new([spent()], MAX_BLOCKS_PER_SEARCH);
        assert!(search.step(&node, hash(MERGED)).await.unwrap().is_empty());
        assert_eq!(search.missing(), vec![spent()]);
    }

    #[tokio::test]
    async fn the_block_budget_bounds_a_search() {
        let node = Recorded::new(recorded::virtual_chain());
        let mut search = Search::new([spent()], 1);
        assert!(search.step(&node, hash(MERGED)).await.unwrap().is_empty());
        assert!(search.is_exhausted());
        assert_eq!(search.blocks_fetched(), 1);
        assert_eq!(node.calls.lock().unwrap().len(), 1);
        assert_eq!(search.missing(), vec![spent()]);
    }

    #[tokio::test]
    async fn a_node_error_is_returned_typed() {
        let mut chain = recorded::virtual_chain();
        chain["addedChainBlockHashes"] = serde_json::json!([ACCEPTING, SPENT]);
        chain["acceptedTransactionIds"].as_array_mut().unwrap().push(serde_json::json!({
            "acceptingBlockHash": SPENT, "acceptedTransactionIds": [SPENDER]}));
        let node = Recorded::new(chain);
        let mut search = Search::new([spent()], MAX_BLOCKS_PER_SEARCH);
        // Newest first: the unknown block's error ends the attempt.
        assert!(matches!(
            search.step(&node, hash(MERGED)).await,
            Err(KaspadError::Rpc { method: "getBlock", .. })
        ));
    }

    #[test]
    fn the_anchor_lags_the_sink_and_waits_for_searches() {
        let sinks: Vec<BlockHash> = (1..=10u8).map(|b| BlockHash([b; 32])).collect();
        let mut anchor = Anchor::default();
        assert_eq!(anchor.current(), None);
        anchor.reset(sinks[0]);
        for sink in &sinks[1..=ANCHOR_LAG] {
            anchor.observe(*sink, true);
            anchor.observe(*sink, true);
        }
        assert_eq!(anchor.current(), Some(sinks[0]), "a sink is held ANCHOR_LAG checks");
        anchor.observe(sinks[ANCHOR_LAG + 1], true);
        assert_eq!(anchor.current(), Some(sinks[1]));
        anchor.observe(sinks[ANCHOR_LAG + 2], false);
        assert_eq!(anchor.current(), Some(sinks[1]), "not moved while a search is under way");
        anchor.observe(sinks[ANCHOR_LAG + 3], true);
        assert_eq!(anchor.current(), Some(sinks[3]));
    }
}
