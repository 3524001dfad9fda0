//! Swarm parameters: everything about a run that the seed chooses, printed before it starts.
//!
//! As in TigerBeetle's VOPR, the seed picks not only the random choices inside a run but the shape of
//! the run itself (group size, fault rates), so a sweep over seeds covers many configurations.

use core::fmt;

use igra_proto::kaspa::tx::{SOMPI_PER_KASPA, Sompi};

use crate::rng::Rng;

/// The largest group the simulator builds (the protocol's limit).
pub const MAX_N: u64 = 15;
/// The most events one run submits.
pub const MAX_EVENTS: u64 = 8;
/// The largest clock skew of a node, either way: well inside the gate's 10 s future window.
pub const MAX_SKEW_MS: u64 = 2_000;

/// How the group's funds are split at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolShape {
    /// A few large outputs: events compete for them and wait for change to mature.
    FewLarge,
    /// Many small outputs: templates need several inputs.
    ManySmall,
    /// Both, plus some dust the builder should avoid.
    Mixed,
}

/// One event of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPlan {
    /// When the source first reports it, in simulated ms.
    pub submit_at_ms: u64,
    /// The amount to pay.
    pub amount: Sompi,
}

/// The network's behaviour during the safety phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkProfile {
    /// Smallest one-way delay.
    pub delay_min_ms: u64,
    /// Largest one-way delay; a wide range reorders frames.
    pub delay_max_ms: u64,
    /// Frames lost, per thousand.
    pub drop_permille: u64,
    /// Frames delivered twice, per thousand.
    pub duplicate_permille: u64,
}

/// One crash: `node` goes down at `at_ms` and restarts `down_ms` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPlan {
    /// When.
    pub at_ms: u64,
    /// Which node.
    pub node: usize,
    /// How long it stays down.
    pub down_ms: u64,
}

/// Everything the seed chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swarm {
    /// Group size.
    pub n: u8,
    /// Threshold, `2m > n`.
    pub m: u8,
    /// The events, in submit order.
    pub events: Vec<EventPlan>,
    /// The pool's shape.
    pub pool_shape: PoolShape,
    /// The pool's output amounts.
    pub pool: Vec<Sompi>,
    /// The network during the safety phase.
    pub network: NetworkProfile,
    /// Crashes during the safety phase (at most `n - m` nodes are down at once; later ones are skipped).
    pub crashes: Vec<CrashPlan>,
    /// Each node's wall-clock skew, in ms.
    pub clock_skew_ms: Vec<i64>,
    /// Longest time storage takes to make a batch durable.
    pub persist_delay_max_ms: u64,
    /// Longest lag of a node's view of the chain.
    pub chain_lag_max_ms: u64,
    /// When the safety phase ends and faults heal.
    pub safety_end_ms: u64,
}

impl Swarm {
    /// The swarm of `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let n = rng.range(1, MAX_N);
        let m = rng.range(n / 2 + 1, n);
        let event_count = rng.range(1, MAX_EVENTS);
        let mut at = 0;
        let events = (0..event_count)
            .map(|_| {
                at += rng.range(0, 5_000);
                EventPlan {
                    submit_at_ms: at,
                    amount: rng.range(1, 8) * SOMPI_PER_KASPA + rng.range(0, 999) * 1000,
                }
            })
            .collect();
        let (pool_shape, pool) = pool(&mut rng);
        let network = match rng.range(0, 3) {
            0 => {
                NetworkProfile { delay_min_ms: 1, delay_max_ms: 20, drop_permille: 0, duplicate_permille: 0 }
            }
            1 => NetworkProfile {
                delay_min_ms: 5,
                delay_max_ms: 300,
                drop_permille: rng.range(0, 100),
                duplicate_permille: rng.range(0, 100),
            },
            2 => NetworkProfile {
                delay_min_ms: 1,
                delay_max_ms: 2_000,
                drop_permille: rng.range(0, 300),
                duplicate_permille: rng.range(0, 200),
            },
            _ => NetworkProfile {
                delay_min_ms: 50,
                delay_max_ms: 150,
                drop_permille: rng.range(300, 600),
                duplicate_permille: 0,
            },
        };
        let safety_end_ms = at + rng.range(10_000, 60_000);
        let crash_count = if n > m { rng.range(0, 6) } else { 0 };
        let crashes = (0..crash_count)
            .map(|_| CrashPlan {
                at_ms: rng.range(0, safety_end_ms),
                node: usize::try_from(rng.range(0, n - 1)).unwrap_or(0),
                down_ms: rng.range(100, 15_000),
            })
            .collect();
        let clock_skew_ms = (0..n)
            .map(|_| {
                i64::try_from(rng.range(0, 2 * MAX_SKEW_MS)).unwrap_or(0)
                    - i64::try_from(MAX_SKEW_MS).unwrap_or(0)
            })
            .collect();
        Self {
            n: u8::try_from(n).unwrap_or(1),
            m: u8::try_from(m).unwrap_or(1),
            events,
            pool_shape,
            pool,
            network,
            crashes,
            clock_skew_ms,
            persist_delay_max_ms: rng.range(0, 50),
            chain_lag_max_ms: rng.range(0, 3_000),
            safety_end_ms,
        }
    }

    /// The same swarm with a perfect network: the liveness phase's profile.
    pub fn healed_network(&self) -> NetworkProfile {
        NetworkProfile {
            delay_min_ms: self.network.delay_min_ms.min(50),
            delay_max_ms: self.network.delay_max_ms.min(100),
            drop_permille: 0,
            duplicate_permille: 0,
        }
    }
}

fn pool(rng: &mut Rng) -> (PoolShape, Vec<Sompi>) {
    match rng.range(0, 2) {
        0 => (
            PoolShape::FewLarge,
            (0..rng.range(1, 4)).map(|_| rng.range(200, 1_000) * SOMPI_PER_KASPA).collect(),
        ),
        1 => (
            PoolShape::ManySmall,
            (0..rng.range(20, 60)).map(|_| rng.range(3, 12) * SOMPI_PER_KASPA).collect(),
        ),
        _ => {
            let mut pool: Vec<_> =
                (0..rng.range(1, 3)).map(|_| rng.range(100, 500) * SOMPI_PER_KASPA).collect();
            pool.extend((0..rng.range(5, 20)).map(|_| rng.range(3, 12) * SOMPI_PER_KASPA));
            pool.extend((0..rng.range(0, 10)).map(|_| rng.range(1_000, 100_000)));
            (PoolShape::Mixed, pool)
        }
    }
}

impl fmt::Display for Swarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let amounts: Vec<String> =
            self.events.iter().map(|e| format!("{}@{}ms", kas(e.amount), e.submit_at_ms)).collect();
        writeln!(f, "group          {}-of-{}", self.m, self.n)?;
        writeln!(f, "events         {} [{}]", self.events.len(), amounts.join(", "))?;
        writeln!(
            f,
            "pool           {:?}: {} outputs, {} KAS",
            self.pool_shape,
            self.pool.len(),
            kas(self.pool.iter().sum())
        )?;
        let net = &self.network;
        writeln!(
            f,
            "network        delay {}..{} ms, drop {}‰, duplicate {}‰",
            net.delay_min_ms, net.delay_max_ms, net.drop_permille, net.duplicate_permille
        )?;
        let crashes: Vec<String> =
            self.crashes.iter().map(|c| format!("n{}@{}ms+{}ms", c.node, c.at_ms, c.down_ms)).collect();
        writeln!(f, "crashes        {} [{}]", self.crashes.len(), crashes.join(", "))?;
        writeln!(f, "clock skew ms  {:?}", self.clock_skew_ms)?;
        writeln!(
            f,
            "storage        batches durable within {} ms; chain views lag up to {} ms",
            self.persist_delay_max_ms, self.chain_lag_max_ms
        )?;
        write!(f, "safety phase   until {} ms", self.safety_end_ms)
    }
}

/// An amount in KAS with eight decimals.
pub fn kas(sompi: Sompi) -> String {
    format!("{}.{:08}", sompi / SOMPI_PER_KASPA, sompi % SOMPI_PER_KASPA)
}

impl Swarm {
    /// The swarm of `seed` cut down to a 2-of-3 group with at most two events: quick enough for
    /// unit-test builds, with every fault class of the seed kept.
    pub fn small(seed: u64) -> Self {
        let mut swarm = Self::from_seed(seed);
        swarm.n = 3;
        swarm.m = 2;
        swarm.events.truncate(2);
        swarm.clock_skew_ms.resize(3, 0);
        swarm.crashes.retain(|c| c.node < 3);
        swarm
    }
}

#[cfg(test)]
mod tests {
    use super::Swarm;

    #[test]
    fn every_swarm_keeps_the_threshold_rule_and_the_bounds() {
        for seed in 0..500 {
            let s = Swarm::from_seed(seed);
            assert!(2 * s.m > s.n && s.m <= s.n && (1..=15).contains(&s.n), "seed {seed}");
            assert!((1..=8).contains(&s.events.len()));
            assert!(s.clock_skew_ms.iter().all(|k| k.unsigned_abs() <= super::MAX_SKEW_MS));
            assert!(s.crashes.is_empty() || s.n > s.m);
            assert_eq!(s, Swarm::from_seed(seed));
        }
    }
}
