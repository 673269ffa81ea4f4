//! What a city's IT team checks before putting Parole on a network: it will not listen in
//! plain HTTP on a public address unless told a TLS proxy sits in front.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::{free_port, ServerProcess};

#[tokio::test]
async fn a_non_loopback_address_needs_behind_proxy() {
    let db = parole_server::testing::test_db().await;
    let port = free_port();
    let everywhere: SocketAddr = format!("0.0.0.0:{port}").parse().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_parole"))
        .args(["serve", "--listen", &everywhere.to_string()])
        .args(["--database-url", &db.url])
        .env("PAROLE_LOG", "warn")
        .output()
        .expect("run parole serve");
    assert!(
        !out.status.success(),
        "it served in plain HTTP on {everywhere}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--behind-proxy") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );

    // Told there is a proxy, it serves (reached here through loopback).
    let server = ServerProcess::start_with(&db.url, everywhere, &["--behind-proxy"]).await;
    let r = reqwest::get(format!("{}/readyz", server.url()))
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// A fresh, empty database on the test cluster; its URL.
async fn empty_db() -> String {
    use sqlx::Connection;
    let admin_url = parole_server::testing::cluster_admin_url();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    parole_server::testing::with_database(&admin_url, &name)
}

#[tokio::test]
async fn replicas_starting_together_migrate_once_and_an_older_one_still_starts() {
    let url = empty_db().await;
    // Three replicas on one new database, started at the same instant.
    let replicas = futures::future::join_all((0..3).map(|_| ServerProcess::start(&url))).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/server/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("sql".as_ref()))
        .count() as i64;
    let applied: (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct version) from _sqlx_migrations where success",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(applied, (migrations, migrations));
    for r in &replicas {
        let ready = reqwest::get(format!("{}/readyz", r.url())).await.unwrap();
        assert!(ready.status().is_success());
    }
    drop(replicas);

    // A newer release migrated further; this one, restarted mid-upgrade, still serves.
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (29991231000000, 'a later release', true, '\\x00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let older = ServerProcess::start(&url).await;
    let ready = reqwest::get(format!("{}/readyz", older.url()))
        .await
        .unwrap();
    assert!(ready.status().is_success());
}
