//! The API's error body: every failure is `{"error": {"code": "<snake_case>", "message": "..."}}` with a
//! status and a code from [`ErrorCode`], including the rejections of axum's own extractors.

use std::fmt;

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The machine-readable reason of an error response; each maps to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 401: the bearer token is missing or wrong.
    Unauthorized,
    /// 429: this client sent more requests than its rate allows.
    RateLimited,
    /// 413: the request body is above the configured body limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 400: the body is not JSON of the expected shape.
    MalformedJson,
    /// 400: the `event` field is not hex.
    BadHex,
    /// 400: the hex does not decode to an event.
    UndecodableEvent,
    /// 400: the event id in the path is not 32 bytes of hex.
    MalformedEventId,
    /// 400: a query parameter is invalid.
    BadQuery,
    /// 404: no event with this id is known.
    EventNotFound,
    /// 404: no route has this path.
    RouteNotFound,
    /// 405: the route does not accept this method.
    MethodNotAllowed,
    /// 422: the event's attestation does not hold.
    AttestationRefused,
    /// 403: this signer's policy refuses the event.
    PolicyRefused,
    /// 413: the event does not fit in a protocol message.
    EventTooLarge,
    /// 503 with `Retry-After`: too many events are in flight.
    Busy,
    /// 503: the node is not ready (storage, peers or chain).
    NotReady,
    /// 503: the node is shutting down.
    Stopped,
    /// 500: an internal failure.
    Internal,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: &'static [Self] = &[
        Self::Unauthorized,
        Self::RateLimited,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::MalformedJson,
        Self::BadHex,
        Self::UndecodableEvent,
        Self::MalformedEventId,
        Self::BadQuery,
        Self::EventNotFound,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::AttestationRefused,
        Self::PolicyRefused,
        Self::EventTooLarge,
        Self::Busy,
        Self::NotReady,
        Self::Stopped,
        Self::Internal,
    ];

    /// The code as it appears in the body.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::RateLimited => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MalformedJson => "malformed_json",
            Self::BadHex => "bad_hex",
            Self::UndecodableEvent => "undecodable_event",
            Self::MalformedEventId => "malformed_event_id",
            Self::BadQuery => "bad_query",
            Self::EventNotFound => "event_not_found",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::AttestationRefused => "attestation_refused",
            Self::PolicyRefused => "policy_refused",
            Self::EventTooLarge => "event_too_large",
            Self::Busy => "busy",
            Self::NotReady => "not_ready",
            Self::Stopped => "stopped",
            Self::Internal => "internal",
        }
    }

    /// The code named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The HTTP status that carries this code.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge | Self::EventTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MalformedJson
            | Self::BadHex
            | Self::UndecodableEvent
            | Self::MalformedEventId
            | Self::BadQuery => StatusCode::BAD_REQUEST,
            Self::EventNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AttestationRefused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PolicyRefused => StatusCode::FORBIDDEN,
            Self::Busy | Self::NotReady | Self::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON error body: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// One of [`ErrorCode::as_str`].
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

/// An error response of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What went wrong.
    pub code: ErrorCode,
    /// Why, for a person.
    pub message: String,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    /// The same error, asking the client to retry after `seconds`.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code.as_str().to_owned(), message: self.message.clone() },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        tracing::debug!(code = self.code.as_str(), %status, message = %self.message, "api error");
        let mut response = (status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding a variant fails to compile here until it is given a place in [`ErrorCode::ALL`].
    const fn position(code: ErrorCode) -> usize {
        match code {
            ErrorCode::Unauthorized => 0,
            ErrorCode::RateLimited => 1,
            ErrorCode::PayloadTooLarge => 2,
            ErrorCode::UnsupportedMediaType => 3,
            ErrorCode::MalformedJson => 4,
            ErrorCode::BadHex => 5,
            ErrorCode::UndecodableEvent => 6,
            ErrorCode::MalformedEventId => 7,
            ErrorCode::BadQuery => 8,
            ErrorCode::EventNotFound => 9,
            ErrorCode::RouteNotFound => 10,
            ErrorCode::MethodNotAllowed => 11,
            ErrorCode::AttestationRefused => 12,
            ErrorCode::PolicyRefused => 13,
            ErrorCode::EventTooLarge => 14,
            ErrorCode::Busy => 15,
            ErrorCode::NotReady => 16,
            ErrorCode::Stopped => 17,
            ErrorCode::Internal => 18,
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        assert_eq!(ErrorCode::ALL.len(), 19);
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(position(*code), i, "{code}");
        }
    }

    #[test]
    fn codes_are_unique_and_parse_back() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!(ErrorCode::ALL[..i].iter().all(|c| c.as_str() != code.as_str()));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
