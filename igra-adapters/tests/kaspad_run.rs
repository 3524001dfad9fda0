//! `igra run` against a real kaspad on simnet, as an operator runs it: three members of a 2-of-3 group,
//! each an `igra run` process with its own keystore (`igra keygen`), LMDB directory, peer port and API
//! port, all reading node files that point `[kaspad] url` at one kaspad's wRPC JSON listener. The group's
//! P2SH address (derived from the node file with igra-proto) is funded from matured coinbase outputs; once
//! every member reports ready, operator-attested events (approved with `igra approve` by an operator
//! whose keystore `igra keygen` made, joined and submitted by `igra event --api`) go in through every
//! member's `POST /v1/events`, blocks keep coming, and every event must show `confirmed` on every member's `GET /v1/events/{id}`.
//! Then kaspad's UTXO index must hold each destination's amount exactly once, every payment must be on
//! the selected chain with a fee at least the relay minimum for its mass, the fees must be all the group
//! lost, and every member must stop cleanly on SIGTERM.
//!
//! Skipped (with a message, not failed) when kaspad is not installed in the cache directory
//! (`scripts/install-kaspad`).

#[path = "support/cli.rs"]
mod cli;
#[expect(dead_code, reason = "shared with kaspad_e2e; this test leaves the restart helpers unused")]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cli::{free_port, igra};
use igra_adapters::api::client::ApiClient;
use igra_adapters::api::view::{EventView, StateFilter};
use igra_adapters::config::NodeFile;
use igra_adapters::kaspad::KaspadRpc;
use igra_adapters::runner::Clock;
use igra_proto::event::{EventSource, SourceKind, event_id};
use igra_proto::kaspa::address::Prefix;
use igra_proto::kaspa::mass::MassReport;
use igra_proto::kaspa::script::{MultisigScript, address_for_script, pay_to_pubkey};
use igra_proto::kaspa::tx::{SOMPI_PER_KASPA, ScriptPublicKey, UtxoEntry};
use igra_proto::node::NodeConfig;
use igra_proto::template::Payment;
use igra_proto::{EventId, LocalSigner, Signer, TransactionId};
use support::kaspad::{COINBASE_MATURITY, Kaspad, Miner, accepted_transactions, spendable_entries};

const MEMBERS: u8 = 3;
const THRESHOLD: u8 = 2;
/// Events paid; each goes to every member's API.
const EVENTS: u8 = 12;
/// The group's funding: this many outputs of `FUNDING_KAS` each. Fewer than `EVENTS`, so that some
/// payments must spend the change of earlier ones once it is `MIN_INPUT_DEPTH` deep.
const FUNDING_OUTPUTS: usize = 8;
const FUNDING_KAS: u64 = 50;
/// Blocks mined per second while the group runs (simnet's 10 BPS, doubled to keep the test short).
const BLOCKS_PER_SECOND: u64 = 20;
/// The group's confirmation depth in DAA score (written to `[chain]`): 1 s of blocks here.
const CONFIRM_DEPTH: u64 = 20;
/// The template policy's default `min_input_depth`: funding must be this deep before it is spent.
const MIN_INPUT_DEPTH: u64 = 100;

/// One member's files and ports.
struct Seat {
    dir: PathBuf,
    identity: String,
    signing: String,
    peer_port: u16,
    api_port: u16,
}

impl Seat {
    /// Runs `igra keygen` in `dir` and reads the printed `[[group.members]]` entry.
    fn keygen(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let out = igra().args(["keygen", "--keystore"]).arg(dir.join("member.key")).output().unwrap();
        assert!(out.status.success(), "igra keygen: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let field = |name: &str| {
            let line = stdout.lines().find(|l| l.starts_with(&format!("{name} = \""))).expect(name);
            line.split('"').nth(1).expect("a quoted value").to_owned()
        };
        let (identity, signing) = (field("identity"), field("signing"));
        Self { dir, identity, signing, peer_port: free_port(), api_port: free_port() }
    }

    fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    fn api(&self) -> ApiClient {
        ApiClient::new(&format!("http://127.0.0.1:{}", self.api_port), None)
    }
}

/// Member `me`'s node file (docs/examples/node-kaspad-simnet.toml is the commented version).
fn node_file(seats: &[Seat], me: usize, kaspad_url: &str, operator_key: &str) -> String {
    let seat = &seats[me];
    let mut members = String::new();
    for s in seats {
        writeln!(
            members,
            "[[group.members]]\nidentity = \"{}\"\nsigning = \"{}\"\naddress = \"127.0.0.1:{}\"\n",
            s.identity, s.signing, s.peer_port
        )
        .unwrap();
    }
    format!(
        r#"[node]
member = {me}
data_dir = "{data}"
keystore = "{keystore}"
listen = "127.0.0.1:{peer_port}"

[kaspad]
url = "{kaspad_url}"

[api]
listen = "127.0.0.1:{api_port}"

[group]
network = "simnet"
threshold = {THRESHOLD}
policy_version = 1

{members}[attestation.operators]
keys = ["{operator_key}"]
threshold = 1

[policy]
min_amount = 100000
max_amount = 100000000000
window_ms = 86400000

[chain]
confirm_depth = {CONFIRM_DEPTH}
finality_depth = 200
"#,
        data = seat.dir.join("db").display(),
        keystore = seat.dir.join("member.key").display(),
        peer_port = seat.peer_port,
        api_port = seat.api_port,
    )
}

/// A running `igra run`, killed if the test fails before stopping it.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `igra run --config` with standard error in `log`.
    fn start(config: &Path, log: PathBuf) -> Self {
        let file = File::create(&log).unwrap();
        let child = igra()
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit.
    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "igra run exited with {status}: {}", self.log());
                assert!(self.log().contains("igra: stopping"), "{}", self.log());
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("igra run did not stop within 10 s of SIGTERM: {}", self.log());
    }
}

/// The last lines of every member's log, for failure messages.
fn tails(members: &[Running]) -> String {
    let mut out = String::new();
    for (i, m) in members.iter().enumerate() {
        let log = m.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(15);
        writeln!(out, "--- member {i} ({}):\n{}", m.log.display(), lines[from..].join("\n")).unwrap();
    }
    out
}

/// Runs a blocking API call off the runtime's workers.
async fn blocking<T: Send + 'static>(
    api: &ApiClient,
    call: impl FnOnce(&ApiClient) -> T + Send + 'static,
) -> T {
    let api = api.clone();
    tokio::task::spawn_blocking(move || call(&api)).await.expect("the API call ran")
}

/// Operator-attested event `k` (`k + 1` KAS to its own fresh P2PK destination) made and submitted the
/// operator's way: `igra approve` with the operator's keystore, then `igra event --api` to every
/// member. Returns the event id (checked against the library's) and the destination.
async fn submit_by_hand(
    config: &Path,
    keystore: &Path,
    apis: &[String],
    k: u8,
) -> (EventId, ScriptPublicKey) {
    let payee = LocalSigner::from_secrets([0x60 + k; 32], [0x80 + k; 32]).expect("a valid key");
    let destination = pay_to_pubkey(&payee.signing_public_key());
    let mut external_id = [0u8; 32];
    external_id[0] = k;
    external_id[1..9].copy_from_slice(b"kaspadrn");
    let withdrawal: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "--external-id".into(),
        hex::encode(external_id),
        "--to".into(),
        address(&destination),
        "--amount".into(),
        amount(k).to_string(),
    ];
    let mut approve_args = vec!["approve".into(), "--keystore".into(), keystore.display().to_string()];
    approve_args.extend(withdrawal.iter().cloned());
    let approval = run_igra(approve_args).await;
    let mut event_args = vec!["event".into(), "--approval".into(), approval.trim().to_owned()];
    event_args.extend(withdrawal);
    for api in apis {
        event_args.extend(["--api".into(), api.clone()]);
    }
    let taken = run_igra(event_args).await;
    let payment = Payment { destination: destination.clone(), amount: amount(k) };
    let id = event_id(EventSource { kind: SourceKind::Operators, id: 0 }, &external_id, &payment);
    let approved: serde_json::Value = serde_json::from_str(&approval).expect("an approval");
    assert_eq!(approved["event_id"].as_str(), Some(id.to_string().as_str()), "igra approve: {approval}");
    assert_eq!(taken.matches(&format!("took event {id}")).count(), apis.len(), "igra event: {taken}");
    (id, destination)
}

/// Runs `igra` off the runtime's threads; its standard output, after checking it succeeded.
async fn run_igra(args: Vec<String>) -> String {
    let out = tokio::task::spawn_blocking(move || igra().args(&args).output().expect("igra runs"))
        .await
        .expect("the command ran");
    assert!(out.status.success(), "igra: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn amount(k: u8) -> u64 {
    (u64::from(k) + 1) * SOMPI_PER_KASPA
}

fn address(spk: &ScriptPublicKey) -> String {
    address_for_script(spk, Prefix::Simnet).expect("a standard script").encode()
}

/// Mines a block every `1 / BLOCKS_PER_SECOND` s until `keep` turns false.
fn keep_mining(rpc: KaspadRpc, keep: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let miner = Miner::new(rpc);
        while keep.load(Ordering::Relaxed) {
            miner.mine(1).await.expect("a block mined");
            tokio::time::sleep(Duration::from_millis(1_000 / BLOCKS_PER_SECOND)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn igra_run_members_pay_events_through_a_real_kaspad() {
    let Some((node, rpc, miner)) = Kaspad::simnet("kaspad run", COINBASE_MATURITY + 20).await else {
        return;
    };
    let clock = Clock::new();

    // The operator's side: keys from `igra keygen`, one node file per member.
    let dir = tempfile::tempdir().unwrap();
    let seats: Vec<Seat> =
        (0..MEMBERS).map(|i| Seat::keygen(dir.path().join(format!("member-{i}")))).collect();
    // The operator who approves the events: a keystore from `igra keygen` like a member's, whose
    // identity key goes into `[attestation.operators]`.
    let operator = Seat::keygen(dir.path().join("operator"));
    let (operator_key, operator_keystore) = (&operator.identity, operator.dir.join("member.key"));
    let mut configs: Vec<NodeConfig> = Vec::new();
    for (i, seat) in seats.iter().enumerate() {
        std::fs::write(seat.config(), node_file(&seats, i, &node.url, operator_key)).unwrap();
        let file = NodeFile::load(&seat.config()).expect("a valid node file");
        configs.push(file.node_config().expect("a valid node configuration"));
    }
    let group = configs[0].group.clone();
    assert!(configs.iter().all(|c| c.group.id() == group.id()), "every file describes one group");

    // Fund the group's P2SH address and let the funding reach the template policy's input depth.
    let script = MultisigScript::for_group(&group).expect("the group's script");
    let group_spk = script.script_public_key();
    let group_address = address(&group_spk);
    miner.fund(&group_spk, &[FUNDING_KAS * SOMPI_PER_KASPA; FUNDING_OUTPUTS]).await;
    miner.mine(MIN_INPUT_DEPTH + 20).await.expect("mined");
    let funding = rpc.utxos_by_addresses(std::slice::from_ref(&group_address)).await.unwrap();
    let funded: u64 = funding.iter().map(|r| r.utxo.entry.amount).sum();
    assert_eq!(funded, FUNDING_KAS * SOMPI_PER_KASPA * FUNDING_OUTPUTS as u64, "the group holds its funding");
    let anchor = rpc.sink().await.expect("the sink");

    let mining = Arc::new(AtomicBool::new(true));
    let miner_task = keep_mining(rpc.clone(), Arc::clone(&mining));
    let started = clock.now();
    let members: Vec<Running> =
        seats.iter().map(|seat| Running::start(&seat.config(), seat.dir.join("igra.log"))).collect();
    let apis: Vec<ApiClient> = seats.iter().map(Seat::api).collect();

    // Ready: storage, kaspad connected and synced (with its UTXO index), a peer for a quorum.
    let mut waited = 0;
    for api in &apis {
        loop {
            let ready = blocking(api, ApiClient::ready).await;
            if matches!(&ready, Ok(r) if r.ready) {
                break;
            }
            waited += 1;
            assert!(waited < 300, "members not ready within 30 s ({ready:?}):\n{}", tails(&members));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let ready_ms = clock.now().millis_since(started);
    // The address to fund is in each member's log (RUST_LOG=info), the same one igra-proto derives.
    for member in &members {
        let log = member.log();
        let session = log.lines().find(|l| l.contains("kaspad session ready")).unwrap_or_default();
        assert!(session.contains(&group_address), "no `kaspad session ready` naming {group_address}:\n{log}");
    }

    // Every event through every member's API, approved and submitted with `igra approve` and
    // `igra event`.
    let urls: Vec<String> = seats.iter().map(|s| format!("http://127.0.0.1:{}", s.api_port)).collect();
    let mut events: BTreeMap<EventId, (u8, ScriptPublicKey)> = BTreeMap::new();
    for k in 0..EVENTS {
        let (id, destination) = submit_by_hand(&seats[0].config(), &operator_keystore, &urls, k).await;
        events.insert(id, (k, destination));
    }

    // Every member sees every event confirmed, all naming the same transaction.
    let mut paid_by: BTreeMap<EventId, TransactionId> = BTreeMap::new();
    for _ in 0..240 {
        paid_by.clear();
        for id in events.keys() {
            let (mut seen, mut confirmed) = (BTreeSet::new(), 0);
            for api in &apis {
                let id = *id;
                match blocking(api, move |api| api.status(&id)).await {
                    Ok(Some(EventView {
                        phase: StateFilter::Confirmed, transaction_id: Some(tx), ..
                    })) => {
                        seen.insert(tx);
                        confirmed += 1;
                    }
                    Ok(Some(EventView { phase: StateFilter::Abandoned, .. })) => {
                        panic!("event {id} abandoned:\n{}", tails(&members))
                    }
                    Ok(_) => {}
                    Err(e) => panic!("status of {id}: {e}\n{}", tails(&members)),
                }
            }
            assert!(seen.len() <= 1, "members name different payments for {id}: {seen:?}");
            if let (Some(tx), MEMBERS) = (seen.first(), confirmed) {
                paid_by.insert(*id, *tx);
            }
        }
        if paid_by.len() == events.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(paid_by.len(), events.len(), "not every event confirmed within 60 s:\n{}", tails(&members));
    mining.store(false, Ordering::Relaxed);
    miner_task.await.expect("the miner ran");
    let elapsed = clock.now().millis_since(started);

    // On kaspad: each destination holds exactly its amount, once, paid by the transaction the API named.
    let mut paid = 0u64;
    for (id, (k, destination)) in &events {
        let outputs = rpc.utxos_by_addresses(&[address(destination)]).await.unwrap();
        assert_eq!(outputs.len(), 1, "event {k} paid once: {outputs:?}");
        assert_eq!(outputs[0].utxo.entry.amount, amount(*k), "event {k} paid exactly");
        assert_eq!(outputs[0].utxo.outpoint.transaction_id, paid_by[id], "event {k} paid by the named tx");
        paid += amount(*k);
    }
    let left: u64 =
        rpc.utxos_by_addresses(&[group_address]).await.unwrap().iter().map(|r| r.utxo.entry.amount).sum();
    let fees = funded - paid - left;

    // Every payment is on the selected chain, pays at least the relay minimum for its mass, and the fees
    // are all the group lost.
    let payments: HashSet<TransactionId> = paid_by.values().copied().collect();
    let found = accepted_transactions(&rpc, anchor, &payments).await;
    assert_eq!(found.len(), payments.len(), "every payment found on the selected chain");
    let outputs = spendable_entries(&funding, &found);
    let mut summed = 0u64;
    let mut chained = 0;
    for (id, tx) in &found {
        chained +=
            usize::from(tx.inputs.iter().any(|i| payments.contains(&i.previous_outpoint.transaction_id)));
        let entries: Vec<UtxoEntry> =
            tx.inputs.iter().map(|i| outputs[&i.previous_outpoint].clone()).collect();
        let fee =
            entries.iter().map(|e| e.amount).sum::<u64>() - tx.outputs.iter().map(|o| o.value).sum::<u64>();
        let minimum = MassReport::of(tx, &entries).expect("no zero-value output").minimum_fee();
        assert!(fee >= minimum, "payment {id}: fee {fee} under the relay minimum {minimum}");
        summed += fee;
    }
    assert_eq!(summed, fees, "the payments' fees are all the group lost");
    assert!(chained >= usize::from(EVENTS) - FUNDING_OUTPUTS, "{chained} payments spent earlier change");

    for member in members {
        member.stop().await;
    }
    eprintln!(
        "kaspad run: {EVENTS} events through {MEMBERS} `igra run` members ({THRESHOLD}-of-{MEMBERS}) paid once \
         each by {} transactions ({chained} spending earlier change) in {:?} (ready after {:?}); {paid} sompi \
         paid, {fees} sompi fees, {left} sompi left to the group",
        payments.len(),
        Duration::from_millis(elapsed),
        Duration::from_millis(ready_ms),
    );
}

/// `docs/examples/node-kaspad-simnet.toml` is member 0's file as [`node_file`] writes it (keys, ports
/// and paths taken from the example), so the documented file is the one this test runs.
#[test]
fn the_simnet_example_is_the_node_file_this_test_writes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/node-kaspad-simnet.toml");
    let example = NodeFile::load(&path).expect("the example is a valid node file");
    let port =
        |address: &str| address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).expect("a port");
    let root = example.node.data_dir.parent().and_then(Path::parent).expect("data_dir is <root>/member-0/db");
    let api_port = port(&example.api.as_ref().expect("an [api] section").listen);
    let seats: Vec<Seat> = (0u16..)
        .zip(&example.group.members)
        .map(|(i, m)| Seat {
            dir: root.join(format!("member-{i}")),
            identity: m.identity.clone(),
            signing: m.signing.clone(),
            peer_port: port(&m.address),
            api_port: api_port + i,
        })
        .collect();
    assert_eq!(seats.len(), usize::from(MEMBERS));
    let operator_key = &example.attestation.operators.as_ref().expect("operators").keys[0];
    let written = NodeFile::from_str(&node_file(&seats, 0, &example.kaspad.url, operator_key))
        .expect("the test's node file is valid");
    assert_eq!(format!("{written:#?}"), format!("{example:#?}"));
}
