//! The cryptographic floor of one node per event, and the protocol's cost for the same event, per
//! shape. Run with `cargo bench -p igra-sim --bench floor`; `igra-sim bench` prints the same two
//! figures side by side with their ratio (docs/performance.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use igra_sim::bench::{Cluster, Floor, Meter, NoMeter, Shape};

const SHAPES: [Shape; 5] = [
    Shape { n: 5, m: 3, inputs: 2 },
    Shape { n: 15, m: 8, inputs: 2 },
    Shape { n: 5, m: 3, inputs: 1 },
    Shape { n: 5, m: 3, inputs: 10 },
    Shape { n: 3, m: 2, inputs: 100 },
];

/// Time inside the calls of every node.
struct Total(Duration);

impl Meter for Total {
    #[allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
    fn measure<R>(&mut self, _node: usize, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let out = f();
        self.0 += start.elapsed();
        out
    }
}

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor per node per event");
    for shape in SHAPES {
        let floor = Floor::new(shape).expect("valid shape");
        group.bench_with_input(BenchmarkId::from_parameter(shape), &floor, |b, f| {
            b.iter(|| black_box(f.run()));
        });
    }
    group.finish();
}

fn protocol(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol per node per event");
    group.sample_size(10);
    for shape in SHAPES {
        group.bench_function(BenchmarkId::from_parameter(shape), |b| {
            b.iter_custom(|iters| {
                let events = usize::try_from(iters).unwrap_or(usize::MAX);
                let mut cluster = Cluster::new(shape, events + 1).expect("valid shape");
                cluster.pay_next(&mut NoMeter).expect("fault-free runs pay");
                let mut total = Total(Duration::ZERO);
                for _ in 0..events {
                    cluster.pay_next(&mut total).expect("fault-free runs pay");
                }
                total.0 / u32::from(shape.n)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, floor, protocol);
criterion_main!(benches);
