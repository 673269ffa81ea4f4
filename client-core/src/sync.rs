//! The sync engine: pulls the questionnaires a device may fill and delivers its queued
//! responses exactly once. It never touches the network itself: a [`Transport`] moves the
//! requests (reqwest natively, `fetch` on the phone, a script in tests), and the
//! [`Outbox`] keeps the queue.
//!
//! # Decisions
//!
//! A response becomes [`State::Synced`] **only** when the server's receipt for its id says
//! `accepted` or `duplicate` **and** carries the same content hash as
//! [`Response::content_hash`](crate::Response::content_hash). Anything less (no receipt for
//! the id, another hash, an unreadable body, a timeout, a dropped connection) leaves it
//! queued, to be sent again: the server stores each id once, so resending is always safe,
//! whereas marking a response synced too early could lose it.
//!
//! `rejected` keeps the response with the server's errors (never resent as is);
//! `conflict` keeps it in [`State::Conflict`] (never resent). A 413 splits the batch in
//! halves; 401/403 stop at once with [`SyncError::Unauthorized`]. Transient failures are
//! retried with exponential backoff and jitter, a bounded number of times per
//! [`SyncEngine::push`].

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use crate::api::{self, DeviceState, PushRequest, PushResponse, SyncQuestionnaire, WireResponse};
use crate::i18n::Message;
use crate::outbox::{Outbox, OutboxError, OutboxRecord, State, Storage, StorageError};
use crate::response::ResponseId;

/// Meta key of the pulled questionnaires (a JSON array of [`SyncQuestionnaire`]).
pub const META_QUESTIONNAIRES: &str = "questionnaires";
/// Meta key of the ETag of the pulled questionnaire list.
pub const META_QUESTIONNAIRES_ETAG: &str = "questionnaires_etag";

/// The answer to a conditional pull.
#[derive(Debug, Clone, PartialEq)]
pub enum Pulled {
    /// 304: what the device holds is current.
    NotModified,
    Fresh {
        etag: Option<String>,
        questionnaires: Vec<SyncQuestionnaire>,
    },
}

/// Why a request did not get a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The server answered with this status (`body`: what it said, as an [`api::ErrorBody`]
    /// when it is Parole's).
    #[error("{}", status_message(*.status, .body))]
    Status { status: u16, body: String },
    /// No answer: DNS, refused or dropped connection, TLS…
    #[error("réseau indisponible : {0} / network error")]
    Network(String),
    /// An answer that is not the API's (a captive portal's HTML page, a truncated body…).
    #[error("réponse illisible (portail captif ?) : {0} / unreadable answer (captive portal?)")]
    BadBody(String),
    #[error("délai dépassé / timed out")]
    Timeout,
}

/// The message of an API error body, in each language ([`api::ErrorBody::text`]), or the
/// body itself in both when it is not one.
pub fn server_message(body: &str) -> Message {
    serde_json::from_str::<api::ErrorBody>(body)
        .map(|b| b.text())
        .unwrap_or_else(|_| Message::same(body))
}

/// `le serveur a répondu 400 : …` / `the server answered 400: …`, with what it said.
fn status_message(status: u16, body: &str) -> Message {
    if body.trim().is_empty() {
        return Message::new(
            format!("le serveur a répondu {status}"),
            format!("the server answered {status}"),
        );
    }
    server_message(body).wrap(
        |fr| format!("le serveur a répondu {status} : {fr}"),
        |en| format!("the server answered {status}: {en}"),
    )
}

impl TransportError {
    /// The message in each language (its `Display` is both, joined); a status carries the
    /// server's own message ([`server_message`]).
    pub fn message(&self) -> Message {
        match self {
            TransportError::Status { status, body } => status_message(*status, body),
            TransportError::Network(e) => {
                Message::new(format!("réseau indisponible : {e}"), "network error")
            }
            TransportError::BadBody(e) => Message::new(
                format!("réponse illisible (portail captif ?) : {e}"),
                "unreadable answer (captive portal?)",
            ),
            TransportError::Timeout => Message::new("délai dépassé", "timed out"),
        }
    }

    /// True when retrying the same request cannot help (a 4xx other than 408/429; 413 is
    /// handled by splitting the batch).
    pub fn is_permanent(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => {
                (400..500).contains(status) && *status != 408 && *status != 429
            }
            _ => false,
        }
    }

    /// True for 401/403: the device's token is no longer good.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            TransportError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// Moves the sync requests. Not `Send`-bounded (the browser's `fetch` futures are not).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// `GET /api/v1/sync/questionnaires`, with `If-None-Match: etag` when given.
    async fn pull_questionnaires(&self, etag: Option<&str>) -> Result<Pulled, TransportError>;
    /// `POST /api/v1/sync/responses`.
    async fn push_responses(&self, req: &PushRequest) -> Result<PushResponse, TransportError>;
    /// Waits (the transport knows its runtime: tokio, the browser's timers, a test clock).
    async fn sleep(&self, duration: Duration);
}

/// Why a pull or a push stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// 401/403: the device must be enrolled again.
    #[error("Cet appareil n'est plus autorisé : demandez un nouveau code d'enrôlement au coordinateur. / This device is no longer authorised: ask the coordinator for a new enrolment code. (HTTP {status})")]
    Unauthorized { status: u16, report: SyncReport },
    /// A refusal that retrying cannot change (a 4xx on the whole request).
    #[error("le serveur refuse la requête : {error} / the server refuses the request")]
    Refused {
        error: TransportError,
        report: SyncReport,
    },
    /// The server could not be reached after every attempt.
    #[error("serveur injoignable après {attempts} tentative(s) : {error} / server unreachable; nothing is lost, try again later")]
    Unreachable {
        attempts: u32,
        error: TransportError,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl SyncError {
    /// The message for the interviewer, in both languages.
    pub fn message(&self) -> Message {
        match self {
            SyncError::Unauthorized { .. } => Message::new(
                "Cet appareil n'est plus autorisé : demandez un nouveau code d'enrôlement au coordinateur.",
                "This device is no longer authorised: ask the coordinator for a new enrolment code.",
            ),
            SyncError::Refused { error, .. } => error.message().wrap(
                |fr| format!("Le serveur refuse la requête ({fr}). Rien n'est perdu : les réponses restent en file."),
                |en| format!("The server refuses the request ({en}). Nothing is lost: the responses stay queued."),
            ),
            SyncError::Unreachable { attempts, error } => error.message().wrap(
                |fr| format!("Serveur injoignable après {attempts} tentative(s) ({fr}). Rien n'est perdu : réessayez plus tard."),
                |en| format!("Server unreachable after {attempts} attempt(s) ({en}). Nothing is lost: try again later."),
            ),
            SyncError::Storage(e) => e.message(),
            SyncError::Outbox(e) => e.message(),
        }
    }

    /// What was done before the stop, when known.
    pub fn report(&self) -> Option<&SyncReport> {
        match self {
            SyncError::Unauthorized { report, .. } | SyncError::Refused { report, .. } => {
                Some(report)
            }
            _ => None,
        }
    }
}

/// How the engine pushes.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Responses per request (clamped to `1..=api::MAX_BATCH_RESPONSES`).
    pub batch_size: usize,
    /// Attempts per request within one push (≥ 1), transient failures only.
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Reported in `device_state`.
    pub app_version: String,
    /// Jitter seed; `None`: derived from the queued response ids.
    pub seed: Option<u64>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: None,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The server said 304.
    pub not_modified: bool,
    /// Questionnaire versions held after the pull.
    pub questionnaires: usize,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Responses sent (counting every resend).
    pub sent: usize,
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub conflict: usize,
    /// Still queued after this push (for any reason), to be sent again.
    pub still_queued: usize,
    /// Sent but no receipt for their id came back.
    pub missing_receipt: usize,
    /// A receipt came back with another content hash.
    pub hash_mismatch: usize,
    /// Alone in a batch and still over the server's size limit.
    pub too_large: usize,
    /// Requests made.
    pub requests: usize,
    /// Retries after a transient failure.
    pub retries: usize,
    /// The last transient failure, when retries ran out (in each language).
    pub gave_up: Option<Message>,
}

/// Progress of a push, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Responses handled in this push (whatever their outcome).
    pub done: usize,
    /// Responses queued when the push started.
    pub total: usize,
}

/// Stores the pulled questionnaires in the storage's meta: the documents first, then the
/// ETag (so a crash in between costs an unconditional pull, never a stale 304).
pub async fn store_questionnaires<S: Storage>(
    storage: &S,
    etag: Option<&str>,
    questionnaires: &[SyncQuestionnaire],
) -> Result<(), StorageError> {
    let docs =
        serde_json::to_value(questionnaires).map_err(|e| StorageError::Backend(e.to_string()))?;
    storage.put_meta(META_QUESTIONNAIRES, &docs).await?;
    storage
        .put_meta(
            META_QUESTIONNAIRES_ETAG,
            &etag.map_or(Value::Null, |e| Value::from(e.to_string())),
        )
        .await
}

/// The pulled questionnaires (empty before the first pull).
pub async fn stored_questionnaires<S: Storage>(
    storage: &S,
) -> Result<Vec<SyncQuestionnaire>, StorageError> {
    match storage.get_meta(META_QUESTIONNAIRES).await? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v).map_err(|e| StorageError::Corrupt {
            what: format!("meta {META_QUESTIONNAIRES}"),
            reason: e.to_string(),
        }),
    }
}

/// The latest pulled version of the questionnaire `slug`.
pub async fn latest_questionnaire<S: Storage>(
    storage: &S,
    slug: &str,
) -> Result<Option<SyncQuestionnaire>, StorageError> {
    Ok(stored_questionnaires(storage)
        .await?
        .into_iter()
        .filter(|q| q.slug == slug)
        .max_by_key(|q| q.version))
}

/// SplitMix64: a tiny PRNG for backoff jitter (no `rand` in the wasm build).
#[derive(Debug, Clone)]
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The backoff before retry number `attempt` (1-based): `base·2^(attempt-1)` capped at
/// `max`, then jittered uniformly into its upper half.
fn backoff(config: &SyncConfig, attempt: u32, jitter: &mut Jitter) -> Duration {
    let exp = config
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(config.max_delay);
    let ms = capped.as_millis() as u64;
    let half = ms / 2;
    let extra = if half == 0 {
        0
    } else {
        jitter.next() % (half + 1)
    };
    Duration::from_millis(half + extra)
}

/// The sync engine over an [`Outbox`] and a [`Transport`].
#[derive(Debug)]
pub struct SyncEngine<S, T> {
    outbox: Outbox<S>,
    transport: T,
    config: SyncConfig,
}

impl<S: Storage, T: Transport> SyncEngine<S, T> {
    pub fn new(outbox: Outbox<S>, transport: T, config: SyncConfig) -> Self {
        Self {
            outbox,
            transport,
            config,
        }
    }

    pub fn outbox(&self) -> &Outbox<S> {
        &self.outbox
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    pub fn into_parts(self) -> (Outbox<S>, T) {
        (self.outbox, self.transport)
    }

    /// Pulls the questionnaire list, conditionally: an unchanged list costs a 304.
    pub async fn pull(&self) -> Result<PullReport, SyncError> {
        let storage = self.outbox.storage();
        let held = stored_questionnaires(storage).await?;
        let etag = match storage.get_meta(META_QUESTIONNAIRES_ETAG).await? {
            Some(Value::String(s)) if storage.get_meta(META_QUESTIONNAIRES).await?.is_some() => {
                Some(s)
            }
            _ => None,
        };
        let mut jitter = Jitter(self.config.seed.unwrap_or(0x5EED_0F9A_7013));
        let mut attempt = 0;
        let pulled = loop {
            attempt += 1;
            match self.transport.pull_questionnaires(etag.as_deref()).await {
                Ok(p) => break p,
                Err(e) if e.is_unauthorized() => {
                    return Err(SyncError::Unauthorized {
                        status: status_of(&e),
                        report: SyncReport::default(),
                    })
                }
                Err(e) if e.is_permanent() => {
                    return Err(SyncError::Refused {
                        error: e,
                        report: SyncReport::default(),
                    })
                }
                Err(e) if attempt >= self.config.max_attempts.max(1) => {
                    return Err(SyncError::Unreachable {
                        attempts: attempt,
                        error: e,
                    })
                }
                Err(_) => {
                    let d = backoff(&self.config, attempt, &mut jitter);
                    self.transport.sleep(d).await;
                }
            }
        };
        match pulled {
            Pulled::NotModified => Ok(PullReport {
                not_modified: true,
                questionnaires: held.len(),
            }),
            Pulled::Fresh {
                etag,
                questionnaires,
            } => {
                store_questionnaires(storage, etag.as_deref(), &questionnaires).await?;
                Ok(PullReport {
                    not_modified: false,
                    questionnaires: questionnaires.len(),
                })
            }
        }
    }

    /// Pushes every queued response. See the module docs for the decisions.
    pub async fn push(&self) -> Result<SyncReport, SyncError> {
        self.push_with_progress(|_| {}).await
    }

    /// [`Self::push`], calling `progress` as responses are handled.
    pub async fn push_with_progress(
        &self,
        mut progress: impl FnMut(Progress),
    ) -> Result<SyncReport, SyncError> {
        let queued = self.outbox.queued().await?;
        let counts = self.outbox.counts().await?;
        let device_state = DeviceState {
            queued: counts.queued as u32,
            drafts: counts.drafts as u32,
            app_version: self.config.app_version.clone(),
            rejected: counts.rejected as u32,
        };
        let total = queued.len();
        let mut report = SyncReport::default();
        let mut done = 0usize;
        progress(Progress { done, total });

        let seed = self.config.seed.unwrap_or_else(|| {
            queued.iter().fold(0x0123_4567_89AB_CDEFu64, |acc, r| {
                acc.rotate_left(7) ^ r.response.id.0.as_u64_pair().1
            })
        });
        let mut jitter = Jitter(seed);

        let mut batches: VecDeque<Vec<OutboxRecord>> = chunk(queued, self.config.batch_size);
        while let Some(batch) = batches.pop_front() {
            let request = PushRequest {
                responses: batch
                    .iter()
                    .map(|r| WireResponse::from(&r.response))
                    .collect(),
                // Queued on the device as this request leaves, its own responses included.
                device_state: Some(DeviceState {
                    queued: counts.queued.saturating_sub(done) as u32,
                    ..device_state.clone()
                }),
            };
            let mut attempt = 0u32;
            let outcome = loop {
                attempt += 1;
                report.requests += 1;
                report.sent += batch.len();
                match self.transport.push_responses(&request).await {
                    Ok(resp) => break Some(resp),
                    Err(TransportError::Status { status: 413, .. }) => break None,
                    Err(e) if e.is_unauthorized() => {
                        report.still_queued = self.outbox.queued().await?.len();
                        return Err(SyncError::Unauthorized {
                            status: status_of(&e),
                            report,
                        });
                    }
                    Err(e) if e.is_permanent() => {
                        report.still_queued = self.outbox.queued().await?.len();
                        return Err(SyncError::Refused { error: e, report });
                    }
                    Err(e) if attempt >= self.config.max_attempts.max(1) => {
                        // Give up for now: the network is most likely down for every batch.
                        report.gave_up = Some(e.message());
                        report.still_queued = self.outbox.queued().await?.len();
                        return Ok(report);
                    }
                    Err(_) => {
                        report.retries += 1;
                        let d = backoff(&self.config, attempt, &mut jitter);
                        self.transport.sleep(d).await;
                    }
                }
            };
            let Some(response) = outcome else {
                // 413: split in halves and send those first; one alone stays queued.
                if batch.len() > 1 {
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    batches.push_front(second);
                    batches.push_front(first);
                } else {
                    report.too_large += batch.len();
                    done += batch.len();
                    progress(Progress { done, total });
                }
                continue;
            };
            self.apply_receipts(&batch, response, &mut report).await?;
            done += batch.len();
            progress(Progress { done, total });
        }
        report.still_queued = self.outbox.queued().await?.len();
        Ok(report)
    }

    async fn apply_receipts(
        &self,
        batch: &[OutboxRecord],
        response: PushResponse,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let mut receipts: HashMap<ResponseId, api::PushResult> = HashMap::new();
        for r in response.results {
            if let Some(id) = r.id {
                receipts.entry(id).or_insert(r);
            }
        }
        for rec in batch {
            let id = rec.response.id;
            let Some(receipt) = receipts.remove(&id) else {
                report.missing_receipt += 1;
                continue;
            };
            match receipt.status {
                api::ItemStatus::Accepted | api::ItemStatus::Duplicate => {
                    let ours = rec.response.content_hash();
                    if receipt.content_hash.as_ref() != Some(&ours) {
                        report.hash_mismatch += 1;
                        continue;
                    }
                    self.outbox.mark_synced(id, ours).await?;
                    if receipt.status == api::ItemStatus::Accepted {
                        report.accepted += 1;
                    } else {
                        report.duplicate += 1;
                    }
                }
                api::ItemStatus::Rejected => {
                    self.outbox.mark_rejected(id, receipt.errors).await?;
                    report.rejected += 1;
                }
                api::ItemStatus::Conflict => {
                    self.outbox.mark_conflict(id, receipt.content_hash).await?;
                    report.conflict += 1;
                }
            }
        }
        Ok(())
    }
}

fn status_of(e: &TransportError) -> u16 {
    match e {
        TransportError::Status { status, .. } => *status,
        _ => 0,
    }
}

/// Splits the queue into batches of at most `size` responses and about
/// [`api::MAX_BATCH_BYTES`] (with margin) each.
fn chunk(records: Vec<OutboxRecord>, size: usize) -> VecDeque<Vec<OutboxRecord>> {
    let size = size.clamp(1, api::MAX_BATCH_RESPONSES);
    let byte_budget = api::MAX_BATCH_BYTES - api::MAX_BATCH_BYTES / 8;
    let mut out = VecDeque::new();
    let mut cur: Vec<OutboxRecord> = Vec::new();
    let mut bytes = 0usize;
    for r in records {
        let len = serde_json::to_vec(&WireResponse::from(&r.response)).map_or(0, |v| v.len()) + 1;
        if !cur.is_empty() && (cur.len() >= size || bytes + len > byte_budget) {
            out.push_back(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += len;
        cur.push(r);
    }
    if !cur.is_empty() {
        out.push_back(cur);
    }
    out
}

/// States that the engine leaves for the interviewer to act on.
pub fn needs_attention(state: State) -> bool {
    matches!(state, State::Rejected | State::Conflict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_carries_the_servers_message_in_each_language() {
        let e = TransportError::Status {
            status: 422,
            body: r#"{"error":"a / b / c","message":"Âge / tranche requis","message_en":"Age bracket required"}"#.into(),
        };
        assert_eq!(
            e.message(),
            Message::new(
                "le serveur a répondu 422 : Âge / tranche requis",
                "the server answered 422: Age bracket required"
            )
        );
        assert_eq!(e.to_string(), e.message().joined());
        // A body that is not Parole's is said as it is, in both.
        let e = TransportError::Status {
            status: 502,
            body: "<html>Bad Gateway</html>".into(),
        };
        assert_eq!(
            e.message().fr,
            "le serveur a répondu 502 : <html>Bad Gateway</html>"
        );
        assert_eq!(
            e.message().en,
            "the server answered 502: <html>Bad Gateway</html>"
        );
        let e = TransportError::Status {
            status: 503,
            body: String::new(),
        };
        assert_eq!(e.message().en, "the server answered 503");
    }

    #[test]
    fn each_transport_message_is_its_display_in_one_language() {
        for e in [
            TransportError::Network("dns".into()),
            TransportError::BadBody("<html>".into()),
            TransportError::Timeout,
        ] {
            assert_eq!(e.to_string(), e.message().joined(), "{e:?}");
        }
    }

    #[test]
    fn a_refusal_embeds_the_servers_message_in_each_language() {
        let e = SyncError::Refused {
            error: TransportError::Status {
                status: 400,
                body: r#"{"error":"requête illisible / unreadable request","message":"requête illisible","message_en":"unreadable request"}"#.into(),
            },
            report: SyncReport::default(),
        };
        let m = e.message();
        assert!(
            m.fr.contains("(le serveur a répondu 400 : requête illisible)"),
            "{m:?}"
        );
        assert!(!m.fr.contains("unreadable"), "{m:?}");
        assert!(
            m.en.contains("(the server answered 400: unreadable request)"),
            "{m:?}"
        );
        let e = SyncError::Unreachable {
            attempts: 5,
            error: TransportError::Timeout,
        };
        assert!(e.message().fr.contains("(délai dépassé)"));
        assert!(e.message().en.contains("(timed out)"));
        let e = SyncError::Storage(StorageError::Backend("QuotaExceededError".into()));
        assert_eq!(e.message().en, "storage error");
    }
}
