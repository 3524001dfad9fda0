//! End to end against a real kaspad on simnet: a 3-of-5 group of real runners, each with its own
//! [`KaspadClient`], pays a batch of attested events; every payment is accepted by kaspad, every
//! destination receives exactly its amount, no event is paid twice. Then kaspad is restarted mid-run and
//! the group carries on.
//!
//! Skipped (with a message, not failed) when kaspad is not installed in the cache directory
//! (`scripts/install-kaspad`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use igra_adapters::devnet::{Cast, DevnetConfig, Tracker, amount, destination};
use igra_adapters::kaspad::{KaspadClient, KaspadConfig};
use igra_adapters::runner::local::{LocalNet, NoStorage};
use igra_adapters::runner::{ChainClient, Clock, Driver, Runner, RunnerHandle, Runtime, Tokio, Wiring};
use igra_proto::kaspa::address::Prefix;
use igra_proto::kaspa::script::address_for_script;
use igra_proto::kaspa::tx::SOMPI_PER_KASPA;
use igra_proto::node::Node;
use igra_proto::{MemberIndex, Network};
use support::kaspad::{COINBASE_MATURITY, Kaspad, Miner, binary, install_dir};

const EVENTS: u64 = 24;
/// Blocks mined per second while the group runs (simnet's 10 BPS, doubled to keep the test short).
const BLOCKS_PER_SECOND: u64 = 20;

struct Group {
    handles: Vec<RunnerHandle>,
    clients: Vec<KaspadClient>,
    tracker: Tracker,
}

fn start_group(cast: &Cast, url: &str, members: u8) -> Group {
    let clock = Clock::new();
    let (net, inboxes) = LocalNet::new(members);
    let mut handles = Vec::new();
    let mut clients = Vec::new();
    let mut observers = Vec::new();
    for (i, inbox) in (0..members).zip(inboxes) {
        let node = Node::new(
            cast.configs[usize::from(i)].clone(),
            Box::new(cast.signer(i).expect("a signer")),
            cast.node_seed(i),
            1,
            clock.now(),
        )
        .expect("a node");
        let (storage, durable) = NoStorage::new();
        let config = KaspadConfig::new(url, Network::Simnet, cast.script.script_public_key());
        let (client, chain_in) = KaspadClient::start(config).expect("a client");
        let wiring = Wiring {
            frames_in: inbox,
            frames_out: Arc::new(net.link(MemberIndex(i))),
            storage: Arc::new(storage),
            durable,
            chain: Arc::new(client.clone()),
            chain_in,
        };
        let (mut runner, handle) = Runner::new(Driver::new(node), wiring, clock);
        observers.push(runner.observe());
        Tokio::spawn(async move {
            if let Err(e) = runner.run::<Tokio>().await {
                panic!("member {i} stopped: {e}");
            }
        });
        handles.push(handle);
        clients.push(client);
    }
    Group { handles, clients, tracker: Tracker::new(observers, clock) }
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
    let Some(bin) = binary() else {
        eprintln!(
            "SKIPPED kaspad e2e: no kaspad in {} (install it with scripts/install-kaspad)",
            install_dir().display()
        );
        return;
    };
    let clock = Clock::new();
    let mut node = Kaspad::start(&bin);
    let rpc = node.connect().await;
    let info = rpc.server_info().await.expect("server info");
    assert_eq!(info.network_id, "simnet");
    assert!(info.has_utxo_index);
    let miner = Miner::new(rpc.clone());
    miner.mine(COINBASE_MATURITY + 200).await.expect("mined to maturity");

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
    let funded: u64 = rpc
        .utxos_by_addresses(std::slice::from_ref(&group_address))
        .await
        .unwrap()
        .iter()
        .map(|r| r.utxo.entry.amount)
        .sum();
    assert_eq!(funded, pool.iter().sum::<u64>(), "the group holds its funding");
    let funded_at = clock.now();

    // Blocks keep coming while the group works.
    let mining = Arc::new(AtomicBool::new(true));
    let (keep, url) = (Arc::clone(&mining), node.url.clone());
    let miner_task = tokio::spawn(async move {
        let mut miner = Miner::new(support_connect(&url).await);
        while keep.load(Ordering::Relaxed) {
            if miner.mine(1).await.is_err() {
                // kaspad is restarting: reconnect and go on.
                tokio::time::sleep(Duration::from_millis(200)).await;
                miner.reconnect(support_connect(&url).await);
            }
            tokio::time::sleep(Duration::from_millis(1_000 / BLOCKS_PER_SECOND)).await;
        }
    });

    let mut group = start_group(&cast, &node.url, config.members);
    wait_for("every client ready", 30, || group.clients.iter().all(ChainClient::ready)).await;
    let submit_all = |group: &mut Group, range: std::ops::Range<u64>| {
        let events: Vec<_> = range.map(|k| (k, cast.event(k).expect("an event"))).collect();
        let handles = group.handles.clone();
        for (k, event) in &events {
            group.tracker.submitted(event.id(), *k);
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
    for answer in submit_all(&mut group, 0..half).await {
        group.tracker.answered(&answer);
    }
    wait_for("first half confirmed", 120, || {
        group.tracker.drain();
        group.tracker.progress().confirmed >= half
    })
    .await;

    // kaspad goes away mid-run and comes back: clients go not ready, reconnect, re-subscribe, resync.
    node.restart();
    wait_for("clients see the node gone", 30, || group.clients.iter().any(|c| !c.ready())).await;
    for answer in submit_all(&mut group, half..EVENTS).await {
        group.tracker.answered(&answer);
    }
    wait_for("clients back", 60, || group.clients.iter().all(ChainClient::ready)).await;
    wait_for("every event confirmed", 180, || {
        group.tracker.drain();
        group.tracker.progress().confirmed >= EVENTS
    })
    .await;
    mining.store(false, Ordering::Relaxed);
    let _ = miner_task.await;
    let elapsed = clock.now().millis_since(funded_at);

    // Every destination holds exactly its event's amount, once.
    let rpc = node.connect().await;
    let mut paid = 0u64;
    for k in 0..EVENTS {
        let address = address_for_script(&destination(config.seed, k), Prefix::Simnet).unwrap().encode();
        let outputs = rpc.utxos_by_addresses(&[address]).await.unwrap();
        assert_eq!(outputs.len(), 1, "event {k} paid once");
        assert_eq!(outputs[0].utxo.entry.amount, amount(k), "event {k} paid exactly");
        paid += amount(k);
    }
    let left: u64 =
        rpc.utxos_by_addresses(&[group_address]).await.unwrap().iter().map(|r| r.utxo.entry.amount).sum();
    let fees = funded - paid - left;
    let stats: Vec<_> = group.clients.iter().map(KaspadClient::stats).collect();
    eprintln!(
        "kaspad e2e: {EVENTS} events paid once each in {:?} after funding; {paid} sompi paid, {fees} sompi \
         fees, {left} sompi left to the group; client stats: {stats:?}",
        Duration::from_millis(elapsed)
    );
    assert!(stats.iter().all(|s| s.sessions >= 2), "every client reconnected after the restart");
    for handle in &group.handles {
        handle.shutdown().await;
    }
}

async fn support_connect(url: &str) -> igra_adapters::kaspad::KaspadRpc {
    for _ in 0..300 {
        if let Ok((rpc, _notes)) =
            igra_adapters::kaspad::KaspadRpc::connect(url, Duration::from_secs(2), Duration::from_secs(10))
                .await
        {
            return rpc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kaspad at {url} did not come back");
}
