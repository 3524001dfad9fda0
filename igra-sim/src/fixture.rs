//! The fixed cast of a run: the group and its members' keys, the operators that attest events, the
//! nodes' configuration, the funded pool and the events themselves.

use igra_proto::event::operators::{OperatorAttestation, OperatorConfig, approve};
use igra_proto::event::policy::PolicyConfig;
use igra_proto::event::{Attestation, AttestationConfig, Event, EventSource, SourceKind};
use igra_proto::kaspa::script::{MultisigScript, pay_to_pubkey};
use igra_proto::kaspa::tx::{Outpoint, SOMPI_PER_KASPA, Sompi, UtxoEntry};
use igra_proto::node::{ChainRules, NodeConfig, Timing};
use igra_proto::template::{Payment, TemplatePolicy, Utxo};
use igra_proto::wire::BoundedVec;
use igra_proto::{
    Group, GroupConfig, Limits, LocalSigner, Member, MemberIndex, Network, Signer, SigningPublicKey,
};
use igra_proto::{TransactionId, UnixMs};

use crate::ledger::GENESIS_DAA_SCORE;
use crate::swarm::Swarm;

/// Wall-clock time at simulated time 0 (2027-01-15).
pub const WALL_AT_ZERO: UnixMs = UnixMs(1_800_000_000_000);
/// Operators who attest events, and how many must approve one.
const OPERATORS: u8 = 3;
const OPERATOR_THRESHOLD: u8 = 2;

/// The signer of member `i` (fixed keys, different per index).
///
/// # Panics
/// Never: the fixed secrets are valid keys.
pub fn member_signer(i: u8) -> LocalSigner {
    // Secrets 1..=15 are valid keys on both curves.
    LocalSigner::from_secrets([i.wrapping_add(1); 32], [i.wrapping_add(1); 32])
        .expect("fixed test secrets are valid")
}

/// The group and everything derived from it.
#[derive(Debug)]
pub struct Fixture {
    /// The group.
    pub group: Group,
    /// Its redeem script.
    pub script: MultisigScript,
    /// Each node's configuration.
    pub configs: Vec<NodeConfig>,
    /// The events, in the swarm's order.
    pub events: Vec<Event>,
    /// The funded pool.
    pub pool: Vec<Utxo>,
}

impl Fixture {
    /// The fixture of `swarm`.
    ///
    /// # Panics
    /// If the swarm's group is invalid (the swarm keeps `2m > n` and `n <= 15`, so never).
    pub fn new(swarm: &Swarm) -> Self {
        let amounts: Vec<Sompi> = swarm.events.iter().map(|plan| plan.amount).collect();
        Self::of_group(swarm.n, swarm.m, &swarm.pool, &amounts)
    }

    /// An `m`-of-`n` group funded with one output per `pool` amount, with one attested event per
    /// `event_amounts` entry (event `i` has external id `i` and pays [`destination`]`(i)`).
    ///
    /// # Panics
    /// If the group is invalid (`2m <= n`, `m == 0` or `n > 15`).
    pub fn of_group(n: u8, m: u8, pool: &[Sompi], event_amounts: &[Sompi]) -> Self {
        let members = (0..n)
            .map(member_signer)
            .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
            .collect();
        let group = GroupConfig {
            members,
            threshold: m,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .expect("the caller passes a valid group shape");
        let script = MultisigScript::for_group(&group).expect("a valid group has a script");
        let operators: Vec<_> = (0..OPERATORS).map(|i| member_signer(200 + i)).collect();
        let attestation = AttestationConfig {
            operators: Some(OperatorConfig {
                keys: operators.iter().map(Signer::identity_public_key).collect(),
                threshold: OPERATOR_THRESHOLD,
            }),
            ..AttestationConfig::default()
        };
        let configs = (0..n).map(|i| node_config(&group, MemberIndex(i), &attestation)).collect();
        let events = event_amounts
            .iter()
            .zip(0u32..)
            .map(|(amount, tag)| attested_event(&group, &operators, tag, *amount))
            .collect();
        let pool = pool.iter().zip(0u32..).map(|(amount, tag)| funding(&script, tag, *amount)).collect();
        Self { group, script, configs, events, pool }
    }
}

/// Member `me`'s node configuration with the simulator's defaults: a permissive policy (1 sompi to
/// 1,000 KAS, no lists or caps), default template policy, timing and chain rules, 64 events in flight.
/// The devnet starts from it too.
pub fn node_config(group: &Group, me: MemberIndex, attestation: &AttestationConfig) -> NodeConfig {
    NodeConfig {
        group: group.clone(),
        me,
        attestation: attestation.clone(),
        template_policy: TemplatePolicy::default(),
        policy: PolicyConfig {
            min_amount: 1,
            max_amount: 1_000 * SOMPI_PER_KASPA,
            allow: None,
            deny: vec![],
            window_ms: 86_400_000,
            global_cap: None,
            source_caps: vec![],
            paused: false,
        },
        timing: Timing::default(),
        chain: ChainRules::default(),
        max_events_in_flight: 64,
    }
}

/// The payee of event `tag`: every event pays a different destination, so payments are attributable.
pub fn destination(tag: u8) -> igra_proto::kaspa::tx::ScriptPublicKey {
    pay_to_pubkey(&SigningPublicKey([0x40u8.wrapping_add(tag); 32]))
}

fn attested_event(group: &Group, operators: &[LocalSigner], tag: u32, amount: u64) -> Event {
    // Tags below 256 keep the external id of earlier versions (`[tag; 32]`), so recorded seeds replay.
    let external_id = if let Ok(small) = u8::try_from(tag) {
        [small; 32]
    } else {
        let mut id = [0xeeu8; 32];
        id[..4].copy_from_slice(&tag.to_le_bytes());
        id
    };
    let mut event = Event {
        source: EventSource { kind: SourceKind::Operators, id: 0 },
        external_id,
        payment: Payment { destination: destination(tag.to_le_bytes()[0]), amount },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    };
    let id = event.id();
    let approvals: Vec<_> = operators
        .iter()
        .zip(0u8..)
        .take(usize::from(OPERATOR_THRESHOLD))
        .map(|(operator, i)| approve(operator, i, group.id(), &id).expect("operator keys sign"))
        .collect();
    event.attestation = Attestation::Operators(OperatorAttestation {
        approvals: approvals.try_into().expect("within the approval bound"),
    });
    event
}

fn funding(script: &MultisigScript, tag: u32, amount: u64) -> Utxo {
    let mut txid = [0xf0u8; 32];
    txid[..4].copy_from_slice(&tag.to_le_bytes());
    Utxo {
        outpoint: Outpoint { transaction_id: TransactionId(txid), index: 0 },
        entry: UtxoEntry {
            amount,
            script_public_key: script.script_public_key(),
            block_daa_score: GENESIS_DAA_SCORE - 5_000,
            is_coinbase: false,
        },
    }
}
