//! Key derivation: BIP39 mnemonic -> seed -> the member's two keys.
//!
//! | key | curve | scheme | path |
//! |---|---|---|---|
//! | signing key (multisig) | secp256k1 | BIP32 | `m/45'/111111'/0'/0/0` |
//! | identity key (envelopes, votes) | Ed25519 | SLIP-0010 | `m/45'/111111'/0'/1'/0'` |
//!
//! 111111 is Kaspa's registered SLIP-44 coin type and purpose 45 is BIP45's multisig purpose, so the
//! signing key sits where Kaspa multisig tooling looks for cosigner keys. SLIP-0010 Ed25519 derivation
//! supports hardened steps only, and its master key is keyed differently ("ed25519 seed" instead of
//! "Bitcoin seed"), so the two keys are independent even where their paths look alike.
//!
//! The BIP39 seed is `PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" ‖ passphrase, 2048)`; an empty passphrase
//! is allowed. Every intermediate secret is held in [`Zeroizing`] and wiped when dropped.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use zeroize::Zeroizing;

use super::KeyError;

/// BIP32 path of the secp256k1 signing key.
pub const SIGNING_KEY_PATH: &str = "m/45'/111111'/0'/0/0";

/// SLIP-0010 path of the Ed25519 identity key, every step hardened: `m/45'/111111'/0'/1'/0'`.
pub const IDENTITY_KEY_PATH: [u32; 5] = [45, 111_111, 0, 1, 0];

/// The offset that marks a hardened child index.
const HARDENED: u32 = 0x8000_0000;

/// The 64-byte BIP39 seed of an English mnemonic and a passphrase.
pub fn seed_from_mnemonic(phrase: &str, passphrase: &str) -> Result<Zeroizing<[u8; 64]>, KeyError> {
    let mnemonic =
        bip39::Mnemonic::parse_in(bip39::Language::English, phrase).map_err(|_| KeyError::InvalidMnemonic)?;
    Ok(Zeroizing::new(mnemonic.to_seed(passphrase)))
}

/// The 32-byte secp256k1 secret at a BIP32 `path` (like `m/45'/111111'/0'/0/0`) under `seed`.
pub fn secp256k1_from_seed(seed: &[u8], path: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let path: bip32::DerivationPath = path.parse().map_err(|_| KeyError::InvalidDerivationPath)?;
    let key = bip32::XPrv::derive_from_path(seed, &path).map_err(|_| KeyError::InvalidDerivationPath)?;
    Ok(Zeroizing::new(key.private_key().to_bytes().into()))
}

/// The 32-byte Ed25519 seed at a SLIP-0010 path under `seed`. Each element of `path` is an index below
/// 2^31 and is always used hardened (SLIP-0010 defines no other kind for Ed25519).
pub fn ed25519_from_seed(seed: &[u8], path: &[u32]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let (mut key, mut chain_code) = slip10_step(b"ed25519 seed", &[seed])?;
    for &index in path {
        if index >= HARDENED {
            return Err(KeyError::InvalidDerivationPath);
        }
        let index_bytes = (index | HARDENED).to_be_bytes();
        (key, chain_code) = slip10_step(&chain_code[..], &[&[0u8], &key[..], &index_bytes])?;
    }
    Ok(key)
}

/// A SLIP-0010 node: the key and its chain code.
type KeyAndChainCode = (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>);

/// One HMAC-SHA512 step: the left half is the key, the right half the chain code.
fn slip10_step(hmac_key: &[u8], parts: &[&[u8]]) -> Result<KeyAndChainCode, KeyError> {
    let mut mac = Hmac::<Sha512>::new_from_slice(hmac_key).map_err(|_| KeyError::InvalidDerivationPath)?;
    for part in parts {
        mac.update(part);
    }
    let out = Zeroizing::new(<[u8; 64]>::from(mac.finalize().into_bytes()));
    let mut key = Zeroizing::new([0u8; 32]);
    let mut chain_code = Zeroizing::new([0u8; 32]);
    let (left, right) = out.split_at(32);
    key.copy_from_slice(left);
    chain_code.copy_from_slice(right);
    Ok((key, chain_code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{LocalSigner, Signer};

    fn h(s: &str) -> alloc::vec::Vec<u8> {
        hex::decode(s).unwrap()
    }

    const SEED_1: &str = "000102030405060708090a0b0c0d0e0f";

    #[test]
    fn bip39_trezor_vector() {
        // BIP39 reference vectors (trezor/python-mnemonic vectors.json, English, passphrase "TREZOR").
        let seed = seed_from_mnemonic(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
            "TREZOR",
        )
        .unwrap();
        assert_eq!(
            seed[..],
            h(
                "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"
            )[..]
        );
    }

    #[test]
    fn bip39_rejects_bad_phrases() {
        let bad_checksum =
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
        assert_eq!(seed_from_mnemonic(bad_checksum, "").err(), Some(KeyError::InvalidMnemonic));
        assert_eq!(seed_from_mnemonic("not a mnemonic", "").err(), Some(KeyError::InvalidMnemonic));
        assert_eq!(seed_from_mnemonic("", "").err(), Some(KeyError::InvalidMnemonic));
    }

    #[test]
    fn bip32_test_vector_1() {
        // BIP32 test vector 1: master key and chain m/0'/1/2'/2/1000000000.
        let seed = h(SEED_1);
        assert_eq!(
            secp256k1_from_seed(&seed, "m").unwrap()[..],
            h("e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35")[..]
        );
        assert_eq!(
            secp256k1_from_seed(&seed, "m/0'/1/2'/2/1000000000").unwrap()[..],
            h("471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8")[..]
        );
        assert_eq!(secp256k1_from_seed(&seed, "m/x").err(), Some(KeyError::InvalidDerivationPath));
    }

    #[test]
    fn slip10_ed25519_test_vectors() {
        // SLIP-0010 test vector 1 for ed25519: m and m/0'/1'/2'/2'/1000000000'.
        let seed = h(SEED_1);
        assert_eq!(
            ed25519_from_seed(&seed, &[]).unwrap()[..],
            h("2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7")[..]
        );
        let key = ed25519_from_seed(&seed, &[0, 1, 2, 2, 1_000_000_000]).unwrap();
        assert_eq!(key[..], h("8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793")[..]);
        let signer = LocalSigner::from_secrets(*key, [1; 32]).unwrap();
        assert_eq!(
            signer.identity_public_key().0[..],
            h("3c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a")[..]
        );
        // SLIP-0010 test vector 2 for ed25519: m/0'/2147483647'/1'/2147483646'/2'.
        let seed2 = h(
            "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        );
        assert_eq!(
            ed25519_from_seed(&seed2, &[0, 2_147_483_647, 1, 2_147_483_646, 2]).unwrap()[..],
            h("551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d")[..]
        );
        assert_eq!(ed25519_from_seed(&seed, &[HARDENED]).err(), Some(KeyError::InvalidDerivationPath));
    }

    #[test]
    fn mnemonic_signer_uses_the_documented_paths() {
        let phrase =
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let seed = seed_from_mnemonic(phrase, "").unwrap();
        let signing = secp256k1_from_seed(&seed[..], SIGNING_KEY_PATH).unwrap();
        let identity = ed25519_from_seed(&seed[..], &IDENTITY_KEY_PATH).unwrap();
        let expected = LocalSigner::from_secrets(*identity, *signing).unwrap();
        let signer = LocalSigner::from_mnemonic(phrase, "").unwrap();
        assert_eq!(signer.identity_public_key(), expected.identity_public_key());
        assert_eq!(signer.signing_public_key(), expected.signing_public_key());
        // A passphrase gives different keys.
        let other = LocalSigner::from_mnemonic(phrase, "pass").unwrap();
        assert_ne!(other.identity_public_key(), signer.identity_public_key());
        assert_ne!(other.signing_public_key(), signer.signing_public_key());
    }
}
