//! What Hyperlane validators sign, and the two ISM metadata layouts that carry their signatures.
//!
//! A validator signs the EIP-191 digest of a checkpoint of the origin's message tree:
//!
//! ```text
//! domain_hash  = keccak256(origin u32 ‖ merkle_tree_hook [32] ‖ "HYPERLANE")
//! signing_hash = keccak256(domain_hash ‖ root [32] ‖ index u32 ‖ message_id [32])
//! digest       = keccak256("\x19Ethereum Signed Message:\n32" ‖ signing_hash)
//! ```
//!
//! Message-id metadata (`MessageIdMultisigIsmMetadata`) signs a checkpoint at the message itself:
//! `hook [32] ‖ root [32] ‖ index u32 ‖ signatures`. Merkle-root metadata
//! (`MerkleRootMultisigIsmMetadata`) proves the message into a checkpoint at the same or a later index:
//! `hook [32] ‖ message_index u32 ‖ signed_message_id [32] ‖ proof 32 × [32] ‖ signed_index u32 ‖
//! signatures`. Signatures are 65 bytes each, back to back.

use alloc::vec::Vec;
use core::fmt;

use super::merkle::{MerkleProof, TREE_DEPTH};
use crate::event::Reader;
use crate::event::evm::{SIGNATURE_LEN, eip191_digest, keccak256};

/// Where the signatures start in message-id metadata.
pub const MESSAGE_ID_SIGNATURES_OFFSET: usize = 68;
/// Where the signatures start in merkle-root metadata.
pub const MERKLE_ROOT_SIGNATURES_OFFSET: usize = 1096;

/// A checkpoint of an origin's message tree, naming one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The origin domain.
    pub origin: u32,
    /// The origin's `MerkleTreeHook` contract, as `bytes32`.
    pub merkle_tree_hook: [u8; 32],
    /// The tree root.
    pub root: [u8; 32],
    /// The index of the last leaf in the tree.
    pub index: u32,
    /// The message id at `index`.
    pub message_id: [u8; 32],
}

impl Checkpoint {
    /// The hash validators sign (before EIP-191 wrapping).
    pub fn signing_hash(&self) -> [u8; 32] {
        keccak256(&[
            &domain_hash(self.origin, &self.merkle_tree_hook),
            &self.root,
            &self.index.to_be_bytes(),
            &self.message_id,
        ])
    }

    /// The digest a validator's signature recovers against.
    pub fn digest(&self) -> [u8; 32] {
        eip191_digest(&self.signing_hash())
    }
}

/// The domain separator of an origin's checkpoints.
pub fn domain_hash(origin: u32, merkle_tree_hook: &[u8; 32]) -> [u8; 32] {
    keccak256(&[&origin.to_be_bytes(), merkle_tree_hook, b"HYPERLANE"])
}

/// Why metadata bytes do not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataError {
    /// Shorter than the fixed part of the layout.
    TooShort {
        /// The metadata length.
        len: usize,
        /// The fixed part's length.
        min: usize,
    },
    /// The signature section is not a whole number of 65-byte signatures. The ISM's `verify` reads
    /// only the signatures it needs and would ignore a ragged tail, but its `signatureCount` refuses
    /// such metadata, and relayers never build it: refusing it keeps one encoding per proof.
    SignaturesMisaligned {
        /// The signature section's length.
        len: usize,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len, min } => write!(f, "metadata of {len} bytes, at least {min} needed"),
            Self::SignaturesMisaligned { len } => {
                write!(f, "signature section of {len} bytes is not a multiple of {SIGNATURE_LEN}")
            }
        }
    }
}

/// Message-id multisig ISM metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageIdMetadata<'a> {
    /// The origin's `MerkleTreeHook`.
    pub merkle_tree_hook: [u8; 32],
    /// The signed checkpoint's root.
    pub root: [u8; 32],
    /// The signed checkpoint's index.
    pub index: u32,
    /// The validators' signatures, in validator order.
    pub signatures: &'a [[u8; SIGNATURE_LEN]],
}

impl<'a> MessageIdMetadata<'a> {
    /// Parses the layout.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MetadataError> {
        let short = MetadataError::TooShort { len: bytes.len(), min: MESSAGE_ID_SIGNATURES_OFFSET };
        let mut reader = Reader::new(bytes);
        Ok(Self {
            merkle_tree_hook: reader.array().ok_or(short)?,
            root: reader.array().ok_or(short)?,
            index: reader.u32().ok_or(short)?,
            signatures: signatures(reader.rest())?,
        })
    }

    /// The metadata bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(MESSAGE_ID_SIGNATURES_OFFSET + self.signatures.len() * SIGNATURE_LEN);
        out.extend_from_slice(&self.merkle_tree_hook);
        out.extend_from_slice(&self.root);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend(self.signatures.iter().flatten());
        out
    }
}

/// Merkle-root multisig ISM metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerkleRootMetadata<'a> {
    /// The origin's `MerkleTreeHook`.
    pub merkle_tree_hook: [u8; 32],
    /// The leaf index of the message being proven.
    pub message_index: u32,
    /// The message id at the signed checkpoint's index (a later message, possibly).
    pub signed_message_id: [u8; 32],
    /// The message's siblings in the tree at the signed checkpoint.
    pub proof: MerkleProof,
    /// The signed checkpoint's index.
    pub signed_index: u32,
    /// The validators' signatures, in validator order.
    pub signatures: &'a [[u8; SIGNATURE_LEN]],
}

impl<'a> MerkleRootMetadata<'a> {
    /// Parses the layout.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MetadataError> {
        let short = MetadataError::TooShort { len: bytes.len(), min: MERKLE_ROOT_SIGNATURES_OFFSET };
        let mut reader = Reader::new(bytes);
        let merkle_tree_hook = reader.array().ok_or(short)?;
        let message_index = reader.u32().ok_or(short)?;
        let signed_message_id = reader.array().ok_or(short)?;
        let mut proof = [[0u8; 32]; TREE_DEPTH];
        for sibling in &mut proof {
            *sibling = reader.array().ok_or(short)?;
        }
        Ok(Self {
            merkle_tree_hook,
            message_index,
            signed_message_id,
            proof,
            signed_index: reader.u32().ok_or(short)?,
            signatures: signatures(reader.rest())?,
        })
    }

    /// The metadata bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(MERKLE_ROOT_SIGNATURES_OFFSET + self.signatures.len() * SIGNATURE_LEN);
        out.extend_from_slice(&self.merkle_tree_hook);
        out.extend_from_slice(&self.message_index.to_be_bytes());
        out.extend_from_slice(&self.signed_message_id);
        out.extend(self.proof.iter().flatten());
        out.extend_from_slice(&self.signed_index.to_be_bytes());
        out.extend(self.signatures.iter().flatten());
        out
    }
}

/// The signature section as whole signatures.
fn signatures(section: &[u8]) -> Result<&[[u8; SIGNATURE_LEN]], MetadataError> {
    match section.as_chunks::<SIGNATURE_LEN>() {
        (whole, []) => Ok(whole),
        _ => Err(MetadataError::SignaturesMisaligned { len: section.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::evm::{EvmSigner, recover_address};

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn hook() -> [u8; 32] {
        let mut hook = [0u8; 32];
        hook[12..].fill(0x22);
        hook
    }

    #[test]
    fn domain_hash_json_vectors() {
        // hyperlane-monorepo vectors/domainHash.json (blob d1efba7d, Apache-2.0).
        for (domain, expected) in [
            (1, "bbca56eb98960a4637eb40486d9a069550dd70d9c185ed138516e8e33cf3d7e7"),
            (2, "a6a93d86d397028e41995d521ccbc270e6db2a2fc530dcb7f0135254f30c8424"),
            (3, "ffb4fbe5142f55e07b5d44b3c7f565c5ef4b016551cbd7c23a92c91621aca06f"),
        ] {
            assert_eq!(domain_hash(domain, &hook()), h32(expected), "domain {domain}");
        }
    }

    #[test]
    fn signed_checkpoint_json_entries_recover_to_their_signer() {
        // hyperlane-monorepo vectors/signedCheckpoint.json (blob 566fc2b2, Apache-2.0): legacy checkpoints
        // without a message id, signing_hash = keccak256(domain_hash ‖ root ‖ index). r is left-padded
        // (the JSON omits leading zeros).
        let signer = "19e7e376e7c213b7e7e7e46cc70a5dd086daff2a";
        let entries = [
            (
                1u32,
                [2u8; 32],
                "0a5769d4ad3041f82a95c1c8b26fd3fcdac5a95560d336b46b83d585ba91a8f9",
                "4e1464c784e2836b8c22a2b2c76fdfbdff57f173b20641544ecc0d465af6ed05",
                28,
            ),
            (
                2,
                [3; 32],
                "555b204a20caa709685df249c0f4e5d96532483a94cad7afb2aff6c3b72eabff",
                "50e19964d11bbcc3ac9ec4b3aaaf365aa9254b1d824509c63aa2470c140f30ea",
                27,
            ),
            (
                3,
                [4; 32],
                "7aaf6ca4c12c1ec82bc91eca5c04ac599ce9a169d2f59f6d38e6dfc37a696194",
                "4b42a96d83f3fd1b5e844f8b34f284bc33154cf3a8fbfc6fad93de1d3fe71230",
                27,
            ),
        ];
        for (index, root, r, s, v) in entries {
            let legacy = keccak256(&[&domain_hash(1000, &hook()), &root, &index.to_be_bytes()]);
            if index == 1 {
                assert_eq!(legacy, h32("f5c90415788653e2c8ee94c8f10f7301f52025efb7cac767ce649132ff1384dd"));
            }
            let mut sig = [0u8; 65];
            sig[..32].copy_from_slice(&h32(r));
            sig[32..64].copy_from_slice(&h32(s));
            sig[64] = v;
            let recovered = recover_address(&eip191_digest(&legacy), &sig).unwrap();
            assert_eq!(hex::encode(recovered.0), signer, "entry {index}");
        }
    }

    #[test]
    fn current_checkpoint_digest_derived_vector() {
        // DERIVED, not upstream: shared/reference/event-sources.md section 3 computed this current-format
        // digest (with message id) from the message.json id, origin 1000, hook 0x..22, root 0x02.., index 1.
        let checkpoint = Checkpoint {
            origin: 1000,
            merkle_tree_hook: hook(),
            root: [2; 32],
            index: 1,
            message_id: h32("f8a66f8aadee751d842616fee0ed14a3ad6da1e13564920364ee0ad35a02703f"),
        };
        assert_eq!(
            checkpoint.signing_hash(),
            h32("56cbc1f183b97d7eef7e432061bd00c626c6f2651ec079d2e654feb48108f3e4")
        );
        assert_eq!(
            checkpoint.digest(),
            h32("a65110101ffbf21fef0c2752623327a164b1f08113f21a3fca7b105950fd0b78")
        );
        let signer = EvmSigner::from_secret(&[0x11; 32]).unwrap();
        let sig = signer.sign_digest(&checkpoint.digest()).unwrap();
        assert_eq!(
            hex::encode(sig),
            "ba1f1eda5734cd04b0877251c507b8789c42c561fc0c30187b972d695d81471f\
             11ccd3bc40bb0a47b0e24189705b76ff5af80f0ea6d45ca2f51126a9a86b9611\
             1b"
        );
        assert_eq!(recover_address(&checkpoint.digest(), &sig), Ok(signer.address()));
    }

    #[test]
    fn metadata_layouts_round_trip_and_lengths_are_checked() {
        let sigs = [[7u8; 65], [8; 65]];
        let message_id =
            MessageIdMetadata { merkle_tree_hook: hook(), root: [1; 32], index: 9, signatures: &sigs };
        let bytes = message_id.encode();
        assert_eq!(bytes.len(), 68 + 130);
        assert_eq!(&bytes[64..68], &[0, 0, 0, 9]);
        assert_eq!(MessageIdMetadata::parse(&bytes), Ok(message_id));
        assert_eq!(MessageIdMetadata::parse(&bytes[..67]), Err(MetadataError::TooShort { len: 67, min: 68 }));
        assert_eq!(
            MessageIdMetadata::parse(&bytes[..100]),
            Err(MetadataError::SignaturesMisaligned { len: 32 })
        );

        let mut proof = [[0u8; 32]; TREE_DEPTH];
        proof[5] = [5; 32];
        let merkle = MerkleRootMetadata {
            merkle_tree_hook: hook(),
            message_index: 3,
            signed_message_id: [4; 32],
            proof,
            signed_index: 6,
            signatures: &sigs,
        };
        let bytes = merkle.encode();
        assert_eq!(bytes.len(), 1096 + 130);
        assert_eq!(&bytes[32..36], &[0, 0, 0, 3]);
        assert_eq!(&bytes[36..68], &[4; 32]);
        assert_eq!(&bytes[68 + 5 * 32..68 + 6 * 32], &[5; 32]);
        assert_eq!(&bytes[1092..1096], &[0, 0, 0, 6]);
        assert_eq!(MerkleRootMetadata::parse(&bytes), Ok(merkle));
        assert_eq!(
            MerkleRootMetadata::parse(&bytes[..1095]),
            Err(MetadataError::TooShort { len: 1095, min: 1096 })
        );
        assert_eq!(
            MerkleRootMetadata::parse(&bytes[..1097]),
            Err(MetadataError::SignaturesMisaligned { len: 1 })
        );
    }
}
