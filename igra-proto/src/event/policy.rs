//! Signer policy: the local rules a signer applies to every event before it votes for it or signs it.
//!
//! An attested event proves that its source asked for a payment; the policy decides whether *this
//! signer* is willing to take part in paying it. It is evaluated at ingress, before voting and before
//! signing, and fails closed: anything it cannot prove acceptable is refused with a typed
//! [`PolicyViolation`].
//!
//! The rules, in the order they are checked (the first failure is returned):
//!
//! 1. **Pause.** A paused signer refuses every event.
//! 2. **Amount bounds.** `min_amount <= amount <= max_amount`.
//! 3. **Deny list.** A destination script on the deny list is refused.
//! 4. **Allow list.** With an allow list, only the destination scripts on it are accepted; without one,
//!    any destination not denied is. Scripts are compared byte for byte, version included.
//! 5. **Global cap.** Committing to this event now must not take the volume this signer has committed
//!    to inside the rolling window above the global cap.
//! 6. **Source cap.** Nor the volume committed to for events of the same source kind above that kind's
//!    cap.
//! 7. **Ledger room.** The ledger keeps at most [`MAX_COMMITMENTS`] commitments inside the window; when
//!    it is full, new events wait until old commitments leave it.
//!
//! ## Volume is what this signer has committed to
//!
//! The anchor counted volume when a payout *completed*: events in flight were invisible, so concurrent
//! events could jointly exceed the cap. Here volume counts [`Commitment`]s: the node calls
//! [`Policy::commit`] when it votes for or signs an event, and from that moment the event counts against
//! the caps whether it later completes or not. Of two events that each fit but not together, the second
//! commit fails. Committing is idempotent: an event counts once, however often the node votes or signs
//! for it, but every commit runs every rule again (a paused signer does not sign what it voted for).
//!
//! Volume is per signer by design: a payout needs `m` signatures, so it needs `m` signers whose own
//! ledgers allow it, and no signer needs to trust another's count.
//!
//! A commitment is forgotten in two ways only: it leaves the window, or [`Policy::release`] drops it for
//! an event abandoned before this node released any signature for it. The node persists each commitment
//! before the vote or signature it covers leaves the node, and a restarted node rebuilds the ledger with
//! [`Policy::restore`].
//!
//! ## Time
//!
//! The policy never reads a clock: every call takes the caller's wall-clock time ([`UnixMs`], so that
//! commitments keep their meaning across restarts). A commitment dated `at` counts while the policy's
//! time is before `at + window_ms`, that is in every window `(t - window_ms, t]` that contains `at`;
//! at exactly `at + window_ms` it has left.
//!
//! The policy's time is the latest `now` it has been given ([`Policy::commit`], [`Policy::prune`],
//! [`Policy::restore`], which also counts the newest commitment's date), so it never goes backwards.
//! A wall clock that steps back therefore frees no capacity: the window stands still until the clock
//! catches up, and new commitments are dated at the policy's time, never before an older one. A clock
//! that steps forward moves the window forward for good; that is what a wall-clock window means, and
//! it is why adapters must not pass on a clock reading they do not trust.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{Event, SourceKind};
use crate::hash::Hex;
use crate::ids::EventId;
use crate::kaspa::tx::{MAX_SOMPI, ScriptPublicKey, Sompi};
use crate::time::UnixMs;

/// The longest rolling window: a week. Every commitment inside the window is kept, so the window bounds
/// the ledger's memory together with [`MAX_COMMITMENTS`].
pub const MAX_WINDOW_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The most destinations an allow list may name; a longer list belongs in a different product.
pub const MAX_ALLOWED_DESTINATIONS: usize = 1024;

/// The most destinations a deny list may name; a sanctions list this long is matched upstream.
pub const MAX_DENIED_DESTINATIONS: usize = 1024;

/// The most commitments the ledger keeps inside the window: a week at one event every ten seconds, a
/// few megabytes of memory.
pub const MAX_COMMITMENTS: usize = 65_536;

/// A volume cap for one kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCap {
    /// The source kind.
    pub source: SourceKind,
    /// The most sompi this signer commits to for events of that kind per rolling window.
    pub cap: Sompi,
}

/// A signer's policy, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// The smallest amount paid, in sompi; at least 1.
    pub min_amount: Sompi,
    /// The largest amount paid by one event, in sompi; at most [`MAX_SOMPI`].
    pub max_amount: Sompi,
    /// `None`: any destination not denied. `Some(list)`: only these destination scripts (never empty:
    /// to refuse every event, pause).
    #[serde(default)]
    pub allow: Option<Vec<ScriptPublicKey>>,
    /// Destination scripts that are never paid.
    #[serde(default)]
    pub deny: Vec<ScriptPublicKey>,
    /// The length of the rolling window the caps apply to, in milliseconds (1 to [`MAX_WINDOW_MS`]).
    pub window_ms: u64,
    /// The most sompi committed per window across all sources; `None` for no global cap.
    #[serde(default)]
    pub global_cap: Option<Sompi>,
    /// Per source kind, the most sompi committed per window; at most one cap per kind. A kind without a
    /// cap is bounded by the global cap only.
    #[serde(default)]
    pub source_caps: Vec<SourceCap>,
    /// Whether the signer starts paused.
    #[serde(default)]
    pub paused: bool,
}

/// Why a policy configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyConfigError {
    /// `min_amount` is zero: zero-amount events would pass.
    ZeroMinimum,
    /// `max_amount` is zero: every event would be refused.
    ZeroMaximum,
    /// `max_amount` is above [`MAX_SOMPI`].
    MaximumAboveSupply(Sompi),
    /// `min_amount > max_amount`.
    MinimumAboveMaximum {
        /// The minimum.
        min: Sompi,
        /// The maximum.
        max: Sompi,
    },
    /// `window_ms` is zero.
    ZeroWindow,
    /// `window_ms` is above [`MAX_WINDOW_MS`].
    WindowTooLong(u64),
    /// The global cap is zero: every event would be refused (pause instead).
    ZeroGlobalCap,
    /// A source cap is zero: every event from that source would be refused (stop accepting the source
    /// in the attestation configuration instead).
    ZeroSourceCap(SourceKind),
    /// Two caps for the same source kind.
    DuplicateSourceCap(SourceKind),
    /// The allow list is empty; `None` means any destination, and refusing everything is a pause.
    EmptyAllowList,
    /// More than [`MAX_ALLOWED_DESTINATIONS`] allowed destinations.
    TooManyAllowed(usize),
    /// More than [`MAX_DENIED_DESTINATIONS`] denied destinations.
    TooManyDenied(usize),
    /// A destination appears twice in the allow list or twice in the deny list.
    DuplicateDestination(ScriptPublicKey),
    /// A destination is both allowed and denied.
    AllowedAndDenied(ScriptPublicKey),
}

impl fmt::Display for PolicyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroMinimum => f.write_str("min_amount must be at least 1 sompi"),
            Self::ZeroMaximum => f.write_str("max_amount must be at least 1 sompi"),
            Self::MaximumAboveSupply(max) => write!(f, "max_amount {max} sompi is above MAX_SOMPI"),
            Self::MinimumAboveMaximum { min, max } => {
                write!(f, "min_amount {min} sompi is above max_amount {max} sompi")
            }
            Self::ZeroWindow => f.write_str("window_ms must be at least 1"),
            Self::WindowTooLong(ms) => write!(f, "window_ms {ms} is above MAX_WINDOW_MS ({MAX_WINDOW_MS})"),
            Self::ZeroGlobalCap => f.write_str("the global cap is zero; pause the signer instead"),
            Self::ZeroSourceCap(source) => {
                write!(f, "the cap for {source:?} is zero; stop accepting the source instead")
            }
            Self::DuplicateSourceCap(source) => write!(f, "two caps for {source:?}"),
            Self::EmptyAllowList => f.write_str("the allow list is empty; omit it to allow any destination"),
            Self::TooManyAllowed(n) => {
                write!(f, "{n} allowed destinations, at most {MAX_ALLOWED_DESTINATIONS}")
            }
            Self::TooManyDenied(n) => write!(f, "{n} denied destinations, at most {MAX_DENIED_DESTINATIONS}"),
            Self::DuplicateDestination(d) => write!(f, "destination {} is listed twice", Script(d)),
            Self::AllowedAndDenied(d) => write!(f, "destination {} is both allowed and denied", Script(d)),
        }
    }
}

impl core::error::Error for PolicyConfigError {}

impl PolicyConfig {
    /// Checks the configuration; every rule is a [`PolicyConfigError`] variant.
    pub fn validate(&self) -> Result<(), PolicyConfigError> {
        if self.min_amount == 0 {
            return Err(PolicyConfigError::ZeroMinimum);
        }
        if self.max_amount == 0 {
            return Err(PolicyConfigError::ZeroMaximum);
        }
        if self.max_amount > MAX_SOMPI {
            return Err(PolicyConfigError::MaximumAboveSupply(self.max_amount));
        }
        if self.min_amount > self.max_amount {
            return Err(PolicyConfigError::MinimumAboveMaximum {
                min: self.min_amount,
                max: self.max_amount,
            });
        }
        if self.window_ms == 0 {
            return Err(PolicyConfigError::ZeroWindow);
        }
        if self.window_ms > MAX_WINDOW_MS {
            return Err(PolicyConfigError::WindowTooLong(self.window_ms));
        }
        if self.global_cap == Some(0) {
            return Err(PolicyConfigError::ZeroGlobalCap);
        }
        if let Some(zero) = self.source_caps.iter().find(|c| c.cap == 0) {
            return Err(PolicyConfigError::ZeroSourceCap(zero.source));
        }
        let sources: Vec<SourceKind> = self.source_caps.iter().map(|c| c.source).collect();
        if let Some(source) = super::first_duplicate(&sources) {
            return Err(PolicyConfigError::DuplicateSourceCap(source));
        }
        if self.deny.len() > MAX_DENIED_DESTINATIONS {
            return Err(PolicyConfigError::TooManyDenied(self.deny.len()));
        }
        if let Some(d) = super::first_duplicate(&self.deny) {
            return Err(PolicyConfigError::DuplicateDestination(d));
        }
        if let Some(allow) = &self.allow {
            if allow.is_empty() {
                return Err(PolicyConfigError::EmptyAllowList);
            }
            if allow.len() > MAX_ALLOWED_DESTINATIONS {
                return Err(PolicyConfigError::TooManyAllowed(allow.len()));
            }
            if let Some(d) = super::first_duplicate(allow) {
                return Err(PolicyConfigError::DuplicateDestination(d));
            }
            if let Some(d) = allow.iter().find(|d| self.deny.contains(d)) {
                return Err(PolicyConfigError::AllowedAndDenied(d.clone()));
            }
        }
        Ok(())
    }

    /// The cap for events from `source`, if one is configured.
    pub fn source_cap(&self, source: SourceKind) -> Option<Sompi> {
        self.source_caps.iter().find(|c| c.source == source).map(|c| c.cap)
    }
}

/// This signer's commitment to an event: it voted for it or signed it at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment {
    /// When the commitment was made, on the policy's clock.
    pub at: UnixMs,
    /// The event's source kind.
    pub source: SourceKind,
    /// The event's amount, in sompi.
    pub amount: Sompi,
}

impl Commitment {
    /// Whether the commitment counts at `time` for a window of `window_ms`: `time < at + window_ms`.
    /// A store that prunes persisted commitments must use this rule against [`Policy::time`].
    pub fn counts_at(&self, time: UnixMs, window_ms: u64) -> bool {
        time.0 < self.at.0.saturating_add(window_ms)
    }
}

/// Why the policy refuses an event; shown by the API and kept in the event's audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyViolation {
    /// The signer is paused.
    Paused,
    /// The amount is below the configured minimum.
    AmountBelowMinimum {
        /// The event's amount.
        amount: Sompi,
        /// The minimum.
        min: Sompi,
    },
    /// The amount is above the configured maximum.
    AmountAboveMaximum {
        /// The event's amount.
        amount: Sompi,
        /// The maximum.
        max: Sompi,
    },
    /// The destination is on the deny list.
    DestinationDenied,
    /// There is an allow list and the destination is not on it.
    DestinationNotAllowed,
    /// The event would take the volume in the window above the global cap.
    GlobalCapExceeded {
        /// Volume already committed in the window, not counting this event.
        used: Sompi,
        /// The event's amount.
        amount: Sompi,
        /// The cap.
        cap: Sompi,
    },
    /// The event would take its source kind's volume in the window above that kind's cap.
    SourceCapExceeded {
        /// The source kind.
        source: SourceKind,
        /// Volume already committed in the window for this kind, not counting this event.
        used: Sompi,
        /// The event's amount.
        amount: Sompi,
        /// The cap.
        cap: Sompi,
    },
    /// The ledger already holds [`MAX_COMMITMENTS`] commitments inside the window.
    LedgerFull,
}

impl PolicyViolation {
    /// A stable machine-readable name, for metrics labels and API error codes.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::AmountBelowMinimum { .. } => "amount_below_minimum",
            Self::AmountAboveMaximum { .. } => "amount_above_maximum",
            Self::DestinationDenied => "destination_denied",
            Self::DestinationNotAllowed => "destination_not_allowed",
            Self::GlobalCapExceeded { .. } => "global_cap_exceeded",
            Self::SourceCapExceeded { .. } => "source_cap_exceeded",
            Self::LedgerFull => "ledger_full",
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paused => f.write_str("the signer is paused"),
            Self::AmountBelowMinimum { amount, min } => {
                write!(f, "amount {amount} sompi is below the minimum of {min} sompi")
            }
            Self::AmountAboveMaximum { amount, max } => {
                write!(f, "amount {amount} sompi is above the maximum of {max} sompi")
            }
            Self::DestinationDenied => f.write_str("the destination is denied"),
            Self::DestinationNotAllowed => f.write_str("the destination is not on the allow list"),
            Self::GlobalCapExceeded { used, amount, cap } => write!(
                f,
                "{used} sompi committed in the window plus {amount} sompi would exceed the global cap of {cap} sompi"
            ),
            Self::SourceCapExceeded { source, used, amount, cap } => write!(
                f,
                "{used} sompi committed in the window for {source:?} plus {amount} sompi would exceed its cap of \
                 {cap} sompi"
            ),
            Self::LedgerFull => write!(f, "{MAX_COMMITMENTS} commitments already in the window"),
        }
    }
}

impl core::error::Error for PolicyViolation {}

/// Why a policy cannot be rebuilt from persisted commitments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// The configuration is invalid.
    Config(PolicyConfigError),
    /// Two persisted commitments for one event that both still count: the store is corrupt.
    DuplicateCommitment(EventId),
    /// More than [`MAX_COMMITMENTS`] persisted commitments still count.
    TooManyCommitments,
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "policy configuration: {e}"),
            Self::DuplicateCommitment(id) => write!(f, "two commitments for event {id}"),
            Self::TooManyCommitments => write!(f, "more than {MAX_COMMITMENTS} commitments still count"),
        }
    }
}

impl core::error::Error for RestoreError {}

/// The commitments, indexed by event and by date, with their running totals: checking an event costs
/// the commitments that stopped counting since the last prune, not the whole ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ledger {
    /// Keyed by event id, so an event is committed once and iteration is in a stable order.
    by_event: BTreeMap<EventId, Commitment>,
    /// The same commitments by date: those that stop counting first come first.
    by_date: BTreeSet<(UnixMs, EventId)>,
    /// Sum of every amount (exact: `u128` cannot overflow at [`MAX_COMMITMENTS`] x [`MAX_SOMPI`]).
    total: u128,
    /// Sum of the amounts per source kind.
    by_source: BTreeMap<SourceKind, u128>,
}

impl Ledger {
    fn len(&self) -> usize {
        self.by_event.len()
    }

    /// Adds `commitment` for `id` unless `id` has one; returns the one held.
    fn insert(&mut self, id: EventId, commitment: Commitment) -> (Commitment, bool) {
        if let Some(held) = self.by_event.get(&id) {
            return (*held, false);
        }
        self.by_event.insert(id, commitment);
        self.by_date.insert((commitment.at, id));
        self.total += u128::from(commitment.amount);
        *self.by_source.entry(commitment.source).or_default() += u128::from(commitment.amount);
        (commitment, true)
    }

    fn remove(&mut self, id: &EventId) -> Option<Commitment> {
        let commitment = self.by_event.remove(id)?;
        self.by_date.remove(&(commitment.at, *id));
        self.total -= u128::from(commitment.amount);
        if let Some(sum) = self.by_source.get_mut(&commitment.source) {
            *sum -= u128::from(commitment.amount);
        }
        Some(commitment)
    }

    /// The commitments that no longer count at `time`, oldest first.
    fn expired(&self, time: UnixMs, window_ms: u64) -> impl Iterator<Item = &(UnixMs, EventId)> {
        self.by_date.iter().take_while(move |(at, _)| at.0.saturating_add(window_ms) <= time.0)
    }

    /// Drops the commitments that no longer count at `time`; returns how many.
    fn expire(&mut self, time: UnixMs, window_ms: u64) -> usize {
        let gone: Vec<EventId> = self.expired(time, window_ms).map(|(_, id)| *id).collect();
        for id in &gone {
            self.remove(id);
        }
        gone.len()
    }

    /// What counts at `time`, leaving out `except`: the volume, the volume of `source`, and how many.
    fn counting(
        &self,
        time: UnixMs,
        window_ms: u64,
        source: Option<SourceKind>,
        except: Option<&EventId>,
    ) -> (u128, u128, usize) {
        let mut total = self.total;
        let mut of_source = source.map_or(0, |s| self.by_source.get(&s).copied().unwrap_or(0));
        let mut count = self.len();
        let mut drop = |c: &Commitment| {
            total -= u128::from(c.amount);
            if source == Some(c.source) {
                of_source -= u128::from(c.amount);
            }
            count -= 1;
        };
        for (_, id) in self.expired(time, window_ms) {
            if let Some(c) = self.by_event.get(id) {
                drop(c);
            }
        }
        if let Some(c) = except.and_then(|id| self.by_event.get(id)).filter(|c| c.counts_at(time, window_ms))
        {
            drop(c);
        }
        (total, of_source, count)
    }
}

fn saturate(sum: u128) -> Sompi {
    Sompi::try_from(sum).unwrap_or(Sompi::MAX)
}

/// The policy engine: a validated configuration and the ledger of this signer's commitments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    config: PolicyConfig,
    commitments: Ledger,
    /// The policy's clock: the latest time it has been given; never goes backwards.
    time: UnixMs,
}

impl Policy {
    /// A policy with an empty ledger.
    pub fn new(config: PolicyConfig) -> Result<Self, PolicyConfigError> {
        config.validate()?;
        Ok(Self { config, commitments: Ledger::default(), time: UnixMs(0) })
    }

    /// Rebuilds a policy from its persisted commitments (as [`Policy::commitments`] listed them). The
    /// policy's time starts at the later of `now` and the newest commitment's date; commitments that no
    /// longer count at that time are dropped. A node whose store deletes commitments that stopped
    /// counting passes as `now` the later of its wall clock and the last [`Policy::time`] it persisted,
    /// so that a clock behind at restart cannot revive the window those deletions assumed had passed.
    pub fn restore(
        config: PolicyConfig,
        now: UnixMs,
        commitments: &[(EventId, Commitment)],
    ) -> Result<Self, RestoreError> {
        config.validate().map_err(RestoreError::Config)?;
        let time = commitments.iter().map(|(_, c)| c.at).fold(now, core::cmp::max);
        let mut policy = Self { config, commitments: Ledger::default(), time };
        for (id, commitment) in commitments {
            if !commitment.counts_at(time, policy.config.window_ms) {
                continue;
            }
            if policy.commitments.len() >= MAX_COMMITMENTS {
                return Err(RestoreError::TooManyCommitments);
            }
            if !policy.commitments.insert(*id, *commitment).1 {
                return Err(RestoreError::DuplicateCommitment(*id));
            }
        }
        Ok(policy)
    }

    /// Whether this signer may commit to `event` at `now`: every rule in the module documentation, in
    /// order. An event already committed counts once, so checking it again passes while the other
    /// rules do. Changes nothing.
    pub fn check(&self, now: UnixMs, event: &Event) -> Result<(), PolicyViolation> {
        self.evaluate(self.clock(now), &event.id(), event)
    }

    /// Checks `event` and records this signer's commitment to it, dated at the policy's time. The node
    /// calls this when it votes for or signs the event, and persists the returned commitment before the
    /// vote or signature leaves the node. Idempotent: for an event already committed it runs the rules
    /// again and returns the existing commitment.
    pub fn commit(&mut self, now: UnixMs, event: &Event) -> Result<Commitment, PolicyViolation> {
        let time = self.clock(now);
        let id = event.id();
        self.evaluate(time, &id, event)?;
        self.prune(time);
        let fresh = Commitment { at: time, source: event.source.kind, amount: event.payment.amount };
        Ok(self.commitments.insert(id, fresh).0)
    }

    /// Forgets the commitment to `event_id`, freeing its capacity, and returns it.
    ///
    /// Only for an event abandoned before this node released any signature for it. A commitment behind
    /// a released signature must never be released: the signature can still put the payment on chain.
    pub fn release(&mut self, event_id: &EventId) -> Option<Commitment> {
        self.commitments.remove(event_id)
    }

    /// Advances the policy's time to `now` (if later) and drops the commitments that no longer count;
    /// returns how many were dropped.
    pub fn prune(&mut self, now: UnixMs) -> usize {
        self.time = self.clock(now);
        self.commitments.expire(self.time, self.config.window_ms)
    }

    /// The volume committed inside the window at `now`: across all sources, or for one source kind.
    pub fn volume(&self, now: UnixMs, source: Option<SourceKind>) -> Sompi {
        let time = self.clock(now);
        let (total, of_source, _) = self.commitments.counting(time, self.config.window_ms, source, None);
        saturate(if source.is_some() { of_source } else { total })
    }

    /// Pauses or resumes the signer. The node persists the switch; it starts from the configuration's.
    pub fn set_paused(&mut self, paused: bool) {
        self.config.paused = paused;
    }

    /// Whether the signer is paused.
    pub fn is_paused(&self) -> bool {
        self.config.paused
    }

    /// The configuration, with the current pause switch.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The policy's clock: the latest time it has been given.
    pub fn time(&self) -> UnixMs {
        self.time
    }

    /// The commitment to `event_id`, if the ledger holds one.
    pub fn commitment(&self, event_id: &EventId) -> Option<&Commitment> {
        self.commitments.by_event.get(event_id)
    }

    /// Every commitment in the ledger, by event id, for persistence and [`Policy::restore`]. May include
    /// commitments that stopped counting but have not been pruned yet.
    pub fn commitments(&self) -> impl Iterator<Item = (&EventId, &Commitment)> {
        self.commitments.by_event.iter()
    }

    /// The time the policy evaluates a call made at `now` at: never before its own clock.
    fn clock(&self, now: UnixMs) -> UnixMs {
        core::cmp::max(now, self.time)
    }

    fn evaluate(&self, time: UnixMs, id: &EventId, event: &Event) -> Result<(), PolicyViolation> {
        let config = &self.config;
        if config.paused {
            return Err(PolicyViolation::Paused);
        }
        let amount = event.payment.amount;
        if amount < config.min_amount {
            return Err(PolicyViolation::AmountBelowMinimum { amount, min: config.min_amount });
        }
        if amount > config.max_amount {
            return Err(PolicyViolation::AmountAboveMaximum { amount, max: config.max_amount });
        }
        let destination = &event.payment.destination;
        if config.deny.contains(destination) {
            return Err(PolicyViolation::DestinationDenied);
        }
        if config.allow.as_ref().is_some_and(|allow| !allow.contains(destination)) {
            return Err(PolicyViolation::DestinationNotAllowed);
        }
        // The event's own commitment, if any, is left out and its amount added: it counts once.
        let source = event.source.kind;
        let (used, used_by_source, others) =
            self.commitments.counting(time, config.window_ms, Some(source), Some(id));
        let (used, used_by_source) = (saturate(used), saturate(used_by_source));
        if let Some(cap) = config.global_cap
            && used.saturating_add(amount) > cap
        {
            return Err(PolicyViolation::GlobalCapExceeded { used, amount, cap });
        }
        if let Some(cap) = config.source_cap(source)
            && used_by_source.saturating_add(amount) > cap
        {
            return Err(PolicyViolation::SourceCapExceeded { source, used: used_by_source, amount, cap });
        }
        let counted = self.commitments.by_event.get(id).is_some_and(|c| c.counts_at(time, config.window_ms));
        if !counted && others >= MAX_COMMITMENTS {
            return Err(PolicyViolation::LedgerFull);
        }
        Ok(())
    }
}

/// Formats a script as `v<version>:<hex>`.
struct Script<'a>(&'a ScriptPublicKey);

impl fmt::Display for Script<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}:{}", self.0.version, Hex(&self.0.script))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn script(byte: u8) -> ScriptPublicKey {
        ScriptPublicKey { version: 0, script: vec![0x20, byte, 0xac] }
    }

    fn config() -> PolicyConfig {
        PolicyConfig {
            min_amount: 10,
            max_amount: 1_000,
            allow: Some(vec![script(1), script(2)]),
            deny: vec![script(3)],
            window_ms: 60_000,
            global_cap: Some(2_000),
            source_caps: vec![SourceCap { source: SourceKind::Operators, cap: 1_500 }],
            paused: false,
        }
    }

    #[test]
    fn a_sound_config_validates_and_each_flaw_has_its_error() {
        assert_eq!(config().validate(), Ok(()));
        assert_eq!(PolicyConfig { allow: None, deny: vec![], ..config() }.validate(), Ok(()));
        let cases = [
            (PolicyConfig { min_amount: 0, ..config() }, PolicyConfigError::ZeroMinimum),
            (PolicyConfig { max_amount: 0, ..config() }, PolicyConfigError::ZeroMaximum),
            (
                PolicyConfig { max_amount: MAX_SOMPI + 1, ..config() },
                PolicyConfigError::MaximumAboveSupply(MAX_SOMPI + 1),
            ),
            (
                PolicyConfig { min_amount: 1_001, ..config() },
                PolicyConfigError::MinimumAboveMaximum { min: 1_001, max: 1_000 },
            ),
            (PolicyConfig { window_ms: 0, ..config() }, PolicyConfigError::ZeroWindow),
            (
                PolicyConfig { window_ms: MAX_WINDOW_MS + 1, ..config() },
                PolicyConfigError::WindowTooLong(MAX_WINDOW_MS + 1),
            ),
            (PolicyConfig { global_cap: Some(0), ..config() }, PolicyConfigError::ZeroGlobalCap),
            (
                PolicyConfig {
                    source_caps: vec![SourceCap { source: SourceKind::Hyperlane, cap: 0 }],
                    ..config()
                },
                PolicyConfigError::ZeroSourceCap(SourceKind::Hyperlane),
            ),
            (
                PolicyConfig {
                    source_caps: vec![
                        SourceCap { source: SourceKind::LayerZero, cap: 5 },
                        SourceCap { source: SourceKind::Hyperlane, cap: 5 },
                        SourceCap { source: SourceKind::LayerZero, cap: 7 },
                    ],
                    ..config()
                },
                PolicyConfigError::DuplicateSourceCap(SourceKind::LayerZero),
            ),
            (PolicyConfig { allow: Some(vec![]), ..config() }, PolicyConfigError::EmptyAllowList),
            (
                PolicyConfig { allow: Some(vec![script(1); MAX_ALLOWED_DESTINATIONS + 1]), ..config() },
                PolicyConfigError::TooManyAllowed(MAX_ALLOWED_DESTINATIONS + 1),
            ),
            (
                PolicyConfig { deny: vec![script(3); MAX_DENIED_DESTINATIONS + 1], ..config() },
                PolicyConfigError::TooManyDenied(MAX_DENIED_DESTINATIONS + 1),
            ),
            (
                PolicyConfig { allow: Some(vec![script(1), script(2), script(1)]), ..config() },
                PolicyConfigError::DuplicateDestination(script(1)),
            ),
            (
                PolicyConfig { deny: vec![script(3), script(3)], ..config() },
                PolicyConfigError::DuplicateDestination(script(3)),
            ),
            (
                PolicyConfig { deny: vec![script(3), script(2)], ..config() },
                PolicyConfigError::AllowedAndDenied(script(2)),
            ),
        ];
        for (config, error) in cases {
            assert!(!error.to_string().is_empty());
            assert_eq!(config.validate(), Err(error));
        }
    }

    #[test]
    fn a_script_version_makes_a_different_destination() {
        let mut v1 = script(2);
        v1.version = 1;
        let both = PolicyConfig { deny: vec![v1], ..config() };
        assert_eq!(both.validate(), Ok(()));
    }

    #[test]
    fn configs_round_trip_through_postcard() {
        let config = config();
        let bytes = postcard::to_allocvec(&config).unwrap();
        assert_eq!(postcard::from_bytes::<PolicyConfig>(&bytes).unwrap(), config);
        assert_eq!(config.source_cap(SourceKind::Operators), Some(1_500));
        assert_eq!(config.source_cap(SourceKind::Hyperlane), None);
    }
}
