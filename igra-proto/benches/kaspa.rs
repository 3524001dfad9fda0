//! Kaspa transaction layer benchmarks: sighashes of a 100-input template, and building a template
//! from a snapshot of 10,000 UTXOs. Run with `cargo bench -p igra-proto --bench kaspa`.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, UtxoEntry};
use igra_proto::template::{BuildRequest, Payment, TemplatePolicy, Utxo, build, output_keys};
use igra_proto::{EventId, SigningPublicKey, TransactionId};

fn group_script(n: u8, m: u8) -> MultisigScript {
    let keys: Vec<_> = (1..=n)
        .map(|i| {
            igra_proto::LocalSigner::from_secrets([i; 32], [i; 32])
                .map(|s| igra_proto::Signer::signing_public_key(&s))
        })
        .collect::<Result<_, _>>()
        .expect("fixed keys are valid");
    MultisigScript::new(m, &keys).expect("valid multisig")
}

fn utxos(script: &MultisigScript, count: u32, amount: u64) -> Vec<Utxo> {
    (0..count)
        .map(|i| {
            let mut txid = [0u8; 32];
            txid[..4].copy_from_slice(&i.to_le_bytes());
            Utxo {
                outpoint: Outpoint { transaction_id: TransactionId(txid), index: i % 4 },
                entry: UtxoEntry {
                    amount,
                    script_public_key: script.script_public_key(),
                    block_daa_score: 1_000,
                    is_coinbase: false,
                },
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    // 2-of-3: a 100-input 3-of-5 spend would exceed the mempool's 500,000 compute mass.
    let script = group_script(3, 2);
    let payment = Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount: 0 };
    let reserved = BTreeSet::new();
    let mut policy =
        TemplatePolicy { max_compute_mass: 500_000, max_inputs: 128, ..TemplatePolicy::default() };
    policy.max_fee = 10 * SOMPI_PER_KASPA;

    // A 100-input template: 100 UTXOs of 1 KAS paying 99.5 KAS.
    let pool = utxos(&script, 100, SOMPI_PER_KASPA);
    let big = Payment { amount: 99 * SOMPI_PER_KASPA + SOMPI_PER_KASPA / 2, ..payment.clone() };
    let request = BuildRequest {
        event_id: EventId([1; 32]),
        epoch: 0,
        round: 0,
        payment: &big,
        group_script: &script,
        policy: &policy,
        utxos: &pool,
        output_keys: None,
        reserved: &reserved,
        virtual_daa_score: 1_000_000,
    };
    let template = build(&request).expect("the pool covers the payment");
    assert_eq!(template.transaction.inputs.len(), 100);
    c.bench_function("sighashes of a 100-input template", |b| b.iter(|| black_box(&template).sighashes()));

    // Template build from a snapshot of 10,000 UTXOs of 0.5 KAS paying 3 KAS.
    let snapshot = utxos(&script, 10_000, SOMPI_PER_KASPA / 2);
    let small = Payment { amount: 3 * SOMPI_PER_KASPA, ..payment };
    let request = BuildRequest { payment: &small, utxos: &snapshot, ..request };
    c.bench_function("template build from 10k UTXOs", |b| b.iter(|| build(black_box(&request))));
    // The same with the snapshot's output keys kept, as a node does (computed once per snapshot).
    let keys = output_keys(&snapshot);
    let kept = BuildRequest { output_keys: Some(&keys), ..request };
    assert_eq!(build(&kept), build(&request), "kept keys change nothing but the cost");
    c.bench_function("template build from 10k UTXOs, output keys kept", |b| {
        b.iter(|| build(black_box(&kept)));
    });
    c.bench_function("output keys of 10k UTXOs", |b| b.iter(|| output_keys(black_box(&snapshot))));
}

criterion_group!(kaspa, benches);
criterion_main!(kaspa);
