//! Real members: TCP on loopback, LMDB on disk, events submitted and followed through each member's
//! HTTP API, the devnet chain underneath. Under tokio and under smol, and across a crash.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use igra_adapters::api::client::ApiClient;
use igra_adapters::api::{ApiConfig, StateFilter};
use igra_adapters::devnet::chain::DevChain;
use igra_adapters::devnet::{Cast, DevnetConfig, amount, destination};
use igra_adapters::member::{Member, MemberSpec, SharedSigner};
use igra_adapters::runner::{Clock, Runtime, Smol, Tokio};
use igra_adapters::storage::LmdbOptions;
use igra_proto::{EventId, MemberIndex};

const MEMBERS: u8 = 3;

struct Group {
    seed: u64,
    cast: Cast,
    chain: Arc<DevChain>,
    clock: Clock,
    addrs: Vec<SocketAddr>,
    dir: tempfile::TempDir,
}

impl Group {
    fn new(seed: u64) -> Self {
        let config = DevnetConfig {
            members: MEMBERS,
            threshold: 2,
            pool: 50,
            seed,
            confirm_depth: 5,
            ..DevnetConfig::default()
        };
        let cast = Cast::new(&config).unwrap();
        let clock = Clock::new();
        let chain = DevChain::new(cast.script.clone(), &cast.pool, clock);
        let addrs = (0..MEMBERS)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap())
            .collect();
        Self { seed, cast, chain, clock, addrs, dir: tempfile::tempdir().unwrap() }
    }

    async fn start<R: Runtime>(&self, i: u8) -> Member {
        let spec = MemberSpec {
            config: self.cast.configs[usize::from(i)].clone(),
            signer: SharedSigner(Arc::new(self.cast.signer(i).unwrap())),
            seed: self.cast.node_seed(i),
            data_dir: self.dir.path().join(format!("m{i}")),
            lmdb: LmdbOptions::default(),
            listen: self.addrs[usize::from(i)],
            peers: (0..MEMBERS)
                .filter(|j| *j != i)
                .map(|j| (MemberIndex(j), self.addrs[usize::from(j)]))
                .collect(),
            api: Some((SocketAddr::from(([127, 0, 0, 1], 0)), ApiConfig::default())),
        };
        let (client, news) = self.chain.client();
        Member::start::<R>(spec, Arc::new(client), news, self.clock).await.unwrap()
    }

    /// Ticks the chain's DAA score until `done` says stop (a real node's score advances on its own).
    fn tick<R: Runtime>(&self, done: async_channel::Receiver<()>) {
        let chain = Arc::clone(&self.chain);
        R::spawn(async move {
            while done.is_empty() && !done.is_closed() {
                R::sleep(Duration::from_millis(100)).await;
                chain.tick();
            }
        });
    }

    /// Every event `0..events` is paid exactly once with its amount.
    fn assert_paid_once(&self, events: u64) {
        let accepted = self.chain.accepted();
        for k in 0..events {
            let dest = destination(self.seed, k);
            let paid = accepted
                .iter()
                .flat_map(|a| &a.transaction.outputs)
                .filter(|o| o.script_public_key == dest && o.value == amount(k))
                .count();
            assert_eq!(paid, 1, "event {k} paid {paid} times");
        }
    }
}

/// Runs the `igra` binary and returns its standard output; it must succeed.
fn igra(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_igra")).args(args).output().unwrap();
    assert!(out.status.success(), "igra {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The member's `/metrics` text.
fn metrics(member: &Member) -> String {
    let url = format!("http://{}/metrics", member.api_addr.unwrap());
    ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap()
}

/// The value of the sample `name` (with its labels) in a metrics text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

fn api(member: &Member) -> ApiClient {
    ApiClient::new(&format!("http://{}", member.api_addr.unwrap()), None)
}

/// Submits events `range` to every client and waits until each is confirmed on every client.
fn submit_and_confirm(cast: &Cast, clients: &[ApiClient], range: std::ops::Range<u64>) -> Vec<EventId> {
    let mut ids = Vec::new();
    for k in range {
        let event = cast.event(k).unwrap();
        for client in clients {
            assert_eq!(client.submit(&event).unwrap(), event.id());
        }
        ids.push(event.id());
    }
    wait_confirmed(clients, &ids);
    ids
}

fn wait_confirmed(clients: &[ApiClient], ids: &[EventId]) {
    for _ in 0..600 {
        let confirmed = clients.iter().all(|c| {
            ids.iter().all(|id| c.status(id).unwrap().is_some_and(|v| v.phase == StateFilter::Confirmed))
        });
        if confirmed {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("events not confirmed on every member within 60 s");
}

#[test]
fn three_members_over_tcp_under_tokio_pay_events_through_the_api() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let group = Group::new(21);
    let (stop, done) = async_channel::bounded(1);
    let members: Vec<Member> = runtime.block_on(async {
        group.tick::<Tokio>(done);
        let mut members = Vec::new();
        for i in 0..MEMBERS {
            members.push(group.start::<Tokio>(i).await);
        }
        members
    });
    let clients: Vec<ApiClient> = members.iter().map(api).collect();
    submit_and_confirm(&group.cast, &clients, 0..8);
    group.assert_paid_once(8);
    // Every member's audit trail names the transaction and a certificate.
    let view = clients[1].status(&group.cast.event(3).unwrap().id()).unwrap().unwrap();
    assert!(view.transaction_id.is_some() && view.lock.is_some());
    assert!(members.iter().all(|m| m.transport.stats().connected.len() == usize::from(MEMBERS) - 1));
    // The runner fed the metrics: frames by kind, persist latency, confirmed events.
    let text = metrics(&members[0]);
    for name in [
        "igra_frames_in_total{kind=\"vote\"}",
        "igra_frames_out_total{kind=\"vote\"}",
        "igra_persist_seconds_count",
    ] {
        let value = sample(&text, name);
        assert!(value > 0.0, "{name} is {value}");
    }
    assert!((sample(&text, "igra_events{phase=\"confirmed\"}") - 8.0).abs() < f64::EPSILON, "{text}");
    // `igra status` reads the same API.
    let base = format!("http://{}", members[2].api_addr.unwrap());
    let id = hex::encode(group.cast.event(3).unwrap().id().0);
    let one = igra(&["status", "--api", &base, &id]);
    assert!(one.contains("ready") && one.contains("\"phase\": \"confirmed\"") && one.contains(&id), "{one}");
    let page = igra(&["status", "--api", &base, "--state", "confirmed", "--limit", "100"]);
    assert_eq!(page.matches("\"event_id\"").count(), 8, "{page}");
    runtime.block_on(async {
        for member in members {
            member.stop().await.unwrap();
        }
    });
    stop.try_send(()).unwrap();
}

#[test]
fn three_members_over_tcp_under_smol_pay_events_through_the_api() {
    let group = Group::new(22);
    let (stop, done) = async_channel::bounded(1);
    group.tick::<Smol>(done);
    let members: Vec<Member> = smol::block_on(async {
        let mut members = Vec::new();
        for i in 0..MEMBERS {
            members.push(group.start::<Smol>(i).await);
        }
        members
    });
    let clients: Vec<ApiClient> = members.iter().map(api).collect();
    submit_and_confirm(&group.cast, &clients, 0..8);
    group.assert_paid_once(8);
    smol::block_on(async {
        for member in members {
            member.stop().await.unwrap();
        }
    });
    stop.try_send(()).unwrap();
}

#[test]
fn a_member_killed_mid_event_restarts_from_its_database_and_the_event_completes_once() {
    let main = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let group = Group::new(23);
    let (stop, done) = async_channel::bounded(1);
    // Members 0 and 1 on the main runtime; member 2 on its own, so that it can be killed by dropping
    // its runtime (no graceful stop: its tasks simply cease).
    let (m0, m1) = main.block_on(async {
        group.tick::<Tokio>(done);
        (group.start::<Tokio>(0).await, group.start::<Tokio>(1).await)
    });
    let doomed = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let m2 = doomed.block_on(group.start::<Tokio>(2));
    assert_eq!(m2.boot_epoch, 1);
    // Member 2 alone hears of event 0 and votes; with threshold 2 nothing can complete yet.
    let event = group.cast.event(0).unwrap();
    let c2 = api(&m2);
    c2.submit(&event).unwrap();
    // Its vote leaves only once durable: when member 0 has received it, it is on member 2's disk.
    let mut voted = false;
    for _ in 0..200 {
        if metrics(&m0)
            .lines()
            .any(|l| l.starts_with("igra_frames_in_total{kind=\"vote\"}") && !l.ends_with(" 0"))
        {
            voted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(voted, "member 2's vote never reached member 0");
    drop(m2);
    drop(doomed);
    // Back from its database: it remembers the event and its vote, under a new boot epoch.
    let again = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let m2 = again.block_on(group.start::<Tokio>(2));
    assert_eq!(m2.boot_epoch, 2);
    assert!(m2.restored_records >= 2, "restored {} records", m2.restored_records);
    let c2 = api(&m2);
    let restored = c2.status(&event.id()).unwrap().expect("the restarted member knows the event");
    assert!(!restored.my_votes.is_empty(), "the restarted member forgot its vote");
    // The others hear of the event too; it completes, paid once.
    let clients = [api(&m0), api(&m1), c2];
    for client in &clients[..2] {
        client.submit(&event).unwrap();
    }
    wait_confirmed(&clients, &[event.id()]);
    group.assert_paid_once(1);
    // Nobody signed twice: one accepted transaction, whose inputs carry one signature per signer.
    assert_eq!(group.chain.accepted().len(), 1);
    again.block_on(m2.stop()).unwrap();
    main.block_on(async {
        m0.stop().await.unwrap();
        m1.stop().await.unwrap();
    });
    stop.try_send(()).unwrap();
}
