//! The fixed world the fuzz targets run in, shared with the corpus generator so that the seed frames
//! it seals pass every check of the `frame` target's gate: a valid 3-of-5 group from fixed seeds, the
//! receiving member, and the two clocks the gate is opened at.

use std::sync::LazyLock;

use igra_proto::{
    Gate, Group, GroupConfig, Instant, Limits, LocalSigner, Member, MemberIndex, Network, Signer, UnixMs,
};

/// Members in the group.
pub const MEMBERS: u8 = 5;
/// Signatures needed.
pub const THRESHOLD: u8 = 3;
/// The member whose gate the `frame` target feeds.
pub const RECEIVER: MemberIndex = MemberIndex(1);
/// The monotonic time the gate is opened at.
pub const NOW: Instant = Instant(1_000);
/// The wall-clock time the gate is opened at; seed frames are sealed at this time so they are fresh.
pub const WALL: UnixMs = UnixMs(1_700_000_000_000);

/// Member `i`'s signer, from fixed seeds (`[i + 1; 32]` for both keys).
///
/// # Panics
///
/// If `i + 1` overflows or the seed is not a valid secp256k1 secret; neither happens for members 0 to 4.
pub fn signer(i: u8) -> LocalSigner {
    LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).expect("fixed seeds are valid secrets")
}

/// The 3-of-5 group of [`signer`]s 0 to 4, validated once.
pub fn group() -> &'static Group {
    static GROUP: LazyLock<Group> = LazyLock::new(|| {
        let members = (0..MEMBERS)
            .map(|i| {
                let s = signer(i);
                Member { identity: s.identity_public_key(), signing: s.signing_public_key() }
            })
            .collect();
        GroupConfig {
            members,
            threshold: THRESHOLD,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .expect("the fixed group is valid")
    });
    &GROUP
}

/// A fresh gate of [`RECEIVER`], with no per-sender state yet.
pub fn gate() -> Gate {
    Gate::new(group(), RECEIVER)
}
