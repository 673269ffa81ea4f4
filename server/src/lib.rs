//! Parole's sync server: receives the responses interviewers fill offline, exactly once,
//! and hands them to coordinators and analysts. axum over PostgreSQL (sqlx).
//!
//! - [`run`]: what `parole serve` calls: embedded PostgreSQL unless a URL is given,
//!   migrations, the first admin, the server, a graceful shutdown.
//! - [`serve`] / [`router`]: the server on an already bound listener (tests bind
//!   `127.0.0.1:0`), and the bare router (for `tower::ServiceExt::oneshot`).
//! - [`auth`]: accounts ([`create_user`], [`ensure_admin`]), tokens, enrolment codes.
//! - [`db`]: the storage layer, one module, one error type.
//! - [`sync`]: receiving a batch of responses; [`export`]: NDJSON and CSV exports.
//! - [`attachment`]: photos, named by their SHA-256, and the photos a response names.
//! - the phone app's static files (`web/`) at `/app/`, see [`http`].
//! - [`embedded_pg`]: PostgreSQL as a child process.
//! - `testing` (feature `test-support`): a fresh migrated database per test.

pub mod attachment;
pub mod auth;
pub mod db;
pub mod domain;
pub mod embedded_pg;
pub mod error;
pub mod export;
pub mod http;
pub mod metrics;
pub mod rollup;
pub mod sync;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod throttle;
pub mod xlsform;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

pub use auth::{create_user, ensure_admin, set_password, UserError};
pub use db::DbError;
pub use domain::Slug;
pub use error::AppError;
pub use http::router;

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Parsed published questionnaire versions, by `(slug, version)`.
    pub cache: Arc<sync::QuestionnaireCache>,
    /// The phone app's static files, served at `/app/`.
    pub web_dir: PathBuf,
    /// Failed logins and enrolment codes, for the lock-outs.
    pub throttles: Arc<throttle::Throttles>,
    /// The exports' share of the database connections (a quarter of the pool, at least
    /// one): an export streams from a cursor that holds a connection for its whole length,
    /// so slow readers could otherwise starve sync. Past it, an export gets 503.
    pub exports: Arc<tokio::sync::Semaphore>,
    /// How long a request may take, by kind.
    pub time_limits: http::TimeLimits,
    /// The embedded PostgreSQL's restarts, for `/readyz`.
    pub database: Arc<DatabaseHealth>,
    /// Behind a TLS reverse proxy (`--behind-proxy`): the client's address, for the
    /// lock-outs, is the one the proxy appended to `X-Forwarded-For`, not the proxy's own.
    pub behind_proxy: bool,
    /// The SHA-256 (hex) of the token a Prometheus scraper may read `/metrics` with
    /// (`PAROLE_METRICS_TOKEN`); staff accounts may read it anyway.
    pub metrics_token_hash: Option<String>,
    /// A streaming replica for the exports and summaries (`--read-database-url`), used only
    /// once it has replayed everything the primary had committed (see
    /// [`AppState::read_pool`]).
    pub replica: Option<PgPool>,
}

/// What `/readyz` says of the embedded PostgreSQL beyond answering a query: whether it is
/// being restarted, and how often it was.
#[derive(Debug, Default)]
pub struct DatabaseHealth {
    restarts: std::sync::atomic::AtomicU32,
    down_since: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl DatabaseHealth {
    fn went_down(&self) {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(chrono::Utc::now());
    }

    fn came_back(&self) {
        self.restarts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// How many times the embedded PostgreSQL was restarted since start-up.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Since when it is down and being restarted, if it is.
    pub fn down_since(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the phone app's files are when `PAROLE_WEB_DIR` is not set: the repository's
/// `web/`, beside this crate.
pub const DEFAULT_WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");

impl AppState {
    /// The state over a migrated pool, serving the web app from `PAROLE_WEB_DIR` when set,
    /// else from [`DEFAULT_WEB_DIR`].
    pub fn new(pool: PgPool) -> Self {
        let pool_size = pool.options().get_max_connections();
        let web_dir = std::env::var_os("PAROLE_WEB_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WEB_DIR));
        Self {
            pool,
            cache: Arc::new(sync::QuestionnaireCache::default()),
            web_dir,
            throttles: Arc::new(throttle::Throttles::default()),
            exports: Arc::new(tokio::sync::Semaphore::new((pool_size / 4).max(1) as usize)),
            time_limits: http::TimeLimits::default(),
            database: Arc::new(DatabaseHealth::default()),
            behind_proxy: false,
            metrics_token_hash: std::env::var("PAROLE_METRICS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(|t| auth::sha256_hex(&t)),
            replica: None,
        }
    }

    /// The pool a long read (an export, a summary) should use: the replica when there is
    /// one and it has replayed, within [`REPLICA_WAIT`], everything the primary had
    /// committed when asked — so such a read never misses a response the primary already
    /// acknowledged — else the primary (a replica lagging, down or unreachable costs the
    /// primary some load, never a wrong or short answer). Sync receipts, reviews and
    /// anything read right after a write always use the primary (`pool`).
    pub async fn read_pool(&self) -> PgPool {
        let Some(replica) = &self.replica else {
            return self.pool.clone();
        };
        match db::replica_caught_up(&self.pool, replica, REPLICA_WAIT).await {
            Ok(true) => replica.clone(),
            Ok(false) => {
                tracing::warn!(
                    "the read replica lags more than {REPLICA_WAIT:?}: reading the primary"
                );
                self.pool.clone()
            }
            Err(e) => {
                tracing::warn!(error = %e, "the read replica cannot be read: reading the primary");
                self.pool.clone()
            }
        }
    }

    /// The same state, serving the web app from `dir`.
    pub fn with_web_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.web_dir = dir.into();
        self
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight (graceful shutdown). The pool must be migrated.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_state(listener, AppState::new(pool), shutdown).await
}

/// [`serve`] with a given state.
pub async fn serve_state(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if !state.web_dir.join("index.html").is_file() {
        tracing::warn!(
            web_dir = %state.web_dir.display(),
            "no index.html in the web app's directory: /app/ will answer 404 (set PAROLE_WEB_DIR)"
        );
    }
    // With the client's address, for the lock-outs on guessing.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")
}

/// `parole serve`'s options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Where the embedded PostgreSQL keeps its data (default `./parole-data`), used only
    /// without `database_url`.
    pub data_dir: PathBuf,
    /// An external PostgreSQL (`PAROLE_DATABASE_URL`); `None` runs the embedded one.
    pub database_url: Option<String>,
    /// The server sits behind a reverse proxy that terminates TLS: only then may it listen
    /// on a non-loopback address (see [`check_listen`]).
    pub behind_proxy: bool,
    /// A streaming replica of the database for exports and summaries.
    pub read_database_url: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./parole-data"),
            database_url: None,
            behind_proxy: false,
            read_database_url: None,
        }
    }
}

/// Parole speaks plain HTTP: on a non-loopback address, tokens, passwords and answers would
/// cross the network in clear unless a TLS proxy sits in front. So such an address is
/// refused unless the operator says there is one (`--behind-proxy`).
pub fn check_listen(listen: SocketAddr, behind_proxy: bool) -> anyhow::Result<()> {
    if listen.ip().is_loopback() || behind_proxy {
        return Ok(());
    }
    anyhow::bail!(
        "refus d'écouter sur {listen} en HTTP simple : les jetons et les réponses y \
         circuleraient en clair. Placez Parole derrière un proxy HTTPS (Caddy, nginx : voir \
         deploy/) et ajoutez --behind-proxy (PAROLE_BEHIND_PROXY=1), ou écoutez sur \
         127.0.0.1. / refusing to listen on {listen} in plain HTTP: tokens and answers would \
         cross the network in clear. Put Parole behind an HTTPS proxy (Caddy, nginx: see \
         deploy/) and add --behind-proxy (PAROLE_BEHIND_PROXY=1), or listen on 127.0.0.1."
    )
}

impl ServeOptions {
    /// The defaults, with `database_url` from `PAROLE_DATABASE_URL` when set.
    pub fn from_env() -> Self {
        Self {
            database_url: std::env::var("PAROLE_DATABASE_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            ..Self::default()
        }
    }
}

/// How long a long read waits for the read replica to catch up with the primary before
/// reading the primary instead.
pub const REPLICA_WAIT: Duration = Duration::from_secs(2);

/// The database the embedded cluster holds Parole's data in.
const EMBEDDED_DB: &str = "parole";
/// How long requests in flight get after SIGTERM / Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Runs the server: the embedded PostgreSQL when no URL is given (with durable settings),
/// migrations, the `admin` account on first start (a generated password is printed ONCE to
/// stderr unless `PAROLE_ADMIN_PASSWORD` is set), then serves until SIGTERM or Ctrl-C, and
/// stops PostgreSQL cleanly.
pub async fn run(opts: ServeOptions) -> anyhow::Result<()> {
    check_listen(opts.listen, opts.behind_proxy)?;
    let mut embedded = None;
    let url = match &opts.database_url {
        Some(url) => url.clone(),
        None => {
            let pg =
                embedded_pg::EmbeddedPg::start(&opts.data_dir, embedded_pg::PgOptions::default())
                    .await
                    .with_context(|| {
                        format!(
                            "starting the embedded PostgreSQL in {}",
                            opts.data_dir.display()
                        )
                    })?;
            tracing::info!(socket_dir = %pg.socket_dir().display(), "embedded PostgreSQL started");
            db::ensure_database(&pg.connection_url("postgres"), EMBEDDED_DB).await?;
            let url = pg.connection_url(EMBEDDED_DB);
            embedded = Some(pg);
            url
        }
    };
    let health = Arc::new(DatabaseHealth::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let supervisor = embedded.map(|pg| {
        tokio::spawn(supervise(
            pg,
            opts.data_dir.clone(),
            health.clone(),
            stop_rx,
        ))
    });
    let result = run_with(&opts, &url, health).await;
    let _ = stop_tx.send(true);
    let stopped = match supervisor {
        Some(task) => task.await.ok().flatten(),
        None => None,
    };
    if let Some(pg) = stopped {
        if let Err(e) = pg.stop().await {
            tracing::error!(error = %e, "stopping PostgreSQL");
        } else {
            tracing::info!("embedded PostgreSQL stopped");
        }
    }
    result
}

/// Watches the embedded PostgreSQL and restarts it when it exits on its own, with a back-off
/// (1 s, doubling, at most a minute), saying so in the log and in `/readyz`. Returns it
/// once `stop` says so, for the caller to stop.
async fn supervise(
    mut pg: embedded_pg::EmbeddedPg,
    data_dir: PathBuf,
    health: Arc<DatabaseHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<embedded_pg::EmbeddedPg> {
    loop {
        tokio::select! {
            status = pg.wait_exit() => {
                health.went_down();
                tracing::error!(?status, "the embedded PostgreSQL exited: restarting it");
            }
            _ = stop.wait_for(|s| *s) => return Some(pg),
        }
        let mut delay = Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => return None,
            }
            match embedded_pg::EmbeddedPg::start(&data_dir, embedded_pg::PgOptions::default()).await
            {
                Ok(new) => {
                    if new.socket_dir() != pg.socket_dir() {
                        tracing::error!(
                            "the restarted PostgreSQL listens on another socket: restart Parole"
                        );
                    }
                    pg = new;
                    health.came_back();
                    tracing::warn!(
                        restarts = health.restarts(),
                        "the embedded PostgreSQL was restarted"
                    );
                    break;
                }
                Err(e) => {
                    delay = (delay * 2).min(Duration::from_secs(60));
                    tracing::error!(error = %e, retry_in = ?delay, "restarting the embedded PostgreSQL");
                }
            }
        }
    }
}

async fn run_with(
    opts: &ServeOptions,
    url: &str,
    health: Arc<DatabaseHealth>,
) -> anyhow::Result<()> {
    let pool = db::connect(url).await.context("connecting to PostgreSQL")?;
    db::migrate(&pool).await.context("running migrations")?;
    let password = std::env::var("PAROLE_ADMIN_PASSWORD").ok();
    if let Some(generated) = ensure_admin(&pool, password).await? {
        eprintln!(
            "Compte « admin » créé, mot de passe : {generated}\n\
             (affiché une seule fois : notez-le) / Account `admin` created, password shown once: {generated}"
        );
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "Parole listening");

    let cleanup = tokio::spawn(attachment::clean_up_unnamed(pool.clone()));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut state = AppState::new(pool.clone());
    let folding = tokio::spawn(rollup::fold_forever(pool.clone(), state.cache.clone()));
    state.database = health;
    state.behind_proxy = opts.behind_proxy;
    if let Some(url) = &opts.read_database_url {
        // Connected lazily: a replica down at start-up only means reading the primary.
        state.replica = Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(2))
                .connect_lazy(url)
                .context("the read replica's URL (--read-database-url)")?,
        );
    }
    let server = serve_state(listener, state, async move {
        let mut rx = rx;
        let _ = rx.wait_for(|stop| *stop).await;
    });
    tokio::pin!(server);
    let result = tokio::select! {
        r = &mut server => r,
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            let _ = tx.send(true);
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}: stopping anyway");
                    Ok(())
                }
            }
        }
    };
    cleanup.abort();
    folding.abort();
    pool.close().await;
    result
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
