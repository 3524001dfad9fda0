//! The TCP transport: framing, handshake and backoff as pure state machines, then real loopback
//! connections under tokio and smol, hostile clients, and a member that restarts.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use igra_adapters::transport::backoff::Backoff;
use igra_adapters::transport::frame::{FrameDecoder, FrameError, encode_frame, encode_frame_into};
use igra_adapters::transport::handshake::{HANDSHAKE_MAX_FRAME, Handshake, HandshakeError, HandshakeStep};
use igra_adapters::transport::{
    DisconnectReason, RejectReason, TransportConfig, TransportError, TransportHandle, TransportStats,
};
use igra_proto::keys::IdentitySignature;
use igra_proto::node::Destination;
use igra_proto::{
    Group, GroupConfig, Limits, LocalSigner, Member, MemberIndex, Network, SchnorrSignature, Signer,
    SignerError, SigningPublicKey,
};

type DynSigner = Arc<dyn Signer + Send + Sync>;

fn signer(i: u8) -> LocalSigner {
    LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).unwrap()
}

fn group_with(n: u8, threshold: u8) -> Group {
    let members = (0..n)
        .map(signer)
        .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
        .collect();
    GroupConfig { members, threshold, network: Network::Simnet, policy_version: 1, limits: Limits::default() }
        .validate()
        .unwrap()
}

fn group(n: u8) -> Group {
    group_with(n, n / 2 + 1)
}

/// Offsets of `from` and `to` in a hello: tag, version, group id (32 bytes), from, to, nonce.
const FROM: usize = 34;
const TO: usize = 35;

const M0: MemberIndex = MemberIndex(0);
const M1: MemberIndex = MemberIndex(1);
const M2: MemberIndex = MemberIndex(2);

// ---------------------------------------------------------------------------------------------------
// Framing

#[test]
fn transport_frame_decoder_reassembles_bytes_pushed_one_at_a_time() {
    let mut wire = encode_frame(b"hello", 100).unwrap();
    wire.extend(encode_frame(b"world!", 100).unwrap());
    let mut decoder = FrameDecoder::new(100);
    let mut frames = Vec::new();
    for byte in &wire {
        decoder.push(std::slice::from_ref(byte));
        while let Some(frame) = decoder.next().unwrap() {
            frames.push(frame);
        }
    }
    assert_eq!(frames, vec![b"hello".to_vec(), b"world!".to_vec()]);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn transport_frame_decoder_returns_many_frames_from_one_push() {
    let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i)]).collect();
    let wire: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p, 64).unwrap()).collect();
    let mut decoder = FrameDecoder::new(64);
    // Everything but the last byte: the last frame stays incomplete.
    decoder.push(&wire[..wire.len() - 1]);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next().unwrap() {
        frames.push(frame);
    }
    assert_eq!(frames, payloads[..49]);
    assert_eq!(decoder.next(), Ok(None));
    decoder.push(&wire[wire.len() - 1..]);
    assert_eq!(decoder.next().unwrap().as_deref(), Some(&payloads[49][..]));
    assert_eq!(decoder.next(), Ok(None));
}

#[test]
fn transport_frames_appended_into_one_buffer_decode_one_by_one_and_a_refused_one_adds_nothing() {
    let mut batch = Vec::new();
    encode_frame_into(&mut batch, b"first", 16).unwrap();
    encode_frame_into(&mut batch, b"second", 16).unwrap();
    let before = batch.clone();
    assert_eq!(encode_frame_into(&mut batch, &[0; 17], 16), Err(FrameError::TooLarge { len: 17, max: 16 }));
    assert_eq!(batch, before, "a refused frame leaves the batch as it was");
    let mut separate = encode_frame(b"first", 16).unwrap();
    separate.extend(encode_frame(b"second", 16).unwrap());
    assert_eq!(batch, separate, "one buffer holds exactly the frames written one by one");
    let mut decoder = FrameDecoder::new(16);
    decoder.push(&batch);
    assert_eq!(decoder.next().unwrap().as_deref(), Some(&b"first"[..]));
    assert_eq!(decoder.next().unwrap().as_deref(), Some(&b"second"[..]));
    assert_eq!(decoder.next(), Ok(None));
}

#[test]
fn transport_frame_decoder_refuses_a_large_length_before_reading_the_payload() {
    let mut decoder = FrameDecoder::new(1000);
    decoder.push(&u32::MAX.to_be_bytes());
    assert_eq!(decoder.next(), Err(FrameError::TooLarge { len: u64::from(u32::MAX), max: 1000 }));
    // Nothing beyond the 4 prefix bytes was taken in: the payload was never waited for or reserved.
    assert_eq!(decoder.buffered(), 4);

    let mut decoder = FrameDecoder::new(1000);
    decoder.push(&1001u32.to_be_bytes());
    assert_eq!(decoder.next(), Err(FrameError::TooLarge { len: 1001, max: 1000 }));
    // The limit itself is accepted.
    let mut decoder = FrameDecoder::new(1000);
    decoder.push(&encode_frame(&[7; 1000], 1000).unwrap());
    assert_eq!(decoder.next().unwrap().map(|f| f.len()), Some(1000));
}

#[test]
fn transport_frame_zero_length_frames_round_trip() {
    let wire = encode_frame(&[], 10).unwrap();
    assert_eq!(wire, [0, 0, 0, 0]);
    let mut decoder = FrameDecoder::new(10);
    decoder.push(&wire);
    decoder.push(&wire);
    assert_eq!(decoder.next(), Ok(Some(Vec::new())));
    assert_eq!(decoder.next(), Ok(Some(Vec::new())));
    assert_eq!(decoder.next(), Ok(None));
}

#[test]
fn transport_frame_encoder_writes_a_big_endian_length_and_refuses_large_payloads() {
    assert_eq!(encode_frame(&[0xAB; 3], 3).unwrap(), [0, 0, 0, 3, 0xAB, 0xAB, 0xAB]);
    assert_eq!(encode_frame(&[0; 4], 3), Err(FrameError::TooLarge { len: 4, max: 3 }));
    assert_eq!(encode_frame(&vec![0; 300], 300).unwrap()[..4], [0, 0, 1, 44]);
}

#[test]
fn transport_frame_decoder_limit_can_be_raised_with_bytes_buffered() {
    let mut decoder = FrameDecoder::new(8);
    decoder.push(&encode_frame(&[1; 20], 20).unwrap());
    assert!(matches!(decoder.next(), Err(FrameError::TooLarge { len: 20, max: 8 })));
    decoder.set_max(20);
    assert_eq!(decoder.max(), 20);
    assert_eq!(decoder.next(), Ok(Some(vec![1; 20])));
}

// ---------------------------------------------------------------------------------------------------
// Handshake

/// Runs a full handshake between `dialer` (signing with `dialer_signer`) and `listener`.
fn run_handshake(
    group: &Group,
    dialer: (MemberIndex, &dyn Signer),
    listener: (MemberIndex, &dyn Signer),
) -> (Result<HandshakeStep, HandshakeError>, Result<HandshakeStep, HandshakeError>) {
    let (mut d, hello) = Handshake::dial(group, dialer.0, listener.0, [0xD1; 32]).unwrap();
    let mut l = Handshake::listen(group, listener.0, [0x11; 32]).unwrap();
    let HandshakeStep::Reply(hello_auth) = l.receive(&hello, listener.1).unwrap() else {
        panic!("the listener answers a hello");
    };
    let dialer_result = d.receive(&hello_auth, dialer.1);
    let Ok(HandshakeStep::Established { reply: Some(auth), .. }) = &dialer_result else {
        return (dialer_result, Err(HandshakeError::OutOfOrder));
    };
    let listener_result = l.receive(auth, listener.1);
    (dialer_result, listener_result)
}

#[test]
fn transport_handshake_proves_both_indices() {
    let group = group(3);
    let (s0, s2) = (signer(0), signer(2));
    let (mut d, hello) = Handshake::dial(&group, M0, M2, [1; 32]).unwrap();
    assert!(hello.len() <= HANDSHAKE_MAX_FRAME as usize);
    let mut l = Handshake::listen(&group, M2, [2; 32]).unwrap();

    let HandshakeStep::Reply(hello_auth) = l.receive(&hello, &s2).unwrap() else {
        panic!("expected a reply")
    };
    assert!(hello_auth.len() <= HANDSHAKE_MAX_FRAME as usize);
    let HandshakeStep::Established { peer, reply: Some(auth) } = d.receive(&hello_auth, &s0).unwrap() else {
        panic!("the dialer is established after the listener's signature")
    };
    assert_eq!(peer, M2);
    assert!(d.is_ended());
    assert!(!l.is_ended());
    assert_eq!(l.receive(&auth, &s2), Ok(HandshakeStep::Established { peer: M0, reply: None }));
    assert!(l.is_ended());
    // Nothing more is accepted on either side.
    assert_eq!(l.receive(&auth, &s2), Err(HandshakeError::OutOfOrder));
    assert_eq!(d.receive(&hello_auth, &s0), Err(HandshakeError::OutOfOrder));
}

#[test]
fn transport_handshake_refuses_malformed_messages() {
    let group = group(3);
    let s1 = signer(1);
    let (_, hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    let bad: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![1],
        hello[..hello.len() - 1].to_vec(),
        [&hello[..], &[0]].concat(),
        [&[2u8][..], &hello[1..]].concat(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for message in bad {
        let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
        assert_eq!(l.receive(&message, &s1), Err(HandshakeError::Malformed), "{message:?}");
        // A failed handshake is over.
        assert_eq!(l.receive(&hello, &s1), Err(HandshakeError::OutOfOrder));
    }
    // The dialer refuses a truncated answer, and the listener a wrong final message.
    let (mut d, hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    let HandshakeStep::Reply(hello_auth) = l.receive(&hello, &s1).unwrap() else { panic!() };
    assert_eq!(d.receive(&hello_auth[..100], &signer(0)), Err(HandshakeError::Malformed));
    assert_eq!(l.receive(&hello, &s1), Err(HandshakeError::Malformed));
}

#[test]
fn transport_handshake_refuses_another_version_and_another_group() {
    let group = group(3);
    let s1 = signer(1);
    let (_, mut hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    hello[1] = hello[1].wrapping_add(1);
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert!(
        matches!(l.receive(&hello, &s1), Err(HandshakeError::WrongVersion { theirs, ours }) if theirs == ours + 1)
    );

    let other = group_with(3, 3);
    assert_ne!(other.id(), group.id());
    let (_, hello) = Handshake::dial(&other, M0, M1, [1; 32]).unwrap();
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert_eq!(l.receive(&hello, &s1), Err(HandshakeError::WrongGroup));

    // The dialer checks the listener's group too.
    let (mut d, hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    let mut l = Handshake::listen(&other, M1, [2; 32]).unwrap();
    let hello_other = [&hello[..2], &other.id().0[..], &hello[34..]].concat();
    let HandshakeStep::Reply(answer) = l.receive(&hello_other, &s1).unwrap() else { panic!() };
    assert_eq!(d.receive(&answer, &signer(0)), Err(HandshakeError::WrongGroup));
}

#[test]
fn transport_handshake_refuses_unknown_members_and_messages_for_others() {
    let group = group(3);
    let (_, hello) = Handshake::dial(&group, M0, M2, [1; 32]).unwrap();

    let mut unknown = hello.clone();
    unknown[FROM] = 9;
    let mut l = Handshake::listen(&group, M2, [2; 32]).unwrap();
    // Index 9 is above member 2, so only membership can refuse it.
    assert_eq!(l.receive(&unknown, &signer(2)), Err(HandshakeError::UnknownMember(9)));
    assert_eq!(
        Handshake::dial(&group, M0, MemberIndex(3), [1; 32]).unwrap_err(),
        HandshakeError::UnknownMember(3)
    );
    assert_eq!(
        Handshake::listen(&group, MemberIndex(7), [1; 32]).unwrap_err(),
        HandshakeError::UnknownMember(7)
    );

    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert_eq!(l.receive(&hello, &signer(1)), Err(HandshakeError::NotForMe { to: 2 }));

    // A hello that claims to come from member 2 and goes to member 1: the higher index dialing.
    let mut reversed = hello;
    reversed[FROM] = 2;
    reversed[TO] = 1;
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert_eq!(l.receive(&reversed, &signer(1)), Err(HandshakeError::WrongDirection { from: 2, to: 1 }));
    // And a member dialing itself.
    reversed[FROM] = 1;
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert_eq!(l.receive(&reversed, &signer(1)), Err(HandshakeError::WrongDirection { from: 1, to: 1 }));
    // The dialer refuses to dial downwards or itself.
    assert_eq!(
        Handshake::dial(&group, M2, M1, [1; 32]).unwrap_err(),
        HandshakeError::WrongDirection { from: 2, to: 1 }
    );
    assert_eq!(
        Handshake::dial(&group, M1, M1, [1; 32]).unwrap_err(),
        HandshakeError::WrongDirection { from: 1, to: 1 }
    );
}

#[test]
fn transport_handshake_dialer_refuses_an_answer_from_another_member() {
    let group = group(3);
    // Member 0 dials member 1, but the connection reaches member 2, which is told it is the target.
    let (mut d, mut hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    hello[TO] = 2;
    let mut l = Handshake::listen(&group, M2, [2; 32]).unwrap();
    let HandshakeStep::Reply(answer) = l.receive(&hello, &signer(2)).unwrap() else { panic!() };
    assert_eq!(d.receive(&answer, &signer(0)), Err(HandshakeError::WrongPeer { expected: 1, got: 2 }));
}

#[test]
fn transport_handshake_refuses_signatures_by_the_wrong_key() {
    let group = group(3);
    let (s0, s2, rogue) = (signer(0), signer(2), signer(9));
    // The dialer claims member 0 but holds another key: the listener refuses its final signature.
    let (dialer, listener) = run_handshake(&group, (M0, &rogue), (M2, &s2));
    assert!(matches!(dialer, Ok(HandshakeStep::Established { peer: M2, .. })));
    assert_eq!(listener, Err(HandshakeError::BadSignature));
    // The listener claims member 2 but holds member 1's key: the dialer refuses its signature.
    let (dialer, _) = run_handshake(&group, (M0, &s0), (M2, &signer(1)));
    assert_eq!(dialer, Err(HandshakeError::BadSignature));
    // Both honest: both established.
    let (dialer, listener) = run_handshake(&group, (M0, &s0), (M2, &s2));
    assert!(matches!(dialer, Ok(HandshakeStep::Established { peer: M2, .. })));
    assert_eq!(listener, Ok(HandshakeStep::Established { peer: M0, reply: None }));
}

#[test]
fn transport_handshake_cannot_be_replayed_against_a_new_nonce() {
    let group = group(3);
    let (s0, s1) = (signer(0), signer(1));
    // Record an honest dialer's messages.
    let (mut d, hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    let HandshakeStep::Reply(answer) = l.receive(&hello, &s1).unwrap() else { panic!() };
    let Ok(HandshakeStep::Established { reply: Some(auth), .. }) = d.receive(&answer, &s0) else { panic!() };
    // Replay them to a listener that picked another nonce.
    let mut l = Handshake::listen(&group, M1, [3; 32]).unwrap();
    assert!(matches!(l.receive(&hello, &s1), Ok(HandshakeStep::Reply(_))));
    assert_eq!(l.receive(&auth, &s1), Err(HandshakeError::BadSignature));
}

/// A signer that is never available.
struct Unavailable(LocalSigner);

impl Signer for Unavailable {
    fn identity_public_key(&self) -> igra_proto::IdentityPublicKey {
        self.0.identity_public_key()
    }
    fn signing_public_key(&self) -> SigningPublicKey {
        self.0.signing_public_key()
    }
    fn sign_identity(&self, _: &[u8; 32]) -> Result<IdentitySignature, SignerError> {
        Err(SignerError::Unavailable)
    }
    fn sign_schnorr(&self, _: &[u8; 32], _: &[u8; 32]) -> Result<SchnorrSignature, SignerError> {
        Err(SignerError::Unavailable)
    }
}

#[test]
fn transport_handshake_reports_a_failing_signer() {
    let group = group(3);
    let (_, hello) = Handshake::dial(&group, M0, M1, [1; 32]).unwrap();
    let mut l = Handshake::listen(&group, M1, [2; 32]).unwrap();
    assert_eq!(
        l.receive(&hello, &Unavailable(signer(1))),
        Err(HandshakeError::Signer(SignerError::Unavailable))
    );
    assert_eq!(RejectReason::from(HandshakeError::Signer(SignerError::Unavailable)), RejectReason::Signer);
}

// ---------------------------------------------------------------------------------------------------
// Backoff

#[test]
fn transport_backoff_doubles_up_to_the_cap() {
    let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(10) };
    let ceilings: Vec<u64> =
        (0..10).map(|k| u64::try_from(backoff.ceiling(k).as_millis()).unwrap()).collect();
    assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(10));
    assert_eq!(Backoff::default(), backoff);
}

#[test]
fn transport_backoff_jitter_stays_within_zero_and_the_ceiling() {
    let backoff = Backoff::default();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for attempt in 0..40 {
        for _ in 0..50 {
            // xorshift: a deterministic stand-in for the random source.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let delay = backoff.delay(attempt, state);
            assert!(delay <= backoff.ceiling(attempt), "{delay:?} at attempt {attempt}");
            assert_eq!(delay, backoff.delay(attempt, state), "deterministic in its inputs");
        }
    }
    // The extremes of the random source reach both ends of the range.
    assert_eq!(backoff.delay(3, 0), Duration::ZERO);
    let top = u64::try_from(backoff.ceiling(3).as_nanos()).unwrap();
    assert_eq!(backoff.delay(3, top), backoff.ceiling(3));
    assert_eq!(backoff.delay(3, top + 1), Duration::ZERO);
    // Different random numbers spread the delays.
    assert_ne!(backoff.delay(5, 1_000_000), backoff.delay(5, 2_000_000_000));
}

// ---------------------------------------------------------------------------------------------------
// Configuration

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

#[test]
fn transport_config_is_checked_against_the_group_and_the_signer() {
    let group = group(3);
    let s1 = signer(1);
    let ok = TransportConfig::new(M1, loopback(), vec![(M0, loopback()), (M2, loopback())], group.clone());
    assert_eq!(ok.max_frame, group.limits().max_message_bytes);
    ok.validate(&s1).unwrap();

    let check = |f: &dyn Fn(&mut TransportConfig), signer: &dyn Signer| {
        let mut config = ok.clone();
        f(&mut config);
        config.validate(signer).unwrap_err()
    };
    assert!(matches!(check(&|_| {}, &signer(2)), TransportError::KeyMismatch));
    assert!(matches!(check(&|c| c.me = MemberIndex(5), &s1), TransportError::NotAMember(MemberIndex(5))));
    assert!(matches!(check(&|c| c.peers.push((M1, loopback())), &s1), TransportError::PeerIsMe));
    assert!(matches!(check(&|c| c.peers.push((M2, loopback())), &s1), TransportError::DuplicatePeer(M2)));
    assert!(matches!(
        check(&|c| c.peers.push((MemberIndex(3), loopback())), &s1),
        TransportError::UnknownPeer(MemberIndex(3))
    ));
    assert!(matches!(check(&|c| c.max_frame = 0, &s1), TransportError::FrameLimit { max_frame: 0, .. }));
    assert!(matches!(check(&|c| c.max_frame += 1, &s1), TransportError::FrameLimit { .. }));
    assert!(matches!(check(&|c| c.queue_len = 0, &s1), TransportError::ZeroQueue));
}

// ---------------------------------------------------------------------------------------------------
// Loopback TCP

/// Generous: only an expected message that never comes waits this long.
const PATIENCE: Duration = Duration::from_secs(30);

fn config(
    group: &Group,
    me: MemberIndex,
    listen: SocketAddr,
    peers: Vec<(MemberIndex, SocketAddr)>,
) -> TransportConfig {
    let mut config = TransportConfig::new(me, listen, peers, group.clone());
    // Short redials keep the restart test quick; correctness does not depend on them.
    config.backoff = Backoff { base: Duration::from_millis(10), cap: Duration::from_millis(200) };
    config
}

/// Starts members `0..n` with `spawn`, highest index first so that every dialer knows its listeners'
/// addresses (lower-index peers' addresses are never dialed: they get a placeholder).
async fn start_group<F, Fut>(group: &Group, spawn: F) -> Vec<TransportHandle>
where
    F: Fn(TransportConfig, DynSigner) -> Fut,
    Fut: Future<Output = Result<TransportHandle, TransportError>>,
{
    let n = u8::try_from(group.size()).unwrap();
    let mut addrs = BTreeMap::new();
    let mut handles = BTreeMap::new();
    for i in (0..n).rev() {
        let peers = (0..n)
            .filter(|&j| j != i)
            .map(|j| (MemberIndex(j), addrs.get(&j).copied().unwrap_or_else(loopback)))
            .collect();
        let handle =
            spawn(config(group, MemberIndex(i), loopback(), peers), Arc::new(signer(i))).await.unwrap();
        addrs.insert(i, handle.local_addr());
        handles.insert(i, handle);
    }
    handles.into_values().collect()
}

/// Receives frames until every expected `(from, payload)` has arrived; fails on anything else.
async fn expect_frames(handle: &TransportHandle, expected: &[(MemberIndex, &[u8])]) {
    let mut missing: Vec<(MemberIndex, Vec<u8>)> = expected.iter().map(|(m, p)| (*m, p.to_vec())).collect();
    let incoming = handle.incoming();
    while !missing.is_empty() {
        let got = incoming.recv().await.unwrap();
        let at = missing.iter().position(|m| *m == got).unwrap_or_else(|| panic!("unexpected frame {got:?}"));
        missing.remove(at);
    }
}

/// Waits until `condition` holds for `handle`'s stats, sleeping with `sleep` between looks.
async fn wait_for_stats<S, Fut>(
    handle: &TransportHandle,
    sleep: S,
    condition: impl Fn(&TransportStats) -> bool,
) where
    S: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    while !condition(&handle.stats()) {
        sleep(Duration::from_millis(10)).await;
    }
}

/// Three members exchange frames in both directions and broadcast, some sent before any connection
/// exists (they wait in the queues).
async fn exchange_among_three<S, Fut>(handles: &[TransportHandle], sleep: S)
where
    S: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let [h0, h1, h2] = handles else { panic!("three members") };
    h0.send(Destination::Member(M2), b"0 to 2".to_vec());
    h2.send(Destination::Member(M0), b"2 to 0".to_vec());
    h1.send(Destination::All, b"1 to all".to_vec());
    h2.send(Destination::Member(M1), b"2 to 1".to_vec());
    h0.send(Destination::Member(M1), b"0 to 1".to_vec());
    h0.send(Destination::Member(M1), Vec::new());
    expect_frames(h0, &[(M2, b"2 to 0"), (M1, b"1 to all")]).await;
    expect_frames(h1, &[(M2, b"2 to 1"), (M0, b"0 to 1"), (M0, b"")]).await;
    expect_frames(h2, &[(M0, b"0 to 2"), (M1, b"1 to all")]).await;
    let received: u64 = handles.iter().map(|h| h.stats().frames_received).sum();
    assert_eq!(received, 7);
    // A sender counts a frame once its write returns, which may be after the receiver has it.
    while handles.iter().map(|h| h.stats().frames_sent).sum::<u64>() < 7 {
        sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handles.iter().map(|h| h.stats().frames_sent).sum::<u64>(), 7);
    for h in handles {
        assert!(h.stats().dropped.is_empty(), "{:?}", h.stats());
    }
}

async fn with_patience_tokio(test: impl Future<Output = ()>) {
    tokio::time::timeout(PATIENCE, test).await.expect("an expected message did not arrive in time");
}

fn with_patience_smol(test: impl Future<Output = ()>) {
    smol::block_on(smol::future::or(test, async {
        smol::Timer::after(PATIENCE).await;
        panic!("an expected message did not arrive in time");
    }));
}

async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

async fn smol_sleep(d: Duration) {
    smol::Timer::after(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_three_members_exchange_frames() {
    let group = group(3);
    let handles = start_group(&group, igra_adapters::transport::tokio::spawn).await;
    with_patience_tokio(async {
        exchange_among_three(&handles, tokio_sleep).await;
        for (i, h) in handles.iter().enumerate() {
            let others: Vec<_> = (0..3u8).filter(|&j| usize::from(j) != i).map(MemberIndex).collect();
            wait_for_stats(h, tokio_sleep, |s| s.connected == others).await;
        }
    })
    .await;
    for h in &handles {
        h.shutdown().await;
        assert!(h.incoming().recv().await.is_err(), "incoming closes at shutdown");
    }
}

#[test]
fn transport_smol_three_members_exchange_frames() {
    let group = group(3);
    with_patience_smol(async {
        let handles = start_group(&group, igra_adapters::transport::smol::spawn).await;
        exchange_among_three(&handles, smol_sleep).await;
        wait_for_stats(&handles[1], smol_sleep, |s| s.connected == [M0, M2]).await;
        for h in &handles {
            h.shutdown().await;
            assert_eq!(h.stats().connected, []);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_send_queues_are_bounded_and_count_drops() {
    let group = group(3);
    let mut cfg = config(&group, M1, loopback(), vec![(M0, loopback())]);
    cfg.queue_len = 2;
    let max_frame = cfg.max_frame;
    // Member 0 never dials: frames for it wait in its queue.
    let h1 = igra_adapters::transport::tokio::spawn(cfg, Arc::new(signer(1))).await.unwrap();
    for i in 0..5u8 {
        h1.send(Destination::Member(M0), vec![i]);
    }
    h1.send(Destination::All, vec![9]);
    h1.send(Destination::Member(M2), vec![1]);
    h1.send(Destination::Member(M1), vec![1]);
    let stats = h1.stats();
    assert_eq!(stats.dropped, BTreeMap::from([(M0, 4)]));
    assert_eq!(stats.unroutable, 2);
    h1.shutdown().await;

    let mut cfg = config(&group, M1, loopback(), vec![(M0, loopback())]);
    cfg.max_frame = 10;
    let h1 = igra_adapters::transport::tokio::spawn(cfg, Arc::new(signer(1))).await.unwrap();
    h1.send(Destination::Member(M0), vec![0; 11]);
    h1.send(Destination::Member(M0), vec![0; 10]);
    assert_eq!(h1.stats().dropped, BTreeMap::from([(M0, 1)]));
    assert!(max_frame > 10);
    h1.shutdown().await;
}

/// Reads until the other end closes `stream` (EOF or a reset) and returns what arrived.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    // A reset instead of EOF also means the transport closed the connection.
    let _ = stream.read_to_end(&mut received).await;
    received
}

/// Opens a raw TCP connection, writes `bytes`, and waits for the transport to close it.
async fn rogue(addr: SocketAddr, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The transport may close before reading everything; a failed write is fine.
    let _ = stream.write_all(bytes).await;
    let sink = until_closed(&mut stream).await;
    assert!(sink.len() <= usize::try_from(HANDSHAKE_MAX_FRAME).unwrap(), "no frame beyond the handshake");
}

/// Reads from `stream` until `decoder` yields a frame; fails if the stream ends first.
async fn read_frame(stream: &mut tokio::net::TcpStream, decoder: &mut FrameDecoder) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0; 1024];
    loop {
        if let Some(frame) = decoder.next().unwrap() {
            return frame;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "the connection stays open");
        decoder.push(&buf[..n]);
    }
}

/// A dialer that claims to be `me` towards `to`, signing with `key`; returns the stream once it has
/// sent its final handshake message, and the frames decoder holding whatever followed.
async fn dial_as(
    group: &Group,
    addr: SocketAddr,
    me: MemberIndex,
    to: MemberIndex,
    key: &dyn Signer,
) -> (tokio::net::TcpStream, FrameDecoder) {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut handshake, hello) = Handshake::dial(group, me, to, [0x5A; 32]).unwrap();
    stream.write_all(&encode_frame(&hello, HANDSHAKE_MAX_FRAME).unwrap()).await.unwrap();
    let mut decoder = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    let answer = read_frame(&mut stream, &mut decoder).await;
    let Ok(HandshakeStep::Established { peer, reply: Some(auth) }) = handshake.receive(&answer, key) else {
        panic!("the listener proves its index")
    };
    assert_eq!(peer, to);
    stream.write_all(&encode_frame(&auth, HANDSHAKE_MAX_FRAME).unwrap()).await.unwrap();
    (stream, decoder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_hostile_clients_are_refused_and_counted() {
    let group = group(3);
    let handles = start_group(&group, igra_adapters::transport::tokio::spawn).await;
    let target = handles[2].local_addr();
    with_patience_tokio(async {
        // Garbage that is not framing at all ("GET " read as a length is far above the handshake limit).
        rogue(target, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        // A well-framed message that is not a handshake message.
        rogue(target, &encode_frame(b"not a hello", HANDSHAKE_MAX_FRAME).unwrap()).await;
        // An oversized length prefix.
        rogue(target, &[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]).await;
        // A handshake claiming member 0, signed by another key.
        let (mut stream, _) = dial_as(&group, target, M0, M2, &signer(9)).await;
        let sink = until_closed(&mut stream).await;
        assert!(sink.is_empty(), "nothing is sent to an unproven dialer");

        wait_for_stats(&handles[2], tokio_sleep, |s| s.rejected.values().sum::<u64>() == 4).await;
        let stats = handles[2].stats();
        assert_eq!(
            stats.rejected,
            BTreeMap::from([
                (RejectReason::Malformed, 1),
                (RejectReason::BadSignature, 1),
                (RejectReason::TooLarge, 2)
            ])
        );
        // The real members are unaffected: nothing replaced, and frames still flow.
        exchange_among_three(&handles, tokio_sleep).await;
        assert!(!handles[2].stats().disconnects.contains_key(&DisconnectReason::Replaced));
    })
    .await;
    for h in &handles {
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_peer_that_sends_an_oversized_frame_is_disconnected() {
    use tokio::io::AsyncWriteExt;
    let group = group(2);
    // The test plays member 0 itself, over a raw socket.
    let mut cfg = config(&group, M1, loopback(), vec![(M0, loopback())]);
    cfg.max_frame = 1000;
    let h1 = igra_adapters::transport::tokio::spawn(cfg, Arc::new(signer(1))).await.unwrap();
    with_patience_tokio(async {
        let (mut stream, mut decoder) = dial_as(&group, h1.local_addr(), M0, M1, &signer(0)).await;
        // An honest frame goes through both ways.
        stream.write_all(&encode_frame(b"from 0", 1000).unwrap()).await.unwrap();
        expect_frames(&h1, &[(M0, b"from 0")]).await;
        h1.send(Destination::Member(M0), b"from 1".to_vec());
        decoder.set_max(1000);
        assert_eq!(read_frame(&mut stream, &mut decoder).await, b"from 1");
        assert_eq!(h1.stats().connected, [M0]);

        // Then a frame one byte over the limit: the connection is dropped without reading its payload.
        stream.write_all(&1001u32.to_be_bytes()).await.unwrap();
        assert!(until_closed(&mut stream).await.is_empty(), "nothing follows an oversized frame");
        wait_for_stats(&h1, tokio_sleep, |s| s.connected.is_empty()).await;
        assert_eq!(h1.stats().disconnects, BTreeMap::from([(DisconnectReason::TooLarge, 1)]));
    })
    .await;
    h1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_restarted_member_is_redialed_and_traffic_resumes() {
    let group = group(3);
    let mut handles = start_group(&group, igra_adapters::transport::tokio::spawn).await;
    with_patience_tokio(async {
        exchange_among_three(&handles, tokio_sleep).await;
        // Member 1 dials member 2 and is dialed by member 0: it stops, then comes back on its port.
        let addr1 = handles[1].local_addr();
        handles[1].shutdown().await;
        wait_for_stats(&handles[0], tokio_sleep, |s| s.connected == [M2]).await;
        wait_for_stats(&handles[2], tokio_sleep, |s| s.connected == [M0]).await;
        let peers = vec![(M0, handles[0].local_addr()), (M2, handles[2].local_addr())];
        let restarted =
            igra_adapters::transport::tokio::spawn(config(&group, M1, addr1, peers), Arc::new(signer(1)))
                .await
                .unwrap();
        assert_eq!(restarted.local_addr(), addr1);
        handles[1] = restarted;

        handles[0].send(Destination::Member(M1), b"0 to new 1".to_vec());
        handles[2].send(Destination::Member(M1), b"2 to new 1".to_vec());
        handles[1].send(Destination::All, b"new 1 to all".to_vec());
        expect_frames(&handles[1], &[(M0, b"0 to new 1"), (M2, b"2 to new 1")]).await;
        expect_frames(&handles[0], &[(M1, b"new 1 to all")]).await;
        expect_frames(&handles[2], &[(M1, b"new 1 to all")]).await;
        wait_for_stats(&handles[1], tokio_sleep, |s| s.connected == [M0, M2]).await;
        // The survivors saw their connections to the old member 1 end.
        for h in [&handles[0], &handles[2]] {
            let ended: u64 = h.stats().disconnects.values().sum();
            assert!(ended >= 1, "{:?}", h.stats());
        }
    })
    .await;
    for h in &handles {
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_silent_client_is_dropped_at_the_handshake_timeout() {
    let group = group(2);
    let mut cfg = config(&group, M1, loopback(), vec![(M0, loopback())]);
    cfg.handshake_timeout = Duration::from_millis(100);
    let h1 = igra_adapters::transport::tokio::spawn(cfg, Arc::new(signer(1))).await.unwrap();
    with_patience_tokio(async {
        let mut stream = tokio::net::TcpStream::connect(h1.local_addr()).await.unwrap();
        let sink = until_closed(&mut stream).await;
        assert!(sink.is_empty());
        wait_for_stats(&h1, tokio_sleep, |s| !s.rejected.is_empty()).await;
        assert_eq!(h1.stats().rejected, BTreeMap::from([(RejectReason::Timeout, 1)]));
    })
    .await;
    h1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_tokio_new_authenticated_connection_replaces_the_old_one() {
    let group = group(2);
    let h1 = igra_adapters::transport::tokio::spawn(
        config(&group, M1, loopback(), vec![(M0, loopback())]),
        Arc::new(signer(1)),
    )
    .await
    .unwrap();
    with_patience_tokio(async {
        let (mut old, _) = dial_as(&group, h1.local_addr(), M0, M1, &signer(0)).await;
        wait_for_stats(&h1, tokio_sleep, |s| s.connected == [M0]).await;
        // Member 0 comes back on a new connection (it restarted, or the old one is dead): the old one
        // is closed and the new one carries the frames.
        let (mut new, mut decoder) = dial_as(&group, h1.local_addr(), M0, M1, &signer(0)).await;
        let sink = until_closed(&mut old).await;
        assert!(sink.is_empty());
        wait_for_stats(&h1, tokio_sleep, |s| s.disconnects.contains_key(&DisconnectReason::Replaced)).await;
        h1.send(Destination::Member(M0), b"to the new one".to_vec());
        decoder.set_max(1000);
        assert_eq!(read_frame(&mut new, &mut decoder).await, b"to the new one");
        let stats = h1.stats();
        assert_eq!(stats.connected, [M0]);
        assert_eq!(stats.disconnects, BTreeMap::from([(DisconnectReason::Replaced, 1)]));
    })
    .await;
    h1.shutdown().await;
}
