//! The fixed world the fuzz targets run in, shared with the corpus generator so that the seed frames
//! it seals pass every check of the `frame` target's gate: a valid 3-of-5 group from fixed seeds, the
//! receiving member, and the two clocks the gate is opened at.

use std::sync::LazyLock;

use igra_proto::{
    Gate, Group, GroupConfig, Instant, Limits, LocalSigner, Member, MemberIndex, Network, Signer, UnixMs,
};

/// Members in the group.
pub const MEMBERS: u8 = 5;
/// Signatures needed.
pub const THRESHOLD: u8 = 3;
/// The member whose gate the `frame` target feeds.
pub const RECEIVER: MemberIndex = MemberIndex(1);
/// The monotonic time the gate is opened at.
pub const NOW: Instant = Instant(1_000);
/// The wall-clock time the gate is opened at; seed frames are sealed at this time so they are fresh.
pub const WALL: UnixMs = UnixMs(1_700_000_000_000);

/// Member `i`'s signer, from fixed seeds (`[i + 1; 32]` for both keys).
///
/// # Panics
///
/// If `i + 1` overflows or the seed is not a valid secp256k1 secret; neither happens for members 0 to 4.
pub fn signer(i: u8) -> LocalSigner {
    LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).expect("fixed seeds are valid secrets")
}

/// The 3-of-5 group of [`signer`]s 0 to 4, validated once.
pub fn group() -> &'static Group {
    static GROUP: LazyLock<Group> = LazyLock::new(|| {
        let members = (0..MEMBERS)
            .map(|i| {
                let s = signer(i);
                Member { identity: s.identity_public_key(), signing: s.signing_public_key() }
            })
            .collect();
        GroupConfig {
            members,
            threshold: THRESHOLD,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .expect("the fixed group is valid")
    });
    &GROUP
}

/// A fresh gate of [`RECEIVER`], with no per-sender state yet.
pub fn gate() -> Gate {
    Gate::new(group(), RECEIVER)
}

/// The world of the `node` target: member [`RECEIVER`] of the fixed group running a [`Node`] that has
/// accepted one operator-approved event and holds a UTXO snapshot, so that fuzzed votes, certificates and
/// signatures from the other members meet a node with something to decide.
pub mod node_world {
    use igra_proto::event::operators::{OperatorAttestation, OperatorConfig, approve};
    use igra_proto::event::policy::PolicyConfig;
    use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
    use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
    use igra_proto::kaspa::tx::{Outpoint, UtxoEntry};
    use igra_proto::node::{ChainRules, Input, Node, NodeConfig, Timing};
    use igra_proto::template::{BuildRequest, Payment, Template, TemplatePolicy, Utxo, build};
    use igra_proto::wire::BoundedVec;
    use igra_proto::{LocalSigner, Signer, SigningPublicKey, TransactionId};

    use super::{NOW, RECEIVER, WALL, group, signer};

    /// The virtual DAA score of the snapshot.
    pub const DAA: u64 = 1_000_000;

    /// The operator who approves the event.
    pub fn operator() -> LocalSigner {
        LocalSigner::from_secrets([0x77; 32], [0x77; 32]).expect("fixed seeds are valid secrets")
    }

    /// The group's funds: eight outputs of 10 KAS.
    pub fn utxos() -> Vec<Utxo> {
        let script = MultisigScript::for_group(group()).expect("the fixed group has a script");
        (0u8..8)
            .map(|i| Utxo {
                outpoint: Outpoint { transaction_id: TransactionId([i + 1; 32]), index: 0 },
                entry: UtxoEntry {
                    amount: 1_000_000_000,
                    script_public_key: script.script_public_key(),
                    block_daa_score: DAA - 10_000,
                    is_coinbase: false,
                },
            })
            .collect()
    }

    /// The operator-approved event: 3 KAS to a fixed key.
    pub fn event() -> Event {
        let mut event = Event {
            source: EventSource { kind: SourceKind::Operators, id: 0 },
            external_id: [0x55; 32],
            payment: Payment {
                destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])),
                amount: 300_000_000,
            },
            attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
        };
        let approval = approve(&operator(), 0, group().id(), &event.id()).expect("the operator signs");
        event.attestation = Attestation::Operators(OperatorAttestation {
            approvals: vec![approval].try_into().expect("one fits"),
        });
        event
    }

    /// The template every member builds for the event in round 0 of epoch 0 from [`utxos`].
    pub fn template() -> Template {
        let script = MultisigScript::for_group(group()).expect("the fixed group has a script");
        let event = event();
        let utxos = utxos();
        build(&BuildRequest {
            event_id: event.id(),
            epoch: 0,
            round: 0,
            payment: &event.payment,
            group_script: &script,
            policy: &TemplatePolicy::default(),
            utxos: &utxos,
            reserved: &Default::default(),
            virtual_daa_score: DAA,
        })
        .expect("the pool pays the event")
    }

    /// The node's configuration.
    pub fn config() -> NodeConfig {
        NodeConfig {
            group: group().clone(),
            me: RECEIVER,
            attestation: AttestationConfig {
                operators: Some(OperatorConfig {
                    keys: vec![operator().identity_public_key()],
                    threshold: 1,
                }),
                ..AttestationConfig::default()
            },
            template_policy: TemplatePolicy::default(),
            policy: PolicyConfig {
                min_amount: 1,
                max_amount: 100_000_000_000,
                allow: None,
                deny: vec![],
                window_ms: 86_400_000,
                global_cap: None,
                source_caps: vec![],
                paused: false,
            },
            timing: Timing::default(),
            chain: ChainRules::default(),
            max_events_in_flight: 16,
        }
    }

    /// A node that holds the snapshot and has accepted and voted for the event.
    pub fn node() -> Node {
        let mut node =
            Node::new(config(), Box::new(signer(RECEIVER.0)), [3; 32], 1, NOW).expect("valid config");
        node.handle(NOW, WALL, Input::Utxos { utxos: utxos(), virtual_daa_score: DAA });
        node.handle(NOW, WALL, Input::NewEvent(event()));
        while node.poll_output().is_some() {}
        node
    }
}
