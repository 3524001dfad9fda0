//! Template decoding, validation and hashing never panic, and decoding is exact.
//!
//! The input is an encoded [`Template`]. One that decodes must:
//!
//! * survive a round trip: its encoding (when within the wire bound) decodes to the same template and
//!   is a fixed point;
//! * yield a sighash for every input, under every sighash type, and a transaction id and hash, without
//!   panicking, valid or not;
//! * under [`validate`] against the fixed group script, payment and both fee modes: be refused for a
//!   hash other than its own, and when valid, report its own hash and fee; then `m` members' signatures
//!   of it verify, and the transaction they finalize has the template's transaction id.
#![no_main]

use std::sync::LazyLock;

use igra_fuzz::template_world::{payment, policies, script};
use igra_fuzz::{THRESHOLD, group, signer};
use igra_proto::MemberIndex;
use igra_proto::kaspa::hashing::{transaction_hash, transaction_id};
use igra_proto::kaspa::script::MultisigScript;
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::template::{Payment, Template, TemplateError, TemplatePolicy, validate};
use libfuzzer_sys::fuzz_target;

struct World {
    script: MultisigScript,
    payment: Payment,
    policies: [TemplatePolicy; 2],
}

static WORLD: LazyLock<World> =
    LazyLock::new(|| World { script: script(), payment: payment(), policies: policies() });

const HASH_TYPES: [SigHashType; 6] = [
    SigHashType::ALL,
    SigHashType::NONE,
    SigHashType::SINGLE,
    SigHashType::ALL_ANYONECANPAY,
    SigHashType::NONE_ANYONECANPAY,
    SigHashType::SINGLE_ANYONECANPAY,
];

fuzz_target!(|data: &[u8]| {
    let Ok(template) = Template::decode(data) else { return };
    if let Ok(encoded) = template.encode() {
        let decoded = Template::decode(&encoded).expect("the encoding of a decoded template decodes");
        assert_eq!(decoded, template, "round trip changed the template");
        assert_eq!(decoded.encode().expect("fits as before"), encoded, "encoding is not a fixed point");
    }

    // Hashing is total: any decoded template, valid or not.
    let tx = &template.transaction;
    let _ = (transaction_id(tx), transaction_hash(tx));
    let context = SighashContext::new(tx);
    for (index, entry) in template.entries.iter().enumerate() {
        for hash_type in HASH_TYPES {
            let schnorr = context.schnorr(index, entry, hash_type);
            assert_eq!(schnorr.is_ok(), index < tx.inputs.len(), "input {index}: {schnorr:?}");
            let _ = context.ecdsa(index, entry, hash_type);
        }
    }
    let sighashes = template.sighashes();
    assert_eq!(sighashes.len(), template.entries.len().min(tx.inputs.len()));

    let world = &*WORLD;
    let hash = template.hash();
    let mut wrong = hash;
    wrong.0[0] ^= 1;
    for policy in &world.policies {
        assert_eq!(
            validate(&template, wrong, &world.payment, &world.script, policy),
            Err(TemplateError::HashMismatch)
        );
        let Ok(valid) = validate(&template, hash, &world.payment, &world.script, policy) else { continue };
        assert_eq!(valid.hash, hash);
        assert_eq!(Some(valid.fee), template.fee(), "validated fee is not the template's");
        assert_eq!(sighashes.len(), tx.inputs.len(), "a valid template has an entry per input");

        let mut signatures = Vec::new();
        for member in 0..THRESHOLD {
            let signed = template.sign(&signer(member), MemberIndex(member), &[member; 32]).expect("signs");
            for signature in &signed {
                template.verify_signature(group(), &sighashes, signature).expect("own signature verifies");
            }
            signatures.extend(signed);
        }
        let finalized =
            template.finalize(group(), &world.script, &signatures).expect("m signatures finalize");
        assert_eq!(transaction_id(&finalized), transaction_id(tx), "signing changed the transaction id");
    }
});
