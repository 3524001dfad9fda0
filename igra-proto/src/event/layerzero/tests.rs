//! Verification of LayerZero attestations: a valid one passes, and each forgery fails for its own
//! reason.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::event::{Attestation, AttestationConfig, AttestationError, Event, EventSource, SourceKind};
use crate::ids::GroupId;
use crate::kaspa::tx::ScriptPublicKey;

const LOCAL_EID: u32 = 39_999;
const PEER_EID: u32 = 30_101;
const RECEIVER: [u8; 32] = [0xAA; 32];
const PEER: [u8; 32] = [0x5E; 32];
const CONFIRMATIONS: u64 = 20;
const EXPIRATION: u64 = 1_900_000_000;

/// The DVN signers, sorted by address.
fn signers() -> Vec<EvmSigner> {
    let mut signers: Vec<EvmSigner> =
        (0..3).map(|i| EvmSigner::from_secret(&[0x51 + i; 32]).unwrap()).collect();
    signers.sort_by_key(EvmSigner::address);
    signers
}

fn signer(i: usize) -> EvmSigner {
    signers().swap_remove(i)
}

fn stranger() -> EvmSigner {
    EvmSigner::from_secret(&[0x77; 32]).unwrap()
}

fn config() -> LayerZeroConfig {
    LayerZeroConfig {
        local_eid: LOCAL_EID,
        receiver: RECEIVER,
        peers: vec![LayerZeroPeer { eid: PEER_EID, sender: PEER, shared_decimals: 6 }],
        dvn: DvnConfig {
            vid: 101,
            target: EvmAddress([0x7A; 20]),
            signers: signers().iter().map(EvmSigner::address).collect(),
            quorum: 2,
            min_confirmations: 15,
        },
    }
}

fn payment() -> Payment {
    let mut script = vec![0x20];
    script.extend_from_slice(&[0x42; 32]);
    script.push(0xac);
    Payment { destination: ScriptPublicKey { version: 0, script }, amount: 150_000_000 }
}

fn packet() -> Packet {
    oft_packet(&config(), PEER_EID, 9, &payment()).unwrap()
}

fn attested(packet: &Packet, signers: &[EvmSigner]) -> LayerZeroAttestation {
    attest(packet, CONFIRMATIONS, EXPIRATION, &config().dvn, signers).unwrap()
}

/// `packet` with raw signature bytes.
fn with_signatures(packet: &Packet, signatures: &[[u8; 65]]) -> LayerZeroAttestation {
    LayerZeroAttestation { signatures: signatures.concat().try_into().unwrap(), ..attested(packet, &[]) }
}

fn signature(packet: &Packet, signer: &EvmSigner) -> [u8; 65] {
    signer.sign_digest(&dvn::digest(&config().dvn, packet, CONFIRMATIONS, EXPIRATION)).unwrap()
}

/// Verifies against the fixture's configuration, for an event claiming `packet`'s guid and the
/// fixture's payment from `PEER_EID`.
fn check(packet: &Packet, attestation: &LayerZeroAttestation) -> Result<(), LayerZeroError> {
    let payment = payment();
    verify(
        &config(),
        attestation,
        &Claim { source_id: PEER_EID, external_id: &packet.guid, payment: &payment },
    )
}

#[test]
fn a_quorum_of_dvn_signers_passes() {
    assert_eq!(config().validate(), Ok(()));
    let p = packet();
    assert_eq!(p.guid, p.derived_guid());
    for pair in [[0, 1], [0, 2], [2, 1]] {
        let attestation = attested(&p, &pair.map(signer));
        assert_eq!(check(&p, &attestation), Ok(()), "{pair:?}");
    }
    // Expiration is signed, not enforced: a long-expired attestation verifies the same way.
    let old = attest(&p, CONFIRMATIONS, 1, &config().dvn, &[signer(0), signer(1)]).unwrap();
    assert_eq!(check(&p, &old), Ok(()));
}

#[test]
fn forged_signature_sets_each_fail_for_their_reason() {
    let p = packet();
    let [s0, s1, s2] = [0, 1, 2].map(|i| signature(&p, &signer(i)));
    assert_eq!(check(&p, &with_signatures(&p, &[s0, s2])), Ok(()));
    assert_eq!(
        check(&p, &with_signatures(&p, &[s1, s1])),
        Err(LayerZeroError::DuplicateSigner { index: 1, signer: signer(1).address() })
    );
    assert_eq!(
        check(&p, &with_signatures(&p, &[s2, s0])),
        Err(LayerZeroError::SignersNotAscending { index: 1, signer: signer(0).address() })
    );
    let outsider = stranger().address();
    let outsider_index = usize::from(outsider > signer(0).address());
    assert_eq!(
        check(&p, &attested(&p, &[signer(0), stranger()])),
        Err(LayerZeroError::SignerNotInSet { index: outsider_index, signer: outsider })
    );
    assert_eq!(check(&p, &with_signatures(&p, &[s0])), Err(LayerZeroError::BelowQuorum { have: 1, need: 2 }));
    assert_eq!(
        check(&p, &with_signatures(&p, &[s0, s1, s2])),
        Err(LayerZeroError::AboveQuorum { have: 3, need: 2 })
    );
    let mut ragged = with_signatures(&p, &[s0, s1]);
    ragged.signatures = ragged.signatures[..129].to_vec().try_into().unwrap();
    assert_eq!(check(&p, &ragged), Err(LayerZeroError::SignaturesMisaligned { len: 129 }));
    let parsed = k256::ecdsa::Signature::from_slice(&s0[..64]).unwrap();
    let (r, s) = parsed.split_scalars();
    let mut high = [0u8; 65];
    high[..64].copy_from_slice(&k256::ecdsa::Signature::from_scalars(r, -*s).unwrap().to_bytes());
    high[64] = if s0[64] == 27 { 28 } else { 27 };
    assert_eq!(check(&p, &with_signatures(&p, &[high, s1])), Err(LayerZeroError::HighS { index: 0 }));
    let mut bad_v = s1;
    bad_v[64] = 0;
    assert_eq!(check(&p, &with_signatures(&p, &[s0, bad_v])), Err(LayerZeroError::BadV { index: 1, v: 0 }));
    let mut zero_s = s0;
    zero_s[32..64].fill(0);
    assert_eq!(
        check(&p, &with_signatures(&p, &[zero_s, s1])),
        Err(LayerZeroError::InvalidSignature { index: 0 })
    );
}

#[test]
fn the_digest_covers_confirmations_expiration_vid_and_target() {
    let p = packet();
    let good = attested(&p, &[signer(0), signer(1)]);
    let moved = |a: LayerZeroAttestation| {
        matches!(check(&p, &a), Err(LayerZeroError::SignerNotInSet { index: 0, .. }))
    };
    assert!(moved(LayerZeroAttestation { confirmations: CONFIRMATIONS + 1, ..good.clone() }));
    assert!(moved(LayerZeroAttestation { expiration: EXPIRATION + 1, ..good.clone() }));
    let payment = payment();
    let claim = Claim { source_id: PEER_EID, external_id: &p.guid, payment: &payment };
    let mut other_vid = config();
    other_vid.dvn.vid = 102;
    assert!(matches!(verify(&other_vid, &good, &claim), Err(LayerZeroError::SignerNotInSet { .. })));
    let mut other_target = config();
    other_target.dvn.target = EvmAddress([0x7B; 20]);
    assert!(matches!(verify(&other_target, &good, &claim), Err(LayerZeroError::SignerNotInSet { .. })));
    // Too few confirmations are refused even when signed.
    let hasty = attest(&p, 14, EXPIRATION, &config().dvn, &[signer(0), signer(1)]).unwrap();
    assert_eq!(check(&p, &hasty), Err(LayerZeroError::TooFewConfirmations { have: 14, need: 15 }));
}

#[test]
fn packets_that_do_not_pay_this_event_fail_for_their_reason() {
    let forge = |edit: &dyn Fn(&mut Packet)| {
        let mut p = packet();
        edit(&mut p);
        check(&p, &attested(&p, &[signer(0), signer(1)]))
    };
    assert_eq!(forge(&|p| p.version = 2), Err(LayerZeroError::UnsupportedVersion(2)));
    assert_eq!(forge(&|p| p.dst_eid = 30_102), Err(LayerZeroError::WrongDestinationEid(30_102)));
    assert_eq!(forge(&|p| p.receiver = [1; 32]), Err(LayerZeroError::WrongReceiver([1; 32])));
    assert_eq!(forge(&|p| p.src_eid = 30_110), Err(LayerZeroError::UnknownPeer(30_110)));
    assert_eq!(forge(&|p| p.sender = [2; 32]), Err(LayerZeroError::WrongSender([2; 32])));
    assert_eq!(forge(&|p| p.guid[0] ^= 1), Err(LayerZeroError::ForgedGuid));
    assert_eq!(forge(&|p| p.nonce += 1), Err(LayerZeroError::ForgedGuid));
    assert_eq!(
        forge(&|p| p.message.extend_from_slice(&[0; 32])),
        Err(LayerZeroError::NotAnOftTransfer { len: 72 })
    );
    assert_eq!(forge(&|p| p.message[..32].fill(3)), Err(LayerZeroError::RecipientMismatch));
    assert_eq!(forge(&|p| p.message[39] ^= 1), Err(LayerZeroError::AmountMismatch));
    let short = LayerZeroAttestation { packet: vec![1; 100].try_into().unwrap(), ..attested(&packet(), &[]) };
    assert_eq!(check(&packet(), &short), Err(LayerZeroError::PacketTooShort(PacketTooShort { len: 100 })));

    let p = packet();
    let attestation = attested(&p, &[signer(0), signer(1)]);
    let payment = payment();
    let claim = Claim { source_id: PEER_EID, external_id: &p.guid, payment: &payment };
    assert_eq!(verify(&config(), &attestation, &claim), Ok(()));
    assert_eq!(
        verify(&config(), &attestation, &Claim { source_id: 30_110, ..claim }),
        Err(LayerZeroError::SourceIdMismatch { packet: PEER_EID, claim: 30_110 })
    );
    assert_eq!(
        verify(&config(), &attestation, &Claim { external_id: &[0; 32], ..claim }),
        Err(LayerZeroError::GuidMismatch)
    );
    let elsewhere =
        Payment { destination: ScriptPublicKey { version: 0, script: vec![0x51] }, ..payment.clone() };
    assert_eq!(
        verify(&config(), &attestation, &Claim { payment: &elsewhere, ..claim }),
        Err(LayerZeroError::RecipientMismatch)
    );
    let more = Payment { amount: payment.amount + 100, ..payment.clone() };
    assert_eq!(
        verify(&config(), &attestation, &Claim { payment: &more, ..claim }),
        Err(LayerZeroError::AmountMismatch)
    );
    // 1 sompi is not a whole unit at 6 shared decimals; at 26, 1.5 KAS does not fit in 64 bits.
    let dust = Payment { amount: 1, ..payment.clone() };
    assert_eq!(
        verify(&config(), &attestation, &Claim { payment: &dust, ..claim }),
        Err(LayerZeroError::AmountNotRepresentable)
    );
    let mut wide = config();
    wide.peers[0].shared_decimals = 26;
    assert_eq!(verify(&wide, &attestation, &claim), Err(LayerZeroError::AmountNotRepresentable));
    assert_eq!(oft_packet(&config(), 1, 0, &payment).unwrap_err(), LayerZeroError::UnknownPeer(1));
}

#[test]
fn events_route_to_the_layerzero_verifier() {
    let p = packet();
    let event = Event {
        source: EventSource { kind: SourceKind::LayerZero, id: PEER_EID },
        external_id: p.guid,
        payment: payment(),
        attestation: Attestation::LayerZero(attested(&p, &[signer(1), signer(2)])),
    };
    let group = GroupId([1; 32]);
    let accepted = AttestationConfig { layerzero: Some(config()), ..AttestationConfig::default() };
    assert_eq!(crate::event::verify(&event, &accepted, group), Ok(()));
    assert_eq!(
        crate::event::verify(&event, &AttestationConfig::default(), group),
        Err(AttestationError::SourceNotConfigured(SourceKind::LayerZero))
    );
    let mut other_guid = event.clone();
    other_guid.external_id[0] ^= 1;
    assert_eq!(
        crate::event::verify(&other_guid, &accepted, group),
        Err(AttestationError::LayerZero(LayerZeroError::GuidMismatch))
    );
    // The largest attestation fits an event on the wire.
    let many: Vec<EvmSigner> = (0..32).map(|i| EvmSigner::from_secret(&[0x80 + i; 32]).unwrap()).collect();
    let mut big = event;
    big.attestation = Attestation::LayerZero(attest(&p, 1, 2, &config().dvn, &many).unwrap());
    assert_eq!(Event::decode(&big.encode().unwrap()).unwrap(), big);
    let mut too_many = many;
    too_many.push(stranger());
    assert!(attest(&p, 1, 2, &config().dvn, &too_many).is_none());
}

#[test]
fn invalid_configurations_are_typed_errors() {
    use LayerZeroConfigError as E;
    let edit = |f: &dyn Fn(&mut LayerZeroConfig)| {
        let mut c = config();
        f(&mut c);
        c.validate()
    };
    let first = signer(0).address();
    assert_eq!(edit(&|c| c.peers.clear()), Err(E::NoPeers));
    assert_eq!(
        edit(&|c| {
            let peer = c.peers[0];
            c.peers =
                (0..=u32::try_from(MAX_PEERS).unwrap()).map(|eid| LayerZeroPeer { eid, ..peer }).collect();
        }),
        Err(E::TooManyPeers(MAX_PEERS + 1))
    );
    assert_eq!(edit(&|c| c.peers.push(c.peers[0])), Err(E::DuplicatePeer(PEER_EID)));
    assert_eq!(edit(&|c| c.peers[0].eid = LOCAL_EID), Err(E::PeerIsLocal(LOCAL_EID)));
    assert_eq!(
        edit(&|c| c.peers[0].shared_decimals = 27),
        Err(E::TooManyDecimals { eid: PEER_EID, decimals: 27 })
    );
    assert_eq!(edit(&|c| c.dvn.signers.clear()), Err(E::NoSigners));
    assert_eq!(
        edit(&|c| c.dvn.signers =
            (1..=u8::try_from(MAX_DVN_SIGNERS + 1).unwrap()).map(|i| EvmAddress([i; 20])).collect()),
        Err(E::TooManySigners(MAX_DVN_SIGNERS + 1))
    );
    assert_eq!(edit(&|c| c.dvn.signers.push(first)), Err(E::DuplicateSigner(first)));
    assert_eq!(edit(&|c| c.dvn.signers.push(EvmAddress([0; 20]))), Err(E::ZeroSigner));
    assert_eq!(edit(&|c| c.dvn.quorum = 0), Err(E::BadQuorum { quorum: 0, signers: 3 }));
    assert_eq!(edit(&|c| c.dvn.quorum = 4), Err(E::BadQuorum { quorum: 4, signers: 3 }));
    // An invalid configuration accepts nothing.
    let mut zero = config();
    zero.dvn.quorum = 0;
    let p = packet();
    let payment = payment();
    assert_eq!(
        verify(
            &zero,
            &attested(&p, &[]),
            &Claim { source_id: PEER_EID, external_id: &p.guid, payment: &payment }
        ),
        Err(LayerZeroError::InvalidConfig(E::BadQuorum { quorum: 0, signers: 3 }))
    );
}

/// xorshift64*: deterministic pseudo-random bytes for the no-panic sweep.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

#[test]
fn random_and_mutated_inputs_never_panic_and_never_pass() {
    let mut noise = Noise(0x0fed_cba9_8765_4321);
    let p = packet();
    for _ in 0..300 {
        let bytes = noise.bytes(400);
        let attestation = LayerZeroAttestation {
            packet: bytes.clone().try_into().unwrap(),
            confirmations: noise.next(),
            expiration: noise.next(),
            signatures: noise.bytes(MAX_DVN_SIGNATURE_BYTES).try_into().unwrap(),
        };
        assert!(check(&p, &attestation).is_err());
        let _ = Packet::parse(&bytes);
        let _ = OftTransfer::parse(&bytes);
    }
    // Flipping any one bit of a valid attestation's packet or signatures breaks it.
    let valid = attested(&p, &[signer(0), signer(1)]);
    for _ in 0..64 {
        let mut packet = valid.packet.to_vec();
        let mut signatures = valid.signatures.to_vec();
        let pick = noise.below(packet.len() + signatures.len());
        let bit = 1u8 << (noise.next() % 8);
        match pick.checked_sub(packet.len()) {
            None => packet[pick] ^= bit,
            Some(i) => signatures[i] ^= bit,
        }
        let forged = LayerZeroAttestation {
            packet: packet.try_into().unwrap(),
            signatures: signatures.try_into().unwrap(),
            ..valid.clone()
        };
        assert!(check(&p, &forged).is_err(), "flipped byte {pick}");
    }
}
