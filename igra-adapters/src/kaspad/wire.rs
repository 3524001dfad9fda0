//! kaspad's wRPC JSON messages, as observed on kaspad 2.1.0 (docs/kaspad.md): the framing, the results
//! the client reads and the two notifications it subscribes to.
//!
//! Framing: a request is `{"id", "method", "params"}`; its answer repeats `id` and `method` and carries
//! either `params` (the result) or `error` (`{"message": …}` or a bare string); a notification has no
//! `id` and a method ending in `Notification`, with `params` wrapped in the enum tag
//! (`{"UtxosChanged": {…}}`).

use igra_proto::kaspa::tx::Outpoint;
use igra_proto::kaspa::tx::UtxoEntry;
use igra_proto::template::Utxo;
use serde::Deserialize;
use serde_json::Value;

use super::KaspadError;
use crate::kaspa_json::{RpcOutpoint, RpcUtxoEntry};

/// The DAA score kaspad gives outputs that are in the mempool only (`UNACCEPTED_DAA_SCORE`).
pub const UNACCEPTED_DAA_SCORE: u64 = u64::MAX;

/// One frame from the node, sorted by what it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The answer to request `id`.
    Reply {
        /// The request's id.
        id: u64,
        /// The result, or the node's error message.
        result: Result<Value, String>,
    },
    /// A notification.
    Notification(Notification),
}

/// A subscription's news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Outputs of the subscribed addresses were created or spent by the virtual chain.
    UtxosChanged {
        /// Outputs created.
        added: Vec<UtxoRecord>,
        /// Outputs spent.
        removed: Vec<UtxoRecord>,
    },
    /// The virtual DAA score advanced.
    VirtualDaaScore(u64),
    /// The selected chain changed: chain blocks removed (a reorg) and added, with the transactions
    /// each added one accepted (the same shape as `getVirtualChainFromBlock`'s answer).
    VirtualChainChanged(VirtualChain),
}

/// An output of an address, as `getUtxosByAddresses` and `UtxosChanged` carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtxoRecord {
    /// The address, when the node names it.
    pub address: Option<String>,
    /// The output.
    pub utxo: Utxo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    address: Option<String>,
    outpoint: RpcOutpoint,
    utxo_entry: RpcUtxoEntry,
}

fn entries(value: Value, method: &'static str) -> Result<Vec<UtxoRecord>, KaspadError> {
    let raw: Vec<RawEntry> = serde_json::from_value(value).map_err(|e| malformed(method, &e))?;
    raw.into_iter()
        .map(|r| {
            let outpoint = Outpoint::try_from(&r.outpoint).map_err(|e| malformed(method, &e))?;
            Ok(UtxoRecord {
                address: r.address,
                utxo: Utxo { outpoint, entry: UtxoEntry::from(&r.utxo_entry) },
            })
        })
        .collect()
}

/// A [`KaspadError::Malformed`] for `method`.
pub(super) fn malformed(method: &'static str, detail: &impl std::fmt::Display) -> KaspadError {
    KaspadError::Malformed { method, detail: detail.to_string() }
}

/// Sorts one text frame. `Ok(None)` is a frame the client has no use for (another notification).
pub fn parse_incoming(text: &str) -> Result<Option<Incoming>, KaspadError> {
    const FRAME: &str = "frame";
    let mut value: Value = serde_json::from_str(text).map_err(|e| malformed(FRAME, &e))?;
    let Some(object) = value.as_object_mut() else {
        return Err(malformed(FRAME, &"not a JSON object"));
    };
    if let Some(id) = object.get("id").filter(|v| !v.is_null()) {
        let id = id.as_u64().ok_or_else(|| malformed(FRAME, &"id is not an unsigned integer"))?;
        let result = match object.remove("error").filter(|e| !e.is_null()) {
            Some(Value::String(message)) => Err(message),
            Some(Value::Object(mut error)) => Err(match error.remove("message") {
                Some(Value::String(message)) => message,
                _ => Value::Object(error).to_string(),
            }),
            Some(other) => Err(other.to_string()),
            None => Ok(object.remove("params").unwrap_or(Value::Null)),
        };
        return Ok(Some(Incoming::Reply { id, result }));
    }
    let method = object.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
    let params = object.remove("params").unwrap_or(Value::Null);
    match method.as_str() {
        "utxosChangedNotification" => {
            const M: &str = "utxosChangedNotification";
            let mut inner = unwrap_tag(params, "UtxosChanged", M)?;
            let added = entries(inner.get_mut("added").map(Value::take).unwrap_or_default(), M)?;
            let removed = entries(inner.get_mut("removed").map(Value::take).unwrap_or_default(), M)?;
            Ok(Some(Incoming::Notification(Notification::UtxosChanged { added, removed })))
        }
        "virtualDaaScoreChangedNotification" => {
            const M: &str = "virtualDaaScoreChangedNotification";
            let inner = unwrap_tag(params, "VirtualDaaScoreChanged", M)?;
            let score = inner
                .get("virtualDaaScore")
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed(M, &"no virtualDaaScore"))?;
            Ok(Some(Incoming::Notification(Notification::VirtualDaaScore(score))))
        }
        "virtualChainChangedNotification" => {
            const M: &str = "virtualChainChangedNotification";
            let inner = unwrap_tag(params, "VirtualChainChanged", M)?;
            Ok(Some(Incoming::Notification(Notification::VirtualChainChanged(chain_of(&inner, M)?))))
        }
        m if m.ends_with("Notification") => Ok(None),
        _ => Err(malformed(FRAME, &"neither a reply (no id) nor a notification")),
    }
}

/// The notification's payload inside its enum tag (kaspad 2.1.0 wraps it; a bare payload is accepted).
fn unwrap_tag(mut params: Value, tag: &str, method: &'static str) -> Result<Value, KaspadError> {
    let Some(object) = params.as_object_mut() else {
        return Err(malformed(method, &"params is not an object"));
    };
    Ok(object.remove(tag).unwrap_or(params))
}

/// What `getServerInfo` answers (the fields the client uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// `mainnet`, `testnet-10`, `simnet`, `devnet`.
    pub network_id: String,
    /// Whether the node runs with `--utxoindex`.
    pub has_utxo_index: bool,
    /// Whether the node considers itself synced.
    pub is_synced: bool,
    /// The virtual DAA score.
    pub virtual_daa_score: u64,
    /// The node's version.
    #[serde(default)]
    pub server_version: String,
}

/// `getUtxosByAddresses`'s answer, keeping accepted outputs only.
pub fn parse_utxos(result: Value) -> Result<Vec<UtxoRecord>, KaspadError> {
    const M: &str = "getUtxosByAddresses";
    let mut result = result;
    let list = result.get_mut("entries").map(Value::take).ok_or_else(|| malformed(M, &"no entries"))?;
    Ok(entries(list, M)?
        .into_iter()
        .filter(|r| r.utxo.entry.block_daa_score != UNACCEPTED_DAA_SCORE)
        .collect())
}

/// One bucket of `getFeeEstimate`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeBucket {
    /// Sompi per gram of mass.
    pub feerate: f64,
    /// Expected wait at this rate.
    pub estimated_seconds: f64,
}

/// `getFeeEstimate`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeEstimate {
    /// The rate for inclusion in the next block.
    pub priority_bucket: FeeBucket,
    /// Normal rates, fastest first.
    #[serde(default)]
    pub normal_buckets: Vec<FeeBucket>,
    /// Low rates, fastest first.
    #[serde(default)]
    pub low_buckets: Vec<FeeBucket>,
}

/// A block hash (32 bytes, hex on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub [u8; 32]);

impl std::fmt::Display for BlockHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl BlockHash {
    /// Parses 64 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(text, &mut hash).ok()?;
        Some(Self(hash))
    }
}

fn hash_of(value: &Value, method: &'static str, what: &str) -> Result<BlockHash, KaspadError> {
    value
        .as_str()
        .and_then(BlockHash::parse)
        .ok_or_else(|| malformed(method, &format!("{what} is not a hash")))
}

fn hashes(value: Option<&Value>, method: &'static str, what: &str) -> Result<Vec<BlockHash>, KaspadError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list.iter().map(|v| hash_of(v, method, what)).collect(),
        Some(_) => Err(malformed(method, &format!("{what} is not a list"))),
    }
}

/// `getVirtualChainFromBlock {startHash, includeAcceptedTransactionIds: true}`'s answer (live on 2.1.0:
/// `{removedChainBlockHashes, addedChainBlockHashes, acceptedTransactionIds: [{acceptingBlockHash,
/// acceptedTransactionIds}]}`, the added chain oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualChain {
    /// Chain blocks that left the selected chain since the start block (a reorg).
    pub removed: Vec<BlockHash>,
    /// Chain blocks added since the start block, oldest first.
    pub added: Vec<BlockHash>,
    /// The transactions each added chain block accepted (from its merge set).
    pub accepted: Vec<(BlockHash, Vec<igra_proto::TransactionId>)>,
}

/// Reads `getVirtualChainFromBlock`'s answer.
pub fn parse_virtual_chain(result: &Value) -> Result<VirtualChain, KaspadError> {
    chain_of(result, "getVirtualChainFromBlock")
}

/// Reads a chain change: `getVirtualChainFromBlock`'s answer or a `VirtualChainChanged` notification.
fn chain_of(result: &Value, m: &'static str) -> Result<VirtualChain, KaspadError> {
    let removed = hashes(result.get("removedChainBlockHashes"), m, "removedChainBlockHashes")?;
    let added = hashes(result.get("addedChainBlockHashes"), m, "addedChainBlockHashes")?;
    let accepted = match result.get("acceptedTransactionIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|item| {
                let block =
                    hash_of(item.get("acceptingBlockHash").unwrap_or(&Value::Null), m, "acceptingBlockHash")?;
                let ids = hashes(item.get("acceptedTransactionIds"), m, "acceptedTransactionIds")?;
                Ok((block, ids.into_iter().map(|h| igra_proto::TransactionId(h.0)).collect()))
            })
            .collect::<Result<_, KaspadError>>()?,
        Some(_) => return Err(malformed(m, &"acceptedTransactionIds is not a list")),
    };
    Ok(VirtualChain { removed, added, accepted })
}

/// What the client reads of a `getBlock {hash, includeTransactions}` answer (live on 2.1.0:
/// `{block: {header: {hash, daaScore, …}, transactions: [{inputs: [{previousOutpoint}], …,
/// verboseData: {transactionId, …}}], verboseData: {mergeSetBluesHashes, mergeSetRedsHashes,
/// selectedParentHash, isChainBlock, …}}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    /// The block's hash.
    pub hash: BlockHash,
    /// Its DAA score. For a chain block this is the DAA score kaspad gives the outputs of the
    /// transactions it accepts (their UTXO entries' `blockDaaScore`).
    pub daa_score: u64,
    /// Its merge set, blues then reds: the blocks whose transactions it accepts (its selected parent
    /// is the first blue). Empty when the node sent no verbose data.
    pub merge_set: Vec<BlockHash>,
    /// Its transactions (when asked for): each one's id and the outputs it spends.
    pub transactions: Vec<(igra_proto::TransactionId, Vec<Outpoint>)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlockInput {
    previous_outpoint: RpcOutpoint,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlockTxVerbose {
    transaction_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlockTx {
    #[serde(default)]
    inputs: Vec<RawBlockInput>,
    verbose_data: Option<RawBlockTxVerbose>,
}

/// Reads `getBlock`'s answer.
pub fn parse_block(result: &Value) -> Result<BlockSummary, KaspadError> {
    const M: &str = "getBlock";
    let block = result.get("block").ok_or_else(|| malformed(M, &"no block"))?;
    let header = block.get("header").ok_or_else(|| malformed(M, &"no header"))?;
    let daa_score =
        header.get("daaScore").and_then(Value::as_u64).ok_or_else(|| malformed(M, &"no header.daaScore"))?;
    let verbose = block.get("verboseData").filter(|v| !v.is_null());
    let hash = match (header.get("hash"), verbose.and_then(|v| v.get("hash"))) {
        (Some(h), _) | (None, Some(h)) => hash_of(h, M, "hash")?,
        (None, None) => return Err(malformed(M, &"no hash")),
    };
    let mut merge_set = hashes(verbose.and_then(|v| v.get("mergeSetBluesHashes")), M, "mergeSetBluesHashes")?;
    merge_set.extend(hashes(verbose.and_then(|v| v.get("mergeSetRedsHashes")), M, "mergeSetRedsHashes")?);
    let raw: Vec<RawBlockTx> = match block.get("transactions") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => Vec::<RawBlockTx>::deserialize(list).map_err(|e| malformed(M, &e))?,
    };
    let transactions = raw
        .into_iter()
        .map(|tx| {
            let id = tx
                .verbose_data
                .as_ref()
                .and_then(|v| BlockHash::parse(&v.transaction_id))
                .ok_or_else(|| malformed(M, &"a transaction without verboseData.transactionId"))?;
            let spends = tx
                .inputs
                .iter()
                .map(|i| Outpoint::try_from(&i.previous_outpoint).map_err(|e| malformed(M, &e)))
                .collect::<Result<_, _>>()?;
            Ok((igra_proto::TransactionId(id.0), spends))
        })
        .collect::<Result<_, KaspadError>>()?;
    Ok(BlockSummary { hash, daa_score, merge_set, transactions })
}

/// Reads a typed result out of a reply, or a [`KaspadError::Malformed`].
pub fn typed<T: serde::de::DeserializeOwned>(method: &'static str, value: Value) -> Result<T, KaspadError> {
    serde_json::from_value(value).map_err(|e| malformed(method, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TXID: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

    fn entry(score: u64) -> Value {
        json!({"address": "kaspasim:qq", "outpoint": {"transactionId": TXID, "index": 1},
            "utxoEntry": {"amount": 7, "scriptPublicKey": "0000aa", "blockDaaScore": score,
            "isCoinbase": false, "covenantId": null}})
    }

    #[test]
    fn replies_carry_results_or_error_messages() {
        let ok = parse_incoming(r#"{"id":3,"method":"ping","params":{}}"#).unwrap();
        assert_eq!(ok, Some(Incoming::Reply { id: 3, result: Ok(json!({})) }));
        let err = parse_incoming(r#"{"id":4,"method":"x","error":{"code":0,"message":"boom","data":null}}"#);
        assert_eq!(err.unwrap(), Some(Incoming::Reply { id: 4, result: Err("boom".into()) }));
        let bare = parse_incoming(r#"{"id":5,"error":"plain"}"#).unwrap();
        assert_eq!(bare, Some(Incoming::Reply { id: 5, result: Err("plain".into()) }));
    }

    #[test]
    fn notifications_are_unwrapped_from_their_tag() {
        let text = json!({"method": "utxosChangedNotification",
            "params": {"UtxosChanged": {"added": [entry(9)], "removed": []}}})
        .to_string();
        let Some(Incoming::Notification(Notification::UtxosChanged { added, removed })) =
            parse_incoming(&text).unwrap()
        else {
            panic!("not a UtxosChanged")
        };
        assert!(removed.is_empty());
        assert_eq!(added[0].utxo.entry.block_daa_score, 9);
        assert_eq!(added[0].utxo.outpoint.index, 1);
        let daa = json!({"method": "virtualDaaScoreChangedNotification",
            "params": {"VirtualDaaScoreChanged": {"virtualDaaScore": 42}}});
        assert_eq!(
            parse_incoming(&daa.to_string()).unwrap(),
            Some(Incoming::Notification(Notification::VirtualDaaScore(42)))
        );
        // Recorded live (kaspad 2.1.0 simnet, two nodes joined after mining apart; hashes shortened to
        // their first byte here): the chain change of a reorg.
        let reorg = json!({"method": "virtualChainChangedNotification", "params": {"VirtualChainChanged": {
            "removedChainBlockHashes": ["8b".repeat(32)],
            "addedChainBlockHashes": ["32".repeat(32), "06".repeat(32)],
            "acceptedTransactionIds": [
                {"acceptedTransactionIds": ["e3".repeat(32)], "acceptingBlockHash": "32".repeat(32)},
                {"acceptedTransactionIds": [], "acceptingBlockHash": "06".repeat(32)}]}}});
        let Some(Incoming::Notification(Notification::VirtualChainChanged(chain))) =
            parse_incoming(&reorg.to_string()).unwrap()
        else {
            panic!("not a VirtualChainChanged")
        };
        assert_eq!(chain.removed, vec![BlockHash([0x8b; 32])]);
        assert_eq!(chain.added, vec![BlockHash([0x32; 32]), BlockHash([0x06; 32])]);
        assert_eq!(chain.accepted[0], (BlockHash([0x32; 32]), vec![igra_proto::TransactionId([0xe3; 32])]));
        let other = json!({"method": "blockAddedNotification", "params": {}});
        assert_eq!(parse_incoming(&other.to_string()).unwrap(), None);
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        for text in ["not json", "[1,2]", r#"{"id":-1}"#, r#"{"method":"what"}"#] {
            assert!(matches!(parse_incoming(text), Err(KaspadError::Malformed { .. })), "{text}");
        }
        let bad =
            json!({"method": "virtualDaaScoreChangedNotification", "params": {"VirtualDaaScoreChanged": {}}});
        assert!(matches!(parse_incoming(&bad.to_string()), Err(KaspadError::Malformed { .. })));
    }

    #[test]
    fn mempool_outputs_are_left_out_of_snapshots() {
        let result = json!({"entries": [entry(5), entry(UNACCEPTED_DAA_SCORE)]});
        let utxos = parse_utxos(result).unwrap();
        assert_eq!(utxos.len(), 1);
        assert_eq!(utxos[0].utxo.entry.amount, 7);
        assert!(parse_utxos(json!({})).is_err());
    }
}

#[cfg(test)]
mod recorded_tests {
    use super::super::recorded::{self, ACCEPTING, ACCEPTING_DAA, COINBASE, MERGED, SPENDER, SPENT};
    use super::*;
    use serde_json::json;

    #[test]
    fn the_recorded_virtual_chain_and_blocks_parse() {
        let chain = parse_virtual_chain(&recorded::virtual_chain()).unwrap();
        let accepting = BlockHash::parse(ACCEPTING).unwrap();
        assert_eq!(chain.added, vec![accepting]);
        assert!(chain.removed.is_empty());
        assert_eq!(chain.accepted.len(), 1);
        assert_eq!(chain.accepted[0].0, accepting);
        assert_eq!(chain.accepted[0].1[1].to_string(), SPENDER);
        let block = parse_block(&recorded::accepting_block()).unwrap();
        assert_eq!(block.hash, accepting);
        assert_eq!(block.daa_score, ACCEPTING_DAA);
        assert_eq!(block.merge_set, vec![BlockHash::parse(MERGED).unwrap()]);
        assert!(block.transactions.is_empty());
        let merged = parse_block(&recorded::merged_block()).unwrap();
        assert_eq!(merged.daa_score, 1_050);
        assert!(merged.merge_set.is_empty());
        assert_eq!(merged.transactions.len(), 2);
        assert_eq!(merged.transactions[0].0.to_string(), COINBASE);
        assert!(merged.transactions[0].1.is_empty());
        assert_eq!(merged.transactions[1].0.to_string(), SPENDER);
        assert_eq!(merged.transactions[1].1[0].transaction_id.to_string(), SPENT);
        assert_eq!(BlockHash::parse(MERGED).unwrap().to_string(), MERGED);
    }

    #[test]
    fn malformed_chain_answers_are_typed_errors() {
        let bad_chains = [
            json!({"addedChainBlockHashes": "x"}),
            json!({"addedChainBlockHashes": ["zz"]}),
            json!({"acceptedTransactionIds": [{"acceptedTransactionIds": []}]}),
            json!({"acceptedTransactionIds": 3}),
        ];
        for bad in bad_chains {
            assert!(matches!(parse_virtual_chain(&bad), Err(KaspadError::Malformed { .. })), "{bad}");
        }
        let mut no_id = recorded::merged_block();
        no_id["block"]["transactions"][1]["verboseData"] = Value::Null;
        let mut bad_outpoint = recorded::merged_block();
        bad_outpoint["block"]["transactions"][1]["inputs"][0]["previousOutpoint"]["transactionId"] =
            json!("00");
        let mut no_daa = recorded::accepting_block();
        no_daa["block"]["header"]["daaScore"] = Value::Null;
        for bad in [json!({}), json!({"block": {}}), no_id, bad_outpoint, no_daa] {
            assert!(matches!(parse_block(&bad), Err(KaspadError::Malformed { .. })), "{bad}");
        }
    }
}
