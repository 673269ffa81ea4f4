//! Through PgBouncer: `cargo xtask test` runs the sync, export and summary tests a second
//! time with `PAROLE_TEST_PGBOUNCER` set, every test's database then reached through
//! PgBouncer in transaction mode (see `parole_server::testing`). This checks that they
//! really are, and that what a server keeps per connection does not leak from one
//! transaction to the next.

use sqlx::{Connection, PgConnection, Row};

use crate::helpers::*;

#[tokio::test]
async fn the_tests_reach_their_database_through_pgbouncer_in_transaction_mode() {
    let ctx = Ctx::new().await;
    let Some(admin) = parole_server::testing::bouncer_admin_url() else {
        // Not asked for in this run (`PAROLE_TEST_PGBOUNCER` unset): the plain run.
        assert!(std::env::var("PAROLE_TEST_PGBOUNCER").is_err());
        return;
    };
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    let mut console = PgConnection::connect(&admin).await.unwrap();
    let pools = sqlx::raw_sql("show pools")
        .fetch_all(&mut console)
        .await
        .unwrap();
    let mode = pools
        .iter()
        .find(|row| row.get::<String, _>("database") == name)
        .map(|row| row.get::<String, _>("pool_mode"));
    assert_eq!(mode.as_deref(), Some("transaction"), "{name}");
    // The pool's connections are PgBouncer's: the same query, prepared once per client
    // connection by sqlx, runs again and again whatever server connection serves it.
    for i in 0..50i64 {
        let n: i64 = sqlx::query_scalar("select $1::int8 + 1")
            .bind(i)
            .fetch_one(&ctx.db.pool)
            .await
            .unwrap();
        assert_eq!(n, i + 1);
    }
}
