//! The LayerZero v2 packet (`PacketV1Codec`) and the OFT transfer its message carries.
//!
//! ```text
//! version u8 ‖ nonce u64 ‖ src_eid u32 ‖ sender [32] ‖ dst_eid u32 ‖ receiver [32]   (header, 81 bytes)
//! ‖ guid [32] ‖ message                                                                (payload)
//! ```
//!
//! All integers are big-endian. The guid is keccak-256 of the header's path fields (nonce, source,
//! sender, destination, receiver), computed at the source; the payload hash, which DVNs attest, is
//! keccak-256 of `guid ‖ message`. An OFT transfer message is `send_to [32] ‖ amount_sd u64`,
//! optionally followed by a compose payload.

use alloc::vec::Vec;

use crate::event::Reader;
use crate::event::evm::keccak256;
use crate::template::Payment;

/// The packet version the endpoint accepts (`PacketV1Codec.PACKET_VERSION`).
pub const PACKET_VERSION: u8 = 1;
/// The header: version, nonce, source endpoint, sender, destination endpoint, receiver.
pub const HEADER_LEN: usize = 81;
/// An OFT transfer message without a compose payload: recipient and amount in shared decimals.
pub const OFT_MESSAGE_LEN: usize = 40;

/// A LayerZero v2 packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet format version.
    pub version: u8,
    /// The pathway's outbound nonce.
    pub nonce: u64,
    /// The source endpoint id.
    pub src_eid: u32,
    /// The sending application (`OApp`), as `bytes32`.
    pub sender: [u8; 32],
    /// The destination endpoint id.
    pub dst_eid: u32,
    /// The receiving application, as `bytes32`.
    pub receiver: [u8; 32],
    /// The packet's global id.
    pub guid: [u8; 32],
    /// The application message.
    pub message: Vec<u8>,
}

/// The bytes are shorter than a header and a guid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTooShort {
    /// Their length.
    pub len: usize,
}

impl Packet {
    /// Parses a packet. Any version parses; the verifier checks it.
    pub fn parse(bytes: &[u8]) -> Result<Self, PacketTooShort> {
        let short = PacketTooShort { len: bytes.len() };
        let mut reader = Reader::new(bytes);
        Ok(Self {
            version: reader.u8().ok_or(short)?,
            nonce: reader.u64().ok_or(short)?,
            src_eid: reader.u32().ok_or(short)?,
            sender: reader.array().ok_or(short)?,
            dst_eid: reader.u32().ok_or(short)?,
            receiver: reader.array().ok_or(short)?,
            guid: reader.array().ok_or(short)?,
            message: reader.rest().to_vec(),
        })
    }

    /// The packet bytes; [`parse`](Self::parse) of them gives `self` back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 32 + self.message.len());
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.guid);
        out.extend_from_slice(&self.message);
        out
    }

    /// The header: what DVNs attest along with the payload hash.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        crate::event::pack(&[
            &[self.version],
            &self.nonce.to_be_bytes(),
            &self.src_eid.to_be_bytes(),
            &self.sender,
            &self.dst_eid.to_be_bytes(),
            &self.receiver,
        ])
    }

    /// keccak-256 of `guid ‖ message`.
    pub fn payload_hash(&self) -> [u8; 32] {
        keccak256(&[&self.guid, &self.message])
    }

    /// The guid the source endpoint assigns to a packet with this header.
    pub fn derived_guid(&self) -> [u8; 32] {
        guid(self.nonce, self.src_eid, &self.sender, self.dst_eid, &self.receiver)
    }
}

/// The guid of the packet with `nonce` on the pathway `(src_eid, sender) → (dst_eid, receiver)`:
/// keccak-256 of the packed fields (`GUID.generate`).
pub fn guid(nonce: u64, src_eid: u32, sender: &[u8; 32], dst_eid: u32, receiver: &[u8; 32]) -> [u8; 32] {
    keccak256(&[&nonce.to_be_bytes(), &src_eid.to_be_bytes(), sender, &dst_eid.to_be_bytes(), receiver])
}

/// An OFT transfer: the message of an OFT send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OftTransfer {
    /// Who is paid on the destination; for Igra, a [`recipient_commitment`](crate::event::recipient_commitment).
    pub send_to: [u8; 32],
    /// The amount in the token's shared decimals.
    pub amount_sd: u64,
}

impl OftTransfer {
    /// Parses a message of exactly [`OFT_MESSAGE_LEN`] bytes. A compose payload after the amount is
    /// refused: it asks the receiver to call something with the tokens, which a withdrawal cannot do.
    pub fn parse(message: &[u8]) -> Option<Self> {
        if message.len() != OFT_MESSAGE_LEN {
            return None;
        }
        let mut reader = Reader::new(message);
        Some(Self { send_to: reader.array()?, amount_sd: reader.u64()? })
    }

    /// The transfer of `payment` by a token with `shared_decimals`, if its amount is exact in those
    /// units and fits in 64 bits.
    pub fn paying(payment: &Payment, shared_decimals: u8) -> Option<Self> {
        let amount = crate::event::to_source_units(payment.amount, shared_decimals)?;
        Some(Self {
            send_to: crate::event::recipient_commitment(&payment.destination),
            amount_sd: u64::try_from(amount).ok()?,
        })
    }

    /// The message bytes.
    pub fn encode(&self) -> [u8; OFT_MESSAGE_LEN] {
        crate::event::pack(&[&self.send_to, &self.amount_sd.to_be_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kaspa::tx::ScriptPublicKey;
    use alloc::vec;

    fn word(value: u16) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[30..].copy_from_slice(&value.to_be_bytes());
        out
    }

    #[test]
    fn packet_codec_sample_derived_vector() {
        // DERIVED, not upstream: shared/reference/event-sources.md section 4.2 computed these hashes from
        // the field values of LayerZero-v2 PacketV1Codec's tests (nonce 1, srcEid 2, sender 0x123,
        // dstEid 3, receiver 0x456, guid 0x789, message 0xaabbcc).
        let packet = Packet {
            version: 1,
            nonce: 1,
            src_eid: 2,
            sender: word(0x123),
            dst_eid: 3,
            receiver: word(0x456),
            guid: word(0x789),
            message: vec![0xaa, 0xbb, 0xcc],
        };
        let header = packet.header();
        assert_eq!(
            hex::encode(header),
            "01\
             0000000000000001\
             00000002\
             0000000000000000000000000000000000000000000000000000000000000123\
             00000003\
             0000000000000000000000000000000000000000000000000000000000000456"
        );
        assert_eq!(
            hex::encode(keccak256(&[&header])),
            "cf3107093157d32f1ea0faa0b236ec54472709e6c93a907bc128700f80562b09"
        );
        assert_eq!(
            hex::encode(packet.payload_hash()),
            "8fb796ec8c7f6320786408c4f81501744ebb3ce9887ab6e6b80d30dff0b10a88"
        );
        assert_eq!(
            hex::encode(packet.derived_guid()),
            "9504de6f668c3fa22e994695fe0a37a7a052ea90d6bf23e4673508d62a79cc8f"
        );
        let bytes = packet.encode();
        assert_eq!(bytes.len(), 81 + 32 + 3);
        assert_eq!(&bytes[81..113], &word(0x789));
        assert_eq!(Packet::parse(&bytes), Ok(packet));
    }

    #[test]
    fn short_packets_and_composed_messages_are_refused() {
        assert_eq!(Packet::parse(&[1; 112]), Err(PacketTooShort { len: 112 }));
        assert!(Packet::parse(&[1; 113]).unwrap().message.is_empty());
        assert_eq!(OftTransfer::parse(&[0; 39]), None);
        assert_eq!(OftTransfer::parse(&[0; 41]), None, "a compose payload is refused");
        let payment =
            Payment { destination: ScriptPublicKey { version: 0, script: vec![0x51] }, amount: 1_234_500 };
        let transfer = OftTransfer::paying(&payment, 6).unwrap();
        assert_eq!(transfer.amount_sd, 12_345);
        assert_eq!(OftTransfer::parse(&transfer.encode()), Some(transfer));
        assert_eq!(&transfer.encode()[32..], &12_345u64.to_be_bytes());
        assert_eq!(OftTransfer::paying(&Payment { amount: 1, ..payment.clone() }, 6), None);
        assert_eq!(OftTransfer::paying(&Payment { amount: u64::MAX, ..payment }, 18), None, "above u64");
    }
}
