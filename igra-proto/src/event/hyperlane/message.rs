//! The Hyperlane message (Mailbox v3) and the warp-route transfer its body carries.
//!
//! The message is packed big-endian with no padding:
//!
//! ```text
//! version u8 ‖ nonce u32 ‖ origin u32 ‖ sender [32] ‖ destination u32 ‖ recipient [32] ‖ body
//! ```
//!
//! and its id is keccak-256 of the whole packing. A warp-route transfer body is
//! `recipient [32] ‖ amount uint256`, optionally followed by token metadata.

use alloc::vec::Vec;

use crate::event::Reader;
use crate::event::evm::{keccak256, uint256};
use crate::template::Payment;

/// The message version the Mailbox dispatches and processes (`Mailbox.VERSION`).
pub const MESSAGE_VERSION: u8 = 3;
/// Bytes before the body: version, nonce, origin, sender, destination and recipient.
pub const MESSAGE_HEADER_LEN: usize = 77;
/// A warp-route transfer body without token metadata: recipient and amount.
pub const WARP_BODY_LEN: usize = 64;

/// A Hyperlane message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HyperlaneMessage {
    /// The message format version.
    pub version: u8,
    /// The origin Mailbox's dispatch counter.
    pub nonce: u32,
    /// The origin domain id.
    pub origin: u32,
    /// The sending contract, as `bytes32` (EVM addresses left-padded).
    pub sender: [u8; 32],
    /// The destination domain id.
    pub destination: u32,
    /// The receiving contract, as `bytes32`.
    pub recipient: [u8; 32],
    /// The application payload.
    pub body: Vec<u8>,
}

/// The bytes are shorter than a message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageTooShort {
    /// Their length.
    pub len: usize,
}

impl HyperlaneMessage {
    /// Parses a packed message. Any version parses; the verifier checks it.
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageTooShort> {
        let short = MessageTooShort { len: bytes.len() };
        let mut reader = Reader::new(bytes);
        Ok(Self {
            version: reader.u8().ok_or(short)?,
            nonce: reader.u32().ok_or(short)?,
            origin: reader.u32().ok_or(short)?,
            sender: reader.array().ok_or(short)?,
            destination: reader.u32().ok_or(short)?,
            recipient: reader.array().ok_or(short)?,
            body: reader.rest().to_vec(),
        })
    }

    /// The packed encoding; [`parse`](Self::parse) of it gives `self` back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MESSAGE_HEADER_LEN + self.body.len());
        out.push(self.version);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.origin.to_be_bytes());
        out.extend_from_slice(&self.sender);
        out.extend_from_slice(&self.destination.to_be_bytes());
        out.extend_from_slice(&self.recipient);
        out.extend_from_slice(&self.body);
        out
    }

    /// The message id: keccak-256 of the packed encoding.
    pub fn id(&self) -> [u8; 32] {
        keccak256(&[&self.encode()])
    }
}

/// A warp-route transfer: the body of a token message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WarpTransfer {
    /// Who is paid on the destination; for Igra, a [`recipient_commitment`](crate::event::recipient_commitment).
    pub recipient: [u8; 32],
    /// The amount in the origin token's units, as a big-endian `uint256`.
    pub amount: [u8; 32],
}

impl WarpTransfer {
    /// Parses a body of exactly [`WARP_BODY_LEN`] bytes. A body with token metadata after the amount is
    /// refused: nothing here can say what the metadata asks for, so accepting it would be a guess.
    pub fn parse(body: &[u8]) -> Option<Self> {
        if body.len() != WARP_BODY_LEN {
            return None;
        }
        let mut reader = Reader::new(body);
        Some(Self { recipient: reader.array()?, amount: reader.array()? })
    }

    /// The transfer of `payment` by a token with `decimals` decimals, if its amount is exact in those
    /// units (see [`to_source_units`](crate::event::to_source_units)).
    pub fn paying(payment: &Payment, decimals: u8) -> Option<Self> {
        Some(Self {
            recipient: crate::event::recipient_commitment(&payment.destination),
            amount: uint256(crate::event::to_source_units(payment.amount, decimals)?),
        })
    }

    /// The body bytes.
    pub fn encode(&self) -> [u8; WARP_BODY_LEN] {
        crate::event::pack(&[&self.recipient, &self.amount])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kaspa::tx::ScriptPublicKey;
    use alloc::vec;

    #[test]
    fn message_json_vector_packs_and_hashes_as_upstream() {
        // hyperlane-monorepo vectors/message.json (blob 10b9befc, Apache-2.0), transcribed in
        // shared/reference/event-sources.md section 3.
        let mut sender = [0u8; 32];
        sender[12..].fill(0x11);
        let mut recipient = [0u8; 32];
        recipient[12..].fill(0x22);
        let message = HyperlaneMessage {
            version: 3,
            nonce: 0,
            origin: 1000,
            sender,
            destination: 2000,
            recipient,
            body: vec![0x12, 0x34],
        };
        let packed = message.encode();
        assert_eq!(
            hex::encode(&packed),
            "03\
             00000000\
             000003e8\
             0000000000000000000000001111111111111111111111111111111111111111\
             000007d0\
             0000000000000000000000002222222222222222222222222222222222222222\
             1234"
        );
        assert_eq!(packed.len(), 79);
        assert_eq!(
            hex::encode(message.id()),
            "f8a66f8aadee751d842616fee0ed14a3ad6da1e13564920364ee0ad35a02703f"
        );
        assert_eq!(message.id(), keccak256(&[&packed]));
        assert_eq!(HyperlaneMessage::parse(&packed), Ok(message));
    }

    #[test]
    fn short_messages_and_odd_bodies_are_refused() {
        assert_eq!(HyperlaneMessage::parse(&[3; 76]), Err(MessageTooShort { len: 76 }));
        let empty_body = HyperlaneMessage::parse(&[3; 77]).unwrap();
        assert!(empty_body.body.is_empty());
        assert_eq!(WarpTransfer::parse(&[0; 63]), None);
        assert_eq!(WarpTransfer::parse(&[0; 65]), None, "trailing token metadata is refused");
        let payment =
            Payment { destination: ScriptPublicKey { version: 0, script: vec![0x51] }, amount: 150 };
        let transfer = WarpTransfer::paying(&payment, 18).unwrap();
        assert_eq!(WarpTransfer::parse(&transfer.encode()), Some(transfer));
        assert_eq!(transfer.amount, uint256(150 * 10u128.pow(10)));
        assert_eq!(
            WarpTransfer::paying(&payment, 6),
            None,
            "150 sompi is not a whole number of 6-decimal units"
        );
    }
}
