//! Small programs that embed `igra-proto` the way another bridge would; see `examples/`.
//!
//! This library holds the few helpers the example programs share: the devnet cast they all use, and
//! following a member's event updates until its events are confirmed. Everything an embedder must
//! provide itself (keys, configuration, chain client, storage) is built in the examples, in the open.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_channel::Receiver;
use futures_lite::future;
use igra_adapters::devnet::chain::DevChain;
use igra_adapters::devnet::{Cast, DevnetConfig, DevnetError, amount, destination};
use igra_adapters::runner::{RunnerHandle, Runtime, Submission};
use igra_proto::event::Event;
use igra_proto::node::EventUpdate;
use igra_proto::{EventId, Instant};

/// The devnet seed the examples derive every key from.
pub const SEED: u64 = 7;

/// The cast of an `m`-of-`n` devnet group: member keys and node configurations derived from [`SEED`],
/// operator keys that attest events, and a pool of 20 funded outputs owned by the group's multisig.
///
/// A real embedder loads its member key from a keystore and its `NodeConfig` from its configuration
/// file instead; the devnet derives both so that the examples need no files.
pub fn cast(members: u8, threshold: u8) -> Result<Cast, DevnetError> {
    Cast::new(&DevnetConfig {
        members,
        threshold,
        pool: 20,
        seed: SEED,
        // The devnet chain advances its DAA score by 10 a second: confirmed in about half a second.
        confirm_depth: 5,
        ..DevnetConfig::default()
    })
}

/// `n` loopback addresses with ports free right now, for members that must know each other's address
/// before any of them listens.
pub fn loopback_addrs(n: u8) -> std::io::Result<Vec<SocketAddr>> {
    (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()).collect()
}

/// Ticks the devnet chain's DAA score on runtime `R` (10 a second, as Kaspa's) until the returned guard
/// is dropped. A real Kaspa node's score advances by itself; the in-process chain's is ticked.
pub fn tick<R: Runtime>(chain: &Arc<DevChain>) -> async_channel::Sender<()> {
    let (guard, dropped) = async_channel::bounded::<()>(1);
    let chain = Arc::clone(chain);
    R::spawn(async move {
        while !dropped.is_closed() {
            R::sleep(Duration::from_millis(100)).await;
            chain.tick();
        }
    });
    guard
}

/// Submits `event` to every runner, as each member's relayer would: every member must hear of an event,
/// since each checks the attestation and votes on its own. Fails if any member refuses it.
pub async fn submit_to_all<'a>(
    runners: impl IntoIterator<Item = &'a RunnerHandle>,
    event: &Event,
) -> Result<EventId, String> {
    for runner in runners {
        match runner.submit(event.clone()).await.map_err(|e| e.to_string())? {
            Submission::Accepted(_) => {}
            Submission::Refused(id, reason) => return Err(format!("event {} refused: {reason}", short(&id))),
        }
    }
    Ok(event.id())
}

/// Fails unless `chain` paid each event `0..events` of the cast exactly once.
pub fn check_paid_once(chain: &DevChain, events: u64) -> Result<(), String> {
    for k in 0..events {
        let paid = times_paid(chain, k);
        if paid != 1 {
            return Err(format!("event {k} was paid {paid} times"));
        }
    }
    Ok(())
}

/// How many accepted transactions of `chain` pay event `k` of the cast (with its destination and
/// amount). Exactly once is the protocol's promise.
pub fn times_paid(chain: &DevChain, k: u64) -> usize {
    let (to, value) = (destination(SEED, k), amount(k));
    chain
        .accepted()
        .iter()
        .flat_map(|a| &a.transaction.outputs)
        .filter(|o| o.script_public_key == to && o.value == value)
        .count()
}

/// The event an update is about, and a one-line description of it.
pub fn describe(update: &EventUpdate) -> (EventId, String) {
    match update {
        EventUpdate::Accepted { event_id } => (*event_id, "accepted".into()),
        EventUpdate::Refused { event_id, reason } => (*event_id, format!("refused: {reason}")),
        EventUpdate::Voted { event_id, vote } => (*event_id, format!("voted in round {}", vote.round)),
        EventUpdate::Certified { event_id, vote } => {
            (*event_id, format!("quorum certificate in round {}", vote.round))
        }
        EventUpdate::Signed { event_id, .. } => (*event_id, "signed its inputs".into()),
        EventUpdate::Finalized { event_id, transaction_id } => {
            (*event_id, format!("finalized, transaction {}", short(transaction_id)))
        }
        EventUpdate::Abandoned { event_id } => (*event_id, "abandoned".into()),
        EventUpdate::Revived { event_id, round } => (*event_id, format!("revived in round {round}")),
        EventUpdate::Confirmed { event_id, transaction_id } => {
            (*event_id, format!("CONFIRMED, transaction {}", short(transaction_id)))
        }
        EventUpdate::Dead { event_id, epoch, .. } => (*event_id, format!("template dead in epoch {epoch}")),
    }
}

/// The first 8 hex digits of an id.
pub fn short(id: &impl std::fmt::Display) -> String {
    id.to_string().chars().take(8).collect()
}

/// Prints `updates` (a member's or runner's update stream, on runtime `R`) as they come until every
/// event of `pending` is confirmed. Fails if an event is refused, abandoned, or not confirmed `within`.
pub async fn follow<R: Runtime>(
    updates: &Receiver<(Instant, EventUpdate)>,
    mut pending: BTreeSet<EventId>,
    within: Duration,
) -> Result<(), String> {
    let watch = async {
        while !pending.is_empty() {
            let (at, update) = updates.recv().await.map_err(|_| "the runner stopped".to_string())?;
            let (id, what) = describe(&update);
            println!("  [{:>5} ms] event {}: {what}", at.0, short(&id));
            match update {
                EventUpdate::Confirmed { event_id, .. } => {
                    pending.remove(&event_id);
                }
                EventUpdate::Refused { .. } | EventUpdate::Abandoned { .. } => {
                    return Err(format!("event {} failed: {what}", short(&id)));
                }
                _ => {}
            }
        }
        Ok(())
    };
    let deadline = async {
        R::sleep(within).await;
        Err(format!("events not confirmed within {within:?}"))
    };
    future::or(watch, deadline).await
}
