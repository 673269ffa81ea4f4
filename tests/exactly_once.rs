//! Exactly once under faults: several devices push through a proxy that drops requests,
//! drops responses after the server committed, duplicates and delays requests and answers
//! with captive-portal pages, while the server process is killed and restarted mid-run. At
//! the end every response is stored exactly once, with the content its device made, and
//! every outbox is empty.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use parole_client::native::{ApiClient, FileStorage, HttpTransport};
use parole_client::outbox::{Outbox, State};
use parole_client::sync::{SyncConfig, SyncEngine};
use parole_client::{ContentHash, Questionnaire, Response, ResponseId};
use serde_json::{json, Value};
use support::proxy::{Faults, Proxy};
use support::setup::{example, Admin};
use support::{ServerProcess, ADMIN_PASSWORD};

const DEVICES: usize = 4;
const RESPONSES_PER_DEVICE: usize = 60;

fn answers(device: usize, n: usize) -> Value {
    let conseils = ["bellevue", "malakoff", "dervallieres", "nantes_nord"];
    json!({
        "conseil": conseils[(device + n) % conseils.len()],
        "role": if n.is_multiple_of(2) { "habitant" } else { "acteur_local" },
        "annee_entree": 2015 + (n % 10) as i64,
        "themes": ["budget"],
        "format_prefere": "atelier",
        "remarques": format!("appareil {device}, réponse {n}"),
    })
}

struct Device {
    engine: SyncEngine<FileStorage, HttpTransport>,
    made: HashMap<ResponseId, ContentHash>,
    _dir: tempfile::TempDir,
}

async fn enrolled_device(
    via: &str,
    admin: &Admin,
    index: usize,
    questionnaire: &Questionnaire,
    version: i32,
) -> Device {
    let code = admin.interviewer(&format!("Enquêteur {index}")).await;
    let enrolment = ApiClient::new()
        .unwrap()
        .enrol(&admin.server, &code, &format!("téléphone {index}"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(FileStorage::open(dir.path()).unwrap());
    let mut made = HashMap::new();
    for n in 0..RESPONSES_PER_DEVICE {
        let response = Response {
            id: ResponseId::new(),
            questionnaire: "besoins-formation".into(),
            version,
            answers: answers(index, n),
            started_at: "2026-11-28T10:00:00+01:00".into(),
            completed_at: "2026-11-28T10:05:00+01:00".into(),
            device_id: Some(enrolment.device_id),
            location: None,
        };
        made.insert(response.id, response.content_hash());
        outbox.queue(response, questionnaire).await.unwrap();
    }
    // A short timeout, so that the proxy's hung requests cost little.
    let transport =
        HttpTransport::with_timeout(via, &enrolment.token, Duration::from_secs(2)).unwrap();
    let config = SyncConfig {
        batch_size: 5,
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        seed: Some(index as u64),
        ..SyncConfig::default()
    };
    Device {
        engine: SyncEngine::new(outbox, transport, config),
        made,
        _dir: dir,
    }
}

/// Pushes until the outbox holds nothing queued, within a bounded number of rounds.
async fn push_until_empty(device: &Device) -> usize {
    for round in 1..=200 {
        let _ = device.engine.push().await;
        let counts = device.engine.outbox().counts().await.unwrap();
        if counts.queued == 0 {
            return round;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the outbox never emptied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_is_stored_exactly_once_despite_faults_and_server_restarts() {
    let db = parole_server::testing::test_db().await;
    let mut server = ServerProcess::start(&db.url).await;
    let admin = Admin::login(&server.url(), ADMIN_PASSWORD).await;
    let document = example("besoins-formation");
    let version = admin.publish("besoins-formation", &document).await;
    let questionnaire = Questionnaire::parse(&document).unwrap();

    let proxy = Proxy::start(server.url(), Faults::nasty(), 2026, Duration::from_secs(3)).await;
    let mut devices = Vec::new();
    for index in 0..DEVICES {
        devices.push(enrolled_device(&proxy.url(), &admin, index, &questionnaire, version).await);
    }

    // The devices push concurrently while the server is killed (SIGKILL) and restarted
    // twice: once a third of the responses are stored, and again at two thirds.
    let total = (DEVICES * RESPONSES_PER_DEVICE) as i64;
    let pushes = futures::future::join_all(devices.iter().map(push_until_empty));
    let restarts = async {
        let mut stored_at_kill = Vec::new();
        for threshold in [total / 3, 2 * total / 3] {
            loop {
                let stored: i64 = sqlx::query_scalar("select count(*) from response")
                    .fetch_one(&db.pool)
                    .await
                    .unwrap();
                if stored >= threshold {
                    stored_at_kill.push(stored);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            server.kill();
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.restart().await;
        }
        stored_at_kill
    };
    let (rounds, stored_at_kill) = tokio::join!(pushes, restarts);
    assert!(
        stored_at_kill.iter().all(|&n| n < total),
        "the server was killed mid-run: {stored_at_kill:?} of {total}"
    );
    eprintln!(
        "push rounds per device: {rounds:?}; stored at each kill: {stored_at_kill:?}; proxy: {:?}",
        proxy.counters
    );

    // Every outbox is empty: everything synced, nothing rejected or in conflict.
    for device in &devices {
        let counts = device.engine.outbox().counts().await.unwrap();
        assert_eq!(counts.queued, 0);
        assert_eq!(counts.rejected, 0, "nothing valid is ever rejected");
        assert_eq!(counts.conflict, 0, "a retry is never a conflict");
        assert_eq!(counts.synced, RESPONSES_PER_DEVICE);
        for record in device.engine.outbox().list().await.unwrap() {
            assert_eq!(record.state, State::Synced);
            assert_eq!(
                record.server_hash.as_ref(),
                device.made.get(&record.response.id)
            );
        }
    }

    // The server holds each response exactly once, with the content its device made.
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as("select id, content_hash from response")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let made: HashMap<ResponseId, ContentHash> =
        devices.iter().flat_map(|d| d.made.clone()).collect();
    assert_eq!(rows.len(), DEVICES * RESPONSES_PER_DEVICE);
    for (id, hash) in rows {
        assert_eq!(made.get(&ResponseId(id)), Some(&ContentHash(hash)));
    }
    // The export agrees: one line per response.
    let ndjson = admin.export("besoins-formation", "ndjson").await;
    assert_eq!(ndjson.lines().count(), DEVICES * RESPONSES_PER_DEVICE);
    // The faults really happened.
    use std::sync::atomic::Ordering::Relaxed;
    assert!(proxy.counters.dropped_responses.load(Relaxed) > 0);
    assert!(proxy.counters.duplicated.load(Relaxed) > 0);
}
