//! `igra keygen` end to end, through the built binary.

use std::process::Command;

use igra_adapters::keystore::Keystore;
use igra_proto::Signer;

fn igra() -> Command {
    Command::new(env!("CARGO_BIN_EXE_igra"))
}

/// The value of `key = "..."` in the printed snippet.
fn field<'a>(snippet: &'a str, key: &str) -> &'a str {
    let line = snippet.lines().find(|l| l.starts_with(&format!("{key} = "))).expect(key);
    line.split('"').nth(1).expect("quoted value")
}

#[test]
fn keygen_writes_a_keystore_and_prints_its_public_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("member.key");
    let out = igra()
        .args(["keygen", "--keystore"])
        .arg(&path)
        .env("IGRA_KEYSTORE_PASSPHRASE", "correct horse")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let snippet = String::from_utf8(out.stdout).unwrap();
    assert!(snippet.contains("[[group.members]]"));

    let secrets = Keystore::open(&path, "correct horse").unwrap();
    assert_eq!(secrets.mnemonic().split_whitespace().count(), 24);
    let signer = secrets.signer().unwrap();
    assert_eq!(field(&snippet, "identity"), hex::encode(signer.identity_public_key().0));
    assert_eq!(field(&snippet, "signing"), hex::encode(signer.signing_public_key().0));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // A second run must not replace the keys.
    let again = igra()
        .args(["keygen", "--keystore"])
        .arg(&path)
        .env("IGRA_KEYSTORE_PASSPHRASE", "correct horse")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(Keystore::open(&path, "correct horse").unwrap().mnemonic(), secrets.mnemonic());
}

#[test]
fn keygen_refuses_a_missing_or_empty_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("member.key");
    for env in [None, Some("")] {
        let mut cmd = igra();
        cmd.args(["keygen", "--keystore"]).arg(&path).env_remove("IGRA_KEYSTORE_PASSPHRASE");
        if let Some(value) = env {
            cmd.env("IGRA_KEYSTORE_PASSPHRASE", value);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("IGRA_KEYSTORE_PASSPHRASE"));
        assert!(!path.exists());
    }
}

#[test]
fn help_lists_the_commands_and_unknown_commands_fail() {
    let help = igra().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for command in ["keygen", "devnet", "status"] {
        assert!(text.contains(command), "help does not list `{command}`:\n{text}");
    }
    // `status` against a node that is not there fails with the address in the message.
    let down = igra().args(["status", "--api", "http://127.0.0.1:9"]).output().unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("127.0.0.1:9"));
    let bad = igra().arg("frobnicate").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unrecognized subcommand"));
}

#[test]
fn rekey_changes_the_passphrase_and_refuses_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("member.key");
    let made = igra()
        .args(["keygen", "--keystore"])
        .arg(&path)
        .env("IGRA_KEYSTORE_PASSPHRASE", "old pass")
        .output()
        .unwrap();
    assert!(made.status.success());
    let rekey = |current: &str| {
        igra()
            .args(["rekey", "--keystore"])
            .arg(&path)
            .env("IGRA_KEYSTORE_PASSPHRASE", current)
            .env("IGRA_KEYSTORE_NEW_PASSPHRASE", "new pass")
            .output()
            .unwrap()
    };
    let wrong = rekey("not the pass");
    assert!(!wrong.status.success());
    assert!(Keystore::open(&path, "old pass").is_ok(), "a refused rekey changed the file");
    assert!(rekey("old pass").status.success());
    assert!(Keystore::open(&path, "new pass").is_ok());
    assert!(Keystore::open(&path, "old pass").is_err());
}
