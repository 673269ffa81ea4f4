//! The offline outbox: every response the interviewer makes, from draft to receipt.
//!
//! Nothing an interviewer collects may ever be lost, so the outbox is the single place where
//! a response lives on the device, and it is written through before anything is reported:
//! **when [`Storage::put`] (and so [`Outbox::queue`]) returns `Ok`, the record survives a
//! process kill at any instant** (natively: temp file, `fsync`, `rename`, directory `fsync`).
//!
//! The outbox knows nothing of files, IndexedDB or the network: it runs over any
//! [`Storage`] (a file store natively, IndexedDB on the phone), and the
//! [sync engine](crate::sync) drives the state changes from the server's receipts.
//!
//! ```text
//!   save_draft ──► Draft ──queue (valid)──► Queued ──receipt accepted/duplicate, same hash──► Synced
//!                                             │  ▲
//!                          receipt rejected ──┘  └── requeue (corrected, valid)
//!                                   ▼
//!                               Rejected ◄── save_correction (as typed)          receipt conflict ──► Conflict (kept, never resent)
//! ```
//!
//! Records are never deleted by the outbox (only a draft, by the interviewer); a synced record
//! stays as the device's trace of what it sent, its answers erased
//! ([`retention`](crate::retention)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::i18n::Message;
use crate::questionnaire::Questionnaire;
use crate::response::{ContentHash, Response, ResponseId};
use crate::retention::{erased, needs_erasure};
use crate::validate::ValidationError;

/// Where a response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Being filled; not validated, never sent.
    Draft,
    /// Complete and valid; waiting to be delivered (or delivered without a usable receipt).
    Queued,
    /// The server holds it, with the same content hash.
    Synced,
    /// The server refused it, with the errors; waits for a correction.
    Rejected,
    /// The server holds different content under the same id; kept, never resent.
    Conflict,
}

impl State {
    /// The state's name as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Queued => "queued",
            State::Synced => "synced",
            State::Rejected => "rejected",
            State::Conflict => "conflict",
        }
    }
}

/// One response in the outbox, with what the device knows of its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub response: Response,
    pub state: State,
    /// The server's errors when rejected.
    #[serde(default)]
    pub errors: Vec<ValidationError>,
    /// The content hash the server holds (when synced or in conflict).
    #[serde(default)]
    pub server_hash: Option<ContentHash>,
    pub updated_at: DateTime<Utc>,
}

/// The one error of the storage layer. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Reading or writing failed (disk full, permissions, quota, …).
    #[error("impossible d'accéder au stockage ({what}) : {message} — vérifiez l'espace disque et les droits / storage access failed")]
    Io { what: String, message: String },
    /// A stored record or meta value could not be read back. It is left in place.
    #[error("enregistrement illisible {what} : {reason} — il est laissé en place ; mettez-le de côté et signalez-le / unreadable record, left in place")]
    Corrupt { what: String, reason: String },
    /// A meta key the store cannot hold (natively: only `[A-Za-z0-9_.-]`).
    #[error("clé de méta-données invalide : {0:?} / invalid meta key")]
    InvalidKey(String),
    /// Any other failure of the backend (e.g. IndexedDB).
    #[error("erreur du stockage : {0} / storage error")]
    Backend(String),
}

impl StorageError {
    /// The message in each language (its `Display` is both, joined).
    pub fn message(&self) -> Message {
        match self {
            StorageError::Io { what, message } => Message::new(
                format!("impossible d'accéder au stockage ({what}) : {message} — vérifiez l'espace disque et les droits"),
                "storage access failed",
            ),
            StorageError::Corrupt { what, reason } => Message::new(
                format!("enregistrement illisible {what} : {reason} — il est laissé en place ; mettez-le de côté et signalez-le"),
                "unreadable record, left in place",
            ),
            StorageError::InvalidKey(key) => Message::new(
                format!("clé de méta-données invalide : {key:?}"),
                "invalid meta key",
            ),
            StorageError::Backend(e) => {
                Message::new(format!("erreur du stockage : {e}"), "storage error")
            }
        }
    }
}

/// The device's store: records by response id, plus a few meta values (server URL, token,
/// pulled questionnaires, ETag).
///
/// Not `Send`-bounded: the phone implements it over IndexedDB, whose futures are not `Send`.
///
/// **Contract:** when `put` or `put_meta` returns `Ok`, the value survives a process kill at
/// any instant (and, natively, a power loss). `list` returns every record in id order and
/// reports an unreadable one as [`StorageError::Corrupt`] rather than dropping it.
#[allow(async_fn_in_trait)]
pub trait Storage {
    async fn put(&self, rec: &OutboxRecord) -> Result<(), StorageError>;
    async fn get(&self, id: ResponseId) -> Result<Option<OutboxRecord>, StorageError>;
    async fn list(&self) -> Result<Vec<OutboxRecord>, StorageError>;
    async fn delete(&self, id: ResponseId) -> Result<(), StorageError>;
    async fn get_meta(&self, key: &str) -> Result<Option<Value>, StorageError>;
    async fn put_meta(&self, key: &str, value: &Value) -> Result<(), StorageError>;
}

/// Why an outbox operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The response is not valid; nothing was stored.
    #[error("la réponse n'est pas valide ({} erreur(s)) / the response is not valid", .0.len())]
    Invalid(Vec<ValidationError>),
    #[error("réponse inconnue : {0} / unknown response")]
    NotFound(ResponseId),
    /// The operation does not apply to a record in this state (e.g. editing a synced one).
    #[error("la réponse {id} est dans l'état « {} », l'opération est impossible / response is {}, operation refused", .state.as_str(), .state.as_str())]
    WrongState { id: ResponseId, state: State },
    /// A receipt's hash does not match the stored content (the engine never does this).
    #[error("l'empreinte du serveur ne correspond pas à la réponse {0} / server hash mismatch")]
    HashMismatch(ResponseId),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl OutboxError {
    /// The message in each language (its `Display` is both, joined).
    pub fn message(&self) -> Message {
        match self {
            OutboxError::Invalid(errors) => Message::new(
                format!("la réponse n'est pas valide ({} erreur(s))", errors.len()),
                "the response is not valid",
            ),
            OutboxError::NotFound(id) => {
                Message::new(format!("réponse inconnue : {id}"), "unknown response")
            }
            OutboxError::WrongState { id, state } => Message::new(
                format!(
                    "la réponse {id} est dans l'état « {} », l'opération est impossible",
                    state.as_str()
                ),
                format!("response is {}, operation refused", state.as_str()),
            ),
            OutboxError::HashMismatch(id) => Message::new(
                format!("l'empreinte du serveur ne correspond pas à la réponse {id}"),
                "server hash mismatch",
            ),
            OutboxError::Storage(e) => e.message(),
        }
    }
}

/// How many records are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub drafts: usize,
    pub queued: usize,
    pub synced: usize,
    pub rejected: usize,
    pub conflict: usize,
}

/// The current time, from the device clock.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The offline queue over a [`Storage`].
#[derive(Debug)]
pub struct Outbox<S> {
    storage: S,
}

impl<S: Storage> Outbox<S> {
    pub fn new(storage: S) -> Self {
        Self { storage }
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn into_storage(self) -> S {
        self.storage
    }

    pub async fn get(&self, id: ResponseId) -> Result<Option<OutboxRecord>, StorageError> {
        self.storage.get(id).await
    }

    /// Every record, in id order.
    pub async fn list(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        let mut all = self.storage.list().await?;
        all.sort_by_key(|r| r.response.id);
        Ok(all)
    }

    /// Saves (or overwrites) a draft. Refused once the response has left the draft state.
    pub async fn save_draft(&self, response: Response) -> Result<OutboxRecord, OutboxError> {
        if let Some(existing) = self.storage.get(response.id).await? {
            if existing.state != State::Draft {
                return Err(OutboxError::WrongState {
                    id: response.id,
                    state: existing.state,
                });
            }
        }
        self.write(response, State::Draft, Vec::new(), None).await
    }

    /// Validates the response against `questionnaire` and, if valid, queues it for delivery
    /// (setting `completed_at` to now when empty). An invalid response is not stored and its
    /// errors are returned. When this returns `Ok`, the queued record is durable.
    ///
    /// Queuing again a response that is already queued with the same content is a no-op;
    /// changing a response that has left the draft state is refused (it may already be on
    /// the server).
    pub async fn queue(
        &self,
        mut response: Response,
        questionnaire: &Questionnaire,
    ) -> Result<OutboxRecord, OutboxError> {
        let existing = self.storage.get(response.id).await?;
        if response.completed_at.is_empty() {
            response.completed_at = match &existing {
                Some(e) if !e.response.completed_at.is_empty() => e.response.completed_at.clone(),
                _ => now().to_rfc3339(),
            };
        }
        if let Some(existing) = existing {
            match existing.state {
                State::Draft => {}
                State::Queued if existing.response == response => return Ok(existing),
                state => {
                    return Err(OutboxError::WrongState {
                        id: response.id,
                        state,
                    })
                }
            }
        }
        let errors = questionnaire.validate(&response.answers);
        if !errors.is_empty() {
            return Err(OutboxError::Invalid(errors));
        }
        self.write(response, State::Queued, Vec::new(), None).await
    }

    /// Queues a corrected version of a rejected response (same id: the server stored
    /// nothing under it). Validated like [`Self::queue`].
    pub async fn requeue(
        &self,
        id: ResponseId,
        mut corrected: Response,
        questionnaire: &Questionnaire,
    ) -> Result<OutboxRecord, OutboxError> {
        let existing = self.require(id).await?;
        if existing.state != State::Rejected || corrected.id != id {
            return Err(OutboxError::WrongState {
                id,
                state: existing.state,
            });
        }
        if corrected.completed_at.is_empty() {
            corrected.completed_at = existing.response.completed_at.clone();
        }
        let errors = questionnaire.validate(&corrected.answers);
        if !errors.is_empty() {
            return Err(OutboxError::Invalid(errors));
        }
        self.write(corrected, State::Queued, Vec::new(), None).await
    }

    /// Saves a correction in progress to a rejected response, as it is typed: the record
    /// stays rejected, with the server's errors, until [`Self::requeue`]. Not validated (a
    /// correction is unfinished until then); refused for any other state.
    pub async fn save_correction(&self, response: Response) -> Result<OutboxRecord, OutboxError> {
        let existing = self.require(response.id).await?;
        if existing.state != State::Rejected {
            return Err(OutboxError::WrongState {
                id: response.id,
                state: existing.state,
            });
        }
        self.write(response, State::Rejected, existing.errors, None)
            .await
    }

    /// Records the server's receipt: it holds this response with `hash`, which must be the
    /// stored response's own content hash. The record is written back
    /// [erased](crate::retention::erased): its answers and location are gone from the
    /// device, its id, questionnaire and times stay, and `server_hash` keeps the receipt's
    /// hash.
    pub async fn mark_synced(
        &self,
        id: ResponseId,
        hash: ContentHash,
    ) -> Result<OutboxRecord, OutboxError> {
        let rec = self.require(id).await?;
        if rec.state == State::Synced && rec.server_hash.as_ref() == Some(&hash) {
            return Ok(rec);
        }
        if rec.response.content_hash() != hash {
            return Err(OutboxError::HashMismatch(id));
        }
        self.write(erased(rec.response), State::Synced, Vec::new(), Some(hash))
            .await
    }

    /// Erases the answers of every sent record that still holds some (kept by an earlier
    /// version of the app); returns how many were erased.
    pub async fn erase_synced(&self) -> Result<usize, OutboxError> {
        let mut n = 0;
        for rec in self.storage.list().await? {
            if needs_erasure(&rec) {
                let hash = rec.server_hash.clone();
                self.write(erased(rec.response), State::Synced, Vec::new(), hash)
                    .await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Records the server's refusal, with its errors. The response waits for a correction.
    pub async fn mark_rejected(
        &self,
        id: ResponseId,
        errors: Vec<ValidationError>,
    ) -> Result<OutboxRecord, OutboxError> {
        let rec = self.require(id).await?;
        self.write(rec.response, State::Rejected, errors, None)
            .await
    }

    /// Records that the server holds different content under this id. Kept, never resent.
    pub async fn mark_conflict(
        &self,
        id: ResponseId,
        server_hash: Option<ContentHash>,
    ) -> Result<OutboxRecord, OutboxError> {
        let rec = self.require(id).await?;
        self.write(rec.response, State::Conflict, Vec::new(), server_hash)
            .await
    }

    /// Takes in a record from another device's backup, as it was there (a queued one stays
    /// queued, a draft a draft, a refused one keeps its errors), unless this outbox already
    /// holds that id: then nothing changes and `false` is returned. Its content (and so its
    /// hash) is untouched, so sending it again is a harmless duplicate on the server.
    /// A synced record is taken in as queued: only a receipt proves it arrived; one whose
    /// answers were erased after its receipt (its content no longer has the receipt's hash)
    /// is left out (`false`): it is on the server, and there is nothing to send.
    pub async fn import(&self, record: OutboxRecord) -> Result<bool, OutboxError> {
        if self.storage.get(record.response.id).await?.is_some() {
            return Ok(false);
        }
        if record.state == State::Synced
            && record
                .server_hash
                .as_ref()
                .is_some_and(|h| *h != record.response.content_hash())
        {
            return Ok(false);
        }
        let state = match record.state {
            State::Synced => State::Queued,
            state => state,
        };
        self.write(record.response, state, record.errors, None)
            .await?;
        Ok(true)
    }

    pub async fn counts(&self) -> Result<Counts, StorageError> {
        let mut c = Counts::default();
        for r in self.storage.list().await? {
            match r.state {
                State::Draft => c.drafts += 1,
                State::Queued => c.queued += 1,
                State::Synced => c.synced += 1,
                State::Rejected => c.rejected += 1,
                State::Conflict => c.conflict += 1,
            }
        }
        Ok(c)
    }

    /// The queued records, in id order (so, by creation time).
    pub async fn queued(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        self.in_state(State::Queued).await
    }

    /// The records in one state, in id order.
    pub async fn in_state(&self, state: State) -> Result<Vec<OutboxRecord>, StorageError> {
        let mut v: Vec<_> = self
            .storage
            .list()
            .await?
            .into_iter()
            .filter(|r| r.state == state)
            .collect();
        v.sort_by_key(|r| r.response.id);
        Ok(v)
    }

    async fn require(&self, id: ResponseId) -> Result<OutboxRecord, OutboxError> {
        self.storage.get(id).await?.ok_or(OutboxError::NotFound(id))
    }

    async fn write(
        &self,
        response: Response,
        state: State,
        errors: Vec<ValidationError>,
        server_hash: Option<ContentHash>,
    ) -> Result<OutboxRecord, OutboxError> {
        let rec = OutboxRecord {
            response,
            state,
            errors,
            server_hash,
            updated_at: now(),
        };
        self.storage.put(&rec).await?;
        Ok(rec)
    }
}

/// An in-memory [`Storage`], for tests and previews. Not durable: it keeps no promise of the
/// trait's contract beyond the process.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    records: std::cell::RefCell<std::collections::BTreeMap<ResponseId, OutboxRecord>>,
    meta: std::cell::RefCell<std::collections::BTreeMap<String, Value>>,
}

impl Storage for MemoryStorage {
    async fn put(&self, rec: &OutboxRecord) -> Result<(), StorageError> {
        self.records
            .borrow_mut()
            .insert(rec.response.id, rec.clone());
        Ok(())
    }
    async fn get(&self, id: ResponseId) -> Result<Option<OutboxRecord>, StorageError> {
        Ok(self.records.borrow().get(&id).cloned())
    }
    async fn list(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        Ok(self.records.borrow().values().cloned().collect())
    }
    async fn delete(&self, id: ResponseId) -> Result<(), StorageError> {
        self.records.borrow_mut().remove(&id);
        Ok(())
    }
    async fn get_meta(&self, key: &str) -> Result<Option<Value>, StorageError> {
        Ok(self.meta.borrow().get(key).cloned())
    }
    async fn put_meta(&self, key: &str, value: &Value) -> Result<(), StorageError> {
        self.meta
            .borrow_mut()
            .insert(key.to_string(), value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // MemoryStorage never waits: one poll finishes every future here.
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("MemoryStorage does not wait"),
        }
    }

    fn queued(answers: Value) -> OutboxRecord {
        OutboxRecord {
            response: Response {
                id: ResponseId::new(),
                questionnaire: "q".into(),
                version: 1,
                answers,
                started_at: "2025-03-14T18:30:00+01:00".into(),
                completed_at: "2025-03-14T18:40:00+01:00".into(),
                device_id: None,
                location: Some(crate::response::Location {
                    lat: 47.2,
                    lon: -1.5,
                    accuracy_m: Some(12.0),
                }),
            },
            state: State::Queued,
            errors: vec![],
            server_hash: None,
            updated_at: now(),
        }
    }

    #[test]
    fn a_receipt_erases_the_answers_and_keeps_what_the_sent_list_shows() {
        let outbox = Outbox::new(MemoryStorage::default());
        let rec = queued(serde_json::json!({"prenom": "Awa", "telephone": "06 12"}));
        let id = rec.response.id;
        let hash = rec.response.content_hash();
        block_on(outbox.storage().put(&rec)).unwrap();
        let synced = block_on(outbox.mark_synced(id, hash.clone())).unwrap();
        let stored = block_on(outbox.get(id)).unwrap().unwrap();
        assert_eq!(stored, synced);
        assert_eq!(stored.state, State::Synced);
        assert_eq!(stored.response.answers, serde_json::json!({}));
        assert_eq!(stored.response.location, None);
        assert_eq!(stored.response.questionnaire, "q");
        assert_eq!(stored.response.completed_at, rec.response.completed_at);
        assert_eq!(stored.server_hash, Some(hash.clone()));
        // A second receipt for it (a retried push) is still recognised.
        assert_eq!(block_on(outbox.mark_synced(id, hash)).unwrap(), stored);
        // A backup made before the receipt brings it back: nothing changes, nothing to send.
        assert!(!block_on(outbox.import(rec)).unwrap());
        assert_eq!(block_on(outbox.counts()).unwrap().queued, 0);
    }

    #[test]
    fn sent_records_kept_whole_by_an_earlier_version_are_erased_once() {
        let outbox = Outbox::new(MemoryStorage::default());
        let mut old = queued(serde_json::json!({"prenom": "Awa"}));
        old.state = State::Synced;
        old.server_hash = Some(old.response.content_hash());
        let unsent = queued(serde_json::json!({"prenom": "Lou"}));
        block_on(outbox.storage().put(&old)).unwrap();
        block_on(outbox.storage().put(&unsent)).unwrap();
        assert_eq!(block_on(outbox.erase_synced()).unwrap(), 1);
        assert_eq!(block_on(outbox.erase_synced()).unwrap(), 0);
        let after = block_on(outbox.get(old.response.id)).unwrap().unwrap();
        assert_eq!(after.response.answers, serde_json::json!({}));
        assert_eq!(after.server_hash, old.server_hash);
        let kept = block_on(outbox.get(unsent.response.id)).unwrap().unwrap();
        assert_eq!(kept, unsent, "an unsent response is untouched");
        // An erased sent record from another device's backup is not taken in as queued.
        let other = Outbox::new(MemoryStorage::default());
        assert!(!block_on(other.import(after)).unwrap());
        // A sent one still whole is (only a receipt proves it arrived here too).
        assert!(block_on(other.import(old)).unwrap());
        assert_eq!(block_on(other.counts()).unwrap().queued, 1);
    }

    #[test]
    fn each_message_is_its_display_in_one_language() {
        let id = ResponseId::new();
        let errors = [
            OutboxError::Storage(StorageError::Io {
                what: "/x".into(),
                message: "disque plein".into(),
            }),
            OutboxError::Storage(StorageError::Corrupt {
                what: "r.json".into(),
                reason: "EOF".into(),
            }),
            OutboxError::Storage(StorageError::InvalidKey("a/b".into())),
            OutboxError::Storage(StorageError::Backend("QuotaExceededError".into())),
            OutboxError::Invalid(Vec::new()),
            OutboxError::NotFound(id),
            OutboxError::WrongState {
                id,
                state: State::Synced,
            },
            OutboxError::HashMismatch(id),
        ];
        for e in errors {
            assert_eq!(e.to_string(), e.message().joined(), "{e:?}");
            if let OutboxError::Storage(s) = &e {
                assert_eq!(s.to_string(), s.message().joined(), "{s:?}");
            }
        }
        let m = StorageError::Backend("QuotaExceededError".into()).message();
        assert_eq!(m.fr, "erreur du stockage : QuotaExceededError");
        assert_eq!(m.en, "storage error");
    }
}
