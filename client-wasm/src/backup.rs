//! The backup file (`parole-backup/1`) and the result of `sync()`: plain data, built
//! natively testable.
//!
//! A backup holds every outbox record not yet synced (drafts included, each with its state)
//! and every photo they name, so that nothing is lost if the browser's storage is wiped:
//!
//! ```json
//! {"format": "parole-backup/1", "device_id": "…" | null, "created_at": "RFC 3339",
//!  "responses": [{"response": {…}, "state": "queued", "errors": [], "server_hash": null,
//!                 "updated_at": "…"}],
//!  "photos": [{"ref": "sha256:…", "mime": "image/jpeg", "base64": "…"}]}
//! ```
//!
//! `parole import-backup FILE` queues and sends its contents; since every response keeps its
//! id, sending one that already arrived is a harmless duplicate.

use std::collections::BTreeSet;

use parole_client::outbox::{OutboxRecord, State};
use parole_client::sync::SyncReport;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ClientError;
use crate::util::{base64, collect_photo_refs, split_bilingual};

/// The `format` of a backup file.
pub const BACKUP_FORMAT: &str = "parole-backup/1";

/// The records a backup keeps (all but the synced ones), in id order, and the photos they
/// name.
pub fn backup_selection(records: Vec<OutboxRecord>) -> (Vec<OutboxRecord>, BTreeSet<String>) {
    let mut kept: Vec<_> = records
        .into_iter()
        .filter(|r| r.state != State::Synced)
        .collect();
    kept.sort_by_key(|r| r.response.id);
    let mut refs = BTreeSet::new();
    for r in &kept {
        collect_photo_refs(&r.response.answers, &mut refs);
    }
    (kept, refs)
}

/// One photo of a backup.
#[derive(Debug, Clone)]
pub struct BackupPhoto {
    pub reference: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// The backup file's text (compact JSON).
pub fn backup_json(
    device_id: Option<Uuid>,
    created_at: &str,
    records: &[OutboxRecord],
    photos: &[BackupPhoto],
) -> String {
    #[derive(Serialize)]
    struct Photo<'a> {
        #[serde(rename = "ref")]
        reference: &'a str,
        mime: &'a str,
        base64: String,
    }
    #[derive(Serialize)]
    struct Backup<'a> {
        format: &'a str,
        device_id: Option<Uuid>,
        created_at: &'a str,
        responses: &'a [OutboxRecord],
        photos: Vec<Photo<'a>>,
    }
    let backup = Backup {
        format: BACKUP_FORMAT,
        device_id,
        created_at,
        responses: records,
        photos: photos
            .iter()
            .map(|p| Photo {
                reference: &p.reference,
                mime: &p.mime,
                base64: base64(&p.bytes),
            })
            .collect(),
    };
    serde_json::to_string(&backup).expect("a backup serialises")
}

/// What `sync()` did: the push's counts, the photos', and the error that stopped it, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    pub sent: usize,
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub conflict: usize,
    pub still_queued: usize,
    /// Photos uploaded by this sync (a `PUT` that the server took).
    pub photos_sent: usize,
    /// Photos the server already had (`HEAD` 200): not uploaded again.
    pub photos_skipped: usize,
    /// Photos named by a queued response but not on this device.
    pub photos_missing: usize,
    /// Photos the server refused (e.g. 413, too large); their responses are sent anyway.
    pub photos_failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ClientError>,
}

impl SyncOutcome {
    /// Takes in the push's report. A push that gave up on an unreachable server reports it
    /// as `error.code = "unreachable"` (nothing is lost: the responses stay queued).
    pub fn add_report(&mut self, report: &SyncReport) {
        self.sent += report.sent;
        self.accepted += report.accepted;
        self.duplicate += report.duplicate;
        self.rejected += report.rejected;
        self.conflict += report.conflict;
        self.still_queued = report.still_queued;
        if let (Some(why), None) = (&report.gave_up, &self.error) {
            let (fr, en) = split_bilingual(why);
            self.error = Some(ClientError::new(
                "unreachable",
                format!("Serveur injoignable ({fr}). Rien n'est perdu : les réponses restent en file, réessayez plus tard."),
                format!("Server unreachable ({en}). Nothing is lost: the responses stay queued; try again later."),
            ));
        }
    }
}

/// `{ok: true, response}` or `{ok: false, errors}`, the answer of `complete()` and
/// `resubmit()`.
pub fn queue_result(result: Result<Value, Vec<parole_client::ValidationError>>) -> Value {
    match result {
        Ok(response) => serde_json::json!({"ok": true, "response": response}),
        Err(errors) => serde_json::json!({"ok": false, "errors": errors}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parole_client::{Response, ResponseId};
    use serde_json::json;

    fn record(state: State, answers: Value) -> OutboxRecord {
        OutboxRecord {
            response: Response {
                id: ResponseId::new(),
                questionnaire: "q".into(),
                version: 1,
                answers,
                started_at: "2025-03-14T18:30:00+01:00".into(),
                completed_at: String::new(),
                device_id: None,
                location: None,
            },
            state,
            errors: vec![],
            server_hash: None,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_backup_keeps_every_unsynced_record_and_the_photos_they_name() {
        let p1 = crate::util::photo_ref(b"1");
        let p2 = crate::util::photo_ref(b"2");
        let records = vec![
            record(State::Draft, json!({"photo": p1})),
            record(State::Synced, json!({"photo": p2})),
            record(State::Queued, json!({})),
            record(State::Rejected, json!({})),
        ];
        let (kept, refs) = backup_selection(records);
        assert_eq!(
            kept.iter().map(|r| r.state).collect::<Vec<_>>(),
            [State::Draft, State::Queued, State::Rejected]
        );
        assert_eq!(refs, BTreeSet::from([p1.clone()]));

        let text = backup_json(
            None,
            "2025-03-14T18:30:00+01:00",
            &kept,
            &[BackupPhoto {
                reference: p1.clone(),
                mime: "image/jpeg".into(),
                bytes: b"1".to_vec(),
            }],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], "parole-backup/1");
        assert_eq!(v["device_id"], Value::Null);
        assert_eq!(v["responses"].as_array().unwrap().len(), 3);
        assert_eq!(v["responses"][0]["state"], "draft");
        assert_eq!(v["photos"][0]["ref"], p1);
        assert_eq!(v["photos"][0]["base64"], "MQ==");
        // Records read back as the outbox's own type.
        let back: Vec<OutboxRecord> = serde_json::from_value(v["responses"].clone()).unwrap();
        assert_eq!(back, kept);
    }

    #[test]
    fn a_push_that_gave_up_is_reported_as_unreachable() {
        let mut o = SyncOutcome::default();
        o.add_report(&SyncReport {
            sent: 5,
            still_queued: 1,
            gave_up: Some("réseau indisponible : Failed to fetch / network error".into()),
            ..SyncReport::default()
        });
        assert_eq!(o.sent, 5);
        let e = o.error.as_ref().unwrap();
        assert_eq!(e.code, "unreachable");
        assert!(
            e.message
                .contains("(réseau indisponible : Failed to fetch)"),
            "{e:?}"
        );
        assert!(e.message_en.contains("(network error)"), "{e:?}");
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["error"]["code"], "unreachable");
        assert!(serde_json::to_value(SyncOutcome::default())
            .unwrap()
            .get("error")
            .is_none());
    }
}
