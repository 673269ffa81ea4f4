//! Native-only parts: the file-backed [`Storage`] and the reqwest [`Transport`], plus the
//! small [`ApiClient`] for the CLI's non-sync calls.
//!
//! # File layout
//!
//! ```text
//! <data_dir>/outbox/<response id>.json   one OutboxRecord per file
//! <data_dir>/meta/<key>.json             one meta value per file (server, token, questionnaires…)
//! ```
//!
//! Every write is: write a temp file in the same directory (mode 0600), `fsync` it, `rename`
//! it over the target, `fsync` the directory, and only then return. A kill at any instant
//! leaves either the old file or the new one, never a torn one; stray temp files (a kill
//! between the write and the rename) are ignored when reading.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::api::{
    CreateInterviewerRequest, CreateQuestionnaireRequest, CreateUserRequest, CreatedInterviewer,
    CreatedQuestionnaire, CreatedUser, DeviceList, EnrolRequest, EnrolResponse, EnrolmentCode,
    ErrorBody, ExportParams, InterviewerList, LoginRequest, LoginResponse, Published, PushRequest,
    PushResponse, PutDraftRequest, QuestionnaireChanges, QuestionnaireDetail, QuestionnaireList,
    QuestionnaireSettings, ResponseDetail, ResponseListParams, ResponsePage, RetireRequest,
    Retirement, Review, ReviewRequest, SavedDraft, SyncQuestionnaires, VersionDetail,
};
use crate::outbox::{OutboxRecord, Storage, StorageError};
use crate::response::ResponseId;
use crate::sync::{Pulled, Transport, TransportError};

const TMP_PREFIX: &str = ".tmp-";
/// Temp files older than this are a killed writer's leftovers.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// The outbox and meta in files under one directory. See the module docs.
#[derive(Debug, Clone)]
pub struct FileStorage {
    root: PathBuf,
    outbox: PathBuf,
    meta: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err(what: &Path, e: std::io::Error) -> StorageError {
    StorageError::Io {
        what: what.display().to_string(),
        message: e.to_string(),
    }
}

fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Writes `bytes` to `target` durably: temp file, fsync, rename, directory fsync.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = target
        .parent()
        .ok_or_else(|| StorageError::Backend(format!("no parent: {}", target.display())))?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{name}.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, target).map_err(|e| io_err(target, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl FileStorage {
    /// Opens (creating, mode 0700) the store in `data_dir`.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, StorageError> {
        let root = data_dir.as_ref().to_path_buf();
        let outbox = root.join("outbox");
        let meta = root.join("meta");
        for d in [&root, &outbox, &meta] {
            create_dir_private(d).map_err(|e| io_err(d, e))?;
        }
        let store = Self { root, outbox, meta };
        store.remove_stale_temp_files(STALE_TEMP_AGE);
        Ok(store)
    }

    /// Removes the temp files a killed writer left behind, once older than `age` (so a
    /// write in progress in another process is never touched). Best effort: a temp file
    /// never holds anything that was reported stored.
    pub fn remove_stale_temp_files(&self, age: Duration) -> usize {
        let mut removed = 0;
        for dir in [&self.outbox, &self.meta] {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let is_tmp = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(TMP_PREFIX));
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|e| e >= age);
                if is_tmp && old && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of one record.
    pub fn record_path(&self, id: ResponseId) -> PathBuf {
        self.outbox.join(format!("{id}.json"))
    }

    fn meta_path(&self, key: &str) -> Result<PathBuf, StorageError> {
        if !valid_key(key) {
            return Err(StorageError::InvalidKey(key.to_string()));
        }
        Ok(self.meta.join(format!("{key}.json")))
    }

    fn read_record(&self, path: &Path) -> Result<Option<OutboxRecord>, StorageError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                what: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    fn list_sync(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.outbox).map_err(|e| io_err(&self.outbox, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&self.outbox, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue; // a stray temp file (or something not ours)
            }
            let path = entry.path();
            let Some(rec) = self.read_record(&path)? else {
                continue; // deleted meanwhile
            };
            if format!("{}.json", rec.response.id) != name {
                return Err(StorageError::Corrupt {
                    what: path.display().to_string(),
                    reason: format!("holds response {}", rec.response.id),
                });
            }
            out.push(rec);
        }
        out.sort_by_key(|r| r.response.id);
        Ok(out)
    }
}

impl Storage for FileStorage {
    async fn put(&self, rec: &OutboxRecord) -> Result<(), StorageError> {
        let bytes =
            serde_json::to_vec_pretty(rec).map_err(|e| StorageError::Backend(e.to_string()))?;
        write_atomic(&self.record_path(rec.response.id), &bytes)
    }

    async fn get(&self, id: ResponseId) -> Result<Option<OutboxRecord>, StorageError> {
        self.read_record(&self.record_path(id))
    }

    async fn list(&self) -> Result<Vec<OutboxRecord>, StorageError> {
        self.list_sync()
    }

    async fn delete(&self, id: ResponseId) -> Result<(), StorageError> {
        let path = self.record_path(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.outbox),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Value>, StorageError> {
        let path = self.meta_path(key)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                what: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    async fn put_meta(&self, key: &str, value: &Value) -> Result<(), StorageError> {
        let path = self.meta_path(key)?;
        let bytes = serde_json::to_vec(value).map_err(|e| StorageError::Backend(e.to_string()))?;
        write_atomic(&path, &bytes)
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// Default timeout of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn http_client(timeout: Option<Duration>) -> Result<reqwest::Client, TransportError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("parole-client/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build()
        .map_err(|e| TransportError::Network(e.to_string()))
}

fn map_reqwest(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        return TransportError::Timeout;
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_decode() || e.is_body() {
        TransportError::BadBody(msg)
    } else {
        TransportError::Network(msg)
    }
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The server's error message out of an error body, in each language ([`ErrorBody::text`]),
/// or the body itself in both when it is not one.
pub fn error_message(body: &str) -> crate::i18n::Message {
    serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.text())
        .unwrap_or_else(|_| crate::i18n::Message::same(body))
}

/// The largest error body kept whole (an API error body with its errors by path).
const MAX_ERROR_BODY: usize = 256 * 1024;

async fn status_error(resp: reqwest::Response) -> TransportError {
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map(|b| {
            // The API's own error body is kept whole: its errors by path (a refused
            // questionnaire's, a refused publication's) are what the user reads. Anything
            // else (a proxy's HTML page…) is cut short.
            if b.len() <= MAX_ERROR_BODY && serde_json::from_slice::<ErrorBody>(&b).is_ok() {
                String::from_utf8_lossy(&b).into_owned()
            } else {
                snippet(&b)
            }
        })
        .unwrap_or_default();
    TransportError::Status { status, body }
}

async fn read_json<D: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
) -> Result<D, TransportError> {
    let bytes = resp.bytes().await.map_err(map_reqwest)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TransportError::BadBody(format!("{e}: {}", snippet(&bytes))))
}

fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The sync [`Transport`] over reqwest (rustls), authenticated with the device token.
#[derive(Clone)]
pub struct HttpTransport {
    base_url: String,
    token: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base_url", &self.base_url)
            .field("token", &"<hidden>")
            .finish()
    }
}

impl HttpTransport {
    /// A transport to `base_url` (e.g. `https://parole.example.org`) with the device token,
    /// and a [`REQUEST_TIMEOUT`] per request.
    pub fn new(base_url: &str, token: &str) -> Result<Self, TransportError> {
        Self::with_timeout(base_url, token, REQUEST_TIMEOUT)
    }

    pub fn with_timeout(
        base_url: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            base_url: base(base_url),
            token: token.to_string(),
            client: http_client(Some(timeout))?,
        })
    }
}

impl HttpTransport {
    /// `HEAD /api/v1/attachments/{reference}`: does the server hold this photo?
    pub async fn has_attachment(&self, reference: &str) -> Result<bool, TransportError> {
        let resp = self
            .client
            .head(format!("{}/api/v1/attachments/{reference}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(map_reqwest)?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(resp).await),
        }
    }

    /// `PUT /api/v1/attachments/{reference}`: uploads a photo (a no-op when the server
    /// already holds it).
    pub async fn put_attachment(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), TransportError> {
        let resp = self
            .client
            .put(format!("{}/api/v1/attachments/{reference}", self.base_url))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(bytes)
            .send()
            .await
            .map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        Ok(())
    }
}

impl Transport for HttpTransport {
    async fn pull_questionnaires(&self, etag: Option<&str>) -> Result<Pulled, TransportError> {
        let mut req = self
            .client
            .get(format!("{}/api/v1/sync/questionnaires", self.base_url))
            .bearer_auth(&self.token);
        if let Some(etag) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let resp = req.send().await.map_err(map_reqwest)?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Pulled::NotModified);
        }
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: SyncQuestionnaires = read_json(resp).await?;
        Ok(Pulled::Fresh {
            etag,
            questionnaires: body.questionnaires,
        })
    }

    async fn push_responses(&self, req: &PushRequest) -> Result<PushResponse, TransportError> {
        let resp = self
            .client
            .post(format!("{}/api/v1/sync/responses", self.base_url))
            .bearer_auth(&self.token)
            .json(req)
            .send()
            .await
            .map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        read_json(resp).await
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }
}

/// What to export: `GET /api/v1/questionnaires/{slug}/responses.{ext}` (or `photos.zip`)
/// with the query of [`ExportParams`].
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub format: ExportFormat,
    /// The query: filters, personal data, and for CSV `sep`, `labels`, `repeat`.
    pub params: ExportParams,
}

/// Export formats: `GET /api/v1/questionnaires/{slug}/responses.{ext}`, and the photos at
/// `…/photos.zip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
    Xlsx,
    Geojson,
    Photos,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Geojson => "geojson",
            ExportFormat::Photos => "zip",
        }
    }

    /// The last segment of the route: `responses.csv`, …, `photos.zip`.
    pub fn file(self) -> String {
        match self {
            ExportFormat::Photos => "photos.zip".to_string(),
            other => format!("responses.{}", other.extension()),
        }
    }
}

/// Why an [`ApiClient`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("impossible d'écrire {path} : {source} / cannot write the file")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ApiError {
    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Transport(TransportError::Status { status, .. }) => Some(*status),
            _ => None,
        }
    }
}

/// The non-sync calls of the CLI: enrolment, login, export.
#[derive(Debug, Clone)]
pub struct ApiClient {
    client: reqwest::Client,
    /// The client for streamed downloads, without an overall timeout.
    download: reqwest::Client,
}

impl ApiClient {
    pub fn new() -> Result<Self, TransportError> {
        Ok(Self {
            client: http_client(Some(REQUEST_TIMEOUT))?,
            download: http_client(None)?,
        })
    }

    /// `POST /api/v1/enrol` `{"code","device_name"}` → 201 `{"device_id","token"}`.
    pub async fn enrol(
        &self,
        server: &str,
        code: &str,
        device_name: &str,
    ) -> Result<EnrolResponse, ApiError> {
        let request = EnrolRequest {
            code: code.to_string(),
            device_name: device_name.to_string(),
        };
        self.post_json(server, "/api/v1/enrol", &request).await
    }

    /// `POST /api/v1/auth/login` `{"username","password"}` → `{"token","role"}`.
    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<LoginResponse, ApiError> {
        let request = LoginRequest {
            username: username.to_string(),
            password: password.to_string(),
        };
        self.post_json(server, "/api/v1/auth/login", &request).await
    }

    /// POSTs `body` as JSON to `path`; a success's JSON body, or the server's error.
    async fn post_json<R: serde::de::DeserializeOwned>(
        &self,
        server: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<R, ApiError> {
        let resp = self
            .client
            .post(format!("{}{path}", base(server)))
            .json(body)
            .send()
            .await
            .map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await.into());
        }
        Ok(read_json(resp).await?)
    }

    /// Streams `GET /api/v1/questionnaires/{slug}/responses.{csv|ndjson}?version=N&after=SEQ`
    /// into `dest` (through a temp file renamed at the end, so `dest` is never half-written).
    /// Calls `on_bytes` with the running total. Returns the number of bytes written.
    pub async fn export(
        &self,
        server: &str,
        token: &str,
        slug: &str,
        what: &ExportQuery,
        dest: &Path,
        mut on_bytes: impl FnMut(u64),
    ) -> Result<u64, ApiError> {
        let mut resp = self
            .download
            .get(format!(
                "{}/api/v1/questionnaires/{}/{}",
                base(server),
                slug,
                what.format.file()
            ))
            .query(&crate::api::query_pairs(&what.params))
            .bearer_auth(token)
            .send()
            .await
            .map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await.into());
        }
        let io = |path: &Path, source| ApiError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("export");
        let tmp = dir.join(format!("{TMP_PREFIX}{name}.{}", std::process::id()));
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        let mut total = 0u64;
        let result: Result<(), ApiError> = async {
            while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
                file.write_all(&chunk).map_err(|e| io(&tmp, e))?;
                total += chunk.len() as u64;
                on_bytes(total);
            }
            file.sync_all().map_err(|e| io(&tmp, e))?;
            fs::rename(&tmp, dest).map_err(|e| io(dest, e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| total)
    }
}

/// A staff session: the staff API's calls (`api.rs`'s types), with a bearer token from
/// [`ApiClient::login`]. [`StaffSession::logout`] ends it on the server.
#[derive(Debug, Clone)]
pub struct StaffSession {
    api: ApiClient,
    server: String,
    token: String,
}

impl ApiClient {
    /// The staff calls, as the holder of `token` on `server`.
    pub fn staff(&self, server: &str, token: &str) -> StaffSession {
        StaffSession {
            api: self.clone(),
            server: base(server),
            token: token.to_string(),
        }
    }
}

impl StaffSession {
    /// The server's base URL, without a trailing slash.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The session's bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends a request with `body` as JSON, if any; the success's response, or the server's
    /// error.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(impl serde::Serialize + ?Sized)>,
    ) -> Result<reqwest::Response, ApiError> {
        let mut request = self
            .api
            .client
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = request.send().await.map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await.into());
        }
        Ok(resp)
    }

    async fn get<R: serde::de::DeserializeOwned>(&self, path: &str) -> Result<R, ApiError> {
        let resp = self.send(reqwest::Method::GET, path, None::<&()>).await?;
        Ok(read_json(resp).await?)
    }

    async fn post<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl serde::Serialize + ?Sized),
    ) -> Result<R, ApiError> {
        let resp = self.send(reqwest::Method::POST, path, Some(body)).await?;
        Ok(read_json(resp).await?)
    }

    async fn put<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl serde::Serialize + ?Sized),
    ) -> Result<R, ApiError> {
        let resp = self.send(reqwest::Method::PUT, path, Some(body)).await?;
        Ok(read_json(resp).await?)
    }

    /// `GET /api/v1/questionnaires`.
    pub async fn questionnaires(&self) -> Result<QuestionnaireList, ApiError> {
        self.get("/api/v1/questionnaires").await
    }

    /// `GET /api/v1/questionnaires/{slug}`: the draft and the versions.
    pub async fn questionnaire(&self, slug: &str) -> Result<QuestionnaireDetail, ApiError> {
        self.get(&format!("/api/v1/questionnaires/{slug}")).await
    }

    /// `GET /api/v1/questionnaires/{slug}/versions/{n}`.
    pub async fn version(&self, slug: &str, version: i32) -> Result<VersionDetail, ApiError> {
        self.get(&format!("/api/v1/questionnaires/{slug}/versions/{version}"))
            .await
    }

    /// `POST /api/v1/questionnaires` (409 when the slug is taken).
    pub async fn create_questionnaire(
        &self,
        request: &CreateQuestionnaireRequest,
    ) -> Result<CreatedQuestionnaire, ApiError> {
        self.post("/api/v1/questionnaires", request).await
    }

    /// `PUT /api/v1/questionnaires/{slug}/draft`: the draft's new revision. With
    /// `base_revision`, a 409 (`DraftConflict`'s body) when someone saved it since.
    pub async fn put_draft(
        &self,
        slug: &str,
        request: &PutDraftRequest,
    ) -> Result<SavedDraft, ApiError> {
        self.put(&format!("/api/v1/questionnaires/{slug}/draft"), request)
            .await
    }

    /// `GET /api/v1/questionnaires/{slug}/changes`: what publishing the draft would change.
    pub async fn changes(&self, slug: &str) -> Result<QuestionnaireChanges, ApiError> {
        self.get(&format!("/api/v1/questionnaires/{slug}/changes"))
            .await
    }

    /// `POST /api/v1/questionnaires/{slug}/publish`: the draft becomes a new version (with
    /// what changed); a 409 (`breaking_change`, each by path) when it would make the
    /// responses already received unreadable.
    pub async fn publish(&self, slug: &str) -> Result<Published, ApiError> {
        self.post(&format!("/api/v1/questionnaires/{slug}/publish"), &())
            .await
    }

    /// `POST /api/v1/questionnaires/{slug}/versions/{n}/retire`.
    pub async fn retire_version(
        &self,
        slug: &str,
        version: i32,
        request: &RetireRequest,
    ) -> Result<Retirement, ApiError> {
        self.post(
            &format!("/api/v1/questionnaires/{slug}/versions/{version}/retire"),
            request,
        )
        .await
    }

    /// `POST /api/v1/interviewers`: the interviewer and its one-time enrolment code.
    pub async fn create_interviewer(
        &self,
        request: &CreateInterviewerRequest,
    ) -> Result<CreatedInterviewer, ApiError> {
        self.post("/api/v1/interviewers", request).await
    }

    /// `GET /api/v1/interviewers`.
    pub async fn interviewers(&self) -> Result<InterviewerList, ApiError> {
        self.get("/api/v1/interviewers").await
    }

    /// `POST /api/v1/interviewers/{id}/enrolment-code`: a new code.
    pub async fn new_enrolment_code(
        &self,
        interviewer: uuid::Uuid,
    ) -> Result<EnrolmentCode, ApiError> {
        self.post(
            &format!("/api/v1/interviewers/{interviewer}/enrolment-code"),
            &(),
        )
        .await
    }

    /// `GET /api/v1/devices`.
    pub async fn devices(&self) -> Result<DeviceList, ApiError> {
        self.get("/api/v1/devices").await
    }

    /// `DELETE /api/v1/devices/{id}`: the device's token stops working at once.
    pub async fn revoke_device(&self, device: &str) -> Result<(), ApiError> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{device}"),
            None::<&()>,
        )
        .await?;
        Ok(())
    }

    /// `GET /api/v1/questionnaires/{slug}/responses`: one page (pass its `next` back as
    /// `params.after` for the following one).
    pub async fn responses(
        &self,
        slug: &str,
        params: &ResponseListParams,
    ) -> Result<ResponsePage, ApiError> {
        let resp = self
            .api
            .client
            .get(format!(
                "{}/api/v1/questionnaires/{slug}/responses",
                self.server
            ))
            .query(&crate::api::query_pairs(params))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(map_reqwest)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await.into());
        }
        Ok(read_json(resp).await?)
    }

    /// `GET /api/v1/responses/{id}`.
    pub async fn response(&self, id: uuid::Uuid) -> Result<ResponseDetail, ApiError> {
        self.get(&format!("/api/v1/responses/{id}")).await
    }

    /// `PUT /api/v1/responses/{id}/review` (coordinator): the review now, newest first.
    pub async fn review(
        &self,
        id: uuid::Uuid,
        request: &ReviewRequest,
    ) -> Result<Review, ApiError> {
        self.put(&format!("/api/v1/responses/{id}/review"), request)
            .await
    }

    /// `PUT /api/v1/questionnaires/{slug}/settings` (coordinator).
    pub async fn put_settings(
        &self,
        slug: &str,
        settings: &QuestionnaireSettings,
    ) -> Result<QuestionnaireSettings, ApiError> {
        self.put(&format!("/api/v1/questionnaires/{slug}/settings"), settings)
            .await
    }

    /// `POST /api/v1/users` (admin).
    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<CreatedUser, ApiError> {
        self.post("/api/v1/users", request).await
    }

    /// `POST /api/v1/auth/logout`: the token stops working.
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.send(reqwest::Method::POST, "/api/v1/auth/logout", None::<&()>)
            .await?;
        Ok(())
    }

    /// Streams an export into `dest`: see [`ApiClient::export`].
    pub async fn export(
        &self,
        slug: &str,
        what: &ExportQuery,
        dest: &Path,
        on_bytes: impl FnMut(u64),
    ) -> Result<u64, ApiError> {
        self.api
            .export(&self.server, &self.token, slug, what, dest, on_bytes)
            .await
    }
}
