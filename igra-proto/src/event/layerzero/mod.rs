//! LayerZero v2 events: the packet format, the group's DVN configuration, and what DVN signers sign.

pub mod config;
pub mod dvn;
pub mod packet;
