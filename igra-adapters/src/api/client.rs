//! A blocking client of the API (plain HTTP), for `igra status` and the devnet.

use std::fmt;
use std::time::Duration;

use igra_proto::EventId;
use igra_proto::event::{Event, EventTooLarge};
use serde::de::DeserializeOwned;
use ureq::Agent;
use ureq::http::Response;

use super::error::ErrorBody;
use super::view::{EventView, HealthView, ListView, ReadyView, StateFilter, SubmitRequest, SubmitView};

/// The longest any request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read.
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server could not be reached, or the exchange broke off.
    Connect(ureq::Error),
    /// The server answered with an error status.
    Http {
        /// The status.
        status: u16,
        /// The API's error body, when the answer carried one.
        error: Option<ErrorBody>,
    },
    /// The answer is not what the API returns.
    Decode(String),
    /// The event does not encode.
    Encode(EventTooLarge),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot reach the API: {e}"),
            Self::Http { status, error: Some(body) } => {
                write!(f, "HTTP {status} {}: {}", body.error.code, body.error.message)
            }
            Self::Http { status, error: None } => write!(f, "HTTP {status}"),
            Self::Decode(why) => write!(f, "unexpected answer: {why}"),
            Self::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// The API's error code, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Http { error: Some(body), .. } => Some(&body.error.code),
            _ => None,
        }
    }
}

/// A client of one node's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    agent: Agent,
    base: String,
    token: Option<String>,
}

impl ApiClient {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:8080`), sending `token` as a bearer
    /// token when given.
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Self { agent, base: base_url.trim_end_matches('/').to_owned(), token }
    }

    /// Submits `event`; its id once the node took it.
    pub fn submit(&self, event: &Event) -> Result<EventId, ClientError> {
        let encoded = event.encode().map_err(ClientError::Encode)?;
        let body = serde_json::to_vec(&SubmitRequest { event: hex::encode(encoded.as_slice()) })
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        let mut request =
            self.agent.post(format!("{}/v1/events", self.base)).content_type("application/json");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send(&body[..]).map_err(ClientError::Connect)?;
        Ok(decode::<SubmitView>(response, &[202])?.event_id)
    }

    /// The status and audit trail of `event_id`; `None` if the node does not know it.
    pub fn status(&self, event_id: &EventId) -> Result<Option<EventView>, ClientError> {
        match self.get(&format!("/v1/events/{event_id}"), &[200]) {
            Err(ClientError::Http { status: 404, error: Some(body) })
                if body.error.code == "event_not_found" =>
            {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// One page of events in `state` (all for `None`) after the cursor `after`, at most `limit`.
    pub fn list(
        &self,
        state: Option<StateFilter>,
        after: Option<&EventId>,
        limit: Option<usize>,
    ) -> Result<ListView, ClientError> {
        let mut params = Vec::new();
        if let Some(state) = state {
            params.push(format!("state={state}"));
        }
        if let Some(after) = after {
            params.push(format!("after={after}"));
        }
        if let Some(limit) = limit {
            params.push(format!("limit={limit}"));
        }
        let query = if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
        self.get(&format!("/v1/events{query}"), &[200])
    }

    /// Whether the server is alive.
    pub fn health(&self) -> Result<HealthView, ClientError> {
        self.get("/v1/health", &[200])
    }

    /// The node's readiness, ready (200) or not (503).
    pub fn ready(&self) -> Result<ReadyView, ClientError> {
        self.get("/v1/ready", &[200, 503])
    }

    fn get<T: DeserializeOwned>(&self, path: &str, ok: &[u16]) -> Result<T, ClientError> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        decode(request.call().map_err(ClientError::Connect)?, ok)
    }
}

/// The body of `response` as `T` when its status is in `ok`, else the error it carries.
fn decode<T: DeserializeOwned>(mut response: Response<ureq::Body>, ok: &[u16]) -> Result<T, ClientError> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(ClientError::Connect)?;
    if ok.contains(&status) {
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(format!("HTTP {status}: {e}")))
    } else {
        Err(ClientError::Http { status, error: serde_json::from_slice(&bytes).ok() })
    }
}
