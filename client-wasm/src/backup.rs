//! The result of `sync()` and of the outbox operations, as the JS side sees them: plain
//! data, natively testable. The backup file itself is client-core's
//! [`parole_client::backup`], shared with `parole import-backup`.

use parole_client::sync::SyncReport;
use serde::Serialize;
use serde_json::Value;

use crate::error::ClientError;

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
    /// Photos removed from the phone after this sync: sent, or named by nothing unsent.
    pub photos_removed: usize,
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
            self.error = Some(ClientError::with_message(
                "unreachable",
                why.wrap(
                    |fr| format!("Serveur injoignable ({fr}). Rien n'est perdu : les réponses restent en file, réessayez plus tard."),
                    |en| format!("Server unreachable ({en}). Nothing is lost: the responses stay queued; try again later."),
                ),
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
    use parole_client::backup::{photo_ref, Backup};
    use parole_client::outbox::{OutboxRecord, State};
    use parole_client::sync::TransportError;
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
        let p1 = photo_ref(b"1");
        let p2 = photo_ref(b"2");
        let records = vec![
            record(State::Draft, json!({"photo": p1})),
            record(State::Synced, json!({"photo": p2})),
            record(State::Queued, json!({})),
            record(State::Rejected, json!({})),
        ];
        let backup = Backup::new(None, "2025-03-14T18:30:00+01:00".into(), records, |r| {
            (r == p1).then(|| ("image/jpeg".to_string(), b"1".to_vec()))
        });
        let v: Value = serde_json::from_str(&backup.to_json()).unwrap();
        assert_eq!(v["format"], "parole-backup/1");
        assert_eq!(v["device_id"], Value::Null);
        assert_eq!(v["responses"].as_array().unwrap().len(), 3);
        assert_eq!(v["responses"][0]["state"], "draft");
        assert_eq!(v["photos"][0]["ref"], p1);
        assert_eq!(v["photos"][0]["base64"], "MQ==");
        // It reads back whole, as `parole import-backup` reads it.
        assert_eq!(Backup::parse(&backup.to_json()).unwrap(), backup);
        assert_eq!(backup.photos[0].bytes().unwrap(), b"1");
    }

    #[test]
    fn a_push_that_gave_up_is_reported_as_unreachable() {
        let mut o = SyncOutcome::default();
        o.add_report(&SyncReport {
            sent: 5,
            still_queued: 1,
            gave_up: Some(TransportError::Network("Failed to fetch".into()).message()),
            ..SyncReport::default()
        });
        assert_eq!(o.sent, 5);
        let e = o.error.as_ref().unwrap();
        assert_eq!(e.code, "unreachable");
        assert!(
            e.message
                .fr
                .contains("(réseau indisponible : Failed to fetch)"),
            "{e:?}"
        );
        assert!(e.message.en.contains("(network error)"), "{e:?}");
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["error"]["code"], "unreachable");
        assert!(serde_json::to_value(SyncOutcome::default())
            .unwrap()
            .get("error")
            .is_none());
    }
}
