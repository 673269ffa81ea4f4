//! `parole backup` while the server runs, `parole restore` into a new installation: every
//! account, device, response and photo is there, and a phone that synced before the backup
//! syncs again without doubling anything.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::setup::{example, Admin};
use support::{free_port, ServerProcess, ADMIN_PASSWORD};

fn parole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parole"))
        .args(args)
        .env_remove("PAROLE_DATABASE_URL")
        .output()
        .expect("run parole")
}

fn ok(out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

/// `parole serve` on its own embedded PostgreSQL in `data_dir`; its URL once ready.
async fn serve_data_dir(data_dir: &Path) -> (Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_parole"))
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(data_dir)
        .env_remove("PAROLE_DATABASE_URL")
        .env("PAROLE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/readyz")).await {
            if r.status().is_success() {
                return (child, url);
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "parole serve exited");
        assert!(Instant::now() < deadline, "not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn push(server: &str, device: &str, responses: &[Value]) -> Vec<String> {
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{server}/api/v1/sync/responses"),
        device,
        Some(json!({"responses": responses})),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

async fn response_ids(server: &str, token: &str) -> Vec<String> {
    let (status, page) = call(
        reqwest::Method::GET,
        format!("{server}/api/v1/questionnaires/parole-habitants/responses?limit=200"),
        token,
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {page}");
    let mut ids: Vec<String> = page["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_everything_and_phones_sync_on() {
    let db = parole_server::testing::test_db().await;
    let server = ServerProcess::start(&db.url).await;
    let url = server.url();
    let admin = Admin::login(&url, ADMIN_PASSWORD).await;
    admin
        .publish("parole-habitants", &example("parole-habitants"))
        .await;
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/users"),
        &admin.token,
        Some(json!({"username": "camille", "role": "analyst", "password": "mot-de-passe-camille"})),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let code = admin.interviewer("Inès Diallo").await;
    let (status, enrolled) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/enrol"),
        "",
        Some(json!({"code": code, "device_name": "Téléphone d'Inès"})),
    )
    .await;
    assert!(status.is_success(), "{status} {enrolled}");
    let device = enrolled["token"].as_str().unwrap().to_string();

    // A photo, and two responses naming it.
    let photo: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let reference = parole_client::backup::photo_ref(&photo);
    let r = reqwest::Client::new()
        .put(format!("{url}/api/v1/attachments/{reference}"))
        .bearer_auth(&device)
        .header("content-type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut answers = support::setup::valid_answers("parole-habitants");
    answers["photo_lieu"] = json!(reference);
    let responses: Vec<Value> = (0..2)
        .map(|_| {
            json!({
                "id": uuid::Uuid::now_v7(),
                "questionnaire": "parole-habitants",
                "version": 1,
                "answers": answers,
                "started_at": "2026-11-30T10:00:00+01:00",
                "completed_at": "2026-11-30T10:09:00+01:00",
            })
        })
        .collect();
    assert_eq!(
        push(&url, &device, &responses).await,
        ["accepted", "accepted"]
    );
    let before = response_ids(&url, &admin.token).await;
    assert_eq!(before.len(), 2);

    // The backup, while the server serves.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parole.dump");
    ok(parole(&[
        "backup",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
    ]));
    drop(server);

    // A new installation from it.
    let restored_dir = dir.path().join("nouvelle-installation");
    ok(parole(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        restored_dir.to_str().unwrap(),
    ]));
    // Restoring again over it is refused: it is not new any more.
    let again = parole(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        restored_dir.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let (mut child, restored) = serve_data_dir(&restored_dir).await;
    let camille = Admin::login_as(&restored, "camille", "mot-de-passe-camille")
        .await
        .token;
    assert_eq!(response_ids(&restored, &camille).await, before);
    let r = reqwest::Client::new()
        .get(format!("{restored}/api/v1/attachments/{reference}"))
        .bearer_auth(&camille)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);
    let admin = Admin::login(&restored, ADMIN_PASSWORD).await;
    let (_, devices) = call(
        reqwest::Method::GET,
        format!("{restored}/api/v1/devices"),
        &admin.token,
        None,
    )
    .await;
    assert!(
        devices.to_string().contains("Téléphone d'Inès"),
        "{devices}"
    );

    // The phone, which never heard of the restore, sends its two again (a lost receipt)
    // and a new one: nothing doubles.
    let mut again = responses.clone();
    let mut third = responses[0].clone();
    third["id"] = json!(uuid::Uuid::now_v7());
    again.push(third);
    assert_eq!(
        push(&restored, &device, &again).await,
        ["duplicate", "duplicate", "accepted"]
    );
    assert_eq!(response_ids(&restored, &camille).await.len(), 3);
    child.kill().unwrap();
    child.wait().unwrap();
}
