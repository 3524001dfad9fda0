//! Prometheus metrics of a node, served as text on `GET /metrics`.
//!
//! The runner feeds [`Metrics`] what happens ([`Metrics::on_update`] for every `EventUpdate`,
//! [`Metrics::frame_in`] / [`Metrics::frame_out`], [`Metrics::rejected`], [`Metrics::peers_connected`],
//! [`Metrics::persist`]); the API counts submissions itself. Label values are `&'static str` chosen by
//! the code (phase names, refusal reasons, message kinds), never ids, so the number of series is bounded.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `igra_events` | gauge: events this process tracks, by phase | `phase` |
//! | `igra_events_submitted_total` | counter: events posted to the API | |
//! | `igra_events_accepted_total` | counter: events that entered the protocol | |
//! | `igra_events_refused_total` | counter | `reason` (attestation, policy, busy, too_large) |
//! | `igra_event_rounds` | histogram: rounds an event took to its certificate (round + 1) | |
//! | `igra_event_finalize_seconds` | histogram: accepted → finalized | |
//! | `igra_event_confirm_seconds` | histogram: accepted → confirmed | |
//! | `igra_frames_in_total`, `igra_frames_out_total` | counter | `kind` |
//! | `igra_frame_bytes_in_total`, `igra_frame_bytes_out_total` | counter | `kind` |
//! | `igra_rejections_total` | counter: frames or requests turned away | `reason` |
//! | `igra_peers_connected` | gauge | |
//! | `igra_persist_seconds` | histogram: one batch's write | |
//! | `igra_persist_batch_records` | histogram: records per batch | |

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use igra_proto::node::{EventRefusal, EventUpdate};
use igra_proto::{EventId, MessageKind, RejectReason};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::StateFilter;

/// Events whose phase and start time are remembered for the gauges and latencies; beyond it the oldest
/// is forgotten (and leaves the phase gauge).
pub const MAX_TRACKED_EVENTS: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    phase: StateFilter,
    accepted_at: Instant,
    /// The round of the latest certificate seen.
    certified_round: Option<u32>,
}

#[derive(Debug, Default)]
struct Tracker {
    events: BTreeMap<EventId, Tracked>,
    order: VecDeque<EventId>,
}

/// The node's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    events: Family<PhaseLabel, Gauge>,
    submitted: Counter,
    accepted: Counter,
    refused: Family<ReasonLabel, Counter>,
    rounds: Histogram,
    finalize_seconds: Histogram,
    confirm_seconds: Histogram,
    frames_in: Family<KindLabel, Counter>,
    frames_out: Family<KindLabel, Counter>,
    bytes_in: Family<KindLabel, Counter>,
    bytes_out: Family<KindLabel, Counter>,
    rejections: Family<ReasonLabel, Counter>,
    peers: Gauge,
    persist_seconds: Histogram,
    persist_records: Histogram,
    /// Every byte sent, all kinds together (for benchmarks; the families carry the same by kind).
    bytes_out_total: std::sync::atomic::AtomicU64,
    tracker: Mutex<Tracker>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Every refusal reason label, present from the start at zero.
pub const REFUSAL_REASONS: [&str; 4] = ["attestation", "policy", "busy", "too_large"];
/// The rejection reasons the API itself counts (beside the gate's [`RejectReason::name`]s).
pub const API_REJECTIONS: [&str; 3] = ["api_rate_limited", "api_unauthorized", "api_overloaded"];

/// The `kind` label of a message kind, as [`Metrics::frame_in`] and [`Metrics::frame_out`] expect it.
pub const fn message_kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Event => "event",
        MessageKind::Vote => "vote",
        MessageKind::Certificate => "certificate",
        MessageKind::Signatures => "signatures",
        MessageKind::Digest => "digest",
        MessageKind::Request => "request",
        MessageKind::Completion => "completion",
        MessageKind::Template => "template",
    }
}

/// The label of a refusal reason (one of [`REFUSAL_REASONS`]).
pub const fn refusal_reason(refusal: &EventRefusal) -> &'static str {
    match refusal {
        EventRefusal::Attestation(_) => "attestation",
        EventRefusal::Policy(_) => "policy",
        EventRefusal::Busy => "busy",
        EventRefusal::TooLarge => "too_large",
    }
}

impl Metrics {
    /// Every metric, registered and at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let events = Family::<PhaseLabel, Gauge>::default();
        registry.register("igra_events", "Events this process tracks, by phase", events.clone());
        for phase in StateFilter::ALL {
            // Every phase is present from the start, at zero.
            events.get_or_create(&PhaseLabel { phase: phase.as_str() }).set(0);
        }
        let submitted = Counter::default();
        registry.register("igra_events_submitted", "Events posted to the API", submitted.clone());
        let accepted = Counter::default();
        registry.register("igra_events_accepted", "Events that entered the protocol", accepted.clone());
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register("igra_events_refused", "Events refused, by reason", refused.clone());
        let rounds = Histogram::new([1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]);
        registry.register(
            "igra_event_rounds",
            "Voting rounds an event took to its certificate",
            rounds.clone(),
        );
        let finalize_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        registry.register(
            "igra_event_finalize_seconds",
            "Time from acceptance to the finalized transaction",
            finalize_seconds.clone(),
        );
        let confirm_seconds = Histogram::new(exponential_buckets(0.5, 2.0, 14));
        registry.register(
            "igra_event_confirm_seconds",
            "Time from acceptance to the confirmed transaction",
            confirm_seconds.clone(),
        );
        let frames_in = Family::<KindLabel, Counter>::default();
        registry.register("igra_frames_in", "Frames received, by message kind", frames_in.clone());
        let frames_out = Family::<KindLabel, Counter>::default();
        registry.register("igra_frames_out", "Frames sent, by message kind", frames_out.clone());
        let bytes_in = Family::<KindLabel, Counter>::default();
        registry.register("igra_frame_bytes_in", "Bytes received, by message kind", bytes_in.clone());
        let bytes_out = Family::<KindLabel, Counter>::default();
        registry.register("igra_frame_bytes_out", "Bytes sent, by message kind", bytes_out.clone());
        let rejections = Family::<ReasonLabel, Counter>::default();
        registry.register("igra_rejections", "Frames or requests turned away, by reason", rejections.clone());
        let peers = Gauge::default();
        registry.register("igra_peers_connected", "Peers with an open session", peers.clone());
        let persist_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        registry.register("igra_persist_seconds", "Time to write one batch durably", persist_seconds.clone());
        let persist_records = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "igra_persist_batch_records",
            "Records per persisted batch",
            persist_records.clone(),
        );
        // Known label values are present from the start, at zero, so that dashboards see every series.
        for reason in REFUSAL_REASONS {
            refused.get_or_create(&ReasonLabel { reason }).inc_by(0);
        }
        for reason in RejectReason::ALL.map(RejectReason::name).into_iter().chain(API_REJECTIONS) {
            rejections.get_or_create(&ReasonLabel { reason }).inc_by(0);
        }
        for kind in MessageKind::ALL.map(message_kind_name) {
            for family in [&frames_in, &frames_out, &bytes_in, &bytes_out] {
                family.get_or_create(&KindLabel { kind }).inc_by(0);
            }
        }
        Self {
            registry,
            events,
            submitted,
            accepted,
            refused,
            rounds,
            finalize_seconds,
            confirm_seconds,
            frames_in,
            frames_out,
            bytes_in,
            bytes_out,
            rejections,
            peers,
            persist_seconds,
            persist_records,
            bytes_out_total: std::sync::atomic::AtomicU64::new(0),
            tracker: Mutex::new(Tracker::default()),
        }
    }

    /// An event was posted to the API.
    pub fn submitted(&self) {
        self.submitted.inc();
    }

    /// Something happened to an event at `now` (the runner's monotonic clock).
    pub fn on_update(&self, update: &EventUpdate, now: Instant) {
        let mut tracker = self.tracker.lock().unwrap_or_else(PoisonError::into_inner);
        match update {
            EventUpdate::Accepted { event_id } => {
                self.accepted.inc();
                self.enter(&mut tracker, *event_id, StateFilter::Voting, now);
            }
            EventUpdate::Refused { reason, .. } => {
                self.refused.get_or_create(&ReasonLabel { reason: refusal_reason(reason) }).inc();
            }
            EventUpdate::Voted { .. } => {}
            EventUpdate::Certified { event_id, vote } => {
                if let Some(t) = tracker.events.get_mut(event_id) {
                    t.certified_round = Some(vote.round);
                }
            }
            EventUpdate::Signed { event_id, .. } => {
                self.enter(&mut tracker, *event_id, StateFilter::Signing, now);
            }
            EventUpdate::Finalized { event_id, .. } => {
                if let Some(t) = tracker.events.get(event_id) {
                    self.finalize_seconds.observe(now.saturating_duration_since(t.accepted_at).as_secs_f64());
                    if let Some(round) = t.certified_round {
                        self.rounds.observe(f64::from(round) + 1.0);
                    }
                }
                self.enter(&mut tracker, *event_id, StateFilter::Submitted, now);
            }
            EventUpdate::Confirmed { event_id, .. } => {
                if let Some(t) = tracker.events.get(event_id) {
                    self.confirm_seconds.observe(now.saturating_duration_since(t.accepted_at).as_secs_f64());
                }
                self.enter(&mut tracker, *event_id, StateFilter::Confirmed, now);
            }
            EventUpdate::Abandoned { event_id } => {
                self.enter(&mut tracker, *event_id, StateFilter::Abandoned, now);
            }
            EventUpdate::Revived { event_id, .. } | EventUpdate::Dead { event_id, .. } => {
                if let Some(t) = tracker.events.get_mut(event_id) {
                    t.certified_round = None;
                }
                self.enter(&mut tracker, *event_id, StateFilter::Voting, now);
            }
        }
    }

    /// Moves `event_id` to `phase`, tracking it from `now` if it is new.
    fn enter(&self, tracker: &mut Tracker, event_id: EventId, phase: StateFilter, now: Instant) {
        if let Some(t) = tracker.events.get_mut(&event_id) {
            self.gauge(t.phase).dec();
            t.phase = phase;
        } else {
            while tracker.events.len() >= MAX_TRACKED_EVENTS {
                let Some(oldest) = tracker.order.pop_front() else { break };
                if let Some(t) = tracker.events.remove(&oldest) {
                    self.gauge(t.phase).dec();
                }
            }
            tracker.order.push_back(event_id);
            tracker.events.insert(event_id, Tracked { phase, accepted_at: now, certified_round: None });
        }
        self.gauge(phase).inc();
    }

    fn gauge(&self, phase: StateFilter) -> Gauge {
        self.events.get_or_create(&PhaseLabel { phase: phase.as_str() }).clone()
    }

    /// A frame of message kind `kind` (see [`message_kind_name`]) and `bytes` bytes arrived.
    pub fn frame_in(&self, kind: &'static str, bytes: usize) {
        self.frames_in.get_or_create(&KindLabel { kind }).inc();
        self.bytes_in.get_or_create(&KindLabel { kind }).inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    /// A frame of message kind `kind` (see [`message_kind_name`]) and `bytes` bytes was sent to `copies`
    /// peers (a broadcast puts one copy on each peer's connection).
    pub fn frame_out(&self, kind: &'static str, bytes: usize, copies: usize) {
        let copies = u64::try_from(copies).unwrap_or(u64::MAX);
        let total = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(copies);
        self.frames_out.get_or_create(&KindLabel { kind }).inc_by(copies);
        self.bytes_out.get_or_create(&KindLabel { kind }).inc_by(total);
        self.bytes_out_total.fetch_add(total, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes sent so far, all message kinds together.
    pub fn bytes_out_total(&self) -> u64 {
        self.bytes_out_total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A frame or request was turned away for `reason` (a [`RejectReason::name`], or one of
    /// [`API_REJECTIONS`]).
    pub fn rejected(&self, reason: &'static str) {
        self.rejections.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// `n` peers have an open session.
    pub fn peers_connected(&self, n: usize) {
        self.peers.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A batch of `records` records took `elapsed` to write.
    pub fn persist(&self, elapsed: Duration, records: usize) {
        self.persist_seconds.observe(elapsed.as_secs_f64());
        // Precision loss only above 2^52 records, which no batch reaches.
        #[expect(clippy::cast_precision_loss, reason = "batch sizes are far below 2^52")]
        self.persist_records.observe(records as f64);
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use igra_proto::node::EventRefusal;
    use igra_proto::vote::Vote;
    use igra_proto::{TemplateHash, TransactionId};

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "a base instant; the test moves time itself")]
    fn updates_move_gauges_and_fill_histograms() {
        let m = Metrics::new();
        let t0 = Instant::now();
        let id = EventId([1; 32]);
        m.submitted();
        m.on_update(&EventUpdate::Accepted { event_id: id }, t0);
        assert_eq!(line(&m.render(), "igra_events{phase=\"voting\"}"), "igra_events{phase=\"voting\"} 1");
        let vote = Vote { event_id: id, epoch: 0, round: 2, template_hash: TemplateHash([2; 32]) };
        m.on_update(&EventUpdate::Certified { event_id: id, vote }, t0);
        m.on_update(&EventUpdate::Signed { event_id: id, template_hash: TemplateHash([2; 32]) }, t0);
        let tx = TransactionId([3; 32]);
        m.on_update(
            &EventUpdate::Finalized { event_id: id, transaction_id: tx },
            t0 + Duration::from_secs(3),
        );
        m.on_update(&EventUpdate::Refused { event_id: EventId([9; 32]), reason: EventRefusal::Busy }, t0);
        m.frame_in("vote", 120);
        m.frame_in("vote", 80);
        m.rejected("replay");
        m.peers_connected(4);
        m.persist(Duration::from_millis(2), 3);
        let text = m.render();
        assert_eq!(line(&text, "igra_events{phase=\"voting\"}"), "igra_events{phase=\"voting\"} 0");
        assert_eq!(line(&text, "igra_events{phase=\"submitted\"}"), "igra_events{phase=\"submitted\"} 1");
        assert_eq!(line(&text, "igra_events_submitted_total"), "igra_events_submitted_total 1");
        assert_eq!(line(&text, "igra_events_accepted_total"), "igra_events_accepted_total 1");
        assert_eq!(
            line(&text, "igra_events_refused_total{reason=\"busy\"}"),
            "igra_events_refused_total{reason=\"busy\"} 1"
        );
        assert_eq!(line(&text, "igra_event_rounds_sum"), "igra_event_rounds_sum 3.0");
        assert_eq!(line(&text, "igra_event_finalize_seconds_sum"), "igra_event_finalize_seconds_sum 3.0");
        assert_eq!(
            line(&text, "igra_frames_in_total{kind=\"vote\"}"),
            "igra_frames_in_total{kind=\"vote\"} 2"
        );
        assert_eq!(
            line(&text, "igra_frame_bytes_in_total{kind=\"vote\"}"),
            "igra_frame_bytes_in_total{kind=\"vote\"} 200"
        );
        assert_eq!(
            line(&text, "igra_rejections_total{reason=\"replay\"}"),
            "igra_rejections_total{reason=\"replay\"} 1"
        );
        assert_eq!(line(&text, "igra_peers_connected"), "igra_peers_connected 4");
        assert_eq!(line(&text, "igra_persist_batch_records_sum"), "igra_persist_batch_records_sum 3.0");
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "a base instant")]
    fn tracking_is_bounded() {
        let m = Metrics::new();
        let t0 = Instant::now();
        for i in 0..=MAX_TRACKED_EVENTS {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m.on_update(&EventUpdate::Accepted { event_id: EventId(id) }, t0);
        }
        let tracked = m.tracker.lock().unwrap().events.len();
        assert_eq!(tracked, MAX_TRACKED_EVENTS);
        let text = m.render();
        assert_eq!(
            line(&text, "igra_events{phase=\"voting\"}"),
            format!("igra_events{{phase=\"voting\"}} {MAX_TRACKED_EVENTS}")
        );
    }
}
