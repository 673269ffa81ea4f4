//! `POST /api/v1/xlsform` (coordinator): an XLSForm workbook, the request's body, converted
//! to a questionnaire document with the report of what was not converted
//! ([`crate::xlsform`]). Nothing is saved: the coordinator reads the warnings, then creates
//! the questionnaire with the document (`POST /api/v1/questionnaires`).

use axum::body::Body;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use parole_client::api::{XlsformReport, MAX_XLSFORM_BYTES, XLSX_MEDIA_TYPE};
use parole_client::i18n::{shown, Message};

use super::{read_body, Coordinator};
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/xlsform", post(import))
}

/// The body must say it is an .xlsx workbook (parameters aside, any case).
fn is_xlsx(headers: &HeaderMap) -> Result<(), AppError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string());
    let essence = given
        .as_deref()
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    if essence.as_deref() == Some(XLSX_MEDIA_TYPE) {
        return Ok(());
    }
    let (fr_given, en_given) = match &given {
        Some(t) => (format!("« {} »", shown(t)), format!("`{}`", shown(t))),
        None => ("aucun".to_string(), "none".to_string()),
    };
    Err(AppError::UnsupportedMediaType(Message::new(
        format!("le corps doit être un classeur .xlsx (Content-Type: {XLSX_MEDIA_TYPE}), pas {fr_given}"),
        format!("the body must be an .xlsx workbook (Content-Type: {XLSX_MEDIA_TYPE}), not {en_given}"),
    )))
}

/// `POST /api/v1/xlsform`: 200 with the document and its warnings, 422 with the reasons
/// the workbook cannot become a questionnaire, 413 past [`MAX_XLSFORM_BYTES`], 415 for
/// another content type.
async fn import(
    _: Coordinator,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<XlsformReport>, AppError> {
    is_xlsx(&headers)?;
    let bytes = read_body(&headers, body, MAX_XLSFORM_BYTES, || {
        AppError::AttachmentTooLarge {
            max_bytes: MAX_XLSFORM_BYTES,
        }
    })
    .await?;
    // Unzipping and converting thousands of rows: off the async threads.
    let converted = tokio::task::spawn_blocking(move || crate::xlsform::convert(&bytes))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    converted.map(Json).map_err(|errors| {
        let n = errors.len();
        AppError::WorkbookRefused {
            message: Message::new(
                format!("ce classeur ne peut pas devenir un questionnaire ({n} raison(s))"),
                format!("this workbook cannot become a questionnaire ({n} reason(s))"),
            ),
            errors,
        }
    })
}
