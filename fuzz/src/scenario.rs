//! The `scenario` target's decoder: a small [`Swarm`] drawn from fuzzer bytes within the bounds
//! [`Swarm::from_seed`] keeps (threshold rule, crash and Byzantine bounds, skews, reorg depths), but
//! smaller, so that one whole run takes well under a second: at most 5 members, 3 events, a short
//! safety phase. Bytes that run out read as zeros, so every input is a swarm.

use igra_proto::kaspa::tx::SOMPI_PER_KASPA;
use igra_sim::Swarm;
use igra_sim::ledger::MempoolRules;
use igra_sim::swarm::{
    ClogPlan, CrashPlan, EventPlan, MAX_DRIFT_PPM, MAX_REORG_DEPTH, MAX_SKEW_MS, NetworkProfile,
    PartitionKind, PartitionPlan, PoolShape, ReorgPlan,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};

/// The largest group a scenario builds.
pub const MAX_N: u8 = 5;
/// The most events a scenario submits.
pub const MAX_EVENTS: u8 = 3;

/// The seed of the run's own random choices, and the swarm.
///
/// # Errors
/// Never in practice: [`Unstructured`] reads missing bytes as zeros.
#[allow(clippy::missing_panics_doc)] // the conversions below are within range by construction
pub fn scenario(u: &mut Unstructured<'_>) -> Result<(u64, Swarm)> {
    let seed: u64 = u.arbitrary()?;
    let n: u8 = u.int_in_range(1..=MAX_N)?;
    let m: u8 = u.int_in_range(n / 2 + 1..=n)?;
    let mut at = 0;
    let events = (0..u.int_in_range(1..=MAX_EVENTS)?)
        .map(|_| {
            at += u.int_in_range(0..=5_000u64)?;
            let kas = u.int_in_range(1..=8u64)?;
            Ok(EventPlan {
                submit_at_ms: at,
                amount: kas * SOMPI_PER_KASPA + u.int_in_range(0..=999u64)? * 1000,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (pool_shape, pool) = match u.int_in_range(0..=2u8)? {
        0 => (PoolShape::FewLarge, amounts(u, 1..=4, 200..=1_000, SOMPI_PER_KASPA)?),
        1 => (PoolShape::ManySmall, amounts(u, 20..=40, 3..=12, SOMPI_PER_KASPA)?),
        _ => {
            let mut pool = amounts(u, 1..=3, 100..=500, SOMPI_PER_KASPA)?;
            pool.extend(amounts(u, 5..=20, 3..=12, SOMPI_PER_KASPA)?);
            pool.extend(amounts(u, 0..=10, 1_000..=100_000, 1)?);
            (PoolShape::Mixed, pool)
        }
    };
    let delay_min_ms = u.int_in_range(1..=50u64)?;
    let network = NetworkProfile {
        delay_min_ms,
        delay_max_ms: delay_min_ms + u.int_in_range(0..=2_000u64)?,
        drop_permille: u.int_in_range(0..=600u64)?,
        duplicate_permille: u.int_in_range(0..=200u64)?,
    };
    let safety_end_ms = at + u.int_in_range(10_000..=30_000u64)?;
    let nodes = usize::from(n);
    let node = |u: &mut Unstructured<'_>| u.int_in_range(0..=nodes - 1);
    let crash_count = if n > m { u.int_in_range(0..=3u8)? } else { 0 };
    let crashes = (0..crash_count)
        .map(|_| {
            Ok(CrashPlan {
                at_ms: u.int_in_range(0..=safety_end_ms)?,
                node: node(u)?,
                down_ms: u.int_in_range(100..=15_000u64)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let skew = i64::try_from(MAX_SKEW_MS).expect("small");
    let clock_skew_ms = (0..n).map(|_| u.int_in_range(-skew..=skew)).collect::<Result<Vec<_>>>()?;
    let persist_delay_max_ms = u.int_in_range(0..=50u64)?;
    let chain_lag_max_ms = u.int_in_range(0..=3_000u64)?;
    let mut partitions = Vec::new();
    for _ in 0..u.int_in_range(0..=2u8)? {
        let from_ms = u.int_in_range(0..=safety_end_ms)?;
        let until_ms = (from_ms + u.int_in_range(500..=20_000u64)?).min(safety_end_ms);
        let kind = match u.int_in_range(0..=2u8)? {
            0 => PartitionKind::Symmetric { side: sides(u, nodes)? },
            1 => PartitionKind::Asymmetric { side: sides(u, nodes)? },
            _ => PartitionKind::Isolate { node: node(u)? },
        };
        partitions.push(PartitionPlan { from_ms, until_ms, kind });
    }
    let mut clogs = Vec::new();
    for _ in 0..u.int_in_range(0..=2u8)? {
        let (from, to) = (node(u)?, node(u)?);
        let from_ms = u.int_in_range(0..=safety_end_ms)?;
        let until_ms = (from_ms + u.int_in_range(500..=10_000u64)?).min(safety_end_ms);
        if from != to {
            clogs.push(ClogPlan { from, to, from_ms, until_ms });
        }
    }
    let mempool = MempoolRules {
        delay_max_daa: u.int_in_range(1..=60u64)?,
        evict_permille: u.int_in_range(0..=200u64)?,
    };
    let reorgs = (0..u.int_in_range(0..=2u8)?)
        .map(|_| {
            Ok(ReorgPlan {
                at_ms: u.int_in_range(0..=safety_end_ms)?,
                depth: u.int_in_range(1..=MAX_REORG_DEPTH)?,
                requeue: u.arbitrary()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let view_divergence_permille = if u.arbitrary()? { u.int_in_range(50..=500u64)? } else { 0 };
    let torn_write_permille = u.int_in_range(0..=1_000u64)?;
    let drift = i64::try_from(MAX_DRIFT_PPM).expect("small");
    let clock_drift_ppm = (0..n).map(|_| u.int_in_range(-drift..=drift)).collect::<Result<Vec<_>>>()?;
    let mut swarm = Swarm {
        n,
        m,
        events,
        pool_shape,
        pool,
        network,
        crashes,
        clock_skew_ms,
        persist_delay_max_ms,
        chain_lag_max_ms,
        safety_end_ms,
        partitions,
        clogs,
        mempool,
        reorgs,
        view_divergence_permille,
        torn_write_permille,
        clock_drift_ppm,
        byzantine: Vec::new(),
    };
    let bound = swarm.byzantine_bound();
    if bound > 0 && u.arbitrary()? {
        let b = u.int_in_range(1..=bound)?;
        swarm.byzantine = (0..b).map(|k| nodes - 1 - usize::from(k)).collect();
    }
    Ok((seed, swarm))
}

/// Between `count` outputs of `range × unit` sompi each.
fn amounts(
    u: &mut Unstructured<'_>,
    count: std::ops::RangeInclusive<u8>,
    range: std::ops::RangeInclusive<u64>,
    unit: u64,
) -> Result<Vec<u64>> {
    (0..u.int_in_range(count)?).map(|_| Ok(u.int_in_range(range.clone())? * unit)).collect()
}

/// A side for each of `n` nodes.
fn sides(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<bool>> {
    (0..n).map(|_| u.arbitrary()).collect()
}
