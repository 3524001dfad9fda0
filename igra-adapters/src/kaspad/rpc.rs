//! One WebSocket connection to kaspad's wRPC JSON endpoint: calls with ids and timeouts, and the
//! stream of notifications. It does not reconnect; [`super::KaspadClient`] does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use igra_proto::kaspa::tx::Transaction;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::KaspadError;
use super::rejection::{SubmitOutcome, classify_rejection, parse_txid};
use super::wire::{
    self, BlockHash, BlockSummary, FeeEstimate, Incoming, Notification, ServerInfo, UtxoRecord, VirtualChain,
};
use crate::kaspa_json::{RpcTransaction, SubmitTransactionRequest};

/// Frames queued for the socket beyond this make a call fail at once with [`KaspadError::Busy`].
pub const OUTBOUND_QUEUE: usize = 256;
/// Notifications queued for the reader beyond this are dropped (and [`KaspadRpc::lost_notifications`]
/// says so, which makes the client take a fresh snapshot).
pub const NOTIFICATION_QUEUE: usize = 4_096;
/// Calls awaiting an answer beyond this fail at once with [`KaspadError::Busy`].
pub const MAX_PENDING_CALLS: usize = 1_024;
/// The largest frame accepted from the node (a full UTXO snapshot of a large group fits).
pub const MAX_FRAME: usize = 64 << 20;

type Pending = HashMap<u64, oneshot::Sender<Result<Value, String>>>;

struct Shared {
    pending: Mutex<Pending>,
    closed: AtomicBool,
    lost: AtomicBool,
    malformed: AtomicU64,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // The map is only changed by whole inserts and removes: a panic cannot leave it half-changed.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection to kaspad's wRPC JSON endpoint (cheap to clone; the clones share the socket).
#[derive(Clone)]
pub struct KaspadRpc {
    out: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
}

impl std::fmt::Debug for KaspadRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KaspadRpc").field("closed", &self.is_closed()).finish_non_exhaustive()
    }
}

impl KaspadRpc {
    /// Connects to `url` (`ws://host:port`) within `connect_timeout`; every call then waits at most
    /// `call_timeout`. Returns the connection and its notifications (which end when it closes).
    pub async fn connect(
        url: &str,
        connect_timeout: Duration,
        call_timeout: Duration,
    ) -> Result<(Self, mpsc::Receiver<Notification>), KaspadError> {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let (socket, _) = tokio::time::timeout(connect_timeout, connecting)
            .await
            .map_err(|_| KaspadError::Connect(format!("{url}: no answer within {connect_timeout:?}")))?
            .map_err(|e| KaspadError::Connect(format!("{url}: {e}")))?;
        let (mut sink, mut stream) = socket.split();
        let (out, mut outbound) = mpsc::channel::<Message>(OUTBOUND_QUEUE);
        let (notes_tx, notes) = mpsc::channel(NOTIFICATION_QUEUE);
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            malformed: AtomicU64::new(0),
        });
        let writer_shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Some(message) = outbound.recv().await {
                if let Err(e) = sink.send(message).await {
                    tracing::debug!(error = %e, "kaspad socket write failed");
                    break;
                }
            }
            writer_shared.closed.store(true, Ordering::Release);
            let _ = sink.close().await;
        });
        let reader_shared = Arc::clone(&shared);
        let pong = out.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let text = match frame {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Ping(data)) => {
                        let _ = pong.try_send(Message::Pong(data));
                        continue;
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                dispatch(&reader_shared, &notes_tx, text.as_str());
            }
            reader_shared.closed.store(true, Ordering::Release);
            // Dropping the waiters' senders fails every call still waiting.
            reader_shared.pending().clear();
        });
        Ok((Self { out, shared, next_id: Arc::new(AtomicU64::new(1)), timeout: call_timeout }, notes))
    }

    /// Whether the socket has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.out.is_closed()
    }

    /// Whether a notification was dropped since the last call (resets the flag).
    pub fn lost_notifications(&self) -> bool {
        self.shared.lost.swap(false, Ordering::AcqRel)
    }

    /// Frames from the node that could not be read (each logged and skipped).
    pub fn malformed_frames(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    /// Calls `method` with `params`; the result, the node's error as [`KaspadError::Rpc`], or a timeout.
    pub async fn call(&self, method: &'static str, params: Value) -> Result<Value, KaspadError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.shared.pending();
            if pending.len() >= MAX_PENDING_CALLS {
                return Err(KaspadError::Busy);
            }
            pending.insert(id, tx);
        }
        let frame = json!({"id": id, "method": method, "params": params}).to_string();
        if self.is_closed() || self.out.try_send(Message::text(frame)).is_err() {
            self.shared.pending().remove(&id);
            return Err(if self.is_closed() { KaspadError::Closed } else { KaspadError::Busy });
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Err(_) => {
                self.shared.pending().remove(&id);
                Err(KaspadError::Timeout { method })
            }
            Ok(Err(_)) => Err(KaspadError::Closed),
            Ok(Ok(Err(message))) => Err(KaspadError::Rpc { method, message }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }

    /// `getServerInfo`.
    pub async fn server_info(&self) -> Result<ServerInfo, KaspadError> {
        const M: &str = "getServerInfo";
        wire::typed(M, self.call(M, json!({})).await?)
    }

    /// The virtual DAA score, from `getBlockDagInfo`.
    pub async fn virtual_daa_score(&self) -> Result<u64, KaspadError> {
        const M: &str = "getBlockDagInfo";
        let info = self.call(M, json!({})).await?;
        info.get("virtualDaaScore")
            .and_then(Value::as_u64)
            .ok_or_else(|| wire::malformed(M, &"no virtualDaaScore"))
    }

    /// `getUtxosByAddresses`: the accepted outputs of `addresses` (needs `--utxoindex`).
    pub async fn utxos_by_addresses(&self, addresses: &[String]) -> Result<Vec<UtxoRecord>, KaspadError> {
        const M: &str = "getUtxosByAddresses";
        match self.call(M, json!({"addresses": addresses})).await {
            Err(KaspadError::Rpc { message, .. }) if message.contains("--utxoindex") => {
                Err(KaspadError::NoUtxoIndex)
            }
            other => wire::parse_utxos(other?),
        }
    }

    /// `getFeeEstimate`.
    pub async fn fee_estimate(&self) -> Result<FeeEstimate, KaspadError> {
        const M: &str = "getFeeEstimate";
        let mut answer = self.call(M, json!({})).await?;
        let estimate =
            answer.get_mut("estimate").map(Value::take).ok_or_else(|| wire::malformed(M, &"no estimate"))?;
        wire::typed(M, estimate)
    }

    /// `getMempoolEntry`: a transaction in the mempool, or `None` when the node does not hold it.
    pub async fn mempool_transaction(
        &self,
        transaction_id: igra_proto::TransactionId,
    ) -> Result<Option<Transaction>, KaspadError> {
        const M: &str = "getMempoolEntry";
        let params = json!({"transactionId": transaction_id.to_string(), "includeOrphanPool": false,
            "filterTransactionPool": false});
        let mut answer = match self.call(M, params).await {
            Err(KaspadError::Rpc { message, .. }) if message.contains("not found") => return Ok(None),
            other => other?,
        };
        let raw = answer
            .pointer_mut("/mempoolEntry/transaction")
            .map(Value::take)
            .ok_or_else(|| wire::malformed(M, &"no mempoolEntry.transaction"))?;
        let rpc: RpcTransaction = wire::typed(M, raw)?;
        Transaction::try_from(&rpc).map(Some).map_err(|e| wire::malformed(M, &e))
    }

    /// `submitTransaction`: the node's verdict as a [`SubmitOutcome`] (a rejection is an outcome, not
    /// an error; errors are transport failures).
    pub async fn submit_transaction(&self, tx: &Transaction) -> Result<SubmitOutcome, KaspadError> {
        const M: &str = "submitTransaction";
        let request = SubmitTransactionRequest { transaction: RpcTransaction::from(tx), allow_orphan: false };
        let params = serde_json::to_value(request).map_err(|e| wire::malformed(M, &e))?;
        match self.call(M, params).await {
            Ok(answer) => {
                let id = answer.get("transactionId").and_then(Value::as_str).and_then(parse_txid);
                let transaction_id = id.ok_or_else(|| wire::malformed(M, &"no transactionId"))?;
                Ok(SubmitOutcome::Accepted { transaction_id })
            }
            Err(KaspadError::Rpc { message, .. }) => Ok(classify_rejection(&message)),
            Err(e) => Err(e),
        }
    }

    /// `getSink`: the virtual's selected parent, the newest block of the selected chain.
    pub async fn sink(&self) -> Result<BlockHash, KaspadError> {
        const M: &str = "getSink";
        let answer = self.call(M, json!({})).await?;
        answer
            .get("sink")
            .and_then(Value::as_str)
            .and_then(BlockHash::parse)
            .ok_or_else(|| wire::malformed(M, &"no sink"))
    }

    /// `getVirtualChainFromBlock {startHash, includeAcceptedTransactionIds: true}`: the selected chain
    /// from `start` to the sink, with the transactions each chain block accepted.
    pub async fn virtual_chain_from(&self, start: BlockHash) -> Result<VirtualChain, KaspadError> {
        const M: &str = "getVirtualChainFromBlock";
        let params = json!({"startHash": start.to_string(), "includeAcceptedTransactionIds": true});
        wire::parse_virtual_chain(&self.call(M, params).await?)
    }

    /// `getBlock {hash, includeTransactions}`.
    pub async fn block(
        &self,
        hash: BlockHash,
        include_transactions: bool,
    ) -> Result<BlockSummary, KaspadError> {
        const M: &str = "getBlock";
        let params = json!({"hash": hash.to_string(), "includeTransactions": include_transactions});
        wire::parse_block(&self.call(M, params).await?)
    }

    /// `submitTransactionReplacement {transaction}` (replace by fee): the node answers
    /// `{transactionId, replacedTransaction}`; the replacement's id is returned. A refusal is
    /// [`KaspadError::Rpc`] with the node's text.
    pub async fn submit_transaction_replacement(
        &self,
        tx: &Transaction,
    ) -> Result<igra_proto::TransactionId, KaspadError> {
        const M: &str = "submitTransactionReplacement";
        let params = json!({"transaction": RpcTransaction::from(tx)});
        let answer = self.call(M, params).await?;
        answer
            .get("transactionId")
            .and_then(Value::as_str)
            .and_then(parse_txid)
            .ok_or_else(|| wire::malformed(M, &"no transactionId"))
    }

    /// `subscribe` to `scope` (`{"UtxosChanged": {"addresses": [...]}}`, `{"VirtualDaaScoreChanged": {}}`).
    pub async fn subscribe(&self, scope: Value) -> Result<(), KaspadError> {
        self.call("subscribe", scope).await.map(drop)
    }
}

fn dispatch(shared: &Shared, notes: &mpsc::Sender<Notification>, text: &str) {
    match wire::parse_incoming(text) {
        Ok(Some(Incoming::Reply { id, result })) => {
            let waiter = shared.pending().remove(&id);
            if let Some(waiter) = waiter {
                drop(waiter.send(result));
            } else {
                tracing::debug!(id, "kaspad answered a call nobody waits for (timed out)");
            }
        }
        Ok(Some(Incoming::Notification(note))) => {
            if notes.try_send(note).is_err() {
                shared.lost.store(true, Ordering::Release);
                tracing::warn!("kaspad notification dropped: the queue is full; a fresh snapshot follows");
            }
        }
        Ok(None) => {}
        Err(e) => {
            shared.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "kaspad sent a frame the client cannot read; skipped");
        }
    }
}
