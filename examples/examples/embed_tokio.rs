//! A whole 2-of-3 signer group inside one tokio program, each member a complete
//! [`igra_adapters::member::Member`]: TCP transport on loopback, LMDB in a temporary directory and the
//! HTTP API on a free port, all three on the in-process devnet chain.
//!
//! Run it with `cargo run -p igra-examples --example embed_tokio`. It submits three attested events to
//! every member through its `RunnerHandle` (as each member's relayer would), prints member 0's progress
//! on each event until all are confirmed, reads one event back through the HTTP API, checks that the
//! chain paid each event exactly once, and stops the members. It fails (exit code 1) otherwise.
//!
//! What an embedder provides for each member, and where it comes from here:
//! * **keys**: a [`igra_proto::Signer`] (here derived by the devnet cast; in production a keystore or
//!   an HSM behind the same trait);
//! * **configuration**: the member's `NodeConfig` (group, attestation rules, policy, timing), and the
//!   addresses it listens on and finds its peers at;
//! * **a chain client**: an [`igra_adapters::runner::ChainClient`] for requests and a channel of chain
//!   news (here the devnet chain; in production a Kaspa node client);
//! * **a storage directory** of its own, which must survive restarts.

use std::collections::BTreeSet;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use igra_adapters::api::client::ApiClient;
use igra_adapters::api::{ApiConfig, StateFilter};
use igra_adapters::devnet::chain::DevChain;
use igra_adapters::member::{Member, MemberSpec, SharedSigner};
use igra_adapters::runner::{Clock, Tokio};
use igra_adapters::storage::LmdbOptions;
use igra_examples::{cast, check_paid_once, follow, loopback_addrs, short, submit_to_all, tick};
use igra_proto::MemberIndex;

const MEMBERS: u8 = 3;
const THRESHOLD: u8 = 2;
const EVENTS: u64 = 3;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let cast = cast(MEMBERS, THRESHOLD)?;
    println!("group {}: {THRESHOLD}-of-{MEMBERS}", cast.group.id());
    // One clock for the whole process: the nodes' monotonic time and the devnet chain's DAA score.
    let clock = Clock::new();
    let chain = DevChain::new(cast.script.clone(), &cast.pool, clock);
    let data = tempfile::tempdir()?;
    let addrs = loopback_addrs(MEMBERS)?;

    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let spec = MemberSpec {
            config: cast.configs[usize::from(i)].clone(),
            signer: SharedSigner(Arc::new(cast.signer(i)?)),
            // The node's own randomness (template choices, nonces' auxiliary data); any fresh value.
            seed: cast.node_seed(i),
            data_dir: data.path().join(format!("member-{i}")),
            lmdb: LmdbOptions::default(),
            listen: addrs[usize::from(i)],
            peers: (0..MEMBERS)
                .filter(|j| *j != i)
                .map(|j| (MemberIndex(j), addrs[usize::from(j)]))
                .collect(),
            api: Some((SocketAddr::from(([127, 0, 0, 1], 0)), ApiConfig::default())),
        };
        // Each member gets its own chain subscription: requests go out through `client`, news comes
        // back on `news`.
        let (client, news) = chain.client();
        let member = Member::start::<Tokio>(spec, Arc::new(client), news, clock).await?;
        println!("member {i}: boot epoch {}, API on {:?}", member.boot_epoch, member.api_addr);
        members.push(member);
    }
    let ticker = tick::<Tokio>(&chain);

    let mut pending = BTreeSet::new();
    for k in 0..EVENTS {
        let event = cast.event(k)?;
        pending.insert(submit_to_all(members.iter().map(|m| &m.runner), &event).await?);
        println!("submitted event {k} ({}) to every member", short(&event.id()));
    }
    follow::<Tokio>(&members[0].updates, pending, Duration::from_secs(30)).await?;

    // The same state through member 1's HTTP API, as a separate relayer process would read it (member 1
    // hears the chain's news at about the same time as member 0: it is given two seconds). The client
    // is blocking, so it runs off the async threads.
    let client = ApiClient::new(&format!("http://{}", members[1].api_addr.ok_or("no API address")?), None);
    let id = cast.event(0)?.id();
    let view = tokio::task::spawn_blocking(move || {
        for _ in 0..20 {
            match client.status(&id) {
                Ok(Some(view)) if view.phase == StateFilter::Confirmed => return Ok(view),
                Err(e) => return Err(e.to_string()),
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        Err("member 1's API does not report event 0 confirmed".to_string())
    })
    .await??;
    let transaction = view.transaction_id.as_ref().map(short);
    println!("member 1's API: event 0 is {:?}, transaction {transaction:?}", view.phase);
    check_paid_once(&chain, EVENTS)?;
    println!("every event paid exactly once");

    drop(ticker);
    for member in members {
        member.stop().await?;
    }
    Ok(())
}
