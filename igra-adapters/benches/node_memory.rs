//! Heap held by a group's nodes as they pay events: `cargo bench -p igra-adapters --bench node_memory`.
//!
//! A fault-free group ([`igra_sim::bench::Cluster`], the protocol benchmark's: every node's real `Node`,
//! instant delivery and storage, a chain that accepts at once and moves past the confirmation depth
//! after each event) pays events one after another; a counting allocator reports the live heap of the
//! process every `--every` events. The harness keeps no per-event state and the events are built before
//! the first measurement, so what grows is the nodes'. Divided by `n`: bytes per node.
//!
//! ```text
//! cargo bench -p igra-adapters --bench node_memory -- [--events 10000] [--every 1000] [--shape 5x3x2]
//!     [--policy-window-ms W] [--csv docs/perf/node-memory.csv]
//! ```
//!
//! Figures and what they mean: docs/performance.md, "Memory". It lives in `igra-adapters` because a
//! global allocator needs an `unsafe impl`, which only this crate's lints allow with a local `allow`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use igra_sim::bench::{Cluster, EVENT_SPACING_MS, NoMeter, Shape};

/// The system allocator, counting the bytes it has handed out and not yet taken back.
struct Counting;

/// Live heap bytes.
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are this allocator's; the counter is only arithmetic on the layout's size.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The command line.
struct Args {
    events: usize,
    every: usize,
    shape: Shape,
    window_ms: Option<u64>,
    csv: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        events: 10_000,
        every: 1_000,
        shape: Shape { n: 5, m: 3, inputs: 2 },
        window_ms: None,
        csv: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => parsed.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--every" => parsed.every = value()?.parse().map_err(|e| format!("--every: {e}"))?,
            "--shape" => parsed.shape = value()?.parse()?,
            "--policy-window-ms" => {
                parsed.window_ms = Some(value()?.parse().map_err(|e| format!("--policy-window-ms: {e}"))?);
            }
            "--csv" => parsed.csv = Some(value()?),
            // `cargo bench` passes `--bench`; nothing else is expected.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.every == 0 || parsed.events == 0 {
        return Err("--events and --every must be at least 1".into());
    }
    Ok(parsed)
}

#[allow(clippy::cast_precision_loss, reason = "byte counts far below 2^52 become figures")]
fn run(args: &Args) -> Result<(), String> {
    let mut cluster =
        Cluster::with_policy_window(args.shape, args.events, args.window_ms).map_err(|e| e.to_string())?;
    // `cargo bench` runs in the package's directory: a relative path is the workspace root's. Created
    // now, so that a bad path fails before the run.
    let csv_path = args.csv.as_ref().map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p));
    if let Some(path) = &csv_path {
        std::fs::write(path, "").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let n = usize::from(args.shape.n);
    let baseline = LIVE.load(Ordering::Relaxed);
    let window = args.window_ms.map_or_else(|| "the fixture's (a day)".to_string(), |w| format!("{w} ms"));
    println!(
        "{} group, {} events {EVENT_SPACING_MS} ms apart, policy window {window}; live heap of the process",
        args.shape, args.events
    );
    println!("{:>8} {:>14} {:>16} {:>18}", "events", "heap KiB", "per node KiB", "per node B/event");
    let mut csv =
        String::from("events,heap_bytes,per_node_bytes_above_start,per_node_bytes_per_event_since_last\n");
    let mut last = (0usize, baseline);
    while cluster.remaining() > 0 {
        cluster.pay_next(&mut NoMeter).map_err(|e| e.to_string())?;
        let paid = cluster.paid();
        if paid % args.every == 0 || cluster.remaining() == 0 {
            let live = LIVE.load(Ordering::Relaxed);
            let per_node = live.saturating_sub(baseline) as f64 / n as f64;
            let slope = (live as f64 - last.1 as f64) / n as f64 / (paid - last.0) as f64;
            println!("{paid:>8} {:>14.0} {:>16.1} {slope:>18.1}", live as f64 / 1024.0, per_node / 1024.0);
            writeln!(csv, "{paid},{live},{per_node:.0},{slope:.1}").map_err(|e| e.to_string())?;
            last = (paid, live);
        }
    }
    if let Some(path) = &csv_path {
        std::fs::write(path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)).and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node_memory: {e}");
            ExitCode::FAILURE
        }
    }
}
