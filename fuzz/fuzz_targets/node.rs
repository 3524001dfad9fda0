//! The coordination core never panics, whatever authenticated members send it and whatever the chain
//! and the clock do, and it never signs two templates for one (event, epoch).
//!
//! The input is a sequence of operations, each a tag byte and its operands: a body (decoded from the
//! input) sealed by a member of the group, raw frame bytes, a timer after some milliseconds, chain news,
//! a fresh UTXO snapshot, or a durable batch. Every output is drained after every operation.
#![no_main]

use igra_fuzz::node_world::{DAA, event, node, utxos};
use igra_fuzz::{NOW, WALL, group, signer};
use igra_proto::kaspa::tx::Outpoint;
use igra_proto::node::{BatchId, ChainEvent, Input};
use igra_proto::{Body, MemberIndex, Sealer, TransactionId, UnixMs};
use libfuzzer_sys::fuzz_target;

/// Splits `n` bytes off the front of `data`, if there are that many.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = data.split_at_checked(n)?;
    *data = tail;
    Some(head)
}

fn take_u16(data: &mut &[u8]) -> Option<u16> {
    take(data, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let mut node = node();
    let id = event().id();
    let mut sealers: Vec<Sealer> = (0u8..5).map(|i| Sealer::new(group(), MemberIndex(i), 1)).collect();
    let mut now = NOW;
    let mut signed = node.status(&id).and_then(|s| s.signed);
    while let Some(op) = take(&mut data, 1) {
        let wall = UnixMs(WALL.0 + now.0 - NOW.0);
        let input = match op[0] % 6 {
            0 => {
                let Some(sender) = take(&mut data, 1).map(|b| b[0] % 5) else { break };
                let Some(len) = take_u16(&mut data) else { break };
                let Some(bytes) = take(&mut data, usize::from(len)) else { break };
                let Ok(body) = Body::decode(bytes) else { continue };
                let sealer = &mut sealers[usize::from(sender)];
                let Ok(frame) = sealer.seal(&signer(sender), wall, &body) else { continue };
                Input::Frame(frame)
            }
            1 => {
                let Some(len) = take_u16(&mut data) else { break };
                let Some(bytes) = take(&mut data, usize::from(len)) else { break };
                Input::Frame(bytes.to_vec())
            }
            2 => {
                let Some(ms) = take_u16(&mut data) else { break };
                now = now.plus_millis(u64::from(ms) * 4);
                Input::Timer
            }
            3 => {
                let Some(b) = take(&mut data, 3) else { break };
                let score = DAA + u64::from(u16::from_le_bytes([b[1], b[2]]));
                let txid = TransactionId([b[1]; 32]);
                Input::Chain(match b[0] % 5 {
                    0 => ChainEvent::DaaScore(score),
                    1 => ChainEvent::Accepted { transaction_id: txid, daa_score: score },
                    2 => ChainEvent::Spent {
                        outpoint: Outpoint { transaction_id: TransactionId([b[1] % 9; 32]), index: 0 },
                        by: txid,
                        daa_score: score,
                    },
                    3 => ChainEvent::Dropped { transaction_id: txid },
                    _ => ChainEvent::Unaccepted { transaction_id: txid },
                })
            }
            4 => Input::Utxos { utxos: utxos(), virtual_daa_score: DAA },
            _ => {
                let Some(b) = take(&mut data, 1) else { break };
                Input::Persisted { batch: BatchId(u64::from(b[0])) }
            }
        };
        node.handle(now, UnixMs(WALL.0 + now.0 - NOW.0), input);
        while node.poll_output().is_some() {}
        // Sign-once: within an epoch, the signed template never changes once set.
        if let Some(status) = node.status(&id)
            && status.epoch == 0
        {
            if let (Some(before), Some(after)) = (signed, status.signed) {
                assert_eq!(before, after, "signed two templates in one epoch");
            }
            signed = signed.or(status.signed);
        }
    }
});
