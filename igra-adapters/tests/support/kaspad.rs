//! A kaspad on simnet for tests: started from the install cache (`scripts/install-kaspad`) on loopback
//! ports with a temporary app directory, a miner driving `getBlockTemplate`/`submitBlock`, and funding
//! of an address from matured coinbase outputs through transactions signed with igra-proto.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::collections::{BTreeMap, HashSet};

use igra_adapters::kaspa_json::RpcTransaction;
use igra_adapters::kaspad::{BlockHash, KaspadError, KaspadRpc, SubmitOutcome, UtxoRecord};
use igra_proto::kaspa::address::Prefix;
use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::mass::MassReport;
use igra_proto::kaspa::script::{address_for_script, pay_to_pubkey};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{
    Outpoint, ScriptPublicKey, SubnetworkId, Transaction, TransactionInput, TransactionOutput, UtxoEntry,
};
use igra_proto::{LocalSigner, Signer, TransactionId};
use serde_json::{Value, json};

/// The coinbase maturity of simnet in DAA score (rusty-kaspa `COINBASE_MATURITY`: 100 s at 10 BPS).
pub(crate) const COINBASE_MATURITY: u64 = 1_000;
/// Outputs per funding transaction (keeps compute and storage mass well under the standard limits).
const OUTPUTS_PER_FUNDING_TX: usize = 16;

/// Where `scripts/install-kaspad` puts kaspad.
pub(crate) fn install_dir() -> PathBuf {
    std::env::var_os("IGRA_KASPAD_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/igra/kaspad"),
        PathBuf::from,
    )
}

/// The installed kaspad, if any.
pub(crate) fn binary() -> Option<PathBuf> {
    let bin = install_dir().join("bin/kaspad");
    bin.is_file().then_some(bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running kaspad; killed on drop.
pub(crate) struct Kaspad {
    bin: PathBuf,
    appdir: tempfile::TempDir,
    ports: [u16; 3],
    extra: Vec<&'static str>,
    child: Option<Child>,
    /// Its wRPC JSON endpoint.
    pub(crate) url: String,
}

impl Kaspad {
    /// Starts kaspad on simnet with a fresh app directory and `extra` arguments.
    pub(crate) fn start(bin: &Path, extra: &[&'static str]) -> Self {
        let ports = [free_port(), free_port(), free_port()];
        let mut node = Self {
            bin: bin.to_path_buf(),
            appdir: tempfile::tempdir().expect("a temporary directory"),
            ports,
            extra: extra.to_vec(),
            child: None,
            url: format!("ws://127.0.0.1:{}", ports[0]),
        };
        node.spawn();
        node
    }

    /// Its peer-to-peer port.
    #[allow(dead_code, reason = "only the reorg test joins two nodes")]
    pub(crate) fn p2p_port(&self) -> u16 {
        self.ports[2]
    }

    fn spawn(&mut self) {
        let [json_port, grpc_port, p2p_port] = self.ports;
        let log = std::fs::File::create(self.appdir.path().join("stdout.log")).expect("a log file");
        let child = Command::new(&self.bin)
            .args([
                "--simnet",
                "--utxoindex",
                "--enable-unsynced-mining",
                "--disable-upnp",
                "--nodnsseed",
                "--nologfiles",
                &format!("--appdir={}", self.appdir.path().join("data").display()),
                &format!("--rpclisten-json=127.0.0.1:{json_port}"),
                &format!("--rpclisten=127.0.0.1:{grpc_port}"),
                &format!("--listen=127.0.0.1:{p2p_port}"),
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log handle"))
            .stderr(log)
            .spawn()
            .expect("kaspad starts");
        self.child = Some(child);
    }

    /// Stops kaspad (its data stays).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// A simnet kaspad with a UTXO index, a connection to it and a miner that has mined `blocks`; `None`
    /// (after saying the test named `test` is skipped, and how to install kaspad) when kaspad is not
    /// installed.
    pub(crate) async fn simnet(test: &str, blocks: u64) -> Option<(Self, KaspadRpc, Miner)> {
        Self::simnet_with(test, blocks, &[]).await
    }

    /// [`Kaspad::simnet`] with `extra` kaspad arguments.
    pub(crate) async fn simnet_with(
        test: &str,
        blocks: u64,
        extra: &[&'static str],
    ) -> Option<(Self, KaspadRpc, Miner)> {
        let Some(bin) = binary() else {
            eprintln!(
                "SKIPPED {test}: no kaspad in {} (install it with scripts/install-kaspad)",
                install_dir().display()
            );
            return None;
        };
        let node = Self::start(&bin, extra);
        let rpc = node.connect().await;
        let info = rpc.server_info().await.expect("server info");
        assert_eq!(info.network_id, "simnet");
        assert!(info.has_utxo_index);
        let miner = Miner::new(rpc.clone());
        miner.mine(blocks).await.expect("mined to maturity");
        Some((node, rpc, miner))
    }

    /// A connection, retried until kaspad answers (it takes a few seconds to open its RPC).
    pub(crate) async fn connect(&self) -> KaspadRpc {
        for _ in 0..300 {
            if let Ok((rpc, _notes)) =
                KaspadRpc::connect(&self.url, Duration::from_secs(2), Duration::from_secs(30)).await
                && rpc.server_info().await.is_ok()
            {
                return rpc;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kaspad did not open {} within 30 s (log: {})", self.url, self.appdir.path().display());
    }
}

impl Drop for Kaspad {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A key that mines and spends its coinbase outputs.
pub(crate) struct Miner {
    rpc: KaspadRpc,
    key: LocalSigner,
    script: ScriptPublicKey,
    /// Its address.
    pub address: String,
}

impl Miner {
    /// A miner on `rpc` with a fixed key.
    pub(crate) fn new(rpc: KaspadRpc) -> Self {
        let key = LocalSigner::from_secrets([7; 32], [0x11; 32]).expect("a valid key");
        let script = pay_to_pubkey(&key.signing_public_key());
        let address = address_for_script(&script, Prefix::Simnet).expect("a P2PK address").encode();
        Self { rpc, key, script, address }
    }

    /// Replaces the connection (after a restart).
    pub(crate) fn reconnect(&mut self, rpc: KaspadRpc) {
        self.rpc = rpc;
    }

    /// Mines `blocks` blocks (simnet skips proof of work: templates are submitted unsolved).
    pub(crate) async fn mine(&self, blocks: u64) -> Result<(), KaspadError> {
        for _ in 0..blocks {
            let mut template = self
                .rpc
                .call("getBlockTemplate", json!({"payAddress": self.address, "extraData": []}))
                .await?;
            let block = template.get_mut("block").map(Value::take).unwrap_or_default();
            let report =
                self.rpc.call("submitBlock", json!({"block": block, "allowNonDaaBlocks": false})).await?;
            let kind = report.pointer("/report/type").and_then(Value::as_str);
            assert_eq!(kind, Some("success"), "submitBlock answered {report}");
        }
        Ok(())
    }

    /// Pays each of `amounts` to `to` in its own output, from matured coinbase outputs, and mines until
    /// the payments are accepted. Returns the funding transactions.
    pub(crate) async fn fund(&self, to: &ScriptPublicKey, amounts: &[u64]) -> Vec<TransactionId> {
        let score = self.rpc.virtual_daa_score().await.expect("a DAA score");
        let mut coins: Vec<UtxoRecord> = self
            .rpc
            .utxos_by_addresses(std::slice::from_ref(&self.address))
            .await
            .expect("the miner's outputs")
            .into_iter()
            .filter(|r| r.utxo.entry.block_daa_score + COINBASE_MATURITY < score)
            .collect();
        coins.sort_by_key(|r| std::cmp::Reverse(r.utxo.entry.amount));
        let mut ids = Vec::new();
        for chunk in amounts.chunks(OUTPUTS_PER_FUNDING_TX) {
            let tx = self.pay(&mut coins, to, chunk);
            let outcome = self.rpc.submit_transaction(&tx).await.expect("submitted");
            assert!(outcome.is_success(), "funding refused: {outcome}");
            if let SubmitOutcome::Accepted { transaction_id: id } = outcome {
                assert_eq!(id, transaction_id(&tx), "the node's id equals igra-proto's");
            }
            ids.push(transaction_id(&tx));
        }
        self.mine(2).await.expect("mined");
        ids
    }

    /// A signed transaction paying `amounts` to `to` with change to the miner, taking coins from `coins`.
    fn pay(&self, coins: &mut Vec<UtxoRecord>, to: &ScriptPublicKey, amounts: &[u64]) -> Transaction {
        let need: u64 = amounts.iter().sum::<u64>() + 100_000_000;
        let mut taken = Vec::new();
        while taken.iter().map(|r: &UtxoRecord| r.utxo.entry.amount).sum::<u64>() < need {
            taken.push(coins.pop().expect("enough matured coinbase outputs"));
        }
        let total: u64 = taken.iter().map(|r| r.utxo.entry.amount).sum();
        let mut outputs: Vec<TransactionOutput> =
            amounts.iter().map(|&value| TransactionOutput { value, script_public_key: to.clone() }).collect();
        outputs.push(TransactionOutput {
            value: total - amounts.iter().sum::<u64>(),
            script_public_key: self.script.clone(),
        });
        let mut tx = Transaction {
            version: 0,
            inputs: taken
                .iter()
                .map(|r| TransactionInput {
                    previous_outpoint: r.utxo.outpoint,
                    signature_script: vec![0; 66],
                    sequence: 0,
                    sig_op_count: 1,
                })
                .collect(),
            outputs,
            lock_time: 0,
            subnetwork_id: SubnetworkId::NATIVE,
            gas: 0,
            payload: vec![],
            storage_mass: 0,
        };
        let entries: Vec<_> = taken.iter().map(|r| r.utxo.entry.clone()).collect();
        // Fee from the mass with full-size signature scripts; the change pays it.
        let report = MassReport::of(&tx, &entries).expect("no zero-value output");
        report.check_standard().expect("a standard funding transaction");
        let fee = report.minimum_fee();
        let change = tx.outputs.last_mut().expect("a change output");
        change.value -= fee;
        tx.storage_mass = MassReport::of(&tx, &entries).expect("no zero-value output").storage;
        let sighashes = SighashContext::new(&tx);
        let scripts: Vec<Vec<u8>> = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let digest = sighashes.schnorr(i, entry, SigHashType::ALL).expect("an input");
                let signature = self.key.sign_schnorr(&digest, &[0; 32]).expect("a signature");
                let mut script = vec![0x41];
                script.extend_from_slice(&signature.0);
                script.push(0x01);
                script
            })
            .collect();
        for (input, script) in tx.inputs.iter_mut().zip(scripts) {
            input.signature_script = script;
        }
        tx
    }
}

/// The entry of every output the group's payments could have spent: the funding outputs and every
/// output of the payments `found` (their DAA score does not matter for the fee check).
pub(crate) fn spendable_entries(
    funding: &[UtxoRecord],
    found: &BTreeMap<TransactionId, Transaction>,
) -> BTreeMap<Outpoint, UtxoEntry> {
    let mut outputs: BTreeMap<Outpoint, UtxoEntry> =
        funding.iter().map(|r| (r.utxo.outpoint, r.utxo.entry.clone())).collect();
    for (id, tx) in found {
        for (index, output) in (0u32..).zip(&tx.outputs) {
            let entry = UtxoEntry {
                amount: output.value,
                script_public_key: output.script_public_key.clone(),
                block_daa_score: 0,
                is_coinbase: false,
            };
            outputs.insert(Outpoint { transaction_id: *id, index }, entry);
        }
    }
    outputs
}

/// The transactions among `wanted` that the selected chain accepted since `anchor`, read from the
/// merge sets of the chain blocks that accepted them (`getVirtualChainFromBlock`, then `getBlock`).
pub(crate) async fn accepted_transactions(
    rpc: &KaspadRpc,
    anchor: BlockHash,
    wanted: &HashSet<TransactionId>,
) -> BTreeMap<TransactionId, Transaction> {
    let chain = rpc.virtual_chain_from(anchor).await.expect("the virtual chain");
    let mut found = BTreeMap::new();
    for (chain_block, ids) in &chain.accepted {
        if !ids.iter().any(|id| wanted.contains(id)) {
            continue;
        }
        let header = rpc.block(*chain_block, false).await.expect("a chain block");
        for merged in header.merge_set {
            let mut answer = rpc
                .call("getBlock", json!({"hash": merged.to_string(), "includeTransactions": true}))
                .await
                .expect("a merged block");
            let list = answer.pointer_mut("/block/transactions").map(Value::take).unwrap_or_default();
            let list: Vec<RpcTransaction> = serde_json::from_value(list).expect("transactions");
            for rpc_tx in &list {
                let tx = Transaction::try_from(rpc_tx).expect("a transaction");
                let id = transaction_id(&tx);
                if wanted.contains(&id) && ids.contains(&id) {
                    found.insert(id, tx);
                }
            }
        }
    }
    found
}
