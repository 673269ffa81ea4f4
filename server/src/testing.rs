//! The test harness (feature `test-support`): [`test_db`] gives each test a FRESH migrated
//! database, `t_<uuid>`, dropped when the [`TestDb`] is.
//!
//! The cluster: `PAROLE_TEST_DATABASE_URL` (an admin URL, e.g.
//! `postgres://postgres@%2Ftmp%2Fx/postgres`) when set; otherwise ONE embedded PostgreSQL per
//! test process, started lazily in a temporary directory with the fast, unsafe settings, and
//! shared by all the tests of the process. Each `#[tokio::test]` has its own runtime, so no
//! pool is kept across tests: only the cluster's URL is shared. The cluster dies with the
//! process (`PR_SET_PDEATHSIG`); data directories left by earlier, dead test processes are
//! removed at the next start.
//!
//! With `PAROLE_TEST_PGBOUNCER` (the path of a `pgbouncer` binary, 1.21 or later), the
//! tests reach their databases through PgBouncer in **transaction mode** instead, started
//! in front of the embedded cluster: each test's `pool` and `url` are PgBouncer's, while the
//! database is created and dropped on the cluster itself. `cargo xtask test` runs the sync
//! and export tests a second time so (see [`bouncer_admin_url`]).
//!
//! ```no_run
//! # async fn f() {
//! let db = parole_server::testing::test_db().await;
//! sqlx::query("select 1").execute(&db.pool).await.unwrap();
//! # }
//! ```

use std::path::PathBuf;
use std::sync::OnceLock;

use sqlx::{Connection, PgConnection, PgPool};

use crate::embedded_pg::{EmbeddedPg, PgOptions};

/// A fresh, migrated database for one test.
pub struct TestDb {
    pub pool: PgPool,
    /// Its URL (for a server or a client in another process).
    pub url: String,
    name: String,
    admin_url: String,
}

struct Cluster {
    admin_url: String,
    /// PgBouncer's socket directory, when the tests go through it.
    bouncer: Option<PathBuf>,
    _pg: Option<EmbeddedPg>,
}

/// The port number in PgBouncer's socket name (`.s.PGSQL.6432`); no TCP is opened.
const BOUNCER_PORT: u16 = 6432;

/// Starts PgBouncer (`bin`) in transaction mode in `dir`, in front of the PostgreSQL whose
/// socket is in `pg_socket_dir`; returns once its socket is there. It runs as PostgreSQL
/// does (the `postgres` user when we are root: it refuses root) and dies with the process.
fn start_bouncer(bin: &str, dir: &std::path::Path, pg_socket_dir: &std::path::Path) -> PathBuf {
    let owner = crate::embedded_pg::run_as().expect("the postgres user");
    std::fs::create_dir_all(dir).expect("PgBouncer's directory");
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown PgBouncer's directory");
    }
    std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").expect("users.txt");
    let ini = format!(
        "[databases]\n\
         * = host={pg} port={pg_port} user=postgres\n\
         [pgbouncer]\n\
         listen_addr =\n\
         listen_port = {BOUNCER_PORT}\n\
         unix_socket_dir = {dir}\n\
         auth_type = trust\n\
         auth_file = {dir}/users.txt\n\
         admin_users = postgres\n\
         pool_mode = transaction\n\
         max_prepared_statements = 1000\n\
         max_client_conn = 4000\n\
         default_pool_size = 8\n\
         ignore_startup_parameters = extra_float_digits\n\
         logfile = {dir}/pgbouncer.log\n",
        pg = pg_socket_dir.display(),
        pg_port = crate::embedded_pg::PORT,
        dir = dir.display(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).expect("pgbouncer.ini");
    // A copy the `postgres` user can reach (the checkout may be in a private directory).
    let copy = dir.join("pgbouncer");
    std::fs::copy(bin, &copy).unwrap_or_else(|e| panic!("copying {bin}: {e}"));
    let mut cmd = crate::embedded_pg::command(copy, owner);
    cmd.arg("-q")
        .arg(dir.join("pgbouncer.ini"))
        .stdin(std::process::Stdio::null());
    // Spawned from a thread that lives as long as the child: PR_SET_PDEATHSIG follows the
    // spawning thread, and a test's thread ends with the test.
    let (spawned_tx, spawned_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || match cmd.spawn() {
        Ok(mut child) => {
            let _ = spawned_tx.send(Ok(()));
            let _ = child.wait();
        }
        Err(e) => {
            let _ = spawned_tx.send(Err(e));
        }
    });
    if let Ok(Err(e)) = spawned_rx.recv() {
        panic!("starting PgBouncer ({bin}): {e}");
    }
    let socket = dir.join(format!(".s.PGSQL.{BOUNCER_PORT}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "PgBouncer did not start: see {}/pgbouncer.log",
            dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    dir.to_path_buf()
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

const DIR_PREFIX: &str = "parole-test-pg-";

fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !PathBuf::from(format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        if let Some(url) = std::env::var("PAROLE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            assert!(
                bouncer_bin().is_none(),
                "PAROLE_TEST_PGBOUNCER goes with the embedded cluster, not PAROLE_TEST_DATABASE_URL"
            );
            return Cluster {
                admin_url: url,
                bouncer: None,
                _pg: None,
            };
        }
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pg = EmbeddedPg::start_blocking(&dir, PgOptions::for_tests())
            .unwrap_or_else(|e| panic!("starting the test PostgreSQL in {}: {e}", dir.display()));
        let bouncer =
            bouncer_bin().map(|bin| start_bouncer(&bin, &dir.join("bouncer"), pg.socket_dir()));
        Cluster {
            admin_url: pg.connection_url("postgres"),
            bouncer,
            _pg: Some(pg),
        }
    })
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `PAROLE_TEST_PGBOUNCER`, when set.
fn bouncer_bin() -> Option<String> {
    std::env::var("PAROLE_TEST_PGBOUNCER")
        .ok()
        .filter(|b| !b.is_empty())
}

/// The URL of PgBouncer's admin console (`SHOW POOLS`…) when the tests go through it.
pub fn bouncer_admin_url() -> Option<String> {
    cluster()
        .bouncer
        .as_ref()
        .map(|dir| crate::embedded_pg::socket_url_on(dir, BOUNCER_PORT, "pgbouncer"))
}

/// The admin URL of the test cluster (starting it if needed).
pub fn cluster_admin_url() -> String {
    cluster().admin_url.clone()
}

/// A fresh database `t_<uuid>`, migrated.
pub async fn test_db() -> TestDb {
    let admin_url = cluster_admin_url();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test cluster: {e}"));
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let _ = admin.close().await;
    let url = match &cluster().bouncer {
        Some(dir) => crate::embedded_pg::socket_url_on(dir, BOUNCER_PORT, &name),
        None => with_database(&admin_url, &name),
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("connecting to the test database");
    crate::db::migrate(&pool).await.expect("migrations");
    TestDb {
        pool,
        url,
        name,
        admin_url,
    }
}

impl Drop for TestDb {
    /// Drops the database (best effort), from a thread of its own: the test's runtime may be
    /// shutting down.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let pool = self.pool.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                drop(pool);
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_in_any_url() {
        assert_eq!(
            with_database("postgres://postgres@%2Ftmp%2Fx/postgres", "t_1"),
            "postgres://postgres@%2Ftmp%2Fx/t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:5432/db?sslmode=disable", "t_1"),
            "postgres://u:p@h:5432/t_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t_1"), "postgres://h/t_1");
    }
}
