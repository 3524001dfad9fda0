//! Shared pieces of the integration tests.

pub(crate) mod kaspad;
