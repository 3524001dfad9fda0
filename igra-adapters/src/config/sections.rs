//! The node file's sections as the file spells them: hex strings for keys, Kaspa addresses for
//! destinations, optional fields where igra-proto has a default.

use std::path::PathBuf;

use igra_proto::kaspa::tx::Sompi;
use serde::Deserialize;

/// The whole node file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// This node: its member index, files and listen address.
    pub node: NodeSection,
    /// The group, identical in every member's file.
    pub group: GroupSection,
    /// Accepted event sources, identical in every member's file.
    pub attestation: AttestationSection,
    /// This signer's policy.
    pub policy: PolicySection,
    /// The group's template policy; omitted fields take igra-proto's defaults.
    #[serde(default)]
    pub template: TemplateSection,
    /// Round timers; omitted fields take igra-proto's defaults.
    #[serde(default)]
    pub timing: TimingSection,
    /// Confirmation and finality depths; omitted fields take igra-proto's defaults.
    #[serde(default)]
    pub chain: ChainSection,
    /// The Kaspa node this member follows and submits to.
    pub kaspad: KaspadSection,
    /// The HTTP API; omitted: no API.
    pub api: Option<ApiSection>,
}

/// `[kaspad]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KaspadSection {
    /// `ws://host:port` of the node's wRPC JSON listener (`--rpclisten-json`).
    pub url: String,
}

/// `[api]`. The bearer token, if any, is read from the `IGRA_API_TOKEN` environment variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// `host:port` the API listens on; keep it on loopback or set a token.
    pub listen: String,
    /// Requests per second each client may make.
    #[serde(default = "default_api_rate")]
    pub rate_per_second: f64,
    /// Requests a quiet client may make at once.
    #[serde(default = "default_api_burst")]
    pub rate_burst: u32,
}

const fn default_api_rate() -> f64 {
    50.0
}

const fn default_api_burst() -> u32 {
    100
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This member's index in `group.members`.
    pub member: u8,
    /// Directory of the node's database.
    pub data_dir: PathBuf,
    /// The encrypted keystore (`igra keygen` writes it).
    pub keystore: PathBuf,
    /// `host:port` the node listens on for its peers.
    pub listen: String,
    /// Events in progress at once.
    #[serde(default = "default_max_events_in_flight")]
    pub max_events_in_flight: usize,
}

const fn default_max_events_in_flight() -> usize {
    100
}

/// `[group]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSection {
    /// `mainnet`, `testnet-N`, `devnet` or `simnet`.
    pub network: String,
    /// Signatures needed to spend.
    pub threshold: u8,
    /// The signing policy version all members run (at least 1).
    pub policy_version: u32,
    /// Node-local message limits; omitted fields take igra-proto's defaults.
    #[serde(default)]
    pub limits: LimitsSection,
    /// The members, in group order.
    pub members: Vec<MemberSection>,
}

/// `[group.limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields are Limits' fields, documented there
pub struct LimitsSection {
    pub max_message_bytes: Option<u32>,
    pub freshness_past_ms: Option<u64>,
    pub freshness_future_ms: Option<u64>,
    pub rate_per_second: Option<u32>,
    pub rate_burst: Option<u32>,
}

/// One `[[group.members]]` entry, as `igra keygen` prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSection {
    /// Ed25519 identity key, 32 bytes hex.
    pub identity: String,
    /// secp256k1 x-only signing key, 32 bytes hex.
    pub signing: String,
    /// `host:port` where the other members reach this one.
    pub address: String,
}

/// `[attestation]`: at least one source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationSection {
    /// `[attestation.operators]`.
    pub operators: Option<OperatorsSection>,
    /// `[attestation.hyperlane]`.
    pub hyperlane: Option<HyperlaneSection>,
    /// `[attestation.layerzero]`.
    pub layerzero: Option<LayerZeroSection>,
}

/// `[attestation.operators]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorsSection {
    /// Operators' Ed25519 keys, hex.
    pub keys: Vec<String>,
    /// Approvals needed.
    pub threshold: u8,
}

/// `[attestation.hyperlane]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperlaneSection {
    /// Kaspa's Hyperlane domain.
    pub local_domain: u32,
    /// The recipient of messages on Kaspa's side, 32 bytes hex.
    pub recipient: String,
    /// `[[attestation.hyperlane.origins]]`.
    pub origins: Vec<OriginSection>,
}

/// One Hyperlane origin chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginSection {
    /// Origin domain.
    pub domain: u32,
    /// The origin's merkle tree hook, 32 bytes hex.
    pub merkle_tree_hook: String,
    /// Accepted senders, 32 bytes hex each.
    pub senders: Vec<String>,
    /// Validator EVM addresses, 20 bytes hex each.
    pub validators: Vec<String>,
    /// Validator signatures needed.
    pub threshold: u8,
    /// Decimals of the bridged token on the origin.
    pub token_decimals: u8,
}

/// `[attestation.layerzero]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerZeroSection {
    /// Kaspa's endpoint id.
    pub local_eid: u32,
    /// The receiver on Kaspa's side, 32 bytes hex.
    pub receiver: String,
    /// `[[attestation.layerzero.peers]]`.
    pub peers: Vec<PeerSection>,
    /// `[attestation.layerzero.dvn]`.
    pub dvn: DvnSection,
}

/// One LayerZero peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSection {
    /// Peer endpoint id.
    pub eid: u32,
    /// The peer's sender, 32 bytes hex.
    pub sender: String,
    /// Shared decimals of the token.
    pub shared_decimals: u8,
}

/// The LayerZero DVN.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DvnSection {
    /// Verifier id.
    pub vid: u32,
    /// The DVN contract, 20 bytes hex.
    pub target: String,
    /// Signer EVM addresses, 20 bytes hex each.
    pub signers: Vec<String>,
    /// Signatures needed.
    pub quorum: u8,
    /// Source-chain confirmations required.
    pub min_confirmations: u64,
}

/// `[policy]`: this signer's own limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Smallest amount paid, in sompi.
    pub min_amount: Sompi,
    /// Largest amount paid, in sompi.
    pub max_amount: Sompi,
    /// If present, the only Kaspa addresses paid.
    pub allow: Option<Vec<String>>,
    /// Kaspa addresses never paid.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The volume window, in ms.
    pub window_ms: u64,
    /// Most sompi paid in any window, over all sources.
    pub global_cap: Option<Sompi>,
    /// Per-source caps over the window.
    #[serde(default)]
    pub source_caps: Vec<SourceCapSection>,
    /// Refuse every new event.
    #[serde(default)]
    pub paused: bool,
}

/// One `[[policy.source_caps]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCapSection {
    /// `hyperlane`, `layerzero` or `operators`.
    pub source: String,
    /// Most sompi paid from this source in any window.
    pub cap: Sompi,
}

/// `[template]`; the fields are [`TemplatePolicy`](igra_proto::template::TemplatePolicy)'s, `fee_mode` spelled `group_pays` or `recipient_pays`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields are TemplatePolicy's, documented there
pub struct TemplateSection {
    pub fee_mode: Option<String>,
    pub feerate_sompi_per_gram: Option<u64>,
    pub feerate_step_percent: Option<u32>,
    pub max_fee: Option<Sompi>,
    pub min_change: Option<Sompi>,
    pub max_compute_mass: Option<u64>,
    pub max_inputs: Option<u16>,
    pub min_input_depth: Option<u64>,
    pub coinbase_maturity: Option<u64>,
}

/// `[timing]`; the fields are [`Timing`](igra_proto::node::Timing)'s.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields are Timing's, documented there
pub struct TimingSection {
    pub round_timeout_ms: Option<u64>,
    pub round_timeout_cap_ms: Option<u64>,
    pub max_rounds: Option<u32>,
    pub anti_entropy_interval_ms: Option<u64>,
}

/// `[chain]`; the fields are [`ChainRules`](igra_proto::node::ChainRules)'.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields are ChainRules', documented there
pub struct ChainSection {
    pub confirm_depth: Option<u64>,
    pub finality_depth: Option<u64>,
}
