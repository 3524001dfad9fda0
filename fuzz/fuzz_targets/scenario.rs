//! A whole simulated group run from the input: the bytes choose a small swarm (see
//! [`igra_fuzz::scenario`]: 1 to 5 members, a valid threshold, 1 to 3 events, the pool, network delays,
//! drops and duplicates, crashes, partitions, clogged links, reorgs, torn writes, clock skew and drift,
//! and Byzantine members within the bound) and the seed of the run's own random choices, and
//! [`igra_sim`] drives real nodes through it, checking the safety invariants (S1, S2, S3, S5) after
//! every step and liveness (L1) after healing.
//!
//! The target panics only when an invariant fails, with the swarm and the report.
#![no_main]

use igra_fuzz::scenario::scenario;
use igra_sim::Simulation;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((seed, swarm)) = scenario(&mut Unstructured::new(data)) else { return };
    let report = Simulation::with_swarm(seed, swarm).run();
    if let Some(violation) = &report.violation {
        panic!("invariant {} failed: {violation:?}\n{report}", violation.invariant);
    }
});
