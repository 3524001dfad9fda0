//! The `igra` command line. Subcommands:
//!
//! - `igra devnet`: a whole group (3-of-5 by default) in this process against an in-process chain,
//!   submitting a stream of attested events and printing their progress and a summary.
//! - `igra keygen --keystore PATH`: creates a member's 24-word mnemonic from OS randomness, encrypts it
//!   into a new keystore under the passphrase in `IGRA_KEYSTORE_PASSPHRASE`, and prints the member's
//!   public keys as a `[[group.members]]` entry for the node file.
//! - `igra group --config F`: prints the group a node file describes: its id, shape, network, the
//!   multisig address to fund, the redeem script and the members.
//! - `igra approve` / `igra event`: an operator's approval of a withdrawal, and the operator event made
//!   of `k` approvals, checked as the members check it and optionally submitted to their APIs.

use std::fmt::Write as _;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use igra_adapters::api::client::ApiClient;
use igra_adapters::api::{ApiConfig, RateConfig, StateFilter, view::parse_id32};
use igra_adapters::config::NodeFile;
use igra_adapters::devnet::{self, DevnetConfig};
use igra_adapters::kaspad::{KaspadClient, KaspadConfig};
use igra_adapters::keystore::{KdfParams, Keystore};
use igra_adapters::member::{Member, MemberSpec, SharedSigner};
use igra_adapters::operator::{ApprovalView, Withdrawal};
use igra_adapters::runner::Clock;
use igra_adapters::runner::{Smol, Tokio};
use igra_adapters::storage::LmdbOptions;
use igra_proto::kaspa::address::{Address, Prefix};
use igra_proto::kaspa::script::{MultisigScript, address_for_script};
use igra_proto::node::NodeConfig;
use igra_proto::{EventId, MemberIndex, Signer};
use zeroize::Zeroizing;

/// The environment variable holding the keystore's file passphrase.
const PASSPHRASE_ENV: &str = "IGRA_KEYSTORE_PASSPHRASE";

/// Igra: leaderless threshold signing for UTXO chains.
#[derive(Debug, Parser)]
#[command(name = "igra", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole signer group in this process against an in-process chain, submit attested events
    /// and show their progress.
    Devnet(DevnetArgs),
    /// Run this member: the node file names its keys, database, peers, Kaspa node and API; the
    /// keystore passphrase is read from `IGRA_KEYSTORE_PASSPHRASE`. Stops on Ctrl-C or SIGTERM.
    Run {
        /// The node file (TOML; see docs/operations.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Ask a running node's HTTP API: health, readiness, and one event's audit trail or a page of
    /// events.
    Status(StatusArgs),
    /// Re-encrypt a keystore under a new passphrase (atomically: the old file stays until the new one
    /// is complete): the current passphrase from `IGRA_KEYSTORE_PASSPHRASE`, the new one from
    /// `IGRA_KEYSTORE_NEW_PASSPHRASE`.
    Rekey {
        /// The keystore to re-encrypt.
        #[arg(long)]
        keystore: PathBuf,
    },
    /// Print the group a node file describes: its id, shape, network, the multisig address the bridge
    /// funds (P2SH of the redeem script), the redeem script and each member's keys. Reads no keystore.
    Group {
        /// The node file (TOML; see docs/operations.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Create a member's keys in a new encrypted keystore and print the member's public part for the
    /// group file; the file passphrase is read from `IGRA_KEYSTORE_PASSPHRASE`.
    Keygen {
        /// Where to write the keystore (refuses to overwrite).
        #[arg(long)]
        keystore: PathBuf,
    },
    /// As an operator, approve a withdrawal for the group: prints the approval as one line of JSON.
    /// The key is the identity key of the keystore (made by `igra keygen`; its passphrase from
    /// `IGRA_KEYSTORE_PASSPHRASE`), which must be among the group's `[attestation.operators] keys`.
    Approve {
        #[command(flatten)]
        withdrawal: WithdrawalArgs,
        /// The operator's keystore.
        #[arg(long)]
        keystore: PathBuf,
    },
    /// Make the operator event of a withdrawal from its approvals, checked as every member will check
    /// it; print it as the body of `POST /v1/events`, or submit it to each `--api`.
    Event {
        #[command(flatten)]
        withdrawal: WithdrawalArgs,
        /// An approval as `igra approve` printed it (JSON); once per operator.
        #[arg(long = "approval", required = true)]
        approvals: Vec<String>,
        /// Submit the event to this member's API (repeat for each member) instead of printing it; the
        /// bearer token, if the nodes need one, from `IGRA_API_TOKEN`.
        #[arg(long)]
        api: Vec<String>,
    },
}

/// A withdrawal as the operators describe it.
#[derive(Debug, clap::Args)]
struct WithdrawalArgs {
    /// A member's node file (any member's: the group and its operators are the same in each).
    #[arg(long)]
    config: PathBuf,
    /// The request's id at its source, 64 hex characters: the same request always has the same id, so
    /// it is paid at most once.
    #[arg(long)]
    external_id: String,
    /// The payee's Kaspa address, on the group's network.
    #[arg(long)]
    to: String,
    /// The amount in sompi.
    #[arg(long)]
    amount: u64,
}

impl WithdrawalArgs {
    /// The withdrawal and the node configuration of the group.
    fn read(&self) -> Result<(Withdrawal, NodeConfig), String> {
        let file = NodeFile::load(&self.config).map_err(|e| format!("{}: {e}", self.config.display()))?;
        let config = file.node_config().map_err(|e| format!("{}: {e}", self.config.display()))?;
        let external_id = parse_id32(&self.external_id).ok_or("--external-id is 64 hex characters")?;
        let to = Address::decode(&self.to).map_err(|e| format!("--to {}: {e}", self.to))?;
        Ok((Withdrawal { external_id, to, amount: self.amount }, config))
    }
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The node's API address.
    #[arg(long, default_value = "http://127.0.0.1:7200")]
    api: String,
    /// Show this event's status and audit trail (64 hex characters).
    event: Option<String>,
    /// List events in this state (voting, signing, submitted, confirmed, abandoned).
    #[arg(long)]
    state: Option<String>,
    /// Events per page when listing.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// The environment variable holding the API's bearer token, if the node requires one.
const TOKEN_ENV: &str = "IGRA_API_TOKEN";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RuntimeChoice {
    Tokio,
    Smol,
}

#[derive(Debug, clap::Args)]
struct DevnetArgs {
    /// Members of the group.
    #[arg(long, default_value_t = 5)]
    members: u8,
    /// Signatures needed (2 x threshold must exceed members).
    #[arg(long, default_value_t = 3)]
    threshold: u8,
    /// Events to submit.
    #[arg(long, default_value_t = 200)]
    events: u32,
    /// Events submitted per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// UTXOs of 100 KAS the group starts with.
    #[arg(long, default_value_t = 1_000)]
    pool: u32,
    /// Seed of every key and choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Confirmation depth in DAA score (the devnet chain makes 10 per second).
    #[arg(long, default_value_t = 10)]
    confirm_depth: u64,
    /// Depth in DAA score at which a conflicting spend kills a signed template.
    #[arg(long, default_value_t = 50)]
    finality_depth: u64,
    /// Seconds to wait for confirmations after the last submission.
    #[arg(long, default_value_t = 60)]
    drain_timeout: u64,
    /// Run the members in one process without sockets or databases (the protocol's own cost).
    #[arg(long)]
    in_process: bool,
    /// The async runtime under the runners.
    #[arg(long, value_enum, default_value_t = RuntimeChoice::Tokio)]
    runtime: RuntimeChoice,
    /// Append the run's figures as one CSV row to this file (a header first if it is new): members,
    /// threshold, pool, offered rate, events, sustained events/s, finalized p50/p99 and confirmed p50
    /// in ms, bytes sent per event, peak RSS in MiB, double-spend refusals.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write one CSV row per progress line to this file: seconds, submitted, confirmed, RSS in MiB.
    #[arg(long)]
    progress_csv: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Devnet(args) => run_devnet(&args),
        Command::Keygen { keystore } => keygen(&keystore),
        Command::Status(args) => status(&args),
        Command::Run { config } => run(&config),
        Command::Rekey { keystore } => rekey(&keystore),
        Command::Group { config } => group(&config),
        Command::Approve { withdrawal, keystore } => approve(&withdrawal, &keystore),
        Command::Event { withdrawal, approvals, api } => event(&withdrawal, &approvals, &api),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("igra: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `igra devnet`.
fn run_devnet(args: &DevnetArgs) -> Result<(), String> {
    let config = DevnetConfig {
        members: args.members,
        threshold: args.threshold,
        events: args.events,
        rate: args.rate,
        pool: args.pool,
        seed: args.seed,
        confirm_depth: args.confirm_depth,
        finality_depth: args.finality_depth,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        wiring: if args.in_process { devnet::Wiring::InProcess } else { devnet::Wiring::Loopback },
    };
    println!(
        "igra devnet: {}-of-{} group, {} events at {}/s, {} pool outputs, seed {}, {:?} runtime, {}",
        config.threshold,
        config.members,
        config.events,
        config.rate,
        config.pool,
        config.seed,
        args.runtime,
        match config.wiring {
            devnet::Wiring::Loopback =>
                "TCP on loopback, LMDB in a temporary directory, events through the HTTP API",
            devnet::Wiring::InProcess => "in process (no sockets, nothing persisted)",
        }
    );
    let mut progress_rows = String::from("seconds,submitted,confirmed,rss_mib\n");
    let progress = |p: &devnet::Progress| {
        println!("{p}");
        let rss = p.rss_kib.map_or(String::new(), |k| format!("{:.1}", devnet::mib(k)));
        let _ =
            writeln!(progress_rows, "{:.1},{},{},{rss}", p.elapsed.as_secs_f64(), p.submitted, p.confirmed);
    };
    let summary = match args.runtime {
        RuntimeChoice::Tokio => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?
            .block_on(devnet::run::<Tokio>(&config, progress)),
        RuntimeChoice::Smol => smol::block_on(devnet::run::<Smol>(&config, progress)),
    }
    .map_err(|e| e.to_string())?;
    println!("\n{summary}");
    if let Some(path) = &args.progress_csv {
        std::fs::write(path, &progress_rows).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &args.csv {
        append_summary_row(path, &config, &summary)?;
    }
    if summary.all_paid_once() { Ok(()) } else { Err("not every event was paid exactly once".into()) }
}

/// Appends `summary` as one CSV row to `path`, with a header first if the file is new or empty.
fn append_summary_row(
    path: &std::path::Path,
    config: &DevnetConfig,
    summary: &devnet::Summary,
) -> Result<(), String> {
    use std::io::Write as _;
    let ms = |d: Option<(Duration, Duration, Duration)>,
              pick: fn((Duration, Duration, Duration)) -> Duration| {
        d.map_or(String::new(), |t| format!("{:.1}", pick(t).as_secs_f64() * 1e3))
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut row = String::new();
    if file.metadata().map_or(true, |m| m.len() == 0) {
        row.push_str(
            "members,threshold,pool,offered_rate,events,sustained_eps,finalized_p50_ms,finalized_p99_ms,\
             confirmed_p50_ms,bytes_per_event,rss_mb,double_spend_refusals\n",
        );
    }
    let _ = writeln!(
        row,
        "{},{},{},{},{},{:.1},{},{},{},{},{},{}",
        config.members,
        config.threshold,
        config.pool,
        config.rate,
        config.events,
        summary.events_per_second,
        ms(summary.finalize, |t| t.0),
        ms(summary.finalize, |t| t.1),
        ms(summary.confirm, |t| t.0),
        summary.bytes_per_event.map_or(String::new(), |b| b.to_string()),
        summary.peak_rss_kib.map_or(String::new(), |k| format!("{:.1}", devnet::mib(k))),
        summary.double_spend_refusals
    );
    file.write_all(row.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// `igra group --config F`.
fn group(path: &std::path::Path) -> Result<(), String> {
    let file = NodeFile::load(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = file.node_config().map_err(|e| format!("{}: {e}", path.display()))?;
    let group = &config.group;
    let script = MultisigScript::for_group(group).map_err(|e| format!("group script: {e}"))?;
    let network = group.config().network;
    let address = address_for_script(&script.script_public_key(), Prefix::from(network))
        .ok_or("the group's script has no address")?;
    println!("group     {}", group.id());
    println!("shape     {}-of-{} on {network:?}", group.threshold(), group.size());
    println!("address   {}", address.encode());
    println!("script    {}", hex::encode(script.script()));
    for (i, member) in (0u8..).zip(group.members()) {
        let me = if MemberIndex(i) == config.me { "  (this node)" } else { "" };
        println!(
            "member {i:<2} identity {} signing {}{me}",
            hex::encode(member.identity.0),
            hex::encode(member.signing.0)
        );
    }
    Ok(())
}

/// `igra run --config F`.
fn run(path: &std::path::Path) -> Result<(), String> {
    let file = NodeFile::load(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = file.node_config().map_err(|e| format!("{}: {e}", path.display()))?;
    let passphrase = Zeroizing::new(
        std::env::var(PASSPHRASE_ENV)
            .map_err(|_| format!("set {PASSPHRASE_ENV} to the keystore's passphrase"))?,
    );
    let signer = Keystore::open(&file.node.keystore, &passphrase)
        .and_then(|secrets| secrets.signer())
        .map_err(|e| format!("{}: {e}", file.node.keystore.display()))?;
    let resolve = |field: String, address: &str| {
        address
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("{field}: `{address}` does not resolve"))
    };
    let me = config.me;
    let listen = resolve("node.listen".into(), &file.node.listen)?;
    let mut peers = Vec::new();
    for (j, member) in (0u8..).zip(&file.group.members) {
        if MemberIndex(j) != me {
            peers.push((MemberIndex(j), resolve(format!("group.members[{j}].address"), &member.address)?));
        }
    }
    let api = match &file.api {
        Some(section) => Some((
            resolve("api.listen".into(), &section.listen)?,
            ApiConfig {
                token: std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
                rate: RateConfig { per_second: section.rate_per_second, burst: section.rate_burst },
                ..ApiConfig::default()
            },
        )),
        None => None,
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("OS randomness: {e}"))?;
    let script = MultisigScript::for_group(&config.group).map_err(|e| format!("group script: {e}"))?;
    let network = config.group.config().network;
    let spec = MemberSpec {
        config,
        signer: SharedSigner(Arc::new(signer)),
        seed,
        data_dir: file.node.data_dir.clone(),
        lmdb: LmdbOptions::default(),
        listen,
        peers,
        api,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        // Handlers first: a SIGTERM that arrives as soon as the member says it runs must stop it
        // cleanly, not kill it.
        let handler = |kind| tokio::signal::unix::signal(kind).map_err(|e| format!("signal handler: {e}"));
        let mut terminate = handler(tokio::signal::unix::SignalKind::terminate())?;
        let mut interrupt = handler(tokio::signal::unix::SignalKind::interrupt())?;
        let (chain, news) =
            KaspadClient::start(KaspadConfig::new(file.kaspad.url.clone(), network, script.script_public_key()))
                .map_err(|e| format!("kaspad client: {e}"))?;
        let member = Member::start::<Tokio>(spec, Arc::new(chain), news, Clock::new())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            member = me.0,
            boot_epoch = member.boot_epoch,
            restored_records = member.restored_records,
            api = ?member.api_addr,
            kaspad = %file.kaspad.url,
            "igra member running"
        );
        eprintln!(
            "igra: member {} running (boot epoch {}, {} records restored){}",
            me.0,
            member.boot_epoch,
            member.restored_records,
            member.api_addr.map(|a| format!(", API on http://{a}")).unwrap_or_default()
        );
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            result = member.stopped() => {
                return Err(format!("the member stopped: {}", result.err().map_or_else(|| "shutdown".into(), |e| e.to_string())));
            }
        }
        eprintln!("igra: stopping");
        member.stop().await.map_err(|e| e.to_string())
    })
}

/// The environment variable holding the new passphrase for `igra rekey`.
const NEW_PASSPHRASE_ENV: &str = "IGRA_KEYSTORE_NEW_PASSPHRASE";

/// `igra rekey --keystore PATH`.
fn rekey(path: &std::path::Path) -> Result<(), String> {
    let read = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new)
            .ok_or_else(|| format!("set {name}"))
    };
    let (old, new) = (read(PASSPHRASE_ENV)?, read(NEW_PASSPHRASE_ENV)?);
    Keystore::rotate(path, &old, &new).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("igra: {} now opens with the new passphrase", path.display());
    Ok(())
}

/// `igra status`.
fn status(args: &StatusArgs) -> Result<(), String> {
    let client = ApiClient::new(&args.api, std::env::var(TOKEN_ENV).ok());
    client.health().map_err(|e| format!("{}: {e}", args.api))?;
    let ready = client.ready().map_err(|e| e.to_string())?;
    println!("node {}: healthy, {}", args.api, if ready.ready { "ready" } else { "NOT ready" });
    show(&ready)?;
    if let Some(event) = &args.event {
        let id = parse_id32(event).map(EventId).ok_or("an event id is 64 hex characters")?;
        match client.status(&id).map_err(|e| e.to_string())? {
            Some(view) => show(&view)?,
            None => return Err(format!("the node does not know event {event}")),
        }
    } else {
        let state = match args.state.as_deref() {
            None => None,
            Some(s) => Some(s.parse::<StateFilter>().map_err(|_| format!("unknown state `{s}`"))?),
        };
        show(&client.list(state, None, Some(args.limit)).map_err(|e| e.to_string())?)?;
    }
    Ok(())
}

/// Prints an API answer as indented JSON.
fn show<T: serde::Serialize>(value: &T) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(())
}

/// `igra approve`.
fn approve(args: &WithdrawalArgs, keystore: &std::path::Path) -> Result<(), String> {
    let (withdrawal, config) = args.read()?;
    let passphrase = Zeroizing::new(
        std::env::var(PASSPHRASE_ENV)
            .map_err(|_| format!("set {PASSPHRASE_ENV} to the keystore's passphrase"))?,
    );
    let signer = Keystore::open(keystore, &passphrase)
        .and_then(|secrets| secrets.signer())
        .map_err(|e| format!("{}: {e}", keystore.display()))?;
    let approval = withdrawal.approve(&config, &signer).map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string(&approval).map_err(|e| e.to_string())?);
    Ok(())
}

/// `igra event`.
fn event(args: &WithdrawalArgs, approvals: &[String], apis: &[String]) -> Result<(), String> {
    let (withdrawal, config) = args.read()?;
    let approvals = approvals
        .iter()
        .map(|a| ApprovalView::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let event = withdrawal.event(&config, &approvals).map_err(|e| e.to_string())?;
    let id = event.id();
    if apis.is_empty() {
        let encoded = event.encode().map_err(|e| e.to_string())?;
        println!("{}", serde_json::json!({ "event": hex::encode(encoded.as_slice()) }));
        eprintln!("igra: event {id}");
        return Ok(());
    }
    let token = std::env::var(TOKEN_ENV).ok();
    let mut refused = 0;
    for api in apis {
        match ApiClient::new(api, token.clone()).submit(&event) {
            Ok(answered) if answered == id => println!("{api}: took event {id}"),
            Ok(other) => {
                refused += 1;
                eprintln!("igra: {api}: answered event id {other}, expected {id}");
            }
            Err(e) => {
                refused += 1;
                eprintln!("igra: {api}: {e}");
            }
        }
    }
    if refused > 0 {
        return Err(format!("{refused} of {} nodes did not take event {id}", apis.len()));
    }
    Ok(())
}

/// `igra keygen --keystore PATH`.
fn keygen(path: &std::path::Path) -> Result<(), String> {
    let passphrase = Zeroizing::new(
        std::env::var(PASSPHRASE_ENV)
            .map_err(|_| format!("set {PASSPHRASE_ENV} to the passphrase that will encrypt the keystore"))?,
    );
    if passphrase.is_empty() {
        return Err(format!("{PASSPHRASE_ENV} is empty; the keystore needs a passphrase"));
    }
    // 32 bytes of entropy: a 24-word mnemonic.
    let mut entropy = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *entropy).map_err(|e| format!("OS randomness: {e}"))?;
    let mnemonic = bip39::Mnemonic::from_entropy(&*entropy).map_err(|e| format!("mnemonic: {e}"))?;
    let phrase = Zeroizing::new(mnemonic.to_string());
    drop(mnemonic);
    Keystore::create(path, &phrase, "", &passphrase, KdfParams::default()).map_err(|e| e.to_string())?;
    let signer = Keystore::open(path, &passphrase)
        .and_then(|secrets| secrets.signer())
        .map_err(|e| format!("reading back the new keystore: {e}"))?;
    eprintln!("igra: wrote {}; back it up and keep the passphrase apart from it", path.display());
    println!(
        "# Member keys generated by `igra keygen`; add this entry to [group] in every member's node file."
    );
    println!("[[group.members]]");
    println!("identity = \"{}\"", hex::encode(signer.identity_public_key().0));
    println!("signing = \"{}\"", hex::encode(signer.signing_public_key().0));
    println!("address = \"HOST:PORT\" # where the other members reach this one");
    Ok(())
}
