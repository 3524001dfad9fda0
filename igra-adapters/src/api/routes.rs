//! The routes, their handlers and the middleware around them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use igra_proto::EventId;
use igra_proto::event::Event;
use igra_proto::wire::MAX_EVENT_BYTES;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::auth::BearerToken;
use super::rate_limit::RateLimiter;
use super::view::{
    EventSummary, EventView, HealthView, ListView, ReadyView, StateFilter, SubmitRequest, SubmitView,
    parse_id32,
};
use super::{ApiBackend, ApiConfig, ApiError, BUSY_RETRY_AFTER_SECS, DEFAULT_PAGE, ErrorCode, MAX_PAGE};
use crate::metrics::Metrics;

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/events`: submit an event.
    SubmitEvent,
    /// `GET /v1/events`: page through events.
    ListEvents,
    /// `GET /v1/events/{id}`: one event's status and audit trail.
    GetEvent,
    /// `GET /v1/health`: liveness, open without a token.
    Health,
    /// `GET /v1/ready`: readiness.
    Ready,
    /// `GET /metrics`: Prometheus metrics.
    Metrics,
}

/// Every route the router serves; the `OpenAPI` document must describe exactly these.
pub const ROUTES: &[Route] =
    &[Route::SubmitEvent, Route::ListEvents, Route::GetEvent, Route::Health, Route::Ready, Route::Metrics];

/// The one path that needs no token.
const OPEN_PATH: &str = "/v1/health";

impl Route {
    /// The HTTP method.
    pub const fn method(self) -> &'static str {
        match self {
            Self::SubmitEvent => "POST",
            Self::ListEvents | Self::GetEvent | Self::Health | Self::Ready | Self::Metrics => "GET",
        }
    }

    /// The path, with `{id}` for the event id.
    pub const fn path(self) -> &'static str {
        match self {
            Self::SubmitEvent | Self::ListEvents => "/v1/events",
            Self::GetEvent => "/v1/events/{id}",
            Self::Health => OPEN_PATH,
            Self::Ready => "/v1/ready",
            Self::Metrics => "/metrics",
        }
    }

    fn handler<B: ApiBackend>(self) -> MethodRouter<Shared<B>> {
        match self {
            Self::SubmitEvent => post(submit_event::<B>),
            Self::ListEvents => get(list_events::<B>),
            Self::GetEvent => get(get_event::<B>),
            Self::Health => get(health),
            Self::Ready => get(ready::<B>),
            Self::Metrics => get(metrics::<B>),
        }
    }
}

struct Shared<B> {
    backend: Arc<B>,
    metrics: Arc<Metrics>,
}

impl<B> Clone for Shared<B> {
    fn clone(&self) -> Self {
        Self { backend: Arc::clone(&self.backend), metrics: Arc::clone(&self.metrics) }
    }
}

#[derive(Clone)]
struct Guard {
    token: Option<BearerToken>,
    in_flight: Arc<Semaphore>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

/// The API's router: every route of [`ROUTES`], the token check, per-client rate limits and the body
/// limit, with every error in the JSON error shape.
///
/// Serve it with connect info (`into_make_service_with_connect_info::<SocketAddr>`, as
/// [`super::serve`] does) so that each client gets its own rate; without it all clients share one.
pub fn router<B: ApiBackend>(backend: Arc<B>, config: ApiConfig, metrics: Arc<Metrics>) -> Router {
    let guard = Guard {
        token: config.token.and_then(BearerToken::new),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        limiter: Arc::new(RateLimiter::new(config.rate, config.max_clients)),
        metrics: Arc::clone(&metrics),
    };
    let mut app = Router::new();
    for route in ROUTES {
        app = app.route(route.path(), route.handler::<B>());
    }
    app.fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn_with_state(guard.clone(), require_token))
        .layer(middleware::from_fn_with_state(guard.clone(), limit_in_flight))
        .layer(middleware::from_fn_with_state(guard, limit_rate))
        .with_state(Shared { backend, metrics })
}

#[expect(clippy::disallowed_methods, reason = "the adapters own the clock; the limiter takes `now`")]
fn now() -> Instant {
    Instant::now()
}

async fn limit_rate(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip().to_canonical());
    match guard.limiter.check(client, now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            guard.metrics.rejected("api_rate_limited");
            tracing::debug!(%client, "rate limited");
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(ErrorCode::RateLimited, "too many requests from this client")
                .retry_after(seconds.max(1))
                .into_response()
        }
    }
}

async fn limit_in_flight(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if request.uri().path() == OPEN_PATH {
        return next.run(request).await;
    }
    let Ok(permit) = Arc::clone(&guard.in_flight).try_acquire_owned() else {
        guard.metrics.rejected("api_overloaded");
        return ApiError::new(ErrorCode::Busy, "too many requests in flight")
            .retry_after(BUSY_RETRY_AFTER_SECS)
            .into_response();
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

async fn require_token(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match &guard.token {
        Some(token) if request.uri().path() != OPEN_PATH && !token.admits(request.headers()) => {
            guard.metrics.rejected("api_unauthorized");
            ApiError::new(ErrorCode::Unauthorized, "a valid bearer token is required").into_response()
        }
        _ => next.run(request).await,
    }
}

async fn route_not_found() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept the method")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn submit_event<B: ApiBackend>(
    State(shared): State<Shared<B>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SubmitView>), ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "the body must be application/json"));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "the body is above the body limit")
        } else {
            ApiError::new(ErrorCode::MalformedJson, rejection.body_text())
        }
    })?;
    let request: SubmitRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(ErrorCode::MalformedJson, format!("expected {{\"event\": \"<hex>\"}}: {e}"))
    })?;
    let bytes = hex::decode(request.event.trim())
        .map_err(|e| ApiError::new(ErrorCode::BadHex, format!("event is not hex: {e}")))?;
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            ErrorCode::EventTooLarge,
            format!("the event is {} bytes, above {MAX_EVENT_BYTES}", bytes.len()),
        ));
    }
    let event = Event::decode(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::UndecodableEvent, format!("not an event: {e}")))?;
    shared.metrics.submitted();
    let claimed = event.id();
    let event_id = shared.backend.submit(event).await.map_err(|e| {
        tracing::info!(event = %claimed, reason = %e, "event not taken");
        ApiError::from(e)
    })?;
    tracing::info!(event = %event_id, "event submitted");
    Ok((StatusCode::ACCEPTED, Json(SubmitView { event_id })))
}

fn parse_event_id(s: &str) -> Result<EventId, ApiError> {
    parse_id32(s)
        .map(EventId)
        .ok_or_else(|| ApiError::new(ErrorCode::MalformedEventId, "an event id is 64 hex characters"))
}

async fn get_event<B: ApiBackend>(
    State(shared): State<Shared<B>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<EventView>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::new(ErrorCode::MalformedEventId, e.body_text()))?;
    let event_id = parse_event_id(&id)?;
    let status = shared
        .backend
        .status(event_id)
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::EventNotFound, format!("no event {event_id}")))?;
    Ok(Json(EventView::new(event_id, &status)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<StateFilter>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn list_events<B: ApiBackend>(
    State(shared): State<Shared<B>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ListView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(ErrorCode::BadQuery, e.body_text()))?;
    let after = query
        .after
        .as_deref()
        .map(|s| parse_id32(s).map(EventId))
        .map(|id| id.ok_or_else(|| ApiError::new(ErrorCode::BadQuery, "after is 64 hex characters")))
        .transpose()?;
    let limit = match query.limit {
        None => DEFAULT_PAGE,
        Some(0) => return Err(ApiError::new(ErrorCode::BadQuery, "limit must be at least 1")),
        Some(n) => n.min(MAX_PAGE),
    };
    let mut page = shared.backend.list(query.state, after, limit + 1).await;
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more { page.last().map(|(id, _)| *id) } else { None };
    let events = page.iter().map(|(id, status)| EventSummary::from(EventView::new(*id, status))).collect();
    Ok(Json(ListView { events, next }))
}

async fn health() -> Json<HealthView> {
    Json(HealthView { status: "ok".to_owned() })
}

async fn ready<B: ApiBackend>(State(shared): State<Shared<B>>) -> (StatusCode, Json<ReadyView>) {
    let readiness = shared.backend.readiness().await;
    let ready = readiness.ready();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(ReadyView { ready, readiness }))
}

async fn metrics<B: ApiBackend>(State(shared): State<Shared<B>>) -> Response {
    let mut response = shared.metrics.render().into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
