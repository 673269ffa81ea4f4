//! What devices pull and push: `GET /api/v1/sync/questionnaires` (the published versions,
//! with a strong ETag) and `POST /api/v1/sync/responses` (a batch, exactly once: see
//! [`crate::sync`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parole_client::api::{
    PushResponse, SyncQuestionnaire, SyncQuestionnaires, MAX_BATCH_BYTES, MAX_BATCH_RESPONSES,
};
use sha2::{Digest, Sha256};

use super::{etag_matches, read_body, Device};
use crate::db;
use crate::error::AppError;
use crate::sync::PushError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sync/questionnaires", get(sync_questionnaires))
        .route("/api/v1/sync/responses", post(sync_responses))
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

fn too_large() -> AppError {
    AppError::TooLarge {
        max_responses: MAX_BATCH_RESPONSES,
        max_bytes: MAX_BATCH_BYTES,
    }
}

async fn sync_responses(
    State(state): State<AppState>,
    Device(device): Device,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushResponse>, AppError> {
    let bytes = read_body(&headers, body, MAX_BATCH_BYTES, too_large).await?;
    let result = crate::sync::push(&state.pool, &state.cache, device, &bytes).await?;
    crate::metrics::METRICS.sync_batch(result.results.iter().map(|r| &r.status));
    Ok(Json(result))
}

impl From<PushError> for AppError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Malformed(m) => AppError::BadRequest(m),
            PushError::Invalid(e) => AppError::one_invalid(e),
            PushError::TooManyResponses => too_large(),
            PushError::Db(e) => e.into(),
            PushError::Internal(e) => AppError::Internal(e),
        }
    }
}
