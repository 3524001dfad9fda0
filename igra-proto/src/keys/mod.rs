//! Keys: the two public keys every member has, their signatures, and the [`Signer`] that holds the
//! secrets.
//!
//! A member has an **identity key** (Ed25519) that signs envelopes and votes, and a **signing key**
//! (secp256k1, BIP340 x-only) whose Schnorr signatures spend from the group's multisig script. Both derive
//! from one BIP39 mnemonic (see [`derive`](mod@derive) for the paths). The core only ever signs through the
//! [`Signer`] trait so that a remote signer or an HSM can stand in for the in-process [`LocalSigner`].

pub mod derive;

use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::hash::Hex;
use crate::wire::array;

/// An Ed25519 public key that identifies a member: it signs envelopes and votes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdentityPublicKey(pub [u8; 32]);

/// A 64-byte Ed25519 signature made by an identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdentitySignature(#[serde(with = "array")] pub [u8; 64]);

/// A secp256k1 BIP340 x-only public key: a member's key in the group's multisig redeem script.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SigningPublicKey(pub [u8; 32]);

/// A 64-byte BIP340 Schnorr signature over a sighash, made by a signing key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchnorrSignature(#[serde(with = "array")] pub [u8; 64]);

/// Why a key, a signature or a derivation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The Ed25519 public key is not a canonical curve point.
    InvalidIdentityKey,
    /// The Ed25519 public key has small order: it would verify forged signatures.
    WeakIdentityKey,
    /// The 32 bytes are not the x coordinate of a secp256k1 point.
    InvalidSigningKey,
    /// The secret is zero or not below the curve order.
    InvalidSecret,
    /// The mnemonic is not a valid English BIP39 phrase (unknown word, bad length or checksum).
    InvalidMnemonic,
    /// A derivation path could not be parsed or applied.
    InvalidDerivationPath,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidIdentityKey => "identity key is not a valid Ed25519 point",
            Self::WeakIdentityKey => "identity key has small order",
            Self::InvalidSigningKey => "signing key is not a valid secp256k1 x-only key",
            Self::InvalidSecret => "secret key is out of range",
            Self::InvalidMnemonic => "mnemonic is not a valid English BIP39 phrase",
            Self::InvalidDerivationPath => "invalid derivation path",
        })
    }
}

impl core::error::Error for KeyError {}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

impl fmt::Display for BadSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("signature does not verify")
    }
}

impl core::error::Error for BadSignature {}

impl IdentityPublicKey {
    /// Checks that the key is a canonical Ed25519 point of large order. Keys from configuration or
    /// from the network must pass this before use.
    pub fn validate(&self) -> Result<(), KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidIdentityKey)?;
        // Decompression accepts a non-canonical encoding of y; a canonical key re-encodes to itself.
        if key.to_edwards().compress().to_bytes() != self.0 {
            return Err(KeyError::InvalidIdentityKey);
        }
        if key.is_weak() {
            return Err(KeyError::WeakIdentityKey);
        }
        Ok(())
    }

    /// Verifies `signature` over `message` (strict Ed25519, `verify_strict`: canonical `S`, no
    /// small-order key or `R`). A key that verifies many signatures is cheaper
    /// [`prepare`](Self::prepare)d once.
    pub fn verify(&self, message: &[u8], signature: &IdentitySignature) -> Result<(), BadSignature> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| BadSignature)?;
        PreparedIdentityKey(key).verify(message, signature)
    }

    /// The key decompressed once, for verifying many signatures (a group's members' keys), after the
    /// checks of [`validate`](Self::validate).
    pub fn prepare(&self) -> Result<PreparedIdentityKey, KeyError> {
        self.validate()?;
        ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .map(PreparedIdentityKey)
            .map_err(|_| KeyError::InvalidIdentityKey)
    }
}

/// An [`IdentityPublicKey`] decompressed once ([`IdentityPublicKey::prepare`]): verifying with it skips
/// the point decompression each verification would otherwise start with (about a sixth of its cost).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PreparedIdentityKey(ed25519_dalek::VerifyingKey);

impl PreparedIdentityKey {
    /// The key's encoding.
    pub fn public_key(&self) -> IdentityPublicKey {
        IdentityPublicKey(self.0.to_bytes())
    }

    /// The same check as [`IdentityPublicKey::verify`].
    pub fn verify(&self, message: &[u8], signature: &IdentitySignature) -> Result<(), BadSignature> {
        self.0
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
            .map_err(|_| BadSignature)
    }
}

impl fmt::Debug for PreparedIdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PreparedIdentityKey({})", Hex(&self.0.to_bytes()))
    }
}

impl SigningPublicKey {
    /// Checks that the key is a valid BIP340 x-only key.
    pub fn validate(&self) -> Result<(), KeyError> {
        k256::schnorr::VerifyingKey::from_slice(&self.0).map(|_| ()).map_err(|_| KeyError::InvalidSigningKey)
    }

    /// Verifies a BIP340 signature over a 32-byte sighash, exactly as Kaspa's script engine does (the
    /// sighash is the message; it is not hashed again).
    pub fn verify_schnorr(
        &self,
        sighash: &[u8; 32],
        signature: &SchnorrSignature,
    ) -> Result<(), BadSignature> {
        let key = k256::schnorr::VerifyingKey::from_slice(&self.0).map_err(|_| BadSignature)?;
        let sig = k256::schnorr::Signature::try_from(&signature.0[..]).map_err(|_| BadSignature)?;
        key.verify_raw(sighash, &sig).map_err(|_| BadSignature)
    }
}

/// A signer could not produce a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerError {
    /// The signer (a remote service or a device) cannot be reached now; the caller may retry later.
    Unavailable,
    /// The signer refused this request (its own policy said no).
    Refused,
    /// The signature primitive failed.
    Failed,
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unavailable => "signer unavailable",
            Self::Refused => "signer refused the request",
            Self::Failed => "signing failed",
        })
    }
}

impl core::error::Error for SignerError {}

/// Everything the core signs goes through this trait, so that a remote signer or an HSM can replace
/// the in-process [`LocalSigner`].
///
/// Implementations must be deterministic for identity signatures (Ed25519 is) and must use the given
/// `aux_rand` for Schnorr signatures: the core supplies it from an injected source, never from ambient
/// randomness.
///
/// `Send` so that a node (which owns its signer) can move to the thread or task of the runtime that
/// drives it.
pub trait Signer: Send {
    /// The member's Ed25519 identity public key.
    fn identity_public_key(&self) -> IdentityPublicKey;
    /// The member's secp256k1 x-only signing public key.
    fn signing_public_key(&self) -> SigningPublicKey;
    /// Signs a 32-byte domain-separated digest with the identity key.
    fn sign_identity(&self, digest: &[u8; 32]) -> Result<IdentitySignature, SignerError>;
    /// Signs a 32-byte sighash with the signing key (BIP340, the sighash used as the message as is).
    fn sign_schnorr(&self, sighash: &[u8; 32], aux_rand: &[u8; 32]) -> Result<SchnorrSignature, SignerError>;
}

/// The default signer: both secret keys in process memory, wiped when dropped.
pub struct LocalSigner {
    identity: ed25519_dalek::SigningKey,
    signing: k256::schnorr::SigningKey,
}

impl LocalSigner {
    /// A signer from the Ed25519 seed of the identity key and the 32-byte secp256k1 secret of the
    /// signing key. Both inputs are wiped before returning.
    pub fn from_secrets(mut identity_seed: [u8; 32], mut signing_secret: [u8; 32]) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(identity_seed);
        let secret = Zeroizing::new(signing_secret);
        zeroize::Zeroize::zeroize(&mut identity_seed);
        zeroize::Zeroize::zeroize(&mut signing_secret);
        let identity = ed25519_dalek::SigningKey::from_bytes(&seed);
        let signing =
            k256::schnorr::SigningKey::from_slice(&secret[..]).map_err(|_| KeyError::InvalidSecret)?;
        Ok(Self { identity, signing })
    }

    /// A signer from a BIP39 English mnemonic and optional passphrase, deriving both keys at the paths
    /// documented in [`derive`](mod@derive).
    pub fn from_mnemonic(phrase: &str, passphrase: &str) -> Result<Self, KeyError> {
        let seed = derive::seed_from_mnemonic(phrase, passphrase)?;
        let signing = derive::secp256k1_from_seed(&seed[..], derive::SIGNING_KEY_PATH)?;
        let identity = derive::ed25519_from_seed(&seed[..], &derive::IDENTITY_KEY_PATH)?;
        Self::from_secrets(*identity, *signing)
    }
}

impl Signer for LocalSigner {
    fn identity_public_key(&self) -> IdentityPublicKey {
        IdentityPublicKey(self.identity.verifying_key().to_bytes())
    }

    fn signing_public_key(&self) -> SigningPublicKey {
        SigningPublicKey(self.signing.verifying_key().to_bytes().into())
    }

    fn sign_identity(&self, digest: &[u8; 32]) -> Result<IdentitySignature, SignerError> {
        use ed25519_dalek::Signer as _;
        Ok(IdentitySignature(self.identity.sign(digest).to_bytes()))
    }

    fn sign_schnorr(&self, sighash: &[u8; 32], aux_rand: &[u8; 32]) -> Result<SchnorrSignature, SignerError> {
        let sig = self.signing.sign_raw(sighash, aux_rand).map_err(|_| SignerError::Failed)?;
        Ok(SchnorrSignature(sig.to_bytes()))
    }
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("identity", &self.identity_public_key())
            .field("signing", &self.signing_public_key())
            .finish_non_exhaustive()
    }
}

macro_rules! hex_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), Hex(&self.0))
            }
        }
    )*};
}
hex_debug!(IdentityPublicKey, IdentitySignature, SigningPublicKey, SchnorrSignature);

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LocalSigner {
        LocalSigner::from_secrets([7; 32], [9; 32]).unwrap()
    }

    #[test]
    fn identity_signatures_verify_and_reject_other_messages() {
        let s = signer();
        let sig = s.sign_identity(&[1; 32]).unwrap();
        assert_eq!(s.identity_public_key().verify(&[1; 32], &sig), Ok(()));
        assert_eq!(s.identity_public_key().verify(&[2; 32], &sig), Err(BadSignature));
        let mut flipped = sig;
        flipped.0[10] ^= 1;
        assert_eq!(s.identity_public_key().verify(&[1; 32], &flipped), Err(BadSignature));
    }

    #[test]
    fn schnorr_signatures_verify_as_bip340() {
        let s = signer();
        let sig = s.sign_schnorr(&[3; 32], &[0; 32]).unwrap();
        assert_eq!(s.signing_public_key().verify_schnorr(&[3; 32], &sig), Ok(()));
        assert_eq!(s.signing_public_key().verify_schnorr(&[4; 32], &sig), Err(BadSignature));
        assert_eq!(s.signing_public_key().validate(), Ok(()));
    }

    #[test]
    fn bip340_reference_vector_verifies() {
        // BIP340 test vector 0 (bips repository, bip-0340/test-vectors.csv): secret key 3, aux zero,
        // message zero.
        let mut secret = [0u8; 32];
        secret[31] = 3;
        let s = LocalSigner::from_secrets([1; 32], secret).unwrap();
        let pk = hex::decode("F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9").unwrap();
        assert_eq!(s.signing_public_key().0[..], pk[..]);
        let sig = s.sign_schnorr(&[0; 32], &[0; 32]).unwrap();
        let expected = hex::decode(
            "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
        )
        .unwrap();
        assert_eq!(sig.0[..], expected[..]);
    }

    #[test]
    fn invalid_keys_are_typed_errors() {
        // The identity point of Ed25519 (encoded 1, 0, ..., 0) has small order.
        let mut small = [0u8; 32];
        small[0] = 1;
        assert_eq!(IdentityPublicKey(small).validate(), Err(KeyError::WeakIdentityKey));
        assert_eq!(IdentityPublicKey([0xff; 32]).validate(), Err(KeyError::InvalidIdentityKey));
        // x = p (not a field element) is not a valid x-only key.
        assert_eq!(SigningPublicKey([0xff; 32]).validate(), Err(KeyError::InvalidSigningKey));
        assert_eq!(LocalSigner::from_secrets([1; 32], [0; 32]).err(), Some(KeyError::InvalidSecret));
        assert!(signer().identity_public_key().validate().is_ok());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let text = alloc::format!("{:?}", signer());
        assert!(text.starts_with("LocalSigner"));
        assert!(!text.contains("0909090909"));
    }
}
