//! What a device keeps, and for how long: nothing it need not hold.
//!
//! - **A sent response keeps no answers.** Once the server's receipt carries its content
//!   hash, [`Outbox::mark_synced`](crate::outbox::Outbox::mark_synced) writes it back
//!   [`erased`]: its id, questionnaire, version, device and times stay (the sent list, and
//!   the id that makes a later copy of it — a restored backup — a recognised duplicate),
//!   its answers become `{}` and its location goes. The receipt's hash stays in
//!   `server_hash`, so what was sent is still provable. A lost phone then carries no one's
//!   answers (GDPR: storage limitation), and storage does not fill up.
//! - **A photo is kept while a draft or an unsent response names it**
//!   ([`photos_to_remove`]): once its response is sent (it was uploaded first), or when
//!   nothing names it any more (retaken, its draft deleted), it is removed. A photo stored
//!   a moment ago that no saved draft names yet is spared for [`PHOTO_GRACE_MS`]: the app
//!   stores the photo, then saves the draft that names it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::backup::photo_refs;
use crate::outbox::{OutboxRecord, State};
use crate::response::Response;

/// How long a photo no saved record names is kept after it was stored (ten minutes): the
/// time between storing a photo and saving the draft that names it, with a wide margin.
pub const PHOTO_GRACE_MS: i64 = 10 * 60 * 1000;

/// `response` as a sent one is kept: answers `{}`, no location; id, questionnaire, version,
/// device and times unchanged.
pub fn erased(mut response: Response) -> Response {
    response.answers = Value::Object(Default::default());
    response.location = None;
    response
}

/// True when `rec` is a sent response that still holds answers or a location (written
/// before erasure existed, or by a device that did not erase).
pub fn needs_erasure(rec: &OutboxRecord) -> bool {
    rec.state == State::Synced
        && (rec.response.location.is_some()
            || rec
                .response
                .answers
                .as_object()
                .is_none_or(|m| !m.is_empty()))
}

/// The photo references every record not yet sent names (drafts, queued, refused, in
/// conflict): the photos a device must keep.
pub fn kept_photos<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for r in records.into_iter().filter(|r| r.state != State::Synced) {
        photo_refs(&r.response.answers, &mut refs);
    }
    refs
}

/// What the device knows of one stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhotoInfo {
    pub reference: String,
    /// The server holds it (a `HEAD` said so, or it was uploaded).
    pub uploaded: bool,
    /// When it was last stored (ms since the epoch); `None` for a photo stored before the
    /// time was kept: counted as old.
    pub stored_at_ms: Option<i64>,
}

/// The stored photos to remove: those no unsent record names (`kept`, from
/// [`kept_photos`]) and that are either on the server already (their response was sent) or
/// older than [`PHOTO_GRACE_MS`] (retaken, their draft deleted).
pub fn photos_to_remove(
    kept: &BTreeSet<String>,
    stored: impl IntoIterator<Item = StoredPhotoInfo>,
    now_ms: i64,
) -> Vec<String> {
    stored
        .into_iter()
        .filter(|p| !kept.contains(&p.reference))
        .filter(|p| {
            p.uploaded || now_ms.saturating_sub(p.stored_at_ms.unwrap_or(0)) > PHOTO_GRACE_MS
        })
        .map(|p| p.reference)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::photo_ref;
    use crate::response::{Location, ResponseId};
    use serde_json::json;

    fn record(state: State, answers: Value) -> OutboxRecord {
        OutboxRecord {
            response: Response {
                id: ResponseId::new(),
                questionnaire: "q".into(),
                version: 2,
                answers,
                started_at: "2025-03-14T18:30:00+01:00".into(),
                completed_at: "2025-03-14T18:40:00+01:00".into(),
                device_id: Some(uuid::Uuid::now_v7()),
                location: Some(Location {
                    lat: 47.2,
                    lon: -1.5,
                    accuracy_m: None,
                }),
            },
            state,
            errors: vec![],
            server_hash: None,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_erased_response_keeps_what_the_sent_list_shows_and_nothing_else() {
        let rec = record(State::Synced, json!({"prenom": "Awa", "telephone": "06"}));
        assert!(needs_erasure(&rec));
        let e = erased(rec.response.clone());
        assert_eq!(e.answers, json!({}));
        assert_eq!(e.location, None);
        assert_eq!(
            (
                e.id,
                &e.questionnaire,
                e.version,
                &e.started_at,
                &e.completed_at,
                e.device_id
            ),
            (
                rec.response.id,
                &rec.response.questionnaire,
                2,
                &rec.response.started_at,
                &rec.response.completed_at,
                rec.response.device_id
            )
        );
        let again = OutboxRecord {
            response: e,
            ..rec.clone()
        };
        assert!(!needs_erasure(&again));
        // Only sent ones are erased.
        assert!(!needs_erasure(&record(State::Queued, json!({"a": 1}))));
    }

    #[test]
    fn photos_are_kept_while_an_unsent_record_names_them() {
        let [named_by_draft, named_by_refused, sent, retaken_old, retaken_now, legacy] =
            ["1", "2", "3", "4", "5", "6"].map(|s| photo_ref(s.as_bytes()));
        let records = [
            record(State::Draft, json!({"photo": named_by_draft})),
            record(
                State::Rejected,
                json!({"lieux": [{"photo": named_by_refused}]}),
            ),
            record(State::Synced, json!({"photo": sent})),
        ];
        let kept = kept_photos(&records);
        assert_eq!(
            kept,
            BTreeSet::from([named_by_draft.clone(), named_by_refused.clone()])
        );
        let now = 1_000_000_000;
        let info = |reference: &str, uploaded, at: Option<i64>| StoredPhotoInfo {
            reference: reference.to_string(),
            uploaded,
            stored_at_ms: at,
        };
        let stored = vec![
            info(&named_by_draft, true, Some(now - 2 * PHOTO_GRACE_MS)),
            info(&named_by_refused, false, None),
            info(&sent, true, Some(now)),
            info(&retaken_old, false, Some(now - PHOTO_GRACE_MS - 1)),
            info(&retaken_now, false, Some(now - 1000)),
            info(&legacy, false, None),
        ];
        assert_eq!(
            photos_to_remove(&kept, stored, now),
            vec![sent, retaken_old, legacy]
        );
    }
}
