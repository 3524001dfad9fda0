//! Answers recorded from a live kaspad 2.1.0 simnet (2026-11-22), trimmed to the fields the client
//! reads plus a few it must skip. The node was started as `tests/support/kaspad.rs` starts it; the
//! support miner mined 1,020 blocks and funded a P2PK address with transaction `f0fd…2aa0`, which
//! spends coinbase output `b1d4…6672:0`. That transaction sits in block `8b63…dc7f` (DAA score 1,050)
//! and was accepted by the next chain block `e114…e4ef` (DAA score 1,051); the UTXO index gave its
//! outputs `blockDaaScore` 1,051. Queried with `getVirtualChainFromBlock {startHash: 8b63…,
//! includeAcceptedTransactionIds: true}`, `getBlock {hash: e114…, includeTransactions: false}` and
//! `getBlock {hash: 8b63…, includeTransactions: true}`.

use serde_json::{Value, json};

/// The spender.
pub(super) const SPENDER: &str = "f0fd153c372274dde3df4e9810fa8b6c88de32123e2611f492d13d76ede72aa0";
/// The output it spends.
pub(super) const SPENT: &str = "b1d406ce5c6aae69cdcd603764d837563270da67356dfe6b0bc3019b0dc06672";
/// The coinbase of the merged block, accepted by the same chain block.
pub(super) const COINBASE: &str = "eb81f5d993f4a467886a5beb8a74c707fb6a4e0397cd5072d38bb0292b7542c5";
/// The block holding the spender; the anchor of the recorded chain query.
pub(super) const MERGED: &str = "8b63274409af8a9fc63884dcb86fea4fd137628acad64b81d9052f8bdd99dc7f";
/// The chain block that accepted it (the sink at the time).
pub(super) const ACCEPTING: &str = "e114cf34725612a9d6e5b016e8c9e10eb78b8baf0cf5ed6cb877fb754090e4ef";
/// The accepting chain block's DAA score: the spend's DAA score.
pub(super) const ACCEPTING_DAA: u64 = 1_051;

/// `getVirtualChainFromBlock {startHash: MERGED, includeAcceptedTransactionIds: true}`.
pub(super) fn virtual_chain() -> Value {
    json!({"acceptedTransactionIds": [{"acceptedTransactionIds": [COINBASE, SPENDER],
        "acceptingBlockHash": ACCEPTING}],
        "addedChainBlockHashes": [ACCEPTING], "removedChainBlockHashes": []})
}

/// `getBlock {hash: ACCEPTING, includeTransactions: false}`.
pub(super) fn accepting_block() -> Value {
    json!({"block": {"header": {"hash": ACCEPTING, "daaScore": ACCEPTING_DAA, "blueScore": 1052,
        "parentsByLevel": [[MERGED]], "version": 2},
        "transactions": [],
        "verboseData": {"hash": ACCEPTING, "isChainBlock": true, "mergeSetBluesHashes": [MERGED],
        "mergeSetRedsHashes": [], "selectedParentHash": MERGED}}})
}

/// `getBlock {hash: MERGED, includeTransactions: true}` (scripts and payload trimmed).
pub(super) fn merged_block() -> Value {
    json!({"block": {"header": {"hash": MERGED, "daaScore": 1_050, "version": 2},
        "transactions": [
            {"inputs": [], "outputs": [{"covenant": null, "scriptPublicKey": "0000", "value": 5_000_000_000u64}],
             "subnetworkId": "0100000000000000000000000000000000000000", "mass": 0, "storageMass": 0,
             "verboseData": {"blockHash": MERGED, "transactionId": COINBASE, "computeMass": 0}},
            {"inputs": [{"computeBudget": 0, "previousOutpoint": {"index": 0, "transactionId": SPENT},
              "sequence": 0, "sigOpCount": 1, "signatureScript": "41", "verboseData": null}],
             "outputs": [{"covenant": null, "scriptPublicKey": "0000", "value": 700_000_000}],
             "subnetworkId": "0000000000000000000000000000000000000000", "mass": 1460, "storageMass": 1460,
             "verboseData": {"blockHash": MERGED, "computeMass": 2036, "transactionId": SPENDER}}],
        "verboseData": {"hash": MERGED, "isChainBlock": true}}})
}
