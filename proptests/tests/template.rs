//! Transaction templates through the public API: build, validate, sign, verify, finalize; every builder
//! error; and the builder's properties (deterministic, always valid, exact fee, tamper-evident).

use std::collections::BTreeSet;

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::mass::{self, MassReport};
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, Transaction, UtxoEntry};
use igra_proto::template::sign::SignatureError;
use igra_proto::template::{
    BuildError, BuildRequest, FeeMode, Payment, Template, TemplateError, TemplatePolicy, Utxo, build,
    output_key, output_keys, validate,
};
use igra_proto::{EventId, MemberIndex, SigningPublicKey, TransactionId};
use proptest::prelude::*;
use proptests::{Fixture, fixture};

const DAA: u64 = 1_000_000;

fn utxo(script: &MultisigScript, tag: u32, amount: u64) -> Utxo {
    let mut txid = [0u8; 32];
    txid[..4].copy_from_slice(&tag.to_le_bytes());
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId(txid), index: tag % 3 },
        entry: UtxoEntry {
            amount,
            script_public_key: script.script_public_key(),
            block_daa_score: DAA - 10_000,
            is_coinbase: false,
        },
    }
}

fn payment(amount: u64) -> Payment {
    Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount }
}

struct Setup {
    f: Fixture,
    script: MultisigScript,
    utxos: Vec<Utxo>,
    policy: TemplatePolicy,
    reserved: BTreeSet<Outpoint>,
}

fn setup(n: u8, m: u8, amounts: &[u64]) -> Setup {
    let f = fixture(n, m);
    let script = MultisigScript::for_group(&f.group).unwrap();
    let utxos = (0u32..).zip(amounts).map(|(i, &a)| utxo(&script, i, a)).collect();
    Setup { f, script, utxos, policy: TemplatePolicy::default(), reserved: BTreeSet::new() }
}

impl Setup {
    fn request<'a>(&'a self, payment: &'a Payment, round: u32) -> BuildRequest<'a> {
        BuildRequest {
            event_id: EventId([7; 32]),
            epoch: 0,
            round,
            payment,
            group_script: &self.script,
            policy: &self.policy,
            utxos: &self.utxos,
            output_keys: None,
            reserved: &self.reserved,
            virtual_daa_score: DAA,
        }
    }

    fn build(&self, payment: &Payment) -> Result<Template, BuildError> {
        build(&self.request(payment, 0))
    }

    fn validate(
        &self,
        template: &Template,
        payment: &Payment,
    ) -> Result<igra_proto::template::ValidatedTemplate, TemplateError> {
        validate(template, template.hash(), payment, &self.script, &self.policy)
    }
}

/// Checks a finalized input the way CHECKMULTISIG does: `m` signature pushes whose signatures verify, in
/// key order, against the redeem script's keys, then the redeem script.
fn check_multisig_input(tx: &Transaction, entries: &[UtxoEntry], index: usize, script: &MultisigScript) {
    let sig_script = &tx.inputs[index].signature_script;
    let sighash = SighashContext::new(tx).schnorr(index, &entries[index], SigHashType::ALL).unwrap();
    let mut keys = script.keys().iter();
    let m = usize::from(script.threshold());
    for k in 0..m {
        let push = &sig_script[k * 66..(k + 1) * 66];
        assert_eq!(push[0], 0x41);
        assert_eq!(push[65], SigHashType::ALL.byte());
        let sig = igra_proto::SchnorrSignature(push[1..65].try_into().unwrap());
        assert!(keys.any(|key| key.verify_schnorr(&sighash, &sig).is_ok()), "signature {k} of input {index}");
    }
    assert!(sig_script.ends_with(script.script()));
}

fn sign_and_finalize(s: &Setup, template: &Template, signers: &[u8]) -> Transaction {
    let sighashes = template.sighashes();
    let mut all = Vec::new();
    for &i in signers {
        let sigs = template.sign(&s.f.signers[usize::from(i)], MemberIndex(i), &[i; 32]).unwrap();
        for sig in &sigs {
            assert_eq!(template.verify_signature(&s.f.group, &sighashes, sig), Ok(()));
        }
        all.extend(sigs);
    }
    template.finalize(&s.f.group, &s.script, &all).unwrap()
}

#[test]
fn multisig_spends_are_built_signed_and_finalized() {
    for (n, m, signers) in [(3u8, 2u8, vec![2u8, 0]), (5, 3, vec![4, 1, 3])] {
        let s =
            setup(n, m, &[3 * SOMPI_PER_KASPA, 2 * SOMPI_PER_KASPA, 5 * SOMPI_PER_KASPA, SOMPI_PER_KASPA]);
        let pay = payment(6 * SOMPI_PER_KASPA);
        let template = s.build(&pay).unwrap();
        let checked = s.validate(&template, &pay).unwrap();
        assert!(template.transaction.inputs.len() >= 2);
        let signed = sign_and_finalize(&s, &template, &signers);
        assert_eq!(transaction_id(&signed), transaction_id(&template.transaction), "signing keeps the id");
        assert_eq!(mass::size(&signed), checked.mass.size, "the final size was exact before signing");
        assert_eq!(mass::compute_mass(&signed), checked.mass.compute);
        for index in 0..signed.inputs.len() {
            assert_eq!(signed.inputs[index].signature_script.len(), s.script.signature_script_len());
            check_multisig_input(&signed, &template.entries, index, &s.script);
        }
        // The fee is the rule applied to the signed transaction.
        let report = MassReport::of(&signed, &template.entries).unwrap();
        assert_eq!(checked.fee, report.fee_mass() * s.policy.feerate(0));
        assert!(checked.fee >= report.minimum_fee());
    }
}

#[test]
fn partial_signature_verification_rejects_wrong_key_input_and_sighash() {
    let s = setup(3, 2, &[2 * SOMPI_PER_KASPA, 2 * SOMPI_PER_KASPA]);
    let pay = payment(3 * SOMPI_PER_KASPA);
    let template = s.build(&pay).unwrap();
    assert_eq!(template.transaction.inputs.len(), 2);
    let sighashes = template.sighashes();
    let sigs = template.sign(&s.f.signers[0], MemberIndex(0), &[0; 32]).unwrap();
    let good = sigs[0];
    assert_eq!(template.verify_signature(&s.f.group, &sighashes, &good), Ok(()));

    let mut wrong_key = good;
    wrong_key.signer = MemberIndex(1);
    assert_eq!(
        template.verify_signature(&s.f.group, &sighashes, &wrong_key),
        Err(SignatureError::BadSignature { input_index: 0, signer: MemberIndex(1) })
    );
    let mut wrong_input = good;
    wrong_input.input_index = 1;
    assert!(matches!(
        template.verify_signature(&s.f.group, &sighashes, &wrong_input),
        Err(SignatureError::BadSignature { input_index: 1, .. })
    ));
    let other = s.build(&payment(SOMPI_PER_KASPA)).unwrap();
    let other_sig = other.sign(&s.f.signers[0], MemberIndex(0), &[0; 32]).unwrap()[0];
    assert!(matches!(
        template.verify_signature(&s.f.group, &sighashes, &other_sig),
        Err(SignatureError::BadSignature { .. })
    ));
    let mut stranger = good;
    stranger.signer = MemberIndex(9);
    assert_eq!(
        template.verify_signature(&s.f.group, &sighashes, &stranger),
        Err(SignatureError::UnknownSigner(MemberIndex(9)))
    );
    let mut missing = good;
    missing.input_index = 5;
    assert_eq!(
        template.verify_signature(&s.f.group, &sighashes, &missing),
        Err(SignatureError::NoSuchInput(5))
    );
    // One member's signatures are not enough to finalize a 2-of-3 spend.
    assert!(matches!(
        template.finalize(&s.f.group, &s.script, &sigs),
        Err(SignatureError::Script { input_index: 0, .. })
    ));
}

#[test]
fn only_spendable_group_utxos_are_candidates() {
    let mut s = setup(3, 2, &[]);
    let big = 100 * SOMPI_PER_KASPA;
    let mut reserved = utxo(&s.script, 1, big);
    let mut shallow = utxo(&s.script, 2, big);
    shallow.entry.block_daa_score = DAA - 50;
    let mut immature = utxo(&s.script, 3, big);
    immature.entry.is_coinbase = true;
    immature.entry.block_daa_score = DAA - 500;
    let mut future = utxo(&s.script, 4, big);
    future.entry.block_daa_score = DAA + 5;
    let mut foreign = utxo(&s.script, 5, big);
    foreign.entry.script_public_key = pay_to_pubkey(&SigningPublicKey([1; 32]));
    let mut mature = utxo(&s.script, 6, big);
    mature.entry.is_coinbase = true;
    mature.entry.block_daa_score = DAA - 1_000;
    s.reserved.insert(reserved.outpoint);
    reserved.entry.block_daa_score = DAA - 10_000;
    s.utxos = vec![reserved, shallow, immature, future, foreign];
    let pay = payment(SOMPI_PER_KASPA);
    assert!(matches!(s.build(&pay), Err(BuildError::InsufficientFunds { available: 0, .. })));
    s.utxos.push(mature.clone());
    let template = s.build(&pay).unwrap();
    assert_eq!(template.transaction.inputs[0].previous_outpoint, mature.outpoint);
}

#[test]
fn every_builder_error_is_typed() {
    let s = setup(3, 2, &[SOMPI_PER_KASPA; 8]);
    assert_eq!(s.build(&payment(0)), Err(BuildError::InvalidAmount(0)));
    let nonstandard = Payment {
        destination: igra_proto::kaspa::tx::ScriptPublicKey { version: 0, script: vec![0x6a, 1, 2] },
        amount: SOMPI_PER_KASPA,
    };
    assert_eq!(s.build(&nonstandard), Err(BuildError::NonStandardDestination));
    assert!(matches!(
        s.build(&payment(20 * SOMPI_PER_KASPA)),
        Err(BuildError::InsufficientFunds { available, .. }) if available == 8 * SOMPI_PER_KASPA
    ));

    let mut few = setup(3, 2, &[SOMPI_PER_KASPA; 8]);
    few.policy.max_inputs = 2;
    assert_eq!(few.build(&payment(5 * SOMPI_PER_KASPA)), Err(BuildError::TooManyInputs { limit: 2 }));

    let mut light = setup(5, 3, &[SOMPI_PER_KASPA; 8]);
    light.policy.max_compute_mass = 10_000;
    assert!(matches!(
        light.build(&payment(5 * SOMPI_PER_KASPA)),
        Err(BuildError::ExceedsMass { limit: 10_000, .. })
    ));

    let mut cheap = setup(3, 2, &[SOMPI_PER_KASPA; 8]);
    cheap.policy.max_fee = 1_000;
    assert!(matches!(
        cheap.build(&payment(SOMPI_PER_KASPA / 2)),
        Err(BuildError::FeeAboveCap { cap: 1_000, .. })
    ));

    let mut recipient = setup(3, 2, &[SOMPI_PER_KASPA; 8]);
    recipient.policy.fee_mode = FeeMode::RecipientPays;
    assert!(matches!(
        recipient.build(&payment(1_000)),
        Err(BuildError::AmountBelowFee { amount: 1_000, .. })
    ));

    // 0.001 KAS: the payment output alone weighs 10^12 / 10^5 = 10^7 grams of storage mass.
    assert!(matches!(s.build(&payment(100_000)), Err(BuildError::StorageMassTooHigh { .. })));
}

#[test]
fn small_change_is_folded_into_the_fee() {
    let s = setup(3, 2, &[SOMPI_PER_KASPA]);
    // Leave less than min_change after the fee: no change output, the rest is fee.
    let pay = payment(SOMPI_PER_KASPA - 1_000_000);
    let template = s.build(&pay).unwrap();
    assert_eq!(template.transaction.outputs.len(), 1);
    let checked = s.validate(&template, &pay).unwrap();
    assert_eq!(checked.fee, 1_000_000);
}

#[test]
fn recipient_pays_mode_deducts_the_fee_from_the_payment() {
    let mut s = setup(3, 2, &[10 * SOMPI_PER_KASPA]);
    s.policy.fee_mode = FeeMode::RecipientPays;
    let pay = payment(4 * SOMPI_PER_KASPA);
    let template = s.build(&pay).unwrap();
    let checked = s.validate(&template, &pay).unwrap();
    assert_eq!(template.transaction.outputs[0].value, pay.amount - checked.fee);
    assert_eq!(template.transaction.outputs[1].value, 6 * SOMPI_PER_KASPA);
}

#[test]
fn fee_rates_escalate_per_round() {
    let s = setup(3, 2, &[10 * SOMPI_PER_KASPA; 4]);
    let pay = payment(SOMPI_PER_KASPA);
    let fee = |round| {
        let t = build(&s.request(&pay, round)).unwrap();
        s.validate(&t, &pay).unwrap().fee
    };
    assert_eq!(s.policy.feerate(0), 100);
    assert_eq!(s.policy.feerate(4), 200);
    assert!(fee(4) > fee(0));
}

fn arb_setup() -> impl Strategy<Value = (u8, Vec<u64>, u64, bool, u32)> {
    (
        prop_oneof![Just(2u8), Just(3), Just(5)],
        proptest::collection::vec(1_000_000u64..50 * SOMPI_PER_KASPA, 1..40),
        1_000_000u64..100 * SOMPI_PER_KASPA,
        any::<bool>(),
        0u32..6,
    )
}

/// The input order, computed here from its definition (docs/kaspa.md section 6) with BLAKE3 directly:
/// each output's key is `derive_key("igra 2026-11 output key v1", txid ‖ index LE)`, the template's
/// seed `derive_key("igra 2026-11 input order v2", event ‖ epoch LE ‖ round LE)`, and the builder takes
/// outputs by increasing `key XOR seed`. With outputs that each cover the payment alone, the one input
/// of every round's template is the nearest to that round's seed.
#[test]
fn the_input_order_is_the_xor_distance_of_output_keys_to_the_round_seed() {
    let s = setup(5, 3, &[100 * SOMPI_PER_KASPA; 12]);
    let pay = payment(SOMPI_PER_KASPA);
    let mut chosen = BTreeSet::new();
    for round in 0..8u32 {
        let mut seed_input = Vec::new();
        seed_input.extend_from_slice(&[7; 32]);
        seed_input.extend_from_slice(&0u32.to_le_bytes());
        seed_input.extend_from_slice(&round.to_le_bytes());
        let seed = blake3::derive_key("igra 2026-11 input order v2", &seed_input);
        let key = |u: &Utxo| {
            let mut outpoint = u.outpoint.transaction_id.0.to_vec();
            outpoint.extend_from_slice(&u.outpoint.index.to_le_bytes());
            blake3::derive_key("igra 2026-11 output key v1", &outpoint)
        };
        let distance = |u: &Utxo| -> Vec<u8> { key(u).iter().zip(&seed).map(|(k, s)| k ^ s).collect() };
        let nearest = s.utxos.iter().min_by_key(|u| distance(u)).unwrap();
        assert_eq!(output_key(&nearest.outpoint), key(nearest));
        let template = build(&s.request(&pay, round)).unwrap();
        let inputs: Vec<Outpoint> = template.transaction.inputs.iter().map(|i| i.previous_outpoint).collect();
        assert_eq!(inputs, vec![nearest.outpoint], "round {round}");
        chosen.insert(nearest.outpoint);
    }
    assert!(chosen.len() > 1, "successive rounds draw from different parts of the pool");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_builder_is_deterministic_valid_exact_and_tamper_evident(
        (n, amounts, amount, recipient_pays, round) in arb_setup(),
        rotate in 0usize..40,
    ) {
        let m = n / 2 + 1;
        let mut s = setup(n, m, &amounts);
        if recipient_pays {
            s.policy.fee_mode = FeeMode::RecipientPays;
        }
        let pay = payment(amount);
        let first = build(&s.request(&pay, round));
        // The snapshot's order does not matter.
        let mut rotated = setup(n, m, &amounts);
        rotated.policy = s.policy;
        let k = rotate % rotated.utxos.len();
        rotated.utxos.rotate_left(k);
        prop_assert_eq!(&first, &build(&rotated.request(&pay, round)));
        // Output keys kept by the caller change nothing; keys of another length are not used.
        let keys = output_keys(&s.utxos);
        prop_assert_eq!(&first, &build(&BuildRequest { output_keys: Some(&keys), ..s.request(&pay, round) }));
        prop_assert_eq!(&first, &build(&BuildRequest { output_keys: Some(&keys[1..]), ..s.request(&pay, round) }));
        let Ok(template) = first else { return Ok(()) };

        let checked = s.validate(&template, &pay).unwrap();
        let signers: Vec<u8> = (0..m).collect();
        let signed = sign_and_finalize(&s, &template, &signers);
        let report = MassReport::of(&signed, &template.entries).unwrap();
        prop_assert_eq!(report, checked.mass);
        let exact = report.fee_mass() * s.policy.feerate(round);
        if template.transaction.outputs.len() == 2 {
            prop_assert_eq!(checked.fee, exact);
        } else {
            // Without change, the fee is the exact fee plus change too small to keep.
            prop_assert!(checked.fee >= exact.min(report.fee_mass() * 100));
            prop_assert!(checked.fee <= s.policy.max_fee);
        }

        // Changing any output makes validation fail.
        for index in 0..template.transaction.outputs.len() {
            for tweak in 0..3 {
                let mut bad = template.clone();
                let output = &mut bad.transaction.outputs[index];
                match tweak {
                    0 => output.value += 1,
                    1 => output.value -= 1,
                    _ => output.script_public_key.script[5] ^= 1,
                }
                prop_assert!(validate(&bad, bad.hash(), &pay, &s.script, &s.policy).is_err());
                prop_assert_eq!(
                    validate(&bad, template.hash(), &pay, &s.script, &s.policy),
                    Err(TemplateError::HashMismatch)
                );
            }
        }
        // So does adding an output, or an input the group does not own.
        let mut extra = template.clone();
        extra.transaction.outputs.push(extra.transaction.outputs[0].clone());
        prop_assert!(validate(&extra, extra.hash(), &pay, &s.script, &s.policy).is_err());
        let mut foreign = template.clone();
        foreign.entries[0].script_public_key = pay_to_pubkey(&SigningPublicKey([9; 32]));
        prop_assert_eq!(
            validate(&foreign, foreign.hash(), &pay, &s.script, &s.policy),
            Err(TemplateError::ForeignInput { index: 0 })
        );
        // And the encoding round-trips to the same hash.
        let decoded = Template::decode(template.encode().unwrap().as_slice()).unwrap();
        prop_assert_eq!(decoded.hash(), template.hash());
    }
}

/// A pool of 1 to 30 group UTXOs and a payment of up to 60 KAS (some pools cannot fund it).
fn arb_pool() -> impl Strategy<Value = (Vec<u64>, u64)> {
    (
        proptest::collection::vec(1_000_000u64..20 * SOMPI_PER_KASPA, 1..30),
        SOMPI_PER_KASPA..60 * SOMPI_PER_KASPA,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Proves that the template a member builds depends only on the *set* of UTXOs it sees, never on the
    /// order its snapshot lists them in (any permutation, generated by proptest, gives the same result:
    /// the same hash, the same inputs in the same order, the same outputs; or the same error), and that
    /// reserving outpoints the template does not spend changes nothing either, while reserving one it
    /// does spend always changes it. Members with equal views therefore vote for one template in round 0
    /// however their chain adapters order UTXOs, and other events' reservations do not disturb it.
    #[test]
    fn templates_ignore_utxo_order_and_unrelated_reservations(
        ((amounts, amount), order, reserve_bits, round) in arb_pool().prop_flat_map(|(amounts, amount)| {
            let order = Just((0..amounts.len()).collect::<Vec<_>>()).prop_shuffle();
            (Just((amounts, amount)), order, any::<u32>(), 0u32..4)
        }),
    ) {
        let s = setup(3, 2, &amounts);
        let pay = payment(amount);
        let reference = build(&s.request(&pay, round));

        let mut shuffled = setup(3, 2, &amounts);
        shuffled.utxos = order.iter().map(|&i| s.utxos[i].clone()).collect();
        let mut reversed = setup(3, 2, &amounts);
        reversed.utxos.reverse();
        for other in [&shuffled, &reversed] {
            let rebuilt = build(&other.request(&pay, round));
            prop_assert_eq!(&rebuilt, &reference);
            if let (Ok(a), Ok(b)) = (&rebuilt, &reference) {
                prop_assert_eq!(a.hash(), b.hash());
                prop_assert_eq!(&a.transaction.inputs, &b.transaction.inputs);
                prop_assert_eq!(&a.transaction.outputs, &b.transaction.outputs);
            }
        }
        let Ok(template) = reference else { return Ok(()) };
        let chosen: BTreeSet<Outpoint> =
            template.transaction.inputs.iter().map(|i| i.previous_outpoint).collect();

        // Any subset of the outpoints it does not spend, picked by `reserve_bits`, may be reserved.
        shuffled.reserved = shuffled
            .utxos
            .iter()
            .enumerate()
            .filter(|(k, u)| reserve_bits & (1 << (k % 32)) != 0 && !chosen.contains(&u.outpoint))
            .map(|(_, u)| u.outpoint)
            .collect();
        let with_reservations = build(&shuffled.request(&pay, round)).unwrap();
        prop_assert_eq!(with_reservations.hash(), template.hash());
        prop_assert_eq!(&with_reservations, &template);

        // Reserving a spent input instead is never ignored.
        let taken = template.transaction.inputs[reserve_bits as usize % chosen.len()].previous_outpoint;
        shuffled.reserved.insert(taken);
        if let Ok(other) = build(&shuffled.request(&pay, round)) {
            prop_assert_ne!(other.hash(), template.hash());
            prop_assert!(other.transaction.inputs.iter().all(|i| i.previous_outpoint != taken));
        }
    }
}
