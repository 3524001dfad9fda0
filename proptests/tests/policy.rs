//! Policy monotonicity: tightening any one rule of a signer's policy never makes it admit an event the
//! looser policy refuses.
//!
//! "Admits" means that [`Policy::commit`] returns `Ok` for the event at that step. Commitments
//! accumulate, so the naive claim, "replaying one sequence of `commit` calls on both policies, the events
//! the tight one admits are a subset of those the loose one admits", is false as soon as a cap is
//! configured: the loose policy spends capacity on an event the tight one refuses, and a later event
//! then fits under the tight policy's cap but not under the loose one's
//! (`a_tighter_cap_can_admit_what_a_looser_one_refused`). The properties here are therefore:
//!
//! * **Step by step, on the same history** (every rule, caps included): whenever the tight policy admits
//!   an event at step `k`, the loose policy holding exactly the tight policy's admitted history (the same
//!   commitments at the same dates, the same clock) admits it too.
//! * **Whole sequences** (amount, deny, allow and pause rules, with no caps, where decisions carry no
//!   state): the set of events the tight policy admits is a subset of the set the loose one admits.

use std::collections::BTreeSet;

use igra_proto::event::operators::OperatorAttestation;
use igra_proto::event::policy::{Policy, PolicyConfig, PolicyViolation, SourceCap};
use igra_proto::event::{Attestation, Event, EventSource, SourceKind};
use igra_proto::kaspa::tx::{ScriptPublicKey, Sompi};
use igra_proto::template::Payment;
use igra_proto::wire::BoundedVec;
use igra_proto::{EventId, UnixMs};
use proptest::collection::vec;
use proptest::prelude::*;
use proptests::T0;

/// Destinations are drawn from this many scripts, so lists and events meet often.
const DESTINATIONS: u8 = 6;
const KINDS: [SourceKind; 3] = [SourceKind::Hyperlane, SourceKind::LayerZero, SourceKind::Operators];

fn destination(d: u8) -> ScriptPublicKey {
    ScriptPublicKey { version: 0, script: vec![0x20, d, 0xac] }
}

/// Request number `n`: `amount` sompi from `kind` to destination `d`.
fn request(n: u32, kind: SourceKind, d: u8, amount: Sompi) -> Event {
    let mut external_id = [0xee; 32];
    external_id[28..].copy_from_slice(&n.to_be_bytes());
    Event {
        source: EventSource { kind, id: 7 },
        external_id,
        payment: Payment { destination: destination(d), amount },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    }
}

/// One step of a run: a wall-clock move (mostly forward, sometimes back) and a `commit` of either a new
/// event or, when `repeat` is set and there is one, an event seen before (commits are idempotent).
#[derive(Debug, Clone)]
struct Step {
    clock_ms: i64,
    kind: usize,
    destination: u8,
    amount: Sompi,
    repeat: Option<usize>,
}

fn arb_step() -> impl Strategy<Value = Step> {
    (
        -300i64..2_000,
        0..KINDS.len(),
        0..DESTINATIONS,
        1..1_200u64,
        proptest::option::weighted(0.2, 0..64usize),
    )
        .prop_map(|(clock_ms, kind, destination, amount, repeat)| Step {
            clock_ms,
            kind,
            destination,
            amount,
            repeat,
        })
}

/// A valid loose configuration: any amount bounds, lists and caps over the small destination set.
fn arb_config() -> impl Strategy<Value = PolicyConfig> {
    (
        (1..300u64, 300..1_200u64),
        proptest::option::of(proptest::sample::subsequence((0..DESTINATIONS).collect::<Vec<_>>(), 1..=5)),
        proptest::sample::subsequence((0..DESTINATIONS).collect::<Vec<_>>(), 0..=2),
        1_000..20_000u64,
        proptest::option::of(500..5_000u64),
        vec(proptest::option::of(200..3_000u64), 3),
    )
        .prop_map(|((min_amount, max_amount), allow, deny, window_ms, global_cap, caps)| {
            let allow: Option<Vec<_>> = allow.map(|a| a.into_iter().map(destination).collect());
            // Keep the lists disjoint: what is allowed is not denied.
            let deny = deny
                .into_iter()
                .map(destination)
                .filter(|d| allow.as_ref().is_none_or(|a| !a.contains(d)))
                .collect();
            let source_caps = KINDS
                .iter()
                .zip(caps)
                .filter_map(|(&source, cap)| cap.map(|cap| SourceCap { source, cap }))
                .collect();
            PolicyConfig {
                min_amount,
                max_amount,
                allow,
                deny,
                window_ms,
                global_cap,
                source_caps,
                paused: false,
            }
        })
}

/// One rule made stricter, by how much or for what.
#[derive(Debug, Clone, Copy)]
enum Tighten {
    RaiseMinimum(Sompi),
    LowerMaximum(Sompi),
    Deny(u8),
    ShrinkAllow(u8),
    LowerGlobalCap(Sompi),
    LowerSourceCap(usize, Sompi),
    Pause,
}

impl Tighten {
    /// Whether the rule is one whose decisions carry no state (everything but the caps).
    fn is_stateless(self) -> bool {
        !matches!(self, Self::LowerGlobalCap(_) | Self::LowerSourceCap(..))
    }
}

fn arb_tighten() -> impl Strategy<Value = Tighten> {
    prop_oneof![
        (1..800u64).prop_map(Tighten::RaiseMinimum),
        (1..800u64).prop_map(Tighten::LowerMaximum),
        (0..DESTINATIONS).prop_map(Tighten::Deny),
        (0..DESTINATIONS).prop_map(Tighten::ShrinkAllow),
        (1..3_000u64).prop_map(Tighten::LowerGlobalCap),
        (0..KINDS.len(), 1..2_000u64).prop_map(|(k, by)| Tighten::LowerSourceCap(k, by)),
        Just(Tighten::Pause),
    ]
}

/// `loose` with one rule tightened; still a valid configuration. A list change that would leave the
/// allow list empty pauses instead (an empty allow list is refused; refusing everything is a pause).
fn tighten(loose: &PolicyConfig, how: Tighten) -> PolicyConfig {
    let mut tight = loose.clone();
    let remove_allowed = |tight: &mut PolicyConfig, d: &ScriptPublicKey| {
        if let Some(allow) = &mut tight.allow {
            allow.retain(|a| a != d);
            if allow.is_empty() {
                tight.allow = None;
                tight.paused = true;
            }
        }
    };
    match how {
        Tighten::RaiseMinimum(by) => tight.min_amount = (tight.min_amount + by).min(tight.max_amount),
        Tighten::LowerMaximum(by) => {
            tight.max_amount = tight.max_amount.saturating_sub(by).max(tight.min_amount);
        }
        Tighten::Deny(d) => {
            let d = destination(d);
            remove_allowed(&mut tight, &d);
            if !tight.deny.contains(&d) {
                tight.deny.push(d);
            }
        }
        Tighten::ShrinkAllow(d) => {
            let d = destination(d);
            if tight.allow.is_none() {
                // No allow list admits every destination not denied: allow all of those but `d`.
                let all = (0..DESTINATIONS).map(destination).filter(|a| !tight.deny.contains(a)).collect();
                tight.allow = Some(all);
            }
            remove_allowed(&mut tight, &d);
        }
        Tighten::LowerGlobalCap(by) => {
            tight.global_cap = Some(tight.global_cap.unwrap_or(5_000).saturating_sub(by).max(1));
        }
        Tighten::LowerSourceCap(k, by) => {
            let source = KINDS[k];
            let cap = tight.source_cap(source).unwrap_or(3_000).saturating_sub(by).max(1);
            tight.source_caps.retain(|c| c.source != source);
            tight.source_caps.push(SourceCap { source, cap });
        }
        Tighten::Pause => tight.paused = true,
    }
    assert_eq!(tight.validate(), Ok(()), "{how:?} keeps the configuration valid");
    tight
}

/// Turns the steps into (wall clock, event) pairs: the clock starts at `T0` and never goes below it.
fn schedule(steps: &[Step]) -> Vec<(UnixMs, Event)> {
    let mut clock = T0.0;
    let mut events: Vec<Event> = Vec::new();
    let mut out = Vec::new();
    for (n, step) in (0u32..).zip(steps) {
        clock = clock.saturating_add_signed(step.clock_ms).max(T0.0);
        let event = match step.repeat {
            Some(k) if !events.is_empty() => events[k % events.len()].clone(),
            _ => request(n, KINDS[step.kind], step.destination, step.amount),
        };
        events.push(event.clone());
        out.push((UnixMs(clock), event));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Proves per-step monotonicity for every rule, caps included: replaying a random sequence of
    /// `commit` calls on the tight policy, each event it admits is also admitted by the loose policy
    /// when that one holds the tight policy's admitted history (it commits exactly what the tight one
    /// committed, at the same dates, and its clock follows the same wall clock). The loose policy never
    /// refuses such an event, so no tightening can let through what the looser rule would stop.
    #[test]
    fn a_tighter_policy_admits_nothing_the_looser_one_refuses_on_the_same_history(
        loose in arb_config(),
        how in arb_tighten(),
        steps in vec(arb_step(), 1..60),
    ) {
        let tight_config = tighten(&loose, how);
        let mut tight = Policy::new(tight_config).unwrap();
        let mut shadow = Policy::new(loose).unwrap();
        let mut admitted = 0;
        for (k, (wall, event)) in schedule(&steps).into_iter().enumerate() {
            // A refused commit leaves a policy's clock alone; both clocks follow the wall clock.
            tight.prune(wall);
            shadow.prune(wall);
            let verdict = shadow.check(wall, &event);
            if let Ok(commitment) = tight.commit(wall, &event) {
                admitted += 1;
                prop_assert_eq!(verdict, Ok(()), "step {}: {:?} admitted by the tight policy only", k, event.id());
                prop_assert_eq!(shadow.commit(wall, &event), Ok(commitment), "the same commitment");
            }
            prop_assert_eq!(shadow.time(), tight.time());
        }
        // Both ledgers hold the same commitments at the end: the histories really were the same.
        let ledger = |p: &Policy| p.commitments().map(|(id, c)| (*id, *c)).collect::<Vec<(EventId, _)>>();
        prop_assert_eq!(ledger(&tight), ledger(&shadow));
        prop_assert!(admitted <= steps.len());
    }

    /// Proves whole-sequence monotonicity for the rules without state (amount bounds, deny list, allow
    /// list, pause) on a policy without caps: replaying one sequence of `commit` calls on both
    /// policies independently, every event the tight policy admits the loose one admits too, and every
    /// refusal of the loose policy is also a refusal of the tight one.
    #[test]
    fn without_caps_the_tight_policy_admits_a_subset_of_the_same_sequence(
        loose in arb_config(),
        how in arb_tighten().prop_filter("rules without state", |how| how.is_stateless()),
        steps in vec(arb_step(), 1..60),
    ) {
        let loose = PolicyConfig { global_cap: None, source_caps: vec![], ..loose };
        let mut tight = Policy::new(tighten(&loose, how)).unwrap();
        let mut loose = Policy::new(loose).unwrap();
        let (mut admitted_tight, mut admitted_loose) = (BTreeSet::new(), BTreeSet::new());
        for (k, (wall, event)) in schedule(&steps).into_iter().enumerate() {
            let (t, l) = (tight.commit(wall, &event), loose.commit(wall, &event));
            prop_assert!(t.is_err() || l.is_ok(), "step {}: tight {:?}, loose {:?}", k, t, l);
            if t.is_ok() {
                admitted_tight.insert((k, event.id()));
            }
            if l.is_ok() {
                admitted_loose.insert((k, event.id()));
            }
        }
        prop_assert!(admitted_tight.is_subset(&admitted_loose));
    }
}

/// Why the subset property needs the same history: with caps, a tighter cap can admit an event a looser
/// cap refused, because the looser policy spent its capacity on an earlier event the tighter one
/// refused.
#[test]
fn a_tighter_cap_can_admit_what_a_looser_one_refused() {
    let loose = PolicyConfig {
        min_amount: 1,
        max_amount: 1_000,
        allow: None,
        deny: vec![],
        window_ms: 60_000,
        global_cap: Some(1_000),
        source_caps: vec![],
        paused: false,
    };
    let tight_config = tighten(&loose, Tighten::LowerGlobalCap(500));
    assert_eq!(tight_config.global_cap, Some(500));
    let (mut loose, mut tight) = (Policy::new(loose).unwrap(), Policy::new(tight_config).unwrap());
    let big = request(1, SourceKind::Operators, 1, 600);
    let small = request(2, SourceKind::Operators, 1, 500);
    assert!(loose.commit(T0, &big).is_ok());
    assert!(matches!(tight.commit(T0, &big), Err(PolicyViolation::GlobalCapExceeded { .. })));
    assert!(matches!(loose.commit(T0, &small), Err(PolicyViolation::GlobalCapExceeded { used: 600, .. })));
    assert!(tight.commit(T0, &small).is_ok(), "the tight policy admits what the loose one refused");
}

/// The ledger's running totals against a recount: after any sequence of commits, releases and prunes at
/// moving times, the volume (in all and per source) and every cap decision are what summing the
/// commitments that count gives.
mod running_totals {
    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Commit { advance_ms: u64, kind: usize, amount: Sompi },
        Release(usize),
        Prune { advance_ms: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..40, 0usize..3, 1u64..500).prop_map(|(advance_ms, kind, amount)| Op::Commit { advance_ms, kind, amount }),
            1 => (0usize..64).prop_map(Op::Release),
            1 => (0u64..120).prop_map(|advance_ms| Op::Prune { advance_ms }),
        ]
    }

    fn recount(policy: &Policy, now: UnixMs, source: Option<SourceKind>) -> Sompi {
        let time = UnixMs(now.0.max(policy.time().0));
        policy
            .commitments()
            .filter(|(_, c)| c.counts_at(time, policy.config().window_ms))
            .filter(|(_, c)| source.is_none_or(|s| c.source == s))
            .map(|(_, c)| c.amount)
            .sum()
    }

    proptest! {
        #[test]
        fn volumes_match_a_recount(ops in vec(op(), 1..120), cap in 200u64..3_000) {
            let config = PolicyConfig {
                min_amount: 1,
                max_amount: 1_000,
                allow: None,
                deny: vec![],
                window_ms: 100,
                global_cap: Some(cap),
                source_caps: vec![SourceCap { source: SourceKind::Operators, cap: cap / 2 }],
                paused: false,
            };
            let mut policy = Policy::new(config).unwrap();
            let mut now = T0;
            let mut committed: Vec<EventId> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Commit { advance_ms, kind, amount } => {
                        now = UnixMs(now.0 + advance_ms);
                        let event = request(u32::try_from(n).unwrap(), KINDS[kind], 0, amount);
                        let used = recount(&policy, now, None);
                        let by_source = recount(&policy, now, Some(KINDS[kind]));
                        let result = policy.commit(now, &event);
                        let fits = used + amount <= cap
                            && (KINDS[kind] != SourceKind::Operators || by_source + amount <= cap / 2);
                        prop_assert_eq!(result.is_ok(), fits, "used {} by source {} amount {}: {:?}", used, by_source, amount, result);
                        if result.is_ok() {
                            committed.push(event.id());
                        }
                    }
                    Op::Release(k) => {
                        if !committed.is_empty() {
                            let id = committed.remove(k % committed.len());
                            policy.release(&id);
                        }
                    }
                    Op::Prune { advance_ms } => {
                        now = UnixMs(now.0 + advance_ms);
                        policy.prune(now);
                    }
                }
                for source in [None, Some(SourceKind::Operators), Some(SourceKind::Hyperlane)] {
                    prop_assert_eq!(policy.volume(now, source), recount(&policy, now, source));
                }
            }
        }
    }
}
