//! The outbox over the real file storage, in a temp dir.

use parole_client::native::FileStorage;
use parole_client::outbox::{Outbox, OutboxError, State, Storage, StorageError};
use parole_client::{Questionnaire, Response, ResponseId};
use serde_json::{json, Value};

fn questionnaire() -> Questionnaire {
    Questionnaire::parse(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Exemple",
        "type": "object",
        "properties": {"age": {"type": "integer", "title": "Votre âge ?", "minimum": 0}},
        "required": ["age"],
        "additionalProperties": false
    }))
    .unwrap()
}

fn response(answers: Value) -> Response {
    Response {
        id: ResponseId::new(),
        questionnaire: "exemple".into(),
        version: 1,
        answers,
        started_at: "2025-03-14T18:30:00+01:00".into(),
        completed_at: String::new(),
        device_id: None,
        location: None,
    }
}

fn open(dir: &std::path::Path) -> Outbox<FileStorage> {
    Outbox::new(FileStorage::open(dir).unwrap())
}

#[tokio::test]
async fn a_queued_response_is_read_back_intact_after_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let r = response(json!({"age": 42}));
    let rec = open(dir.path())
        .queue(r.clone(), &questionnaire())
        .await
        .unwrap();
    assert_eq!(rec.state, State::Queued);
    assert!(
        !rec.response.completed_at.is_empty(),
        "completed_at is set when empty"
    );

    let again = open(dir.path());
    let got = again.get(r.id).await.unwrap().unwrap();
    assert_eq!(got, rec);
    assert_eq!(again.queued().await.unwrap(), vec![rec]);
    let c = again.counts().await.unwrap();
    assert_eq!((c.queued, c.drafts, c.synced), (1, 0, 0));
}

#[tokio::test]
async fn an_invalid_response_is_not_queued_and_its_errors_are_returned() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let r = response(json!({"age": "vieux"}));
    match outbox.queue(r.clone(), &questionnaire()).await {
        Err(OutboxError::Invalid(errors)) => assert_eq!(errors[0].path, "/age"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(outbox.get(r.id).await.unwrap().is_none());
    assert_eq!(outbox.counts().await.unwrap().queued, 0);
}

#[tokio::test]
async fn a_draft_becomes_queued_and_a_queued_one_cannot_go_back_to_draft() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let r = response(json!({}));
    outbox.save_draft(r.clone()).await.unwrap();
    assert_eq!(outbox.counts().await.unwrap().drafts, 1);
    let mut done = r.clone();
    done.answers = json!({"age": 7});
    outbox.queue(done.clone(), &questionnaire()).await.unwrap();
    assert_eq!(outbox.counts().await.unwrap().queued, 1);
    assert!(matches!(
        outbox.save_draft(r).await,
        Err(OutboxError::WrongState {
            state: State::Queued,
            ..
        })
    ));
    // Queuing the same content again is a no-op.
    outbox.queue(done, &questionnaire()).await.unwrap();
    assert_eq!(outbox.counts().await.unwrap().queued, 1);
}

#[tokio::test]
async fn mark_synced_requires_the_responses_own_hash() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let rec = outbox
        .queue(response(json!({"age": 1})), &questionnaire())
        .await
        .unwrap();
    let id = rec.response.id;
    let wrong = parole_client::ContentHash("0".repeat(64));
    assert!(matches!(
        outbox.mark_synced(id, wrong).await,
        Err(OutboxError::HashMismatch(_))
    ));
    assert_eq!(outbox.get(id).await.unwrap().unwrap().state, State::Queued);
    let synced = outbox
        .mark_synced(id, rec.response.content_hash())
        .await
        .unwrap();
    assert_eq!(synced.state, State::Synced);
    assert_eq!(synced.server_hash, Some(rec.response.content_hash()));
    assert!(outbox.queued().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_response_keeps_its_errors_and_can_be_requeued_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let rec = outbox
        .queue(response(json!({"age": 1})), &questionnaire())
        .await
        .unwrap();
    let id = rec.response.id;
    let err = parole_client::ValidationError {
        path: "/age".into(),
        code: "minimum".into(),
        message: parole_client::i18n::Message::new("trop jeune", "too young"),
    };
    outbox.mark_rejected(id, vec![err.clone()]).await.unwrap();
    let got = open(dir.path()).get(id).await.unwrap().unwrap();
    assert_eq!((got.state, got.errors), (State::Rejected, vec![err]));
    assert!(outbox.queued().await.unwrap().is_empty());

    let mut corrected = rec.response.clone();
    corrected.answers = json!({"age": "x"});
    assert!(matches!(
        outbox
            .requeue(id, corrected.clone(), &questionnaire())
            .await,
        Err(OutboxError::Invalid(_))
    ));
    corrected.answers = json!({"age": 18});
    let back = outbox
        .requeue(id, corrected, &questionnaire())
        .await
        .unwrap();
    assert_eq!(back.state, State::Queued);
    assert!(back.errors.is_empty());
    // A queued one cannot be "requeued".
    assert!(outbox
        .requeue(id, back.response.clone(), &questionnaire())
        .await
        .is_err());
}

#[tokio::test]
async fn a_correction_is_saved_as_typed_and_the_response_stays_rejected_until_requeued() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let rec = outbox
        .queue(response(json!({"age": 1})), &questionnaire())
        .await
        .unwrap();
    let id = rec.response.id;
    // Not rejected yet: a queued response is not a correction.
    assert!(matches!(
        outbox.save_correction(rec.response.clone()).await,
        Err(OutboxError::WrongState { .. })
    ));
    let err = parole_client::ValidationError {
        path: "/age".into(),
        code: "minimum".into(),
        message: parole_client::i18n::Message::new("trop jeune", "too young"),
    };
    outbox.mark_rejected(id, vec![err.clone()]).await.unwrap();
    // Half-typed (invalid) corrections are kept, still rejected, with the server's errors.
    let mut typing = rec.response.clone();
    typing.answers = json!({"age": "1"});
    outbox.save_correction(typing.clone()).await.unwrap();
    let got = open(dir.path()).get(id).await.unwrap().unwrap();
    assert_eq!(got.response.answers, json!({"age": "1"}));
    assert_eq!((got.state, got.errors), (State::Rejected, vec![err]));
    assert!(outbox.queued().await.unwrap().is_empty());
    typing.answers = json!({"age": 18});
    outbox.save_correction(typing.clone()).await.unwrap();
    let back = outbox.requeue(id, typing, &questionnaire()).await.unwrap();
    assert_eq!(back.state, State::Queued);
    // Once requeued, it is no longer a correction.
    assert!(outbox.save_correction(back.response).await.is_err());
}

#[tokio::test]
async fn queued_lists_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = response(json!({"age": i}));
        ids.push(r.id);
        outbox.queue(r, &questionnaire()).await.unwrap();
    }
    ids.sort();
    let got: Vec<_> = outbox
        .queued()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.response.id)
        .collect();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn stray_temp_files_are_ignored_and_a_corrupt_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    outbox
        .queue(response(json!({"age": 3})), &questionnaire())
        .await
        .unwrap();
    // A kill between the temp write and the rename leaves this behind.
    std::fs::write(
        dir.path().join("outbox/.tmp-0193.json.123.0"),
        b"{\"response\": {\"id\"",
    )
    .unwrap();
    assert_eq!(outbox.list().await.unwrap().len(), 1);
    // Too recent to be removed (it could be another process's write in progress)…
    assert_eq!(
        outbox
            .storage()
            .remove_stale_temp_files(std::time::Duration::from_secs(3600)),
        0
    );
    // …but an old one goes.
    assert_eq!(
        outbox
            .storage()
            .remove_stale_temp_files(std::time::Duration::ZERO),
        1
    );

    let bad = ResponseId::new();
    let path = dir.path().join(format!("outbox/{bad}.json"));
    std::fs::write(&path, b"{ not json").unwrap();
    match outbox.list().await {
        Err(StorageError::Corrupt { what, .. }) => assert!(what.contains(&bad.to_string())),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        outbox.get(bad).await,
        Err(StorageError::Corrupt { .. })
    ));
    assert!(path.exists(), "a corrupt record is left in place");
}

#[tokio::test]
async fn meta_values_round_trip_and_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStorage::open(dir.path()).unwrap();
    assert_eq!(s.get_meta("token").await.unwrap(), None);
    s.put_meta("token", &json!("secret")).await.unwrap();
    assert_eq!(s.get_meta("token").await.unwrap(), Some(json!("secret")));
    assert!(matches!(
        s.put_meta("../escape", &json!(1)).await,
        Err(StorageError::InvalidKey(_))
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("meta/token.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn delete_removes_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(dir.path());
    let rec = outbox.save_draft(response(json!({}))).await.unwrap();
    outbox.storage().delete(rec.response.id).await.unwrap();
    assert!(outbox.get(rec.response.id).await.unwrap().is_none());
    outbox.storage().delete(rec.response.id).await.unwrap();
}
