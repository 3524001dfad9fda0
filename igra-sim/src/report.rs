//! What a run reports: its outcome, its cost, and the hash of everything that happened.

use core::fmt;
use core::fmt::Write as _;
use std::collections::BTreeMap;

use crate::swarm::Swarm;

/// A broken invariant: the first one ends the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which guarantee (`S1`, `S2`, `S3`, `S5`, `L1`).
    pub invariant: &'static str,
    /// The step after which it was found.
    pub step: u64,
    /// What exactly broke.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} broken at step {}: {}", self.invariant, self.step, self.detail)
    }
}

/// Per-event results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReport {
    /// Whether a transaction paying it was accepted and every node saw it confirmed.
    pub completed: bool,
    /// The highest round any node reached, plus one.
    pub rounds: u32,
    /// The highest epoch any node reached.
    pub epoch: u32,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// What the seed chose.
    pub swarm: Swarm,
    /// The first broken invariant, if any.
    pub violation: Option<Violation>,
    /// Steps executed.
    pub steps: u64,
    /// Simulated time at the end, in ms.
    pub simulated_ms: u64,
    /// When the liveness phase began.
    pub liveness_from_ms: u64,
    /// Per event.
    pub events: Vec<EventReport>,
    /// Frames delivered to a node.
    pub frames_delivered: u64,
    /// Bytes of frames sent (one count per receiver).
    pub bytes_sent: u64,
    /// Frames sent (one count per receiver).
    pub frames_sent: u64,
    /// Frames lost and duplicated by the network.
    pub frames_dropped: u64,
    /// Frames delivered twice.
    pub frames_duplicated: u64,
    /// Crashes that happened.
    pub crashes: u64,
    /// Transactions the ledger accepted and submissions it refused.
    pub accepted_transactions: u64,
    /// Submissions the ledger refused.
    pub rejected_submissions: u64,
    /// Accepted transactions that reorgs orphaned.
    pub orphaned_transactions: u64,
    /// Records of torn batches that survived crashes.
    pub torn_records: u64,
    /// UTXO snapshots that diverged from the ledger.
    pub diverging_views: u64,
    /// BLAKE3 over every delivered frame, input and output, in order.
    pub trace_hash: [u8; 32],
    /// Frames and bytes honest nodes sent, by message kind (one count per receiver).
    pub by_kind: BTreeMap<String, (u64, u64)>,
    /// Byzantine members planted.
    pub byzantine: usize,
    /// Frames the Byzantine members sent, by attack.
    pub attacks: BTreeMap<&'static str, u64>,
    /// Honest nodes' misbehaviour counts, by kind (summed over nodes, across their crashes).
    pub misbehaviour: BTreeMap<&'static str, u64>,
    /// Frames honest nodes' gates refused (replays, rate limits, bad seals), summed.
    pub gate_rejections: u64,
}

impl Report {
    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }

    /// Events that completed.
    pub fn completed(&self) -> usize {
        self.events.iter().filter(|e| e.completed).count()
    }

    /// The command that runs this seed again.
    pub fn reproduce_command(&self) -> String {
        format!("cargo run -p igra-sim --release -- run --seed {}", self.seed)
    }

    /// The trace hash in hex.
    pub fn trace_hex(&self) -> String {
        self.trace_hash.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let events = u64::try_from(self.events.len()).unwrap_or(1).max(1);
        let rounds: Vec<u32> = self.events.iter().map(|e| e.rounds).collect();
        writeln!(f, "seed           {}", self.seed)?;
        writeln!(f, "{}", self.swarm)?;
        writeln!(f, "outcome        {}", if self.passed() { "PASSED" } else { "FAILED" })?;
        writeln!(f, "events done    {}/{}", self.completed(), self.events.len())?;
        writeln!(f, "rounds used    {rounds:?}")?;
        writeln!(
            f,
            "messages       {} sent ({} per event), {} bytes ({} per event), {} delivered, {} dropped, {} duplicated",
            self.frames_sent,
            self.frames_sent / events,
            self.bytes_sent,
            self.bytes_sent / events,
            self.frames_delivered,
            self.frames_dropped,
            self.frames_duplicated
        )?;
        for (kind, (frames, bytes)) in &self.by_kind {
            writeln!(
                f,
                "  {kind:<14} {} frames ({} per event), {bytes} bytes ({} per event)",
                frames,
                frames / events,
                bytes / events
            )?;
        }
        if self.byzantine > 0 {
            let list = |m: &BTreeMap<&'static str, u64>| {
                m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            };
            writeln!(
                f,
                "byzantine      {} members; frames by attack: {}",
                self.byzantine,
                list(&self.attacks)
            )?;
            writeln!(
                f,
                "refused        misbehaviour: {}; gate: {}",
                list(&self.misbehaviour),
                self.gate_rejections
            )?;
        }
        writeln!(
            f,
            "ledger         {} accepted, {} submissions refused, {} orphaned by reorgs",
            self.accepted_transactions, self.rejected_submissions, self.orphaned_transactions
        )?;
        writeln!(
            f,
            "faults seen    {} crashes, {} torn records kept, {} diverging views",
            self.crashes, self.torn_records, self.diverging_views
        )?;
        writeln!(
            f,
            "simulated      {} ms ({} steps; liveness phase from {} ms)",
            self.simulated_ms, self.steps, self.liveness_from_ms
        )?;
        write!(f, "trace hash     {}", self.trace_hex())?;
        if let Some(v) = &self.violation {
            write!(
                f,
                "\nVIOLATION      {v}\nseed           {}\nreproduce with {}",
                self.seed,
                self.reproduce_command()
            )?;
        }
        Ok(())
    }
}
