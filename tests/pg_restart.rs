//! The embedded PostgreSQL is supervised: killed under a running `parole serve`, it is
//! restarted, `/readyz` says so, and the server works again without being restarted itself.
//! Stopped in the middle of pushes, it costs the phones a few 503s and nothing else: every
//! response is stored once.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parole_client::native::{ApiClient, FileStorage, HttpTransport};
use parole_client::outbox::Outbox;
use parole_client::sync::{SyncConfig, SyncEngine};
use parole_client::{Questionnaire, Response, ResponseId};
use serde_json::{json, Value};
use support::setup::{example, Admin};
use support::{free_port, ADMIN_PASSWORD};

async fn readyz(http: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = http.get(format!("{url}/readyz")).send().await.ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

/// Polls `/readyz` until `done` says so, for at most `limit`.
async fn until(
    http: &reqwest::Client,
    url: &str,
    limit: Duration,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let start = Instant::now();
    let mut last = (0, String::new());
    while start.elapsed() < limit {
        if let Some((status, body)) = readyz(http, url).await {
            if done(status, &body) {
                return (status, body);
            }
            last = (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not get there in {limit:?}: last {last:?}");
}

/// Kills the server if the test ends early (a failed assertion).
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// `parole serve` on its own embedded PostgreSQL in `dir`, ready; returns its URL.
async fn serve(dir: &std::path::Path, http: &reqwest::Client) -> (Guard, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{addr}");
    let server = Guard(
        Command::new(env!("CARGO_BIN_EXE_parole"))
            .args(["serve", "--listen", &addr, "--data-dir"])
            .arg(dir)
            .env("PAROLE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PAROLE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    until(http, &url, Duration::from_secs(120), |s, _| s == 200).await;
    (server, url)
}

/// Sends `signal` to the embedded PostgreSQL's postmaster (the first line of its pid file).
fn signal_postgres(dir: &std::path::Path, signal: &str) {
    let pidfile = std::fs::read_to_string(dir.join("pg/postmaster.pid")).unwrap();
    let pid = pidfile.lines().next().unwrap().trim();
    let sent = Command::new("kill").args([signal, pid]).status().unwrap();
    assert!(sent.success());
}

fn response(version: i32, device: uuid::Uuid, n: usize) -> Response {
    Response {
        id: ResponseId::new(),
        questionnaire: "besoins-formation".into(),
        version,
        answers: json!({
            "conseil": "malakoff",
            "role": "habitant",
            "annee_entree": 2020,
            "themes": ["budget"],
            "format_prefere": "atelier",
            "remarques": format!("réponse {n}"),
        }),
        started_at: "2026-11-30T10:00:00+01:00".into(),
        completed_at: "2026-11-30T10:05:00+01:00".into(),
        device_id: Some(device),
        location: None,
    }
}

/// What a push through the outage got, other than a 200.
#[derive(Debug)]
struct Refusal {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopped_during_pushes_costs_503s_and_loses_or_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (_server, url) = serve(dir.path(), &http).await;
    let admin = Admin::login(&url, ADMIN_PASSWORD).await;
    let document = example("besoins-formation");
    let version = admin.publish("besoins-formation", &document).await;
    let questionnaire = Questionnaire::parse(&document).unwrap();

    // Two phones: one speaks raw HTTP (so the test sees each status and `Retry-After`), the
    // other is client-core's sync engine, as a phone runs it.
    let api = ApiClient::new().unwrap();
    let probe = api
        .enrol(&url, &admin.interviewer("Sonde").await, "sonde")
        .await
        .unwrap();
    let phone = api
        .enrol(&url, &admin.interviewer("Awa").await, "téléphone d'Awa")
        .await
        .unwrap();
    let phone_dir = tempfile::tempdir().unwrap();
    let engine = SyncEngine::new(
        Outbox::new(FileStorage::open(phone_dir.path()).unwrap()),
        HttpTransport::with_timeout(&url, &phone.token, Duration::from_secs(40)).unwrap(),
        SyncConfig {
            batch_size: 3,
            max_attempts: 2,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..SyncConfig::default()
        },
    );

    let stopped = std::sync::atomic::AtomicBool::new(false);
    let back = std::sync::atomic::AtomicBool::new(false);
    use std::sync::atomic::Ordering::SeqCst;

    // The raw phone: one new response per push, each retried until the server takes it.
    let raw_phone = async {
        let mut stored = Vec::new();
        let mut refusals = Vec::new();
        let mut n = 0;
        while !back.load(SeqCst) || stored.len() < n.min(5) + 5 {
            let one = response(version, probe.device_id, n);
            n += 1;
            let body = json!({ "responses": [parole_client::api::WireResponse::from(&one)] });
            loop {
                let r = http
                    .post(format!("{url}/api/v1/sync/responses"))
                    .bearer_auth(&probe.token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                let text = r.text().await.unwrap();
                if status == 200 {
                    let reply: Value = serde_json::from_str(&text).unwrap();
                    let item = &reply["results"][0]["status"];
                    assert!(item == "accepted" || item == "duplicate", "{text}");
                    stored.push(one.id);
                    break;
                }
                refusals.push(Refusal {
                    status,
                    retry_after,
                    body: text,
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (stored, refusals)
    };

    // The engine's phone: a response queued every 100 ms, pushed as it goes, until the
    // database is back; then it pushes until its outbox is empty.
    let engine_phone = async {
        let mut queued = 0;
        while !back.load(SeqCst) {
            let one = response(version, phone.device_id, queued);
            engine.outbox().queue(one, &questionnaire).await.unwrap();
            queued += 1;
            let _ = engine.push().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for _ in 0..100 {
            let _ = engine.push().await;
            if engine.outbox().counts().await.unwrap().queued == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        queued
    };

    // PostgreSQL is stopped (a fast shutdown: sessions are ended, then it exits) once some
    // responses are in; the supervisor starts it again.
    let outage = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        signal_postgres(dir.path(), "-INT");
        stopped.store(true, SeqCst);
        until(&http, &url, Duration::from_secs(90), |s, b| {
            s == 200 && b.contains("restarted 1 times")
        })
        .await;
        // Let the phones push for a moment against the restarted database.
        tokio::time::sleep(Duration::from_secs(1)).await;
        back.store(true, SeqCst);
    };

    let ((stored, refusals), queued, ()) = tokio::join!(raw_phone, engine_phone, outage);
    assert!(stopped.load(SeqCst));

    // What the phones saw during the outage: 503 with `Retry-After` and a message saying to
    // try again, never a 500.
    assert!(
        refusals.iter().any(|r| r.status == 503),
        "the outage was seen: {refusals:?}"
    );
    for r in &refusals {
        assert_eq!(r.status, 503, "{r:?}");
        assert!(r.retry_after.is_some(), "{r:?}");
        assert!(r.body.contains("réessayez"), "{r:?}");
    }

    // The engine's outbox is empty: everything synced, nothing refused.
    let counts = engine.outbox().counts().await.unwrap();
    assert_eq!(counts.queued, 0, "{counts:?}");
    assert_eq!(counts.rejected, 0, "{counts:?}");
    assert_eq!(counts.conflict, 0, "{counts:?}");
    assert_eq!(counts.synced, queued);

    // The server holds each response once: the raw phone's and the engine's.
    let ndjson = admin.export("besoins-formation", "ndjson").await;
    let ids: Vec<String> = ndjson
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no response is stored twice");
    assert_eq!(ids.len(), stored.len() + queued, "none is lost");
    for id in &stored {
        assert!(unique.contains(&id.0.to_string()), "{id:?} is stored");
    }
    eprintln!(
        "raw phone: {} stored, {} refusals; engine phone: {queued} synced",
        stored.len(),
        refusals.len()
    );
}

#[tokio::test]
async fn a_killed_embedded_postgresql_is_restarted_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (_server, url) = serve(dir.path(), &http).await;
    let login = || {
        http.post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
    };
    let (_, body) = until(&http, &url, Duration::from_secs(5), |s, _| s == 200).await;
    assert_eq!(body, "ok");
    assert!(login().await.unwrap().status().is_success());

    // PostgreSQL dies under it.
    signal_postgres(dir.path(), "-KILL");

    // It comes back on its own; /readyz says it was restarted.
    let (_, body) = until(&http, &url, Duration::from_secs(90), |s, b| {
        s == 200 && b.contains("restarted 1 times")
    })
    .await;
    assert!(body.starts_with("ok"), "{body}");
    // And the server works again: the pool reconnects.
    let start = Instant::now();
    loop {
        match login().await {
            Ok(r) if r.status().is_success() => break,
            other => {
                assert!(start.elapsed() < Duration::from_secs(30), "{other:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
