//! Interviewers and their devices: creating an interviewer (with a one-time enrolment code),
//! a new code, a phone's enrolment (`POST /api/v1/enrol`, no account: the code is the
//! credential), the devices list and revoking a lost phone.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use parole_client::api::{
    CreateInterviewerRequest, CreatedInterviewer, DeviceList, DeviceSummary, EnrolRequest,
    EnrolResponse, EnrolmentCode, Interviewer, InterviewerList,
};
use parole_client::i18n::Message;
use uuid::Uuid;

use super::{not_locked_out, ApiJson, ApiPath, ClientAddress, Coordinator};
use crate::auth;
use crate::db;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
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
}

/// A name of 1 to 200 characters, trimmed; a 422 at `path` otherwise.
fn name_field<'a>(
    name: &'a str,
    path: &str,
    fr_what: &str,
    en_what: &str,
) -> Result<&'a str, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field(
            path,
            "length",
            &format!("{fr_what} doit faire de 1 à 200 caractères"),
            &format!("{en_what} must be 1 to 200 characters"),
        ));
    }
    Ok(name)
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
    ApiJson(req): ApiJson<CreateInterviewerRequest>,
) -> Result<(StatusCode, Json<CreatedInterviewer>), AppError> {
    let name = name_field(&req.name, "/name", "le nom", "the name")?;
    let id = db::insert_interviewer(&state.pool, name).await?;
    let enrolment_code = issue_code(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInterviewer {
            id,
            name: name.to_string(),
            enrolment_code,
        }),
    ))
}

async fn list_interviewers(
    State(state): State<AppState>,
    _: Coordinator,
) -> Result<Json<InterviewerList>, AppError> {
    let interviewers = db::list_interviewers(&state.pool)
        .await?
        .into_iter()
        .map(|i| Interviewer {
            id: i.id,
            name: i.name,
            created_at: i.created_at,
        })
        .collect();
    Ok(Json(InterviewerList { interviewers }))
}

async fn new_enrolment_code(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<EnrolmentCode>), AppError> {
    let enrolment_code = issue_code(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentCode { id, enrolment_code }),
    ))
}

/// Wrong codes lock out the client's address for a growing while (see
/// [`crate::throttle`]).
async fn enrol(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<(StatusCode, Json<EnrolResponse>), AppError> {
    not_locked_out(&state.throttles.enrol_address, &address)?;
    let device_name = name_field(
        &req.device_name,
        "/device_name",
        "le nom de l'appareil",
        "the device name",
    )?;
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
        state.throttles.enrol_address.fail(&address);
        AppError::Unauthorized(Message::new(
            "code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau \
             à votre coordinateur",
            "unknown, used or expired enrolment code: ask your coordinator for a new one",
        ))
    })?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolResponse { device_id, token }),
    ))
}

async fn list_devices(
    State(state): State<AppState>,
    _: Coordinator,
) -> Result<Json<DeviceList>, AppError> {
    let devices = db::list_devices(&state.pool)
        .await?
        .into_iter()
        .map(|d| DeviceSummary {
            id: d.id,
            name: d.name,
            interviewer_id: d.interviewer_id,
            interviewer_name: d.interviewer_name,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
            last_sync_at: d.last_sync_at,
            // Written by the server from a parsed `DeviceState`: it reads back.
            device_state: d.device_state.and_then(|v| serde_json::from_value(v).ok()),
        })
        .collect();
    Ok(Json(DeviceList { devices }))
}

async fn revoke_device(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, AppError> {
    db::revoke_device(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
