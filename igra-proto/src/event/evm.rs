//! The EVM primitives attestations are made of: keccak-256, EIP-191 message digests, and secp256k1
//! ECDSA signatures recovered to 20-byte addresses under the rules of `OpenZeppelin`'s `ECDSA.recover`
//! (what Hyperlane's multisig ISMs and LayerZero's DVN multisig run): exactly 65 bytes `r ‖ s ‖ v`,
//! `v` 27 or 28, `s` in the lower half of the curve order, `r` and `s` non-zero.

use core::fmt;

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::hash::Hex;

/// keccak-256 (Ethereum's, not FIPS SHA3-256) of the concatenation of `parts`.
pub fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// The length of a signature on the wire: `r ‖ s ‖ v`.
pub const SIGNATURE_LEN: usize = 65;

/// An unsigned integer as a 32-byte big-endian ABI word (`uint256`).
pub fn uint256(value: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Some(low) = out.get_mut(16..) {
        low.copy_from_slice(&value.to_be_bytes());
    }
    out
}

/// The EIP-191 `personal_sign` digest of a 32-byte hash:
/// `keccak256("\x19Ethereum Signed Message:\n32" ‖ hash)`.
pub fn eip191_digest(hash: &[u8; 32]) -> [u8; 32] {
    keccak256(&[b"\x19Ethereum Signed Message:\n32", hash])
}

/// A 20-byte EVM address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EvmAddress(pub [u8; 20]);

impl fmt::Debug for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", Hex(&self.0))
    }
}

impl EvmAddress {
    /// The address as a left-padded `bytes32`, as EVM messages carry it.
    pub fn to_bytes32(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Some(tail) = out.get_mut(12..) {
            tail.copy_from_slice(&self.0);
        }
        out
    }

    /// The address of a public key: the last 20 bytes of keccak-256 of its uncompressed `X ‖ Y`.
    pub fn of_key(key: &VerifyingKey) -> Self {
        let point = key.to_sec1_point(false);
        let hash = keccak256(&[point.as_bytes().get(1..).unwrap_or_default()]);
        let mut out = [0u8; 20];
        out.copy_from_slice(hash.get(12..).unwrap_or(&[0; 20]));
        Self(out)
    }
}

/// Why a signature does not recover to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverError {
    /// `v` is not 27 or 28.
    BadV(u8),
    /// `s` is in the upper half of the curve order (a malleated signature).
    HighS,
    /// `r` or `s` is zero or not below the curve order, or no key recovers.
    Invalid,
}

impl fmt::Display for RecoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadV(v) => write!(f, "recovery byte v = {v}, must be 27 or 28"),
            Self::HighS => f.write_str("s is in the upper half of the curve order"),
            Self::Invalid => f.write_str("the signature does not recover to a key"),
        }
    }
}

impl core::error::Error for RecoverError {}

/// The address that signed `digest` with the 65-byte `signature` (`r ‖ s ‖ v`).
pub fn recover_address(
    digest: &[u8; 32],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<EvmAddress, RecoverError> {
    let (rs, v) = signature.split_at(64);
    let v = v.first().copied().unwrap_or(0);
    let recovery = match v {
        27 => RecoveryId::from_byte(0),
        28 => RecoveryId::from_byte(1),
        _ => None,
    }
    .ok_or(RecoverError::BadV(v))?;
    let sig = Signature::from_slice(rs).map_err(|_| RecoverError::Invalid)?;
    if sig.normalize_s() != sig {
        return Err(RecoverError::HighS);
    }
    let key =
        VerifyingKey::recover_from_prehash(digest, &sig, recovery).map_err(|_| RecoverError::Invalid)?;
    Ok(EvmAddress::of_key(&key))
}

/// An EVM signing key, for tools and tests that produce attestations (validators in `igra devnet`, the
/// simulator's attesters). Signatures are deterministic (RFC 6979) and low-s, with `v` 27 or 28.
pub struct EvmSigner(SigningKey);

impl EvmSigner {
    /// A signer from a 32-byte secret.
    pub fn from_secret(secret: &[u8; 32]) -> Option<Self> {
        SigningKey::from_slice(secret).ok().map(Self)
    }

    /// The signer's address.
    pub fn address(&self) -> EvmAddress {
        EvmAddress::of_key(self.0.verifying_key())
    }

    /// Signs a 32-byte digest as `r ‖ s ‖ v`.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Option<[u8; SIGNATURE_LEN]> {
        let (sig, recovery) = self.0.sign_prehash_recoverable(digest);
        let mut out = [0u8; SIGNATURE_LEN];
        out.get_mut(..64)?.copy_from_slice(&sig.to_bytes());
        *out.get_mut(64)? = 27 + recovery.to_byte();
        Some(out)
    }
}

impl fmt::Debug for EvmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvmSigner").field("address", &self.address()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn keccak_of_nothing_is_ethereums() {
        assert_eq!(
            hex::encode(keccak256(&[])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn hyperlane_legacy_signed_checkpoint_recovers_to_its_signer() {
        // hyperlane-monorepo vectors/signedCheckpoint.json entry 1 (signer key 0x11..11), as transcribed
        // in shared/reference/event-sources.md section 3.
        let signer = EvmSigner::from_secret(&[0x11; 32]).unwrap();
        assert_eq!(hex::encode(signer.address().0), "19e7e376e7c213b7e7e7e46cc70a5dd086daff2a");
        let signing_hash = h32("f5c90415788653e2c8ee94c8f10f7301f52025efb7cac767ce649132ff1384dd");
        let digest = eip191_digest(&signing_hash);
        assert_eq!(hex::encode(digest), "d88d6a281d6792c384face658568d7193bb77c92c162a6598280967cecee7524");
        let mut sig = [0u8; 65];
        sig[..32].copy_from_slice(&h32("0a5769d4ad3041f82a95c1c8b26fd3fcdac5a95560d336b46b83d585ba91a8f9"));
        sig[32..64].copy_from_slice(&h32("4e1464c784e2836b8c22a2b2c76fdfbdff57f173b20641544ecc0d465af6ed05"));
        sig[64] = 28;
        assert_eq!(recover_address(&digest, &sig), Ok(signer.address()));
    }

    #[test]
    fn uint256_is_a_big_endian_word() {
        let word = uint256(0x0102);
        assert_eq!(word[..30], [0; 30]);
        assert_eq!(word[30..], [1, 2]);
        assert_eq!(uint256(u128::MAX)[16..], [0xff; 16]);
    }

    #[test]
    fn recovery_follows_openzeppelin_rules() {
        let signer = EvmSigner::from_secret(&[0x22; 32]).unwrap();
        let digest = eip191_digest(&[7; 32]);
        let sig = signer.sign_digest(&digest).unwrap();
        assert_eq!(recover_address(&digest, &sig), Ok(signer.address()));
        for v in [0u8, 1, 26, 29] {
            let mut bad = sig;
            bad[64] = v;
            assert_eq!(recover_address(&digest, &bad), Err(RecoverError::BadV(v)));
        }
        // The high-s twin: s' = n - s with the other recovery id.
        let parsed = Signature::from_slice(&sig[..64]).unwrap();
        let (r, s) = parsed.split_scalars();
        let twin = Signature::from_scalars(r, -*s).unwrap();
        let mut high = [0u8; 65];
        high[..64].copy_from_slice(&twin.to_bytes());
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(recover_address(&digest, &high), Err(RecoverError::HighS));
        assert_eq!(recover_address(&digest, &[0; 65]), Err(RecoverError::BadV(0)));
        let mut zero = [0u8; 65];
        zero[64] = 27;
        assert_eq!(recover_address(&digest, &zero), Err(RecoverError::Invalid));
    }
}
