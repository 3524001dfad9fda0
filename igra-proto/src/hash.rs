//! Domain-separated hashing.
//!
//! Every hash the protocol signs or compares is BLAKE3 in key-derivation mode with a context string
//! from [`Domain`], so that bytes hashed for one purpose can never be mistaken for another purpose's
//! (a vote digest is never an envelope digest, whatever the bytes). The context strings are part of the
//! wire protocol: changing one is a protocol version change.

/// The purposes the protocol hashes for. Each maps to a fixed, globally unique BLAKE3 context string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// The group identity: see `GroupConfig::group_id`.
    GroupId,
    /// The bytes an envelope signature covers.
    Envelope,
    /// The bytes a vote signature covers.
    Vote,
    /// A transaction template's identity.
    Template,
    /// The seed of the order in which the template builder considers UTXOs, per event, epoch and round.
    InputOrder,
    /// A UTXO's own order key, computed once per snapshot; the builder orders by its XOR with the seed.
    OutputKey,
    /// An event's identity.
    EventId,
    /// What operators sign to approve an event.
    OperatorApproval,
    /// A node's BIP340 auxiliary randomness, derived from its seed.
    AuxRandomness,
    /// The transcript a member signs to prove its index when opening a transport connection.
    Handshake,
}

impl Domain {
    /// The BLAKE3 `derive_key` context string of this domain.
    pub const fn context(self) -> &'static str {
        match self {
            Self::GroupId => "igra 2026-11 group id v1",
            Self::Envelope => "igra 2026-11 envelope v1",
            Self::Vote => "igra 2026-11 vote v1",
            Self::Template => "igra 2026-11 template v1",
            Self::InputOrder => "igra 2026-11 input order v2",
            Self::OutputKey => "igra 2026-11 output key v1",
            Self::EventId => "igra 2026-11 event id v1",
            Self::OperatorApproval => "igra 2026-11 operator approval v1",
            Self::AuxRandomness => "igra 2026-11 aux randomness v1",
            Self::Handshake => "igra 2026-11 handshake v1",
        }
    }
}

/// A hasher for one domain: feed it the fields in their documented order, then [`finalize`](Self::finalize).
#[derive(Clone)]
pub struct DomainHasher(blake3::Hasher);

impl DomainHasher {
    /// Starts a hash in `domain`.
    pub fn new(domain: Domain) -> Self {
        Self(blake3::Hasher::new_derive_key(domain.context()))
    }

    /// Absorbs `bytes`.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// The 32-byte digest.
    pub fn finalize(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The digest of `bytes` in `domain`.
pub fn domain_hash(domain: Domain, bytes: &[u8]) -> [u8; 32] {
    DomainHasher::new(domain).update(bytes).finalize()
}

/// Formats bytes as lowercase hex (for `Debug` and `Display` of ids and keys).
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_identical_bytes() {
        let bytes = b"same bytes";
        let a = domain_hash(Domain::Envelope, bytes);
        let b = domain_hash(Domain::Vote, bytes);
        let c = domain_hash(Domain::GroupId, bytes);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
        assert_eq!(a, domain_hash(Domain::Envelope, bytes));
    }

    #[test]
    fn context_strings_are_distinct() {
        let all = [
            Domain::GroupId,
            Domain::Envelope,
            Domain::Vote,
            Domain::Template,
            Domain::InputOrder,
            Domain::OutputKey,
            Domain::EventId,
            Domain::OperatorApproval,
            Domain::AuxRandomness,
            Domain::Handshake,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.context().starts_with("igra 2026-11 "));
            for b in &all[i + 1..] {
                assert_ne!(a.context(), b.context(), "{a:?} and {b:?} share a context");
            }
        }
        assert_eq!(Domain::Handshake.context(), "igra 2026-11 handshake v1");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = DomainHasher::new(Domain::Vote);
        h.update(b"ab").update(b"cd");
        assert_eq!(h.finalize(), domain_hash(Domain::Vote, b"abcd"));
    }
}
