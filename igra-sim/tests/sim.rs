//! The simulator's own guarantees: runs are reproducible, honest groups pass, and a broken group fails.

use igra_sim::{Simulation, Swarm};

#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    for seed in [1, 2] {
        let a = Simulation::with_swarm(seed, Swarm::small(seed)).run();
        let b = Simulation::with_swarm(seed, Swarm::small(seed)).run();
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.steps, b.steps);
        assert!(a.steps > 0 && a.frames_delivered > 0, "the run did something");
    }
    let (a, b) =
        (Simulation::with_swarm(1, Swarm::small(1)).run(), Simulation::with_swarm(2, Swarm::small(2)).run());
    assert_ne!(a.trace_hash, b.trace_hash);
}

/// The canary (option B of issue 6's brief): `m` Byzantine members, beyond the bound, inject a second
/// certified, fully signed template for each event through crafted frames and submit a theft signed with
/// their `m` keys. The simulator must flag it (S3, S2 or S5): proof that it can fail.
#[test]
fn a_coalition_beyond_the_bound_is_caught() {
    let caught: Vec<(u64, &str)> = (0..8)
        .filter_map(|seed| {
            let report = Simulation::with_swarm(seed, Swarm::small(seed)).with_forgers().run();
            report.violation.map(|v| (seed, v.invariant))
        })
        .collect();
    eprintln!("canary: {caught:?}");
    assert!(
        caught.len() == 8 && caught.iter().all(|(_, inv)| matches!(*inv, "S2" | "S3" | "S5")),
        "the forgery went unnoticed: {caught:?}"
    );
}

/// Every seed of a sweep of small (2-of-3) swarms passes every invariant, safety and liveness.
#[test]
fn a_sweep_of_fifty_small_seeds_passes() {
    let failed: Vec<String> = (0..50)
        .map(|seed| Simulation::with_swarm(seed, Swarm::small(seed)).run())
        .filter_map(|r| r.violation.map(|v| format!("seed {}: {v}", r.seed)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Reorgs and mempool evictions happen in the sweep (they are not dead parameters) and every seed still
/// passes: orphaned payments are accepted again, and no node confirms an orphaned transaction.
#[test]
fn reorgs_orphan_payments_and_every_small_seed_still_passes() {
    let reports: Vec<_> = (0..30)
        .filter(|seed| !Swarm::small(*seed).reorgs.is_empty())
        .map(|seed| Simulation::with_swarm(seed, Swarm::small(seed)).run())
        .collect();
    let orphaned: u64 = reports.iter().map(|r| r.orphaned_transactions).sum();
    assert!(orphaned > 0, "no reorg orphaned anything in {} seeds", reports.len());
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| r.violation.as_ref().map(|v| format!("seed {}: {v}", r.seed)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Torn writes, diverging views and clock drift are exercised, not dead parameters, and every small seed
/// passes with them: a restore from a torn batch keeps S1, and diverging views heal.
#[test]
fn torn_writes_and_diverging_views_happen_and_every_small_seed_passes() {
    let reports: Vec<_> =
        (0..40).map(|seed| Simulation::with_swarm(seed, Swarm::small(seed)).run()).collect();
    let torn: u64 = reports.iter().map(|r| r.torn_records).sum();
    let diverged: u64 = reports.iter().map(|r| r.diverging_views).sum();
    assert!(torn > 0 && diverged > 0, "torn records {torn}, diverging views {diverged}");
    assert!((0..40).any(|seed| Swarm::small(seed).clock_drift_ppm.iter().any(|d| *d != 0)));
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| r.violation.as_ref().map(|v| format!("seed {}: {v}", r.seed)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A Byzantine member within the bound (3-of-4, `b = 1`: `2m > n + b` and `n - b >= m`) runs every
/// attack: equivocation, a forged certificate, completion claims, invalid partial signatures, templates
/// paying a wrong destination or an inflated fee, replays and a flood. Honest nodes refuse and count
/// them, every invariant holds, and every event is paid (L1).
#[test]
fn a_byzantine_member_within_the_bound_is_refused_counted_and_harmless() {
    let mut totals = std::collections::BTreeMap::new();
    for seed in 0..6 {
        let mut swarm = Swarm::small(seed);
        swarm.n = 4;
        swarm.m = 3;
        swarm.clock_skew_ms.resize(4, 0);
        swarm.clock_drift_ppm.resize(4, 0);
        swarm.byzantine = vec![3];
        let report = Simulation::with_swarm(seed, swarm).run();
        assert!(report.passed(), "seed {seed}: {:?}", report.violation);
        assert_eq!(report.completed(), report.events.len(), "seed {seed}: L1 with an honest quorum");
        for (kind, count) in &report.misbehaviour {
            *totals.entry(*kind).or_insert(0) += count;
        }
        assert!(report.attacks.values().sum::<u64>() > 0 && report.gate_rejections > 0, "seed {seed}");
    }
    for kind in ["equivocation", "bad_certificate", "invalid_template", "round_out_of_range", "bad_signature"]
    {
        assert!(totals.get(kind).copied().unwrap_or(0) > 0, "{kind} never counted: {totals:?}");
    }
}
