//! Photos, named by their SHA-256 (`/api/v1/attachments/sha256:{hex}`): devices upload
//! (`PUT`, checked and idempotent) and ask what the server holds (`HEAD`); coordinators and
//! analysts download (`GET`). See [`crate::attachment`].

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use parole_client::api::{AttachmentStored, Role};
use parole_client::i18n::Message;

use super::{etag_matches, read_body, ApiPath, Device, PathParams, Principal, Reader};
use crate::attachment::{self, AttachmentName, MAX_ATTACHMENT_BYTES};
use crate::db::{self, TokenOwner};
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/attachments/{name}",
        get(get_attachment)
            .head(head_attachment)
            .put(put_attachment),
    )
}

/// A name that is not `sha256:<64 hex>` is a malformed request (400), not a missing file.
impl PathParams for AttachmentName {
    fn from_params(params: Vec<String>) -> Result<Self, AppError> {
        let [name] = super::exactly::<1>(params)?;
        AttachmentName::parse(&name).map_err(AppError::BadRequest)
    }
}

/// An analyst asking for a photo that answers a personal question (or that no response
/// names) is told it is not found: not even its existence is given away.
async fn closed_to_analysts(state: &AppState, name: &AttachmentName) -> Result<(), AppError> {
    if db::attachment_open_to_analysts(&state.pool, name.hex()).await? {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// A new photo may not take a device past its quota of photos no response names
/// ([`attachment::MAX_UNNAMED_PHOTOS`], [`attachment::MAX_UNNAMED_BYTES`]); one the server
/// already holds costs nothing.
async fn within_quota(
    state: &AppState,
    device: uuid::Uuid,
    name: &AttachmentName,
    size: usize,
) -> Result<(), AppError> {
    if db::attachment_meta(&state.pool, name.hex())
        .await?
        .is_some()
    {
        return Ok(());
    }
    let (count, bytes) = db::unnamed_by_device(&state.pool, device).await?;
    if count < attachment::MAX_UNNAMED_PHOTOS
        && bytes + size as i64 <= attachment::MAX_UNNAMED_BYTES
    {
        return Ok(());
    }
    Err(AppError::QuotaExceeded {
        message: Message::new(
            format!(
                "cet appareil a déjà envoyé {count} photos qu'aucune réponse ne nomme encore : \
                 envoyez d'abord les réponses, les autres photos suivront"
            ),
            format!(
                "this device already sent {count} photos that no response names yet: send the \
                 responses first, the other photos will follow"
            ),
        ),
        retry_after: std::time::Duration::from_secs(60),
    })
}

/// `PUT /api/v1/attachments/sha256:{hex}` (device): stores the body under its SHA-256 after
/// checking it is the one named. 201 when stored, 200 when already held (nothing changes).
async fn put_attachment(
    State(state): State<AppState>,
    Device(device): Device,
    ApiPath(name): ApiPath<AttachmentName>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let media_type =
        attachment::media_type(headers.get(header::CONTENT_TYPE)).map_err(AppError::BadRequest)?;
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
        return Err(AppError::field_message(
            "",
            "hash_mismatch",
            Message::new(
                format!("le fichier reçu a pour empreinte {actual}, pas {name} : envoi corrompu ou mauvais nom"),
                format!("the file received hashes to {actual}, not {name}: corrupted upload or wrong name"),
            ),
        ));
    }
    within_quota(&state, device, &name, bytes.len()).await?;
    let created =
        db::insert_attachment(&state.pool, name.hex(), &media_type, &bytes, device).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let stored = AttachmentStored {
        name: name.to_string(),
        size: bytes.len() as u64,
        created,
    };
    Ok((status, Json(stored)).into_response())
}

/// `HEAD /api/v1/attachments/sha256:{hex}` (device, coordinator, analyst): 200 when held
/// (with its size and media type), 404 when not.
async fn head_attachment(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(name): ApiPath<AttachmentName>,
) -> Result<Response, AppError> {
    p.device()
        .or_else(|_| p.user(&[Role::Coordinator, Role::Analyst]))?;
    if matches!(
        p.owner,
        TokenOwner::User {
            role: Role::Analyst,
            ..
        }
    ) {
        closed_to_analysts(&state, &name).await?;
    }
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
/// type. Analysts only get photos that answer no personal question. Sandboxed (`Content-Security-Policy: sandbox`, `nosniff`): an uploaded file is
/// never run as a page of this origin, whatever type the phone declared.
async fn get_attachment(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(name): ApiPath<AttachmentName>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if role == Role::Analyst {
        closed_to_analysts(&state, &name).await?;
    }
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
