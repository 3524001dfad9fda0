//! The node file: one TOML file that says who this member is, who its group is, which events it accepts
//! and under which policy it signs.
//!
//! [`NodeFile`] mirrors the file; keys, hashes and EVM addresses are hex strings and destinations are
//! Kaspa addresses, so the file reads as an operator writes it. [`NodeFile::node_config`] turns it into
//! `igra-proto`'s [`NodeConfig`], running igra-proto's own validation, and every refusal is a
//! [`ConfigError`] naming the offending field, e.g. `group.members[2].identity: invalid hex`. The reference
//! of every section and field is `docs/operations.md`; `docs/examples/node.toml` is a complete example.

use std::fmt;
use std::path::Path;

use igra_proto::event::evm::EvmAddress;
use igra_proto::event::hyperlane::{HyperlaneConfig, HyperlaneOrigin};
use igra_proto::event::layerzero::{DvnConfig, LayerZeroConfig, LayerZeroPeer};
use igra_proto::event::operators::OperatorConfig;
use igra_proto::event::policy::{Policy, PolicyConfig, PolicyConfigError, SourceCap};
use igra_proto::event::{AttestationConfig, AttestationConfigError, SourceKind};
use igra_proto::kaspa::address::{Address, Prefix};
use igra_proto::kaspa::script::script_for_address;
use igra_proto::kaspa::tx::ScriptPublicKey;
use igra_proto::node::{ChainRules, NodeConfig, Timing};
use igra_proto::template::{FeeMode, TemplatePolicy};
use igra_proto::{
    GroupConfig, GroupError, IdentityPublicKey, Limits, Member, MemberIndex, Network, SigningPublicKey,
};

/// The largest node file read: a full 15-member group with every source configured is a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A refused node file: the field (a TOML path such as `group.members[2].identity`) and why.
#[derive(Debug)]
pub struct ConfigError {
    /// The offending field's path in the file; empty when the file as a whole is the problem.
    pub field: String,
    /// What is wrong with it.
    pub reason: ConfigErrorReason,
}

/// What is wrong with a field.
#[derive(Debug)]
pub enum ConfigErrorReason {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not TOML of the expected shape (unknown key, missing key, wrong type).
    Syntax(String),
    /// Not hex, or not the expected number of bytes.
    Hex {
        /// Bytes expected.
        bytes: usize,
    },
    /// A value outside what the field allows.
    Invalid(String),
    /// igra-proto refused the group.
    Group(GroupError),
    /// igra-proto refused the attestation configuration.
    Attestation(AttestationConfigError),
    /// igra-proto refused the signer policy.
    Policy(PolicyConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        match &self.reason {
            ConfigErrorReason::Io(e) => write!(f, "{e}"),
            ConfigErrorReason::Syntax(e) => f.write_str(e.trim_end()),
            ConfigErrorReason::Hex { bytes } => write!(f, "not {bytes} bytes of hex"),
            ConfigErrorReason::Invalid(why) => f.write_str(why),
            ConfigErrorReason::Group(e) => write!(f, "{e}"),
            ConfigErrorReason::Attestation(e) => write!(f, "{e}"),
            ConfigErrorReason::Policy(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn new(field: impl Into<String>, reason: ConfigErrorReason) -> Self {
        Self { field: field.into(), reason }
    }

    fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(field, ConfigErrorReason::Invalid(why.into()))
    }
}

impl NodeFile {
    /// Reads and validates the node file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let io = |e| ConfigError::new("", ConfigErrorReason::Io(e));
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES {
            return Err(ConfigError::invalid("", format!("file is {len} bytes, at most {MAX_FILE_BYTES}")));
        }
        Self::from_str(&std::fs::read_to_string(path).map_err(io)?)
    }

    /// Parses and validates a node file.
    #[allow(clippy::should_implement_trait)] // FromStr's error type would hide the field path
    pub fn from_str(text: &str) -> Result<Self, ConfigError> {
        let file: Self = toml::from_str(text)
            .map_err(|e| ConfigError::new("", ConfigErrorReason::Syntax(e.to_string())))?;
        file.node_config()?;
        Ok(file)
    }

    /// igra-proto's node configuration, validated by igra-proto's own rules.
    pub fn node_config(&self) -> Result<NodeConfig, ConfigError> {
        check_address("node.listen", &self.node.listen)?;
        let url = &self.kaspad.url;
        let authority = url.strip_prefix("ws://").unwrap_or_default();
        if authority.is_empty() || check_address("kaspad.url", authority.trim_end_matches('/')).is_err() {
            return Err(ConfigError::invalid("kaspad.url", format!("`{url}` is not ws://host:port")));
        }
        if let Some(api) = &self.api {
            check_address("api.listen", &api.listen)?;
            if !(api.rate_per_second.is_finite() && api.rate_per_second > 0.0) {
                return Err(ConfigError::invalid("api.rate_per_second", "must be a positive number"));
            }
            if api.rate_burst == 0 {
                return Err(ConfigError::invalid("api.rate_burst", "must be at least 1"));
            }
        }
        if self.node.max_events_in_flight == 0 {
            return Err(ConfigError::invalid("node.max_events_in_flight", "must be at least 1"));
        }
        let network = parse_network(&self.group.network)?;
        let group = self.group_config(network)?.validate().map_err(group_error)?;
        let me = MemberIndex(self.node.member);
        if group.member(me).is_none() {
            let n = self.group.members.len();
            return Err(ConfigError::invalid("node.member", format!("must be below the member count {n}")));
        }
        let attestation = self.attestation.convert()?;
        attestation.validate().map_err(|e| attestation_error(&self.attestation, e))?;
        let policy = self.policy.convert(network)?;
        Policy::new(policy.clone()).map_err(|e| policy_error(&policy, e))?;
        Ok(NodeConfig {
            group,
            me,
            attestation,
            template_policy: self.template.convert()?,
            policy,
            timing: self.timing.convert()?,
            chain: self.chain.convert()?,
            max_events_in_flight: self.node.max_events_in_flight,
        })
    }

    fn group_config(&self, network: Network) -> Result<GroupConfig, ConfigError> {
        let mut members = Vec::with_capacity(self.group.members.len());
        for (i, m) in self.group.members.iter().enumerate() {
            let at = |field: &str| format!("group.members[{i}].{field}");
            check_address(&at("address"), &m.address)?;
            members.push(Member {
                identity: IdentityPublicKey(hex_array(&at("identity"), &m.identity)?),
                signing: SigningPublicKey(hex_array(&at("signing"), &m.signing)?),
            });
        }
        let d = Limits::default();
        let l = &self.group.limits;
        let limits = Limits {
            max_message_bytes: l.max_message_bytes.unwrap_or(d.max_message_bytes),
            freshness_past_ms: l.freshness_past_ms.unwrap_or(d.freshness_past_ms),
            freshness_future_ms: l.freshness_future_ms.unwrap_or(d.freshness_future_ms),
            rate_per_second: l.rate_per_second.unwrap_or(d.rate_per_second),
            rate_burst: l.rate_burst.unwrap_or(d.rate_burst),
        };
        Ok(GroupConfig {
            members,
            threshold: self.group.threshold,
            network,
            policy_version: self.group.policy_version,
            limits,
        })
    }
}

impl AttestationSection {
    fn convert(&self) -> Result<AttestationConfig, ConfigError> {
        let operators = match &self.operators {
            None => None,
            Some(o) => Some(OperatorConfig {
                keys: hex_list("attestation.operators.keys", &o.keys, IdentityPublicKey)?,
                threshold: o.threshold,
            }),
        };
        let hyperlane = match &self.hyperlane {
            None => None,
            Some(h) => Some(HyperlaneConfig {
                local_domain: h.local_domain,
                recipient: hex_array("attestation.hyperlane.recipient", &h.recipient)?,
                origins: h.origins.iter().enumerate().map(|(i, o)| o.convert(i)).collect::<Result<_, _>>()?,
            }),
        };
        let layerzero = match &self.layerzero {
            None => None,
            Some(z) => Some(LayerZeroConfig {
                local_eid: z.local_eid,
                receiver: hex_array("attestation.layerzero.receiver", &z.receiver)?,
                peers: z
                    .peers
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let sender =
                            hex_array(&format!("attestation.layerzero.peers[{i}].sender"), &p.sender)?;
                        Ok(LayerZeroPeer { eid: p.eid, sender, shared_decimals: p.shared_decimals })
                    })
                    .collect::<Result<_, ConfigError>>()?,
                dvn: DvnConfig {
                    vid: z.dvn.vid,
                    target: EvmAddress(hex_array("attestation.layerzero.dvn.target", &z.dvn.target)?),
                    signers: hex_list("attestation.layerzero.dvn.signers", &z.dvn.signers, EvmAddress)?,
                    quorum: z.dvn.quorum,
                    min_confirmations: z.dvn.min_confirmations,
                },
            }),
        };
        Ok(AttestationConfig { hyperlane, layerzero, operators })
    }
}

impl OriginSection {
    fn convert(&self, i: usize) -> Result<HyperlaneOrigin, ConfigError> {
        let at = |field: &str| format!("attestation.hyperlane.origins[{i}].{field}");
        Ok(HyperlaneOrigin {
            domain: self.domain,
            merkle_tree_hook: hex_array(&at("merkle_tree_hook"), &self.merkle_tree_hook)?,
            senders: hex_list(&at("senders"), &self.senders, |s| s)?,
            validators: hex_list(&at("validators"), &self.validators, EvmAddress)?,
            threshold: self.threshold,
            token_decimals: self.token_decimals,
        })
    }
}

impl PolicySection {
    fn convert(&self, network: Network) -> Result<PolicyConfig, ConfigError> {
        let allow = match &self.allow {
            None => None,
            Some(list) => Some(destinations("policy.allow", list, network)?),
        };
        let mut source_caps = Vec::with_capacity(self.source_caps.len());
        for (i, c) in self.source_caps.iter().enumerate() {
            let source = match c.source.as_str() {
                "hyperlane" => SourceKind::Hyperlane,
                "layerzero" => SourceKind::LayerZero,
                "operators" => SourceKind::Operators,
                other => {
                    return Err(ConfigError::invalid(
                        format!("policy.source_caps[{i}].source"),
                        format!("`{other}` is not one of hyperlane, layerzero, operators"),
                    ));
                }
            };
            source_caps.push(SourceCap { source, cap: c.cap });
        }
        Ok(PolicyConfig {
            min_amount: self.min_amount,
            max_amount: self.max_amount,
            allow,
            deny: destinations("policy.deny", &self.deny, network)?,
            window_ms: self.window_ms,
            global_cap: self.global_cap,
            source_caps,
            paused: self.paused,
        })
    }
}

impl TemplateSection {
    fn convert(&self) -> Result<TemplatePolicy, ConfigError> {
        let d = TemplatePolicy::default();
        let fee_mode = match self.fee_mode.as_deref() {
            None => d.fee_mode,
            Some("group_pays") => FeeMode::GroupPays,
            Some("recipient_pays") => FeeMode::RecipientPays,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "template.fee_mode",
                    format!("`{other}` is not group_pays or recipient_pays"),
                ));
            }
        };
        let policy = TemplatePolicy {
            fee_mode,
            feerate_sompi_per_gram: self.feerate_sompi_per_gram.unwrap_or(d.feerate_sompi_per_gram),
            feerate_step_percent: self.feerate_step_percent.unwrap_or(d.feerate_step_percent),
            max_fee: self.max_fee.unwrap_or(d.max_fee),
            min_change: self.min_change.unwrap_or(d.min_change),
            max_compute_mass: self.max_compute_mass.unwrap_or(d.max_compute_mass),
            max_inputs: self.max_inputs.unwrap_or(d.max_inputs),
            min_input_depth: self.min_input_depth.unwrap_or(d.min_input_depth),
            coinbase_maturity: self.coinbase_maturity.unwrap_or(d.coinbase_maturity),
        };
        // The bounds the builder documents for these fields.
        if policy.feerate_sompi_per_gram < d.feerate_sompi_per_gram {
            let floor = d.feerate_sompi_per_gram;
            return Err(ConfigError::invalid(
                "template.feerate_sompi_per_gram",
                format!("must be at least {floor}"),
            ));
        }
        if policy.max_compute_mass > 500_000 {
            return Err(ConfigError::invalid("template.max_compute_mass", "must be at most 500000"));
        }
        if policy.max_inputs == 0 || usize::from(policy.max_inputs) > igra_proto::wire::MAX_TEMPLATE_INPUTS {
            let max = igra_proto::wire::MAX_TEMPLATE_INPUTS;
            return Err(ConfigError::invalid("template.max_inputs", format!("must be 1..={max}")));
        }
        Ok(policy)
    }
}

impl TimingSection {
    fn convert(&self) -> Result<Timing, ConfigError> {
        let d = Timing::default();
        let timing = Timing {
            round_timeout_ms: self.round_timeout_ms.unwrap_or(d.round_timeout_ms),
            round_timeout_cap_ms: self.round_timeout_cap_ms.unwrap_or(d.round_timeout_cap_ms),
            max_rounds: self.max_rounds.unwrap_or(d.max_rounds),
            anti_entropy_interval_ms: self.anti_entropy_interval_ms.unwrap_or(d.anti_entropy_interval_ms),
        };
        if timing.round_timeout_ms == 0 {
            return Err(ConfigError::invalid("timing.round_timeout_ms", "must be at least 1"));
        }
        if timing.round_timeout_cap_ms < timing.round_timeout_ms {
            return Err(ConfigError::invalid(
                "timing.round_timeout_cap_ms",
                "must be at least round_timeout_ms",
            ));
        }
        if timing.max_rounds == 0 {
            return Err(ConfigError::invalid("timing.max_rounds", "must be at least 1"));
        }
        if timing.anti_entropy_interval_ms == 0 {
            return Err(ConfigError::invalid("timing.anti_entropy_interval_ms", "must be at least 1"));
        }
        Ok(timing)
    }
}

impl ChainSection {
    fn convert(&self) -> Result<ChainRules, ConfigError> {
        let d = ChainRules::default();
        let rules = ChainRules {
            confirm_depth: self.confirm_depth.unwrap_or(d.confirm_depth),
            finality_depth: self.finality_depth.unwrap_or(d.finality_depth),
        };
        if rules.confirm_depth == 0 {
            return Err(ConfigError::invalid("chain.confirm_depth", "must be at least 1"));
        }
        if rules.finality_depth < rules.confirm_depth {
            return Err(ConfigError::invalid("chain.finality_depth", "must be at least confirm_depth"));
        }
        Ok(rules)
    }
}

/// `mainnet`, `testnet-N`, `devnet` or `simnet`.
fn parse_network(s: &str) -> Result<Network, ConfigError> {
    match s {
        "mainnet" => Ok(Network::Mainnet),
        "devnet" => Ok(Network::Devnet),
        "simnet" => Ok(Network::Simnet),
        _ => s
            .strip_prefix("testnet-")
            .and_then(|n| n.parse().ok())
            .map(|suffix| Network::Testnet { suffix })
            .ok_or_else(|| {
                ConfigError::invalid(
                    "group.network",
                    format!("`{s}` is not mainnet, testnet-N, devnet or simnet"),
                )
            }),
    }
}

/// `host:port` with a non-empty host and a non-zero port (a name, an IPv4 address or `[IPv6]`).
fn check_address(field: &str, s: &str) -> Result<(), ConfigError> {
    let ok = s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok_and(|p| p != 0)
    });
    if ok { Ok(()) } else { Err(ConfigError::invalid(field, format!("`{s}` is not host:port"))) }
}

fn hex_array<const N: usize>(field: &str, s: &str) -> Result<[u8; N], ConfigError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0; N];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| ConfigError::new(field, ConfigErrorReason::Hex { bytes: N }))?;
    Ok(out)
}

fn hex_list<const N: usize, T>(
    field: &str,
    list: &[String],
    wrap: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, ConfigError> {
    list.iter().enumerate().map(|(i, s)| hex_array(&format!("{field}[{i}]"), s).map(&wrap)).collect()
}

/// Kaspa addresses of `network`, as the scripts they pay.
fn destinations(field: &str, list: &[String], network: Network) -> Result<Vec<ScriptPublicKey>, ConfigError> {
    let prefix = match network {
        Network::Mainnet => Prefix::Mainnet,
        Network::Testnet { .. } => Prefix::Testnet,
        Network::Devnet => Prefix::Devnet,
        Network::Simnet => Prefix::Simnet,
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let address =
            Address::decode(s).map_err(|e| ConfigError::invalid(&at, format!("not a Kaspa address: {e}")))?;
        if address.prefix() != prefix {
            return Err(ConfigError::invalid(at, format!("address is not for {}", prefix.as_str())));
        }
        out.push(script_for_address(&address));
    }
    Ok(out)
}

mod errors;
mod sections;

use errors::{attestation_error, group_error, policy_error};
pub use sections::*;
