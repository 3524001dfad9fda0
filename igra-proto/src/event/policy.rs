//! Signer policy: the local rules a signer applies to every event before it votes for it or signs it.
//!
//! An attested event proves that its source asked for a payment; the policy decides whether *this
//! signer* is willing to take part in paying it. It is evaluated at ingress, before voting and before
//! signing, and fails closed: anything it cannot prove acceptable is refused.
//!
//! The rules, in the order they are checked (the first failure is returned):
//!
//! 1. **Pause.** A paused signer refuses every event.
//! 2. **Amount bounds.** `min_amount <= amount <= max_amount`.
//! 3. **Deny list.** A destination script on the deny list is refused.
//! 4. **Allow list.** With an allow list, only the destination scripts on it are accepted; without one,
//!    any destination not denied is. Scripts are compared byte for byte, version included.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::SourceKind;
use crate::hash::Hex;
use crate::kaspa::tx::{MAX_SOMPI, ScriptPublicKey, Sompi};

/// The longest rolling window: a week. Every commitment inside the window is kept, so the window bounds
/// the ledger's memory together with [`MAX_COMMITMENTS`].
pub const MAX_WINDOW_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The most destinations an allow list may name; a longer list belongs in a different product.
pub const MAX_ALLOWED_DESTINATIONS: usize = 1024;

/// The most destinations a deny list may name; a sanctions list this long is matched upstream.
pub const MAX_DENIED_DESTINATIONS: usize = 1024;

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
