//! What `/metrics` shows, in Prometheus' text format (OpenMetrics): requests by route and
//! status with their latency, sync results by status and batch sizes, export rows by
//! format, the database pool's use, and the embedded PostgreSQL's restarts. Labels carry
//! route templates (`/api/v1/responses/{id}`), never ids, tokens or answers.
//!
//! The counters are the process's ([`METRICS`]): each replica shows its own; Prometheus sums
//! them.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use parole_client::api::ItemStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FormatLabels {
    format: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sync_results: Family<StatusLabels, Counter>,
    batch_size: Histogram,
    export_rows: Family<FormatLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    pool_busy: Counter,
    pg_restarts: Gauge,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("parole");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer (for exports: to start streaming), by method and route",
            latency.clone(),
        );
        let sync_results = Family::<StatusLabels, Counter>::default();
        registry.register(
            "sync_responses",
            "Pushed responses by result: accepted, duplicate, rejected, conflict",
            sync_results.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "sync_batch_size",
            "Responses per sync batch",
            batch_size.clone(),
        );
        let export_rows = Family::<FormatLabels, Counter>::default();
        registry.register(
            "export_rows",
            "Responses written by exports, by format",
            export_rows.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of the pool: idle, in_use, max",
            pool.clone(),
        );
        let pool_busy = Counter::default();
        registry.register(
            "db_pool_timeouts",
            "Requests answered 503 because no database connection freed up in time",
            pool_busy.clone(),
        );
        let pg_restarts = Gauge::default();
        registry.register(
            "embedded_postgres_restarts",
            "Times the embedded PostgreSQL was restarted since this server started",
            pg_restarts.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            sync_results,
            batch_size,
            export_rows,
            pool,
            pool_busy,
            pg_restarts,
        }
    }

    /// One sync batch's results.
    pub fn sync_batch<'a>(&self, statuses: impl ExactSizeIterator<Item = &'a ItemStatus>) {
        self.batch_size.observe(statuses.len() as f64);
        for s in statuses {
            let status = match s {
                ItemStatus::Accepted => "accepted",
                ItemStatus::Duplicate => "duplicate",
                ItemStatus::Rejected => "rejected",
                ItemStatus::Conflict => "conflict",
            };
            self.sync_results
                .get_or_create(&StatusLabels {
                    status: status.into(),
                })
                .inc();
        }
    }

    /// `rows` more responses written by an export in `format`.
    pub fn export_rows(&self, format: &str, rows: u64) {
        self.export_rows
            .get_or_create(&FormatLabels {
                format: format.into(),
            })
            .inc_by(rows);
    }

    /// A request found no free database connection in time.
    pub fn pool_timed_out(&self) {
        self.pool_busy.inc();
    }

    /// The metrics as Prometheus reads them, the pool's and PostgreSQL's read now.
    pub fn render(&self, pool: &sqlx::PgPool, pg_restarts: u32) -> String {
        let idle = pool.num_idle() as i64;
        let size = i64::from(pool.size());
        for (state, n) in [
            ("idle", idle),
            ("in_use", size - idle),
            ("max", i64::from(pool.options().get_max_connections())),
        ] {
            self.pool
                .get_or_create(&PoolLabels {
                    state: state.into(),
                })
                .set(n);
        }
        self.pg_restarts.set(i64::from(pg_restarts));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Middleware: counts each request by method, route template and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let m = &*METRICS;
    m.latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
