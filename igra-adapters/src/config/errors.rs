//! igra-proto's validation errors, placed on the field of the node file they came from.

use igra_proto::GroupError;
use igra_proto::event::AttestationConfigError;
use igra_proto::event::hyperlane::HyperlaneConfigError;
use igra_proto::event::layerzero::LayerZeroConfigError;
use igra_proto::event::operators::OperatorConfigError;
use igra_proto::event::policy::{PolicyConfig, PolicyConfigError};

use super::{AttestationSection, ConfigError, ConfigErrorReason};

/// A refused group, on `group.threshold`, `group.members[i].identity`, ...
pub(super) fn group_error(e: GroupError) -> ConfigError {
    let member = |i: u8, key: &str| format!("group.members[{i}].{key}");
    let field = match e {
        GroupError::NoMembers | GroupError::TooManyMembers { .. } => "group.members".to_owned(),
        GroupError::ZeroThreshold
        | GroupError::ThresholdAboveMembers { .. }
        | GroupError::NoMajority { .. } => "group.threshold".to_owned(),
        GroupError::DuplicateIdentityKey { second, .. } => member(second.0, "identity"),
        GroupError::InvalidIdentityKey { member: m, .. } => member(m.0, "identity"),
        GroupError::DuplicateSigningKey { second, .. } => member(second.0, "signing"),
        GroupError::InvalidSigningKey { member: m } => member(m.0, "signing"),
        GroupError::PolicyVersionZero => "group.policy_version".to_owned(),
        GroupError::InvalidLimit { field, .. } => format!("group.limits.{field}"),
    };
    ConfigError::new(field, ConfigErrorReason::Group(e))
}

/// A refused attestation configuration, on the source and, where the error says, the entry.
pub(super) fn attestation_error(file: &AttestationSection, e: AttestationConfigError) -> ConfigError {
    let field = match &e {
        AttestationConfigError::NoSources => "attestation".to_owned(),
        AttestationConfigError::Operators(e) => operators_field(file, *e),
        AttestationConfigError::Hyperlane(e) => hyperlane_field(file, *e),
        AttestationConfigError::LayerZero(e) => layerzero_field(file, *e),
    };
    ConfigError::new(field, ConfigErrorReason::Attestation(e))
}

fn operators_field(file: &AttestationSection, e: OperatorConfigError) -> String {
    const AT: &str = "attestation.operators";
    match e {
        OperatorConfigError::NoOperators | OperatorConfigError::TooManyOperators(_) => format!("{AT}.keys"),
        OperatorConfigError::BadThreshold { .. } => format!("{AT}.threshold"),
        OperatorConfigError::InvalidKey { operator, .. } => format!("{AT}.keys[{operator}]"),
        OperatorConfigError::DuplicateKey(key) => {
            let keys = file.operators.as_ref().map(|o| o.keys.as_slice()).unwrap_or_default();
            let hex = hex::encode(key.0);
            let same = |k: &String| k.trim_start_matches("0x").eq_ignore_ascii_case(&hex);
            let second = keys.iter().enumerate().filter(|(_, k)| same(k)).nth(1);
            second.map_or_else(|| format!("{AT}.keys"), |(i, _)| format!("{AT}.keys[{i}]"))
        }
    }
}

fn hyperlane_field(file: &AttestationSection, e: HyperlaneConfigError) -> String {
    const AT: &str = "attestation.hyperlane";
    let origins = file.hyperlane.as_ref().map(|h| h.origins.as_slice()).unwrap_or_default();
    // The last origin with the domain: for a duplicate, that is the second one.
    let origin = |domain: u32, field: &str| {
        origins
            .iter()
            .rposition(|o| o.domain == domain)
            .map_or_else(|| format!("{AT}.origins"), |i| format!("{AT}.origins[{i}].{field}"))
    };
    match e {
        HyperlaneConfigError::NoOrigins | HyperlaneConfigError::TooManyOrigins(_) => format!("{AT}.origins"),
        HyperlaneConfigError::DuplicateOrigin(d) | HyperlaneConfigError::OriginIsLocal(d) => {
            origin(d, "domain")
        }
        HyperlaneConfigError::NoSenders { origin: d }
        | HyperlaneConfigError::TooManySenders { origin: d, .. }
        | HyperlaneConfigError::DuplicateSender { origin: d, .. } => origin(d, "senders"),
        HyperlaneConfigError::NoValidators { origin: d }
        | HyperlaneConfigError::TooManyValidators { origin: d, .. }
        | HyperlaneConfigError::DuplicateValidator { origin: d, .. } => origin(d, "validators"),
        HyperlaneConfigError::BadThreshold { origin: d, .. } => origin(d, "threshold"),
        HyperlaneConfigError::TooManyDecimals { origin: d, .. } => origin(d, "token_decimals"),
    }
}

fn layerzero_field(file: &AttestationSection, e: LayerZeroConfigError) -> String {
    const AT: &str = "attestation.layerzero";
    let peers = file.layerzero.as_ref().map(|z| z.peers.as_slice()).unwrap_or_default();
    let peer = |eid: u32, field: &str| {
        peers
            .iter()
            .rposition(|p| p.eid == eid)
            .map_or_else(|| format!("{AT}.peers"), |i| format!("{AT}.peers[{i}].{field}"))
    };
    match e {
        LayerZeroConfigError::NoPeers | LayerZeroConfigError::TooManyPeers(_) => format!("{AT}.peers"),
        LayerZeroConfigError::DuplicatePeer(eid) | LayerZeroConfigError::PeerIsLocal(eid) => peer(eid, "eid"),
        LayerZeroConfigError::TooManyDecimals { eid, .. } => peer(eid, "shared_decimals"),
        LayerZeroConfigError::NoSigners
        | LayerZeroConfigError::TooManySigners(_)
        | LayerZeroConfigError::DuplicateSigner(_)
        | LayerZeroConfigError::ZeroSigner => format!("{AT}.dvn.signers"),
        LayerZeroConfigError::BadQuorum { .. } => format!("{AT}.dvn.quorum"),
    }
}

/// A refused policy, on its field and, for a cap or a destination, its entry.
pub(super) fn policy_error(policy: &PolicyConfig, e: PolicyConfigError) -> ConfigError {
    let entry = |list: &str, i: Option<usize>, field: &str| {
        i.map_or_else(|| format!("policy.{list}"), |i| format!("policy.{list}[{i}]{field}"))
    };
    let field = match &e {
        PolicyConfigError::ZeroMinimum | PolicyConfigError::MinimumAboveMaximum { .. } => {
            "policy.min_amount".to_owned()
        }
        PolicyConfigError::ZeroMaximum | PolicyConfigError::MaximumAboveSupply(_) => {
            "policy.max_amount".to_owned()
        }
        PolicyConfigError::ZeroWindow | PolicyConfigError::WindowTooLong(_) => "policy.window_ms".to_owned(),
        PolicyConfigError::ZeroGlobalCap => "policy.global_cap".to_owned(),
        PolicyConfigError::ZeroSourceCap(kind) => {
            entry("source_caps", policy.source_caps.iter().position(|c| c.source == *kind), ".cap")
        }
        PolicyConfigError::DuplicateSourceCap(kind) => {
            entry("source_caps", policy.source_caps.iter().rposition(|c| c.source == *kind), ".source")
        }
        PolicyConfigError::EmptyAllowList | PolicyConfigError::TooManyAllowed(_) => "policy.allow".to_owned(),
        PolicyConfigError::TooManyDenied(_) => "policy.deny".to_owned(),
        PolicyConfigError::DuplicateDestination(spk) => {
            let allow = policy.allow.as_deref().unwrap_or_default();
            let second =
                |list: &[_]| list.iter().enumerate().filter(|(_, s)| *s == spk).nth(1).map(|(i, _)| i);
            match second(allow) {
                Some(i) => entry("allow", Some(i), ""),
                None => entry("deny", second(&policy.deny), ""),
            }
        }
        PolicyConfigError::AllowedAndDenied(spk) => {
            entry("deny", policy.deny.iter().position(|s| s == spk), "")
        }
    };
    ConfigError::new(field, ConfigErrorReason::Policy(e))
}
