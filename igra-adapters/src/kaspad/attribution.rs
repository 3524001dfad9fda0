//! Who spent a group output the client saw removed but cannot name the spender of: a search of the
//! virtual chain.
//!
//! `UtxosChanged` does not name the spending transaction, and a spender the client never saw (an
//! out-of-band spend) cannot be recognised by [`super::news`]. Such an output is queued here. The search
//! asks `getVirtualChainFromBlock {startHash: anchor, includeAcceptedTransactionIds: true}` for the
//! chain blocks added since an *anchor* (a chain block older than the spend) with the transactions each
//! accepted, then walks those chain blocks in the order below: `getBlock` of the chain block gives its DAA
//! score and merge set, `getBlock {includeTransactions: true}` of each merged block gives the
//! transactions and their inputs. A transaction that spends the output **and** is among the chain
//! block's accepted transactions is the spender (a merged block can hold a losing double spend: it is
//! not accepted and is ignored). The news is [`ChainEvent::Spent`] at the **accepting chain block's DAA
//! score**: the DAA score kaspad gives the outputs of that transaction in its UTXO index (seen live:
//! a transaction of a block at DAA score 28 accepted by the chain block at 29 has `blockDaaScore` 29),
//! so the node's finality clock (virtual DAA score minus the acceptance's DAA score) counts the same way
//! for a spend found here as for one learned from `UtxosChanged`.
//!
//! The UTXO index follows the *virtual* state: a removal is usually heard while its spender is accepted
//! by the virtual only (it sits in the sink's merge set of the virtual, not yet in a chain block's), so
//! it is found in the first chain block added *after* the chain the first attempt read. The search
//! therefore looks near that chain's newest block, the *frontier*, first: each attempt scans the chain
//! blocks added above the frontier (oldest first: the accepting block is the first of them), then those
//! at or below it, newest first, down to a depth that doubles with each attempt ([`RECENT_DEPTH`],
//! then twice that, ...; the last attempt goes down to the anchor). A search started before the
//! accepting chain block exists thus spends a few `getBlock` calls, not its whole budget on the chain
//! between the anchor and the sink (seen on simnet at 20 blocks per second: a first attempt walking
//! 100 chain blocks down to the anchor ran out of calls before the accepting block was added). A
//! removal heard late (its spender already below the frontier) is found by the deeper attempts. Chain
//! blocks already scanned are not fetched again.
//!
//! Bounds: at most [`MAX_SPENDS_PER_SEARCH`] outputs per search, [`MAX_BLOCKS_PER_SEARCH`] `getBlock`
//! calls per search (over all its attempts), [`SEARCH_ATTEMPTS`] attempts, and the client wraps a
//! search in [`SEARCH_TIMEOUT`]. An output a search does not attribute is handed to verification if
//! the client has meanwhile learned a transaction spending it (its own submission racing the removal),
//! and is otherwise counted unresolved (the node's Dead path does not start from it).

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
/// `getBlock` calls one search may make, over all its attempts: two per chain block (its header, then
/// its one merged block when the chain is quiet), so the chain since the anchor (10 s, a hundred chain
/// blocks at 10 blocks per second) fits, with room for wider merge sets near the frontier.
pub const MAX_BLOCKS_PER_SEARCH: usize = 512;
/// Attempts of one search (the first at once, then after 200 ms, 400 ms, ...).
pub const SEARCH_ATTEMPTS: u32 = 6;
/// How many chain blocks at or below the frontier the first attempt scans; each later attempt doubles
/// it, and the last one scans down to the anchor.
pub const RECENT_DEPTH: usize = 8;
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
/// only while no search is under way, with the virtual DAA score read with it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Anchor {
    current: Option<(BlockHash, u64)>,
    recent: VecDeque<(BlockHash, u64)>,
    /// A session started over after a long gap and no snapshot has closed that gap yet.
    started_over: bool,
}

/// A session that starts at most this much DAA score after the anchor (a minute at 10 blocks per
/// second: about a kaspad restart) keeps it: the outputs spent while the client was away are searched
/// for above it (within the search's block budget, about 250 quiet chain blocks). After a longer gap
/// the anchor starts over at the sink, and such spends are not searched.
pub const MAX_GAP_DAA: u64 = 600;

impl Anchor {
    /// A new session read `sink` at virtual DAA score `daa` before subscribing. Keeps the previous
    /// anchor when it is at most [`MAX_GAP_DAA`] older (every spend made while the client was away is
    /// then above it), otherwise starts over at `sink`. Returns whether it was kept.
    pub fn resume(&mut self, sink: BlockHash, daa: u64) -> bool {
        self.recent.clear();
        if !self.started_over
            && let Some((_, at)) = self.current
            && daa >= at
            && daa - at <= MAX_GAP_DAA
        {
            return true;
        }
        // Started over after a gap (not the first session): until a snapshot closes the gap, a
        // session that fails and reconnects must not take this fresh anchor for one older than it.
        self.started_over |= self.current.is_some();
        self.current = Some((sink, daa));
        false
    }

    /// A snapshot after the gap was sent: what vanished during it has been dealt with.
    pub fn gap_closed(&mut self) {
        self.started_over = false;
    }

    /// A health check read `sink` at virtual DAA score `daa`; `idle` when no search is queued or under
    /// way.
    pub fn observe(&mut self, sink: BlockHash, daa: u64, idle: bool) {
        if self.recent.back().map(|(b, _)| b) != Some(&sink) {
            self.recent.push_back((sink, daa));
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
        self.current.map(|(b, _)| b)
    }
}

/// One search for the spenders of some removed outputs.
#[derive(Debug)]
pub struct Search {
    wanted: BTreeSet<Outpoint>,
    scanned: HashSet<BlockHash>,
    blocks_fetched: usize,
    max_blocks: usize,
    /// The newest chain block the first attempt read (the sink then).
    frontier: Option<BlockHash>,
    attempts: u32,
    forgotten: usize,
}

impl Search {
    /// A search for the spenders of `wanted`, making at most `max_blocks` `getBlock` calls.
    pub fn new(wanted: impl IntoIterator<Item = Outpoint>, max_blocks: usize) -> Self {
        Self {
            wanted: wanted.into_iter().collect(),
            scanned: HashSet::new(),
            blocks_fetched: 0,
            max_blocks,
            frontier: None,
            attempts: 0,
            forgotten: 0,
        }
    }

    /// Whether every spender was found.
    pub fn is_done(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Whether the block budget is spent.
    pub fn is_exhausted(&self) -> bool {
        self.blocks_fetched >= self.max_blocks
    }

    /// Stops looking for the outputs `gone` picks (created by a transaction a reorg took off the
    /// chain: they were not spent, they went with it); returns how many.
    pub fn forget(&mut self, gone: impl Fn(&Outpoint) -> bool) -> usize {
        let before = self.wanted.len();
        self.wanted.retain(|o| !gone(o));
        self.forgotten += before - self.wanted.len();
        before - self.wanted.len()
    }

    /// Outputs forgotten so far ([`Search::forget`]).
    pub fn forgotten(&self) -> usize {
        self.forgotten
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

    /// One attempt: reads the chain added since `anchor`, then scans the chain blocks above the
    /// frontier (oldest first), then those at or below it (newest first) down to this attempt's depth
    /// (the [`SEARCH_ATTEMPTS`]th attempt and later: down to the anchor), skipping those scanned by an
    /// earlier attempt. Returns the spends found (each wanted output at most once, in the order found).
    pub async fn step<R: ChainReader>(
        &mut self,
        reader: &R,
        anchor: BlockHash,
    ) -> Result<Vec<ChainEvent>, KaspadError> {
        let chain = reader.virtual_chain_from(anchor).await?;
        let attempt = self.attempts;
        self.attempts = self.attempts.saturating_add(1);
        if self.frontier.is_none() {
            self.frontier = chain.added.last().copied();
        }
        // A frontier a reorg took off the chain: everything read now is at or below it.
        let split = self
            .frontier
            .and_then(|f| chain.added.iter().position(|b| *b == f))
            .map_or(chain.added.len(), |i| i + 1);
        let depth = if attempt + 1 >= SEARCH_ATTEMPTS {
            split
        } else {
            RECENT_DEPTH.checked_shl(attempt).unwrap_or(usize::MAX).min(split)
        };
        let (below, above) = chain.added.split_at(split);
        let order: Vec<BlockHash> =
            above.iter().chain(below[split - depth..].iter().rev()).copied().collect();
        let accepted: HashMap<BlockHash, HashSet<TransactionId>> =
            chain.accepted.into_iter().map(|(block, ids)| (block, ids.into_iter().collect())).collect();
        let mut news = Vec::new();
        for chain_block in order {
            if self.wanted.is_empty() {
                break;
            }
            if self.scanned.contains(&chain_block) {
                continue;
            }
            let Some(ids) = accepted.get(&chain_block).filter(|ids| !ids.is_empty()) else {
                self.scanned.insert(chain_block);
                continue;
            };
            let Some(header) = self.fetch(reader, chain_block, false).await? else { break };
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
            self.scanned.insert(chain_block);
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
    async fn outputs_of_an_orphan_are_forgotten_not_searched() {
        let node = Recorded::new(recorded::virtual_chain());
        let orphan = Outpoint { transaction_id: txid(SPENDER), index: 3 };
        let mut search = Search::new([spent(), orphan], MAX_BLOCKS_PER_SEARCH);
        assert_eq!(search.forget(|o| o.transaction_id == txid(SPENDER)), 1);
        assert_eq!(search.step(&node, hash(MERGED)).await.unwrap().len(), 1);
        assert!(search.is_done(), "the orphan's output is not missing");
        assert_eq!((search.forgotten(), search.missing()), (1, vec![]));
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

    /// A quiet chain: chain block `i` merges one block holding its coinbase and, for the chain blocks
    /// in `spends`, a transaction spending [`spent`] that the chain block accepts.
    struct Quiet {
        chain_blocks: Mutex<usize>,
        spends: Vec<usize>,
        calls: Mutex<usize>,
    }

    impl Quiet {
        fn new(chain_blocks: usize, spends: Vec<usize>) -> Self {
            Self { chain_blocks: Mutex::new(chain_blocks), spends, calls: Mutex::default() }
        }

        fn hash(i: usize, merged: bool) -> BlockHash {
            let mut h = [u8::from(merged); 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            BlockHash(h)
        }

        fn index(h: BlockHash) -> (usize, bool) {
            let i = u64::from_le_bytes(h.0[..8].try_into().unwrap());
            (usize::try_from(i).unwrap(), h.0[8] == 1)
        }

        fn transactions(&self, i: usize) -> Vec<(TransactionId, Vec<Outpoint>)> {
            let coinbase = TransactionId(Self::hash(i, false).0);
            let mut txs = vec![(coinbase, Vec::new())];
            if self.spends.contains(&i) {
                txs.push((txid(SPENDER), vec![spent()]));
            }
            txs
        }

        fn grow(&self, by: usize) {
            *self.chain_blocks.lock().unwrap() += by;
        }

        fn calls(&self) -> usize {
            *self.calls.lock().unwrap()
        }
    }

    impl ChainReader for Quiet {
        async fn virtual_chain_from(&self, start: BlockHash) -> Result<VirtualChain, KaspadError> {
            assert_eq!(start, Self::hash(0, false), "the search starts at its anchor");
            let tip = *self.chain_blocks.lock().unwrap();
            let added: Vec<BlockHash> = (1..=tip).map(|i| Self::hash(i, false)).collect();
            let accepted = (1..=tip)
                .map(|i| (Self::hash(i, false), self.transactions(i).into_iter().map(|(id, _)| id).collect()))
                .collect();
            Ok(VirtualChain { removed: Vec::new(), added, accepted })
        }

        async fn block(&self, h: BlockHash, include_transactions: bool) -> Result<BlockSummary, KaspadError> {
            *self.calls.lock().unwrap() += 1;
            let (i, merged) = Self::index(h);
            assert_eq!(merged, include_transactions, "headers of chain blocks, transactions of merged ones");
            Ok(BlockSummary {
                hash: h,
                daa_score: 1_000 + i as u64,
                merge_set: if merged { Vec::new() } else { vec![Self::hash(i, true)] },
                transactions: if merged { self.transactions(i) } else { Vec::new() },
            })
        }
    }

    #[tokio::test]
    async fn a_spend_accepted_after_the_first_attempt_is_found_above_the_frontier() {
        // 200 chain blocks above the anchor: more than the budget allows walking twice.
        let node = Quiet::new(200, vec![201]);
        let anchor = Quiet::hash(0, false);
        let mut search = Search::new([spent()], MAX_BLOCKS_PER_SEARCH);
        assert!(search.step(&node, anchor).await.unwrap().is_empty(), "not accepted by a chain block yet");
        assert_eq!(node.calls(), 2 * RECENT_DEPTH, "the first attempt looked near the sink only");
        node.grow(3);
        let news = search.step(&node, anchor).await.unwrap();
        assert_eq!(news, vec![ChainEvent::Spent { outpoint: spent(), by: txid(SPENDER), daa_score: 1_201 }]);
        assert_eq!(node.calls(), 2 * RECENT_DEPTH + 2, "the first block above the frontier, first");
        assert!(search.is_done());
    }

    #[tokio::test]
    async fn a_spend_below_the_frontier_is_found_by_a_deeper_attempt() {
        // Heard late: accepted 50 chain blocks below the sink the first attempt read.
        let node = Quiet::new(200, vec![150]);
        let anchor = Quiet::hash(0, false);
        let mut search = Search::new([spent()], MAX_BLOCKS_PER_SEARCH);
        let mut found_at = None;
        for attempt in 0..SEARCH_ATTEMPTS {
            let news = search.step(&node, anchor).await.unwrap();
            if !news.is_empty() {
                assert_eq!(
                    news[0],
                    ChainEvent::Spent { outpoint: spent(), by: txid(SPENDER), daa_score: 1_150 }
                );
                found_at = Some(attempt);
                break;
            }
        }
        // Depths 8, 16, 32, 64: the fourth attempt reaches 51 blocks down, each block fetched once.
        assert_eq!(found_at, Some(3));
        assert_eq!(node.calls(), 2 * 51);
    }

    #[tokio::test]
    async fn the_last_attempt_scans_down_to_the_anchor() {
        let node = Quiet::new(400, vec![2]);
        let anchor = Quiet::hash(0, false);
        let mut search = Search::new([spent()], 2 * 400);
        for _ in 0..SEARCH_ATTEMPTS - 1 {
            assert!(search.step(&node, anchor).await.unwrap().is_empty());
        }
        assert_eq!(node.calls(), 2 * (RECENT_DEPTH << 4), "depths 8 to 128, no block fetched twice");
        let news = search.step(&node, anchor).await.unwrap();
        assert_eq!(news, vec![ChainEvent::Spent { outpoint: spent(), by: txid(SPENDER), daa_score: 1_002 }]);
    }

    #[test]
    fn the_anchor_lags_the_sink_and_waits_for_searches() {
        let sinks: Vec<BlockHash> = (1..=10u8).map(|b| BlockHash([b; 32])).collect();
        let mut anchor = Anchor::default();
        assert_eq!(anchor.current(), None);
        assert!(!anchor.resume(sinks[0], 0), "the first session starts at its sink");
        for (daa, sink) in (1..).zip(&sinks[1..=ANCHOR_LAG]) {
            anchor.observe(*sink, daa, true);
            anchor.observe(*sink, daa, true);
        }
        assert_eq!(anchor.current(), Some(sinks[0]), "a sink is held ANCHOR_LAG checks");
        anchor.observe(sinks[ANCHOR_LAG + 1], 10, true);
        assert_eq!(anchor.current(), Some(sinks[1]));
        anchor.observe(sinks[ANCHOR_LAG + 2], 11, false);
        assert_eq!(anchor.current(), Some(sinks[1]), "not moved while a search is under way");
        anchor.observe(sinks[ANCHOR_LAG + 3], 12, true);
        assert_eq!(anchor.current(), Some(sinks[3]));
    }

    #[test]
    fn a_short_gap_keeps_the_anchor_and_a_long_one_starts_over() {
        let (old, new, newer) = (BlockHash([1; 32]), BlockHash([2; 32]), BlockHash([3; 32]));
        let mut anchor = Anchor::default();
        anchor.resume(old, 1_000);
        assert!(anchor.resume(new, 1_000 + MAX_GAP_DAA), "reconnected soon: spends while away are above it");
        assert_eq!(anchor.current(), Some(old));
        assert!(!anchor.resume(newer, 1_001 + MAX_GAP_DAA), "too long away: starts over at the sink");
        assert_eq!(anchor.current(), Some(newer));
        // That session failed before its snapshot: the next one may not take the fresh anchor for an
        // old one (the vanished outputs were spent below it).
        assert!(!anchor.resume(old, 1_002 + MAX_GAP_DAA));
        anchor.gap_closed();
        assert!(anchor.resume(new, 1_003 + MAX_GAP_DAA));
        // A node whose DAA score is below the anchor's (reset, another node) does not keep it.
        assert!(!anchor.resume(newer, 10));
    }
}
