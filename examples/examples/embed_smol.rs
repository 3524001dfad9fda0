//! The 2-of-3 group of `embed_tokio`, under smol and assembled by hand: each member is an LMDB store,
//! a storage worker, the TCP transport and a runner around a `Node`, wired together the way
//! `igra_adapters::member::Member::start` does it.
//!
//! Run it with `cargo run -p igra-examples --example embed_smol`. The runner's loop is written once,
//! against runtime-neutral channels and a few traits; `Smol` (or `Tokio`) only supplies its timer and
//! task spawner. An embedder with its own transport, storage or chain client replaces the matching
//! piece of [`Wiring`] and keeps the rest (see `docs/embedding.md`). The program exits non-zero unless
//! every event is confirmed and paid exactly once.

use std::collections::BTreeSet;
use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_channel::Receiver;
use igra_adapters::devnet::Cast;
use igra_adapters::devnet::chain::DevChain;
use igra_adapters::member::SharedSigner;
use igra_adapters::runner::{Clock, Driver, Runner, RunnerError, RunnerHandle, Smol, Wiring};
use igra_adapters::storage::{LmdbOptions, LmdbStore, StorageWorker, Store, WorkerLimits};
use igra_adapters::transport::{self, TransportConfig, TransportHandle};
use igra_examples::{cast, check_paid_once, follow, loopback_addrs, short, submit_to_all, tick};
use igra_proto::node::{EventStatus, EventUpdate, Node, Phase};
use igra_proto::{EventId, Instant, MemberIndex};

const MEMBERS: u8 = 3;
const THRESHOLD: u8 = 2;
const EVENTS: u64 = 3;

/// One running member: what the embedder keeps to talk to it and to stop it.
struct Seat {
    runner: RunnerHandle,
    transport: TransportHandle,
    updates: Receiver<(Instant, EventUpdate)>,
    /// The runner's loop; it ends with `Ok` on shutdown, or with the failure that stopped the node.
    task: smol::Task<Result<(), RunnerError>>,
}

/// Starts member `i`: its state from `dir`, listening on `addrs[i]`, its peers at the other addresses.
async fn start(
    cast: &Cast,
    i: u8,
    dir: &Path,
    addrs: &[SocketAddr],
    chain: &Arc<DevChain>,
    clock: Clock,
) -> Result<Seat, Box<dyn Error>> {
    let config = cast.configs[usize::from(i)].clone();
    // The member's key, shared by the node (votes, transaction signatures) and the transport
    // (the authenticated handshake).
    let signer = SharedSigner(Arc::new(cast.signer(i)?));

    // 1. Storage: everything the node ever persisted, and a boot epoch above the previous run's.
    let mut store = LmdbStore::open(dir, LmdbOptions::default())?;
    let records = store.load()?;
    let boot_epoch = store.next_boot_epoch()?;

    // 2. The node, restored from its records (none on the first start).
    let node = Node::restore(
        config.clone(),
        Box::new(signer.clone()),
        cast.node_seed(i),
        boot_epoch,
        clock.now(),
        clock.wall(),
        &records,
    )?;

    // 3. The store moves to a thread of its own, so that the runner never waits on `fsync`: batches go
    //    in through `storage`, durability comes back on `durable`.
    let (storage, durable) = StorageWorker::spawn(Box::new(store), WorkerLimits::default())?;

    // 4. The TCP transport, on smol. It authenticates every peer against the group's identity keys.
    let peers = (0..MEMBERS).filter(|j| *j != i).map(|j| (MemberIndex(j), addrs[usize::from(j)])).collect();
    let transport_config =
        TransportConfig::new(config.me, addrs[usize::from(i)], peers, config.group.clone());
    let transport = transport::smol::spawn(transport_config, Arc::clone(&signer.0)).await?;

    // 5. The runner, wired to all of it, and to its own subscription to the chain.
    let (chain_client, chain_in) = chain.client();
    let wiring = Wiring {
        frames_in: transport.incoming(),
        frames_out: Arc::new(transport.clone()),
        storage: Arc::new(storage),
        durable,
        chain: Arc::new(chain_client),
        chain_in,
    };
    let (mut runner, handle) = Runner::new(Driver::new(node), wiring, clock);
    let updates = runner.observe();
    let task = smol::spawn(runner.run::<Smol>());
    println!("member {i}: boot epoch {boot_epoch}, {} records restored", records.len());
    Ok(Seat { runner: handle, transport, updates, task })
}

/// Whether the runner reports event `id` confirmed, asking for up to two seconds.
async fn confirmed(runner: &RunnerHandle, id: EventId) -> Result<bool, RunnerError> {
    for _ in 0..20 {
        if let Some(EventStatus { phase: Phase::Confirmed { .. }, .. }) = runner.status(id).await? {
            return Ok(true);
        }
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    Ok(false)
}

fn main() -> Result<(), Box<dyn Error>> {
    smol::block_on(async {
        let cast = cast(MEMBERS, THRESHOLD)?;
        let clock = Clock::new();
        let chain = DevChain::new(cast.script.clone(), &cast.pool, clock);
        let data = tempfile::tempdir()?;
        let addrs = loopback_addrs(MEMBERS)?;
        let mut seats = Vec::new();
        for i in 0..MEMBERS {
            seats.push(
                start(&cast, i, &data.path().join(format!("member-{i}")), &addrs, &chain, clock).await?,
            );
        }
        let ticker = tick::<Smol>(&chain);

        let mut pending = BTreeSet::new();
        for k in 0..EVENTS {
            let event = cast.event(k)?;
            pending.insert(submit_to_all(seats.iter().map(|s| &s.runner), &event).await?);
            println!("submitted event {k} ({}) to every member", short(&event.id()));
        }
        follow::<Smol>(&seats[2].updates, pending, Duration::from_secs(30)).await?;

        // Every member reports every event confirmed (the others hear the chain's news at about the same
        // time as member 2), and the chain paid each once.
        for (i, seat) in seats.iter().enumerate() {
            for k in 0..EVENTS {
                if !confirmed(&seat.runner, cast.event(k)?.id()).await? {
                    return Err(format!("member {i} does not report event {k} confirmed").into());
                }
            }
        }
        check_paid_once(&chain, EVENTS)?;
        println!("every member reports every event confirmed; each was paid exactly once");

        drop(ticker);
        for seat in seats {
            // The runner finishes the input in hand and stops; its storage worker stops with it.
            seat.runner.shutdown().await;
            seat.task.await?;
            seat.transport.shutdown().await;
        }
        Ok(())
    })
}
