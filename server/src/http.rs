//! The HTTP API v1: the router and its handlers. Handlers check the caller's role with the
//! extractors below (before reading the body, so a wrong role is a 403 whatever the body),
//! call the storage layer's named operations, and answer with `parole_client::api` types.
//! The routes are described in `server/openapi.json` (served at `/api/openapi.json`).
//!
//! The router also serves the phone app's static files (`AppState::web_dir`) at `/app/`
//! ([`web_app`]): compressed, with security headers, and revalidated on every load so that
//! a new version is picked up (the service worker keeps the app offline).

use std::path::Path as FsPath;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use parole_client::api::{
    EnrolRequest, EnrolResponse, LoginRequest, LoginResponse, Role, SyncQuestionnaire,
    SyncQuestionnaires, MAX_BATCH_BYTES, MAX_BATCH_RESPONSES,
};
use parole_client::Questionnaire;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::attachment::{self, AttachmentName, MAX_ATTACHMENT_BYTES};
use crate::auth::{self, Principal};
use crate::db;
use crate::error::{ApiJson, AppError};
use crate::export;
use crate::AppState;

/// The OpenAPI 3.1 description of every route.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The API's router.
pub fn router(state: AppState) -> Router {
    let web = web_app(&state.web_dir);
    Router::new()
        .route("/", get(root))
        .route("/app", get(to_app))
        .nest_service("/app/", web)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/users", post(create_user))
        .route(
            "/api/v1/questionnaires",
            get(list_questionnaires).post(create_questionnaire),
        )
        .route("/api/v1/questionnaires/{slug}", get(get_questionnaire))
        .route("/api/v1/questionnaires/{slug}/draft", put(put_draft))
        .route("/api/v1/questionnaires/{slug}/publish", post(publish))
        .route(
            "/api/v1/questionnaires/{slug}/versions/{n}",
            get(get_version),
        )
        .route(
            "/api/v1/questionnaires/{slug}/versions/{n}/revoke",
            post(revoke_version),
        )
        .route(
            "/api/v1/questionnaires/{slug}/responses.ndjson",
            get(export_ndjson),
        )
        .route(
            "/api/v1/questionnaires/{slug}/responses.csv",
            get(export_csv),
        )
        .route(
            "/api/v1/interviewers",
            get(list_interviewers).post(create_interviewer),
        )
        .route(
            "/api/v1/interviewers/{id}/enrolment-code",
            post(new_enrolment_code),
        )
        .route("/api/v1/enrol", post(enrol))
        .route("/api/v1/devices", get(list_devices))
        .route("/api/v1/devices/{id}", delete(revoke_device))
        .route("/api/v1/sync/questionnaires", get(sync_questionnaires))
        .route("/api/v1/sync/responses", post(sync_responses))
        .route(
            "/api/v1/attachments/{name}",
            get(get_attachment)
                .head(head_attachment)
                .put(put_attachment),
        )
        .fallback(|| async { AppError::not_found() })
        // Logs method, path and status only: no headers (tokens), no bodies (answers).
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Role extractors

/// A user with the `admin` role.
pub struct Admin(pub Uuid);
/// A coordinator (or admin).
pub struct Coordinator(pub Uuid);
/// A coordinator or analyst (or admin): may read questionnaires and export responses. With
/// the role, on which what an export includes depends.
pub struct Reader(pub Uuid, pub Role);
/// An enrolled, unrevoked device.
pub struct Device(pub Uuid);

macro_rules! role_extractor {
    ($name:ident, |$p:ident| $check:expr) => {
        impl FromRequestParts<AppState> for $name {
            type Rejection = AppError;
            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, AppError> {
                let $p = Principal::from_request_parts(parts, state).await?;
                Ok($name($check?))
            }
        }
    };
}
role_extractor!(Admin, |p| p.user(&[]));
role_extractor!(Coordinator, |p| p.user(&[Role::Coordinator]));
role_extractor!(Device, |p| p.device());

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let p = Principal::from_request_parts(parts, state).await?;
        let id = p.user(&[Role::Coordinator, Role::Analyst])?;
        match p.owner {
            db::TokenOwner::User { role, .. } => Ok(Reader(id, role)),
            db::TokenOwner::Device { .. } => Err(AppError::Forbidden),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Health and documentation

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(3), db::ping(&state.pool)).await {
        Ok(Ok(())) => (StatusCode::OK, "ok").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

// ---------------------------------------------------------------------------------------------
// Accounts

async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    match auth::login(&state.pool, &req.username, &req.password).await? {
        Some((token, role)) => Ok(Json(LoginResponse { token, role })),
        None => Err(AppError::Unauthorized(
            "identifiant ou mot de passe incorrect / wrong username or password".into(),
        )),
    }
}

async fn logout(State(state): State<AppState>, p: Principal) -> Result<StatusCode, AppError> {
    db::revoke_token(&state.pool, &p.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CreateUser {
    username: String,
    password: String,
    role: Role,
}

async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<Response, AppError> {
    match auth::create_user(&state.pool, &req.username, req.role, &req.password).await {
        Ok(id) => Ok((
            StatusCode::CREATED,
            Json(json!({"id": id, "username": req.username, "role": req.role})),
        )
            .into_response()),
        Err(e @ auth::UserError::Exists(_)) => Err(AppError::Conflict(e.to_string())),
        Err(e @ auth::UserError::BadUsername) => Err(AppError::field(
            "/username",
            "format",
            &e.to_string(),
            "invalid username",
        )),
        Err(e @ auth::UserError::WeakPassword) => Err(AppError::field(
            "/password",
            "min_length",
            &e.to_string(),
            "password too short",
        )),
        Err(auth::UserError::Other(e)) => Err(AppError::Internal(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Questionnaires

/// A questionnaire's slug: `^[a-z0-9][a-z0-9-]{0,62}$`. Parse, don't validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Slug, AppError> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
        if ok {
            Ok(Slug(s.to_string()))
        } else {
            Err(AppError::field(
                "/slug",
                "pattern",
                &format!("identifiant invalide « {s} » : 1 à 63 caractères parmi a-z, 0-9 et -, sans - au début"),
                &format!("invalid slug `{s}`: 1 to 63 of a-z, 0-9 and -, not starting with -"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a document, 422 with every error by path when it is broken.
fn check_document(document: &Value) -> Result<Questionnaire, AppError> {
    Questionnaire::parse(document).map_err(|errors| {
        AppError::invalid(
            format!(
                "questionnaire invalide ({n} erreur(s)) / invalid questionnaire ({n} error(s))",
                n = errors.len()
            ),
            errors,
        )
    })
}

async fn list_questionnaires(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let list = db::list_questionnaires(&state.pool).await?;
    Ok(Json(json!({ "questionnaires": list })))
}

#[derive(Deserialize)]
struct CreateQuestionnaire {
    slug: String,
    document: Value,
}

async fn create_questionnaire(
    State(state): State<AppState>,
    _: Coordinator,
    ApiJson(req): ApiJson<CreateQuestionnaire>,
) -> Result<Response, AppError> {
    let slug = Slug::parse(&req.slug)?;
    check_document(&req.document)?;
    db::insert_questionnaire(&state.pool, slug.as_str(), &req.document)
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(_) => AppError::Conflict(format!(
                "le questionnaire « {s} » existe déjà / questionnaire `{s}` already exists",
                s = slug.as_str()
            )),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(json!({ "slug": slug.as_str() }))).into_response())
}

async fn get_questionnaire(
    State(state): State<AppState>,
    _: Reader,
    Path(slug): Path<String>,
) -> Result<Json<Value>, AppError> {
    let draft = db::draft(&state.pool, &slug).await?;
    let versions: Vec<Value> = db::versions_of(&state.pool, &slug)
        .await?
        .into_iter()
        .map(|v| {
            json!({
                "version": v.version, "title": v.title, "published_at": v.published_at,
                "revoked_at": v.revoked_at, "revoked_reason": v.revoked_reason,
            })
        })
        .collect();
    Ok(Json(
        json!({"slug": slug, "draft": draft, "versions": versions}),
    ))
}

#[derive(Deserialize)]
struct PutDraft {
    document: Value,
}

async fn put_draft(
    State(state): State<AppState>,
    _: Coordinator,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<PutDraft>,
) -> Result<StatusCode, AppError> {
    check_document(&req.document)?;
    db::update_draft(&state.pool, &slug, &req.document).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish(
    State(state): State<AppState>,
    _: Coordinator,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let draft = db::draft(&state.pool, &slug).await?;
    let q = check_document(&draft)?;
    let version = db::publish_version(&state.pool, &slug, &q.title, &draft).await?;
    Ok((StatusCode::CREATED, Json(json!({ "version": version }))).into_response())
}

async fn get_version(
    State(state): State<AppState>,
    _: Reader,
    Path((slug, n)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let n: i32 = n.parse().map_err(|_| AppError::not_found())?;
    let v = db::version(&state.pool, &slug, n)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(json!({
        "slug": v.slug, "version": v.version, "title": v.title,
        "published_at": v.published_at, "revoked_at": v.revoked_at,
        "revoked_reason": v.revoked_reason, "document": v.document,
    })))
}

/// The longest reason a retirement may give (it is shown on the phones).
pub const MAX_REVOKE_REASON_CHARS: usize = 500;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeVersion {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/questionnaires/{slug}/versions/{n}/revoke` (coordinator): retires a
/// published version, as ODK Central's "closed" forms. The phones stop getting it, and the
/// server refuses the responses filled against it (`version_revoked`); those already stored
/// stay. Idempotent: 200 with the retirement, the first one's time and reason standing.
/// The body (`{"reason": "…"}`) is optional.
async fn revoke_version(
    State(state): State<AppState>,
    Coordinator(user): Coordinator,
    Path((slug, n)): Path<(String, String)>,
    body: bytes::Bytes,
) -> Result<Json<db::Revocation>, AppError> {
    let n: i32 = n.parse().map_err(|_| AppError::not_found())?;
    let req: RevokeVersion = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeVersion::default()
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(crate::error::json_syntax_message(&e)))?;
        crate::error::from_value_with_path(value).map_err(|e| AppError::Invalid {
            message: format!("{} / {}", e.message, e.message_en),
            errors: vec![e],
        })?
    };
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REVOKE_REASON_CHARS) {
        return Err(AppError::field(
            "/reason",
            "max_length",
            &format!("le motif doit faire au plus {MAX_REVOKE_REASON_CHARS} caractères"),
            &format!("the reason must be at most {MAX_REVOKE_REASON_CHARS} characters"),
        ));
    }
    let revocation = db::revoke_version(&state.pool, &slug, n, reason, user)
        .await
        .map_err(|e| match e {
            db::DbError::NotFound => AppError::NotFound(format!(
                "pas de version {n} du questionnaire « {slug} » / no version {n} of questionnaire `{slug}`"
            )),
            e => e.into(),
        })?;
    Ok(Json(revocation))
}

// ---------------------------------------------------------------------------------------------
// Exports

/// The query parameters of an export.
struct ExportParams {
    version: Option<i32>,
    after: i64,
    personal: export::Personal,
}

/// Reads an export's parameters: `version`, `after`, and `personal` (whose default and
/// allowed values depend on `role`: see [`export::personal_for`]).
fn export_params(
    params: &std::collections::HashMap<String, String>,
    role: Role,
) -> Result<ExportParams, AppError> {
    let version = match params.get("version") {
        None => None,
        Some(v) => Some(v.parse::<i32>().map_err(|_| {
            AppError::BadRequest(format!(
                "paramètre version invalide « {v} » / invalid version parameter `{v}`"
            ))
        })?),
    };
    let after = match params.get("after") {
        None => 0,
        Some(v) => v.parse::<i64>().map_err(|_| {
            AppError::BadRequest(format!(
                "paramètre after invalide « {v} » / invalid after parameter `{v}`"
            ))
        })?,
    };
    let personal = export::personal_for(role, params.get("personal").map(String::as_str))?;
    Ok(ExportParams {
        version,
        after,
        personal,
    })
}

async fn export_response(
    state: AppState,
    role: Role,
    slug: String,
    params: std::collections::HashMap<String, String>,
    format: export::Format,
) -> Result<Response, AppError> {
    let ExportParams {
        version,
        after,
        personal,
    } = export_params(&params, role)?;
    let id = db::questionnaire_id(&state.pool, &slug).await?;
    let versions = db::versions_of(&state.pool, &slug).await?;
    if let Some(v) = version {
        if !versions.iter().any(|r| r.version == v) {
            return Err(AppError::NotFound(format!(
                "pas de version {v} / no version {v}"
            )));
        }
    }
    let exported: Vec<&db::VersionRow> = versions
        .iter()
        .filter(|r| version.is_none_or(|v| v == r.version))
        .collect();
    // What is personal is decided per version, from its parsed questionnaire (cached).
    let parsed = state
        .cache
        .parsed(&state.pool, &slug, exported.iter().map(|r| r.version))
        .await?;
    let shapes: Vec<(i32, export::VersionShape)> = exported
        .iter()
        .map(|r| {
            let shape =
                export::VersionShape::new(&r.document, parsed.get(&r.version).map(|q| &**q));
            (r.version, shape)
        })
        .collect();
    let columns = export::union_of(shapes.iter().map(|(_, s)| s), personal);
    let (content_type, ext) = match format {
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let body = Body::from_stream(export::stream(
        state.pool.clone(),
        export::Plan {
            slug: slug.clone(),
            questionnaire_id: id,
            version,
            after,
            format,
            columns,
            personal,
            shapes: shapes.into_iter().collect(),
        },
    ));
    let disposition = format!("attachment; filename=\"{slug}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

async fn export_ndjson(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    Path(slug): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Ndjson).await
}

async fn export_csv(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    Path(slug): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Csv).await
}

// ---------------------------------------------------------------------------------------------
// Interviewers and devices

#[derive(Deserialize)]
struct CreateInterviewer {
    name: String,
}

async fn issue_code(state: &AppState, interviewer: Uuid) -> Result<String, AppError> {
    let code = auth::new_enrolment_code();
    let hash = auth::sha256_hex(&auth::normalise_enrolment_code(&code));
    db::replace_enrolment_code(
        &state.pool,
        interviewer,
        &hash,
        chrono::Utc::now() + auth::ENROLMENT_CODE_TTL,
    )
    .await?;
    Ok(code)
}

async fn create_interviewer(
    State(state): State<AppState>,
    _: Coordinator,
    ApiJson(req): ApiJson<CreateInterviewer>,
) -> Result<Response, AppError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field(
            "/name",
            "length",
            "le nom doit faire de 1 à 200 caractères",
            "the name must be 1 to 200 characters",
        ));
    }
    let id = db::insert_interviewer(&state.pool, name).await?;
    let code = issue_code(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "name": name, "enrolment_code": code})),
    )
        .into_response())
}

async fn list_interviewers(
    State(state): State<AppState>,
    _: Coordinator,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({"interviewers": db::list_interviewers(&state.pool).await?}),
    ))
}

fn parse_uuid(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found())
}

async fn new_enrolment_code(
    State(state): State<AppState>,
    _: Coordinator,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = parse_uuid(&id)?;
    let code = issue_code(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "enrolment_code": code})),
    )
        .into_response())
}

async fn enrol(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<Response, AppError> {
    let device_name = req.device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > 200 {
        return Err(AppError::field(
            "/device_name",
            "length",
            "le nom de l'appareil doit faire de 1 à 200 caractères",
            "the device name must be 1 to 200 characters",
        ));
    }
    let code_hash = auth::sha256_hex(&auth::normalise_enrolment_code(&req.code));
    let token = auth::new_token();
    let device_id = db::enrol_device(
        &state.pool,
        &code_hash,
        device_name,
        &auth::sha256_hex(&token),
    )
    .await?
    .ok_or_else(|| {
        AppError::Unauthorized(
            "code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau \
                     à votre coordinateur / unknown, used or expired enrolment code: ask your \
                     coordinator for a new one"
                .into(),
        )
    })?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolResponse { device_id, token }),
    )
        .into_response())
}

async fn list_devices(
    State(state): State<AppState>,
    _: Coordinator,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({"devices": db::list_devices(&state.pool).await?}),
    ))
}

async fn revoke_device(
    State(state): State<AppState>,
    _: Coordinator,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    db::revoke_device(&state.pool, parse_uuid(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Sync

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

async fn sync_questionnaires(
    State(state): State<AppState>,
    _: Device,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let questionnaires = db::latest_versions(&state.pool)
        .await?
        .into_iter()
        .map(|v| SyncQuestionnaire {
            slug: v.slug,
            version: v.version,
            title: v.title,
            document: v.document,
        })
        .collect();
    let body = serde_json::to_vec(&SyncQuestionnaires { questionnaires })
        .map_err(|e| AppError::Internal(e.into()))?;
    let etag = format!(
        "\"{}\"",
        parole_client::response::hex(&Sha256::digest(&body))
    );
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| AppError::Internal(e.into()))?;
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

async fn sync_responses(
    State(state): State<AppState>,
    Device(device): Device,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let bytes = read_body(&headers, body, MAX_BATCH_BYTES, || AppError::TooLarge {
        max_responses: MAX_BATCH_RESPONSES,
        max_bytes: MAX_BATCH_BYTES,
    })
    .await?;
    let result = crate::sync::push(&state.pool, &state.cache, device, &bytes).await?;
    Ok(Json(result).into_response())
}

/// Reads a body of at most `limit` bytes: refused at once when its `Content-Length` says
/// more, else read through a limit (a chunked body may lie by omission).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: impl Fn() -> AppError,
) -> Result<bytes::Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            too_large()
        } else {
            AppError::BadRequest(format!("corps illisible / unreadable body: {e}"))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// `PUT /api/v1/attachments/sha256:{hex}` (device): stores the body under its SHA-256 after
/// checking it is the one named. 201 when stored, 200 when already held (nothing changes).
async fn put_attachment(
    State(state): State<AppState>,
    Device(device): Device,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let name = AttachmentName::parse(&name)?;
    let media_type = attachment::media_type(headers.get(header::CONTENT_TYPE))?;
    let bytes = read_body(&headers, body, MAX_ATTACHMENT_BYTES, || {
        AppError::AttachmentTooLarge {
            max_bytes: MAX_ATTACHMENT_BYTES,
        }
    })
    .await?;
    // Hashing 10 MiB takes a few tens of milliseconds: off the async threads.
    let (bytes, actual) = tokio::task::spawn_blocking(move || {
        let actual = AttachmentName::of_bytes(&bytes);
        (bytes, actual)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    if actual != name {
        return Err(AppError::field(
            "",
            "hash_mismatch",
            &format!("le fichier reçu a pour empreinte {actual}, pas {name} : envoi corrompu ou mauvais nom"),
            &format!("the file received hashes to {actual}, not {name}: corrupted upload or wrong name"),
        ));
    }
    let created =
        db::insert_attachment(&state.pool, name.hex(), &media_type, &bytes, device).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"name": name.to_string(), "size": bytes.len(), "created": created})),
    )
        .into_response())
}

/// `HEAD /api/v1/attachments/sha256:{hex}` (device, coordinator, analyst): 200 when held
/// (with its size and media type), 404 when not.
async fn head_attachment(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    p.device()
        .or_else(|_| p.user(&[Role::Coordinator, Role::Analyst]))?;
    let name = AttachmentName::parse(&name)?;
    let meta = db::attachment_meta(&state.pool, name.hex())
        .await?
        .ok_or_else(AppError::not_found)?;
    let media_type = HeaderValue::from_str(&meta.media_type)
        .unwrap_or_else(|_| HeaderValue::from_static(attachment::DEFAULT_MEDIA_TYPE));
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_LENGTH, HeaderValue::from(meta.size)),
        ],
        (),
    )
        .into_response())
}

/// `GET /api/v1/attachments/sha256:{hex}` (coordinator, analyst): the file, with its media
/// type. Sandboxed (`Content-Security-Policy: sandbox`, `nosniff`): an uploaded file is
/// never run as a page of this origin, whatever type the phone declared.
async fn get_attachment(
    State(state): State<AppState>,
    _: Reader,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let name = AttachmentName::parse(&name)?;
    let etag = format!("\"{name}\"");
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| AppError::Internal(e.into()))?;
    let common = [
        (header::ETAG, etag_value),
        // The name is the content's hash: it never changes.
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=31536000, immutable"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        ),
    ];
    if etag_matches(&headers, &etag)
        && db::attachment_meta(&state.pool, name.hex())
            .await?
            .is_some()
    {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let row = db::attachment(&state.pool, name.hex())
        .await?
        .ok_or_else(AppError::not_found)?;
    let media_type = HeaderValue::from_str(&row.media_type)
        .unwrap_or_else(|_| HeaderValue::from_static(attachment::DEFAULT_MEDIA_TYPE));
    Ok((common, [(header::CONTENT_TYPE, media_type)], row.content).into_response())
}

// ---------------------------------------------------------------------------------------------
// The phone app

/// `/`: to the app (a temporary redirect: the root may serve something else one day).
async fn root() -> Redirect {
    Redirect::temporary("/app/")
}

/// `/app`: to `/app/`, for good (the app's relative links need the trailing slash).
async fn to_app() -> Redirect {
    Redirect::permanent("/app/")
}

/// The Content-Security-Policy of the app's pages: its own scripts and the WebAssembly
/// client (`'wasm-unsafe-eval'`), photos shown from `blob:`/`data:` URLs, requests to this
/// server only, no inline script or style, no framing.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; \
    manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// The phone app's static files, from `dir`: media types by extension (`.wasm` is
/// `application/wasm`, `.webmanifest` `application/manifest+json`), compressed (br or gzip,
/// as the browser asks; the wasm and the scripts included; a precompressed `FILE.br` or
/// `FILE.gz` beside a file is sent instead when present), with security headers and
/// `Cache-Control: no-cache`.
///
/// Why `no-cache` on every file, not only `index.html` and `sw.js`: the file names carry no
/// content hash, and the wasm-bindgen glue (`pkg/*.js`) must match its `.wasm` exactly, so a
/// cached old half with a new other half would break the app. `no-cache` still lets the
/// browser keep the files and revalidate them (`Last-Modified` → 304), and once the service
/// worker is installed it answers from its own cache without asking the network at all.
pub fn web_app(
    dir: &FsPath,
) -> impl tower::Service<
    axum::extract::Request,
    Response = impl IntoResponse,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::ServiceBuilder::new()
        .map_response(app_headers)
        // The default predicate compresses everything but images (SVG excepted), gRPC,
        // server-sent events and bodies under 32 bytes: `application/wasm` is compressed.
        .layer(CompressionLayer::new().br(true).gzip(true))
        // A file built with a `.br` / `.gz` beside it (compressed once, at the highest
        // level, by the build) is sent as is; any other is compressed on the fly.
        .service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
}

fn app_headers<B>(mut res: axum::http::Response<B>) -> axum::http::Response<B> {
    let h = res.headers_mut();
    // ServeDir redirects a directory to its path with a slash, but it sees the path below
    // `/app`: put the prefix back.
    if let Some(location) = h.get(header::LOCATION).and_then(|l| l.to_str().ok()) {
        if location.starts_with('/') && !location.starts_with("//") {
            if let Ok(v) = HeaderValue::from_str(&format!("/app{location}")) {
                h.insert(header::LOCATION, v);
            }
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(APP_CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for ok in ["a", "parole-habitants", "2025", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Abc", "a_b", "é", &"a".repeat(64), "a b"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"y\""),
        );
        assert!(etag_matches(&h, "\"y\""));
        assert!(etag_matches(&h, "\"x\""));
        assert!(!etag_matches(&h, "\"z\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(etag_matches(&h, "\"z\""));
    }
}
