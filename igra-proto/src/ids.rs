//! The 32-byte identifiers the protocol passes around.
//!
//! Each is a distinct type so that an event id can never be used where a template hash is meant. How
//! each one is derived belongs to the layer that owns the concept: [`EventId`] to the event layer,
//! [`TemplateHash`] to the transaction template, [`TransactionId`] to the chain's transaction format.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::Hex;

macro_rules! id32 {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), Hex(&self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&Hex(&self.0), f)
            }
        }
    )*};
}

id32! {
    /// The identity of a signer group: a domain-separated hash of its safety-relevant configuration.
    GroupId,
    /// The identity of an event: a domain-separated hash of its source, external id and payment.
    EventId,
    /// The identity of a transaction template: a domain-separated hash of the unsigned transaction and
    /// every input's UTXO entry.
    TemplateHash,
    /// A chain transaction id.
    TransactionId,
}
