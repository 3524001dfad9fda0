//! TCP transport between group members, for tokio and for smol.
//!
//! Every pair of members shares one TCP connection, dialed by the member with the lower index. A new
//! connection first runs the [`handshake`], which proves both ends' member indices with their identity
//! keys; after it the connection carries [`frame`]s, each the bytes of one envelope (frames are
//! authenticated by the envelope inside them, so the transport only proves who is at the other end).
//!
//! All the logic (framing, handshake, queues, reconnection, accounting) is runtime-neutral and lives in
//! this module and its private engine; [`tokio`](mod@self::tokio) and [`smol`](mod@self::smol) only bind
//! the listener and provide sockets, timers and task spawning. Both `spawn` functions return a
//! [`TransportHandle`] with the same behaviour.
//!
//! # Queues and loss
//!
//! Each peer has a bounded send queue of [`TransportConfig::queue_len`] frames. [`TransportHandle::send`]
//! never blocks: a frame for a peer whose queue is full is dropped and counted in
//! [`TransportStats::dropped`]. Frames queued while a peer is disconnected stay queued (up to the bound)
//! and are sent when it reconnects; a frame that was being written when a connection broke is lost. The
//! protocol tolerates loss: anti-entropy resends what a peer is missing.
//!
//! Received frames go to one bounded channel ([`INCOMING_QUEUE_LEN`]); when the embedder falls behind,
//! the connections stop reading, and TCP pushes back on the senders.
//!
//! # Connections
//!
//! A connection that sends garbage, an oversized frame, or fails the handshake (or does not finish it
//! within [`TransportConfig::handshake_timeout`]) is closed and counted in
//! [`TransportStats::rejected`] or [`TransportStats::disconnects`]; other connections are unaffected.
//! When a connection drops, the dialer redials with [`backoff`]; the listener waits for the redial.
//! A newly authenticated connection from a peer replaces the one it already had (the peer restarted, or
//! the old connection is dead and not yet noticed); the old one is counted as
//! [`DisconnectReason::Replaced`].

pub mod backoff;
mod engine;
pub mod frame;
pub mod handshake;
pub mod smol;
pub mod tokio;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use igra_proto::node::Destination;
use igra_proto::{Group, MemberIndex, Signer};

pub use backoff::Backoff;
pub use frame::{FrameDecoder, FrameError};
pub use handshake::{Handshake, HandshakeError, HandshakeStep};

use engine::Shared;

/// Default bound of each peer's send queue, in frames.
pub const DEFAULT_QUEUE_LEN: usize = 1024;

/// Bound of the channel of received frames, in frames.
pub const INCOMING_QUEUE_LEN: usize = 4096;

/// Most inbound connections that may be in their handshake at once; more are refused at once.
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// Default time a connection has to finish its handshake (dialing included).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a transport needs to run.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// This member.
    pub me: MemberIndex,
    /// Where to accept connections from lower-index members.
    pub listen: SocketAddr,
    /// The other members and where they listen. This member dials the ones with a higher index and
    /// accepts connections only from the ones listed (the addresses of lower-index peers are not used:
    /// they dial this member).
    pub peers: Vec<(MemberIndex, SocketAddr)>,
    /// The group.
    pub group: Group,
    /// Largest frame sent or accepted, in bytes; at most the group's `max_message_bytes`.
    pub max_frame: u32,
    /// Bound of each peer's send queue, in frames.
    pub queue_len: usize,
    /// Redial backoff.
    pub backoff: Backoff,
    /// Time a connection has to finish its handshake.
    pub handshake_timeout: Duration,
}

impl TransportConfig {
    /// A configuration with the defaults: frames up to the group's `max_message_bytes`,
    /// [`DEFAULT_QUEUE_LEN`], [`Backoff::default`] and [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(
        me: MemberIndex,
        listen: SocketAddr,
        peers: Vec<(MemberIndex, SocketAddr)>,
        group: Group,
    ) -> Self {
        Self {
            me,
            listen,
            peers,
            max_frame: group.limits().max_message_bytes,
            group,
            queue_len: DEFAULT_QUEUE_LEN,
            backoff: Backoff::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Checks the configuration against the group and the signer.
    pub fn validate(&self, signer: &dyn Signer) -> Result<(), TransportError> {
        let me = self.group.member(self.me).ok_or(TransportError::NotAMember(self.me))?;
        if me.identity != signer.identity_public_key() {
            return Err(TransportError::KeyMismatch);
        }
        let mut seen = BTreeMap::new();
        for &(peer, addr) in &self.peers {
            if peer == self.me {
                return Err(TransportError::PeerIsMe);
            }
            if self.group.member(peer).is_none() {
                return Err(TransportError::UnknownPeer(peer));
            }
            if seen.insert(peer, addr).is_some() {
                return Err(TransportError::DuplicatePeer(peer));
            }
        }
        let limit = self.group.limits().max_message_bytes;
        if self.max_frame == 0 || self.max_frame > limit {
            return Err(TransportError::FrameLimit { max_frame: self.max_frame, limit });
        }
        if self.queue_len == 0 {
            return Err(TransportError::ZeroQueue);
        }
        Ok(())
    }
}

/// Why a transport could not start.
#[derive(Debug)]
pub enum TransportError {
    /// `me` is not a member of the group.
    NotAMember(MemberIndex),
    /// The signer's identity key is not `me`'s identity key in the group.
    KeyMismatch,
    /// A peer is not a member of the group.
    UnknownPeer(MemberIndex),
    /// This member is listed among its own peers.
    PeerIsMe,
    /// A peer is listed twice.
    DuplicatePeer(MemberIndex),
    /// `max_frame` is zero or above the group's `max_message_bytes`.
    FrameLimit {
        /// The configured frame limit.
        max_frame: u32,
        /// The group's `max_message_bytes`.
        limit: u32,
    },
    /// `queue_len` is zero.
    ZeroQueue,
    /// The listener could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// The tokio transport was started outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAMember(me) => write!(f, "{me} is not in the group"),
            Self::KeyMismatch => {
                f.write_str("the signer's identity key is not this member's key in the group")
            }
            Self::UnknownPeer(peer) => write!(f, "peer {peer} is not in the group"),
            Self::PeerIsMe => f.write_str("this member is listed as its own peer"),
            Self::DuplicatePeer(peer) => write!(f, "peer {peer} is listed twice"),
            Self::FrameLimit { max_frame, limit } => {
                write!(f, "frame limit {max_frame} is zero or above the group's limit of {limit} bytes")
            }
            Self::ZeroQueue => f.write_str("the send queue length is zero"),
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::NoRuntime => f.write_str("the tokio transport must be started inside a tokio runtime"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a connection was refused before or during its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// A handshake message was malformed.
    Malformed,
    /// The peer speaks another protocol version.
    WrongVersion,
    /// The peer belongs to another group.
    WrongGroup,
    /// The peer claimed an index outside the group.
    UnknownMember,
    /// The handshake was addressed to another member.
    NotForMe,
    /// A higher index dialed a lower one (or a member dialed itself).
    WrongDirection,
    /// A different member answered than the one dialed.
    WrongPeer,
    /// The peer's handshake signature did not verify.
    BadSignature,
    /// Our signer could not sign the handshake.
    Signer,
    /// A handshake message arrived out of order.
    OutOfOrder,
    /// A handshake message was longer than the handshake limit.
    TooLarge,
    /// The handshake did not finish in time.
    Timeout,
    /// The peer closed the connection during the handshake.
    Closed,
    /// An I/O error during the handshake.
    Io,
    /// The peer is a group member but not one of the configured peers.
    NotAPeer,
    /// Too many inbound connections were in their handshake already.
    TooManyPending,
    /// No randomness for the handshake nonce.
    Entropy,
}

impl From<HandshakeError> for RejectReason {
    fn from(error: HandshakeError) -> Self {
        match error {
            HandshakeError::Malformed => Self::Malformed,
            HandshakeError::WrongVersion { .. } => Self::WrongVersion,
            HandshakeError::WrongGroup => Self::WrongGroup,
            HandshakeError::UnknownMember(_) => Self::UnknownMember,
            HandshakeError::NotForMe { .. } => Self::NotForMe,
            HandshakeError::WrongDirection { .. } => Self::WrongDirection,
            HandshakeError::WrongPeer { .. } => Self::WrongPeer,
            HandshakeError::BadSignature => Self::BadSignature,
            HandshakeError::Signer(_) => Self::Signer,
            HandshakeError::OutOfOrder => Self::OutOfOrder,
        }
    }
}

/// Why an established connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DisconnectReason {
    /// The peer closed the connection.
    Closed,
    /// A read or write failed.
    Io,
    /// The peer announced a frame above the frame limit.
    TooLarge,
    /// A newer authenticated connection from the same peer replaced it.
    Replaced,
    /// The transport shut down.
    Shutdown,
}

/// Counters of a running transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// The peers with an established connection now, ascending.
    pub connected: Vec<MemberIndex>,
    /// Frames written to connections.
    pub frames_sent: u64,
    /// Frames read from connections.
    pub frames_received: u64,
    /// Frames dropped per peer: its queue was full, the frame was above the frame limit, or the
    /// transport had shut down.
    pub dropped: BTreeMap<MemberIndex, u64>,
    /// Frames addressed to a member that is not a configured peer.
    pub unroutable: u64,
    /// Connections refused before or during the handshake, by reason (both directions).
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Established connections that ended, by reason.
    pub disconnects: BTreeMap<DisconnectReason, u64>,
    /// Dial attempts whose TCP connect failed.
    pub dial_failures: u64,
}

/// A running transport: send frames, receive frames, read counters, shut down.
///
/// Clones share the transport. When the last clone is dropped the transport stops (without waiting);
/// call [`shutdown`](Self::shutdown) to stop it and wait until its sockets are closed.
#[derive(Clone)]
pub struct TransportHandle {
    shared: Arc<Shared>,
    stop: Arc<engine::StopOnDrop>,
    done: async_channel::Receiver<()>,
    local_addr: SocketAddr,
}

impl fmt::Debug for TransportHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportHandle")
            .field("me", &self.shared.me())
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl TransportHandle {
    /// Queues `frame` for `to` (every peer for [`Destination::All`]) without blocking. A frame that
    /// does not fit a peer's queue, or is above the frame limit, is dropped and counted.
    pub fn send(&self, to: Destination, frame: Vec<u8>) {
        self.shared.send(to, frame);
    }

    /// The frames received, with the member each came from. Closed after [`shutdown`](Self::shutdown).
    pub fn incoming(&self) -> async_channel::Receiver<(MemberIndex, Vec<u8>)> {
        self.shared.incoming()
    }

    /// The counters now.
    pub fn stats(&self) -> TransportStats {
        self.shared.stats()
    }

    /// The address the listener is bound to (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the transport and waits until every task has ended and every socket is closed, so that
    /// the listening port can be bound again.
    pub async fn shutdown(&self) {
        self.stop.stop();
        self.shared.release_tasks();
        // Every task holds a sender of `done`; `recv` fails once the last one has ended.
        let _ = self.done.recv().await;
        self.shared.close_incoming();
    }
}
