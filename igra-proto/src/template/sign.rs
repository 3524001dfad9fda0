//! Signing a template, checking a member's signatures, and finalizing the signed transaction.
//!
//! Every input is signed with `SIGHASH_ALL` (BIP340 over the 32-byte sighash as is, through the
//! [`Signer`] trait). A member's signature for input `i` verifies against that member's signing key and
//! input `i`'s sighash; finalization puts `m` of them per input into the signature script, in the
//! redeem script's key order.

use alloc::vec::Vec;
use core::fmt;

use super::Template;
use crate::group::{Group, MemberIndex};
use crate::kaspa::script::{MultisigScript, ScriptError};
use crate::kaspa::sighash::{SigHashType, SighashContext};
use crate::kaspa::tx::Transaction;
use crate::keys::{SchnorrSignature, Signer, SignerError};
use crate::wire::PartialSignature;

/// Why a signature was refused or a transaction could not be finalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The template has no input at this index.
    NoSuchInput(u16),
    /// The signer is not a member of the group.
    UnknownSigner(MemberIndex),
    /// The signature does not verify for that member and input.
    BadSignature {
        /// The input.
        input_index: u16,
        /// The member.
        signer: MemberIndex,
    },
    /// The signer failed.
    Signer(SignerError),
    /// The template has more inputs than a signature can index.
    TooManyInputs,
    /// An input lacks enough signatures, or the script rejected them.
    Script {
        /// The input.
        input_index: usize,
        /// What is missing.
        error: ScriptError,
    },
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchInput(i) => write!(f, "the template has no input {i}"),
            Self::UnknownSigner(m) => write!(f, "{m} is not in the group"),
            Self::BadSignature { input_index, signer } => {
                write!(f, "signature of {signer} for input {input_index} does not verify")
            }
            Self::Signer(e) => write!(f, "signer: {e}"),
            Self::TooManyInputs => f.write_str("too many inputs to index"),
            Self::Script { input_index, error } => write!(f, "input {input_index}: {error}"),
        }
    }
}

impl core::error::Error for SignatureError {}

impl Template {
    /// The `SIGHASH_ALL` Schnorr sighash of every input, in input order (sub-hashes computed once).
    pub fn sighashes(&self) -> Vec<[u8; 32]> {
        let context = SighashContext::new(&self.transaction);
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| context.schnorr(i, entry, SigHashType::ALL).ok())
            .collect()
    }

    /// `signer`'s signature of every input, as member `me`. `aux_rand` is BIP340's auxiliary randomness
    /// (it hardens the nonce against side channels; the signatures are valid whatever it is).
    pub fn sign(
        &self,
        signer: &dyn Signer,
        me: MemberIndex,
        aux_rand: &[u8; 32],
    ) -> Result<Vec<PartialSignature>, SignatureError> {
        Self::sign_sighashes(&self.sighashes(), signer, me, aux_rand)
    }

    /// [`Self::sign`] over sighashes the caller computed already with [`Self::sighashes`].
    pub fn sign_sighashes(
        sighashes: &[[u8; 32]],
        signer: &dyn Signer,
        me: MemberIndex,
        aux_rand: &[u8; 32],
    ) -> Result<Vec<PartialSignature>, SignatureError> {
        sighashes
            .iter()
            .enumerate()
            .map(|(i, sighash)| {
                let input_index = u16::try_from(i).map_err(|_| SignatureError::TooManyInputs)?;
                let signature = signer.sign_schnorr(sighash, aux_rand).map_err(SignatureError::Signer)?;
                Ok(PartialSignature { input_index, signer: me, signature })
            })
            .collect()
    }

    /// Checks a member's signature against its signing key and the input's sighash. `sighashes` is
    /// [`Self::sighashes`], computed once per template by the caller.
    pub fn verify_signature(
        &self,
        group: &Group,
        sighashes: &[[u8; 32]],
        signature: &PartialSignature,
    ) -> Result<(), SignatureError> {
        verify_partial_signature(group, sighashes, signature)
    }

    /// The signed transaction: for every input, `m` of the given (already verified) signatures in
    /// the redeem script's key order, then the redeem script. Its id equals the template's.
    pub fn finalize(
        &self,
        group: &Group,
        script: &MultisigScript,
        signatures: &[PartialSignature],
    ) -> Result<Transaction, SignatureError> {
        let mut tx = self.transaction.clone();
        for (input_index, input) in tx.inputs.iter_mut().enumerate() {
            let mut by_position: Vec<(usize, SchnorrSignature)> = Vec::new();
            for s in signatures.iter().filter(|s| usize::from(s.input_index) == input_index) {
                let member = group.member(s.signer).ok_or(SignatureError::UnknownSigner(s.signer))?;
                let position =
                    script.position_of(&member.signing).ok_or(SignatureError::UnknownSigner(s.signer))?;
                by_position.push((position, s.signature));
            }
            input.signature_script = script
                .signature_script(&by_position, SigHashType::ALL)
                .map_err(|error| SignatureError::Script { input_index, error })?;
        }
        Ok(tx)
    }
}

/// The rule behind [`Template::verify_signature`], for callers that hold a template's sighashes but not
/// the template itself (the signature set verifies every signature it admits).
pub(crate) fn verify_partial_signature(
    group: &Group,
    sighashes: &[[u8; 32]],
    signature: &PartialSignature,
) -> Result<(), SignatureError> {
    let member = group.member(signature.signer).ok_or(SignatureError::UnknownSigner(signature.signer))?;
    let sighash = sighashes
        .get(usize::from(signature.input_index))
        .ok_or(SignatureError::NoSuchInput(signature.input_index))?;
    member.signing.verify_schnorr(sighash, &signature.signature).map_err(|_| SignatureError::BadSignature {
        input_index: signature.input_index,
        signer: signature.signer,
    })
}
