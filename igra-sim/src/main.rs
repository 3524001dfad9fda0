//! `igra-sim`: run one seed, sweep a range of seeds, or replay a seed with its full trace.
//!
//! ```text
//! igra-sim run --seed S
//! igra-sim sweep --seeds A..B [--threads T]
//! igra-sim replay --seed S --trace
//! igra-sim bench [--shapes NxMxI,...] [--events E] [--csv FILE]
//! ```

mod bench_command;

use std::process::ExitCode;

use igra_sim::{Report, Simulation};

const USAGE: &str = "usage: igra-sim run --seed S | sweep --seeds A..B [--threads T] | replay --seed S [--trace]\n       \
     igra-sim bench [--shapes NxMxI,...] [--events E] [--csv FILE]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Run { seed }) => run(seed),
        Ok(Command::Sweep { from, to, threads }) => sweep(from, to, threads),
        Ok(Command::Replay { seed, trace }) => replay(seed, trace),
        Ok(Command::Bench { shapes, events, csv }) => {
            match bench_command::bench(&shapes, events, csv.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("{message}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

enum Command {
    Run { seed: u64 },
    Sweep { from: u64, to: u64, threads: usize },
    Replay { seed: u64, trace: bool },
    Bench { shapes: Vec<igra_sim::bench::Shape>, events: usize, csv: Option<String> },
}

fn parse(args: &[String]) -> Result<Command, String> {
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let seed = || -> Result<u64, String> {
        flag("--seed").ok_or("--seed is required")?.parse().map_err(|e| format!("--seed: {e}"))
    };
    match args.first().map(String::as_str) {
        Some("run") => Ok(Command::Run { seed: seed()? }),
        Some("replay") => Ok(Command::Replay { seed: seed()?, trace: args.iter().any(|a| a == "--trace") }),
        Some("sweep") => {
            let range = flag("--seeds").ok_or("--seeds A..B is required")?;
            let (a, b) = range.split_once("..").ok_or("--seeds takes A..B")?;
            let from = a.parse().map_err(|e| format!("--seeds: {e}"))?;
            let to = b.parse().map_err(|e| format!("--seeds: {e}"))?;
            let threads =
                flag("--threads").map_or(Ok(2), |t| t.parse().map_err(|e| format!("--threads: {e}")))?;
            Ok(Command::Sweep { from, to, threads: usize::max(threads, 1) })
        }
        Some("bench") => {
            let shapes = bench_command::parse_shapes(
                flag("--shapes").map_or(bench_command::DEFAULT_SHAPES, String::as_str),
            )?;
            let events =
                flag("--events").map_or(Ok(200), |e| e.parse().map_err(|e| format!("--events: {e}")))?;
            Ok(Command::Bench { shapes, events: usize::max(events, 5), csv: flag("--csv").cloned() })
        }
        _ => Err("unknown command".into()),
    }
}

fn run(seed: u64) -> ExitCode {
    let simulation = Simulation::new(seed);
    println!("swarm of seed {seed}:\n{}\n", simulation.swarm());
    let (report, wall_ms) = timed(|| simulation.run());
    println!("{report}");
    print_wall(&report, wall_ms);
    if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn replay(seed: u64, trace: bool) -> ExitCode {
    let mut simulation = Simulation::new(seed);
    if trace {
        simulation = simulation.traced();
    }
    println!("swarm of seed {seed}:\n{}\n", simulation.swarm());
    let (report, lines) = simulation.run_with_trace();
    for line in lines {
        println!("{line}");
    }
    println!("\n{report}");
    if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn sweep(from: u64, to: u64, threads: usize) -> ExitCode {
    let seeds: Vec<u64> = (from..to).collect();
    let (reports, wall_ms) = timed(|| {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let mine: Vec<u64> = seeds.iter().copied().skip(t).step_by(threads).collect();
                    scope.spawn(move || {
                        mine.into_iter().map(|s| Simulation::new(s).run()).collect::<Vec<Report>>()
                    })
                })
                .collect();
            let mut all: Vec<Report> =
                workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect();
            all.sort_by_key(|r| r.seed);
            all
        })
    });
    let failed: Vec<&Report> = reports.iter().filter(|r| !r.passed()).collect();
    for report in &failed {
        if let Some(v) = &report.violation {
            println!("seed {}: {v}\n  reproduce: {}", report.seed, report.reproduce_command());
        }
    }
    let events: usize = reports.iter().map(|r| r.events.len()).sum();
    let completed: usize = reports.iter().map(Report::completed).sum();
    let simulated: u64 = reports.iter().map(|r| r.simulated_ms).sum();
    println!(
        "sweep {from}..{to}: {} seeds, {} passed, {} failed; {completed}/{events} events completed; {} s simulated in {} ms wall",
        reports.len(),
        reports.len() - failed.len(),
        failed.len(),
        simulated / 1000,
        wall_ms
    );
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn print_wall(report: &Report, wall_ms: u128) {
    let completed = u128::try_from(report.completed()).unwrap_or(0);
    let per_second = (completed * 1000).checked_div(wall_ms).unwrap_or(0);
    println!("wall time      {wall_ms} ms ({per_second} events per wall second)");
}

/// Wall-clock measurement is the binary's business only; the library never reads a clock.
#[allow(clippy::disallowed_methods, reason = "wall time of a run is reported, never simulated")]
fn timed<T>(f: impl FnOnce() -> T) -> (T, u128) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed().as_millis())
}
