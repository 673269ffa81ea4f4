//! The API's one error type, [`AppError`], and [`ApiJson`], a JSON extractor whose
//! rejection is an `AppError` (so a malformed body gets the API's error format, with the line
//! and column).
//!
//! Every error body is a `parole_client::api::ErrorBody`: `{"error": "…", "errors": […]}`,
//! French first then English. Internal details (database errors…) are logged, never
//! returned.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parole_client::api::ErrorBody;
use parole_client::ValidationError;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::db::DbError;

/// An error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: valid credentials, wrong role.
    #[error("accès refusé : ce rôle ne permet pas cette action / forbidden: your role does not allow this")]
    Forbidden,
    /// 403: valid credentials, but this role may not have what it asked for (the message
    /// says why and what to ask instead).
    #[error("{0}")]
    ForbiddenBecause(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// 413, with the limits.
    #[error("lot trop gros : au plus {max_responses} réponses et {max_bytes} octets / batch too large: at most {max_responses} responses and {max_bytes} bytes")]
    TooLarge {
        max_responses: usize,
        max_bytes: usize,
    },
    /// 413 for one attachment, with the limit.
    #[error("fichier trop gros : au plus {max_bytes} octets ({mib} Mio) / file too large: at most {max_bytes} bytes ({mib} MiB)", mib = max_bytes / (1024 * 1024))]
    AttachmentTooLarge { max_bytes: usize },
    /// 422 with every error by path.
    #[error("{message}")]
    Invalid {
        message: String,
        errors: Vec<ValidationError>,
    },
    /// 500: logged, never detailed to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::ForbiddenBecause(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge { .. } | AppError::AttachmentTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(message: impl Into<String>, errors: Vec<ValidationError>) -> Self {
        AppError::Invalid {
            message: message.into(),
            errors,
        }
    }

    /// One field error as a 422.
    pub fn field(path: &str, code: &str, fr: &str, en: &str) -> Self {
        AppError::Invalid {
            message: format!("{fr} / {en}"),
            errors: vec![ValidationError {
                path: path.into(),
                code: code.into(),
                message: fr.into(),
                message_en: en.into(),
            }],
        }
    }

    pub fn not_found() -> Self {
        AppError::NotFound("introuvable / not found".into())
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::not_found(),
            DbError::Conflict(c) => {
                AppError::Conflict(format!("existe déjà / already exists ({c})"))
            }
            DbError::Other(e) => AppError::Internal(e.into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let (error, errors) = match self {
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                (
                    "erreur interne du serveur / internal server error".to_string(),
                    Vec::new(),
                )
            }
            AppError::TooLarge {
                max_responses,
                max_bytes,
            } => {
                let e = AppError::TooLarge {
                    max_responses,
                    max_bytes,
                };
                let body = json!({
                    "error": e.to_string(),
                    "max_responses": max_responses,
                    "max_bytes": max_bytes,
                });
                return (status, Json(body)).into_response();
            }
            e @ AppError::AttachmentTooLarge { max_bytes } => {
                let body = json!({"error": e.to_string(), "max_bytes": max_bytes});
                return (status, Json(body)).into_response();
            }
            AppError::Invalid { message, errors } => (message, errors),
            other => (other.to_string(), Vec::new()),
        };
        (status, Json(ErrorBody { error, errors })).into_response()
    }
}

/// Describes a JSON syntax error with its line and column, in French then English.
pub fn json_syntax_message(e: &serde_json::Error) -> String {
    format!(
        "JSON mal formé, ligne {line}, colonne {col} : {e} / malformed JSON at line {line}, column {col}: {e}",
        line = e.line(),
        col = e.column(),
    )
}

/// `Json<T>` with the API's own rejection: malformed JSON → 400 naming line and column;
/// well-formed JSON of the wrong shape → 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("corps illisible / unreadable body: {e}")))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(json_syntax_message(&e)))?;
        from_value_with_path(value)
            .map(ApiJson)
            .map_err(|e| AppError::Invalid {
                message: format!("{} / {}", e.message, e.message_en),
                errors: vec![e],
            })
    }
}

/// Deserialises a JSON value, naming the faulty field as a JSON pointer on failure.
pub fn from_value_with_path<T: DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut pointer = path_to_pointer(e.path());
        let inner = e.into_inner().to_string();
        let code = match inner.strip_prefix("missing field `") {
            Some(rest) => {
                pointer.push('/');
                pointer.push_str(rest.split('`').next().unwrap_or_default());
                "required"
            }
            None => "type",
        };
        ValidationError {
            message: format!(
                "champ {} : {inner}",
                if pointer.is_empty() {
                    "(racine)"
                } else {
                    &pointer
                }
            ),
            message_en: format!(
                "field {}: {inner}",
                if pointer.is_empty() {
                    "(root)"
                } else {
                    &pointer
                }
            ),
            path: pointer,
            code: code.into(),
        }
    })
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { variant } => {
                out.push('/');
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}
