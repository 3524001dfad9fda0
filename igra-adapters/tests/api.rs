//! The HTTP API against a mock backend, over real sockets on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use igra_adapters::api::client::{ApiClient, ClientError};
use igra_adapters::api::view::{EventView, ListView, ReadyView};
use igra_adapters::api::{
    ApiBackend, ApiConfig, ErrorBody, ErrorCode, ROUTES, RateConfig, Readiness, StateFilter, SubmitError,
    serve,
};
use igra_adapters::metrics::Metrics;
use igra_proto::event::operators::{OperatorAttestation, approve};
use igra_proto::event::policy::PolicyViolation;
use igra_proto::event::{Attestation, AttestationError, Event, EventSource, SourceKind};
use igra_proto::kaspa::script::pay_to_pubkey;
use igra_proto::node::{EventRefusal, EventStatus, Phase};
use igra_proto::template::Payment;
use igra_proto::wire::BoundedVec;
use igra_proto::{
    EventId, GroupId, LocalSigner, MemberIndex, QuorumCertificate, SignedVote, SigningPublicKey,
    TemplateHash, TransactionId, Vote,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------
// The mock node.

#[derive(Default)]
struct Mock {
    events: Mutex<BTreeMap<EventId, EventStatus>>,
    refuse: Mutex<Option<SubmitError>>,
    readiness: Mutex<Option<Readiness>>,
    /// `status` waits for a read lock of this: a test holding the write lock holds every status call.
    gate: tokio::sync::RwLock<()>,
    /// Status calls that have started.
    entered: AtomicUsize,
}

fn voting() -> EventStatus {
    EventStatus {
        phase: Phase::Voting,
        epoch: 0,
        round: 0,
        my_votes: vec![],
        lock: None,
        signed: None,
        signatures_per_input: vec![],
        equivocators: vec![],
        votes: vec![],
        transaction_id: None,
        released: false,
    }
}

const READY: Readiness = Readiness {
    storage_ok: true,
    peers_connected: 2,
    peers_total: 2,
    peers_needed: 1,
    chain_connected: true,
    chain_synced: true,
};

impl ApiBackend for Mock {
    async fn submit(&self, event: Event) -> Result<EventId, SubmitError> {
        if let Some(e) = self.refuse.lock().unwrap().clone() {
            return Err(e);
        }
        let id = event.id();
        self.events.lock().unwrap().entry(id).or_insert_with(voting);
        Ok(id)
    }

    async fn status(&self, event_id: EventId) -> Option<EventStatus> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let _open = self.gate.read().await;
        self.events.lock().unwrap().get(&event_id).cloned()
    }

    async fn list(
        &self,
        filter: Option<StateFilter>,
        after: Option<EventId>,
        limit: usize,
    ) -> Vec<(EventId, EventStatus)> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| **id > a))
            .filter(|(_, s)| filter.is_none_or(|f| f.matches(&s.phase)))
            .take(limit)
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    async fn readiness(&self) -> Readiness {
        self.readiness.lock().unwrap().unwrap_or(READY)
    }
}

// ---------------------------------------------------------------------------------------------------
// Real events: operator-attested, signed with real keys.

fn operator() -> LocalSigner {
    LocalSigner::from_secrets([200; 32], [200; 32]).unwrap()
}

fn event(tag: u16) -> Event {
    let mut external_id = [0u8; 32];
    external_id[..2].copy_from_slice(&tag.to_le_bytes());
    let mut event = Event {
        source: EventSource { kind: SourceKind::Operators, id: 0 },
        external_id,
        payment: Payment {
            destination: pay_to_pubkey(&SigningPublicKey([0x42; 32])),
            amount: 100_000_000 + u64::from(tag),
        },
        attestation: Attestation::Operators(OperatorAttestation { approvals: BoundedVec::new() }),
    };
    let approval = approve(&operator(), 0, GroupId([5; 32]), &event.id()).unwrap();
    event.attestation =
        Attestation::Operators(OperatorAttestation { approvals: vec![approval].try_into().unwrap() });
    event
}

fn event_hex(event: &Event) -> String {
    hex::encode(event.encode().unwrap().as_slice())
}

// ---------------------------------------------------------------------------------------------------
// A server on its own runtime, stopped (gracefully) on drop.

struct Server {
    addr: SocketAddr,
    backend: Arc<Mock>,
    metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(config: ApiConfig) -> Self {
        let backend = Arc::new(Mock::default());
        let metrics = Arc::new(Metrics::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (b, m) = (Arc::clone(&backend), Arc::clone(&metrics));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                serve(listener, b, config, m, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().unwrap();
        Self { addr, backend, metrics, stop: Some(stop), thread: Some(thread) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn client(&self, token: Option<&str>) -> ApiClient {
        ApiClient::new(&self.url(""), token.map(str::to_owned))
    }

    /// Stops the server and returns what `serve` returned.
    fn stop(mut self) -> std::io::Result<()> {
        self.stop.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The error body, checked to be exactly the documented shape with a known code.
    fn error(&self) -> ErrorCode {
        let body: ErrorBody = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not an error body ({e}): {}", String::from_utf8_lossy(&self.body)));
        let code = ErrorCode::parse(&body.error.code).unwrap();
        assert_eq!(code.status().as_u16(), self.status, "status of {code}");
        assert!(!body.error.message.is_empty());
        code
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().read_to_vec().unwrap();
    Answer { status, headers, body }
}

fn get(url: &str, token: Option<&str>) -> Answer {
    let mut request = agent().get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    answer(request.call())
}

fn post(url: &str, content_type: &str, body: &[u8]) -> Answer {
    answer(agent().post(url).content_type(content_type).send(body))
}

fn post_event(url: &str, hex: &str) -> Answer {
    post(url, "application/json", serde_json::json!({ "event": hex }).to_string().as_bytes())
}

/// A server whose rate limit no test here reaches unless it means to.
fn open_server() -> Server {
    Server::start(ApiConfig {
        rate: RateConfig { per_second: 10_000.0, burst: 10_000 },
        ..ApiConfig::default()
    })
}

// ---------------------------------------------------------------------------------------------------

#[test]
fn api_submit_is_accepted_and_idempotent() {
    let server = open_server();
    let e = event(1);
    for _ in 0..2 {
        let a = post_event(&server.url("/v1/events"), &event_hex(&e));
        assert_eq!(a.status, 202);
        assert_eq!(a.json(), serde_json::json!({ "event_id": e.id().to_string() }));
    }
    assert_eq!(server.backend.events.lock().unwrap().len(), 1);
    // A charset parameter on the content type is fine.
    let a = post(
        &server.url("/v1/events"),
        "application/json; charset=utf-8",
        serde_json::json!({ "event": event_hex(&e) }).to_string().as_bytes(),
    );
    assert_eq!(a.status, 202);
    let a = get(&server.url(&format!("/v1/events/{}", e.id())), None);
    assert_eq!(a.status, 200);
    let view: EventView = serde_json::from_slice(&a.body).unwrap();
    assert_eq!((view.event_id, view.phase, view.round), (e.id(), StateFilter::Voting, 0));
    server.stop().unwrap();
}

#[test]
fn api_status_carries_the_audit_trail() {
    let server = open_server();
    let id = event(2).id();
    let template = TemplateHash([7; 32]);
    let tx = TransactionId([8; 32]);
    let vote = Vote { event_id: id, epoch: 1, round: 3, template_hash: template };
    let signers: Vec<_> = (1u8..=2).map(|i| LocalSigner::from_secrets([i; 32], [i; 32]).unwrap()).collect();
    let votes: Vec<_> = signers
        .iter()
        .zip([2u8, 0])
        .map(|(s, i)| SignedVote::sign(vote, MemberIndex(i), GroupId([5; 32]), s).unwrap())
        .collect();
    let status = EventStatus {
        phase: Phase::Submitted { transaction_id: tx },
        epoch: 1,
        round: 3,
        my_votes: vec![(2, TemplateHash([6; 32])), (3, template)],
        lock: Some(QuorumCertificate::from_votes(&votes).unwrap()),
        signed: Some(template),
        signatures_per_input: vec![2, 2],
        equivocators: vec![MemberIndex(4)],
        votes: vec![(3, MemberIndex(0), template), (3, MemberIndex(2), template)],
        transaction_id: Some(tx),
        released: false,
    };
    server.backend.events.lock().unwrap().insert(id, status);
    let a = get(&server.url(&format!("/v1/events/{id}")), None);
    assert_eq!(a.status, 200);
    let t = template.to_string();
    assert_eq!(
        a.json(),
        serde_json::json!({
            "event_id": id.to_string(),
            "phase": "submitted",
            "epoch": 1,
            "round": 3,
            "my_votes": [
                { "round": 2, "template_hash": TemplateHash([6; 32]).to_string() },
                { "round": 3, "template_hash": t },
            ],
            "lock": { "epoch": 1, "round": 3, "template_hash": t, "voters": [0, 2] },
            "signed_template": t,
            "signatures_per_input": [2, 2],
            "equivocators": [4],
            "votes": [
                { "round": 3, "voter": 0, "template_hash": t },
                { "round": 3, "voter": 2, "template_hash": t },
            ],
            "transaction_id": tx.to_string(),
            "released": false,
        })
    );
}

#[test]
fn api_refusals_have_their_status_and_code() {
    let server = open_server();
    let url = server.url("/v1/events");
    let cases = [
        (
            SubmitError::Refused(EventRefusal::Attestation(AttestationError::KindMismatch)),
            422,
            ErrorCode::AttestationRefused,
        ),
        (SubmitError::Refused(EventRefusal::Policy(PolicyViolation::Paused)), 403, ErrorCode::PolicyRefused),
        (SubmitError::Refused(EventRefusal::TooLarge), 413, ErrorCode::EventTooLarge),
        (SubmitError::Refused(EventRefusal::Busy), 503, ErrorCode::Busy),
        (SubmitError::NotReady, 503, ErrorCode::NotReady),
        (SubmitError::Stopped, 503, ErrorCode::Stopped),
        (SubmitError::Internal("disk on fire".into()), 500, ErrorCode::Internal),
    ];
    for (refusal, status, code) in cases {
        *server.backend.refuse.lock().unwrap() = Some(refusal);
        let a = post_event(&url, &event_hex(&event(3)));
        assert_eq!(a.status, status, "{code}");
        assert_eq!(a.error(), code);
        assert_eq!(a.header("retry-after"), (code == ErrorCode::Busy).then_some("1"), "{code}");
    }
    assert!(server.backend.events.lock().unwrap().is_empty());
    let refused = server.metrics.render();
    assert!(refused.contains("igra_events_submitted_total 7"), "{refused}");
}

#[test]
fn api_malformed_requests_are_json_errors() {
    let server = Server::start(ApiConfig {
        body_limit: 4096,
        rate: RateConfig { per_second: 10_000.0, burst: 10_000 },
        ..ApiConfig::default()
    });
    let url = server.url("/v1/events");
    let e = event(4);
    let cases: Vec<(Answer, ErrorCode)> = vec![
        (post(&url, "application/json", b"{\"event\": "), ErrorCode::MalformedJson),
        (post(&url, "application/json", b"{\"evnt\": \"00\"}"), ErrorCode::MalformedJson),
        (post(&url, "application/json", b"[1, 2]"), ErrorCode::MalformedJson),
        (post(&url, "text/plain", event_hex(&e).as_bytes()), ErrorCode::UnsupportedMediaType),
        (post(&url, "application/jsonx", b"{}"), ErrorCode::UnsupportedMediaType),
        (post_event(&url, &"ab".repeat(4096)), ErrorCode::PayloadTooLarge),
        (post_event(&url, "xyz"), ErrorCode::BadHex),
        (post_event(&url, "abc"), ErrorCode::BadHex),
        (post_event(&url, "00ff00ff"), ErrorCode::UndecodableEvent),
        (post_event(&url, &format!("{}00", event_hex(&e))), ErrorCode::UndecodableEvent),
        (get(&server.url(&format!("/v1/events/{}", e.id())), None), ErrorCode::EventNotFound),
        (get(&server.url("/v1/events/abcd"), None), ErrorCode::MalformedEventId),
        (get(&server.url(&format!("/v1/events/{}", "zz".repeat(32))), None), ErrorCode::MalformedEventId),
        (get(&server.url("/v1/events?state=pending"), None), ErrorCode::BadQuery),
        (get(&server.url("/v1/events?limit=0"), None), ErrorCode::BadQuery),
        (get(&server.url("/v1/events?limit=-3"), None), ErrorCode::BadQuery),
        (get(&server.url("/v1/events?after=12"), None), ErrorCode::BadQuery),
        (get(&server.url("/v1/events?colour=blue"), None), ErrorCode::BadQuery),
        (get(&server.url("/v2/events"), None), ErrorCode::RouteNotFound),
        (answer(agent().delete(&url).call()), ErrorCode::MethodNotAllowed),
        (post(&server.url("/v1/health"), "application/json", b"{}"), ErrorCode::MethodNotAllowed),
    ];
    for (i, (a, code)) in cases.iter().enumerate() {
        assert_eq!(a.error(), *code, "case {i}: {}", String::from_utf8_lossy(&a.body));
    }
    assert!(server.backend.events.lock().unwrap().is_empty());
    // The server still serves after all of that.
    assert_eq!(post_event(&url, &event_hex(&e)).status, 202);
}

#[test]
fn api_token_protects_everything_but_health() {
    let server = Server::start(ApiConfig {
        token: Some("correct horse battery staple".into()),
        rate: RateConfig { per_second: 10_000.0, burst: 10_000 },
        ..ApiConfig::default()
    });
    for path in ["/v1/ready", "/v1/events", "/metrics", "/v1/nowhere"] {
        for token in [None, Some("wrong"), Some("correct horse battery stapl")] {
            let a = get(&server.url(path), token);
            assert_eq!(a.error(), ErrorCode::Unauthorized, "{path} {token:?}");
            assert_eq!(a.header("www-authenticate"), Some("Bearer"));
        }
    }
    let a = post_event(&server.url("/v1/events"), &event_hex(&event(5)));
    assert_eq!(a.error(), ErrorCode::Unauthorized);
    assert!(server.backend.events.lock().unwrap().is_empty());
    assert_eq!(get(&server.url("/v1/health"), None).status, 200);
    let token = Some("correct horse battery staple");
    assert_eq!(get(&server.url("/v1/ready"), token).status, 200);
    assert_eq!(get(&server.url("/metrics"), token).status, 200);
    // The client sends its token; without one it gets the typed 401.
    let client = server.client(token);
    assert_eq!(client.submit(&event(5)).unwrap(), event(5).id());
    let anonymous = server.client(None);
    assert_eq!(anonymous.status(&event(5).id()).unwrap_err().code(), Some("unauthorized"));
    assert!(server.metrics.render().contains("igra_rejections_total{reason=\"api_unauthorized\"}"));
}

/// One HTTP/1.1 GET from the loopback address `from`, with no client library in between.
fn get_from(from: [u8; 4], server: SocketAddr, path: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let mut stream = socket.connect(server).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: igra\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response);
        text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap()
    })
}

#[test]
fn api_flooding_client_is_limited_and_others_are_served() {
    // One token per hundred seconds: the flood cannot refill during the test.
    let server =
        Server::start(ApiConfig { rate: RateConfig { per_second: 0.01, burst: 5 }, ..ApiConfig::default() });
    for _ in 0..5 {
        assert_eq!(get(&server.url("/v1/ready"), None).status, 200);
    }
    for _ in 0..20 {
        let a = get(&server.url("/v1/ready"), None);
        assert_eq!(a.error(), ErrorCode::RateLimited);
        let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=100).contains(&retry), "retry after {retry}");
    }
    // Another client, from another loopback address, still has its whole burst.
    for _ in 0..5 {
        assert_eq!(get_from([127, 0, 0, 2], server.addr, "/v1/health"), 200);
    }
    assert_eq!(get_from([127, 0, 0, 2], server.addr, "/v1/health"), 429);
    assert_eq!(get_from([127, 0, 0, 3], server.addr, "/v1/ready"), 200);
    assert!(server.metrics.render().contains("igra_rejections_total{reason=\"api_rate_limited\"} 21"));
    server.stop().unwrap();
}

#[test]
fn api_requests_in_flight_are_bounded() {
    let server = Server::start(ApiConfig {
        max_in_flight: 2,
        rate: RateConfig { per_second: 10_000.0, burst: 10_000 },
        ..ApiConfig::default()
    });
    let url = server.url(&format!("/v1/events/{}", event(12).id()));
    let held = server.backend.gate.blocking_write();
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || get(&url, None).error())
        })
        .collect();
    // Wait (bounded) until both requests are inside the backend.
    for _ in 0..6000 {
        if server.backend.entered.load(Ordering::SeqCst) >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        server.backend.entered.load(Ordering::SeqCst),
        2,
        "the two requests never reached the backend"
    );
    let a = get(&url, None);
    assert_eq!(a.error(), ErrorCode::Busy);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert_eq!(get(&server.url("/v1/health"), None).status, 200, "health is exempt");
    drop(held);
    for request in waiting {
        assert_eq!(request.join().unwrap(), ErrorCode::EventNotFound);
    }
    assert_eq!(get(&url, None).error(), ErrorCode::EventNotFound, "permits are given back");
    assert!(server.metrics.render().contains("igra_rejections_total{reason=\"api_overloaded\"} 1"));
}

#[test]
fn api_pages_through_events_with_cursors() {
    let server = open_server();
    let client = server.client(None);
    let mut ids: Vec<EventId> = (0..120).map(|t| client.submit(&event(t)).unwrap()).collect();
    ids.sort();
    // Mark every third event confirmed.
    for id in ids.iter().step_by(3) {
        server.backend.events.lock().unwrap().get_mut(id).unwrap().phase =
            Phase::Confirmed { transaction_id: TransactionId([9; 32]) };
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut after = None;
    loop {
        let page: ListView = client.list(None, after.as_ref(), None).unwrap();
        sizes.push(page.events.len());
        seen.extend(page.events.iter().map(|e| e.event_id));
        match page.next {
            Some(next) => {
                assert_eq!(Some(&next), seen.last());
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, ids);

    let confirmed = client.list(Some(StateFilter::Confirmed), None, Some(500)).unwrap();
    assert_eq!(confirmed.events.len(), 40);
    assert!(
        confirmed
            .events
            .iter()
            .all(|e| e.phase == StateFilter::Confirmed && e.transaction_id == Some(TransactionId([9; 32])))
    );
    assert_eq!(confirmed.next, None);

    // Over the maximum is clamped to it, not refused.
    let a = get(&server.url("/v1/events?state=voting&limit=100000"), None);
    let all: ListView = serde_json::from_slice(&a.body).unwrap();
    assert_eq!((all.events.len(), all.next), (80, None));

    let page = client.list(Some(StateFilter::Voting), None, Some(7)).unwrap();
    assert_eq!(page.events.len(), 7);
    let rest = client.list(Some(StateFilter::Voting), page.next.as_ref(), Some(500)).unwrap();
    assert_eq!(rest.events.len(), 73);
    assert!(rest.events[0].event_id > page.events[6].event_id);
}

#[test]
fn api_health_ready_and_metrics() {
    let server = open_server();
    let client = server.client(None);
    assert_eq!(client.health().unwrap().status, "ok");
    let ready = client.ready().unwrap();
    assert_eq!(ready, ReadyView { ready: true, readiness: READY });
    let behind = Readiness { chain_synced: false, ..READY };
    *server.backend.readiness.lock().unwrap() = Some(behind);
    let a = get(&server.url("/v1/ready"), None);
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["ready"], false);
    assert_eq!(a.json()["chain_synced"], false);
    assert_eq!(client.ready().unwrap(), ReadyView { ready: false, readiness: behind });
    let alone = Readiness { peers_connected: 0, ..READY };
    assert!(!alone.ready());
    assert!(Readiness { peers_needed: 0, ..alone }.ready());

    server.metrics.peers_connected(2);
    let a = get(&server.url("/metrics"), None);
    assert_eq!(a.status, 200);
    assert!(a.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let text = String::from_utf8(a.body).unwrap();
    for name in [
        "igra_events{phase=\"voting\"}",
        "igra_events{phase=\"abandoned\"}",
        "igra_events_submitted_total",
        "igra_events_accepted_total",
        "igra_events_refused_total{reason=\"policy\"} 0",
        "igra_event_rounds_bucket",
        "igra_event_finalize_seconds_bucket",
        "igra_event_confirm_seconds_bucket",
        "igra_frames_in_total{kind=\"vote\"} 0",
        "igra_frames_out_total{kind=\"signatures\"} 0",
        "igra_frame_bytes_in_total{kind=\"event\"} 0",
        "igra_frame_bytes_out_total{kind=\"template\"} 0",
        "igra_rejections_total{reason=\"bad_signature\"} 0",
        "igra_peers_connected 2",
        "igra_persist_seconds_bucket",
        "igra_persist_batch_records_bucket",
        "# EOF",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

#[test]
fn api_client_round_trips_and_typed_errors() {
    let server = open_server();
    let client = server.client(None);
    let e = event(9);
    assert_eq!(client.submit(&e).unwrap(), e.id());
    assert_eq!(client.submit(&e).unwrap(), e.id());
    let view = client.status(&e.id()).unwrap().unwrap();
    assert_eq!((view.event_id, view.phase), (e.id(), StateFilter::Voting));
    assert_eq!(client.status(&event(10).id()).unwrap(), None);
    *server.backend.refuse.lock().unwrap() =
        Some(SubmitError::Refused(EventRefusal::Policy(PolicyViolation::DestinationDenied)));
    match client.submit(&event(11)) {
        Err(ClientError::Http { status: 403, error: Some(body) }) => {
            assert_eq!(body.error.code, "policy_refused");
            assert!(body.error.message.contains("policy"), "{}", body.error.message);
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    let addr = server.addr;
    server.stop().unwrap();
    // The server is gone: a connection error, not an HTTP one.
    let gone = ApiClient::new(&format!("http://{addr}"), None);
    assert!(matches!(gone.health(), Err(ClientError::Connect(_))));
}

// ---------------------------------------------------------------------------------------------------
// The OpenAPI document describes exactly the router.

#[test]
fn api_openapi_document_matches_the_router() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
                let responses = operation["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path} has no responses");
            }
        }
    }
    documented.sort();
    let mut served: Vec<_> = ROUTES.iter().map(|r| (r.method().to_owned(), r.path().to_owned())).collect();
    served.sort();
    assert_eq!(documented, served);

    let mut codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    codes.sort_unstable();
    let mut ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    ours.sort_unstable();
    assert_eq!(codes, ours, "documented error codes differ from ErrorCode::ALL");

    // Every error status the document gives an operation is the status of some code, and every code's
    // status appears somewhere in the document.
    let text = serde_json::to_string(&doc).unwrap();
    for code in ErrorCode::ALL {
        assert!(text.contains(&format!("\"{}\"", code.status().as_u16())), "{code}'s status undocumented");
    }
}
