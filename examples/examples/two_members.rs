//! Two members of a 2-of-3 group exchange authenticated messages through igra-proto's own codec.
//!
//! Run it with `cargo run -p igra-examples --example two_members`. It derives each member's keys from a
//! BIP39 mnemonic, validates the group, has member 0 seal a signed vote and member 1 open it through the
//! receive pipeline, bundles two votes into a quorum certificate that anyone can check, and shows the
//! gate refusing a tampered frame, a replay and a stranger.

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use igra_proto::wire::VoteMessage;
use igra_proto::{
    Body, EventId, Gate, GroupConfig, Instant, Limits, LocalSigner, Member, MemberIndex, Network,
    QuorumCertificate, RejectReason, Sealer, SignedVote, Signer, TemplateHash, UnixMs, Vote,
};

/// Public BIP39 test mnemonics (from the BIP39 reference vectors): never use them for real funds.
const MNEMONICS: [&str; 3] = [
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
];

fn main() -> Result<(), Box<dyn Error>> {
    // The adapters own the clock; the core only ever receives time as a value.
    #[allow(clippy::disallowed_methods)]
    let wall = UnixMs(u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?);

    let signers = MNEMONICS.map(|phrase| LocalSigner::from_mnemonic(phrase, ""));
    let [a, b, c] = signers;
    let signers = [a?, b?, c?];
    let members = signers
        .iter()
        .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
        .collect();
    let group = GroupConfig {
        members,
        threshold: 2,
        network: Network::Simnet,
        policy_version: 1,
        limits: Limits::default(),
    }
    .validate()?;
    println!("group {} : {}-of-{} on {:?}", group.id(), group.threshold(), group.size(), group.network());
    for (i, m) in group.members().iter().enumerate() {
        println!("  member {i}: identity {:?}", m.identity);
    }

    // Member 0 votes for a template and sends the vote to member 1.
    let vote =
        Vote { event_id: EventId([0xe1; 32]), epoch: 0, round: 0, template_hash: TemplateHash([0x7e; 32]) };
    let vote0 = SignedVote::sign(vote, MemberIndex(0), group.id(), &signers[0])?;
    let body = Body::Vote(VoteMessage { vote: vote0, lock: None, template: None, event: None });
    let mut sealer = Sealer::new(&group, MemberIndex(0), 1);
    let frame = sealer.seal(&signers[0], wall, &body)?;
    println!("member 0 sealed a {:?} message: {} bytes on the wire", body.kind(), frame.len());

    let mut gate = Gate::new(&group, MemberIndex(1));
    let envelope = gate.open(Instant(0), UnixMs(wall.0 + 40), &frame)?;
    let Body::Vote(received) = envelope.body else { return Err("expected a vote".into()) };
    received.vote.verify(&group)?;
    println!(
        "member 1 accepted it from {} (epoch {}, seq {}); the vote inside verifies on its own",
        envelope.header.sender, envelope.header.boot_epoch, envelope.header.seq
    );

    // Member 1 votes the same template: two votes are a quorum certificate anyone can verify.
    let vote1 = SignedVote::sign(vote, MemberIndex(1), group.id(), &signers[1])?;
    let qc = QuorumCertificate::from_votes(&[received.vote, vote1])?;
    qc.verify(&group)?;
    println!("quorum certificate for round {} with {} votes verifies", qc.vote.round, qc.signatures.len());

    // What the gate refuses.
    let mut tampered = frame.clone();
    tampered[20] ^= 0x01;
    let replay = gate.open(Instant(1), UnixMs(wall.0 + 50), &frame);
    let forged = gate.open(Instant(2), UnixMs(wall.0 + 60), &tampered);
    let stranger = LocalSigner::from_secrets([0x55; 32], [0x55; 32])?;
    let fake = Sealer::new(&group, MemberIndex(2), 1).seal(&stranger, wall, &body)?;
    let impersonation = gate.open(Instant(3), UnixMs(wall.0 + 70), &fake);
    for (what, result) in
        [("replayed frame", replay), ("tampered frame", forged), ("impersonation", impersonation)]
    {
        match result {
            Ok(_) => return Err(format!("the gate accepted a {what}").into()),
            Err(rejection) => println!("refused {what}: {rejection}"),
        }
    }
    let counters = gate.counters();
    println!("gate counters: accepted {}, rejected {}", counters.accepted(), counters.rejected_total());
    for reason in RejectReason::ALL {
        let n = counters.rejected(reason);
        if n > 0 {
            println!("  {}: {n}", reason.name());
        }
    }
    Ok(())
}
