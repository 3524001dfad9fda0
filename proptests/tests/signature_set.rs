//! The signature set through the public API: merge is set union (commutative, associative, idempotent,
//! order-independent), invalid signatures never enter, completeness only grows, deltas fill what a peer
//! lacks, and differing valid copies of a slot converge on one transaction id.
//!
//! Everything runs over one 3-of-5 group and one 3-input template whose 15 signatures (one per slot
//! `(input, member)`) are computed once. Slot `k` is input `k / 5`, member `k % 5`, so a `u16` mask names a
//! subset of the pool, and ascending slot numbers are the set's canonical order.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use igra_proto::kaspa::hashing::transaction_id;
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, UtxoEntry};
use igra_proto::signature_set::{Insert, MAX_REPORTED_REJECTIONS, SignatureSet};
use igra_proto::template::sign::SignatureError;
use igra_proto::template::{BuildRequest, Payment, Template, TemplatePolicy, Utxo, build};
use igra_proto::wire::PartialSignature;
use igra_proto::{EventId, Group, MemberIndex, MemberSet, SigningPublicKey, TransactionId};
use proptest::prelude::*;
use proptests::fixture;

const MEMBERS: u16 = 5;
const INPUTS: u16 = 3;
const SLOTS: usize = 15;
const ALL_SLOTS: u16 = (1 << SLOTS) - 1;
const EVERYONE: MemberSet = MemberSet(0b1_1111);

struct Pool {
    group: Group,
    script: MultisigScript,
    template: Template,
    sighashes: Vec<[u8; 32]>,
    /// `signatures[k]` is the signature of slot `k`.
    signatures: Vec<PartialSignature>,
    /// Another valid signature of every slot (other auxiliary randomness).
    copies: Vec<PartialSignature>,
    /// Signatures of the same slots for a different template.
    foreign: Vec<PartialSignature>,
    /// The set holding slot `k` alone, verified once so that the laws run without verifying.
    singletons: Vec<SignatureSet>,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let f = fixture(5, 3);
    let script = MultisigScript::for_group(&f.group).unwrap();
    let utxos: Vec<_> = (0u8..3).map(|i| utxo(&script, i, 2 * SOMPI_PER_KASPA)).collect();
    let template = spend(&script, &utxos, 5 * SOMPI_PER_KASPA);
    let other = spend(&script, &utxos, 4 * SOMPI_PER_KASPA);
    assert_eq!(template.transaction.inputs.len(), usize::from(INPUTS));
    assert_eq!(other.transaction.inputs.len(), usize::from(INPUTS));
    let sign_all = |template: &Template, aux: u8| -> Vec<PartialSignature> {
        let mut all: Vec<_> = (0u8..5)
            .flat_map(|i| template.sign(&f.signers[usize::from(i)], MemberIndex(i), &[aux ^ i; 32]).unwrap())
            .collect();
        all.sort_by_key(|s| (s.input_index, s.signer));
        all
    };
    let signatures = sign_all(&template, 0);
    let sighashes = template.sighashes();
    let singletons = signatures
        .iter()
        .map(|&s| {
            let mut set = empty_set(&f.group, &template);
            assert_eq!(set.insert(&f.group, &sighashes, s), Ok(Insert::Added));
            set
        })
        .collect();
    Pool {
        copies: sign_all(&template, 0xaa),
        foreign: sign_all(&other, 0),
        signatures,
        singletons,
        group: f.group,
        script,
        template,
        sighashes,
    }
});

fn utxo(script: &MultisigScript, tag: u8, amount: u64) -> Utxo {
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId([tag + 1; 32]), index: 0 },
        entry: UtxoEntry {
            amount,
            script_public_key: script.script_public_key(),
            block_daa_score: 1_000,
            is_coinbase: false,
        },
    }
}

fn spend(script: &MultisigScript, utxos: &[Utxo], amount: u64) -> Template {
    let payment = Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount };
    build(&BuildRequest {
        event_id: EventId([7; 32]),
        epoch: 0,
        round: 0,
        payment: &payment,
        group_script: script,
        policy: &TemplatePolicy::default(),
        utxos,
        output_keys: None,
        reserved: &BTreeSet::new(),
        virtual_daa_score: 100_000,
    })
    .unwrap()
}

fn empty_set(group: &Group, template: &Template) -> SignatureSet {
    SignatureSet::new(group, template.hash(), template.transaction.inputs.len()).unwrap()
}

fn slot(k: usize) -> (u16, MemberIndex) {
    let k = u16::try_from(k).unwrap();
    (k / MEMBERS, MemberIndex(u8::try_from(k % MEMBERS).unwrap()))
}

fn slots_of(mask: u16) -> impl Iterator<Item = usize> {
    (0..SLOTS).filter(move |k| mask & (1 << k) != 0)
}

/// The set holding exactly the pool's signatures named by `mask`, built without verifying.
fn set_of(mask: u16) -> SignatureSet {
    let p = &*POOL;
    let mut set = empty_set(&p.group, &p.template);
    for k in slots_of(mask) {
        set.union(&p.singletons[k]);
    }
    set
}

/// The slots a set holds, as a mask.
fn mask_of(set: &SignatureSet) -> u16 {
    set.signatures().fold(0, |mask, s| mask | 1 << (s.input_index * MEMBERS + u16::from(s.signer.0)))
}

/// The members who signed every input in `mask`: the model of `complete_signers`.
fn complete_in(mask: u16) -> MemberSet {
    let mut signers = MemberSet::default();
    for member in 0..MEMBERS {
        if (0..INPUTS).all(|i| mask & (1 << (i * MEMBERS + member)) != 0) {
            signers.insert(MemberIndex(u8::try_from(member).unwrap()));
        }
    }
    signers
}

/// Ways to spoil a valid signature of the pool.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    FlipBit(usize),
    OtherMember(u8),
    OtherInput(u16),
    Stranger(u8),
    NoSuchInput(u16),
    OtherTemplate,
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        (0..512usize).prop_map(Spoil::FlipBit),
        (1..5u8).prop_map(Spoil::OtherMember),
        (1..3u16).prop_map(Spoil::OtherInput),
        (5..=u8::MAX).prop_map(Spoil::Stranger),
        (INPUTS..=u16::MAX).prop_map(Spoil::NoSuchInput),
        Just(Spoil::OtherTemplate),
    ]
}

/// The spoiled signature of slot `k`, and the error it must be refused with.
fn spoiled(k: usize, how: Spoil) -> (PartialSignature, SignatureError) {
    let p = &*POOL;
    let mut s = p.signatures[k];
    match how {
        Spoil::FlipBit(bit) => s.signature.0[bit / 8] ^= 1 << (bit % 8),
        Spoil::OtherMember(d) => s.signer = MemberIndex((s.signer.0 + d) % 5),
        Spoil::OtherInput(d) => s.input_index = (s.input_index + d) % INPUTS,
        Spoil::Stranger(member) => s.signer = MemberIndex(member),
        Spoil::NoSuchInput(input) => s.input_index = input,
        Spoil::OtherTemplate => s = p.foreign[k],
    }
    let error = match how {
        Spoil::Stranger(member) => SignatureError::UnknownSigner(MemberIndex(member)),
        Spoil::NoSuchInput(input) => SignatureError::NoSuchInput(input),
        _ => SignatureError::BadSignature { input_index: s.input_index, signer: s.signer },
    };
    (s, error)
}

#[test]
fn the_pool_fills_every_slot_once() {
    let full = set_of(ALL_SLOTS);
    assert_eq!(full.len(), SLOTS);
    assert!(full.is_complete());
    assert_eq!(full.complete_signers(), EVERYONE);
    let slots: Vec<_> = full.signatures().map(|s| (s.input_index, s.signer)).collect();
    assert_eq!(slots, (0..SLOTS).map(slot).collect::<Vec<_>>(), "canonical order is slot order");
    assert!(set_of(0).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn union_is_commutative_associative_and_idempotent(
        a in 0..=ALL_SLOTS,
        b in 0..=ALL_SLOTS,
        c in 0..=ALL_SLOTS,
    ) {
        let union = |x: &SignatureSet, y: &SignatureSet| {
            let mut out = x.clone();
            out.union(y);
            out
        };
        let (sa, sb, sc) = (set_of(a), set_of(b), set_of(c));
        prop_assert_eq!(union(&sa, &sb), union(&sb, &sa));
        prop_assert_eq!(union(&union(&sa, &sb), &sc), union(&sa, &union(&sb, &sc)));
        prop_assert_eq!(&union(&sa, &sa), &sa);
        prop_assert_eq!(union(&union(&sa, &sb), &sb), union(&sa, &sb));
        prop_assert_eq!(union(&sa, &sb), set_of(a | b), "union of the sets is the set of the union");
    }

    #[test]
    fn merging_untrusted_signatures_in_any_order_gives_the_set_union(
        order in proptest::collection::vec(0..SLOTS, 0..40),
        split in 0usize..40,
    ) {
        let p = &*POOL;
        let wanted = order.iter().fold(0u16, |mask, &k| mask | 1 << k);
        let expected = set_of(wanted);
        let batch = |slots: &[usize]| slots.iter().map(|&k| p.signatures[k]).collect::<Vec<_>>();

        let mut forward = empty_set(&p.group, &p.template);
        let report = forward.merge_from(&p.group, &p.sighashes, batch(&order));
        prop_assert_eq!(report.added, slots_of(wanted).count());
        prop_assert_eq!(report.duplicates, order.len() - report.added);
        prop_assert_eq!(report.rejected_total, 0);
        prop_assert_eq!(&forward, &expected);

        let mut reversed: Vec<_> = order.clone();
        reversed.reverse();
        let mut backward = empty_set(&p.group, &p.template);
        backward.merge_from(&p.group, &p.sighashes, batch(&reversed));
        prop_assert_eq!(&backward, &expected);

        // Two members each merge half, then exchange whole sets.
        let (left, right) = order.split_at(split.min(order.len()));
        let mut x = empty_set(&p.group, &p.template);
        x.merge_from(&p.group, &p.sighashes, batch(right));
        let mut y = empty_set(&p.group, &p.template);
        y.merge_from(&p.group, &p.sighashes, batch(left));
        x.union(&y);
        prop_assert_eq!(&x, &expected);

        let held: Vec<_> = expected.signatures().collect();
        let pooled: Vec<_> = slots_of(wanted).map(|k| p.signatures[k]).collect();
        prop_assert_eq!(held, pooled);
    }

    #[test]
    fn invalid_signatures_never_enter(
        start in 0..=ALL_SLOTS,
        items in proptest::collection::vec((0..SLOTS, proptest::option::of(spoil())), 0..30),
    ) {
        let p = &*POOL;
        let mut set = set_of(start);
        let mut valid = start;
        let mut refused = Vec::new();
        let batch: Vec<_> = items
            .iter()
            .map(|&(k, how)| match how {
                None => {
                    valid |= 1 << k;
                    p.signatures[k]
                }
                Some(how) => {
                    let (s, error) = spoiled(k, how);
                    refused.push((s, error));
                    s
                }
            })
            .collect();
        let report = set.merge_from(&p.group, &p.sighashes, batch);
        prop_assert_eq!(report.rejected_total, refused.len());
        prop_assert_eq!(&report.rejected[..], &refused[..refused.len().min(MAX_REPORTED_REJECTIONS)]);
        prop_assert_eq!(&set, &set_of(valid));
        for s in set.signatures() {
            prop_assert_eq!(p.template.verify_signature(&p.group, &p.sighashes, &s), Ok(()));
        }
    }

    #[test]
    fn completeness_only_grows_under_merge(a in 0..=ALL_SLOTS, b in 0..=ALL_SLOTS, wanted in any::<u16>()) {
        let before = set_of(a);
        let mut after = before.clone();
        after.union(&set_of(b));
        prop_assert_eq!(before.complete_signers(), complete_in(a));
        prop_assert_eq!(after.complete_signers(), complete_in(a | b));
        prop_assert_eq!(before.complete_signers().0 & !after.complete_signers().0, 0);
        prop_assert!(!before.is_complete() || after.is_complete());
        for i in 0..INPUTS {
            prop_assert!(after.count_for_input(i) >= before.count_for_input(i));
        }
        let signers_of_input = |mask: u16, i: u16| (mask >> (i * MEMBERS)) & 0b1_1111;
        let model_complete = (0..INPUTS).all(|i| signers_of_input(a | b, i).count_ones() >= 3);
        prop_assert_eq!(after.is_complete(), model_complete);
        prop_assert_eq!(before.missing(MemberSet(wanted)), MemberSet(wanted & !complete_in(a).0));
    }

    #[test]
    fn a_delta_of_what_a_peer_lacks_fills_it(sender in 0..=ALL_SLOTS, receiver in 0..=ALL_SLOTS) {
        let p = &*POOL;
        let (from, mut to) = (set_of(sender), set_of(receiver));
        // The receiver reads the sender's digest and asks for the complete signers it lacks.
        let lacking = to.missing(from.complete_signers());
        let message = from.to_message(EventId([1; 32]), 0, None, lacking);
        prop_assert_eq!(message.template_hash, to.template_hash());
        prop_assert!(message.signatures.iter().all(|s| lacking.contains(s.signer)));
        let report = to.merge_from(&p.group, &p.sighashes, message.signatures.iter().copied());
        prop_assert_eq!(report.rejected_total, 0);
        let got = to.complete_signers();
        prop_assert_eq!(from.complete_signers().0 & !got.0, 0, "every complete signer of the sender is now held");
        prop_assert_eq!(to.missing(from.complete_signers()), MemberSet(0));
    }

    #[test]
    fn differing_valid_copies_converge_on_slots_and_transaction_id(a in 0..=ALL_SLOTS, b in 0..=ALL_SLOTS) {
        let p = &*POOL;
        let mut x = set_of(a);
        let mut y = empty_set(&p.group, &p.template);
        let copies = slots_of(b).map(|k| p.copies[k]);
        prop_assert_eq!(y.merge_from(&p.group, &p.sighashes, copies).rejected_total, 0);
        let (x_before, y_before) = (x.clone(), y.clone());
        x.union(&y_before);
        y.union(&x_before);
        prop_assert_eq!(mask_of(&x), a | b);
        prop_assert_eq!(mask_of(&y), a | b);
        // Each keeps its own copy of a shared slot (first valid wins).
        for k in slots_of(a & b) {
            prop_assert!(x.signatures().any(|s| s == p.signatures[k]));
            prop_assert!(y.signatures().any(|s| s == p.copies[k]));
        }
        if x.is_complete() {
            let tx_x = x.finalize(&p.template, &p.group, &p.script).unwrap();
            let tx_y = y.finalize(&p.template, &p.group, &p.script).unwrap();
            prop_assert_eq!(transaction_id(&tx_x), transaction_id(&tx_y));
            prop_assert_eq!(transaction_id(&tx_x), transaction_id(&p.template.transaction));
        }
    }
}
