//! What DVN signers sign: the hash of the `ReceiveUln302.verify(header, payloadHash, confirmations)`
//! call their DVN contract would execute (`DVN.hashCallData`), EIP-191 wrapped (`MultiSig`):
//!
//! ```text
//! call_data = 0x0223536e ‖ abi.encode(bytes header, bytes32 payload_hash, uint64 confirmations)
//! hash      = keccak256(vid u32 ‖ target [20] ‖ expiration uint256 ‖ call_data)
//! digest    = keccak256("\x19Ethereum Signed Message:\n32" ‖ hash)
//! ```

use super::config::DvnConfig;
use super::packet::{HEADER_LEN, Packet};
use crate::event::evm::{EvmAddress, eip191_digest, keccak256, uint256};

/// The selector of `verify(bytes,bytes32,uint64)`.
pub const VERIFY_SELECTOR: [u8; 4] = [0x02, 0x23, 0x53, 0x6e];
/// The ABI-encoded call: selector, three head words, the header's length word and the header padded
/// to three words.
pub const VERIFY_CALL_DATA_LEN: usize = 4 + 4 * 32 + 96;

/// The ABI encoding of `verify(header, payload_hash, confirmations)`.
pub fn verify_call_data(
    header: &[u8; HEADER_LEN],
    payload_hash: &[u8; 32],
    confirmations: u64,
) -> [u8; VERIFY_CALL_DATA_LEN] {
    /// The header's offset in the arguments: after the three head words.
    const HEADER_OFFSET: u128 = 3 * 32;
    /// The header's length, as its ABI length word.
    const HEADER_LEN_WORD: u128 = 81;
    /// Zeros that pad the 81-byte header to a whole number of words.
    const PADDING: [u8; 96 - HEADER_LEN] = [0; 96 - HEADER_LEN];
    crate::event::pack(&[
        &VERIFY_SELECTOR,
        &uint256(HEADER_OFFSET),
        payload_hash,
        &uint256(u128::from(confirmations)),
        &uint256(HEADER_LEN_WORD),
        header,
        &PADDING,
    ])
}

/// `DVN.hashCallData(vid, target, call_data, expiration)`.
pub fn call_data_hash(vid: u32, target: EvmAddress, expiration: u64, call_data: &[u8]) -> [u8; 32] {
    keccak256(&[&vid.to_be_bytes(), &target.0, &uint256(u128::from(expiration)), call_data])
}

/// The digest `dvn`'s signers sign to attest `packet` with `confirmations`, valid until `expiration`.
pub fn digest(dvn: &DvnConfig, packet: &Packet, confirmations: u64, expiration: u64) -> [u8; 32] {
    let call_data = verify_call_data(&packet.header(), &packet.payload_hash(), confirmations);
    eip191_digest(&call_data_hash(dvn.vid, dvn.target, expiration, &call_data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn verify_call_data_is_the_abi_encoding() {
        let header = [0xAB; HEADER_LEN];
        let call = verify_call_data(&header, &[0xCD; 32], 0x0102);
        assert_eq!(call.len(), 228);
        assert_eq!(call[..4], [0x02, 0x23, 0x53, 0x6e]);
        assert_eq!(call[4..36], uint256(0x60));
        assert_eq!(call[36..68], [0xCD; 32]);
        assert_eq!(call[68..100], uint256(0x0102));
        assert_eq!(call[100..132], uint256(81));
        assert_eq!(call[132..213], header);
        assert_eq!(call[213..], [0; 15]);
        // The selector is keccak256("verify(bytes,bytes32,uint64)")[..4].
        assert_eq!(keccak256(&[b"verify(bytes,bytes32,uint64)"])[..4], VERIFY_SELECTOR);
    }

    #[test]
    fn the_hash_covers_vid_target_expiration_and_call_in_that_order() {
        let call = [7u8; VERIFY_CALL_DATA_LEN];
        let target = EvmAddress([0x11; 20]);
        let mut preimage = vec![0, 0, 0, 101];
        preimage.extend_from_slice(&[0x11; 20]);
        preimage.extend_from_slice(&uint256(1_700_000_000));
        preimage.extend_from_slice(&call);
        assert_eq!(call_data_hash(101, target, 1_700_000_000, &call), keccak256(&[&preimage]));
        assert_ne!(call_data_hash(102, target, 1_700_000_000, &call), keccak256(&[&preimage]));
        assert_ne!(call_data_hash(101, target, 1_700_000_001, &call), keccak256(&[&preimage]));
    }
}
