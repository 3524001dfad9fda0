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
    use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
    use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
    use igra_proto::kaspa::tx::{Outpoint, UtxoEntry};
    use igra_proto::node::{Input, Node, NodeConfig};
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
            output_keys: None,
            reserved: &Default::default(),
            virtual_daa_score: DAA,
        })
        .expect("the pool pays the event")
    }

    /// The node's configuration.
    pub fn config() -> NodeConfig {
        let attestation = AttestationConfig {
            operators: Some(OperatorConfig { keys: vec![operator().identity_public_key()], threshold: 1 }),
            ..AttestationConfig::default()
        };
        // The simulator's defaults (permissive policy up to 1,000 KAS, default template policy, timing
        // and chain rules); only the in-flight bound is smaller here.
        NodeConfig {
            max_events_in_flight: 16,
            ..igra_sim::fixture::node_config(group(), RECEIVER, &attestation)
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

/// The world of the `attestation` target: a group id and an [`AttestationConfig`] that accepts all three
/// sources, each with real test keys, and builders of events that verify under it, so that seeded
/// inputs reach the signature checks at the bottom of every verifier.
///
/// [`AttestationConfig`]: igra_proto::event::AttestationConfig
pub mod attestation_world {
    use igra_proto::event::evm::{EvmAddress, EvmSigner};
    use igra_proto::event::hyperlane::{
        HyperlaneAttestation, HyperlaneConfig, HyperlaneOrigin, MerkleTree, attest_merkle_root,
        attest_message_id, warp_message,
    };
    use igra_proto::event::layerzero::{
        DvnConfig, LayerZeroAttestation, LayerZeroConfig, LayerZeroPeer, attest, oft_packet,
    };
    use igra_proto::event::operators::{OperatorAttestation, OperatorConfig, approve};
    use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
    use igra_proto::kaspa::script::pay_to_pubkey;
    use igra_proto::template::Payment;
    use igra_proto::wire::BoundedVec;
    use igra_proto::{GroupId, LocalSigner, Signer, SigningPublicKey};

    /// The group the operators approve for.
    pub const GROUP: GroupId = GroupId([0x47; 32]);
    /// The group's Hyperlane domain.
    pub const LOCAL_DOMAIN: u32 = 0x97BD;
    /// The accepted Hyperlane origin.
    pub const ORIGIN: u32 = 1000;
    /// The origin's `MerkleTreeHook`.
    pub const HOOK: [u8; 32] = [0x22; 32];
    /// The group's Hyperlane router.
    pub const ROUTER: [u8; 32] = [0xAA; 32];
    /// The origin's warp router.
    pub const HYPERLANE_SENDER: [u8; 32] = [0x5E; 32];
    /// The group's LayerZero endpoint.
    pub const LOCAL_EID: u32 = 39_999;
    /// The accepted LayerZero source endpoint.
    pub const PEER_EID: u32 = 30_101;
    /// The group's `OApp`.
    pub const RECEIVER: [u8; 32] = [0xAB; 32];
    /// The peer OFT.
    pub const PEER: [u8; 32] = [0x5F; 32];
    /// The confirmations the DVN signers attest.
    pub const CONFIRMATIONS: u64 = 20;
    /// The expiration the DVN signers sign.
    pub const EXPIRATION: u64 = 1_900_000_000;

    /// Hyperlane validator `i` of 3 (2 must sign, in this order).
    ///
    /// # Panics
    /// Never for `i < 3`: the fixed secrets are valid keys.
    pub fn validator(i: u8) -> EvmSigner {
        EvmSigner::from_secret(&[0x31 + i; 32]).expect("fixed secrets are valid keys")
    }

    /// DVN signer `i` of 3 (exactly 2 must sign).
    ///
    /// # Panics
    /// Never for `i < 3`: the fixed secrets are valid keys.
    pub fn dvn_signer(i: u8) -> EvmSigner {
        EvmSigner::from_secret(&[0x51 + i; 32]).expect("fixed secrets are valid keys")
    }

    /// Operator `i` of 3 (2 must approve).
    ///
    /// # Panics
    /// Never for `i < 3`: the fixed secrets are valid keys.
    pub fn operator(i: u8) -> LocalSigner {
        LocalSigner::from_secrets([0x61 + i; 32], [0x61 + i; 32]).expect("fixed secrets are valid keys")
    }

    /// Accepts Hyperlane from [`ORIGIN`] (2 of 3 validators, 18 decimals), LayerZero from [`PEER_EID`]
    /// (a 2-of-3 DVN, 6 shared decimals) and operators (2 of 3).
    pub fn config() -> AttestationConfig {
        let mut dvn_signers: Vec<EvmAddress> = (0..3).map(|i| dvn_signer(i).address()).collect();
        dvn_signers.sort();
        AttestationConfig {
            hyperlane: Some(HyperlaneConfig {
                local_domain: LOCAL_DOMAIN,
                recipient: ROUTER,
                origins: vec![HyperlaneOrigin {
                    domain: ORIGIN,
                    merkle_tree_hook: HOOK,
                    senders: vec![HYPERLANE_SENDER],
                    validators: (0..3).map(|i| validator(i).address()).collect(),
                    threshold: 2,
                    token_decimals: 18,
                }],
            }),
            layerzero: Some(LayerZeroConfig {
                local_eid: LOCAL_EID,
                receiver: RECEIVER,
                peers: vec![LayerZeroPeer { eid: PEER_EID, sender: PEER, shared_decimals: 6 }],
                dvn: DvnConfig {
                    vid: 101,
                    target: EvmAddress([0x7A; 20]),
                    signers: dvn_signers,
                    quorum: 2,
                    min_confirmations: 15,
                },
            }),
            operators: Some(OperatorConfig {
                keys: (0..3).map(|i| operator(i).identity_public_key()).collect(),
                threshold: 2,
            }),
        }
    }

    /// A payment of `amount` sompi to a fixed key.
    pub fn payment(amount: u64) -> Payment {
        Payment { destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])), amount }
    }

    /// A Hyperlane event for `payment` with message `nonce`, in message-id layout signed by
    /// `validators` (indices, in order), or in merkle-root layout (the message at leaf 1 of 4).
    ///
    /// # Panics
    /// If the payment is not representable or a bound is exceeded (never for the seeds).
    pub fn hyperlane(payment: &Payment, nonce: u32, validators: &[u8], merkle_root: bool) -> Event {
        let config = config();
        let hyperlane = config.hyperlane.as_ref().expect("configured");
        let message = warp_message(hyperlane, ORIGIN, HYPERLANE_SENDER, nonce, payment).expect("payable");
        let signers: Vec<EvmSigner> = validators.iter().map(|&i| validator(i)).collect();
        let attestation: HyperlaneAttestation = if merkle_root {
            let mut tree = MerkleTree::new();
            for leaf in [[0xE0; 32], message.id(), [0xE2; 32], [0xE3; 32]] {
                tree.insert(leaf).expect("room");
            }
            attest_merkle_root(&message, HOOK, &tree, 1, &signers).expect("within bounds")
        } else {
            attest_message_id(&message, HOOK, [0x09; 32], nonce, &signers).expect("within bounds")
        };
        Event {
            source: EventSource { kind: SourceKind::Hyperlane, id: ORIGIN },
            external_id: message.id(),
            payment: payment.clone(),
            attestation: Attestation::Hyperlane(attestation),
        }
    }

    /// A LayerZero event for `payment` with packet `nonce`, signed by DVN `signers` (indices).
    ///
    /// # Panics
    /// If the payment is not representable or a bound is exceeded (never for the seeds).
    pub fn layerzero(payment: &Payment, nonce: u64, signers: &[u8]) -> Event {
        let config = config();
        let layerzero = config.layerzero.as_ref().expect("configured");
        let packet = oft_packet(layerzero, PEER_EID, nonce, payment).expect("payable");
        let signers: Vec<EvmSigner> = signers.iter().map(|&i| dvn_signer(i)).collect();
        let attestation: LayerZeroAttestation =
            attest(&packet, CONFIRMATIONS, EXPIRATION, &layerzero.dvn, &signers).expect("within bounds");
        Event {
            source: EventSource { kind: SourceKind::LayerZero, id: PEER_EID },
            external_id: packet.guid,
            payment: payment.clone(),
            attestation: Attestation::LayerZero(attestation),
        }
    }

    /// An operator event for `payment` with request id `external_id`, approved by `operators`
    /// (indices) for [`GROUP`].
    ///
    /// # Panics
    /// If an approval cannot be signed (never: the keys are local).
    pub fn operators(payment: &Payment, external_id: [u8; 32], operators: &[u8]) -> Event {
        let mut event = Event {
            source: EventSource { kind: SourceKind::Operators, id: 0 },
            external_id,
            payment: payment.clone(),
            attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
        };
        let id = event.id();
        let approvals: Vec<_> =
            operators.iter().map(|&i| approve(&operator(i), i, GROUP, &id).expect("signs")).collect();
        event.attestation =
            Attestation::Operators(OperatorAttestation { approvals: approvals.try_into().expect("fits") });
        event
    }
}

/// The world of the `template` target: the fixed group's script, the payment of
/// [`node_world::event`] and the two fee modes of the default policy, with builders of templates that
/// pass [`validate`](igra_proto::template::validate) in that world.
pub mod template_world {
    use igra_proto::kaspa::script::MultisigScript;
    use igra_proto::kaspa::tx::{Outpoint, UtxoEntry};
    use igra_proto::template::{BuildRequest, FeeMode, Payment, Template, TemplatePolicy, Utxo, build};
    use igra_proto::{EventId, TransactionId};

    use super::group;
    use super::node_world::{DAA, event};

    /// The group's redeem script.
    ///
    /// # Panics
    /// Never: the fixed group has a script.
    pub fn script() -> MultisigScript {
        MultisigScript::for_group(group()).expect("the fixed group has a script")
    }

    /// The payment every template is checked against: [`node_world::event`]'s, 3 KAS.
    ///
    /// [`node_world::event`]: super::node_world::event
    pub fn payment() -> Payment {
        event().payment
    }

    /// The policies every template is checked against: the default (the group pays the fee), and the
    /// same with the recipient paying it.
    pub fn policies() -> [TemplatePolicy; 2] {
        let group_pays = TemplatePolicy::default();
        [group_pays, TemplatePolicy { fee_mode: FeeMode::RecipientPays, ..group_pays }]
    }

    /// `amounts` as mature outputs of the group, with transaction ids from `tag`.
    pub fn utxos(tag: u8, amounts: &[u64]) -> Vec<Utxo> {
        let script = script().script_public_key();
        amounts
            .iter()
            .zip(0u32..)
            .map(|(&amount, index)| Utxo {
                outpoint: Outpoint { transaction_id: TransactionId([tag; 32]), index },
                entry: UtxoEntry {
                    amount,
                    script_public_key: script.clone(),
                    block_daa_score: DAA - 10_000,
                    is_coinbase: false,
                },
            })
            .collect()
    }

    /// The template the builder makes from `utxos` in `round` under `policy`, if any.
    pub fn template(utxos: &[Utxo], round: u32, policy: &TemplatePolicy) -> Option<Template> {
        let payment = payment();
        let script = script();
        build(&BuildRequest {
            event_id: EventId([0x66; 32]),
            epoch: 0,
            round,
            payment: &payment,
            group_script: &script,
            policy,
            utxos,
            output_keys: None,
            reserved: &Default::default(),
            virtual_daa_score: DAA,
        })
        .ok()
    }
}

pub mod scenario;
