//! `--read-database-url`: exports read a real streaming replica (made with
//! `pg_basebackup`) once it has caught up with the primary, and the primary when it lags or
//! is down; an export never misses a response the primary acknowledged, and sync never
//! depends on the replica.

mod support;

use std::time::Duration;

use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};
use support::setup::{example, Admin};
use support::{free_port, ServerProcess, ADMIN_PASSWORD};

async fn tuples_read(replica: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select tup_returned from pg_stat_database where datname = 'parole'")
        .fetch_one(replica)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_the_replica_when_it_has_caught_up_and_the_primary_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let primary = EmbeddedPg::start(&dir.path().join("primaire"), PgOptions::for_tests())
        .await
        .unwrap();
    parole_server::db::ensure_database(&primary.connection_url("postgres"), "parole")
        .await
        .unwrap();
    let standby_dir = dir.path().join("replique");
    primary.base_backup(&standby_dir).unwrap();
    let standby = EmbeddedPg::start(&standby_dir, PgOptions::for_tests())
        .await
        .unwrap();
    let replica_url = standby.connection_url("parole");
    let replica = sqlx::PgPool::connect(&replica_url).await.unwrap();
    let in_recovery: bool = sqlx::query_scalar("select pg_is_in_recovery()")
        .fetch_one(&replica)
        .await
        .unwrap();
    assert!(in_recovery, "the copy is a streaming standby");

    let listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let server = ServerProcess::start_with(
        &primary.connection_url("parole"),
        listen,
        &["--read-database-url", &replica_url],
    )
    .await;
    let url = server.url();
    let admin = Admin::login(&url, ADMIN_PASSWORD).await;
    admin
        .publish("besoins-formation", &example("besoins-formation"))
        .await;
    let code = admin.interviewer("Inès").await;
    let phone = parole_client::native::ApiClient::new()
        .unwrap()
        .enrol(&url, &code, "téléphone")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let push = |n: usize| {
        let (http, url, token) = (&http, &url, &phone.token);
        async move {
            let responses: Vec<Value> = (0..n)
                .map(|i| {
                    json!({
                        "id": uuid::Uuid::now_v7(),
                        "questionnaire": "besoins-formation",
                        "version": 1,
                        "answers": support::devices::answers(0, i),
                        "started_at": "2026-11-30T10:00:00+01:00",
                        "completed_at": "2026-11-30T10:05:00+01:00",
                    })
                })
                .collect();
            let r = http
                .post(format!("{url}/api/v1/sync/responses"))
                .bearer_auth(token)
                .json(&json!({"responses": responses}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "sync: {}", r.status());
        }
    };
    let lines = || async {
        admin
            .export("besoins-formation", "ndjson")
            .await
            .lines()
            .count()
    };

    // Caught up: the export reads the replica, and has everything just pushed.
    push(5).await;
    let before = tuples_read(&replica).await;
    assert_eq!(lines().await, 5);
    // (Statistics reach pg_stat_database when a backend's transaction ends.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        tuples_read(&replica).await >= before + 5,
        "the export did not read the replica"
    );

    // Lagging (replay paused): the export waits, then reads the primary: nothing missing.
    sqlx::query("select pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .unwrap();
    push(3).await;
    assert_eq!(lines().await, 8);
    sqlx::query("select pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .unwrap();

    // Down: sync goes on, exports read the primary.
    replica.close().await;
    standby.stop().await.unwrap();
    push(2).await;
    assert_eq!(lines().await, 10);
    drop(server);
    primary.stop().await.unwrap();
}
