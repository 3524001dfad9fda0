//! The node file: the example loads into a `NodeConfig` that `Node::new` accepts, and every refusal
//! names its field.

use std::path::{Path, PathBuf};

use igra_adapters::config::{ConfigError, ConfigErrorReason, NodeFile};
use igra_proto::node::Node;
use igra_proto::{Instant, LocalSigner, MemberIndex, Network};

const TEST_MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                             abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                             abandon abandon abandon art";

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/node.toml")
}

fn example() -> String {
    std::fs::read_to_string(example_path()).unwrap()
}

/// The example with `from` (which must occur exactly once) replaced by `to`.
fn edited(from: &str, to: &str) -> String {
    let text = example();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once in the example");
    text.replacen(from, to, 1)
}

/// The error of the example edited as given, which must name `field`.
fn refused(from: &str, to: &str, field: &str) -> ConfigError {
    let err = NodeFile::from_str(&edited(from, to)).expect_err(field);
    assert_eq!(err.field, field, "{err}");
    assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
    err
}

const MEMBER_1_IDENTITY: &str = "a535245785cfb966f9d21c1e86a3d38a9aaca34904f347951e3f6e761ff8de68";
const MEMBER_2_IDENTITY: &str = "71c0945b12c4fc243b96bda36a88ff6c09565d22cc0f17acc2a65cb7dc8fed63";
const MEMBER_2_SIGNING: &str = "7bbfaad32f7f0f7f8e461b74e3e6dd4af1bfe34eef713b875473b3a7d3bd7e96";
const OPERATOR_1: &str = "1d5c8ea07bbe9deb18316af84bb2680c8c720c41557b1b794b435f2f0f988b4b";

#[test]
fn example_loads_and_starts_a_node() {
    let file = NodeFile::load(&example_path()).unwrap();
    assert_eq!(file.kaspad.url, "ws://127.0.0.1:17210");
    assert_eq!(file.api.as_ref().map(|a| a.listen.as_str()), Some("127.0.0.1:7200"));
    let config = file.node_config().unwrap();
    assert_eq!(config.me, MemberIndex(0));
    assert_eq!(config.group.config().network, Network::Testnet { suffix: 10 });
    assert!(config.attestation.operators.is_some());
    assert!(config.attestation.hyperlane.is_some() && config.attestation.layerzero.is_some());
    assert_eq!(config.policy.deny.len(), 1);
    let signer = LocalSigner::from_mnemonic(TEST_MNEMONIC, "").unwrap();
    Node::new(config, Box::new(signer), [1; 32], 1, Instant(0)).unwrap();
}

#[test]
fn another_members_signer_is_not_this_node() {
    let config = NodeFile::load(&example_path()).unwrap().node_config().unwrap();
    let member_1 = LocalSigner::from_mnemonic(TEST_MNEMONIC, "member 1").unwrap();
    assert!(Node::new(config, Box::new(member_1), [1; 32], 1, Instant(0)).is_err());
}

#[test]
fn syntax_errors_name_the_key() {
    let err =
        NodeFile::from_str(&edited("max_events_in_flight = 100", "max_events_in_flite = 100")).unwrap_err();
    assert!(matches!(err.reason, ConfigErrorReason::Syntax(_)));
    assert!(err.to_string().contains("max_events_in_flite"), "{err}");
    let err =
        NodeFile::from_str(&edited("threshold = 2                           #", "threshold = \"two\" #"))
            .unwrap_err();
    assert!(err.to_string().contains("threshold"), "{err}");
    assert!(matches!(
        NodeFile::load(Path::new("/nonexistent/node.toml")).unwrap_err().reason,
        ConfigErrorReason::Io(_)
    ));
}

#[test]
fn node_section_errors() {
    refused("member = 0 ", "member = 3 ", "node.member");
    refused("\"0.0.0.0:7100\"", "\"0.0.0.0\"", "node.listen");
    refused("max_events_in_flight = 100", "max_events_in_flight = 0", "node.max_events_in_flight");
}

#[test]
fn group_errors_name_the_member_and_key() {
    refused("\"testnet-10\"", "\"testnet\"", "group.network");
    let err = refused(MEMBER_2_IDENTITY, "zz", "group.members[2].identity");
    assert!(matches!(err.reason, ConfigErrorReason::Hex { bytes: 32 }));
    // A small-order point: valid hex, refused by igra-proto.
    let weak = "0000000000000000000000000000000000000000000000000000000000000000";
    let err = refused(MEMBER_2_IDENTITY, weak, "group.members[2].identity");
    assert!(matches!(err.reason, ConfigErrorReason::Group(_)));
    refused(MEMBER_2_IDENTITY, MEMBER_1_IDENTITY, "group.members[2].identity");
    refused(MEMBER_2_SIGNING, &"ff".repeat(32), "group.members[2].signing");
    refused("\"igra-2.example.net:7100\"", "\"igra-2.example.net\"", "group.members[2].address");
    refused("threshold = 2                           #", "threshold = 1 #", "group.threshold");
    refused("threshold = 2                           #", "threshold = 0 #", "group.threshold");
    refused("policy_version = 1 ", "policy_version = 0 ", "group.policy_version");
    refused("freshness_past_ms = 60000", "freshness_past_ms = 6000000", "group.limits.freshness_past_ms");
}

#[test]
fn attestation_errors_name_the_source_and_entry() {
    refused(
        OPERATOR_1,
        "228c81ffb819fd26b8f5369f3e84e60db70b7cddfda0ae5d88e2b4b62c6c02f2",
        "attestation.operators.keys[1]",
    );
    refused(OPERATOR_1, "0x12", "attestation.operators.keys[1]");
    refused(
        "threshold = 2\n\n[attestation.hyperlane]",
        "threshold = 3\n\n[attestation.hyperlane]",
        "attestation.operators.threshold",
    );
    refused("domain = 1\n", "domain = 7001\n", "attestation.hyperlane.origins[0].domain");
    refused("token_decimals = 18", "token_decimals = 40", "attestation.hyperlane.origins[0].token_decimals");
    refused(
        "\"0x03c842db86a6a3e524d4a6615390c1ea8e2b9541\", \"0x94438a7de38d4548ae54df5c6010c4ebc5239eae\"",
        "\"0x03c842db86a6a3e524d4a6615390c1ea8e2b9541\", \"0x03c842db86a6a3e524d4a6615390c1ea8e2b9541\"",
        "attestation.hyperlane.origins[0].validators",
    );
    refused(
        "\"0x94438a7de38d4548ae54df5c6010c4ebc5239eae\"",
        "\"0x9443\"",
        "attestation.hyperlane.origins[0].validators[1]",
    );
    refused("eid = 30101", "eid = 40999", "attestation.layerzero.peers[0].eid");
    refused("quorum = 2", "quorum = 3", "attestation.layerzero.dvn.quorum");
    refused(
        "\"0x2222222222222222222222222222222222222222\"",
        "\"0x1111111111111111111111111111111111111111\"",
        "attestation.layerzero.dvn.signers",
    );
    refused(
        "target = \"0x589dedbd617e0cbcb916a9223f4d1300c294236b\"",
        "target = \"0x58\"",
        "attestation.layerzero.dvn.target",
    );
}

#[test]
fn no_source_at_all_is_refused() {
    let text = example();
    let cut = text.find("[attestation.operators]").unwrap();
    let end = text.find("# This signer's own policy").unwrap();
    let without = format!("{}[attestation]\n{}", &text[..cut], &text[end..]);
    let err = NodeFile::from_str(&without).unwrap_err();
    assert_eq!(err.field, "attestation", "{err}");
    assert!(matches!(err.reason, ConfigErrorReason::Attestation(_)));
}

#[test]
fn policy_errors_name_the_field_and_entry() {
    refused("min_amount = 100000 ", "min_amount = 0 ", "policy.min_amount");
    refused("min_amount = 100000 ", "min_amount = 200000000000 ", "policy.min_amount");
    refused("window_ms = 86400000", "window_ms = 0", "policy.window_ms");
    refused("global_cap = 1000000000000", "global_cap = 0", "policy.global_cap");
    refused("cap = 500000000000", "cap = 0", "policy.source_caps[0].cap");
    refused("source = \"hyperlane\"", "source = \"ethereum\"", "policy.source_caps[0].source");
    refused("deny = [\"kaspatest:", "deny = [\"kaspa:", "policy.deny[0]");
    let deny = "deny = [\"kaspatest:qpuw4cd04l6d28rg6j5papdsl08eplakd6sy5a2nv223dy4ezf0xk7agcl7cz\"]";
    let both = format!(
        "{deny}\nallow = [\"kaspatest:qpuw4cd04l6d28rg6j5papdsl08eplakd6sy5a2nv223dy4ezf0xk7agcl7cz\"]"
    );
    let err = refused(deny, &both, "policy.deny[0]");
    assert!(matches!(err.reason, ConfigErrorReason::Policy(_)));
    refused(deny, &format!("{deny}\nallow = []"), "policy.allow");
    let mainnet = "kaspa:qpuw4cd04l6d28rg6j5papdsl08eplakd6sy5a2nv223dy4ezf0xk7agcl7cz";
    refused(deny, &format!("{deny}\nallow = [\"{mainnet}\"]"), "policy.allow[0]");
}

#[test]
fn template_timing_and_chain_errors() {
    refused("\"group_pays\"", "\"someone_pays\"", "template.fee_mode");
    refused("feerate_sompi_per_gram = 100", "feerate_sompi_per_gram = 1", "template.feerate_sompi_per_gram");
    refused("max_compute_mass = 100000", "max_compute_mass = 600000", "template.max_compute_mass");
    refused("max_inputs = 128", "max_inputs = 0", "template.max_inputs");
    refused("round_timeout_ms = 2000", "round_timeout_ms = 0", "timing.round_timeout_ms");
    refused("round_timeout_cap_ms = 8000", "round_timeout_cap_ms = 10", "timing.round_timeout_cap_ms");
    refused("max_rounds = 16", "max_rounds = 0", "timing.max_rounds");
    refused(
        "anti_entropy_interval_ms = 1000",
        "anti_entropy_interval_ms = 0",
        "timing.anti_entropy_interval_ms",
    );
    refused("confirm_depth = 100", "confirm_depth = 0", "chain.confirm_depth");
    refused("finality_depth = 2000", "finality_depth = 10", "chain.finality_depth");
}

#[test]
fn omitted_optional_sections_take_defaults() {
    let text = example();
    let cut = text.find("# Identical in every member's file; every field optional").unwrap();
    let file = NodeFile::from_str(&text[..cut]).unwrap();
    let config = file.node_config().unwrap();
    assert_eq!(config.template_policy, igra_proto::template::TemplatePolicy::default());
    assert_eq!(config.timing, igra_proto::node::Timing::default());
}

#[test]
fn kaspad_and_api_sections_are_checked() {
    refused("url = \"ws://127.0.0.1:17210\"", "url = \"http://127.0.0.1:17210\"", "kaspad.url");
    refused("url = \"ws://127.0.0.1:17210\"", "url = \"ws://\"", "kaspad.url");
    refused("listen = \"127.0.0.1:7200\"", "listen = \"localhost\"", "api.listen");
    refused("rate_per_second = 50 ", "rate_per_second = 0 ", "api.rate_per_second");
    refused("rate_burst = 100", "rate_burst = 0", "api.rate_burst");
}
