//! The node file parser never panics on arbitrary text, and what it accepts it accepts for good: a file
//! [`NodeFile::from_str`] accepts yields its igra-proto configuration again, with a valid group.
//!
//! Inputs that are not UTF-8 are skipped (the node reads its file with `read_to_string`, which refuses
//! them before the parser runs).
#![no_main]

use igra_adapters::config::NodeFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = NodeFile::from_str(text) else { return };
    let config = file.node_config().expect("an accepted file converts again");
    assert!(config.group.member(config.me).is_some(), "`me` is not a member of the group");
});
