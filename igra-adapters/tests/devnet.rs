//! A whole group of runners in one process against the devnet chain, under both runtimes: every event
//! is confirmed and paid exactly once.

use std::time::Duration;

use igra_adapters::devnet::{self, DevnetConfig};
use igra_adapters::runner::{Smol, Tokio};

fn config(seed: u64) -> DevnetConfig {
    DevnetConfig {
        members: 5,
        threshold: 3,
        events: 30,
        rate: 200.0,
        pool: 200,
        seed,
        confirm_depth: 5,
        finality_depth: 20,
        drain_timeout: Duration::from_mins(1),
        wiring: devnet::Wiring::InProcess,
    }
}

fn check(summary: &devnet::Summary, events: u64) {
    assert_eq!(summary.progress.submitted, events, "{summary}");
    assert_eq!(summary.progress.confirmed, events, "{summary}");
    assert_eq!(summary.progress.refused, 0, "{summary}");
    assert!(summary.all_paid_once(), "{summary}");
    assert_eq!(summary.paid_once, events, "{summary}");
    assert!(summary.transactions >= events, "{summary}");
    assert!(summary.fees > 0, "{summary}");
}

#[test]
fn a_group_under_tokio_pays_every_event_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let summary = runtime.block_on(devnet::run::<Tokio>(&config(7), |_| {})).unwrap();
    check(&summary, 30);
}

#[test]
fn a_group_under_smol_pays_every_event_once() {
    let summary = smol::block_on(devnet::run::<Smol>(&config(8), |_| {})).unwrap();
    check(&summary, 30);
}

#[test]
fn an_invalid_group_is_refused_with_a_reason() {
    let bad = DevnetConfig { members: 4, threshold: 2, ..config(1) };
    let error = smol::block_on(devnet::run::<Smol>(&bad, |_| {})).unwrap_err();
    assert!(matches!(error, devnet::DevnetError::Group(_)), "{error}");
}

/// Real members on loopback: the summary counts the bytes every member put on its connections (each
/// broadcast once per peer), and the process's memory.
#[test]
fn a_loopback_group_reports_traffic_and_memory() {
    let loopback = DevnetConfig { events: 10, rate: 50.0, wiring: devnet::Wiring::Loopback, ..config(9) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let summary = runtime.block_on(devnet::run::<Tokio>(&loopback, |_| {})).unwrap();
    check(&summary, 10);
    // Per event, each of the 5 members sends its vote to 4 peers, and a vote carries its template.
    let bytes = summary.bytes_per_event.expect("loopback members count their traffic");
    assert!(bytes >= 20 * 300, "{bytes} bytes per event is less than the votes alone");
    if cfg!(target_os = "linux") {
        assert!(summary.peak_rss_kib.is_some_and(|k| k > 1_024), "{summary}");
    }
    let in_process = runtime.block_on(devnet::run::<Tokio>(&config(10), |_| {})).unwrap();
    assert_eq!(in_process.bytes_per_event, None, "nothing goes over a socket in process");
}
