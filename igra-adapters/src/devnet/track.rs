//! Following a devnet's events through every member's updates: progress lines, latencies, and the
//! final check that each event was paid exactly once with its amount.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_channel::Receiver;
use igra_proto::node::EventUpdate;
use igra_proto::{EventId, Instant};

use super::chain::DevChain;
use super::{amount, destination};
use crate::runner::{Clock, Submission};

#[derive(Debug, Clone, Copy, Default)]
struct Times {
    index: u64,
    submitted: Option<Instant>,
    signed: Option<Instant>,
    finalized: Option<Instant>,
    confirmed: Option<Instant>,
}

/// Counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the tracker started.
    pub elapsed: Duration,
    /// Events submitted.
    pub submitted: u64,
    /// Refusals by members (all members together).
    pub refused: u64,
    /// Events voting (no member has signed yet).
    pub voting: u64,
    /// Events some member signed, not yet finalized.
    pub signed: u64,
    /// Events some member finalized, not yet confirmed.
    pub finalized: u64,
    /// Events confirmed by some member.
    pub confirmed: u64,
    /// Median submission-to-finalized latency so far.
    pub finalize_p50: Option<Duration>,
    /// Resident memory of this process, in KiB (Linux; `None` elsewhere).
    pub rss_kib: Option<u64>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6.1}s  submitted {:>6}  voting {:>5}  signed {:>5}  finalized {:>5}  confirmed {:>6}",
            self.elapsed.as_secs_f64(),
            self.submitted,
            self.voting,
            self.signed,
            self.finalized,
            self.confirmed
        )?;
        if let Some(p50) = self.finalize_p50 {
            write!(f, "  p50 {:.1} ms", p50.as_secs_f64() * 1e3)?;
        }
        if let Some(kib) = self.rss_kib {
            write!(f, "  rss {:.1} MiB", mib(kib))?;
        }
        if self.refused > 0 {
            write!(f, "  refused {}", self.refused)?;
        }
        Ok(())
    }
}

/// This process's resident memory in KiB, from `/proc/self/status` (`None` where there is none).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `kib` KiB in MiB.
pub fn mib(kib: u64) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "memory sizes far below 2^52")]
    let kib = kib as f64;
    kib / 1024.0
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Counts at the end.
    pub progress: Progress,
    /// Submission to finalized: p50, p99, max.
    pub finalize: Option<(Duration, Duration, Duration)>,
    /// Submission to confirmed: p50, p99, max.
    pub confirm: Option<(Duration, Duration, Duration)>,
    /// Transactions the chain accepted.
    pub transactions: u64,
    /// Fees paid, in sompi.
    pub fees: u64,
    /// Events paid exactly once with their amount.
    pub paid_once: u64,
    /// Events paid more than once (must be zero).
    pub paid_twice: u64,
    /// Events not paid.
    pub unpaid: u64,
    /// Submissions the chain refused as double spends (templates that raced; harmless).
    pub double_spend_refusals: u64,
    /// Confirmed events per second over the run.
    pub events_per_second: f64,
    /// Bytes every member sent, per submitted event (loopback wiring only).
    pub bytes_per_event: Option<u64>,
    /// The highest resident memory of this process seen during the run, in KiB (Linux only).
    pub peak_rss_kib: Option<u64>,
}

impl Summary {
    /// Whether every event was paid exactly once.
    pub fn all_paid_once(&self) -> bool {
        self.paid_twice == 0 && self.unpaid == 0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.progress;
        writeln!(
            f,
            "events      {} submitted, {} confirmed in {:.1} s ({:.1} events/s)",
            p.submitted,
            p.confirmed,
            p.elapsed.as_secs_f64(),
            self.events_per_second
        )?;
        if let Some((p50, p99, max)) = self.finalize {
            writeln!(
                f,
                "finalized   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms after submission",
                ms(p50),
                ms(p99),
                ms(max)
            )?;
        }
        if let Some((p50, p99, max)) = self.confirm {
            writeln!(
                f,
                "confirmed   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms after submission",
                ms(p50),
                ms(p99),
                ms(max)
            )?;
        }
        writeln!(
            f,
            "chain       {} transactions, {} sompi in fees, {} racing submissions refused as double spends",
            self.transactions, self.fees, self.double_spend_refusals
        )?;
        if self.bytes_per_event.is_some() || self.peak_rss_kib.is_some() {
            write!(f, "resources  ")?;
            if let Some(bytes) = self.bytes_per_event {
                write!(f, " {bytes} bytes sent per event (all members)")?;
            }
            if let Some(kib) = self.peak_rss_kib {
                write!(f, "  peak RSS {:.1} MiB (whole process)", mib(kib))?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "payments    {} paid once, {} paid twice, {} unpaid",
            self.paid_once, self.paid_twice, self.unpaid
        )
    }
}

/// Merges every member's updates into per-event times.
#[derive(Debug)]
pub struct Tracker {
    observers: Vec<Receiver<(Instant, EventUpdate)>>,
    clock: Clock,
    events: BTreeMap<EventId, Times>,
    submitted: u64,
    refused: u64,
}

fn first(slot: &mut Option<Instant>, at: Instant) {
    if slot.is_none() {
        *slot = Some(at);
    }
}

fn percentiles(mut samples: Vec<Duration>) -> Option<(Duration, Duration, Duration)> {
    samples.sort_unstable();
    let last = samples.len().checked_sub(1)?;
    let at = |q: usize| samples[(last * q).div_ceil(100)];
    Some((at(50), at(99), samples[last]))
}

impl Tracker {
    /// A tracker over `observers` (each runner's `observe()`), timing with `clock` (the runners').
    pub fn new(observers: Vec<Receiver<(Instant, EventUpdate)>>, clock: Clock) -> Self {
        Self { observers, clock, events: BTreeMap::new(), submitted: 0, refused: 0 }
    }

    /// Event `index` with id `id` was submitted now.
    pub fn submitted(&mut self, id: EventId, index: u64) {
        self.submitted += 1;
        let now = self.clock.now();
        let times = self.events.entry(id).or_default();
        times.index = index;
        first(&mut times.submitted, now);
    }

    /// A member answered a submission.
    pub fn answered(&mut self, answer: &Submission) {
        if let Submission::Refused(id, reason) = answer {
            self.refused += 1;
            tracing::warn!(%id, %reason, "a member refused a devnet event");
        }
    }

    /// Takes every update the members have sent so far.
    pub fn drain(&mut self) {
        for observer in &self.observers {
            while let Ok((at, update)) = observer.try_recv() {
                let (id, slot): (EventId, fn(&mut Times) -> &mut Option<Instant>) = match update {
                    EventUpdate::Signed { event_id, .. } => (event_id, |t| &mut t.signed),
                    EventUpdate::Finalized { event_id, .. } => (event_id, |t| &mut t.finalized),
                    EventUpdate::Confirmed { event_id, .. } => (event_id, |t| &mut t.confirmed),
                    _ => continue,
                };
                if let Some(times) = self.events.get_mut(&id) {
                    first(slot(times), at);
                }
            }
        }
    }

    fn latencies(&self, pick: fn(&Times) -> Option<Instant>) -> Vec<Duration> {
        self.events
            .values()
            .filter_map(|t| Some(Duration::from_millis(pick(t)?.millis_since(t.submitted?))))
            .collect()
    }

    /// Counts now.
    pub fn progress(&self) -> Progress {
        let mut p = Progress {
            elapsed: Duration::from_millis(self.clock.now().0),
            submitted: self.submitted,
            refused: self.refused,
            ..Progress::default()
        };
        for t in self.events.values() {
            match (t.signed, t.finalized, t.confirmed) {
                (_, _, Some(_)) => p.confirmed += 1,
                (_, Some(_), None) => p.finalized += 1,
                (Some(_), None, None) => p.signed += 1,
                (None, None, None) => p.voting += 1,
            }
        }
        p.finalize_p50 = percentiles(self.latencies(|t| t.finalized)).map(|(p50, _, _)| p50);
        p
    }

    /// The summary, checking every submitted event's payment on `chain`.
    pub fn summary(&self, chain: &DevChain, seed: u64) -> Summary {
        let progress = self.progress();
        let accepted = chain.accepted();
        let mut paid: BTreeMap<(Vec<u8>, u64), u64> = BTreeMap::new();
        let mut fees = 0u64;
        for a in &accepted {
            let spent: u64 = a.spent.iter().map(|e| e.amount).sum();
            let out: u64 = a.transaction.outputs.iter().map(|o| o.value).sum();
            fees += spent.saturating_sub(out);
            for o in &a.transaction.outputs {
                *paid.entry((o.script_public_key.script.clone(), o.value)).or_default() += 1;
            }
        }
        let (mut paid_once, mut paid_twice, mut unpaid) = (0, 0, 0);
        for t in self.events.values() {
            match paid.get(&(destination(seed, t.index).script, amount(t.index))).copied().unwrap_or(0) {
                0 => unpaid += 1,
                1 => paid_once += 1,
                _ => paid_twice += 1,
            }
        }
        let stats = chain.stats();
        let seconds = progress.elapsed.as_secs_f64().max(1e-9);
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let events_per_second = progress.confirmed as f64 / seconds;
        Summary {
            progress,
            finalize: percentiles(self.latencies(|t| t.finalized)),
            confirm: percentiles(self.latencies(|t| t.confirmed)),
            transactions: u64::try_from(accepted.len()).unwrap_or(u64::MAX),
            fees,
            paid_once,
            paid_twice,
            unpaid,
            double_spend_refusals: stats.double_spends,
            events_per_second,
            bytes_per_event: None,
            peak_rss_kib: None,
        }
    }
}
