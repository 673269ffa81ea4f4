//! client-core's [`Storage`] over IndexedDB, plus the photos.
//!
//! Database `parole` (version 1), three object stores with out-of-line keys:
//!
//! | store    | key                 | value                                              |
//! |----------|---------------------|----------------------------------------------------|
//! | `outbox` | response id (uuid)  | the `OutboxRecord` as a JSON **string**            |
//! | `meta`   | key (`token`, …)    | the value as a JSON **string**                     |
//! | `photos` | `sha256:<hex>`      | `{mime, bytes: Uint8Array, uploaded, stored_at?}`   |
//!
//! Records and meta values are kept as the exact JSON text that serde wrote, so what is read
//! back is byte for byte what was queued (a JS round trip could turn `4.0` into `4` and change
//! a content hash); photos are kept as binary, not base64, with when they were last stored
//! (`stored_at`, ms since the epoch; absent on photos stored by earlier versions), which
//! client-core's `retention` reads to spare a photo just taken.
//!
//! **Durability:** every write runs in its own `readwrite` transaction opened with
//! `{durability: "strict"}` and returns only once the transaction's `complete` event has
//! fired: when `put` resolves, the record is on disk.

use std::rc::Rc;

use idb::{DatabaseEvent, Factory, ObjectStoreParams, Query, TransactionResult};
use js_sys::{Object, Reflect, Uint8Array};
use parole_client::outbox::{OutboxRecord, Storage, StorageError};
use parole_client::ResponseId;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub const DB_NAME: &str = "parole";
pub const DB_VERSION: u32 = 1;
pub const OUTBOX: &str = "outbox";
pub const META: &str = "meta";
pub const PHOTOS: &str = "photos";

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, for the one method web-sys keeps behind its unstable APIs.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type RawDatabase;
    /// `IDBDatabase.transaction(names, mode, options)`; browsers without `options` ignore
    /// the third argument.
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &RawDatabase,
        names: &JsValue,
        mode: &str,
        options: &JsValue,
    ) -> Result<web_sys::IdbTransaction, JsValue>;
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

/// A photo as stored.
pub struct StoredPhoto {
    pub mime: String,
    pub bytes: Uint8Array,
    pub uploaded: bool,
    /// When it was last stored (ms since the epoch), if known.
    pub stored_at: Option<f64>,
}

/// The IndexedDB store. Cheap to clone (one shared connection).
#[derive(Clone)]
pub struct IdbStorage {
    db: web_sys::IdbDatabase,
    /// Closes the connection when a newer app version (another tab) wants to upgrade the
    /// database, rather than block it. Kept alive as long as the connection.
    _on_version_change: Rc<Closure<dyn FnMut()>>,
}

impl std::fmt::Debug for IdbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbStorage").finish_non_exhaustive()
    }
}

impl IdbStorage {
    /// Opens (creating or upgrading) the database `parole`.
    pub async fn open() -> Result<Self, StorageError> {
        let factory = Factory::new().map_err(backend)?;
        let mut request = factory.open(DB_NAME, Some(DB_VERSION)).map_err(backend)?;
        request.on_upgrade_needed(|event| {
            let Ok(db) = event.database() else { return };
            let existing = db.store_names();
            for name in [OUTBOX, META, PHOTOS] {
                if !existing.iter().any(|n| n == name) {
                    // A failure aborts the upgrade, which fails the open request.
                    let _ = db.create_object_store(name, ObjectStoreParams::new());
                }
            }
        });
        let db: web_sys::IdbDatabase = request.await.map_err(backend)?.into();
        let closer = db.clone();
        let on_version_change = Closure::<dyn FnMut()>::new(move || closer.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Ok(Self {
            db,
            _on_version_change: Rc::new(on_version_change),
        })
    }

    fn transaction(
        &self,
        store: &str,
        mode: &str,
    ) -> Result<(idb::Transaction, idb::ObjectStore), StorageError> {
        let options = Object::new();
        if mode == "readwrite" {
            Reflect::set(&options, &"durability".into(), &"strict".into())
                .map_err(|e| backend(js_message(&e)))?;
        }
        let tx: idb::Transaction = self
            .db
            .unchecked_ref::<RawDatabase>()
            .transaction_with_options(&JsValue::from_str(store), mode, &options)
            .map_err(|e| backend(js_message(&e)))?
            .into();
        let os = tx.object_store(store).map_err(backend)?;
        Ok((tx, os))
    }

    fn read(&self, store: &str) -> Result<idb::ObjectStore, StorageError> {
        Ok(self.transaction(store, "readonly")?.1)
    }

    /// A `readwrite` transaction with strict durability, and its store.
    fn write_tx(&self, store: &str) -> Result<(idb::Transaction, idb::ObjectStore), StorageError> {
        self.transaction(store, "readwrite")
    }

    /// Writes `value` under `key` in `store` and waits until the transaction has committed.
    async fn put_value(&self, store: &str, key: &str, value: &JsValue) -> Result<(), StorageError> {
        let (tx, os) = self.write_tx(store)?;
        let request = os
            .put(value, Some(&JsValue::from_str(key)))
            .map_err(backend)?;
        // Listen for `complete` before the request's success hands control back.
        let done = std::future::IntoFuture::into_future(tx);
        request.await.map_err(backend)?;
        committed(done.await)
    }

    async fn delete_key(&self, store: &str, key: &str) -> Result<(), StorageError> {
        let (tx, os) = self.write_tx(store)?;
        let request = os
            .delete(Query::Key(JsValue::from_str(key)))
            .map_err(backend)?;
        let done = std::future::IntoFuture::into_future(tx);
        request.await.map_err(backend)?;
        committed(done.await)
    }

    async fn get_value(&self, store: &str, key: &str) -> Result<Option<JsValue>, StorageError> {
        let os = self.read(store)?;
        os.get(Query::Key(JsValue::from_str(key)))
            .map_err(backend)?
            .await
            .map_err(backend)
    }

    /// Stores a photo (durably), stamped `stored_at` (ms since the epoch).
    pub async fn put_photo(
        &self,
        reference: &str,
        mime: &str,
        bytes: &Uint8Array,
        uploaded: bool,
        stored_at: f64,
    ) -> Result<(), StorageError> {
        let value = Object::new();
        let set = |k: &str, v: &JsValue| {
            Reflect::set(&value, &JsValue::from_str(k), v).map_err(|e| backend(js_message(&e)))
        };
        set("mime", &JsValue::from_str(mime))?;
        set("bytes", bytes)?;
        set("uploaded", &JsValue::from_bool(uploaded))?;
        set("stored_at", &JsValue::from_f64(stored_at))?;
        self.put_value(PHOTOS, reference, &value).await
    }

    /// The references of every stored photo (keys only: no photo is read).
    pub async fn photo_refs(&self) -> Result<Vec<String>, StorageError> {
        let os = self.read(PHOTOS)?;
        let keys = os
            .get_all_keys(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        Ok(keys.into_iter().filter_map(|k| k.as_string()).collect())
    }

    /// Removes a photo (durably).
    pub async fn delete_photo(&self, reference: &str) -> Result<(), StorageError> {
        self.delete_key(PHOTOS, reference).await
    }

    pub async fn get_photo(&self, reference: &str) -> Result<Option<StoredPhoto>, StorageError> {
        let Some(v) = self.get_value(PHOTOS, reference).await? else {
            return Ok(None);
        };
        let corrupt = |reason: &str| StorageError::Corrupt {
            what: format!("photo {reference}"),
            reason: reason.to_string(),
        };
        let get = |k: &str| Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        let mime = get("mime").as_string().ok_or_else(|| corrupt("no mime"))?;
        let bytes = get("bytes")
            .dyn_into::<Uint8Array>()
            .map_err(|_| corrupt("no bytes"))?;
        Ok(Some(StoredPhoto {
            mime,
            bytes,
            uploaded: get("uploaded").as_bool().unwrap_or(false),
            stored_at: get("stored_at").as_f64(),
        }))
    }
}

fn committed(result: Result<TransactionResult, idb::Error>) -> Result<(), StorageError> {
    match result.map_err(backend)? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err(backend("transaction IndexedDB annulée / aborted")),
    }
}

/// The message of a thrown JS value (an `Error`'s, or its string form).
pub fn js_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let get = |k: &str| {
        Reflect::get(e, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
    };
    match (get("name"), get("message")) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (None, Some(m)) => m,
        _ => format!("{e:?}"),
    }
}

fn parse_text<T: serde::de::DeserializeOwned>(what: String, v: JsValue) -> Result<T, StorageError> {
    let text = v.as_string().ok_or_else(|| StorageError::Corrupt {
        what: what.clone(),
        reason: "not a JSON string".into(),
    })?;
    serde_json::from_str(&text).map_err(|e| StorageError::Corrupt {
        what,
        reason: e.to_string(),
    })
}

impl Storage for IdbStorage {
    async fn put(&self, rec: &OutboxRecord) -> Result<(), StorageError> {
        let text = serde_json::to_string(rec).map_err(backend)?;
        self.put_value(
            OUTBOX,
            &rec.response.id.to_string(),
            &JsValue::from_str(&text),
        )
        .await
    }

    async fn get(&self, id: ResponseId) -> Result<Option<OutboxRecord>, StorageError> {
        match self.get_value(OUTBOX, &id.to_string()).await? {
            None => Ok(None),
            Some(v) => parse_text(format!("outbox {id}"), v).map(Some),
        }
    }

    async fn list(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        let os = self.read(OUTBOX)?;
        let values = os
            .get_all(None, None)
            .map_err(backend)?
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            out.push(parse_text::<OutboxRecord>(format!("outbox #{i}"), v)?);
        }
        out.sort_by_key(|r| r.response.id);
        Ok(out)
    }

    async fn delete(&self, id: ResponseId) -> Result<(), StorageError> {
        self.delete_key(OUTBOX, &id.to_string()).await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Value>, StorageError> {
        match self.get_value(META, key).await? {
            None => Ok(None),
            Some(v) => parse_text(format!("meta {key}"), v).map(Some),
        }
    }

    async fn put_meta(&self, key: &str, value: &Value) -> Result<(), StorageError> {
        let text = serde_json::to_string(value).map_err(backend)?;
        self.put_value(META, key, &JsValue::from_str(&text)).await
    }
}
