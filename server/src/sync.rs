//! Receiving responses exactly once: `POST /api/v1/sync/responses`.
//!
//! The body is parsed as JSON first (malformed → 400 with line and column), then each item
//! on its own into a `WireResponse`, so one wrongly typed item, or one holding a lone UTF-16
//! surrogate escape, is `rejected` (naming the field) while the others are processed. Each response is validated against the EXACT
//! version it names; the parsed questionnaires are cached by `(slug, version)` (published
//! versions are immutable). The batch is stored in ONE transaction with `insert … on
//! conflict (id) do nothing`, then the held hashes are looked up: `accepted`, `duplicate`
//! (same id, same hash), `conflict` (same id, other hash: nothing overwritten), `rejected`.
//! A response filled against a retired version (`POST …/versions/{n}/retire`) is
//! `rejected` with `version_revoked` at `/version`: the parsed versions stay cached (they
//! are immutable), and the retirements of the batch's versions are read with ONE
//! primary-key query per batch, so a second server process sees a retirement at once.
//! The photos each accepted response names are recorded in the same transaction
//! (`response_photo`): a response is stored whether or not its photos have arrived (see
//! [`crate::attachment`]). The transaction commits before the answer is sent.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use parole_client::api::{
    DeviceState, ItemStatus, PushResponse, PushResult, WireResponse, MAX_BATCH_RESPONSES,
};
use parole_client::i18n::Message;
use parole_client::{ContentHash, Questionnaire, ResponseId, ValidationError};
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{self, DbError, NewResponse};
use crate::domain::Slug;
use crate::error::{from_value_with_path, json_syntax_message};

/// Parsed published versions, by `(slug, version)`, each compiled once.
#[derive(Default)]
pub struct QuestionnaireCache {
    map: RwLock<HashMap<(String, i32), Cached>>,
}

#[derive(Clone)]
struct Cached {
    questionnaire_id: i64,
    questionnaire: Arc<Questionnaire>,
}

/// How one `(slug, version)` resolved.
enum Resolved {
    Found(Cached),
    UnknownQuestionnaire,
    UnknownVersion,
    Unusable,
}

impl QuestionnaireCache {
    fn get(&self, key: &(String, i32)) -> Option<Cached> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// The parsed versions `versions` of `slug`, by version number, loading the missing
    /// ones with one query. A version that does not exist or no longer parses is absent.
    pub async fn parsed(
        &self,
        pool: &PgPool,
        slug: &str,
        versions: impl IntoIterator<Item = i32>,
    ) -> anyhow::Result<HashMap<i32, Arc<Questionnaire>>> {
        let keys = versions
            .into_iter()
            .map(|v| (slug.to_string(), v))
            .collect();
        Ok(self
            .resolve(pool, keys)
            .await?
            .into_iter()
            .filter_map(|((_, v), r)| match r {
                Resolved::Found(c) => Some((v, c.questionnaire)),
                _ => None,
            })
            .collect())
    }

    /// Resolves every key, loading the missing ones with one query.
    async fn resolve(
        &self,
        pool: &PgPool,
        keys: HashSet<(String, i32)>,
    ) -> anyhow::Result<HashMap<(String, i32), Resolved>> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for key in keys {
            match self.get(&key) {
                Some(c) => {
                    out.insert(key, Resolved::Found(c));
                }
                None => missing.push(key),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let rows = db::lookup_versions(pool, &missing).await?;
        let mut known_slugs = HashSet::new();
        for row in rows {
            known_slugs.insert(row.slug.clone());
            let (Some(version), Some(document)) = (row.version, row.document) else {
                continue;
            };
            let key = (row.slug, version);
            // Parsing may be costly (schema compilation): off the async threads.
            let parsed =
                tokio::task::spawn_blocking(move || Questionnaire::parse(&document)).await?;
            match parsed {
                Ok(q) => {
                    let cached = Cached {
                        questionnaire_id: row.questionnaire_id,
                        questionnaire: Arc::new(q),
                    };
                    self.map
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key.clone(), cached.clone());
                    out.insert(key, Resolved::Found(cached));
                }
                Err(errors) => {
                    tracing::error!(slug = %key.0, version = key.1, errors = errors.len(), "a published version no longer parses");
                    out.insert(key, Resolved::Unusable);
                }
            }
        }
        for key in missing {
            let unknown = if known_slugs.contains(&key.0) {
                Resolved::UnknownVersion
            } else {
                Resolved::UnknownQuestionnaire
            };
            out.entry(key).or_insert(unknown);
        }
        Ok(out)
    }
}

fn error(path: &str, code: &str, fr: String, en: String) -> ValidationError {
    ValidationError::new(path, code, Message::new(fr, en))
}

/// Why a whole push is refused (one bad item never refuses the others: it gets its own
/// `rejected` receipt).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The body is not JSON, or not `{"responses": […]}` (400).
    #[error("{0}")]
    Malformed(Message),
    /// A part outside the responses is wrong (`device_state`): 422, by path.
    #[error("{0}")]
    Invalid(ValidationError),
    /// More than [`MAX_BATCH_RESPONSES`] responses (413).
    #[error("more than {MAX_BATCH_RESPONSES} responses")]
    TooManyResponses,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One item after parsing and validation.
enum Item {
    Rejected {
        id: Option<Uuid>,
        errors: Vec<ValidationError>,
    },
    /// Filled against a retired version: refused, unless the server already holds it with
    /// this content hash (stored before the retirement, its receipt lost): then `duplicate`,
    /// so that a phone whose sync was cut off never sees a stored response as refused.
    Retired {
        id: Uuid,
        content_hash: String,
        error: ValidationError,
    },
    Valid {
        row: Box<NewResponse>,
    },
}

fn parse_time(s: &str, field: &str) -> Result<chrono::DateTime<chrono::Utc>, ValidationError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            error(
                &format!("/{field}"),
                "format",
                format!("{field} doit être une date et heure RFC 3339 (ex. 2025-03-14T18:30:00+01:00), reçu « {s} »"),
                format!("{field} must be an RFC 3339 date-time (e.g. 2025-03-14T18:30:00+01:00), got `{s}`"),
            )
        })
}

/// Handles one push (`body` is the request body, already size-checked), in five steps:
/// [`parse`] the batch, [`resolve`] the versions it names, [`validate`] each item, [`store`]
/// the valid ones in one transaction, and write the [`receipts`].
pub async fn push(
    pool: &PgPool,
    cache: &QuestionnaireCache,
    sender: Uuid,
    body: &[u8],
) -> Result<PushResponse, PushError> {
    let batch = parse(body)?;
    let versions = resolve(pool, cache, sender, &batch.items).await?;
    let items = validate(batch.items, sender, versions).await?;
    let outcome = store(pool, sender, &items, batch.device_state.as_ref()).await?;
    Ok(receipts(items, &outcome))
}

/// Parses a push body and validates each item against `questionnaires` (slug, version,
/// parsed document), without the database and as if every item came from `sender`: the
/// entry point of the fuzz target `push` (`fuzz/`). One `true` (valid) or `false` (rejected)
/// per item, in order, or why the whole body is refused.
pub fn check_offline(
    body: &[u8],
    sender: Uuid,
    questionnaires: &[(&str, i32, Arc<Questionnaire>)],
) -> Result<Vec<bool>, PushError> {
    let batch = parse(body)?;
    let resolved = batch
        .items
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .map(|w| {
            let key = (w.questionnaire.clone(), w.version);
            let found = questionnaires
                .iter()
                .find(|(slug, version, _)| (*slug, *version) == (key.0.as_str(), key.1));
            let resolved = match found {
                Some((_, _, q)) => Resolved::Found(Cached {
                    questionnaire_id: 1,
                    questionnaire: q.clone(),
                }),
                None => Resolved::UnknownQuestionnaire,
            };
            (key, resolved)
        })
        .collect();
    let versions = Versions {
        resolved,
        retired: HashMap::new(),
        makers: HashSet::from([sender]),
    };
    Ok(batch
        .items
        .into_iter()
        .map(|w| match w {
            Err(_) => false,
            Ok(w) => matches!(validate_one(w, sender, &versions), Item::Valid { .. }),
        })
        .collect())
}

/// A push's body, each item read on its own.
struct Batch {
    /// Each item as a `WireResponse`, or rejected already (naming the field).
    items: Vec<Result<WireResponse, Box<Item>>>,
    /// What the device said of itself, as stored for the coordinator.
    device_state: Option<Value>,
}

/// The push body's two fields, each kept as its JSON text to be read on its own.
#[derive(serde::Deserialize)]
struct RawBody<'a> {
    #[serde(borrow, default)]
    responses: Option<&'a RawValue>,
    #[serde(borrow, default)]
    device_state: Option<&'a RawValue>,
}

/// 1. The body as JSON (malformed → 400 with line and column), then each item on its own,
///    so that one wrongly typed item, or one holding what is not text (a lone UTF-16
///    surrogate escape such as `"\ud800"`), is `rejected` while the others go on.
fn parse(body: &[u8]) -> Result<Batch, PushError> {
    let not_an_object = || {
        PushError::Malformed(Message::new(
            "le corps doit être un objet {\"responses\": […]}",
            "the body must be an object {\"responses\": […]}",
        ))
    };
    let root: RawBody = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            not_an_object()
        } else {
            PushError::Malformed(json_syntax_message(&e))
        }
    })?;
    // A derived struct also reads a JSON array.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(not_an_object());
    }
    let items: Vec<&RawValue> = root
        .responses
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| {
            PushError::Invalid(error(
                "/responses",
                "required",
                "« responses » doit être une liste de réponses".into(),
                "`responses` must be an array of responses".into(),
            ))
        })?;
    if items.len() > MAX_BATCH_RESPONSES {
        return Err(PushError::TooManyResponses);
    }
    let device_state = match root.device_state {
        None => None,
        Some(raw) => {
            // Shown to the coordinator, never worth refusing a batch for: what is not text
            // (a lone surrogate) becomes U+FFFD.
            let v: Value = serde_json::from_str(raw.get())
                .or_else(|_| serde_json::from_str(&mark_lone_surrogates(raw.get(), "\\ufffd")))
                .map_err(|e| {
                    PushError::Invalid(error(
                        "/device_state",
                        "type",
                        format!("device_state illisible : {e}"),
                        format!("unreadable device_state: {e}"),
                    ))
                })?;
            let mut state: DeviceState = from_value_with_path(v).map_err(|mut e| {
                e.path = format!("/device_state{}", e.path);
                PushError::Invalid(e)
            })?;
            // `queued` counts this request's responses, which each get a receipt now: what
            // stays on the device (for the coordinator) is the rest.
            state.queued = state.queued.saturating_sub(items.len() as u32);
            // What PostgreSQL cannot store (a NUL) is replaced.
            state.app_version = state.app_version.replace('\0', "\u{fffd}");
            Some(serde_json::to_value(state).map_err(anyhow::Error::from)?)
        }
    };
    let items = items
        .into_iter()
        .map(|raw| {
            let item: Value = serde_json::from_str(raw.get()).map_err(|e| unreadable(raw, &e))?;
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok());
            let reject = |e| {
                Box::new(Item::Rejected {
                    id,
                    errors: vec![e],
                })
            };
            let w = from_value_with_path::<WireResponse>(item).map_err(reject)?;
            // A name no questionnaire can have (a NUL, which PostgreSQL cannot even look
            // up) is unknown before anything is asked of the database.
            Slug::parse(&w.questionnaire).map_err(|m| {
                reject(ValidationError::new(
                    "/questionnaire",
                    "unknown_questionnaire",
                    m,
                ))
            })?;
            Ok(w)
        })
        .collect();
    Ok(Batch {
        items,
        device_state,
    })
}

/// Stands for a lone surrogate while an unreadable item is read again to say where it is:
/// a noncharacter, never in a real answer's text.
const LONE_SURROGATE_MARK: char = '\u{fdd0}';

/// The rejection of an item that is JSON but cannot be read as a value: a lone UTF-16
/// surrogate escape in one of its strings (text no system can store), or nesting deeper
/// than the parser allows. It names the item's id and the strings at fault when it can.
fn unreadable(raw: &RawValue, e: &serde_json::Error) -> Box<Item> {
    let marked: Option<Value> =
        serde_json::from_str(&mark_lone_surrogates(raw.get(), "\\ufdd0")).ok();
    let id = marked
        .as_ref()
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut paths = Vec::new();
    if let Some(v) = &marked {
        parole_client::validate::strings_containing(v, LONE_SURROGATE_MARK, "", &mut paths);
    }
    let errors = if paths.is_empty() {
        vec![error(
            "",
            "type",
            format!("réponse illisible : {e}"),
            format!("unreadable response: {e}"),
        )]
    } else {
        paths
            .into_iter()
            .map(|path| {
                error(
                    &path,
                    "lone_surrogate",
                    "ce texte contient un caractère invalide (une demi-paire UTF-16 isolée, \
                     comme \\ud800), qui n'est pas du texte : retirez-le"
                        .into(),
                    "this text holds an invalid character (a lone UTF-16 surrogate, such as \
                     \\ud800), which is not text: remove it"
                        .into(),
                )
            })
            .collect()
    };
    Box::new(Item::Rejected { id, errors })
}

/// `json` with each `\uXXXX` escape of a lone UTF-16 surrogate (one not part of a pair)
/// replaced by `replacement` (itself an escape), so that it parses.
fn mark_lone_surrogates(json: &str, replacement: &str) -> String {
    fn unit(hex: Option<&str>) -> Option<u16> {
        u16::from_str_radix(hex?, 16).ok()
    }
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        if !escape[1..].starts_with('u') {
            // `\\`, `\"`, `\n`…: kept whole, so that an escaped backslash is not read as
            // the start of another escape.
            let len = escape[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&escape[..len]);
            rest = &escape[len..];
            continue;
        }
        let Some(code) = unit(escape.get(2..6)) else {
            out.push_str(&escape[..2]);
            rest = &escape[2..];
            continue;
        };
        let low = escape
            .get(6..8)
            .filter(|u| *u == "\\u")
            .and_then(|_| unit(escape.get(8..12)));
        match code {
            0xD800..=0xDBFF if low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) => {
                out.push_str(&escape[..12]);
                rest = &escape[12..];
            }
            0xD800..=0xDFFF => {
                out.push_str(replacement);
                rest = &escape[6..];
            }
            _ => {
                out.push_str(&escape[..6]);
                rest = &escape[6..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The versions a batch names, which of them are retired, and the devices it names that may
/// have made its responses.
struct Versions {
    resolved: HashMap<(String, i32), Resolved>,
    retired: HashMap<(String, i32), db::RetiredVersion>,
    /// The sender, and the other devices named that belong to the sender's interviewer.
    makers: HashSet<Uuid>,
}

/// 2. The questionnaire versions the items name (parsed, from the cache), and their
///    retirements, read with one primary-key query so that every server process sees a
///    retirement at once.
async fn resolve(
    pool: &PgPool,
    cache: &QuestionnaireCache,
    sender: Uuid,
    items: &[Result<WireResponse, Box<Item>>],
) -> Result<Versions, PushError> {
    let keys: HashSet<(String, i32)> = items
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .map(|w| (w.questionnaire.clone(), w.version))
        .collect();
    let resolved = cache.resolve(pool, keys).await?;
    let found: Vec<(i64, i32)> = resolved
        .iter()
        .filter_map(|((_, version), r)| match r {
            Resolved::Found(c) => Some((c.questionnaire_id, *version)),
            _ => None,
        })
        .collect();
    let retired = db::retired_among(pool, &found)
        .await?
        .into_iter()
        .map(|r| ((r.slug.clone(), r.version), r))
        .collect();
    // A response says which device made it: the sender itself, or another phone of the same
    // interviewer whose backup the sender imports. Never someone else's.
    let named: Vec<Uuid> = items
        .iter()
        .filter_map(|w| w.as_ref().ok()?.device_id)
        .filter(|d| *d != sender)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut makers: HashSet<Uuid> = db::devices_of_senders_interviewer(pool, sender, &named)
        .await?
        .into_iter()
        .collect();
    makers.insert(sender);
    Ok(Versions {
        resolved,
        retired,
        makers,
    })
}

/// 3. Each item against its exact version (CPU-bound for a big batch: off the async
///    threads).
async fn validate(
    items: Vec<Result<WireResponse, Box<Item>>>,
    sender: Uuid,
    versions: Versions,
) -> Result<Vec<Item>, PushError> {
    let items = tokio::task::spawn_blocking(move || {
        items
            .into_iter()
            .map(|w| match w {
                Err(item) => *item,
                Ok(w) => validate_one(w, sender, &versions),
            })
            .collect()
    })
    .await
    .map_err(anyhow::Error::from)?;
    Ok(items)
}

/// 4. The first occurrence of each valid id, in one transaction that commits before the
///    answer; the hashes held for every id of the batch come back with it.
async fn store(
    pool: &PgPool,
    sender: Uuid,
    items: &[Item],
    device_state: Option<&Value>,
) -> Result<db::InsertOutcome, PushError> {
    let mut first_seen: HashSet<Uuid> = HashSet::new();
    let mut to_insert = Vec::new();
    let mut also_ask = Vec::new();
    for item in items {
        match item {
            Item::Valid { row } => {
                if first_seen.insert(row.id) {
                    to_insert.push((**row).clone());
                }
            }
            Item::Rejected { id: Some(id), .. } | Item::Retired { id, .. } => also_ask.push(*id),
            Item::Rejected { id: None, .. } => {}
        }
    }
    Ok(db::insert_responses(pool, sender, &to_insert, &also_ask, device_state).await?)
}

/// 5. One receipt per item, in request order, each with the hash the server holds:
///    `accepted` (stored now; a repeated id in the same batch is accepted once),
///    `duplicate` (same hash held), `conflict` (another held), `rejected`.
fn receipts(items: Vec<Item>, outcome: &db::InsertOutcome) -> PushResponse {
    let mut reported_accepted: HashSet<Uuid> = HashSet::new();
    let results = items
        .into_iter()
        .map(|item| match item {
            Item::Retired {
                id,
                content_hash,
                error,
            } => {
                let held = outcome.held.get(&id).cloned();
                let (status, errors) = if held.as_deref() == Some(content_hash.as_str()) {
                    (ItemStatus::Duplicate, Vec::new())
                } else {
                    (ItemStatus::Rejected, vec![error])
                };
                PushResult {
                    id: Some(ResponseId(id)),
                    status,
                    content_hash: held.map(ContentHash),
                    errors,
                }
            }
            Item::Rejected { id, errors } => PushResult {
                id: id.map(ResponseId),
                status: ItemStatus::Rejected,
                content_hash: id
                    .and_then(|id| outcome.held.get(&id))
                    .map(|h| ContentHash(h.clone())),
                errors,
            },
            Item::Valid { row } => {
                let held = outcome.held.get(&row.id).cloned();
                let status =
                    if outcome.inserted.contains(&row.id) && reported_accepted.insert(row.id) {
                        ItemStatus::Accepted
                    } else if held.as_deref() == Some(row.content_hash.as_str()) {
                        ItemStatus::Duplicate
                    } else {
                        ItemStatus::Conflict
                    };
                PushResult {
                    id: Some(ResponseId(row.id)),
                    status,
                    content_hash: held.map(ContentHash),
                    errors: Vec::new(),
                }
            }
        })
        .collect();
    PushResponse { results }
}

/// The refusal of a response filled against a retired version: names the questionnaire,
/// the version and the coordinator's reason, and says what to do.
fn retired_error(r: &db::RetiredVersion) -> ValidationError {
    let reason = r
        .revoked_reason
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches(['.', ' ']).to_string());
    let (fr_why, en_why) = match &reason {
        Some(why) => (format!(" : {why}"), format!(": {why}")),
        None => (String::new(), String::new()),
    };
    error(
        "/version",
        "version_revoked",
        format!(
            "La version {v} du questionnaire « {s} » a été retirée par la coordination{fr_why}. \
             Elle ne reçoit plus de réponses : parlez-en à votre coordination.",
            v = r.version,
            s = r.slug,
        ),
        format!(
            "Version {v} of questionnaire `{s}` was retired by the coordination{en_why}. \
             It no longer takes responses: talk to your coordinator.",
            v = r.version,
            s = r.slug,
        ),
    )
}

fn validate_one(w: WireResponse, sender: Uuid, versions: &Versions) -> Item {
    let (resolved, retired) = (&versions.resolved, &versions.retired);
    let id = w.id.0;
    let reject = |errors| Item::Rejected {
        id: Some(id),
        errors,
    };
    let mut errors = Vec::new();
    let started = parse_time(&w.started_at, "started_at");
    let completed = parse_time(&w.completed_at, "completed_at");
    if let Err(e) = &started {
        errors.push(e.clone());
    }
    if let Err(e) = &completed {
        errors.push(e.clone());
    }
    if let Some(maker) = w.device_id.filter(|d| !versions.makers.contains(d)) {
        // Its content is not looked at: no correction makes it receivable from here.
        errors.push(error(
            "/device_id",
            "foreign_device",
            format!(
                "la réponse dit venir de l'appareil {maker}, qui n'est pas un appareil de cet \
                 enquêteur ou de cette enquêtrice : seule une sauvegarde de ses propres \
                 téléphones peut être envoyée par cet appareil"
            ),
            format!(
                "the response says it was made on device {maker}, which is not one of this \
                 interviewer's devices: this device may only send the backups of the same \
                 interviewer's phones"
            ),
        ));
        return reject(errors);
    }
    let key = (w.questionnaire.clone(), w.version);
    if let (Some(Resolved::Found(_)), Some(r)) = (resolved.get(&key), retired.get(&key)) {
        // Its answers are not checked: no correction makes it receivable.
        if !errors.is_empty() {
            errors.push(retired_error(r));
            return reject(errors);
        }
        return Item::Retired {
            id,
            content_hash: w.into_response(Some(sender)).content_hash().0,
            error: retired_error(r),
        };
    }
    let cached = match resolved.get(&key) {
        Some(Resolved::Found(c)) => Some(c),
        Some(Resolved::UnknownVersion) => {
            errors.push(error(
                "/version",
                "unknown_version",
                format!(
                    "le questionnaire « {} » n'a pas de version publiée {}",
                    w.questionnaire, w.version
                ),
                format!(
                    "questionnaire `{}` has no published version {}",
                    w.questionnaire, w.version
                ),
            ));
            None
        }
        Some(Resolved::Unusable) => {
            errors.push(error(
                "/version",
                "unusable_questionnaire",
                "cette version du questionnaire ne peut plus être lue par le serveur".into(),
                "the server can no longer read this questionnaire version".into(),
            ));
            None
        }
        Some(Resolved::UnknownQuestionnaire) | None => {
            errors.push(error(
                "/questionnaire",
                "unknown_questionnaire",
                format!("questionnaire inconnu « {} »", w.questionnaire),
                format!("unknown questionnaire `{}`", w.questionnaire),
            ));
            None
        }
    };
    if let Some(cached) = cached {
        for mut e in cached.questionnaire.validate(&w.answers) {
            e.path = format!("/answers{}", e.path);
            errors.push(e);
        }
    }
    let (Some(cached), Ok(started_at_ts), Ok(completed_at_ts), true) =
        (cached, started, completed, errors.is_empty())
    else {
        return reject(errors);
    };
    let photos = crate::attachment::photo_refs(&cached.questionnaire, &w.answers);
    let response = w.into_response(Some(sender));
    let content_hash = response.content_hash().0;
    let location = response
        .location
        .as_ref()
        .and_then(|l| serde_json::to_value(l).ok());
    Item::Valid {
        row: Box::new(NewResponse {
            id,
            questionnaire_id: cached.questionnaire_id,
            version: response.version,
            answers: response.answers,
            started_at: response.started_at,
            started_at_ts,
            completed_at: response.completed_at,
            completed_at_ts,
            device_id: response.device_id,
            location,
            content_hash,
            photos,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parole_client::Questionnaire;
    use serde_json::{json, Value};
    use uuid::Uuid;

    use super::{check_offline, mark_lone_surrogates, PushError};

    fn besoins() -> Vec<(&'static str, i32, Arc<Questionnaire>)> {
        let text = include_str!("../../schemas/examples/besoins-formation.json");
        let document: Value = serde_json::from_str(text).unwrap();
        vec![(
            "besoins-formation",
            1,
            Arc::new(Questionnaire::parse(&document).unwrap()),
        )]
    }

    fn item(remarques: &str) -> Value {
        json!({
            "id": Uuid::now_v7(),
            "questionnaire": "besoins-formation",
            "version": 1,
            "answers": {
                "conseil": "malakoff", "role": "habitant", "annee_entree": 2020,
                "themes": ["budget"], "format_prefere": "atelier", "remarques": remarques,
            },
            "started_at": "2026-11-30T10:00:00+01:00",
            "completed_at": "2026-11-30T10:05:00+01:00",
        })
    }

    #[test]
    fn the_offline_check_gives_one_result_per_item_and_refuses_only_malformed_bodies() {
        let sender = Uuid::now_v7();
        let body = json!({"responses": [item("bien"), item("LONE"), {"id": 3}, item("ok")]})
            .to_string()
            .replace("LONE", r"\udc00");
        let results = check_offline(body.as_bytes(), sender, &besoins()).unwrap();
        assert_eq!(results, [true, false, false, true]);
        for (body, malformed) in [
            ("[]", true),
            ("{\"responses\": [", true),
            ("\"responses\"", true),
            ("{\"responses\": {}}", false),
        ] {
            let refused = check_offline(body.as_bytes(), sender, &besoins()).unwrap_err();
            assert_eq!(
                matches!(refused, PushError::Malformed(_)),
                malformed,
                "{body}: {refused:?}"
            );
        }
    }

    #[test]
    fn only_lone_surrogate_escapes_are_marked() {
        let cases = [
            (r#""a\ud800b""#, r#""a\ufdd0b""#),
            (r#""\udc00""#, r#""\ufdd0""#),
            (r#""\ud83d\ude00 ok""#, r#""\ud83d\ude00 ok""#),
            (r#""\\ud800""#, r#""\\ud800""#),
            (r#""\\\ud800""#, r#""\\\ufdd0""#),
            (r#""\ud800\u0041""#, r#""\ufdd0\u0041""#),
            (r#""\ud800\ud800\udc00""#, r#""\ufdd0\ud800\udc00""#),
            (r#""é\"\n\u00e9""#, r#""é\"\n\u00e9""#),
        ];
        for (json, marked) in cases {
            assert_eq!(mark_lone_surrogates(json, r"\ufdd0"), marked, "{json}");
            let parsed: Result<String, _> = serde_json::from_str(marked);
            assert!(parsed.is_ok(), "{marked}");
        }
    }
}
