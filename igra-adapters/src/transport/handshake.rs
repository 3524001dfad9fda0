//! The connection handshake: a sans-IO state machine that proves to each end of a TCP connection which
//! group member is at the other end.
//!
//! There is one connection per pair of members, and the member with the **lower** index dials the one
//! with the higher index. Three messages, each sent as one frame (see [`frame`](super::frame)) of at most
//! [`HANDSHAKE_MAX_FRAME`] bytes:
//!
//! 1. dialer → listener, `Hello`: `1 ‖ version ‖ group id ‖ from ‖ to ‖ dialer nonce` (68 bytes);
//! 2. listener → dialer, `HelloAuth`: `2 ‖ version ‖ group id ‖ from ‖ to ‖ listener nonce ‖ signature`
//!    (132 bytes), the signature by the listener's identity key over the transcript with role 1;
//! 3. dialer → listener, `Auth`: `3 ‖ signature` (65 bytes), by the dialer's identity key over the
//!    transcript with role 0.
//!
//! The **transcript** is `BLAKE3-derive_key("igra 2026-11 handshake v1", version ‖ group id ‖ dialer
//! index ‖ listener index ‖ dialer nonce ‖ listener nonce ‖ role)`, indices and version one byte each.
//! Both nonces are fresh per connection, so a recorded handshake cannot be replayed: each side signs a
//! transcript that contains the other side's new nonce.
//!
//! The handshake only proves indices; every frame after it is authenticated by the envelope inside it.

use std::fmt;

use igra_proto::hash::{Domain, DomainHasher};
use igra_proto::keys::IdentitySignature;
use igra_proto::wire::PROTOCOL_VERSION;
use igra_proto::{Group, GroupId, IdentityPublicKey, MemberIndex, Signer, SignerError};

/// The largest handshake message, in bytes (the largest real one has 132).
pub const HANDSHAKE_MAX_FRAME: u32 = 256;

/// Bytes of a handshake nonce.
pub const NONCE_BYTES: usize = 32;

const TAG_HELLO: u8 = 1;
const TAG_HELLO_AUTH: u8 = 2;
const TAG_AUTH: u8 = 3;
const HELLO_BYTES: usize = 2 + 32 + 2 + NONCE_BYTES;
const SIGNATURE_BYTES: usize = 64;
const ROLE_DIALER: u8 = 0;
const ROLE_LISTENER: u8 = 1;

/// Why a handshake failed. Every failure ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// The message is not a well-formed handshake message of the expected kind.
    Malformed,
    /// The peer speaks another protocol version.
    WrongVersion {
        /// Our version.
        ours: u8,
        /// The peer's version.
        theirs: u8,
    },
    /// The peer belongs to another group.
    WrongGroup,
    /// The claimed member index is not in the group.
    UnknownMember(u8),
    /// The message is addressed to another member.
    NotForMe {
        /// The member it is addressed to.
        to: u8,
    },
    /// The dialer's index is not below the listener's: the higher index never dials the lower one (and a
    /// member never dials itself).
    WrongDirection {
        /// The dialing member.
        from: u8,
        /// The listening member.
        to: u8,
    },
    /// The listener answered as a different member than the one dialed.
    WrongPeer {
        /// The member dialed.
        expected: u8,
        /// The member that answered.
        got: u8,
    },
    /// The peer's signature does not verify under its member's identity key.
    BadSignature,
    /// Our signer could not sign the transcript.
    Signer(SignerError),
    /// A message arrived after the handshake finished or failed.
    OutOfOrder,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed handshake message"),
            Self::WrongVersion { ours, theirs } => {
                write!(f, "peer speaks protocol version {theirs}, we speak {ours}")
            }
            Self::WrongGroup => f.write_str("peer belongs to another group"),
            Self::UnknownMember(i) => write!(f, "member index {i} is not in the group"),
            Self::NotForMe { to } => write!(f, "handshake is addressed to member {to}"),
            Self::WrongDirection { from, to } => {
                write!(f, "member {from} may not dial member {to}: the lower index dials")
            }
            Self::WrongPeer { expected, got } => write!(f, "dialed member {expected}, member {got} answered"),
            Self::BadSignature => f.write_str("handshake signature does not verify"),
            Self::Signer(e) => write!(f, "cannot sign the handshake: {e}"),
            Self::OutOfOrder => f.write_str("handshake message after the handshake ended"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// What to do after a handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeStep {
    /// Send this message and wait for the next one.
    Reply(Vec<u8>),
    /// The peer is proven to be `peer`; send `reply` first if there is one, then the connection carries
    /// frames.
    Established {
        /// The member at the other end.
        peer: MemberIndex,
        /// The last handshake message, if this side sends it.
        reply: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone, Copy)]
enum State {
    DialerAwaitingHelloAuth { peer: MemberIndex },
    ListenerAwaitingHello,
    ListenerAwaitingAuth { peer: MemberIndex, peer_nonce: [u8; NONCE_BYTES] },
    Ended,
}

/// One side of a handshake.
#[derive(Debug, Clone)]
pub struct Handshake {
    group_id: GroupId,
    identities: Vec<IdentityPublicKey>,
    me: MemberIndex,
    nonce: [u8; NONCE_BYTES],
    state: State,
}

/// The fields of a `Hello` or `HelloAuth`.
struct Hello {
    version: u8,
    group_id: GroupId,
    from: u8,
    to: u8,
    nonce: [u8; NONCE_BYTES],
}

impl Hello {
    fn encode(&self, tag: u8, out: &mut Vec<u8>) {
        out.push(tag);
        out.push(self.version);
        out.extend_from_slice(&self.group_id.0);
        out.push(self.from);
        out.push(self.to);
        out.extend_from_slice(&self.nonce);
    }

    /// Parses `tag ‖ hello fields ‖ rest`, with `rest` exactly `rest_len` bytes.
    fn decode(message: &[u8], tag: u8, rest_len: usize) -> Result<(Self, &[u8]), HandshakeError> {
        let (&[got_tag, version], body) =
            message.split_first_chunk::<2>().ok_or(HandshakeError::Malformed)?;
        if got_tag != tag || body.len() != HELLO_BYTES - 2 + rest_len {
            return Err(HandshakeError::Malformed);
        }
        let (group_id, body) = body.split_first_chunk::<32>().ok_or(HandshakeError::Malformed)?;
        let (&[from, to], body) = body.split_first_chunk::<2>().ok_or(HandshakeError::Malformed)?;
        let (nonce, rest) = body.split_first_chunk::<NONCE_BYTES>().ok_or(HandshakeError::Malformed)?;
        Ok((Self { version, group_id: GroupId(*group_id), from, to, nonce: *nonce }, rest))
    }
}

fn signature(bytes: &[u8]) -> Result<IdentitySignature, HandshakeError> {
    bytes.try_into().map(IdentitySignature).map_err(|_| HandshakeError::Malformed)
}

impl Handshake {
    /// The dialing side: `me` dials `peer`. Returns the state machine and the first message to send.
    pub fn dial(
        group: &Group,
        me: MemberIndex,
        peer: MemberIndex,
        nonce: [u8; NONCE_BYTES],
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let this = Self::new(group, me, nonce, State::DialerAwaitingHelloAuth { peer })?;
        this.identity(peer.0)?;
        if me >= peer {
            return Err(HandshakeError::WrongDirection { from: me.0, to: peer.0 });
        }
        let mut hello = Vec::with_capacity(1 + HELLO_BYTES);
        this.hello(peer).encode(TAG_HELLO, &mut hello);
        Ok((this, hello))
    }

    /// The listening side: `me` accepted a connection and waits for a dialer's `Hello`.
    pub fn listen(group: &Group, me: MemberIndex, nonce: [u8; NONCE_BYTES]) -> Result<Self, HandshakeError> {
        Self::new(group, me, nonce, State::ListenerAwaitingHello)
    }

    fn new(
        group: &Group,
        me: MemberIndex,
        nonce: [u8; NONCE_BYTES],
        state: State,
    ) -> Result<Self, HandshakeError> {
        let identities = group.members().iter().map(|m| m.identity).collect();
        let this = Self { group_id: group.id(), identities, me, nonce, state };
        this.identity(me.0)?;
        Ok(this)
    }

    /// Whether the handshake has ended (established or failed).
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Takes the peer's next handshake message (a frame's payload). `signer` holds our identity key.
    /// After an error the handshake is over and the connection must be dropped.
    pub fn receive(&mut self, message: &[u8], signer: &dyn Signer) -> Result<HandshakeStep, HandshakeError> {
        let state = std::mem::replace(&mut self.state, State::Ended);
        match state {
            State::DialerAwaitingHelloAuth { peer } => self.on_hello_auth(peer, message, signer),
            State::ListenerAwaitingHello => self.on_hello(message, signer),
            State::ListenerAwaitingAuth { peer, peer_nonce } => self.on_auth(peer, peer_nonce, message),
            State::Ended => Err(HandshakeError::OutOfOrder),
        }
    }

    /// Listener: the dialer's `Hello`.
    fn on_hello(&mut self, message: &[u8], signer: &dyn Signer) -> Result<HandshakeStep, HandshakeError> {
        let (hello, _) = Hello::decode(message, TAG_HELLO, 0)?;
        self.check_common(&hello)?;
        self.identity(hello.from)?;
        if hello.from >= hello.to {
            return Err(HandshakeError::WrongDirection { from: hello.from, to: hello.to });
        }
        let peer = MemberIndex(hello.from);
        let digest = self.transcript(peer, self.me, &hello.nonce, &self.nonce, ROLE_LISTENER);
        let sig = signer.sign_identity(&digest).map_err(HandshakeError::Signer)?;
        let mut reply = Vec::with_capacity(1 + HELLO_BYTES + SIGNATURE_BYTES);
        self.hello(peer).encode(TAG_HELLO_AUTH, &mut reply);
        reply.extend_from_slice(&sig.0);
        self.state = State::ListenerAwaitingAuth { peer, peer_nonce: hello.nonce };
        Ok(HandshakeStep::Reply(reply))
    }

    /// Dialer: the listener's `HelloAuth`.
    fn on_hello_auth(
        &self,
        peer: MemberIndex,
        message: &[u8],
        signer: &dyn Signer,
    ) -> Result<HandshakeStep, HandshakeError> {
        let (hello, sig) = Hello::decode(message, TAG_HELLO_AUTH, SIGNATURE_BYTES)?;
        let sig = signature(sig)?;
        self.check_common(&hello)?;
        if hello.from != peer.0 {
            return Err(HandshakeError::WrongPeer { expected: peer.0, got: hello.from });
        }
        let theirs = self.transcript(self.me, peer, &self.nonce, &hello.nonce, ROLE_LISTENER);
        self.identity(peer.0)?.verify(&theirs, &sig).map_err(|_| HandshakeError::BadSignature)?;
        let ours = self.transcript(self.me, peer, &self.nonce, &hello.nonce, ROLE_DIALER);
        let sig = signer.sign_identity(&ours).map_err(HandshakeError::Signer)?;
        let mut reply = Vec::with_capacity(1 + SIGNATURE_BYTES);
        reply.push(TAG_AUTH);
        reply.extend_from_slice(&sig.0);
        Ok(HandshakeStep::Established { peer, reply: Some(reply) })
    }

    /// Listener: the dialer's `Auth`.
    fn on_auth(
        &self,
        peer: MemberIndex,
        peer_nonce: [u8; NONCE_BYTES],
        message: &[u8],
    ) -> Result<HandshakeStep, HandshakeError> {
        let (&tag, sig) = message.split_first().ok_or(HandshakeError::Malformed)?;
        if tag != TAG_AUTH {
            return Err(HandshakeError::Malformed);
        }
        let sig = signature(sig)?;
        let digest = self.transcript(peer, self.me, &peer_nonce, &self.nonce, ROLE_DIALER);
        self.identity(peer.0)?.verify(&digest, &sig).map_err(|_| HandshakeError::BadSignature)?;
        Ok(HandshakeStep::Established { peer, reply: None })
    }

    /// The checks both `Hello` and `HelloAuth` pass: version, group, addressee.
    fn check_common(&self, hello: &Hello) -> Result<(), HandshakeError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(HandshakeError::WrongVersion { ours: PROTOCOL_VERSION, theirs: hello.version });
        }
        if hello.group_id != self.group_id {
            return Err(HandshakeError::WrongGroup);
        }
        if hello.to != self.me.0 {
            return Err(HandshakeError::NotForMe { to: hello.to });
        }
        Ok(())
    }

    fn hello(&self, to: MemberIndex) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            group_id: self.group_id,
            from: self.me.0,
            to: to.0,
            nonce: self.nonce,
        }
    }

    fn identity(&self, index: u8) -> Result<&IdentityPublicKey, HandshakeError> {
        self.identities.get(usize::from(index)).ok_or(HandshakeError::UnknownMember(index))
    }

    /// The digest each side signs (see the module documentation); `role` is [`ROLE_DIALER`] for the
    /// dialer's signature and [`ROLE_LISTENER`] for the listener's.
    fn transcript(
        &self,
        dialer: MemberIndex,
        listener: MemberIndex,
        dialer_nonce: &[u8; NONCE_BYTES],
        listener_nonce: &[u8; NONCE_BYTES],
        role: u8,
    ) -> [u8; 32] {
        DomainHasher::new(Domain::Handshake)
            .update(&[PROTOCOL_VERSION])
            .update(&self.group_id.0)
            .update(&[dialer.0, listener.0])
            .update(dialer_nonce)
            .update(listener_nonce)
            .update(&[role])
            .finalize()
    }
}
