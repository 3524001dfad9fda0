//! The node's HTTP API: submit events, read their status and audit trail, page through them, and probe
//! health, readiness and metrics. `docs/api.md` is the guide and `docs/api/openapi.json` the reference.
//!
//! The API talks to the node through [`ApiBackend`], which the runner implements by forwarding to its
//! `Node`; the HTTP layer owns authentication ([`auth`]), per-client rate limits ([`rate_limit`]), body
//! limits and the JSON error shape ([`error`]). [`client::ApiClient`] is the blocking client of the same
//! API for `igra status` and the devnet.

pub mod auth;
pub mod client;
pub mod error;
pub mod rate_limit;
mod routes;
pub mod view;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use igra_proto::EventId;
use igra_proto::event::Event;
use igra_proto::node::{EventRefusal, EventStatus};

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use rate_limit::RateConfig;
pub use routes::{ROUTES, Route, router};
pub use view::{Readiness, StateFilter};

use crate::metrics::Metrics;

/// The most events one page of `GET /v1/events` returns.
pub const MAX_PAGE: usize = 500;
/// The page size when `limit` is not given.
pub const DEFAULT_PAGE: usize = 50;
/// Seconds a client is asked to wait after a `busy` refusal.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Why the node did not take an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The node refused it: attestation, policy, busy or too large.
    Refused(EventRefusal),
    /// The node is not ready to take events (see [`Readiness`]).
    NotReady,
    /// The node is shutting down.
    Stopped,
    /// Something failed inside the node.
    Internal(String),
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "refused: {r}"),
            Self::NotReady => f.write_str("the node is not ready"),
            Self::Stopped => f.write_str("the node is shutting down"),
            Self::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for SubmitError {}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let message = e.to_string();
        match e {
            SubmitError::Refused(EventRefusal::Attestation(_)) => {
                Self::new(ErrorCode::AttestationRefused, message)
            }
            SubmitError::Refused(EventRefusal::Policy(_)) => Self::new(ErrorCode::PolicyRefused, message),
            SubmitError::Refused(EventRefusal::TooLarge) => Self::new(ErrorCode::EventTooLarge, message),
            SubmitError::Refused(EventRefusal::Busy) => {
                Self::new(ErrorCode::Busy, message).retry_after(BUSY_RETRY_AFTER_SECS)
            }
            SubmitError::NotReady => Self::new(ErrorCode::NotReady, message),
            SubmitError::Stopped => Self::new(ErrorCode::Stopped, message),
            SubmitError::Internal(_) => Self::new(ErrorCode::Internal, message),
        }
    }
}

/// What the API needs from the node. The runner implements it by forwarding to its `Node`; every
/// method returns owned data so that the answer can cross a channel.
pub trait ApiBackend: Send + Sync + 'static {
    /// Hands `event` to the node. Resubmitting an event the node already knows must succeed with the
    /// same id (the API is idempotent).
    fn submit(&self, event: Event) -> impl Future<Output = Result<EventId, SubmitError>> + Send;

    /// The status and audit trail of `event_id`, if the node knows it.
    fn status(&self, event_id: EventId) -> impl Future<Output = Option<EventStatus>> + Send;

    /// Up to `limit` events in `filter`'s state (every state for `None`) whose id is strictly above
    /// `after`, in ascending id order.
    fn list(
        &self,
        filter: Option<StateFilter>,
        after: Option<EventId>,
        limit: usize,
    ) -> impl Future<Output = Vec<(EventId, EventStatus)>> + Send;

    /// Whether the node can do its work.
    fn readiness(&self) -> impl Future<Output = Readiness> + Send;
}

/// How the API serves.
#[derive(Clone)]
pub struct ApiConfig {
    /// The bearer token every route but `/v1/health` requires; `None` leaves the API open (bind it to
    /// loopback then).
    pub token: Option<String>,
    /// The largest request body, in bytes; a larger one is answered 413 `payload_too_large`.
    pub body_limit: usize,
    /// Each client's request rate.
    pub rate: RateConfig,
    /// Clients whose rate is tracked at once; the oldest is forgotten beyond it.
    pub max_clients: usize,
    /// Requests handled at once; one more is answered 503 `busy` at once (health is exempt).
    pub max_in_flight: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            token: None,
            // The hex of the largest event, the JSON around it, and room to spare.
            body_limit: 2 * igra_proto::wire::MAX_EVENT_BYTES + 1024,
            rate: RateConfig::default(),
            max_clients: 4096,
            max_in_flight: 256,
        }
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("body_limit", &self.body_limit)
            .field("rate", &self.rate)
            .field("max_clients", &self.max_clients)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in flight.
/// Each connection's peer address keys its rate limit.
pub async fn serve<B: ApiBackend>(
    listener: tokio::net::TcpListener,
    backend: Arc<B>,
    config: ApiConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, auth = config.token.is_some(), "API listening");
    }
    let app = router(backend, config, metrics);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("API stopped");
    Ok(())
}
