//! The storage layer: every SQL statement the server runs lives in this folder, behind named
//! operations (`insert_responses`, `export_rows`, …) and one error type, [`DbError`].
//!
//! One module per resource, all re-exported here (callers write `db::insert_user`, never
//! `db::accounts::insert_user`):
//!
//! - `accounts`: users and their tokens, and who a token belongs to;
//! - `devices`: interviewers, enrolment codes, devices;
//! - `questionnaires`: drafts, published versions, their retirement;
//! - `responses`: storing pushed responses, streaming them out for the exports;
//! - `reviews`: reading responses one by one or a page at a time, and their review;
//! - `attachments`: photos, stored by content hash;
//! - `summary`: the summaries' figures, counted by PostgreSQL in one read of the rows;
//! - `collection`: how a questionnaire's collection goes (counts for the coordinator);
//! - `filter`: the filters of the responses page, the exports and the summaries, as SQL.
//!
//! This file holds what they share: [`DbError`] (a unique violation on any `?` becomes
//! [`DbError::Conflict`]), the migrations, the pool, and the role column's spelling.
//!
//! Queries are runtime-checked (`sqlx::query_as` with `FromRow`): no `DATABASE_URL` at build
//! time; the router tests exercise every one against a real PostgreSQL.

use parole_client::api::Role;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

mod accounts;
mod attachments;
mod collection;
mod devices;
mod filter;
mod questionnaires;
mod responses;
mod reviews;
mod summary;

pub use accounts::*;
pub use attachments::*;
pub use collection::*;
pub use devices::*;
pub use filter::*;
pub use questionnaires::*;
pub use responses::*;
pub use reviews::*;
pub use summary::*;

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("introuvable / not found")]
    NotFound,
    /// A unique constraint refused the row (the constraint's name).
    #[error("existe déjà / already exists ({0})")]
    Conflict(String),
    /// Every connection of the pool stayed busy past its wait: the server is overloaded
    /// for now (503, try again), not broken.
    #[error("base de données occupée / database busy")]
    Busy,
    /// The database cannot be reached for now: stopped, restarting, recovering after a
    /// crash, or the connection dropped mid-statement (503, try again). A transaction cut
    /// short this way committed nothing, or committed all of it: a client's retry of the
    /// same push is then a duplicate, never a double.
    #[error("base de données indisponible / database unavailable")]
    Unavailable,
    /// Anything else: the database is unreachable, a statement failed, or a stored value
    /// cannot be read back (`sqlx::Error::Decode` with an [`UnexpectedValue`]).
    #[error(transparent)]
    Other(sqlx::Error),
}

/// The one conversion from sqlx's errors, so that every `?` maps a unique violation to
/// [`DbError::Conflict`] (with the constraint's name) and no call site can forget to.
impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(db.constraint().unwrap_or_default().to_string())
            }
            sqlx::Error::PoolTimedOut => DbError::Busy,
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed => DbError::Unavailable,
            sqlx::Error::Database(db) if db.code().is_some_and(|c| unavailable(&c)) => {
                DbError::Unavailable
            }
            e => DbError::Other(e),
        }
    }
}

/// SQLSTATEs that say the database is not serving now, rather than that the statement is
/// wrong: connection exceptions (class 08), an administrator's shutdown, a crash shutdown,
/// a server still starting or recovering (57P01–57P03), too many connections (53300).
fn unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

/// A value read from the database that the server does not know (say, a role added by a
/// later version, or a row written by hand). It reaches callers as
/// `DbError::Other(sqlx::Error::Decode(..))`: an internal error, logged, never guessed
/// around.
#[derive(Debug, thiserror::Error)]
#[error("unexpected value {value:?} in {column}")]
pub struct UnexpectedValue {
    /// `table.column`.
    pub column: &'static str,
    pub value: String,
}

impl UnexpectedValue {
    fn into_db_error(self) -> DbError {
        DbError::Other(sqlx::Error::Decode(Box::new(self)))
    }
}

type Result<T, E = DbError> = std::result::Result<T, E>;

/// Connects a pool to `url`.
pub async fn connect(url: &str) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// Runs the pending migrations. Several servers may start at once on one database: the
/// run holds a transaction-level advisory lock, so one migrates and the others, waiting,
/// then find nothing left to do. Transaction-level, and all in that one transaction, so that
/// it holds through PgBouncer in transaction mode too (sqlx's own lock is a session's: the
/// unlock could reach another server connection and leave it locked). During a rolling
/// upgrade a server of the previous release may (re)start on a database a newer one already
/// migrated: it runs on rather than refuse (migrations only ever add, so the old code still
/// finds what it uses).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!();
    migrator.set_ignore_missing(true);
    migrator.set_locking(false);
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    migrator.run(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The migrations' advisory lock (`parole` in ASCII, then 2).
const MIGRATION_LOCK: i64 = 0x7061_726f_6c65_0002;

/// Creates database `name` (a plain identifier) on the cluster `admin_url` reaches, unless
/// it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> Result<()> {
    let admin = connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        sqlx::query(&format!(
            "create database \"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&admin)
        .await?;
    }
    admin.close().await;
    Ok(())
}

/// How many tables the database's `public` schema holds (0: nothing restored into it yet).
pub async fn table_count(pool: &PgPool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from pg_tables where schemaname = 'public'")
            .fetch_one(pool)
            .await?,
    )
}

/// Whether `replica` has replayed, within `wait`, the primary's WAL up to its insert
/// position now (so every transaction the primary had committed is visible on it: the
/// *write* position may still lie before the last commits, with asynchronous commit). `Err` when
/// either cannot be asked (the replica down: the caller reads the primary).
pub async fn replica_caught_up(
    primary: &PgPool,
    replica: &PgPool,
    wait: std::time::Duration,
) -> Result<bool> {
    let target: String = sqlx::query_scalar("select pg_current_wal_insert_lsn()::text")
        .fetch_one(primary)
        .await?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let replayed: Option<bool> =
            sqlx::query_scalar("select pg_last_wal_replay_lsn() >= $1::pg_lsn")
                .bind(&target)
                .fetch_one(replica)
                .await?;
        // `None`: not a standby at all (a plain copy, or a promoted one): it may miss
        // anything, so it is not read.
        match replayed {
            Some(true) => return Ok(true),
            None => return Ok(false),
            Some(false) if tokio::time::Instant::now() >= deadline => return Ok(false),
            Some(false) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// `select 1`, for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("select 1").execute(pool).await?;
    Ok(())
}

/// A role as `app_user.role` spells it.
pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Coordinator => "coordinator",
        Role::Analyst => "analyst",
        Role::Interviewer => "interviewer",
    }
}

/// Reads back `app_user.role`; a value [`role_str`] never writes is an error, not a guess.
fn parse_role(s: &str) -> Result<Role> {
    match s {
        "admin" => Ok(Role::Admin),
        "coordinator" => Ok(Role::Coordinator),
        "analyst" => Ok(Role::Analyst),
        "interviewer" => Ok(Role::Interviewer),
        _ => Err(UnexpectedValue {
            column: "app_user.role",
            value: s.to_string(),
        }
        .into_db_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_as_written() {
        for role in [
            Role::Admin,
            Role::Coordinator,
            Role::Analyst,
            Role::Interviewer,
        ] {
            assert_eq!(parse_role(role_str(role)).unwrap(), role);
        }
    }

    #[test]
    fn an_unknown_role_is_a_decode_error_naming_the_column_and_value() {
        for bad in ["superuser", "", "Admin"] {
            let err = parse_role(bad).unwrap_err();
            let DbError::Other(sqlx::Error::Decode(source)) = &err else {
                panic!("expected a decode error, got {err:?}");
            };
            let unexpected = source
                .downcast_ref::<UnexpectedValue>()
                .expect("an UnexpectedValue");
            assert_eq!(unexpected.column, "app_user.role");
            assert_eq!(unexpected.value, bad);
            let message = format!("{err}");
            assert!(message.contains("app_user.role"), "{message}");
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[test]
    fn a_sqlx_error_other_than_a_unique_violation_or_a_busy_pool_stays_other() {
        assert!(matches!(
            DbError::from(sqlx::Error::RowNotFound),
            DbError::Other(sqlx::Error::RowNotFound)
        ));
        assert!(matches!(
            DbError::from(sqlx::Error::PoolTimedOut),
            DbError::Busy
        ));
        let dropped = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(
            DbError::from(sqlx::Error::Io(dropped)),
            DbError::Unavailable
        ));
        for code in ["08006", "57P01", "57P03", "53300"] {
            assert!(unavailable(code), "{code}");
        }
        for code in ["23505", "22P05", "42P01", "57014"] {
            assert!(!unavailable(code), "{code}");
        }
    }
}
