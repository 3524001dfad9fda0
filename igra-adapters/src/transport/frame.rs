//! Length-delimited framing: every frame on a transport connection is a 4-byte big-endian length
//! followed by that many payload bytes.
//!
//! [`FrameDecoder`] is sans-IO: push whatever bytes a read returned, then take complete frames with
//! [`FrameDecoder::next`]. It reads a frame's length before anything else and refuses a length above its
//! limit before allocating a byte for the payload, so a peer cannot make it reserve memory by announcing
//! a huge frame.

use std::fmt;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// A frame broke the framing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The frame's length is above the limit.
    TooLarge {
        /// The length the frame announced (or had, when encoding).
        len: u64,
        /// The largest length accepted.
        max: u32,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => write!(f, "frame of {len} bytes is above the limit of {max}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Encodes `payload` as one frame: its length as 4 bytes big-endian, then the payload.
pub fn encode_frame(payload: &[u8], max: u32) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(LENGTH_PREFIX_BYTES + payload.len());
    encode_frame_into(&mut out, payload, max)?;
    Ok(out)
}

/// [`encode_frame`], appending to `out` (several frames can then go out in one write). On error `out`
/// is unchanged.
pub fn encode_frame_into(out: &mut Vec<u8>, payload: &[u8], max: u32) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= max)
        .ok_or(FrameError::TooLarge { len: payload.len() as u64, max })?;
    out.reserve(LENGTH_PREFIX_BYTES + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// An incremental decoder of length-delimited frames.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Bytes received and not yet returned; the unread part starts at `start`.
    buf: Vec<u8>,
    start: usize,
    max: u32,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` bytes.
    pub fn new(max: u32) -> Self {
        Self { buf: Vec::new(), start: 0, max }
    }

    /// The largest frame length accepted.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Changes the largest frame length accepted from the next frame on (the transport raises it once
    /// the handshake is done; bytes already pushed are kept).
    pub fn set_max(&mut self, max: u32) {
        self.max = max;
    }

    /// Bytes pushed and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's payload, `None` if more bytes are needed, or an error if the next
    /// frame's length is above the limit (the connection cannot be resynchronised after that: drop it).
    #[allow(clippy::should_implement_trait, reason = "fallible: an iterator could not report `TooLarge`")]
    pub fn next(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let unread = self.buf.get(self.start..).unwrap_or_default();
        let Some((prefix, rest)) = unread.split_first_chunk::<LENGTH_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix);
        if len > self.max {
            return Err(FrameError::TooLarge { len: u64::from(len), max: self.max });
        }
        // `len <= max <= u32::MAX` fits a usize on every platform this crate builds for.
        let len =
            usize::try_from(len).map_err(|_| FrameError::TooLarge { len: u64::from(len), max: self.max })?;
        let Some(payload) = rest.get(..len) else {
            return Ok(None);
        };
        let frame = payload.to_vec();
        self.start += LENGTH_PREFIX_BYTES + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }
}
