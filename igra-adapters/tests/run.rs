//! `igra run` as an operator runs it: `igra keygen` writes the keystore and prints the member entry,
//! the node file names the keystore, database, Kaspa node and API; the member starts, serves its API,
//! reports not-ready while its Kaspa node is away, stops cleanly on SIGTERM and restarts from its
//! database under a new boot epoch.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use igra_adapters::api::client::ApiClient;

#[path = "support/cli.rs"]
mod cli;

use cli::{free_port, igra};

/// The operator key of the tests that submit no event.
const OPERATOR: &str = "228c81ffb819fd26b8f5369f3e84e60db70b7cddfda0ae5d88e2b4b62c6c02f2";

/// A 1-of-1 group's node file for the member `igra keygen` created at `keystore`, accepting events
/// approved by `threshold` of `operators` (identity keys, hex).
fn node_file(dir: &Path, member_entry: &str, api_port: u16, operators: &[&str], threshold: u8) -> String {
    let peer_port = free_port();
    // The member entry ends with an `address = "HOST:PORT"` placeholder line; this member's is real.
    let entry: String = member_entry
        .lines()
        .filter(|l| !l.starts_with("address") && !l.starts_with('#'))
        .flat_map(|l| [l, "\n"])
        .collect();
    format!(
        r#"
[node]
member = 0
data_dir = "{data}"
keystore = "{keystore}"
listen = "127.0.0.1:{peer_port}"

[kaspad]
url = "ws://127.0.0.1:9"

[api]
listen = "127.0.0.1:{api_port}"

[group]
network = "simnet"
threshold = 1
policy_version = 1

{entry}address = "127.0.0.1:{peer_port}"

[attestation.operators]
keys = {operators:?}
threshold = {threshold}

[policy]
min_amount = 1
max_amount = 100000000000
window_ms = 86400000
"#,
        data = dir.join("db").display(),
        keystore = dir.join("member.key").display(),
    )
}

/// A running `igra run`, killed if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `igra run` and waits for its "running" line on standard error (log lines may come first).
fn start(config: &Path) -> (Running, String) {
    let mut child = igra().args(["run", "--config"]).arg(config).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .by_ref()
        .take(50)
        .map(Result::unwrap)
        .find(|l| l.contains(" running "))
        .expect("igra run never said it was running");
    // Keep draining standard error so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (running, line)
}

fn stop(mut running: Running) {
    let child = &mut running.0;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "igra run exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("igra run did not stop within 5 s of SIGTERM");
}

#[test]
fn a_member_runs_from_its_node_file_and_restarts_from_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = igra().args(["keygen", "--keystore"]).arg(dir.path().join("member.key")).output().unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let api_port = free_port();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        node_file(dir.path(), &String::from_utf8(keygen.stdout).unwrap(), api_port, &[OPERATOR], 1),
    )
    .unwrap();

    let (child, line) = start(&config);
    assert!(line.contains("member 0 running (boot epoch 1, 0 records restored)"), "{line}");
    let api = ApiClient::new(&format!("http://127.0.0.1:{api_port}"), None);
    api.health().unwrap();
    // No Kaspa node at ws://127.0.0.1:9: the member serves, but is not ready.
    let ready = api.ready().unwrap();
    assert!(!ready.ready && !ready.readiness.chain_connected && ready.readiness.storage_ok, "{ready:?}");
    stop(child);

    let (child, line) = start(&config);
    assert!(line.contains("(boot epoch 2,"), "{line}");
    stop(child);
}

#[test]
fn a_broken_node_file_names_the_field_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let text = node_file(
        dir.path(),
        "[[group.members]]\nidentity = \"00\"\nsigning = \"00\"\n",
        free_port(),
        &[OPERATOR],
        1,
    );
    std::fs::write(&config, text).unwrap();
    let out = igra().args(["run", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("group.members[0].identity"), "{stderr}");
    assert!(!dir.path().join("db").exists(), "a refused configuration must not create the database");
}

/// `igra group` prints what an operator needs to fund the group and check its members: the group id,
/// the shape, the multisig address (here computed independently from the same node file with the
/// library), the redeem script and each member's keys, marking this node's entry. It reads no keystore.
#[test]
fn igra_group_prints_the_address_to_fund_from_the_node_file() {
    use igra_proto::kaspa::address::Prefix;
    use igra_proto::kaspa::script::{MultisigScript, address_for_script};

    let dir = tempfile::tempdir().unwrap();
    let keygen = igra().args(["keygen", "--keystore"]).arg(dir.path().join("member.key")).output().unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        node_file(dir.path(), &String::from_utf8(keygen.stdout).unwrap(), free_port(), &[OPERATOR], 1),
    )
    .unwrap();
    // Nothing secret is read: the keystore may be gone.
    std::fs::remove_file(dir.path().join("member.key")).unwrap();

    let out = igra()
        .env_remove("IGRA_KEYSTORE_PASSPHRASE")
        .args(["group", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();

    let node = igra_adapters::config::NodeFile::load(&config).unwrap().node_config().unwrap();
    let script = MultisigScript::for_group(&node.group).unwrap();
    let address = address_for_script(&script.script_public_key(), Prefix::Simnet).unwrap().encode();
    assert!(address.starts_with("kaspasim:p"), "{address}");
    let member = &node.group.members()[0];
    let expected = format!(
        "group     {}\nshape     1-of-1 on Simnet\naddress   {address}\nscript    {}\nmember 0  identity {} signing {}  (this node)\n",
        node.group.id(),
        hex::encode(script.script()),
        hex::encode(member.identity.0),
        hex::encode(member.signing.0),
    );
    assert_eq!(text, expected);

    // A node file that does not parse is a clear error, not a panic.
    std::fs::write(&config, "[node]\nmember = \"zero\"\n").unwrap();
    let bad = igra().args(["group", "--config"]).arg(&config).output().unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("node.toml"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The `identity` line `igra keygen` printed.
fn identity(keygen_output: &str) -> String {
    let line = keygen_output.lines().find(|l| l.starts_with("identity = ")).expect("an identity line");
    line.trim_start_matches("identity = ").trim_matches('"').to_owned()
}

/// Runs `igra` with `args`, returning (success, stdout, stderr).
fn igra_out(args: &[&str]) -> (bool, String, String) {
    let out = igra().args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Operators approve a withdrawal by hand: two operator keystores from `igra keygen`, each operator's
/// `igra approve`, then `igra event` joins the approvals into the event the members check (decoded and
/// verified here with the library) or submits it to a member's API, which then knows it. Wrong keys, too few approvals and approvals of another
/// withdrawal are refused with the reason.
#[test]
fn operators_approve_a_withdrawal_and_igra_event_builds_and_submits_it() {
    use igra_proto::event::{Event, verify};
    use igra_proto::kaspa::address::Prefix;
    use igra_proto::kaspa::script::{address_for_script, pay_to_pubkey};
    use igra_proto::{LocalSigner, Signer};

    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (ok, member, err) = igra_out(&["keygen", "--keystore", &path("member.key")]);
    assert!(ok, "{err}");
    let operators: Vec<String> = ["op0.key", "op1.key"]
        .iter()
        .map(|name| {
            let (ok, out, err) = igra_out(&["keygen", "--keystore", &path(name)]);
            assert!(ok, "{err}");
            identity(&out)
        })
        .collect();
    let api_port = free_port();
    let config = path("node.toml");
    let keys: Vec<&str> = operators.iter().map(String::as_str).collect();
    std::fs::write(&config, node_file(dir.path(), &member, api_port, &keys, 2)).unwrap();

    let payee = LocalSigner::from_secrets([3; 32], [4; 32]).unwrap();
    let to =
        address_for_script(&pay_to_pubkey(&payee.signing_public_key()), Prefix::Simnet).unwrap().encode();
    let external_id = "ab".repeat(32);
    let withdrawal = |amount: &str| -> Vec<String> {
        ["--config", &config, "--external-id", &external_id, "--to", &to, "--amount", amount]
            .map(str::to_owned)
            .to_vec()
    };
    let approve = |keystore: &str, amount: &str| {
        let mut args = vec!["approve".to_owned(), "--keystore".to_owned(), path(keystore)];
        args.extend(withdrawal(amount));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        igra_out(&args)
    };
    let event = |approvals: &[&str], extra: &[&str]| {
        let mut args = vec!["event".to_owned()];
        args.extend(withdrawal("150000000"));
        for a in approvals {
            args.extend(["--approval".to_owned(), (*a).to_owned()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        igra_out(&args)
    };

    let (ok, a0, err) = approve("op0.key", "150000000");
    assert!(ok, "{err}");
    let (ok, a1, err) = approve("op1.key", "150000000");
    assert!(ok, "{err}");
    let approval: serde_json::Value = serde_json::from_str(&a1).unwrap();
    assert_eq!(approval["operator"], 1, "{a1}");

    let (ok, out, err) = event(&[&a1, &a0], &[]);
    assert!(ok, "{err}");
    let body: serde_json::Value = serde_json::from_str(&out).unwrap();
    let built = Event::decode(&hex::decode(body["event"].as_str().unwrap()).unwrap()).unwrap();
    let node = igra_adapters::config::NodeFile::load(Path::new(&config)).unwrap().node_config().unwrap();
    verify(&built, &node.attestation, node.group.id()).expect("the members accept the event");
    assert_eq!(built.id().to_string(), approval["event_id"].as_str().unwrap());
    assert_eq!(built.payment.amount, 150_000_000);
    assert_eq!(built.external_id, [0xab; 32]);
    assert!(err.contains(&built.id().to_string()), "{err}");

    // Refusals, each with its reason.
    let (ok, _, err) = approve("member.key", "150000000");
    assert!(!ok && err.contains("is not among the group's [attestation.operators] keys"), "{err}");
    let (ok, _, err) = event(&[&a0], &[]);
    assert!(!ok && err.contains("1 approvals, 2 needed"), "{err}");
    let (ok, other, _) = approve("op1.key", "150000001");
    assert!(ok);
    let (ok, _, err) = event(&[&a0, &other], &[]);
    assert!(!ok && err.contains("the approval of operator 1 is for event"), "{err}");
    let (ok, _, err) = event(&["{\"operator\": 0}"], &[]);
    assert!(!ok && err.contains("malformed approval"), "{err}");

    // Submitted to the member's API (taken while its Kaspa node is away: the event waits for UTXOs),
    // which then knows it.
    let (child, _) = start(Path::new(&config));
    let api = format!("http://127.0.0.1:{api_port}");
    let (ok, out, err) = event(&[&a0, &a1], &["--api", &api]);
    let known = ApiClient::new(&api, None).status(&built.id());
    // A node that is not there: reported, and the command fails.
    let gone = format!("http://127.0.0.1:{}", free_port());
    let (sent, _, refused) = event(&[&a0, &a1], &["--api", &gone]);
    stop(child);
    assert!(ok, "{err}");
    assert_eq!(out, format!("{api}: took event {}\n", built.id()));
    let view = known.unwrap().expect("the member knows the event");
    assert_eq!(view.event_id, built.id());
    assert!(
        !sent && refused.contains("cannot reach the API") && refused.contains("1 of 1 nodes"),
        "{refused}"
    );
}
