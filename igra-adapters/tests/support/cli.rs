//! The `igra` binary as the command-line tests run it (included by path: not every test that uses
//! `support` runs the binary).

use std::process::Command;

/// The keystore passphrase the command-line tests use.
const PASSPHRASE: &str = "correct horse battery staple";

/// `igra` with the tests' keystore passphrase and no API token from the environment.
pub(crate) fn igra() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_igra"));
    cmd.env("IGRA_KEYSTORE_PASSPHRASE", PASSPHRASE).env_remove("IGRA_API_TOKEN");
    cmd
}

/// A loopback port free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
