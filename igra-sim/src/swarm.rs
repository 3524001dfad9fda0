//! Swarm parameters: everything about a run that the seed chooses, printed before it starts.
//!
//! As in TigerBeetle's VOPR, the seed picks not only the random choices inside a run but the shape of
//! the run itself (group size, fault rates), so a sweep over seeds covers many configurations.

use core::fmt;

use igra_proto::kaspa::tx::{SOMPI_PER_KASPA, Sompi};

use crate::ledger::MempoolRules;
use crate::rng::Rng;

/// The largest group the simulator builds (the protocol's limit).
pub const MAX_N: u64 = 15;
/// The most events one run submits.
pub const MAX_EVENTS: u64 = 8;
/// The largest clock skew of a node, either way: well inside the gate's 10 s future window.
pub const MAX_SKEW_MS: u64 = 2_000;
/// The deepest reorg, in DAA score: below the nodes' confirmation depth less the longest chain-news lag
/// (a reorg deeper than a confirmation is outside the chain model the protocol assumes).
pub const MAX_REORG_DEPTH: u64 = 50;
/// The largest drift of a node's wall clock, either way, in parts per million.
pub const MAX_DRIFT_PPM: u64 = 500;

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
    /// Network partitions during the safety phase.
    pub partitions: Vec<PartitionPlan>,
    /// Links clogged during the safety phase.
    pub clogs: Vec<ClogPlan>,
    /// The mempool: acceptance delay and eviction rate.
    pub mempool: MempoolRules,
    /// Reorgs during the safety phase.
    pub reorgs: Vec<ReorgPlan>,
    /// Chance, per thousand, that a UTXO snapshot a node receives during the safety phase diverges from
    /// the ledger (misses outputs, or counts outputs its mempool view has spent as gone).
    pub view_divergence_permille: u64,
    /// Chance, per thousand, that a crash tears the batch being written (a prefix of it survives).
    pub torn_write_permille: u64,
    /// Each node's wall-clock drift, in parts per million (on top of its skew).
    pub clock_drift_ppm: Vec<i64>,
    /// Byzantine members within the bound: at most `2m - n - 1` (S2/S5 hold) and at most `n - m` (the
    /// honest members still form a quorum, so L1 is required). They run no node; they attack.
    pub byzantine: Vec<usize>,
}

/// A reorg: at `at_ms`, the transactions accepted within `depth` DAA steps are orphaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReorgPlan {
    /// When.
    pub at_ms: u64,
    /// How deep, in DAA score (at most [`MAX_REORG_DEPTH`]).
    pub depth: u64,
    /// Whether the orphans return to the mempool (else they are dropped).
    pub requeue: bool,
}

/// A network partition: while it lasts, frames across it are lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPlan {
    /// When it starts.
    pub from_ms: u64,
    /// When it heals.
    pub until_ms: u64,
    /// Its shape.
    pub kind: PartitionKind,
}

/// The shapes of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKind {
    /// Two sides; nothing crosses in either direction. `side[i]` is node `i`'s side.
    Symmetric {
        /// Each node's side.
        side: Vec<bool>,
    },
    /// Two sides; frames from the `true` side to the `false` side are lost, the other way they pass.
    Asymmetric {
        /// Each node's side.
        side: Vec<bool>,
    },
    /// One node hears nothing and is heard by no one.
    Isolate {
        /// The node.
        node: usize,
    },
}

impl PartitionPlan {
    /// Whether a frame from `from` to `to` sent at `now_ms` is lost to this partition.
    pub fn cuts(&self, from: usize, to: usize, now_ms: u64) -> bool {
        if now_ms < self.from_ms || now_ms >= self.until_ms {
            return false;
        }
        let side = |s: &Vec<bool>, i: usize| s.get(i).copied().unwrap_or(false);
        match &self.kind {
            PartitionKind::Symmetric { side: s } => side(s, from) != side(s, to),
            PartitionKind::Asymmetric { side: s } => side(s, from) && !side(s, to),
            PartitionKind::Isolate { node } => from == *node || to == *node,
        }
    }
}

/// A clogged link: frames from `from` to `to` sent while it lasts arrive no earlier than `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClogPlan {
    /// Sender.
    pub from: usize,
    /// Receiver.
    pub to: usize,
    /// When it starts.
    pub from_ms: u64,
    /// When it clears.
    pub until_ms: u64,
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
            partitions: Vec::new(),
            clogs: Vec::new(),
            mempool: MempoolRules::default(),
            reorgs: Vec::new(),
            view_divergence_permille: 0,
            torn_write_permille: 0,
            clock_drift_ppm: Vec::new(),
            byzantine: Vec::new(),
        }
        .with_network_faults(&mut rng)
        .with_chain_and_node_faults(&mut rng)
    }

    /// Draws the mempool, reorgs, diverging views, torn writes and clock drift (after everything else,
    /// so that adding them kept the rest of each seed's swarm unchanged).
    fn with_chain_and_node_faults(mut self, rng: &mut Rng) -> Self {
        self.mempool = MempoolRules { delay_max_daa: rng.range(1, 60), evict_permille: rng.range(0, 200) };
        let end = self.safety_end_ms;
        self.reorgs = (0..rng.range(0, 3))
            .map(|_| ReorgPlan {
                at_ms: rng.range(0, end),
                depth: rng.range(1, MAX_REORG_DEPTH),
                requeue: rng.chance(700),
            })
            .collect();
        self.view_divergence_permille = if rng.chance(500) { rng.range(50, 500) } else { 0 };
        self.torn_write_permille = rng.range(0, 1_000);
        let drift = i64::try_from(MAX_DRIFT_PPM).unwrap_or(0);
        self.clock_drift_ppm = (0..self.n)
            .map(|_| i64::try_from(rng.range(0, 2 * MAX_DRIFT_PPM)).unwrap_or(0) - drift)
            .collect();
        let bound = self.byzantine_bound();
        if bound > 0 && rng.chance(500) {
            let b = rng.range(1, u64::from(bound));
            self.byzantine =
                (0..b).map(|k| usize::from(self.n) - 1 - usize::try_from(k).unwrap_or(0)).collect();
        }
        self
    }

    /// The most Byzantine members the simulator plants: `min(2m - n - 1, n - m)`.
    pub fn byzantine_bound(&self) -> u8 {
        (2 * self.m).saturating_sub(self.n).saturating_sub(1).min(self.n - self.m)
    }

    /// Draws partitions and clogged links (after every other parameter, so that adding them kept the
    /// rest of each seed's swarm unchanged).
    fn with_network_faults(mut self, rng: &mut Rng) -> Self {
        let n = u64::from(self.n);
        let end = self.safety_end_ms;
        for _ in 0..rng.range(0, 2) {
            let from_ms = rng.range(0, end);
            let until_ms = (from_ms + rng.range(500, 20_000)).min(end);
            let side: Vec<bool> = (0..n).map(|_| rng.chance(500)).collect();
            let kind = match rng.range(0, 2) {
                0 => PartitionKind::Symmetric { side },
                1 => PartitionKind::Asymmetric { side },
                _ => PartitionKind::Isolate { node: usize::try_from(rng.range(0, n - 1)).unwrap_or(0) },
            };
            self.partitions.push(PartitionPlan { from_ms, until_ms, kind });
        }
        if n > 1 {
            for _ in 0..rng.range(0, 3) {
                let from = usize::try_from(rng.range(0, n - 1)).unwrap_or(0);
                let to = usize::try_from(rng.range(0, n - 1)).unwrap_or(0);
                let from_ms = rng.range(0, end);
                let until_ms = (from_ms + rng.range(500, 10_000)).min(end);
                if from != to {
                    self.clogs.push(ClogPlan { from, to, from_ms, until_ms });
                }
            }
        }
        self
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
        let partitions: Vec<String> = self
            .partitions
            .iter()
            .map(|p| {
                let shape = match &p.kind {
                    PartitionKind::Symmetric { side } => format!("symmetric {}", sides(side)),
                    PartitionKind::Asymmetric { side } => format!("asymmetric {}", sides(side)),
                    PartitionKind::Isolate { node } => format!("isolate n{node}"),
                };
                format!("{shape} {}..{}ms", p.from_ms, p.until_ms)
            })
            .collect();
        writeln!(f, "partitions     {} [{}]", self.partitions.len(), partitions.join(", "))?;
        let clogs: Vec<String> = self
            .clogs
            .iter()
            .map(|c| format!("n{}->n{} {}..{}ms", c.from, c.to, c.from_ms, c.until_ms))
            .collect();
        writeln!(f, "clogged links  {} [{}]", self.clogs.len(), clogs.join(", "))?;
        writeln!(f, "clock skew ms  {:?}", self.clock_skew_ms)?;
        writeln!(f, "clock drift    {:?} ppm", self.clock_drift_ppm)?;
        writeln!(f, "byzantine      {:?} (bound {})", self.byzantine, self.byzantine_bound())?;
        let reorgs: Vec<String> = self
            .reorgs
            .iter()
            .map(|r| format!("{}@{}ms{}", r.depth, r.at_ms, if r.requeue { "" } else { " drop" }))
            .collect();
        writeln!(
            f,
            "chain          mempool delay 1..{} DAA, evict {}‰; reorgs {} [{}]; views diverge {}‰",
            self.mempool.delay_max_daa,
            self.mempool.evict_permille,
            self.reorgs.len(),
            reorgs.join(", "),
            self.view_divergence_permille
        )?;
        writeln!(
            f,
            "storage        batches durable within {} ms, crashes tear {}‰; chain views lag up to {} ms",
            self.persist_delay_max_ms, self.torn_write_permille, self.chain_lag_max_ms
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
        swarm.clock_drift_ppm.resize(3, 0);
        swarm.byzantine.clear();
        swarm.crashes.retain(|c| c.node < 3);
        for partition in &mut swarm.partitions {
            match &mut partition.kind {
                PartitionKind::Symmetric { side } | PartitionKind::Asymmetric { side } => {
                    side.resize(3, false);
                }
                PartitionKind::Isolate { node } => *node %= 3,
            }
        }
        swarm.clogs.retain(|c| c.from < 3 && c.to < 3);
        swarm
    }
}

/// A partition's sides as a string of `A` and `B`, one letter per node.
fn sides(side: &[bool]) -> String {
    side.iter().map(|s| if *s { 'A' } else { 'B' }).collect()
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
            assert!(s.partitions.iter().all(|p| p.from_ms <= p.until_ms && p.until_ms <= s.safety_end_ms));
            assert!(s.clogs.iter().all(|c| c.from != c.to && c.until_ms <= s.safety_end_ms));
            assert!(s.reorgs.iter().all(|r| (1..=super::MAX_REORG_DEPTH).contains(&r.depth)));
            assert!(s.clock_drift_ppm.iter().all(|d| d.unsigned_abs() <= super::MAX_DRIFT_PPM));
            assert_eq!(s.clock_drift_ppm.len(), usize::from(s.n));
            let b = u8::try_from(s.byzantine.len()).unwrap();
            assert!(
                2 * s.m > s.n + b && s.n - b >= s.m,
                "seed {seed}: {b} Byzantine members break the bound"
            );
        }
        let drawn = (0..500).map(Swarm::from_seed);
        let (partitioned, clogged): (usize, usize) = drawn.fold((0, 0), |(p, c), s| {
            (p + usize::from(!s.partitions.is_empty()), c + usize::from(!s.clogs.is_empty()))
        });
        assert!(
            partitioned > 100 && clogged > 100,
            "partitions in {partitioned}, clogs in {clogged} of 500 seeds"
        );
    }

    #[test]
    fn partitions_cut_what_their_shape_says_while_they_last() {
        use super::{PartitionKind, PartitionPlan};
        let plan = |kind| PartitionPlan { from_ms: 100, until_ms: 200, kind };
        let symmetric = plan(PartitionKind::Symmetric { side: vec![true, true, false] });
        assert!(symmetric.cuts(0, 2, 150) && symmetric.cuts(2, 1, 150));
        assert!(!symmetric.cuts(0, 1, 150), "same side");
        assert!(!symmetric.cuts(0, 2, 99) && !symmetric.cuts(0, 2, 200), "only while it lasts");
        let asymmetric = plan(PartitionKind::Asymmetric { side: vec![true, false] });
        assert!(asymmetric.cuts(0, 1, 150) && !asymmetric.cuts(1, 0, 150), "one way only");
        let isolate = plan(PartitionKind::Isolate { node: 1 });
        assert!(isolate.cuts(1, 0, 150) && isolate.cuts(2, 1, 150) && !isolate.cuts(0, 2, 150));
    }
}
