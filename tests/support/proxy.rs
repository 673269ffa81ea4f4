//! A fault-injecting HTTP proxy, put between the clients and the server. Each request draws
//! one fate from a seeded random generator: forwarded untouched, delayed, dropped before the
//! server sees it, answered with a truncated body after the server committed, answered with a
//! captive portal's HTML page, sent to the server twice, or held past the client's timeout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How often each fault happens, out of 100 requests (the rest are forwarded untouched).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub drop_request: u32,
    pub drop_response: u32,
    pub captive_portal: u32,
    pub duplicate: u32,
    pub delay: u32,
    pub hang: u32,
}

impl Faults {
    pub fn nasty() -> Self {
        Self {
            drop_request: 10,
            drop_response: 15,
            captive_portal: 5,
            duplicate: 10,
            delay: 20,
            hang: 2,
        }
    }
}

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub dropped_requests: AtomicU64,
    pub dropped_responses: AtomicU64,
    pub captive_portals: AtomicU64,
    pub duplicated: AtomicU64,
    pub delayed: AtomicU64,
    pub hung: AtomicU64,
    pub upstream_down: AtomicU64,
}

struct Shared {
    /// The servers behind, taken in turn (a load balancer without health checks: a dead
    /// one answers 502 until the client's retry lands on another).
    upstreams: Vec<String>,
    turn: AtomicU64,
    faults: Faults,
    hang_for: Duration,
    rng: Mutex<StdRng>,
    http: reqwest::Client,
    counters: Arc<Counters>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`). `hang_for` should exceed the
    /// clients' request timeout.
    pub async fn start(upstream: String, faults: Faults, seed: u64, hang_for: Duration) -> Self {
        Self::balancing(vec![upstream], faults, seed, hang_for).await
    }

    /// A proxy sending each request to the next of `upstreams` in turn (a duplicated
    /// request goes to two of them).
    pub async fn balancing(
        upstreams: Vec<String>,
        faults: Faults,
        seed: u64,
        hang_for: Duration,
    ) -> Self {
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            upstreams,
            turn: AtomicU64::new(0),
            faults,
            hang_for,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            http: reqwest::Client::new(),
            counters: counters.clone(),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            counters,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Fate {
    Forward,
    DropRequest,
    DropResponse,
    CaptivePortal,
    Duplicate,
    Delay(Duration),
    Hang,
}

fn draw(shared: &Shared) -> Fate {
    let mut rng = shared.rng.lock().unwrap();
    let f = shared.faults;
    let mut roll = rng.gen_range(0..100u32);
    for (weight, fate) in [
        (f.drop_request, 0),
        (f.drop_response, 1),
        (f.captive_portal, 2),
        (f.duplicate, 3),
        (f.delay, 4),
        (f.hang, 5),
    ] {
        if roll < weight {
            return match fate {
                0 => Fate::DropRequest,
                1 => Fate::DropResponse,
                2 => Fate::CaptivePortal,
                3 => Fate::Duplicate,
                4 => Fate::Delay(Duration::from_millis(rng.gen_range(10..300))),
                _ => Fate::Hang,
            };
        }
        roll -= weight;
    }
    Fate::Forward
}

/// A 200 whose body breaks off: the client sees a truncated response, as when a connection
/// dies after the server answered.
fn truncated() -> Response {
    let stream = futures::stream::iter([
        Ok(Bytes::from_static(b"{\"results\":[{\"id\":")),
        Err(std::io::Error::other("connection lost")),
    ]);
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn captive_portal() -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/html")],
        "<html><body><h1>Wi-Fi gratuit</h1><p>Acceptez les conditions pour continuer.</p></body></html>",
    )
        .into_response()
}

async fn forward(
    shared: &Shared,
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ()> {
    let turn = shared.turn.fetch_add(1, Ordering::Relaxed) as usize;
    let upstream = &shared.upstreams[turn % shared.upstreams.len()];
    let mut request = shared
        .http
        .request(method.clone(), format!("{upstream}{path}"))
        .body(body.clone());
    for name in ["authorization", "content-type", "if-none-match", "accept"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let upstream = request.send().await.map_err(|_| ())?;
    let status = upstream.status();
    let mut out_headers = HeaderMap::new();
    for name in ["content-type", "etag"] {
        if let Some(value) = upstream.headers().get(name) {
            out_headers.insert(name, value.clone());
        }
    }
    let bytes = upstream.bytes().await.map_err(|_| ())?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    Ok(response)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let fate = draw(&shared);
    let send = || forward(&shared, &parts.method, &path, &parts.headers, &body);
    let down = || {
        c.upstream_down.fetch_add(1, Ordering::Relaxed);
        (StatusCode::BAD_GATEWAY, "upstream down").into_response()
    };
    match fate {
        Fate::Forward => send().await.unwrap_or_else(|_| down()),
        Fate::DropRequest => {
            c.dropped_requests.fetch_add(1, Ordering::Relaxed);
            truncated()
        }
        Fate::DropResponse => {
            c.dropped_responses.fetch_add(1, Ordering::Relaxed);
            let _ = send().await;
            truncated()
        }
        Fate::CaptivePortal => {
            c.captive_portals.fetch_add(1, Ordering::Relaxed);
            captive_portal()
        }
        Fate::Duplicate => {
            c.duplicated.fetch_add(1, Ordering::Relaxed);
            let (first, second) = tokio::join!(send(), send());
            second.or(first).unwrap_or_else(|_| down())
        }
        Fate::Delay(d) => {
            c.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(d).await;
            let response = send().await;
            tokio::time::sleep(d).await;
            response.unwrap_or_else(|_| down())
        }
        Fate::Hang => {
            c.hung.fetch_add(1, Ordering::Relaxed);
            let response = send().await;
            tokio::time::sleep(shared.hang_for).await;
            response.unwrap_or_else(|_| down())
        }
    }
}
