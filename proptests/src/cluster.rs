//! A tiny in-test cluster of coordination cores: every frame delivered in order (or as the test picks),
//! every batch durable at once, time jumping to the next deadline when nothing else can happen.

use std::collections::VecDeque;

use igra_proto::envelope::UnverifiedFrame;
use igra_proto::event::operators::{OperatorAttestation, OperatorConfig, approve};
use igra_proto::event::policy::PolicyConfig;
use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::sighash::{SigHashType, SighashContext};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, Transaction, UtxoEntry};
use igra_proto::node::{
    ChainRequest, ChainRules, Destination, EventRefusal, EventUpdate, Input, Node, NodeConfig, Output, Phase,
    Record, Timing,
};
use igra_proto::template::{Payment, TemplatePolicy, Utxo};
use igra_proto::wire::{BoundedVec, MAX_MESSAGE_BYTES, MessageKind};
use igra_proto::{
    EventId, Instant, MemberIndex, SchnorrSignature, Signer, SigningPublicKey, TransactionId, UnixMs,
};

use crate::{Fixture, T0, fixture, test_signer};

/// The virtual DAA score the cluster's chain is at.
pub const DAA: u64 = 1_000_000;

/// A tiny in-memory cluster: every node of an `m`-of-`n` group, a network queue of frames in flight, and
/// instant durable storage (each node's records, for restores).
pub struct Cluster {
    /// The group and its members' signers.
    pub f: Fixture,
    /// The group's multisig script.
    pub script: MultisigScript,
    /// The nodes, by member index.
    pub nodes: Vec<Node>,
    /// Each node's view of the group's UTXOs (what it gets on `FetchUtxos`).
    pub views: Vec<Vec<Utxo>>,
    /// Frames in flight: (recipient, frame).
    pub network: VecDeque<(usize, Vec<u8>)>,
    /// The simulated monotonic clock.
    pub now: Instant,
    /// Every transaction a node handed to the chain: (node, event, transaction).
    pub submitted: Vec<(usize, EventId, Transaction)>,
    /// The operators whose approvals attest events.
    pub operators: Vec<igra_proto::LocalSigner>,
    /// Each node's configuration, used again on restart.
    pub configs: Vec<NodeConfig>,
    /// Each node's persisted records.
    pub logs: Vec<Vec<Record>>,
    /// Each node's boot counter.
    pub boots: Vec<u64>,
    /// Every event refusal notified: (node, reason).
    pub refused: Vec<(usize, EventRefusal)>,
    /// Frames of these kinds are lost while the clock is before `lossy_until`.
    pub lost_kinds: Vec<MessageKind>,
    /// Until when frames of `lost_kinds` are lost.
    pub lossy_until: Instant,
    /// When set, only frames to this node are lost.
    pub lost_to: Option<usize>,
}

/// A group UTXO of `amount` sompi, deep enough to spend, its outpoint numbered by `tag`.
pub fn utxo(script: &MultisigScript, tag: u32, amount: u64) -> Utxo {
    let mut txid = [0u8; 32];
    txid[..4].copy_from_slice(&tag.to_le_bytes());
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId(txid), index: 0 },
        entry: UtxoEntry {
            amount,
            script_public_key: script.script_public_key(),
            block_daa_score: DAA - 5_000,
            is_coinbase: false,
        },
    }
}

impl Cluster {
    /// An `m`-of-`n` cluster, every node seeing the same pool of twenty 10 KAS UTXOs.
    pub fn new(n: u8, m: u8) -> Self {
        let f = fixture(n, m);
        let script = MultisigScript::for_group(&f.group).unwrap();
        let operators: Vec<_> = (0..3).map(|i| test_signer(200 + i)).collect();
        let attestation = AttestationConfig {
            operators: Some(OperatorConfig {
                keys: operators.iter().map(Signer::identity_public_key).collect(),
                threshold: 2,
            }),
            ..AttestationConfig::default()
        };
        let configs: Vec<NodeConfig> = (0..n)
            .map(|i| NodeConfig {
                group: f.group.clone(),
                me: MemberIndex(i),
                attestation: attestation.clone(),
                template_policy: TemplatePolicy::default(),
                policy: PolicyConfig {
                    min_amount: 1,
                    max_amount: 1_000 * SOMPI_PER_KASPA,
                    allow: None,
                    deny: vec![],
                    window_ms: 86_400_000,
                    global_cap: Some(100 * SOMPI_PER_KASPA),
                    source_caps: vec![],
                    paused: false,
                },
                timing: Timing::default(),
                chain: ChainRules::default(),
                max_events_in_flight: 64,
            })
            .collect();
        let nodes = (0..n)
            .map(|i| {
                Node::new(configs[usize::from(i)].clone(), Box::new(test_signer(i)), [i; 32], 1, Instant(0))
                    .unwrap()
            })
            .collect();
        let pool: Vec<_> = (0..20).map(|t| utxo(&script, t, 10 * SOMPI_PER_KASPA)).collect();
        Self {
            views: vec![pool; usize::from(n)],
            f,
            script,
            nodes,
            network: VecDeque::new(),
            now: Instant(0),
            submitted: Vec::new(),
            operators,
            configs,
            logs: vec![Vec::new(); usize::from(n)],
            boots: vec![1; usize::from(n)],
            refused: Vec::new(),
            lost_kinds: Vec::new(),
            lossy_until: Instant(0),
            lost_to: None,
        }
    }

    /// The wall clock matching `now`.
    pub fn wall(&self) -> UnixMs {
        UnixMs(T0.0 + self.now.0)
    }

    /// An operator-attested event numbered `tag`, paying `amount` sompi.
    pub fn event(&self, tag: u8, amount: u64) -> Event {
        let mut event = Event {
            source: EventSource { kind: SourceKind::Operators, id: 0 },
            external_id: [tag; 32],
            payment: Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount },
            attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
        };
        let id = event.id();
        let approvals: Vec<_> = (0..2)
            .map(|i| approve(&self.operators[i], u8::try_from(i).unwrap(), self.f.group.id(), &id).unwrap())
            .collect();
        event.attestation =
            Attestation::Operators(OperatorAttestation { approvals: approvals.try_into().unwrap() });
        event
    }

    /// Hands `input` to `node` at the current time and processes its outputs.
    pub fn input(&mut self, node: usize, input: Input) {
        let (now, wall) = (self.now, self.wall());
        self.nodes[node].handle(now, wall, input);
        self.drain(node);
    }

    /// Processes every output of `node`: persists, queues frames, answers chain requests.
    pub fn drain(&mut self, node: usize) {
        while let Some(output) = self.nodes[node].poll_output() {
            match output {
                // Storage is instant and durable here, so frames held for a batch go out at once.
                Output::Persist { records, .. } => {
                    let releases = records.iter().any(|r| r.releases().is_some());
                    self.logs[node].extend(records);
                    if releases {
                        // Compact as a disk store would: a released event's other records go.
                        igra_proto::node::compact(&mut self.logs[node]);
                    }
                }
                Output::Notify(EventUpdate::Refused { reason, .. }) => self.refused.push((node, reason)),
                Output::Notify(_) => {}
                Output::Send { to, frame } | Output::SendAfterPersist { to, frame, .. } => match to {
                    Destination::All => {
                        for peer in (0..self.nodes.len()).filter(|p| *p != node) {
                            self.network.push_back((peer, frame.clone()));
                        }
                    }
                    Destination::Member(m) => self.network.push_back((usize::from(m.0), frame)),
                },
                Output::Chain(ChainRequest::FetchUtxos) => {
                    let utxos = self.views[node].clone();
                    let (now, wall) = (self.now, self.wall());
                    self.nodes[node].handle(now, wall, Input::Utxos { utxos, virtual_daa_score: DAA });
                }
                Output::Chain(ChainRequest::Submit { event_id, transaction }) => {
                    self.submitted.push((node, event_id, transaction));
                }
            }
        }
    }

    /// Delivers everything, jumping time to the next deadline whenever the network is quiet, until
    /// `done` holds or `limit_ms` of simulated time passed.
    pub fn run_until(&mut self, limit_ms: u64, done: impl Fn(&Self) -> bool) {
        let end = self.now.plus_millis(limit_ms);
        loop {
            while let Some((to, frame)) = self.network.pop_front() {
                if self.now < self.lossy_until && self.lost_to.is_none_or(|n| n == to) {
                    let kind = UnverifiedFrame::decode(&frame, MAX_MESSAGE_BYTES).map(|f| f.body.kind());
                    if kind.is_ok_and(|k| self.lost_kinds.contains(&k)) {
                        continue;
                    }
                }
                self.input(to, Input::Frame(frame));
            }
            if done(self) {
                return;
            }
            let next = self.nodes.iter().filter_map(|n| n.poll_timeout().map(|(t, _)| t)).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].poll_timeout().is_some_and(|(d, _)| d <= self.now) {
                            self.input(i, Input::Timer);
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// Crashes node `i` (losing everything not persisted) and restarts it from its records.
    pub fn crash_and_restart(&mut self, i: usize) {
        self.boots[i] += 1;
        let signer = Box::new(test_signer(u8::try_from(i).unwrap()));
        let seed = [u8::try_from(i).unwrap(); 32];
        let (now, wall) = (self.now, self.wall());
        self.nodes[i] =
            Node::restore(self.configs[i].clone(), signer, seed, self.boots[i], now, wall, &self.logs[i])
                .unwrap();
        self.drain(i);
    }

    /// Whether every node has handed event `id`'s transaction to the chain.
    pub fn all_submitted(&self, id: &EventId) -> bool {
        self.nodes.iter().all(|n| n.status(id).is_some_and(|s| matches!(s.phase, Phase::Submitted { .. })))
    }

    /// Checks a finalized input as CHECKMULTISIG would: `m` signatures verifying, in key order.
    pub fn check_signed(&self, tx: &Transaction, entries: &[UtxoEntry]) {
        let ctx = SighashContext::new(tx);
        for (i, input) in tx.inputs.iter().enumerate() {
            let sighash = ctx.schnorr(i, &entries[i], SigHashType::ALL).unwrap();
            let mut keys = self.script.keys().iter();
            for k in 0..usize::from(self.script.threshold()) {
                let sig =
                    SchnorrSignature(input.signature_script[k * 66 + 1..k * 66 + 65].try_into().unwrap());
                assert!(
                    keys.any(|key| key.verify_schnorr(&sighash, &sig).is_ok()),
                    "input {i} signature {k}"
                );
            }
        }
    }
}

/// The UTXO entries `tx` spends, from the nodes' views.
pub fn entries_of(c: &Cluster, tx: &Transaction) -> Vec<UtxoEntry> {
    tx.inputs
        .iter()
        .map(|i| c.views.iter().flatten().find(|u| u.outpoint == i.previous_outpoint).unwrap().entry.clone())
        .collect()
}
