//! End to end against a real kaspad on simnet: a 3-of-5 group of real members under tokio (TCP on
//! loopback between them, an LMDB database each), each with its own
//! [`KaspadClient`], pays a batch of attested events; every payment is accepted by kaspad, every
//! destination receives exactly its amount, no event is paid twice. Then kaspad is restarted mid-run,
//! with payments in its mempool that the restart loses, and the group carries on (the clients submit
//! those again); every payment is read back from the selected chain and its fee checked.
//! A second test replaces the group's transaction in the mempool with an out-of-band conflict signed by
//! 3 of the 5 member keys: the clients attribute the spend from the virtual chain, the template dies
//! and the event is paid exactly once in epoch 1.
//!
//! Skipped (with a message, not failed) when kaspad is not installed in the cache directory
//! (`scripts/install-kaspad`).

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_channel::Receiver;
use igra_adapters::devnet::{Cast, DevnetConfig, Tracker, amount, destination};
use igra_adapters::kaspad::{KaspadClient, KaspadConfig, KaspadRpc, KaspadStats};
use igra_adapters::member::{Member, MemberSpec, SharedSigner};
use igra_adapters::runner::{ChainClient, Clock, RunnerHandle, Tokio};
use igra_adapters::storage::LmdbOptions;
use igra_proto::kaspa::address::Prefix;
use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::mass::MassReport;
use igra_proto::kaspa::script::{address_for_script, pay_to_pubkey};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, Transaction, TransactionOutput, UtxoEntry};
use igra_proto::node::EventUpdate;
use igra_proto::{EventId, Instant, LocalSigner, MemberIndex, Network, Signer, TransactionId};
use support::kaspad::{COINBASE_MATURITY, Kaspad, Miner, accepted_transactions, spendable_entries};

const EVENTS: u64 = 24;
/// Blocks mined per second while the group runs (simnet's 10 BPS, doubled to keep the test short).
const BLOCKS_PER_SECOND: u64 = 20;

struct Group {
    handles: Vec<RunnerHandle>,
    clients: Vec<KaspadClient>,
    observers: Vec<Receiver<(Instant, EventUpdate)>>,
    clock: Clock,
    /// The members (TCP on loopback, LMDB each), stopped at the end of the test.
    members: Vec<Member>,
    _data: tempfile::TempDir,
}

/// The kaspad clients' log (what they searched for and found), shown when a test fails.
fn log_the_clients() {
    // A second test in the same binary finds the subscriber set: that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("igra_adapters::kaspad=info"))
        .with_test_writer()
        .try_init();
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port")
}

/// `members` real members under tokio: TCP on loopback between them, an LMDB database each, and a
/// kaspad client each.
async fn start_group(cast: &Cast, url: &str, members: u8) -> Group {
    let clock = Clock::new();
    let data = tempfile::tempdir().expect("a temporary directory");
    let addrs: Vec<SocketAddr> = (0..members).map(|_| free_addr()).collect();
    let (mut handles, mut clients, mut observers, mut started) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..members {
        let config = KaspadConfig::new(url, Network::Simnet, cast.script.script_public_key());
        let (client, chain_in) = KaspadClient::start(config).expect("a client");
        let spec = MemberSpec {
            config: cast.configs[usize::from(i)].clone(),
            signer: SharedSigner(Arc::new(cast.signer(i).expect("a signer"))),
            seed: cast.node_seed(i),
            data_dir: data.path().join(format!("member-{i}")),
            lmdb: LmdbOptions::default(),
            listen: addrs[usize::from(i)],
            peers: (0..members)
                .filter(|j| *j != i)
                .map(|j| (MemberIndex(j), addrs[usize::from(j)]))
                .collect(),
            api: None,
        };
        let member =
            Member::start::<Tokio>(spec, Arc::new(client.clone()), chain_in, clock).await.expect("a member");
        observers.push(member.updates.clone());
        handles.push(member.runner.clone());
        clients.push(client);
        started.push(member);
    }
    Group { handles, clients, observers, clock, members: started, _data: data }
}

impl Group {
    async fn stop(self) {
        for member in self.members {
            member.stop().await.expect("a member stops cleanly");
        }
    }
}

async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    for _ in 0..seconds * 10 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not reached within {seconds} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn a_group_pays_a_batch_of_events_through_kaspad_and_survives_a_restart() {
    log_the_clients();
    let Some((mut node, rpc, miner)) = Kaspad::simnet("kaspad e2e", COINBASE_MATURITY + 200).await else {
        return;
    };
    let clock = Clock::new();

    let config = DevnetConfig {
        members: 5,
        threshold: 3,
        events: 24,
        confirm_depth: 10,
        finality_depth: 400,
        ..DevnetConfig::default()
    };
    let cast = Cast::new(&config).expect("a cast");
    let group_spk = cast.script.script_public_key();
    // Mixed sizes: 3 to 120 KAS, 48 outputs.
    let pool: Vec<u64> = (0..48u64)
        .map(|k| [3, 7, 15, 40, 120, 11][usize::try_from(k % 6).unwrap()] * SOMPI_PER_KASPA)
        .collect();
    miner.fund(&group_spk, &pool).await;
    let group_address = address_for_script(&group_spk, Prefix::Simnet).unwrap().encode();
    let funding = rpc.utxos_by_addresses(std::slice::from_ref(&group_address)).await.unwrap();
    let funded: u64 = funding.iter().map(|r| r.utxo.entry.amount).sum();
    // The chain from here holds every payment (read back for the fee check).
    let anchor = rpc.sink().await.expect("the sink");
    assert_eq!(funded, pool.iter().sum::<u64>(), "the group holds its funding");
    let funded_at = clock.now();

    // Blocks keep coming while the group works.
    let mining = Arc::new(AtomicBool::new(true));
    let miner_task = keep_mining(node.url.clone(), Arc::clone(&mining));

    let mut group = start_group(&cast, &node.url, config.members).await;
    let mut tracker = Tracker::new(std::mem::take(&mut group.observers), group.clock);
    wait_for("every client ready", 30, || group.clients.iter().all(ChainClient::ready)).await;
    let submit_all = |group: &Group, tracker: &mut Tracker, range: std::ops::Range<u64>| {
        let events: Vec<_> = range.map(|k| (k, cast.event(k).expect("an event"))).collect();
        let handles = group.handles.clone();
        for (k, event) in &events {
            tracker.submitted(event.id(), *k);
        }
        async move {
            let mut answers = Vec::new();
            for (_, event) in events {
                for handle in &handles {
                    answers.push(handle.submit(event.clone()).await.expect("submitted"));
                }
            }
            answers
        }
    };
    let half = EVENTS / 2;
    for answer in submit_all(&group, &mut tracker, 0..half).await {
        tracker.answered(&answer);
    }
    wait_for("first half confirmed", 120, || {
        tracker.drain();
        tracker.progress().confirmed >= half
    })
    .await;

    // kaspad goes away mid-run with payments in its mempool and comes back without them (it keeps no
    // mempool across a restart): mining pauses, a few events are finalized and their payments taken
    // into the mempool, then kaspad restarts. Clients go not ready, reconnect, re-subscribe, resync,
    // and submit those payments again; the rest of the events go in while the node is away.
    mining.store(false, Ordering::Relaxed);
    let _ = miner_task.await;
    let held = half + 3;
    for answer in submit_all(&group, &mut tracker, half..held).await {
        tracker.answered(&answer);
    }
    wait_for("the held payments in kaspad's mempool", 60, || {
        tracker.drain();
        tracker.progress().finalized >= held - half
    })
    .await;
    // Let every member that finalized hand its payment to kaspad.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let in_mempool = group.clients.iter().map(|c| c.stats().accepted).sum::<u64>();
    node.restart();
    let mining = Arc::new(AtomicBool::new(true));
    let miner_task = keep_mining(node.url.clone(), Arc::clone(&mining));
    wait_for("clients see the node gone", 30, || group.clients.iter().any(|c| !c.ready())).await;
    for answer in submit_all(&group, &mut tracker, held..EVENTS).await {
        tracker.answered(&answer);
    }
    wait_for("clients back", 60, || group.clients.iter().all(ChainClient::ready)).await;
    wait_for("every event confirmed", 180, || {
        tracker.drain();
        tracker.progress().confirmed >= EVENTS
    })
    .await;
    mining.store(false, Ordering::Relaxed);
    let _ = miner_task.await;
    let elapsed = clock.now().millis_since(funded_at);

    // Every destination holds exactly its event's amount, once.
    let rpc = node.connect().await;
    let mut paid = 0u64;
    let mut payments = HashSet::new();
    for k in 0..EVENTS {
        let address = address_for_script(&destination(config.seed, k), Prefix::Simnet).unwrap().encode();
        let outputs = rpc.utxos_by_addresses(&[address]).await.unwrap();
        assert_eq!(outputs.len(), 1, "event {k} paid once");
        assert_eq!(outputs[0].utxo.entry.amount, amount(k), "event {k} paid exactly");
        paid += amount(k);
        payments.insert(outputs[0].utxo.outpoint.transaction_id);
    }
    let left: u64 =
        rpc.utxos_by_addresses(&[group_address]).await.unwrap().iter().map(|r| r.utxo.entry.amount).sum();
    let fees = funded - paid - left;

    // Every payment's fee follows the node's rule, and together they are all the group lost.
    let found = accepted_transactions(&rpc, anchor, &payments).await;
    assert_eq!(found.len(), payments.len(), "every payment found on the selected chain");
    let outputs = spendable_entries(&funding, &found);
    let mut checked = 0u64;
    for tx in found.values() {
        let entries: Vec<UtxoEntry> =
            tx.inputs.iter().map(|i| outputs[&i.previous_outpoint].clone()).collect();
        checked += checked_fee(&cast, tx, &entries);
    }
    assert_eq!(checked, fees, "the payments' fees are the group's whole loss");
    let stats: Vec<_> = group.clients.iter().map(KaspadClient::stats).collect();
    eprintln!(
        "kaspad e2e: {EVENTS} events paid once each in {:?} after funding by {} transactions; {paid} sompi \
         paid, {fees} sompi fees (each at least the relay minimum and the policy rate for its mass), {left} \
         sompi left to the group; client stats: {stats:?}",
        Duration::from_millis(elapsed),
        found.len()
    );
    assert!(stats.iter().all(|s| s.sessions >= 2), "every client reconnected after the restart");
    assert!(stats.iter().all(|s| s.chain_blocks_added > 0), "every client heard the chain change (live)");
    let resubmitted: u64 = stats.iter().map(|s| s.resubmitted).sum();
    assert!(in_mempool > 0 && resubmitted > 0, "payments lost with the mempool were submitted again");
    group.stop().await;
}

/// Mines a block every `1 / BLOCKS_PER_SECOND` s until `keep` turns false, riding out restarts.
fn keep_mining(url: String, keep: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut miner = Miner::new(support_connect(&url).await);
        while keep.load(Ordering::Relaxed) {
            if miner.mine(1).await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                miner.reconnect(support_connect(&url).await);
            }
            tokio::time::sleep(Duration::from_millis(1_000 / BLOCKS_PER_SECOND)).await;
        }
    })
}

/// Every member's updates seen so far.
struct Updates {
    observers: Vec<Receiver<(Instant, EventUpdate)>>,
    seen: Vec<(u8, EventUpdate)>,
}

impl Updates {
    fn find<T>(&mut self, pick: impl Fn(&EventUpdate) -> Option<T>) -> Option<T> {
        for (member, observer) in (0u8..).zip(&self.observers) {
            while let Ok((_, update)) = observer.try_recv() {
                self.seen.push((member, update));
            }
        }
        self.seen.iter().find_map(|(_, u)| pick(u))
    }
}

/// A transaction spending the group's output `outpoint` (holding `entry`) to `to`, signed directly by
/// members 0, 1 and 2 of the cast (3 of 5), paying `fee`.
fn conflicting_spend(
    cast: &Cast,
    outpoint: Outpoint,
    entry: &UtxoEntry,
    to: &TransactionOutput,
) -> Transaction {
    let script = &cast.script;
    let mut tx = Transaction {
        version: 0,
        inputs: vec![igra_proto::kaspa::tx::TransactionInput {
            previous_outpoint: outpoint,
            signature_script: vec![0; script.signature_script_len()],
            sequence: 0,
            sig_op_count: script.sig_op_count(),
        }],
        outputs: vec![to.clone()],
        lock_time: 0,
        subnetwork_id: igra_proto::kaspa::tx::SubnetworkId::NATIVE,
        gas: 0,
        payload: vec![],
        storage_mass: 0,
    };
    let entries = [entry.clone()];
    tx.storage_mass = MassReport::of(&tx, &entries).expect("no zero-value output").storage;
    let digest = SighashContext::new(&tx).schnorr(0, entry, SigHashType::ALL).expect("an input");
    let signatures: Vec<_> = (0..3u8)
        .map(|i| {
            let signer = cast.signer(i).expect("a member's signer");
            let position = script.position_of(&signer.signing_public_key()).expect("a member's key");
            (position, signer.sign_schnorr(&digest, &[0; 32]).expect("a signature"))
        })
        .collect();
    tx.inputs[0].signature_script =
        script.signature_script(&signatures, SigHashType::ALL).expect("3 of 5 signatures");
    tx
}

/// The outputs `tx` spends, from the group's UTXO set (they must all be the group's).
async fn entries_of(rpc: &KaspadRpc, group_address: &str, tx: &Transaction) -> Vec<UtxoEntry> {
    let utxos = rpc.utxos_by_addresses(&[group_address.to_owned()]).await.expect("the group's outputs");
    tx.inputs
        .iter()
        .map(|input| {
            let found = utxos.iter().find(|r| r.utxo.outpoint == input.previous_outpoint);
            found.expect("an input of the group's").utxo.entry.clone()
        })
        .collect()
}

/// The fee `tx` pays, checked against the node's rule: at least kaspad's minimum relay fee for its
/// mass (igra-proto's mass functions) and at least that mass times the template policy's round-0 rate.
fn checked_fee(cast: &Cast, tx: &Transaction, entries: &[UtxoEntry]) -> u64 {
    let fee = entries.iter().map(|e| e.amount).sum::<u64>() - tx.outputs.iter().map(|o| o.value).sum::<u64>();
    let report = MassReport::of(tx, entries).expect("no zero-value output");
    let rate = cast.configs[0].template_policy.feerate(0);
    assert!(fee >= report.minimum_fee(), "fee {fee} under the minimum relay fee {}", report.minimum_fee());
    assert!(
        fee >= report.fee_mass() * rate,
        "fee {fee} under {} grams at {rate} sompi/gram",
        report.fee_mass()
    );
    fee
}

const FINALITY_DEPTH: u64 = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn an_out_of_band_spend_kills_the_template_and_the_event_is_paid_once_in_the_next_epoch() {
    log_the_clients();
    let Some((node, rpc, miner)) = Kaspad::simnet("kaspad e2e", COINBASE_MATURITY + 20).await else {
        return;
    };
    let clock = Clock::new();
    let config = DevnetConfig {
        members: 5,
        threshold: 3,
        events: 1,
        confirm_depth: 10,
        finality_depth: FINALITY_DEPTH,
        ..DevnetConfig::default()
    };
    let cast = Cast::new(&config).expect("a cast");
    let group_spk = cast.script.script_public_key();
    let group_address = address_for_script(&group_spk, Prefix::Simnet).unwrap().encode();
    miner.fund(&group_spk, &[40 * SOMPI_PER_KASPA; 3]).await;
    // Deep enough for the template policy (min_input_depth 100) before mining pauses.
    miner.mine(120).await.expect("mined");
    let funding = rpc.utxos_by_addresses(std::slice::from_ref(&group_address)).await.unwrap();
    let anchor = rpc.sink().await.expect("the sink");
    let started = clock.now();

    // Mining is paused: the group's transaction stays in the mempool.
    let mut group = start_group(&cast, &node.url, config.members).await;
    let mut updates = Updates { observers: std::mem::take(&mut group.observers), seen: Vec::new() };
    wait_for("every client ready", 30, || group.clients.iter().all(ChainClient::ready)).await;
    let event = cast.event(0).expect("an event");
    let event_id: EventId = event.id();
    for handle in &group.handles {
        handle.submit(event.clone()).await.expect("submitted");
    }
    let mut ours: Option<TransactionId> = None;
    wait_for("the group finalizes", 30, || {
        ours = updates.find(|u| match u {
            EventUpdate::Finalized { event_id: e, transaction_id } if *e == event_id => Some(*transaction_id),
            _ => None,
        });
        ours.is_some()
    })
    .await;
    let ours = ours.expect("finalized");
    let mut in_mempool = None;
    for _ in 0..100 {
        in_mempool = rpc.mempool_transaction(ours).await.expect("getMempoolEntry");
        if in_mempool.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let our_tx = in_mempool.expect("the group's transaction reaches the mempool");
    assert_eq!(transaction_id(&our_tx), ours);
    // Let every member that finalized hand it to its client too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entries = entries_of(&rpc, &group_address, &our_tx).await;
    let our_fee = checked_fee(&cast, &our_tx, &entries);

    // 3 of the 5 members' keys sign, outside the protocol, a conflicting spend of the transaction's
    // first input that pays someone else with a higher fee, and it replaces ours in the mempool.
    let thief = LocalSigner::from_secrets([5; 32], [0x55; 32]).expect("a key");
    let thief_spk = pay_to_pubkey(&thief.signing_public_key());
    let stolen = our_tx.inputs[0].previous_outpoint;
    let fee = 4 * our_fee.max(10_000);
    let to = TransactionOutput { value: entries[0].amount - fee, script_public_key: thief_spk.clone() };
    let conflict = conflicting_spend(&cast, stolen, &entries[0], &to);
    let conflict_id = rpc.submit_transaction_replacement(&conflict).await.expect("the replacement is taken");
    assert_eq!(conflict_id, transaction_id(&conflict));
    assert_eq!(rpc.mempool_transaction(ours).await.expect("getMempoolEntry"), None, "ours was replaced");

    // Mining resumes: the conflict is accepted, the clients attribute the spend, and after
    // FINALITY_DEPTH the signed template is dead; epoch 1 pays the event.
    let mining = Arc::new(AtomicBool::new(true));
    let miner_task = keep_mining(node.url.clone(), Arc::clone(&mining));
    wait_for("the template dies", 60, || {
        updates
            .find(|u| {
                matches!(u, EventUpdate::Dead { event_id: e, epoch: 0, .. } if *e == event_id).then_some(())
            })
            .is_some()
    })
    .await;
    let mut paid_by = None;
    wait_for("the event confirms in epoch 1", 60, || {
        paid_by = updates.find(|u| match u {
            EventUpdate::Confirmed { event_id: e, transaction_id } if *e == event_id => Some(*transaction_id),
            _ => None,
        });
        paid_by.is_some()
    })
    .await;
    mining.store(false, Ordering::Relaxed);
    let _ = miner_task.await;
    let elapsed = clock.now().millis_since(started);
    let paid_by = paid_by.expect("confirmed");
    assert_ne!(paid_by, ours, "the dead template did not pay");

    let address = address_for_script(&destination(config.seed, 0), Prefix::Simnet).unwrap().encode();
    let outputs = rpc.utxos_by_addresses(&[address]).await.unwrap();
    assert_eq!(outputs.len(), 1, "the event is paid once");
    assert_eq!(outputs[0].utxo.entry.amount, amount(0), "the event is paid exactly");
    assert_eq!(outputs[0].utxo.outpoint.transaction_id, paid_by);
    let found = accepted_transactions(&rpc, anchor, &HashSet::from([paid_by])).await;
    let payment = found.get(&paid_by).expect("the payment on the selected chain");
    let entries: Vec<UtxoEntry> = payment
        .inputs
        .iter()
        .map(|i| {
            let record = funding.iter().find(|r| r.utxo.outpoint == i.previous_outpoint);
            record.expect("a funding output").utxo.entry.clone()
        })
        .collect();
    let paid_fee = checked_fee(&cast, payment, &entries);
    let thief_address = address_for_script(&thief_spk, Prefix::Simnet).unwrap().encode();
    let stolen_out = rpc.utxos_by_addresses(&[thief_address]).await.unwrap();
    assert_eq!(stolen_out.len(), 1);
    assert_eq!(stolen_out[0].utxo.outpoint.transaction_id, conflict_id, "the conflict was accepted");
    let stats: Vec<KaspadStats> = group.clients.iter().map(KaspadClient::stats).collect();
    let attributed: u64 = stats.iter().map(|s| s.attributed_spends).sum();
    let deaths = updates.seen.iter().filter(|(_, u)| matches!(u, EventUpdate::Dead { .. })).count();
    eprintln!(
        "kaspad e2e (out of band): conflict {conflict_id} replaced {ours}; {deaths} members saw the template \
         dead; paid once in epoch 1 by {paid_by} in {:?}; fees {our_fee} (dead) and {paid_fee} (paid) sompi; spends attributed from \
         the chain {attributed}; client stats: {stats:?}",
        Duration::from_millis(elapsed)
    );
    assert!(attributed >= 1, "the out-of-band spend was attributed from the virtual chain");
    assert!(stats.iter().all(|s| s.unresolved_spends == 0), "every client learned the spender");
    group.stop().await;
}

async fn support_connect(url: &str) -> KaspadRpc {
    for _ in 0..300 {
        if let Ok((rpc, _notes)) =
            KaspadRpc::connect(url, Duration::from_secs(2), Duration::from_secs(10)).await
        {
            return rpc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kaspad at {url} did not come back");
}
