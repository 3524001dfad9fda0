//! Hyperlane events: the message format, the origin's message tree, and what validators sign.

pub mod checkpoint;
pub mod merkle;
pub mod message;
