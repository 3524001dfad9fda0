//! Kaspa address decoding never panics, and is exact:
//!
//! * every string that [`Address::decode`] accepts is the one spelling of that address: encoding the
//!   decoded address gives back the input byte for byte (no case folding, no dropped padding);
//! * the address's script maps back to the same address ([`script_for_address`] then
//!   [`address_for_script`]);
//! * every address built from the input's bytes (prefix, version and a payload of that version's
//!   length) encodes to a string that decodes to the same address.
#![no_main]

use igra_proto::kaspa::address::{Address, AddressVersion, Prefix};
use igra_proto::kaspa::script::{address_for_script, script_for_address};
use libfuzzer_sys::fuzz_target;

const PREFIXES: [Prefix; 4] = [Prefix::Mainnet, Prefix::Testnet, Prefix::Simnet, Prefix::Devnet];
const VERSIONS: [AddressVersion; 3] =
    [AddressVersion::PubKey, AddressVersion::PubKeyEcdsa, AddressVersion::ScriptHash];

/// An address's script maps back to it.
fn check_script(address: &Address) {
    let script = script_for_address(address);
    assert_eq!(
        address_for_script(&script, address.prefix()),
        Some(*address),
        "{address}: script does not map back"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(address) = Address::decode(text)
    {
        assert_eq!(address.encode(), text, "decode then encode is not the identity");
        assert_eq!(address.payload().len(), address.version().payload_len());
        check_script(&address);
    }

    // The other direction: an address from the raw bytes survives encode then decode.
    if let [p, v, payload @ ..] = data {
        let prefix = PREFIXES[usize::from(*p) % PREFIXES.len()];
        let version = VERSIONS[usize::from(*v) % VERSIONS.len()];
        let Some(payload) = payload.get(..version.payload_len()) else { return };
        let address = Address::new(prefix, version, payload).expect("payload of the version's length");
        let text = address.encode();
        assert_eq!(Address::decode(&text), Ok(address), "{text} does not decode to its address");
        check_script(&address);
    }
});
