//! `parole import-backup`: a phone's backup file (its unsent responses and their photos),
//! taken in by the CLI on another machine, reaches the server exactly once, photos first;
//! importing it again changes nothing.

mod support;

use std::process::Command;

use parole_client::api::{PushRequest, WireResponse};
use parole_client::backup::{photo_ref, Backup};
use parole_client::native::{ApiClient, HttpTransport};
use parole_client::outbox::{OutboxRecord, State};
use parole_client::sync::Transport;
use parole_client::{Response, ResponseId};
use serde_json::{json, Value};
use support::setup::{example, Admin};
use support::{ServerProcess, ADMIN_PASSWORD};

fn answers(photo: &str, quartier: &str) -> Value {
    json!({
        "quartier": quartier, "anciennete": "1_5_ans", "tranche_age": "25_39",
        "cadre_de_vie": {"logement": 3, "transports": 4, "commerces": 2, "securite": 3},
        "priorites": ["emploi"], "souhaite_participer": "non", "recontact": false,
        "photo_lieu": photo,
    })
}

fn record(response: Response, state: State) -> OutboxRecord {
    OutboxRecord {
        response,
        state,
        errors: vec![],
        server_hash: None,
        updated_at: chrono::Utc::now(),
    }
}

fn parole(client_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_parole"))
        .arg("--client-dir")
        .arg(client_dir)
        .args(args)
        .output()
        .expect("run parole");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "parole {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_phone_backup_imported_by_the_cli_arrives_once_with_its_photos() {
    let db = parole_server::testing::test_db().await;
    let server = ServerProcess::start(&db.url).await;
    let admin = Admin::login(&server.url(), ADMIN_PASSWORD).await;
    let version = admin
        .publish("parole-habitants", &example("parole-habitants"))
        .await;

    // The phone: enrolled, three responses. A was delivered but its receipt was lost (still
    // queued on the phone); B was never sent; C is a draft. B names a photo.
    let phone = ApiClient::new()
        .unwrap()
        .enrol(
            &server.url(),
            &admin.interviewer("Téléphone").await,
            "téléphone",
        )
        .await
        .unwrap();
    let photo = b"\xff\xd8\xff\xe0 une photo du square".to_vec();
    let photo_name = photo_ref(&photo);
    let response = |quartier: &str, photo: &str| Response {
        id: ResponseId::new(),
        questionnaire: "parole-habitants".into(),
        version,
        answers: answers(photo, quartier),
        started_at: "2026-11-28T10:00:00+01:00".into(),
        completed_at: "2026-11-28T10:05:00+01:00".into(),
        device_id: Some(phone.device_id),
        location: None,
    };
    let no_photo = photo_ref(b"sans objet");
    let a = response("malakoff", &no_photo);
    let b = response("bellevue", &photo_name);
    let mut c = response("breil", &photo_name);
    c.completed_at.clear();
    HttpTransport::new(&server.url(), &phone.token)
        .unwrap()
        .push_responses(&PushRequest {
            responses: vec![WireResponse::from(&a)],
            device_state: None,
        })
        .await
        .unwrap();
    let backup = Backup::new(
        Some(phone.device_id),
        "2026-11-28T18:00:00+01:00".into(),
        vec![
            record(a.clone(), State::Queued),
            record(b.clone(), State::Queued),
            record(c.clone(), State::Draft),
        ],
        |r| (r == photo_name).then(|| ("image/jpeg".to_string(), photo.clone())),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parole-sauvegarde.json");
    std::fs::write(&file, backup.to_json()).unwrap();

    // The coordinator's laptop: enrolled as another device of the phone's interviewer (only
    // such a device may send the phone's work), imports the file.
    let client_dir = dir.path().join("client");
    let code = admin.code_for_interviewer_of(phone.device_id).await;
    parole(
        &client_dir,
        &["enrol", "--server", &server.url(), "--code", &code],
    );
    let out = parole(&client_dir, &["import-backup", file.to_str().unwrap()]);
    assert!(out.contains("réponses reprises 3"), "{out}");
    assert!(out.contains("photos envoyées 1"), "{out}");

    // A and B are on the server once each, with the phone's content; C (a draft) is not.
    let rows: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select id, content_hash from response order by seq")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(a.id.0, a.content_hash().0), (b.id.0, b.content_hash().0)]
    );
    let export = admin.export("parole-habitants", "ndjson").await;
    let b_line: Value = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["id"] == json!(b.id.0.to_string()))
        .unwrap();
    assert_eq!(b_line["answers"]["photo_lieu"], json!(photo_name));
    assert_eq!(
        b_line["photos_missing"],
        json!([]),
        "the photo arrived first"
    );
    let status = parole(&client_dir, &["status"]);
    assert!(status.contains("brouillons 1"), "{status}");

    // Importing again: nothing new anywhere.
    let again = parole(&client_dir, &["import-backup", file.to_str().unwrap()]);
    assert!(again.contains("déjà présentes 3"), "{again}");
    assert!(again.contains("photos envoyées 0"), "{again}");
    let count: i64 = sqlx::query_scalar("select count(*) from response")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_damaged_backup_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sauvegarde.json");
    std::fs::write(&file, "<html>Wi-Fi gratuit</html>").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parole"))
        .arg("--client-dir")
        .arg(dir.path().join("client"))
        .args(["import-backup", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pas une sauvegarde Parole"), "{stderr}");
}
