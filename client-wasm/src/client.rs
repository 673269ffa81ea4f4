//! `ParoleClient`, the JS API the web UI calls. See the crate's README for the contract.
//!
//! Every async method returns a `Promise` built from a future that holds an `Rc` of the
//! client's state (never a borrow of the JS object), so calls may overlap freely; `sync()` is
//! the one that must not run twice at once: a second call while one runs returns the first
//! one's promise.
//!
//! Values cross the boundary as JSON: Rust values are written by serde and `JSON.parse`d into
//! plain JS objects; JS arguments are `JSON.stringify`d and read by serde. No
//! `serde-wasm-bindgen` (smaller wasm, and no `Map`s where the UI expects objects).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Promise, Reflect, Uint8Array};
use parole_client::api::{EnrolRequest, EnrolResponse, SyncQuestionnaire};
use parole_client::i18n::Message;
use parole_client::outbox::{Outbox, OutboxError, State, Storage};
use parole_client::sync::{self, SyncConfig, SyncEngine, TransportError};
use parole_client::{Questionnaire, Response, ResponseId};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::backup::{queue_result, SyncOutcome};
use crate::error::ClientError;
use crate::fetch::{self, base, Body, FetchTransport, REQUEST_TIMEOUT, UPLOAD_TIMEOUT};
use crate::idb_storage::{IdbStorage, StoredPhoto};
use crate::util::{collect_photo_refs, is_photo_ref, photo_ref, rfc3339_local, MAX_PHOTO_BYTES};
use parole_client::backup::{unsynced, BackupView, BackupWriter};
use parole_client::retention::{kept_photos, photos_to_remove, StoredPhotoInfo};

/// Meta keys, the same as the native CLI's.
const META_SERVER: &str = "server";
const META_DEVICE_ID: &str = "device_id";
const META_DEVICE_NAME: &str = "device_name";
const META_TOKEN: &str = "token";
/// Every questionnaire version ever pulled is also kept under its own key, so that a draft
/// started on a version the server no longer lists can still be finished against it.
fn archive_key(slug: &str, version: i32) -> String {
    format!("questionnaire:{slug}:{version}")
}

pub(crate) type JsResult<T> = Result<T, ClientError>;

impl From<ClientError> for JsValue {
    /// A JS `Error` whose `message` is the French text, with `code` and `message_en`.
    fn from(e: ClientError) -> JsValue {
        let err = js_sys::Error::new(&e.message.fr);
        let _ = Reflect::set(&err, &"code".into(), &e.code.as_str().into());
        let _ = Reflect::set(&err, &"message_en".into(), &e.message.en.as_str().into());
        err.into()
    }
}

/// A Rust value as a plain JS value (through JSON).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsResult<JsValue> {
    let text = serde_json::to_string(value)
        .map_err(|e| ClientError::new("internal", e.to_string(), e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|e| {
        ClientError::with_message(
            "internal",
            Message::same(crate::idb_storage::js_message(&e)),
        )
    })
}

/// A JS argument read as `T` (through JSON).
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(what: &str, value: &JsValue) -> JsResult<T> {
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| JsValue::from(s).as_string())
        .ok_or_else(|| ClientError::bad_argument(what, "absent / missing"))?;
    serde_json::from_str(&text).map_err(|e| ClientError::bad_argument(what, e))
}

/// A method's future as a `Promise`. Boxed, so that `future_to_promise` is instantiated
/// once rather than once per method (tens of KB of wasm).
fn promise<F>(future: F) -> Promise
where
    F: Future<Output = JsResult<JsValue>> + 'static,
{
    boxed_promise(Box::pin(future))
}

fn boxed_promise(future: Pin<Box<dyn Future<Output = JsResult<JsValue>>>>) -> Promise {
    future_to_promise(async move { future.await.map_err(JsValue::from) })
}

/// Now, RFC 3339 in the device's local offset (what the interviewer's clock shows).
fn local_now() -> String {
    // `getTimezoneOffset` is minutes *behind* UTC (-60 in Paris in winter).
    let offset = -(js_sys::Date::new_0().get_timezone_offset() as i32);
    rfc3339_local(chrono::Utc::now(), offset)
}

/// A parsed questionnaire version, kept once parsed (its validators are compiled).
struct Held {
    pulled: SyncQuestionnaire,
    model: Questionnaire,
}

impl Held {
    fn to_js(&self) -> JsResult<JsValue> {
        to_js(&json!({
            "slug": self.pulled.slug,
            "version": self.pulled.version,
            "title": self.pulled.title,
            "model": self.model,
            "document": self.pulled.document,
        }))
    }
}

/// Runs the interviewer's outbox changes one at a time, in call order.
///
/// Each is a read then a write (`save_draft` checks the state first), so two overlapping
/// calls could interleave: a `saveDraft` fired by a late `change` event just after
/// `complete()` would read the draft, then write it back over the queued record. The sync
/// does not take the gate: it only changes queued records, which none of these writes.
struct Gate {
    tail: RefCell<Promise>,
}

/// Opens the gate for the next caller when dropped.
struct Pass(js_sys::Function);

impl Drop for Pass {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

impl Gate {
    fn new() -> Self {
        Self {
            tail: RefCell::new(Promise::resolve(&JsValue::UNDEFINED)),
        }
    }

    async fn enter(&self) -> Pass {
        let mut open = None;
        let mine = Promise::new(&mut |resolve, _| open = Some(resolve));
        let previous = self.tail.replace(mine);
        let pass = Pass(open.expect("the Promise executor runs at once"));
        let _ = wasm_bindgen_futures::JsFuture::from(previous).await;
        pass
    }
}

struct Inner {
    server: String,
    storage: IdbStorage,
    gate: Gate,
    questionnaires: RefCell<HashMap<(String, i32), Rc<Held>>>,
    sync_in_flight: RefCell<Option<Promise>>,
}

/// The phone's client: the offline outbox in IndexedDB, the questionnaires, and sync.
#[wasm_bindgen]
pub struct ParoleClient {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl ParoleClient {
    /// Opens the IndexedDB database `parole` and returns a client of the server at
    /// `serverBaseUrl` (the app's own origin, usually).
    pub async fn open(
        #[wasm_bindgen(js_name = serverBaseUrl)] server_base_url: String,
    ) -> Result<ParoleClient, JsValue> {
        let storage = IdbStorage::open().await.map_err(ClientError::from)?;
        Ok(ParoleClient {
            inner: Rc::new(Inner {
                server: base(&server_base_url),
                storage,
                gate: Gate::new(),
                questionnaires: RefCell::new(HashMap::new()),
                sync_in_flight: RefCell::new(None),
            }),
        })
    }

    /// `{device_id, server, device_name}`, or `null` before enrolment.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{device_id: string, server: string, device_name: string} | null>"
    )]
    pub fn enrolment(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let Some((_, device_id)) = inner.credentials().await? else {
                return Ok(JsValue::NULL);
            };
            let server = inner.meta_str(META_SERVER).await?.unwrap_or_default();
            let device_name = inner.meta_str(META_DEVICE_NAME).await?.unwrap_or_default();
            to_js(&json!({"device_id": device_id, "server": server, "device_name": device_name}))
        })
    }

    /// Enrols this device with a code from the coordinator; keeps the token.
    #[wasm_bindgen(unchecked_return_type = "Promise<{device_id: string}>")]
    pub fn enrol(
        &self,
        code: String,
        #[wasm_bindgen(js_name = deviceName)] device_name: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.enrol(code.trim(), device_name.trim()).await })
    }

    /// Pulls the questionnaire list (a 304 when unchanged).
    #[wasm_bindgen(unchecked_return_type = "Promise<{changed: boolean, questionnaires: number}>")]
    pub fn pull(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.pull().await })
    }

    /// The latest version of each questionnaire held.
    pub fn questionnaires(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let pulled = sync::stored_questionnaires(&inner.storage).await?;
            let mut latest: Vec<SyncQuestionnaire> = Vec::new();
            for q in pulled {
                match latest.iter_mut().find(|l| l.slug == q.slug) {
                    Some(l) if l.version < q.version => *l = q,
                    Some(_) => {}
                    None => latest.push(q),
                }
            }
            let out = js_sys::Array::new();
            for q in latest {
                let held = inner.parse(q)?;
                out.push(&held.to_js()?);
            }
            Ok(out.into())
        })
    }

    /// One questionnaire version held (the current list first, then every version pulled
    /// before).
    pub fn questionnaire(&self, slug: String, version: i32) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.load(&slug, version).await?.to_js() })
    }

    /// The errors of `answers` (`[]` when valid).
    #[wasm_bindgen(
        unchecked_return_type = "Promise<Array<{path: string, code: string, message: string, message_en: string}>>"
    )]
    pub fn validate(&self, slug: String, version: i32, answers: JsValue) -> Promise {
        let inner = self.inner.clone();
        let answers = from_js::<Value>("answers", &answers);
        promise(async move {
            let q = inner.load(&slug, version).await?;
            to_js(&q.model.validate(&answers?))
        })
    }

    /// The JSON pointers of the questions visible with `answers`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Array<string>>")]
    pub fn visible(&self, slug: String, version: i32, answers: JsValue) -> Promise {
        let inner = self.inner.clone();
        let answers = from_js::<Value>("answers", &answers);
        promise(async move {
            let q = inner.load(&slug, version).await?;
            to_js(&q.model.visible(&answers?))
        })
    }

    /// A new response (not saved: `saveDraft` it).
    #[wasm_bindgen(js_name = newDraft)]
    pub fn new_draft(&self, slug: String, version: i32) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let q = inner.load(&slug, version).await?;
            let device_id = inner
                .meta_str(META_DEVICE_ID)
                .await?
                .and_then(|s| s.parse::<Uuid>().ok());
            to_js(&Response {
                id: ResponseId::new(),
                questionnaire: q.pulled.slug.clone(),
                version: q.pulled.version,
                answers: json!({}),
                started_at: local_now(),
                completed_at: String::new(),
                device_id,
                location: None,
            })
        })
    }

    /// Saves a draft; durable when resolved. Refused once the response has left the draft
    /// state (`wrong_state`).
    #[wasm_bindgen(js_name = saveDraft, unchecked_return_type = "Promise<void>")]
    pub fn save_draft(&self, response: JsValue) -> Promise {
        let inner = self.inner.clone();
        let response = from_js::<Response>("response", &response);
        promise(async move {
            let response = response?;
            let _pass = inner.gate.enter().await;
            inner.outbox().save_draft(response).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes a draft (a no-op when there is none). Refused for a response that has left
    /// the draft state (`wrong_state`): it may be on its way to the server.
    #[wasm_bindgen(js_name = deleteDraft, unchecked_return_type = "Promise<void>")]
    pub fn delete_draft(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let id =
                ResponseId(Uuid::parse_str(&id).map_err(|e| ClientError::bad_argument("id", e))?);
            let _pass = inner.gate.enter().await;
            if let Some(rec) = inner.storage.get(id).await? {
                if rec.state != State::Draft {
                    return Err(OutboxError::WrongState {
                        id,
                        state: rec.state,
                    }
                    .into());
                }
                inner.storage.delete(id).await?;
            }
            drop(_pass);
            // Its photos go too, once nothing else names them (after a grace period).
            inner.retain().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Validates and queues a response (`completed_at` set to now when empty).
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{ok: true, response: any} | {ok: false, errors: Array<{path: string, code: string, message: string, message_en: string}>}>"
    )]
    pub fn complete(&self, response: JsValue) -> Promise {
        let inner = self.inner.clone();
        let response = from_js::<Response>("response", &response);
        promise(async move {
            let mut response = response?;
            let q = inner
                .load(&response.questionnaire, response.version)
                .await?;
            let _pass = inner.gate.enter().await;
            if response.completed_at.is_empty() {
                // Keep the first completion time when this is a retry.
                response.completed_at = match inner.storage.get(response.id).await? {
                    Some(r) if !r.response.completed_at.is_empty() => r.response.completed_at,
                    _ => local_now(),
                };
            }
            let result = inner.outbox().queue(response, &q.model).await;
            inner.queue_answer(result)
        })
    }

    /// Every outbox record (drafts too), in id order.
    pub fn records(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { to_js(&inner.outbox().list().await?) })
    }

    #[wasm_bindgen(
        unchecked_return_type = "Promise<{drafts: number, queued: number, synced: number, rejected: number, conflict: number}>"
    )]
    pub fn counts(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { to_js(&inner.outbox().counts().await?) })
    }

    /// Requeues a corrected rejected response (same id).
    pub fn resubmit(&self, response: JsValue) -> Promise {
        let inner = self.inner.clone();
        let response = from_js::<Response>("response", &response);
        promise(async move {
            let response = response?;
            let q = inner
                .load(&response.questionnaire, response.version)
                .await?;
            let _pass = inner.gate.enter().await;
            let result = inner
                .outbox()
                .requeue(response.id, response, &q.model)
                .await;
            inner.queue_answer(result)
        })
    }

    /// Saves the correction being typed to a refused response (same id), as a draft is
    /// saved: it stays refused, with the server's reasons, until `resubmit`. Refused for a
    /// response in any other state (`wrong_state`).
    #[wasm_bindgen(js_name = saveCorrection, unchecked_return_type = "Promise<void>")]
    pub fn save_correction(&self, response: JsValue) -> Promise {
        let inner = self.inner.clone();
        let response = from_js::<Response>("response", &response);
        promise(async move {
            let response = response?;
            let _pass = inner.gate.enter().await;
            inner.outbox().save_correction(response).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// How many photos the queued responses name that are not uploaded yet (held on this
    /// device and not known to be on the server).
    #[wasm_bindgen(js_name = photosToUpload, unchecked_return_type = "Promise<number>")]
    pub fn photos_to_upload(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let mut refs = BTreeSet::new();
            for rec in inner.outbox().queued().await? {
                collect_photo_refs(&rec.response.answers, &mut refs);
            }
            let mut n = 0u32;
            for reference in refs.into_iter().filter(|r| is_photo_ref(r)) {
                if let Some(photo) = inner.storage.get_photo(&reference).await? {
                    n += u32::from(!photo.uploaded);
                }
            }
            Ok(JsValue::from(n))
        })
    }

    /// Stores a photo; returns its reference `sha256:<hex>`.
    #[wasm_bindgen(js_name = putPhoto, unchecked_return_type = "Promise<string>")]
    pub fn put_photo(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] bytes: JsValue,
        mime: String,
    ) -> Promise {
        let inner = self.inner.clone();
        // Copied now, before anything awaits: the caller may reuse or detach its buffer.
        let copy = if bytes.is_instance_of::<Uint8Array>() || bytes.is_instance_of::<ArrayBuffer>()
        {
            Ok(Uint8Array::new(&bytes).to_vec())
        } else {
            Err(ClientError::bad_argument(
                "bytes",
                "Uint8Array ou ArrayBuffer attendu / expected a Uint8Array or an ArrayBuffer",
            ))
        };
        promise(async move {
            let copy = copy?;
            let len = copy.len();
            if len > MAX_PHOTO_BYTES {
                return Err(ClientError::new(
                    "too_large",
                    format!("Photo trop lourde ({len} octets ; au plus {MAX_PHOTO_BYTES}) : reprenez-la en plus petit."),
                    format!("Photo too large ({len} bytes; at most {MAX_PHOTO_BYTES}): take it again smaller."),
                ));
            }
            let bytes = Uint8Array::from(copy.as_slice());
            let reference = photo_ref(&copy);
            // Stored again even when held (stamped now, to be checked with the server
            // again): a photo that was just sent and that nothing names any more is about
            // to be removed (see `retain`), and this one is about to be named.
            inner
                .storage
                .put_photo(&reference, &mime, &bytes, false, js_sys::Date::now())
                .await?;
            Ok(JsValue::from_str(&reference))
        })
    }

    /// A stored photo, or `null`.
    #[wasm_bindgen(js_name = getPhoto, unchecked_return_type = "Promise<{bytes: Uint8Array, mime: string} | null>")]
    pub fn get_photo(&self, reference: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let Some(photo) = inner.storage.get_photo(&reference).await? else {
                return Ok(JsValue::NULL);
            };
            let out = js_sys::Object::new();
            let _ = Reflect::set(&out, &"bytes".into(), &photo.bytes);
            let _ = Reflect::set(&out, &"mime".into(), &photo.mime.into());
            Ok(out.into())
        })
    }

    /// Uploads the photos of the queued responses, then pushes them. Always resolves, with
    /// `error` set when something stopped it. Never runs twice at once.
    pub fn sync(&self) -> Promise {
        if let Some(p) = self.inner.sync_in_flight.borrow().as_ref() {
            return p.clone();
        }
        let inner = self.inner.clone();
        // `future_to_promise` (under `promise`) never polls synchronously, so the slot is set before the
        // future can clear it.
        let p = promise(async move {
            let outcome = inner.sync().await;
            inner.sync_in_flight.borrow_mut().take();
            to_js(&outcome)
        });
        *self.inner.sync_in_flight.borrow_mut() = Some(p.clone());
        p
    }

    /// Writes the backup file (every record not yet synced, and their photos) **in pieces**:
    /// calls `write(piece)` for each (a string; awaited when it returns a promise), never
    /// holding one string of every photo. Resolves to `{responses, photos}`, the counts.
    #[wasm_bindgen(
        js_name = writeBackup,
        unchecked_return_type = "Promise<{responses: number, photos: number}>"
    )]
    pub fn write_backup(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(piece: string) => void | Promise<void>")]
        write: js_sys::Function,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.write_backup(&write).await })
    }

    /// Restores a backup file (its bytes, as read from the file the interviewer picked): its
    /// photos are stored (checked against their hash) and its responses taken in as they
    /// were (a queued one queued, a draft a draft), except those this phone already holds.
    /// The next sync sends them; one the server already has is recognised by its id and
    /// hash (a duplicate), never stored twice. Resolves to `{taken, held, drafts, photos,
    /// photos_damaged}`.
    #[wasm_bindgen(
        js_name = restoreBackup,
        unchecked_return_type = "Promise<{taken: number, held: number, drafts: number, photos: number, photos_damaged: number}>"
    )]
    pub fn restore_backup(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] bytes: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let copy = if bytes.is_instance_of::<Uint8Array>() || bytes.is_instance_of::<ArrayBuffer>()
        {
            Ok(Uint8Array::new(&bytes).to_vec())
        } else {
            Err(ClientError::bad_argument(
                "bytes",
                "Uint8Array ou ArrayBuffer attendu / expected a Uint8Array or an ArrayBuffer",
            ))
        };
        promise(async move { inner.restore_backup(copy?).await })
    }
}

impl Inner {
    fn outbox(&self) -> Outbox<IdbStorage> {
        Outbox::new(self.storage.clone())
    }

    /// Keeps only what the phone must (client-core's `retention`): the answers of sent
    /// responses kept by an earlier version are erased, and the photos that no draft or
    /// unsent response names are removed (at once when the server has them, else after a
    /// grace period). Returns how many photos were removed. Takes the gate, so no draft is
    /// saved (or backup restored) between reading what is named and removing the rest.
    async fn retain(&self) -> JsResult<usize> {
        let _pass = self.gate.enter().await;
        let outbox = self.outbox();
        outbox.erase_synced().await?;
        let kept = kept_photos(&outbox.list().await?);
        let mut candidates = Vec::new();
        for reference in self.storage.photo_refs().await? {
            if kept.contains(&reference) {
                continue;
            }
            if let Some(p) = self.storage.get_photo(&reference).await? {
                candidates.push(StoredPhotoInfo {
                    reference,
                    uploaded: p.uploaded,
                    stored_at_ms: p.stored_at.map(|t| t as i64),
                });
            }
        }
        let remove = photos_to_remove(&kept, candidates, js_sys::Date::now() as i64);
        let mut removed = 0;
        for reference in remove {
            // Read again: `putPhoto` may have stored it anew since (about to be named).
            let still = self.storage.get_photo(&reference).await?;
            let again = still.map(|p| StoredPhotoInfo {
                reference: reference.clone(),
                uploaded: p.uploaded,
                stored_at_ms: p.stored_at.map(|t| t as i64),
            });
            if again.is_some_and(|p| {
                !photos_to_remove(&kept, [p], js_sys::Date::now() as i64).is_empty()
            }) {
                self.storage.delete_photo(&reference).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn write_backup(&self, write: &js_sys::Function) -> JsResult<JsValue> {
        /// Small pieces (the records) are joined up to this size before being written.
        const PIECE: usize = 256 * 1024;
        async fn out(write: &js_sys::Function, piece: String) -> JsResult<()> {
            let failed = |e: JsValue| {
                ClientError::with_message(
                    "backup_write",
                    Message::same(crate::idb_storage::js_message(&e)),
                )
            };
            let r = write
                .call1(&JsValue::NULL, &JsValue::from_str(&piece))
                .map_err(failed)?;
            if r.is_instance_of::<Promise>() {
                wasm_bindgen_futures::JsFuture::from(Promise::from(r))
                    .await
                    .map_err(failed)?;
            }
            Ok(())
        }
        let (records, refs) = unsynced(self.outbox().list().await?);
        let device_id = self
            .meta_str(META_DEVICE_ID)
            .await?
            .and_then(|s| s.parse::<Uuid>().ok());
        let mut w = BackupWriter::new();
        let mut buf = w.head(device_id, &local_now());
        for r in &records {
            buf.push_str(&w.response(r));
            if buf.len() >= PIECE {
                out(write, std::mem::take(&mut buf)).await?;
            }
        }
        let mut photos = 0;
        for reference in refs {
            if let Some(p) = self.storage.get_photo(&reference).await? {
                buf.push_str(&w.photo(&reference, &p.mime, &p.bytes.to_vec()));
                out(write, std::mem::take(&mut buf)).await?;
                photos += 1;
            }
        }
        buf.push_str(&w.finish());
        out(write, buf).await?;
        to_js(&json!({"responses": records.len(), "photos": photos}))
    }

    async fn restore_backup(&self, bytes: Vec<u8>) -> JsResult<JsValue> {
        let view = BackupView::parse(&bytes)
            .map_err(|e| ClientError::with_message("bad_backup", e.message()))?;
        let _pass = self.gate.enter().await;
        // Photos first: a response is never there without the photos it names.
        let named = kept_photos(&view.responses);
        let (mut photos, mut photos_damaged) = (0, 0);
        for photo in &view.photos {
            if !named.contains(&photo.reference)
                || self.storage.get_photo(&photo.reference).await?.is_some()
            {
                continue;
            }
            let Ok(data) = photo.bytes() else {
                photos_damaged += 1;
                continue;
            };
            let data = Uint8Array::from(data.as_slice());
            self.storage
                .put_photo(
                    &photo.reference,
                    &photo.mime,
                    &data,
                    false,
                    js_sys::Date::now(),
                )
                .await?;
            photos += 1;
        }
        let outbox = self.outbox();
        let (mut taken, mut held, mut drafts) = (0, 0, 0);
        for record in view.responses {
            let draft = record.state == State::Draft;
            if outbox.import(record).await? {
                taken += 1;
                drafts += usize::from(draft);
            } else {
                held += 1;
            }
        }
        to_js(&json!({
            "taken": taken, "held": held, "drafts": drafts,
            "photos": photos, "photos_damaged": photos_damaged,
        }))
    }

    async fn meta_str(&self, key: &str) -> JsResult<Option<String>> {
        Ok(self
            .storage
            .get_meta(key)
            .await?
            .and_then(|v| v.as_str().map(str::to_string)))
    }

    /// `(token, device_id)` once enrolled.
    async fn credentials(&self) -> JsResult<Option<(String, String)>> {
        match (
            self.meta_str(META_TOKEN).await?,
            self.meta_str(META_DEVICE_ID).await?,
        ) {
            (Some(t), Some(d)) => Ok(Some((t, d))),
            _ => Ok(None),
        }
    }

    async fn transport(&self) -> JsResult<FetchTransport> {
        let (token, _) = self
            .credentials()
            .await?
            .ok_or_else(ClientError::not_enrolled)?;
        Ok(FetchTransport::new(&self.server, &token))
    }

    fn engine(&self, transport: FetchTransport) -> SyncEngine<IdbStorage, FetchTransport> {
        let config = SyncConfig {
            app_version: format!("parole-wasm/{}", env!("CARGO_PKG_VERSION")),
            ..SyncConfig::default()
        };
        SyncEngine::new(self.outbox(), transport, config)
    }

    async fn enrol(&self, code: &str, device_name: &str) -> JsResult<JsValue> {
        let body = serde_json::to_string(&EnrolRequest {
            code: code.to_string(),
            device_name: device_name.to_string(),
        })
        .map_err(|e| ClientError::bad_argument("code", e))?;
        let url = format!("{}/api/v1/enrol", self.server);
        let answer = fetch::request(
            "POST",
            &url,
            None,
            &[],
            Some(Body::Json(body)),
            REQUEST_TIMEOUT,
        )
        .await
        .map_err(|e| ClientError::enrol_failed(&e))?;
        if !answer.is_success() {
            return Err(ClientError::enrol_failed(&answer.status_error()));
        }
        let enrolled: EnrolResponse = answer.json().map_err(ClientError::from)?;
        let s = &self.storage;
        s.put_meta(META_SERVER, &Value::from(self.server.clone()))
            .await?;
        s.put_meta(META_DEVICE_ID, &Value::from(enrolled.device_id.to_string()))
            .await?;
        s.put_meta(META_DEVICE_NAME, &Value::from(device_name))
            .await?;
        s.put_meta(META_TOKEN, &Value::from(enrolled.token)).await?;
        to_js(&json!({"device_id": enrolled.device_id}))
    }

    /// Keeps every held questionnaire version under its own key too (see [`archive_key`]).
    async fn archive(&self) -> JsResult<()> {
        for q in sync::stored_questionnaires(&self.storage).await? {
            let key = archive_key(&q.slug, q.version);
            if self.storage.get_meta(&key).await?.is_none() {
                let value = serde_json::to_value(&q)
                    .map_err(|e| ClientError::new("internal", e.to_string(), e.to_string()))?;
                self.storage.put_meta(&key, &value).await?;
            }
        }
        Ok(())
    }

    async fn pull(&self) -> JsResult<JsValue> {
        let transport = self.transport().await?;
        // Before and after: a version the server stops listing stays on the device.
        self.archive().await?;
        let report = self.engine(transport).pull().await?;
        if !report.not_modified {
            self.archive().await?;
        }
        to_js(&json!({"changed": !report.not_modified, "questionnaires": report.questionnaires}))
    }

    /// Parses (once) a pulled questionnaire version.
    fn parse(&self, pulled: SyncQuestionnaire) -> JsResult<Rc<Held>> {
        let key = (pulled.slug.clone(), pulled.version);
        if let Some(h) = self.questionnaires.borrow().get(&key) {
            return Ok(h.clone());
        }
        let model = Questionnaire::parse(&pulled.document).map_err(|errors| {
            ClientError::bad_questionnaire(
                &pulled.slug,
                pulled.version,
                errors.first().map(|e| &e.message),
            )
        })?;
        let held = Rc::new(Held { pulled, model });
        self.questionnaires.borrow_mut().insert(key, held.clone());
        Ok(held)
    }

    /// A questionnaire version: from the cache, the current list, or the archive.
    async fn load(&self, slug: &str, version: i32) -> JsResult<Rc<Held>> {
        if let Some(h) = self
            .questionnaires
            .borrow()
            .get(&(slug.to_string(), version))
        {
            return Ok(h.clone());
        }
        let current = sync::stored_questionnaires(&self.storage)
            .await?
            .into_iter()
            .find(|q| q.slug == slug && q.version == version);
        let pulled = match current {
            Some(q) => q,
            None => match self.storage.get_meta(&archive_key(slug, version)).await? {
                Some(v) => serde_json::from_value(v).map_err(|e| {
                    ClientError::bad_questionnaire(
                        slug,
                        version,
                        Some(&Message::same(e.to_string())),
                    )
                })?,
                None => return Err(ClientError::unknown_questionnaire(slug, version)),
            },
        };
        self.parse(pulled)
    }

    fn queue_answer(
        &self,
        result: Result<parole_client::outbox::OutboxRecord, OutboxError>,
    ) -> JsResult<JsValue> {
        let answer = match result {
            Ok(rec) => queue_result(Ok(serde_json::to_value(&rec.response)
                .map_err(|e| ClientError::new("internal", e.to_string(), e.to_string()))?)),
            Err(OutboxError::Invalid(errors)) => queue_result(Err(errors)),
            Err(e) => return Err(e.into()),
        };
        to_js(&answer)
    }

    async fn sync(&self) -> SyncOutcome {
        let mut outcome = SyncOutcome::default();
        if let Err(e) = self.sync_into(&mut outcome).await {
            outcome.error = Some(e);
        }
        // What the receipts made unneeded goes now: sent answers, sent photos.
        match self.retain().await {
            Ok(n) => outcome.photos_removed = n,
            Err(e) if outcome.error.is_none() => outcome.error = Some(e),
            Err(_) => {}
        }
        if let Ok(queued) = self.outbox().queued().await {
            outcome.still_queued = queued.len();
        }
        outcome
    }

    async fn sync_into(&self, outcome: &mut SyncOutcome) -> JsResult<()> {
        let transport = self.transport().await?;
        self.upload_photos(&transport, outcome).await?;
        let engine = self.engine(transport);
        match engine.push().await {
            Ok(report) => {
                outcome.add_report(&report);
                Ok(())
            }
            Err(e) => {
                if let Some(report) = e.report() {
                    outcome.add_report(report);
                }
                Err(e.into())
            }
        }
    }

    /// Uploads, by hash, the photos that the queued responses name and the server lacks
    /// (`HEAD` 200: it has it; 404: `PUT` it). A refused token stops the sync; a transient
    /// failure (network, timeout, 5xx) ends the photo phase and the responses are pushed
    /// anyway (the server marks a response incomplete until its photos arrive); a photo the
    /// server refuses (e.g. 413) is counted in `photos_failed`.
    async fn upload_photos(&self, t: &FetchTransport, outcome: &mut SyncOutcome) -> JsResult<()> {
        let mut refs = BTreeSet::new();
        for rec in self.outbox().queued().await? {
            collect_photo_refs(&rec.response.answers, &mut refs);
        }
        for reference in refs.into_iter().filter(|r| is_photo_ref(r)) {
            let Some(photo) = self.storage.get_photo(&reference).await? else {
                outcome.photos_missing += 1;
                continue;
            };
            if photo.uploaded {
                continue;
            }
            match self.upload_photo(t, &reference, &photo).await {
                Ok(already_there) => {
                    if already_there {
                        outcome.photos_skipped += 1;
                    } else {
                        outcome.photos_sent += 1;
                    }
                    let at = photo.stored_at.unwrap_or(0.0);
                    self.storage
                        .put_photo(&reference, &photo.mime, &photo.bytes, true, at)
                        .await?;
                }
                Err(e) if e.is_unauthorized() => return Err(e.into()),
                Err(e) if e.is_permanent() => outcome.photos_failed += 1,
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// One photo: `Ok(true)` when the server already had it, `Ok(false)` once uploaded.
    async fn upload_photo(
        &self,
        t: &FetchTransport,
        reference: &str,
        photo: &StoredPhoto,
    ) -> Result<bool, TransportError> {
        let url = format!("{}/api/v1/attachments/{reference}", t.base_url());
        let head =
            fetch::request("HEAD", &url, Some(t.token()), &[], None, REQUEST_TIMEOUT).await?;
        match head.status {
            200 => return Ok(true),
            404 => {}
            _ => return Err(head.status_error()),
        }
        let put = fetch::request(
            "PUT",
            &url,
            Some(t.token()),
            &[("Content-Type", &photo.mime)],
            Some(Body::Bytes(&photo.bytes)),
            UPLOAD_TIMEOUT,
        )
        .await?;
        if put.is_success() {
            Ok(false)
        } else {
            Err(put.status_error())
        }
    }
}

/// The content hash of a response (lowercase hex SHA-256 of its canonical JSON).
#[wasm_bindgen(js_name = contentHash)]
pub fn content_hash(response: JsValue) -> Result<String, JsValue> {
    let response: Response = from_js("response", &response)?;
    Ok(response.content_hash().0)
}

/// This build's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
