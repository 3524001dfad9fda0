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

/// A 1-of-1 group's node file for the member `igra keygen` created at `keystore`.
fn node_file(dir: &Path, member_entry: &str, api_port: u16) -> String {
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
keys = ["228c81ffb819fd26b8f5369f3e84e60db70b7cddfda0ae5d88e2b4b62c6c02f2"]
threshold = 1

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
    std::fs::write(&config, node_file(dir.path(), &String::from_utf8(keygen.stdout).unwrap(), api_port))
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
    let text = node_file(dir.path(), "[[group.members]]\nidentity = \"00\"\nsigning = \"00\"\n", free_port());
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
    std::fs::write(&config, node_file(dir.path(), &String::from_utf8(keygen.stdout).unwrap(), free_port()))
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
