//! The client against a fake kaspad: a tokio-tungstenite server on loopback that answers the calls the
//! client makes, with recorded node texts, and can push frames or drop the connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use igra_proto::kaspa::script::pay_to_script_hash;
use igra_proto::kaspa::tx::{SubnetworkId, TransactionInput, TransactionOutput};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::recorded;
use super::*;

const TXID: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

fn group_script() -> ScriptPublicKey {
    pay_to_script_hash(&[0x51])
}

/// A fake node: what it answers, what it was asked, and a line to the current connection.
#[derive(Clone)]
struct Fake {
    url: String,
    network: &'static str,
    submit_error: Arc<Mutex<Option<String>>>,
    /// Entries the UTXO index holds besides the group's one output.
    index: Arc<Mutex<Vec<Value>>>,
    calls: Arc<Mutex<Vec<String>>>,
    push: Arc<Mutex<Option<mpsc::Sender<Option<String>>>>>,
}

impl Fake {
    async fn start(network: &'static str) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), network)
    }

    fn on(listener: TcpListener, network: &'static str) -> Self {
        let fake = Self {
            url: format!("ws://{}", listener.local_addr().unwrap()),
            network,
            submit_error: Arc::default(),
            index: Arc::default(),
            calls: Arc::default(),
            push: Arc::default(),
        };
        let serving = fake.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let Ok(ws) = tokio_tungstenite::accept_async(socket).await else { continue };
                let (tx, rx) = mpsc::channel(16);
                *serving.push.lock().unwrap() = Some(tx);
                tokio::spawn(serving.clone().connection(ws, rx));
            }
        });
        fake
    }

    async fn connection(
        self,
        ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        mut push: mpsc::Receiver<Option<String>>,
    ) {
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(Message::Text(text))) = frame else { return };
                    let request: Value = serde_json::from_str(text.as_str()).unwrap();
                    let method = request["method"].as_str().unwrap().to_owned();
                    self.calls.lock().unwrap().push(method.clone());
                    let mut reply = json!({"id": request["id"], "method": method});
                    match self.answer(&method, &request["params"]) {
                        Ok(params) => reply["params"] = params,
                        Err(message) => reply["error"] = json!({"code": 0, "message": message, "data": null}),
                    }
                    if sink.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
                pushed = push.recv() => match pushed {
                    Some(Some(text)) => drop(sink.send(Message::text(text)).await),
                    // `None` drops the connection.
                    Some(None) | None => return,
                },
            }
        }
    }

    fn answer(&self, method: &str, params: &Value) -> Result<Value, String> {
        match method {
            // The recorded chain (recorded.rs): the sink is the block holding the recorded spender, the
            // chain from it is the one chain block that accepted it.
            "getSink" => Ok(json!({"sink": recorded::MERGED})),
            "getVirtualChainFromBlock" if params["startHash"] == recorded::MERGED => {
                Ok(recorded::virtual_chain())
            }
            "getBlock" if params["hash"] == recorded::ACCEPTING => Ok(recorded::accepting_block()),
            "getBlock" if params["hash"] == recorded::MERGED => Ok(recorded::merged_block()),
            "getVirtualChainFromBlock" | "getBlock" => Err(format!("cannot find header {params}")),
            "getServerInfo" => Ok(json!({"rpcApiVersion": 1, "rpcApiRevision": 0, "serverVersion": "fake",
                "networkId": self.network, "hasUtxoIndex": true, "isSynced": true, "virtualDaaScore": 100})),
            "getBlockDagInfo" => Ok(json!({"network": self.network, "virtualDaaScore": 100})),
            "subscribe" => Ok(json!({"id": 1})),
            "getUtxosByAddresses" => {
                let mut entries = vec![entry(TXID, 0, 5)];
                entries.extend(self.index.lock().unwrap().iter().cloned());
                Ok(json!({ "entries": entries }))
            }
            "submitTransaction" => match self.submit_error.lock().unwrap().clone() {
                Some(message) => Err(message),
                None => Ok(json!({"transactionId": TXID})),
            },
            _ => Err(format!("unknown method {method}")),
        }
    }

    async fn send(&self, frame: Option<String>) {
        let push = self.push.lock().unwrap().clone();
        push.unwrap().send(frame).await.unwrap();
    }

    fn count(&self, method: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|m| *m == method).count()
    }
}

fn entry(txid: &str, index: u32, daa: u64) -> Value {
    let spk = format!("0000{}", hex::encode(&group_script().script));
    json!({"address": "kaspasim:x", "outpoint": {"transactionId": txid, "index": index},
        "utxoEntry": {"amount": 1_000_000_000u64, "scriptPublicKey": spk, "blockDaaScore": daa,
        "isCoinbase": false, "covenantId": null}})
}

fn config(url: &str) -> KaspadConfig {
    KaspadConfig {
        // Generous: on a loaded machine (CI builds beside the tests) a call that times out ends the
        // session, and the new session's fresh snapshot can arrive before the news a test waits for.
        // Suspected cause of the one failure seen with 500 ms (another input where a `Spent` was
        // expected; the value was not captured). No test here relies on a timeout.
        connect_timeout: Duration::from_secs(5),
        call_timeout: Duration::from_secs(5),
        health_interval: Duration::from_millis(200),
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(100) },
        attribution_retry: Duration::from_millis(10),
        ..KaspadConfig::new(url, Network::Simnet, group_script())
    }
}

async fn next(news: &Receiver<Input>) -> Input {
    tokio::time::timeout(Duration::from_secs(5), news.recv()).await.expect("news in time").expect("open")
}

/// The next input that is not a DAA score (the health check reports those too).
async fn next_news(news: &Receiver<Input>) -> Input {
    loop {
        match next(news).await {
            Input::Chain(ChainEvent::DaaScore(_)) => {}
            other => return other,
        }
    }
}

async fn until(what: impl Fn() -> bool) {
    for _ in 0..250 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached in 5 s");
}

fn spend(outpoint: Outpoint, to: ScriptPublicKey) -> Transaction {
    Transaction {
        version: 0,
        inputs: vec![TransactionInput {
            previous_outpoint: outpoint,
            signature_script: vec![1, 2],
            sequence: 0,
            sig_op_count: 1,
        }],
        outputs: vec![TransactionOutput { value: 900_000_000, script_public_key: to }],
        lock_time: 0,
        subnetwork_id: SubnetworkId::NATIVE,
        gas: 0,
        payload: vec![],
        storage_mass: 0,
    }
}

#[tokio::test]
async fn a_node_that_is_down_leaves_the_client_not_ready_until_it_comes_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (client, news) = KaspadClient::start(config(&format!("ws://{addr}"))).unwrap();
    until(|| matches!(client.stats().last_error, Some(KaspadError::Connect(_)))).await;
    assert!(!client.ready());
    let fake = Fake::on(TcpListener::bind(addr).await.unwrap(), "simnet");
    let Input::Utxos { utxos, virtual_daa_score } = next_news(&news).await else { panic!("no snapshot") };
    assert_eq!((utxos.len(), virtual_daa_score), (1, 100));
    until(|| client.ready()).await;
    assert_eq!(fake.count("subscribe"), 3, "UTXOs, DAA score, chain");
    assert_eq!(client.stats().last_error, None);
}

#[tokio::test]
async fn a_node_on_another_network_is_refused_with_a_typed_error() {
    let fake = Fake::start("mainnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    let expected = KaspadError::WrongNetwork { expected: "simnet".into(), actual: "mainnet".into() };
    until(|| client.stats().last_error.as_ref() == Some(&expected)).await;
    assert!(!client.ready());
    assert!(news.is_empty(), "nothing is reported from a refused node");
    assert_eq!(fake.count("subscribe"), 0);
    assert!(expected.to_string().contains("mainnet"));
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_the_client_keeps_going() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    fake.send(Some("not json at all".into())).await;
    fake.send(Some(
        json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {"added": 7}}}).to_string(),
    ))
    .await;
    fake.send(Some(json!({"id": 99999, "method": "ghost", "params": {}}).to_string())).await;
    let daa = json!({"method": "virtualDaaScoreChangedNotification",
        "params": {"VirtualDaaScoreChanged": {"virtualDaaScore": 4242}}});
    fake.send(Some(daa.to_string())).await;
    loop {
        if let Input::Chain(ChainEvent::DaaScore(4242)) = next(&news).await {
            break;
        }
    }
    assert!(client.ready());
    assert_eq!(client.stats().sessions, 1, "a bad frame does not cost the connection");
}

#[tokio::test]
async fn after_a_dropped_connection_it_resubscribes_and_sends_a_fresh_snapshot() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    fake.send(None).await;
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    until(|| client.stats().sessions == 2).await;
    assert_eq!(fake.count("subscribe"), 6, "three subscriptions per session");
    assert!(client.ready());
}

/// Submits a payment of the group's output `[1; 32]:0` with change to the group, then has the fake
/// node accept it (its change added; the input and `also_removed` removed) and checks the news: its
/// acceptance and the input's spend at the change's DAA score. Returns the input and the payment's id.
async fn pay_and_accept(
    fake: &Fake,
    client: &KaspadClient,
    news: &Receiver<Input>,
    also_removed: &[Value],
) -> (Outpoint, TransactionId) {
    let input = Outpoint { transaction_id: TransactionId([1; 32]), index: 0 };
    let tx = spend(input, group_script());
    let id = transaction_id(&tx);
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: tx });
    until(|| client.stats().accepted == 1).await;
    let mut removed = vec![entry(&hex::encode([1u8; 32]), 0, 5)];
    removed.extend(also_removed.iter().cloned());
    let note = json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [entry(&id.to_string(), 0, 321)], "removed": removed}}});
    fake.send(Some(note.to_string())).await;
    assert_eq!(
        next_news(news).await,
        Input::Chain(ChainEvent::Accepted { transaction_id: id, daa_score: 321 })
    );
    assert_eq!(
        next_news(news).await,
        Input::Chain(ChainEvent::Spent { outpoint: input, by: id, daa_score: 321 })
    );
    (input, id)
}

#[tokio::test]
async fn a_submitted_transaction_is_reported_accepted_and_spending_from_its_change() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    pay_and_accept(&fake, &client, &news, &[entry(&hex::encode([2u8; 32]), 0, 5)]).await;
    until(|| client.stats().unresolved_spends == 1).await;
    let stats = client.stats();
    assert_eq!((stats.attributed_spends, stats.attribution_failures), (0, 1), "searched, not found");
}

fn recorded_outpoint() -> Outpoint {
    Outpoint { transaction_id: TransactionId(BlockHash::parse(recorded::SPENT).unwrap().0), index: 0 }
}

fn recorded_spender() -> TransactionId {
    TransactionId(BlockHash::parse(recorded::SPENDER).unwrap().0)
}

/// The `utxosChangedNotification` that removes the recorded spent output.
fn recorded_removal() -> String {
    json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [], "removed": [entry(recorded::SPENT, 0, 5)]}}})
    .to_string()
}

/// The news of the recorded spend, attributed to its spender at its accepting block's DAA score.
fn recorded_spend() -> Input {
    Input::Chain(ChainEvent::Spent {
        outpoint: recorded_outpoint(),
        by: recorded_spender(),
        daa_score: recorded::ACCEPTING_DAA,
    })
}

#[tokio::test]
async fn a_spend_by_a_stranger_is_found_on_the_virtual_chain() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    fake.send(Some(recorded_removal())).await;
    assert_eq!(next_news(&news).await, recorded_spend());
    until(|| client.stats().attributed_spends == 1).await;
    let stats = client.stats();
    assert_eq!((stats.unresolved_spends, stats.attribution_failures, stats.blocks_fetched), (0, 0, 2));
    assert_eq!(fake.count("getVirtualChainFromBlock"), 1);
}

#[tokio::test]
async fn our_transaction_replaced_by_a_stranger_is_attributed_to_the_stranger() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    // Our transaction spends the recorded output and pays elsewhere (no change to recognise it by).
    let ours = spend(recorded_outpoint(), pay_to_script_hash(&[0x52]));
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: ours });
    until(|| client.stats().accepted == 1).await;
    fake.send(Some(recorded_removal())).await;
    // The UTXO index holds no output of ours, so the chain is searched: the stranger spent it.
    assert_eq!(next_news(&news).await, recorded_spend());
    until(|| client.stats().attributed_spends == 1).await;
    assert!(fake.count("getUtxosByAddresses") >= 2, "verified in the index first");
}

#[tokio::test]
async fn every_recorded_rejection_maps_to_its_outcome() {
    let fake = Fake::start("simnet").await;
    let (rpc, _notes) =
        KaspadRpc::connect(&fake.url, Duration::from_secs(1), Duration::from_secs(1)).await.unwrap();
    let tx = spend(Outpoint { transaction_id: TransactionId([1; 32]), index: 0 }, group_script());
    let id = transaction_id(&tx);
    let other = TransactionId([3; 32]);
    let outpoint = Outpoint { transaction_id: TransactionId([1; 32]), index: 0 };
    let cases = [
        (format!("transaction {id} is already in the mempool"), SubmitOutcome::AlreadyInMempool),
        (format!("transaction {id} was already accepted by the consensus"), SubmitOutcome::AlreadyAccepted),
        (
            format!(
                "output ({}, 0) already spent by transaction {other} in the mempool",
                outpoint.transaction_id
            ),
            SubmitOutcome::DoubleSpend { outpoint: Some(outpoint), spender: Some(other) },
        ),
        (format!("transaction {id} is an orphan where orphan is disallowed"), SubmitOutcome::MissingInputs),
        (
            format!(
                "transaction {id} is not standard: transaction has 10 fees which is under the required amount of 4217"
            ),
            SubmitOutcome::InsufficientFee { fee: Some(10), required: Some(4217) },
        ),
        (
            format!("transaction {id} is not standard: transaction input 0: non-standard script form"),
            SubmitOutcome::NonStandard {
                reason: format!(
                    "transaction {id} is not standard: transaction input 0: non-standard script form"
                ),
            },
        ),
    ];
    for (reason, expected) in cases {
        *fake.submit_error.lock().unwrap() = Some(format!("Rejected transaction {id}: {reason}"));
        assert_eq!(rpc.submit_transaction(&tx).await.unwrap(), expected, "{reason}");
    }
    *fake.submit_error.lock().unwrap() = None;
    let accepted = rpc.submit_transaction(&tx).await.unwrap();
    assert!(
        matches!(accepted, SubmitOutcome::Accepted { transaction_id } if transaction_id.to_string() == TXID)
    );
    assert!(matches!(rpc.call("noSuchMethod", json!({})).await, Err(KaspadError::Rpc { .. })));
}

#[tokio::test]
async fn calls_time_out_and_fail_when_the_connection_closes() {
    // A server that accepts the WebSocket and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        let _ = ws.next().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(ws);
    });
    let (rpc, _notes) =
        KaspadRpc::connect(&url, Duration::from_secs(1), Duration::from_millis(100)).await.unwrap();
    assert_eq!(rpc.server_info().await, Err(KaspadError::Timeout { method: "getServerInfo" }));
    until(|| rpc.is_closed()).await;
    assert_eq!(rpc.server_info().await, Err(KaspadError::Closed));
}

#[test]
fn starting_outside_a_runtime_is_a_typed_error() {
    assert!(matches!(KaspadClient::start(config("ws://127.0.0.1:1")), Err(KaspadError::NoRuntime)));
}

#[tokio::test]
async fn a_spender_submitted_after_the_removal_is_settled_by_the_utxo_index() {
    // Another member's transaction reached kaspad first: the removal is heard before this client
    // submits (and so remembers) the same transaction, and the recorded chain does not hold it.
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(KaspadConfig {
        attribution_retry: Duration::from_millis(50),
        ..config(&fake.url)
    })
    .unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let input = Outpoint { transaction_id: TransactionId([3; 32]), index: 1 };
    let removal = json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [], "removed": [entry(&hex::encode([3u8; 32]), 1, 5)]}}});
    fake.send(Some(removal.to_string())).await;
    until(|| fake.count("getVirtualChainFromBlock") >= 1).await;
    let tx = spend(input, pay_to_script_hash(&[0x52]));
    let id = transaction_id(&tx);
    fake.index.lock().unwrap().push(entry(&id.to_string(), 0, 77));
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: tx });
    assert_eq!(
        next_news(&news).await,
        Input::Chain(ChainEvent::Accepted { transaction_id: id, daa_score: 77 })
    );
    assert_eq!(
        next_news(&news).await,
        Input::Chain(ChainEvent::Spent { outpoint: input, by: id, daa_score: 77 })
    );
    until(|| client.stats().attribution_failures == 1).await;
    let stats = client.stats();
    assert_eq!((stats.attributed_spends, stats.unresolved_spends), (0, 0), "settled, not searched again");
}

#[tokio::test]
async fn a_reorg_that_orphans_our_payment_is_reported_unaccepted() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let (_, id) = pay_and_accept(&fake, &client, &news, &[]).await;
    // The chain block that accepted it is orphaned: the input is back (in the index too), the change
    // is gone.
    fake.index.lock().unwrap().push(entry(&hex::encode([1u8; 32]), 0, 5));
    let reorg = json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [entry(&hex::encode([1u8; 32]), 0, 5)], "removed": [entry(&id.to_string(), 0, 321)]}}});
    fake.send(Some(reorg.to_string())).await;
    assert_eq!(next_news(&news).await, Input::Chain(ChainEvent::Unaccepted { transaction_id: id }));
    // Then a fresh snapshot (the input is spendable again), and nothing else: the change went with the
    // orphaned payment, so no spender of it is searched for.
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    nothing_but_daa_scores(&fake, &news).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.count("getVirtualChainFromBlock"), 0, "no search");
    assert_eq!(client.stats().unresolved_spends, 0);
}

#[tokio::test]
async fn a_transaction_kaspad_took_is_submitted_again_after_a_reconnect_until_it_is_accepted() {
    // kaspad keeps no mempool across a restart: what it took before may be gone.
    let fake = Fake::start("simnet").await;
    let (client, news) =
        KaspadClient::start(KaspadConfig { resubmit_interval: Duration::from_hours(1), ..config(&fake.url) })
            .unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let tx = spend(Outpoint { transaction_id: TransactionId([1; 32]), index: 0 }, group_script());
    let id = transaction_id(&tx);
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: tx });
    until(|| client.stats().accepted == 1).await;
    fake.send(None).await;
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    until(|| fake.count("submitTransaction") == 2).await;
    assert_eq!(client.stats().resubmitted, 1);
    // Accepted: its change is added and its input removed. After the next reconnect it is not sent again.
    let accepted = json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [entry(&id.to_string(), 0, 321)], "removed": [entry(&hex::encode([1u8; 32]), 0, 5)]}}});
    fake.send(Some(accepted.to_string())).await;
    assert_eq!(
        next_news(&news).await,
        Input::Chain(ChainEvent::Accepted { transaction_id: id, daa_score: 321 })
    );
    assert!(matches!(next_news(&news).await, Input::Chain(ChainEvent::Spent { by, .. }) if by == id));
    fake.send(None).await;
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    until(|| client.stats().sessions == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.count("submitTransaction"), 2, "an accepted transaction is not submitted again");
}

#[tokio::test]
async fn a_transaction_kaspad_took_is_submitted_again_on_the_interval_and_not_once_refused() {
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(KaspadConfig {
        resubmit_interval: Duration::from_millis(50),
        ..config(&fake.url)
    })
    .unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let tx = spend(Outpoint { transaction_id: TransactionId([1; 32]), index: 0 }, group_script());
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: tx });
    until(|| fake.count("submitTransaction") >= 3).await;
    assert!(client.stats().resubmitted >= 2);
    // Now kaspad refuses it for good (here: a rule error): it is forgotten, not sent forever.
    *fake.submit_error.lock().unwrap() =
        Some("Rejected transaction: transaction is not standard: dust output".into());
    until(|| client.stats().rejected >= 1).await;
    let sent = fake.count("submitTransaction");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.count("submitTransaction"), sent, "a refused transaction is not submitted again");
    assert_eq!(client.stats().sessions, 1);
}

/// A `virtualChainChangedNotification` (the shape recorded live on kaspad 2.1.0).
fn chain_change(removed: &[BlockHash], added: &[(BlockHash, Vec<TransactionId>)]) -> String {
    json!({"method": "virtualChainChangedNotification", "params": {"VirtualChainChanged": {
        "removedChainBlockHashes": removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "addedChainBlockHashes": added.iter().map(|(b, _)| b.to_string()).collect::<Vec<_>>(),
        "acceptedTransactionIds": added.iter().map(|(b, ids)| json!({"acceptingBlockHash": b.to_string(),
            "acceptedTransactionIds": ids.iter().map(ToString::to_string).collect::<Vec<_>>()})).collect::<Vec<_>>()}}})
    .to_string()
}

#[tokio::test]
async fn a_reorg_that_accepts_another_spender_of_our_input_unaccepts_ours_and_names_the_other() {
    // Our payment spends the recorded output; a reorg's new chain accepts the recorded stranger's
    // spend of it instead (two templates that collided on an input). The UTXO diff shows neither the
    // input (spent before and after) nor our payment's fate; the chain change does.
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let ours = spend(recorded_outpoint(), group_script());
    let id = transaction_id(&ours);
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: ours });
    until(|| client.stats().accepted == 1).await;
    let (old, new) = (BlockHash([0xb1; 32]), BlockHash([0xb2; 32]));
    fake.send(Some(chain_change(&[], &[(old, vec![id])]))).await;
    let accepted = json!({"method": "utxosChangedNotification", "params": {"UtxosChanged": {
        "added": [entry(&id.to_string(), 0, 321)], "removed": [entry(recorded::SPENT, 0, 5)]}}});
    fake.send(Some(accepted.to_string())).await;
    assert_eq!(
        next_news(&news).await,
        Input::Chain(ChainEvent::Accepted { transaction_id: id, daa_score: 321 })
    );
    assert!(matches!(next_news(&news).await, Input::Chain(ChainEvent::Spent { by, .. }) if by == id));

    fake.send(Some(chain_change(&[old], &[(new, vec![recorded_spender()])]))).await;
    assert_eq!(next_news(&news).await, Input::Chain(ChainEvent::Unaccepted { transaction_id: id }));
    // Then (in either order) a fresh snapshot and the stranger's spend of our input, found on the chain.
    let mut rest = [next_news(&news).await, next_news(&news).await];
    rest.sort_by_key(|input| matches!(input, Input::Utxos { .. }));
    assert_eq!(rest[0], recorded_spend());
    assert!(matches!(rest[1], Input::Utxos { .. }));
    let stats = client.stats();
    assert_eq!((stats.reorgs, stats.unaccepted, stats.chain_blocks_added), (1, 1, 2));
    // Told once: the same chain change again says nothing.
    fake.send(Some(chain_change(&[old], &[(new, vec![recorded_spender()])]))).await;
    until(|| client.stats().reorgs == 2).await;
    assert_eq!(client.stats().unaccepted, 1);
}

#[tokio::test]
async fn what_a_background_check_finds_after_a_reorg_orphaned_it_is_not_reported() {
    // Our change-less payment is accepted and the reorg that orphans it is heard of before the UTXO
    // index check that the removal of its input started: the (stale) index must not be believed.
    let fake = Fake::start("simnet").await;
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    assert!(matches!(next_news(&news).await, Input::Utxos { .. }));
    let ours = spend(recorded_outpoint(), pay_to_script_hash(&[0x52]));
    let id = transaction_id(&ours);
    client.request(ChainRequest::Submit { event_id: igra_proto::EventId([9; 32]), transaction: ours });
    until(|| client.stats().accepted == 1).await;
    let block = BlockHash([0xb3; 32]);
    fake.send(Some(chain_change(&[], &[(block, vec![id])]))).await;
    fake.send(Some(chain_change(&[block], &[(BlockHash([0xb4; 32]), vec![])]))).await;
    until(|| client.stats().reorgs == 1).await;
    assert_eq!(client.stats().unaccepted, 0, "never reported, so nothing to take back");
    // The index still shows its payee's output; the removal of its input asks the index.
    fake.index.lock().unwrap().push(entry(&id.to_string(), 0, 77));
    fake.send(Some(recorded_removal())).await;
    until(|| fake.count("getUtxosByAddresses") >= 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Nothing names our payment (the reorg's own work, a snapshot and a search for its input, may).
    for input in news_until_marker(&fake, &news).await {
        let names_ours = matches!(input, Input::Chain(ChainEvent::Accepted { transaction_id, .. }) if transaction_id == id)
            || matches!(input, Input::Chain(ChainEvent::Spent { by, .. }) if by == id);
        assert!(!names_ours, "nothing reported for the orphaned payment: {input:?}");
    }
}

/// Pushes a DAA score of 4242; the news (other than DAA scores) that came before it.
async fn news_until_marker(fake: &Fake, news: &Receiver<Input>) -> Vec<Input> {
    let daa = json!({"method": "virtualDaaScoreChangedNotification",
        "params": {"VirtualDaaScoreChanged": {"virtualDaaScore": 4242}}});
    fake.send(Some(daa.to_string())).await;
    let mut seen = Vec::new();
    loop {
        match next(news).await {
            Input::Chain(ChainEvent::DaaScore(4242)) => return seen,
            Input::Chain(ChainEvent::DaaScore(_)) => {}
            other => seen.push(other),
        }
    }
}

/// Pushes a DAA score of 4242 and checks that nothing but DAA scores came before it.
async fn nothing_but_daa_scores(fake: &Fake, news: &Receiver<Input>) {
    let seen = news_until_marker(fake, news).await;
    assert!(seen.is_empty(), "no other news expected: {seen:?}");
}

#[tokio::test]
async fn an_output_spent_while_the_client_was_away_is_searched_for_after_the_reconnect() {
    // UtxosChanged tells only of changes while subscribed: a spend made while the connection was down
    // shows only as an output missing from the next session's snapshot.
    let fake = Fake::start("simnet").await;
    fake.index.lock().unwrap().push(entry(recorded::SPENT, 0, 5));
    let (client, news) = KaspadClient::start(config(&fake.url)).unwrap();
    let Input::Utxos { utxos, .. } = next_news(&news).await else { panic!("no snapshot") };
    assert!(utxos.iter().any(|u| u.outpoint == recorded_outpoint()));
    fake.index.lock().unwrap().clear();
    fake.send(None).await;
    let Input::Utxos { utxos, .. } = next_news(&news).await else { panic!("no snapshot") };
    assert!(utxos.iter().all(|u| u.outpoint != recorded_outpoint()));
    // The anchor of the first session was kept (the gap is short): the spender is found above it.
    assert_eq!(next_news(&news).await, recorded_spend());
    until(|| client.stats().attributed_spends == 1).await;
    assert_eq!(client.stats().unresolved_spends, 0);
}
