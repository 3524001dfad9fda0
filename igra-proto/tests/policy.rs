//! The signer policy engine through its public API: every rule, the rolling window under injected
//! (and misbehaving) time, caps under concurrent events, release, restore, and a randomized property.

use igra_proto::event::operators::OperatorAttestation;
use igra_proto::event::policy::{
    Commitment, MAX_COMMITMENTS, Policy, PolicyConfig, PolicyConfigError, PolicyViolation, RestoreError,
    SourceCap,
};
use igra_proto::event::{Attestation, Event, EventSource, SourceKind};
use igra_proto::kaspa::tx::{ScriptPublicKey, Sompi};
use igra_proto::template::Payment;
use igra_proto::wire::BoundedVec;
use igra_proto::{EventId, UnixMs};

const WINDOW: u64 = 60_000;
const T0: u64 = 1_700_000_000_000;

fn script(byte: u8) -> ScriptPublicKey {
    ScriptPublicKey { version: 0, script: vec![0x20, byte, 0xac] }
}

/// Event number `n` from `kind`, paying `amount` to destination `dest`.
fn event(kind: SourceKind, n: u32, dest: u8, amount: Sompi) -> Event {
    let mut external_id = [0; 32];
    external_id[..4].copy_from_slice(&n.to_le_bytes());
    Event {
        source: EventSource { kind, id: 0 },
        external_id,
        payment: Payment { destination: script(dest), amount },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    }
}

fn ops(n: u32, amount: Sompi) -> Event {
    event(SourceKind::Operators, n, 1, amount)
}

/// Amounts 10..=1000, any destination but 9, 2000 per window overall, 1500 from operators.
fn config() -> PolicyConfig {
    PolicyConfig {
        min_amount: 10,
        max_amount: 1_000,
        allow: None,
        deny: vec![script(9)],
        window_ms: WINDOW,
        global_cap: Some(2_000),
        source_caps: vec![SourceCap { source: SourceKind::Operators, cap: 1_500 }],
        paused: false,
    }
}

fn policy() -> Policy {
    Policy::new(config()).unwrap()
}

fn at(ms: u64) -> UnixMs {
    UnixMs(T0 + ms)
}

#[test]
fn each_rule_refuses_with_its_own_violation() {
    let mut p = policy();
    assert_eq!(p.check(at(0), &ops(1, 10)), Ok(()));
    assert_eq!(p.check(at(0), &ops(1, 1_000)), Ok(()));
    assert_eq!(p.check(at(0), &ops(1, 9)), Err(PolicyViolation::AmountBelowMinimum { amount: 9, min: 10 }));
    assert_eq!(
        p.check(at(0), &ops(1, 1_001)),
        Err(PolicyViolation::AmountAboveMaximum { amount: 1_001, max: 1_000 })
    );
    assert_eq!(
        p.check(at(0), &event(SourceKind::Operators, 1, 9, 100)),
        Err(PolicyViolation::DestinationDenied)
    );

    let allow_list =
        Policy::new(PolicyConfig { allow: Some(vec![script(1), script(2)]), ..config() }).unwrap();
    assert_eq!(allow_list.check(at(0), &event(SourceKind::Operators, 1, 2, 100)), Ok(()));
    assert_eq!(
        allow_list.check(at(0), &event(SourceKind::Operators, 1, 3, 100)),
        Err(PolicyViolation::DestinationNotAllowed)
    );
    // Another script version is another destination.
    let mut v1 = event(SourceKind::Operators, 1, 2, 100);
    v1.payment.destination.version = 1;
    assert_eq!(allow_list.check(at(0), &v1), Err(PolicyViolation::DestinationNotAllowed));

    p.commit(at(0), &ops(1, 1_000)).unwrap();
    assert_eq!(
        p.check(at(0), &ops(2, 600)),
        Err(PolicyViolation::SourceCapExceeded {
            source: SourceKind::Operators,
            used: 1_000,
            amount: 600,
            cap: 1_500
        })
    );
    p.commit(at(0), &event(SourceKind::Hyperlane, 2, 1, 900)).unwrap();
    assert_eq!(
        p.check(at(0), &event(SourceKind::LayerZero, 3, 1, 200)),
        Err(PolicyViolation::GlobalCapExceeded { used: 1_900, amount: 200, cap: 2_000 })
    );

    // Rules run in order: a pause refuses before anything else is looked at.
    p.set_paused(true);
    assert!(p.is_paused());
    assert_eq!(p.check(at(0), &event(SourceKind::Operators, 4, 9, 1)), Err(PolicyViolation::Paused));
}

#[test]
fn a_cap_frees_exactly_when_the_window_passes_a_commitment() {
    let mut p = policy();
    assert_eq!(
        p.commit(at(0), &ops(1, 1_000)).unwrap(),
        Commitment { at: at(0), source: SourceKind::Operators, amount: 1_000 }
    );
    p.commit(at(10), &ops(2, 500)).unwrap();
    let next = ops(3, 400);
    let refused = PolicyViolation::SourceCapExceeded {
        source: SourceKind::Operators,
        used: 1_500,
        amount: 400,
        cap: 1_500,
    };
    assert_eq!(p.check(at(WINDOW - 1), &next), Err(refused));
    assert_eq!(p.commit(at(WINDOW - 1), &next), Err(refused));
    // The window is (now - WINDOW, now]: at now = WINDOW the first commitment has left it.
    assert_eq!(p.volume(at(WINDOW), None), 500);
    assert_eq!(p.commit(at(WINDOW), &next).unwrap().at, at(WINDOW));
    assert_eq!(p.volume(at(WINDOW), Some(SourceKind::Operators)), 900);
    // Committing pruned the commitment that left the window.
    assert_eq!(p.commitment(&ops(1, 1_000).id()), None);
    assert_eq!(p.commitments().count(), 2);
    assert_eq!(p.prune(at(WINDOW + 10)), 1);
    assert_eq!(p.volume(at(WINDOW + 10), None), 400);
}

#[test]
fn two_events_that_fit_alone_do_not_fit_together() {
    // Both are in flight: neither has completed, and the second is still refused.
    let mut p = policy();
    let (a, b) = (ops(1, 900), ops(2, 700));
    assert_eq!(p.check(at(0), &a), Ok(()));
    assert_eq!(p.check(at(0), &b), Ok(()));
    p.commit(at(0), &a).unwrap();
    assert_eq!(
        p.commit(at(1), &b),
        Err(PolicyViolation::SourceCapExceeded {
            source: SourceKind::Operators,
            used: 900,
            amount: 700,
            cap: 1_500
        })
    );
    assert_eq!(p.commitment(&b.id()), None);
    assert_eq!(p.volume(at(1), None), 900);
}

#[test]
fn an_event_counts_once_however_often_it_is_committed() {
    let mut p = policy();
    let a = ops(1, 1_000);
    let first = p.commit(at(0), &a).unwrap();
    // Re-checking and re-committing a committed event passes even though it fills the cap twice over.
    assert_eq!(p.check(at(5), &a), Ok(()));
    assert_eq!(p.commit(at(5), &a), Ok(first));
    assert_eq!(p.commit(at(WINDOW - 1), &a), Ok(first));
    assert_eq!(p.volume(at(5), None), 1_000);
    assert_eq!(p.commitments().count(), 1);
    // Once it has left the window, committing it again (a new epoch, signed anew) counts anew.
    let again = p.commit(at(WINDOW), &a).unwrap();
    assert_eq!(again.at, at(WINDOW));
    assert_eq!(p.volume(at(WINDOW), None), 1_000);
}

#[test]
fn releasing_an_abandoned_event_frees_its_capacity() {
    let mut p = policy();
    let (a, b) = (ops(1, 900), ops(2, 700));
    let committed = p.commit(at(0), &a).unwrap();
    assert!(p.check(at(1), &b).is_err());
    assert_eq!(p.release(&a.id()), Some(committed));
    assert_eq!(p.release(&a.id()), None);
    assert_eq!(p.volume(at(1), None), 0);
    assert_eq!(p.commit(at(1), &b).map(|c| c.amount), Ok(700));
}

#[test]
fn source_caps_and_the_global_cap_bind_separately() {
    let mut p = policy();
    // Hyperlane has no cap of its own: only the global cap bounds it.
    p.commit(at(0), &event(SourceKind::Hyperlane, 1, 1, 1_000)).unwrap();
    p.commit(at(0), &event(SourceKind::Hyperlane, 2, 1, 600)).unwrap();
    assert_eq!(p.volume(at(0), Some(SourceKind::Hyperlane)), 1_600);
    assert_eq!(p.volume(at(0), Some(SourceKind::Operators)), 0);
    // Operators are under their own cap but the global cap is reached.
    assert_eq!(
        p.check(at(0), &ops(3, 500)),
        Err(PolicyViolation::GlobalCapExceeded { used: 1_600, amount: 500, cap: 2_000 })
    );
    p.commit(at(0), &ops(3, 400)).unwrap();
    assert_eq!(p.volume(at(0), None), 2_000);

    // Without a global cap, each source is bounded by its own cap only.
    let mut p = Policy::new(PolicyConfig {
        global_cap: None,
        source_caps: vec![
            SourceCap { source: SourceKind::Operators, cap: 1_500 },
            SourceCap { source: SourceKind::LayerZero, cap: 100 },
        ],
        ..config()
    })
    .unwrap();
    for n in 0..10 {
        p.commit(at(0), &event(SourceKind::Hyperlane, n, 1, 1_000)).unwrap();
    }
    p.commit(at(0), &ops(20, 1_000)).unwrap();
    p.commit(at(0), &event(SourceKind::LayerZero, 21, 1, 100)).unwrap();
    assert_eq!(
        p.check(at(0), &event(SourceKind::LayerZero, 22, 1, 10)),
        Err(PolicyViolation::SourceCapExceeded {
            source: SourceKind::LayerZero,
            used: 100,
            amount: 10,
            cap: 100
        })
    );
    assert_eq!(p.volume(at(0), None), 11_100);
}

#[test]
fn a_paused_signer_refuses_even_what_it_committed_to() {
    let mut p = Policy::new(PolicyConfig { paused: true, ..config() }).unwrap();
    assert_eq!(p.commit(at(0), &ops(1, 100)), Err(PolicyViolation::Paused));
    p.set_paused(false);
    let a = ops(1, 100);
    p.commit(at(0), &a).unwrap();
    p.set_paused(true);
    assert!(p.config().paused);
    // It voted for the event, but does not sign it while paused; the commitment stays.
    assert_eq!(p.check(at(1), &a), Err(PolicyViolation::Paused));
    assert_eq!(p.commit(at(1), &a), Err(PolicyViolation::Paused));
    assert_eq!(p.volume(at(1), None), 100);
    p.set_paused(false);
    assert_eq!(p.commit(at(2), &a).map(|c| c.at), Ok(at(0)));
}

#[test]
fn a_clock_going_backwards_frees_no_capacity() {
    let mut p = policy();
    p.commit(at(0), &ops(1, 1_000)).unwrap();
    // The first commitment leaves the window; the second is dated WINDOW.
    assert_eq!(p.commit(at(WINDOW), &ops(2, 1_000)).unwrap().at, at(WINDOW));
    assert_eq!(p.time(), at(WINDOW));
    // The clock steps back half a window. Read naively, the pruned first commitment would still be in
    // the window and the second would be in the future; the policy's time does not step back, so the
    // second counts in full and nothing else is freed.
    let back = at(WINDOW / 2);
    assert_eq!(p.volume(back, None), 1_000);
    assert_eq!(
        p.check(back, &ops(3, 600)),
        Err(PolicyViolation::SourceCapExceeded {
            source: SourceKind::Operators,
            used: 1_000,
            amount: 600,
            cap: 1_500
        })
    );
    // A commitment made while the clock is behind is dated at the policy's time, not in the past...
    assert_eq!(p.commit(back, &ops(3, 500)).unwrap().at, at(WINDOW));
    assert_eq!(p.time(), at(WINDOW));
    // ...so both count until the policy's time reaches WINDOW + WINDOW, whatever the clock says meanwhile.
    assert_eq!(p.prune(UnixMs(0)), 0);
    assert_eq!(p.volume(at(2 * WINDOW - 1), None), 1_500);
    assert_eq!(p.volume(at(2 * WINDOW), None), 0);
    // Extreme readings do not panic.
    assert_eq!(p.volume(UnixMs(u64::MAX), None), 0);
    assert_eq!(
        p.check(UnixMs(0), &ops(4, 10)),
        Err(PolicyViolation::SourceCapExceeded {
            source: SourceKind::Operators,
            used: 1_500,
            amount: 10,
            cap: 1_500
        })
    );
}

#[test]
fn commitments_dated_in_the_future_count_until_the_window_passes_them() {
    // A ledger restored on a node whose clock is behind the one that made the commitments.
    let ahead = Commitment { at: at(10 * WINDOW), source: SourceKind::Operators, amount: 1_500 };
    let id = ops(1, 1_500).id();
    let p = Policy::restore(config(), at(0), &[(id, ahead)]).unwrap();
    assert_eq!(p.time(), at(10 * WINDOW));
    assert_eq!(p.volume(at(0), None), 1_500);
    assert!(p.check(at(0), &ops(2, 10)).is_err());
    assert!(p.check(at(11 * WINDOW - 1), &ops(2, 10)).is_err());
    assert_eq!(p.check(at(11 * WINDOW), &ops(2, 10)), Ok(()));
}

#[test]
fn a_restored_policy_decides_as_the_original() {
    let mut original = policy();
    original.commit(at(0), &ops(1, 700)).unwrap();
    original.commit(at(20_000), &event(SourceKind::Hyperlane, 2, 1, 900)).unwrap();
    original.commit(at(40_000), &ops(3, 300)).unwrap();
    original.commit(at(50_000), &event(SourceKind::LayerZero, 4, 1, 50)).unwrap();
    let persisted: Vec<(EventId, Commitment)> = original.commitments().map(|(id, c)| (*id, *c)).collect();
    let restored = Policy::restore(config(), original.time(), &persisted).unwrap();
    assert_eq!(restored, original);

    let probes = [
        ops(1, 700),
        ops(5, 500),
        ops(6, 600),
        event(SourceKind::Hyperlane, 7, 1, 400),
        event(SourceKind::LayerZero, 8, 1, 100),
        event(SourceKind::LayerZero, 9, 9, 100),
    ];
    let mut decisions = 0;
    for t in (0..=2 * WINDOW).step_by(5_000) {
        for probe in &probes {
            assert_eq!(restored.check(at(t), probe), original.check(at(t), probe), "t = {t}");
            decisions += usize::from(original.check(at(t), probe).is_ok());
        }
        for source in [None, Some(SourceKind::Operators), Some(SourceKind::Hyperlane)] {
            assert_eq!(restored.volume(at(t), source), original.volume(at(t), source));
        }
    }
    assert!(decisions > 0 && decisions < 25 * probes.len(), "the probes must see both answers");

    // Restoring later drops what no longer counts; the decisions are still the same.
    let later = Policy::restore(config(), at(WINDOW + 30_000), &persisted).unwrap();
    assert_eq!(later.commitments().count(), 2);
    for probe in &probes {
        assert_eq!(later.check(at(WINDOW + 30_000), probe), original.check(at(WINDOW + 30_000), probe));
    }
}

#[test]
fn restore_refuses_a_bad_config_duplicates_and_an_overfull_ledger() {
    let c = Commitment { at: at(0), source: SourceKind::Operators, amount: 10 };
    let id = ops(1, 10).id();
    assert_eq!(
        Policy::restore(PolicyConfig { window_ms: 0, ..config() }, at(0), &[]),
        Err(RestoreError::Config(PolicyConfigError::ZeroWindow))
    );
    assert_eq!(
        Policy::restore(config(), at(0), &[(id, c), (id, c)]),
        Err(RestoreError::DuplicateCommitment(id))
    );
    // A duplicate that no longer counts is dropped before it is compared.
    let stale = Commitment { at: UnixMs(0), ..c };
    assert!(Policy::restore(config(), at(0), &[(id, stale), (id, c)]).is_ok());
    let too_many: Vec<_> = (0..=MAX_COMMITMENTS).map(|i| (numbered(i), c)).collect();
    assert_eq!(Policy::restore(config(), at(0), &too_many), Err(RestoreError::TooManyCommitments));
    assert_eq!(Policy::new(PolicyConfig { min_amount: 0, ..config() }), Err(PolicyConfigError::ZeroMinimum));
}

fn numbered(i: usize) -> EventId {
    let mut id = [0xee; 32];
    id[..8].copy_from_slice(&(i as u64).to_le_bytes());
    EventId(id)
}

#[test]
fn a_full_ledger_refuses_new_events_until_commitments_leave_the_window() {
    let open = PolicyConfig { global_cap: None, source_caps: vec![], ..config() };
    let old = Commitment { at: at(0), source: SourceKind::Hyperlane, amount: 10 };
    let mut full: Vec<_> = (0..MAX_COMMITMENTS).map(|i| (numbered(i), old)).collect();
    let mut p = Policy::restore(open.clone(), at(0), &full).unwrap();
    assert_eq!(p.commit(at(1), &ops(1, 10)), Err(PolicyViolation::LedgerFull));
    assert_eq!(p.commitments().count(), MAX_COMMITMENTS);
    // An event already in the ledger still passes: it takes no new room.
    full[0] = (ops(1, 10).id(), Commitment { at: at(1), source: SourceKind::Operators, amount: 10 });
    let with_it = Policy::restore(open, at(1), &full).unwrap();
    assert_eq!(with_it.check(at(2), &ops(1, 10)), Ok(()));
    assert_eq!(with_it.check(at(2), &ops(2, 10)), Err(PolicyViolation::LedgerFull));
    // Once the window has passed them, the room is back.
    assert_eq!(p.commit(at(WINDOW), &ops(1, 10)).map(|c| c.at), Ok(at(WINDOW)));
    assert_eq!(p.commitments().count(), 1);
}

#[test]
fn violations_have_distinct_codes_and_readable_messages() {
    let all = [
        PolicyViolation::Paused,
        PolicyViolation::AmountBelowMinimum { amount: 1, min: 2 },
        PolicyViolation::AmountAboveMaximum { amount: 3, max: 2 },
        PolicyViolation::DestinationDenied,
        PolicyViolation::DestinationNotAllowed,
        PolicyViolation::GlobalCapExceeded { used: 1, amount: 2, cap: 2 },
        PolicyViolation::SourceCapExceeded { source: SourceKind::LayerZero, used: 1, amount: 2, cap: 2 },
        PolicyViolation::LedgerFull,
    ];
    let mut codes: Vec<&str> = all.iter().map(PolicyViolation::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    for v in &all {
        assert!(!v.to_string().is_empty());
        let bytes = postcard::to_allocvec(v).unwrap();
        assert_eq!(postcard::from_bytes::<PolicyViolation>(&bytes).unwrap(), *v);
    }
    assert_eq!(
        all[6].to_string(),
        "1 sompi committed in the window for LayerZero plus 2 sompi would exceed its cap of 2 sompi"
    );
}

/// A 64-bit linear congruential generator: enough to drive a reproducible random walk.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The most committed in any window `(t - w, t]`, overall and per source, over `log`. The maximum is
/// reached at a window ending on a commitment's date, so those are the only windows to try.
fn max_window_volumes(log: &[(EventId, Commitment)], w: u64) -> [Sompi; 4] {
    let mut most = [0; 4];
    for (_, end) in log {
        let inside = log.iter().filter(|(_, c)| c.at <= end.at && c.at.0 + w > end.at.0);
        let mut sums = [0; 4];
        for (_, c) in inside {
            sums[0] += c.amount;
            sums[usize::from(c.source.code())] += c.amount;
        }
        for (m, s) in most.iter_mut().zip(sums) {
            *m = (*m).max(s);
        }
    }
    most
}

#[test]
fn random_commit_sequences_never_exceed_a_cap_in_any_window() {
    let w = 1_000;
    let config = PolicyConfig {
        min_amount: 1,
        max_amount: 4_000,
        allow: None,
        deny: vec![],
        window_ms: w,
        global_cap: Some(10_000),
        source_caps: vec![
            SourceCap { source: SourceKind::Hyperlane, cap: 6_000 },
            SourceCap { source: SourceKind::Operators, cap: 5_000 },
        ],
        paused: false,
    };
    let caps = [10_000, 6_000, Sompi::MAX, 5_000];
    let kinds = [SourceKind::Hyperlane, SourceKind::LayerZero, SourceKind::Operators];
    for seed in 1..=4u64 {
        let mut rng = Lcg(seed);
        let mut policy = Policy::new(config.clone()).unwrap();
        // Every commitment made and not released, pruned or not.
        let mut log: Vec<(EventId, Commitment)> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        let (mut accepted, mut refused, mut now, mut last_date) = (0, 0, 5_000u64, UnixMs(0));
        for step in 0..3_000u32 {
            // Time mostly moves forward, sometimes steps back.
            now =
                if rng.below(20) == 0 { now.saturating_sub(rng.below(1_500)) } else { now + rng.below(400) };
            let roll = rng.below(100);
            if roll < 75 || events.is_empty() {
                let kind = kinds[usize::try_from(rng.below(3)).unwrap()];
                events.push(event(kind, step, 1, 1 + rng.below(4_000)));
            }
            if roll < 90 {
                // A new event, or the vote or signature for a recent one.
                let back = usize::try_from(rng.below(4)).unwrap().min(events.len() - 1);
                let e = &events[events.len() - 1 - back];
                match policy.commit(UnixMs(now), e) {
                    Ok(c) => {
                        accepted += 1;
                        if !log.contains(&(e.id(), c)) {
                            assert!(c.at >= last_date, "new commitments are never dated before older ones");
                            last_date = c.at;
                            log.push((e.id(), c));
                        }
                    }
                    Err(_) => refused += 1,
                }
            } else if roll < 97 {
                let i = usize::try_from(rng.below(u64::try_from(log.len().max(1)).unwrap())).unwrap();
                if let Some((id, c)) = log.get(i).copied()
                    && policy.release(&id) == Some(c)
                {
                    log.remove(i);
                }
            } else {
                policy.prune(UnixMs(now));
            }
            // The engine's volume is exactly what the log says counts at the policy's time.
            let time = policy.time().max(UnixMs(now));
            let expected: Sompi =
                log.iter().filter(|(_, c)| c.counts_at(time, w)).map(|(_, c)| c.amount).sum();
            assert_eq!(policy.volume(UnixMs(now), None), expected, "seed {seed} step {step}");
            if step % 500 == 499 {
                let most = max_window_volumes(&log, w);
                for (m, cap) in most.iter().zip(caps) {
                    assert!(*m <= cap, "seed {seed} step {step}: {most:?} against {caps:?}");
                }
            }
        }
        println!("seed {seed}: {accepted} accepted, {refused} refused, {} logged", log.len());
        assert!(accepted > 500 && refused > 100, "seed {seed}: {accepted} accepted, {refused} refused");
    }
}
