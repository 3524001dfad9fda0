//! `igra-sim bench`: the cryptographic floor and the protocol's CPU time per event per node, shape by
//! shape, with the traffic per event. See docs/performance.md.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use igra_sim::bench::{BenchError, Cluster, Floor, Meter, NoMeter, Shape};

/// The shapes of issue #10's protocol benchmark and scale curve.
pub(crate) const DEFAULT_SHAPES: &str = "5x3x2,15x8x2,5x3x1,5x3x10,3x2x100,3x2x2,7x4x2,9x5x2,11x6x2,13x7x2";

/// Parses `NxMxI[,NxMxI...]`.
pub(crate) fn parse_shapes(text: &str) -> Result<Vec<Shape>, String> {
    text.split(',').map(str::parse).collect()
}

/// Time spent inside each node's calls.
struct WallMeter {
    per_node: Vec<Duration>,
}

impl Meter for WallMeter {
    #[allow(clippy::disallowed_methods, reason = "the benchmark measures wall time inside node calls")]
    fn measure<R>(&mut self, node: usize, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let out = f();
        if let Some(slot) = self.per_node.get_mut(node) {
            *slot += start.elapsed();
        }
        out
    }
}

/// One shape's figures.
pub(crate) struct Row {
    shape: Shape,
    floor_us: f64,
    protocol_us: f64,
    protocol_max_node_us: f64,
    frames_per_event: f64,
    bytes_per_event: f64,
    events: usize,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.protocol_us / self.floor_us
    }
}

/// The median of `samples` (sorted in place).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

#[allow(clippy::disallowed_methods, reason = "the benchmark measures wall time")]
fn floor_us(floor: &Floor, budget: Duration) -> f64 {
    // Warm up, then time batches and keep the median batch.
    floor.run();
    let start = Instant::now();
    let mut one = 1u32;
    while start.elapsed() < budget / 20 {
        floor.run();
        one += 1;
    }
    let per_batch = one.max(1);
    let mut samples = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..per_batch {
            std::hint::black_box(floor.run());
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(per_batch));
    }
    median(&mut samples)
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52 become figures")]
fn measure(shape: Shape, events: usize, budget: Duration) -> Result<Row, BenchError> {
    let floor = Floor::new(shape)?;
    let floor_us = floor_us(&floor, budget);
    // Protocol: a few unmetered events to warm the nodes up, then metered events in five chunks; the
    // median chunk's mean per node is the figure.
    let warmup = 4;
    let chunks = 5;
    let per_chunk = events.div_ceil(chunks).max(1);
    let mut cluster = Cluster::new(shape, warmup + per_chunk * chunks)?;
    for _ in 0..warmup {
        cluster.pay_next(&mut NoMeter)?;
    }
    let traffic_before = cluster.traffic().clone();
    let n = usize::from(shape.n);
    let mut means = Vec::new();
    let mut maxes = Vec::new();
    for _ in 0..chunks {
        let mut meter = WallMeter { per_node: vec![Duration::ZERO; n] };
        for _ in 0..per_chunk {
            cluster.pay_next(&mut meter)?;
        }
        let per_event = |d: Duration| d.as_secs_f64() * 1e6 / per_chunk as f64;
        let total: Duration = meter.per_node.iter().sum();
        means.push(per_event(total) / n as f64);
        maxes.push(per_event(meter.per_node.iter().copied().max().unwrap_or_default()));
    }
    let metered = (per_chunk * chunks) as f64;
    let frames = (cluster.traffic().frames() - traffic_before.frames()) as f64 / metered;
    let bytes = (cluster.traffic().bytes() - traffic_before.bytes()) as f64 / metered;
    Ok(Row {
        shape,
        floor_us,
        protocol_us: median(&mut means),
        protocol_max_node_us: median(&mut maxes),
        frames_per_event: frames,
        bytes_per_event: bytes,
        events: per_chunk * chunks,
    })
}

/// Runs every shape, prints the table, and writes it as CSV to `csv` if given.
pub(crate) fn bench(shapes: &[Shape], events: usize, csv: Option<&str>) -> Result<(), String> {
    let budget = Duration::from_millis(500);
    println!(
        "{:<22} {:>10} {:>12} {:>12} {:>7} {:>10} {:>12} {:>7}",
        "shape", "floor µs", "protocol µs", "busiest µs", "ratio", "frames/ev", "bytes/ev", "events"
    );
    let mut out = String::from(
        "n,m,inputs,floor_us,protocol_us,busiest_node_us,ratio,frames_per_event,bytes_per_event,events\n",
    );
    for &shape in shapes {
        // Big templates cost more per event: fewer events keep each shape to a few seconds.
        let events = if shape.inputs >= 50 { events.div_ceil(10).max(10) } else { events };
        let row = measure(shape, events, budget).map_err(|e| format!("{shape}: {e}"))?;
        println!(
            "{:<22} {:>10.1} {:>12.1} {:>12.1} {:>7.2} {:>10.1} {:>12.0} {:>7}",
            shape.to_string(),
            row.floor_us,
            row.protocol_us,
            row.protocol_max_node_us,
            row.ratio(),
            row.frames_per_event,
            row.bytes_per_event,
            row.events
        );
        let _ = writeln!(
            out,
            "{},{},{},{:.1},{:.1},{:.1},{:.3},{:.1},{:.0},{}",
            row.shape.n,
            row.shape.m,
            row.shape.inputs,
            row.floor_us,
            row.protocol_us,
            row.protocol_max_node_us,
            row.ratio(),
            row.frames_per_event,
            row.bytes_per_event,
            row.events
        );
    }
    println!(
        "\nfloor: one node's mandatory cryptography per event; protocol: mean time inside one node's calls \
         per event (fault-free, instant delivery); busiest: the node that spent most; frames and bytes: \
         the whole group's traffic per event."
    );
    if let Some(path) = csv {
        std::fs::write(path, out).map_err(|e| format!("{path}: {e}"))?;
        println!("wrote {path}");
    }
    Ok(())
}
