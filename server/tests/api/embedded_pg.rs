//! The embedded PostgreSQL starts, serves, stops; and `serve` runs on a bound listener.

use std::time::Duration;

use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn the_embedded_postgres_starts_serves_restarts_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPg::start(dir.path(), PgOptions::for_tests())
        .await
        .unwrap();
    let pid = pg.pid();
    let url = pg.connection_url("postgres");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    let fsync: String = sqlx::query_scalar("show fsync")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(fsync, "off");
    sqlx::query("create table kept (x int)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    pg.stop().await.unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "postgres still running"
    );

    // Second start: no initdb, the data is still there; default (durable) settings.
    let pg = EmbeddedPg::start(dir.path(), PgOptions::default())
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&pg.connection_url("postgres"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let fsync: String = sqlx::query_scalar("show fsync")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(fsync, "on");
    conn.close().await.unwrap();
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_data_dir_puts_the_socket_under_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("d".repeat(90));
    let pg = EmbeddedPg::start(&long, PgOptions::for_tests())
        .await
        .unwrap();
    assert!(pg.socket_dir().starts_with(std::env::temp_dir()));
    assert!(pg.socket_dir().as_os_str().len() < 80);
    let mut conn = PgConnection::connect(&pg.connection_url("postgres"))
        .await
        .unwrap();
    sqlx::query("select 1").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn serve_answers_on_a_bound_listener_and_stops_on_shutdown() {
    let db = parole_server::testing::test_db().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(parole_server::serve(listener, db.pool.clone(), async {
        let _ = rx.await;
    }));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
