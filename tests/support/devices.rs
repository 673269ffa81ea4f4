//! Phones for the end-to-end tests: client-core's sync engine over HTTP, each with its own
//! outbox on disk, filled with valid `besoins-formation` responses.

use std::collections::HashMap;
use std::time::Duration;

use parole_client::native::{ApiClient, FileStorage, HttpTransport};
use parole_client::outbox::Outbox;
use parole_client::sync::{SyncConfig, SyncEngine};
use parole_client::{ContentHash, Questionnaire, Response, ResponseId};
use serde_json::{json, Value};

use super::setup::Admin;

/// Valid answers to `besoins-formation`, different for each device and response.
pub fn answers(device: usize, n: usize) -> Value {
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

/// A phone: its sync engine and what it made (id → content hash).
pub struct Device {
    pub engine: SyncEngine<FileStorage, HttpTransport>,
    pub made: HashMap<ResponseId, ContentHash>,
    _dir: tempfile::TempDir,
}

/// A phone of a new interviewer, enrolled through `via` (a proxy, or the server), with
/// `responses` responses queued.
pub async fn enrolled_device(
    via: &str,
    admin: &Admin,
    index: usize,
    questionnaire: &Questionnaire,
    version: i32,
    responses: usize,
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
    for n in 0..responses {
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
pub async fn push_until_empty(device: &Device) -> usize {
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

/// `count` phones enrolled through `via`, each with `per_device` responses queued.
pub async fn phones(
    via: &str,
    admin: &Admin,
    questionnaire: &Questionnaire,
    version: i32,
    count: usize,
    per_device: usize,
) -> Vec<Device> {
    let mut devices = Vec::new();
    for index in 0..count {
        devices.push(enrolled_device(via, admin, index, questionnaire, version, per_device).await);
    }
    devices
}

/// How many responses the server holds.
pub async fn stored(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from response")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every outbox is empty (everything synced with the content its phone made, nothing
/// rejected or in conflict) and the server holds each response exactly once.
pub async fn assert_each_stored_once(pool: &sqlx::PgPool, devices: &[Device], per_device: usize) {
    use parole_client::outbox::State;
    for device in devices {
        let counts = device.engine.outbox().counts().await.unwrap();
        assert_eq!(counts.queued, 0);
        assert_eq!(counts.rejected, 0, "nothing valid is ever rejected");
        assert_eq!(counts.conflict, 0, "a retry is never a conflict");
        assert_eq!(counts.synced, per_device);
        for record in device.engine.outbox().list().await.unwrap() {
            assert_eq!(record.state, State::Synced);
            assert_eq!(
                record.server_hash.as_ref(),
                device.made.get(&record.response.id)
            );
        }
    }
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as("select id, content_hash from response")
        .fetch_all(pool)
        .await
        .unwrap();
    let made: HashMap<ResponseId, ContentHash> =
        devices.iter().flat_map(|d| d.made.clone()).collect();
    assert_eq!(rows.len(), devices.len() * per_device);
    for (id, hash) in rows {
        assert_eq!(made.get(&ResponseId(id)), Some(&ContentHash(hash)));
    }
}
