//! The wire format: message bodies, their bounds, and how they are framed and versioned.
//!
//! Every message travels as one envelope frame (see [`crate::envelope`] for the signature):
//!
//! ```text
//! version (1 byte) ‖ header (postcard) ‖ kind (1 byte) ‖ body (postcard) ‖ signature (64 bytes)
//! ```
//!
//! * **Version** is the first byte so that a receiver can refuse a frame it does not understand before
//!   reading anything else. It changes whenever the meaning or layout of an existing kind changes.
//! * **Kind** names the body type ([`MessageKind`]). New kinds may be added without a version change:
//!   an older receiver refuses them as [`DecodeError::UnknownKind`] and carries on.
//! * **Bodies** are postcard-encoded structs; every variable-length field is a [`BoundedVec`] or
//!   [`BoundedBytes`] whose bound is a named constant in this module, refused while decoding before
//!   anything is allocated. A body must use up its bytes exactly: trailing bytes are an error.

pub mod array;
mod bounded;
mod message;

pub use bounded::{BoundedBytes, BoundedVec, CapacityError};
pub use message::*;

use alloc::vec::Vec;
use core::fmt;

/// The wire protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// The largest frame any build accepts, in bytes: room for a full signature set of a maximal template
/// (`MAX_SIGNATURES_PER_MESSAGE` signatures of 68 bytes each) with headroom. Groups may set a lower
/// limit in [`Limits`](crate::group::Limits).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Why bytes could not be decoded into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is larger than the limit.
    Oversized {
        /// Bytes received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes end before the message does.
    Truncated,
    /// The frame's version byte is not one this build speaks.
    UnsupportedVersion(u8),
    /// The kind byte names no message this build knows.
    UnknownKind(u8),
    /// A length is above its named bound, or a value is out of its range (an unknown enum variant).
    OutOfBounds,
    /// The bytes are not a valid encoding (a bad varint, bool or option tag).
    Malformed,
    /// Bytes remain after the message.
    TrailingBytes,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oversized { len, limit } => write!(f, "{len} bytes exceed the {limit}-byte limit"),
            Self::Truncated => f.write_str("message is truncated"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            Self::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            Self::OutOfBounds => f.write_str("a length or value is out of bounds"),
            Self::Malformed => f.write_str("malformed encoding"),
            Self::TrailingBytes => f.write_str("trailing bytes after the message"),
        }
    }
}

impl core::error::Error for DecodeError {}

impl From<postcard::Error> for DecodeError {
    fn from(e: postcard::Error) -> Self {
        match e {
            postcard::Error::DeserializeUnexpectedEnd => Self::Truncated,
            postcard::Error::SerdeDeCustom => Self::OutOfBounds,
            _ => Self::Malformed,
        }
    }
}

/// Decodes one `T` from `bytes`, which it must use up exactly.
pub fn decode_exact<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(bytes)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(value)
}

/// Appends the postcard encoding of `value` to `out`.
///
/// Encoding into a vector fails only if a type's `Serialize` does; the protocol's types never do.
pub fn encode_into<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let buffer = core::mem::take(out);
    *out = postcard::to_extend(value, buffer)?;
    Ok(())
}
