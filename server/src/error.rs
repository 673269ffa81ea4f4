//! The API's one error type, [`AppError`]: each variant is an HTTP status, each message a
//! [`Message`] in French and English.
//!
//! Every error body is a `parole_client::api::ErrorBody`:
//! `{"error": "français / English", "message": "français", "message_en": "English",
//! "errors": [{"path", "code", "message", "message_en"}…]}`. Internal details (database
//! errors…) are logged, never returned. Domain code returns its own errors; the `From`
//! impls here are where they become statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parole_client::api::{ErrorBody, XlsformIssue, XlsformRefusal};
use parole_client::i18n::Message;
use parole_client::ValidationError;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::db::DbError;

/// An error the API returns. Every message is a [`Message`]: French and English travel
/// together to the body, where they become `message` / `message_en` (and the joined
/// `error`, for clients that read one string).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be read.
    #[error("{0}")]
    BadRequest(Message),
    /// 401: no valid credentials.
    #[error("{0}")]
    Unauthorized(Message),
    /// 403: valid credentials, wrong role.
    #[error("accès refusé : ce rôle ne permet pas cette action / forbidden: your role does not allow this")]
    Forbidden,
    /// 403: valid credentials, but this role may not have what it asked for (the message
    /// says why and what to ask instead).
    #[error("{0}")]
    ForbiddenBecause(Message),
    #[error("{0}")]
    NotFound(Message),
    #[error("{0}")]
    Conflict(Message),
    /// 409 that a client acts on: see [`CodedConflict`].
    #[error("{}", .0.message)]
    ConflictWith(Box<CodedConflict>),
    /// 413, with the limits.
    #[error("lot trop gros : au plus {max_responses} réponses et {max_bytes} octets / batch too large: at most {max_responses} responses and {max_bytes} bytes")]
    TooLarge {
        max_responses: usize,
        max_bytes: usize,
    },
    /// 413 for one attachment, with the limit.
    #[error("fichier trop gros : au plus {max_bytes} octets ({mib} Mio) / file too large: at most {max_bytes} bytes ({mib} MiB)", mib = max_bytes / (1024 * 1024))]
    AttachmentTooLarge { max_bytes: usize },
    /// 429: too many failed attempts; try again after `retry_after`.
    #[error("trop de tentatives / too many attempts")]
    TooManyAttempts { retry_after: std::time::Duration },
    /// 429: a quota is reached for now (the message says which and what to do first).
    #[error("{message}")]
    QuotaExceeded {
        message: Message,
        retry_after: std::time::Duration,
    },
    /// 503: too busy for now (every database connection in use, or the exports' share of
    /// them); try again after `retry_after`.
    #[error("{message}")]
    Busy {
        message: Message,
        retry_after: std::time::Duration,
    },
    /// 422 with every error by path.
    #[error("{message}")]
    Invalid {
        message: Message,
        errors: Vec<ValidationError>,
    },
    /// 415: a body of a type the route does not take (the message says which it takes).
    #[error("{0}")]
    UnsupportedMediaType(Message),
    /// 422: a workbook that cannot become a questionnaire, every reason by sheet, row and
    /// column (`errors` are `XlsformIssue`s, not errors by path).
    #[error("{message}")]
    WorkbookRefused {
        message: Message,
        errors: Vec<XlsformIssue>,
    },
    /// 500: logged, never detailed to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A 409 that a client acts on: a `code` saying which conflict (`draft_conflict`,
/// `breaking_change`), the items at stake by path, and what the client needs to resolve it
/// (`details`' fields, merged into the body).
#[derive(Debug)]
pub struct CodedConflict {
    pub code: &'static str,
    pub message: Message,
    pub errors: Vec<ValidationError>,
    pub details: Option<Value>,
}

impl AppError {
    /// A 409 with a code, the items at stake, and `details` merged into the body.
    pub fn conflict_with(
        code: &'static str,
        message: Message,
        errors: Vec<ValidationError>,
        details: Option<Value>,
    ) -> Self {
        AppError::ConflictWith(Box::new(CodedConflict {
            code,
            message,
            errors,
            details,
        }))
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::ForbiddenBecause(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::ConflictWith(_) => StatusCode::CONFLICT,
            AppError::TooLarge { .. } | AppError::AttachmentTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::Invalid { .. } | AppError::WorkbookRefused { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyAttempts { .. } | AppError::QuotaExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message the client gets (an internal error's details are not in it).
    pub fn message(&self) -> Message {
        match self {
            AppError::BadRequest(m)
            | AppError::Unauthorized(m)
            | AppError::ForbiddenBecause(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::Invalid { message: m, .. }
            | AppError::WorkbookRefused { message: m, .. }
            | AppError::Busy { message: m, .. }
            | AppError::QuotaExceeded { message: m, .. } => m.clone(),
            AppError::ConflictWith(c) => c.message.clone(),
            AppError::Forbidden => Message::new(
                "accès refusé : ce rôle ne permet pas cette action",
                "forbidden: your role does not allow this",
            ),
            AppError::TooLarge {
                max_responses,
                max_bytes,
            } => Message::new(
                format!("lot trop gros : au plus {max_responses} réponses et {max_bytes} octets"),
                format!("batch too large: at most {max_responses} responses and {max_bytes} bytes"),
            ),
            AppError::AttachmentTooLarge { max_bytes } => {
                let mib = max_bytes / (1024 * 1024);
                Message::new(
                    format!("fichier trop gros : au plus {max_bytes} octets ({mib} Mio)"),
                    format!("file too large: at most {max_bytes} bytes ({mib} MiB)"),
                )
            }
            AppError::TooManyAttempts { retry_after } => {
                let s = retry_seconds(*retry_after);
                Message::new(
                    format!("trop de tentatives manquées : réessayez dans {s} s"),
                    format!("too many failed attempts: try again in {s} s"),
                )
            }
            AppError::Internal(_) => {
                Message::new("erreur interne du serveur", "internal server error")
            }
        }
    }

    /// A 422 with every error by path.
    pub fn invalid(message: Message, errors: Vec<ValidationError>) -> Self {
        AppError::Invalid { message, errors }
    }

    /// One error by path as a 422, its message the error's own.
    pub fn one_invalid(error: ValidationError) -> Self {
        AppError::Invalid {
            message: error.message.clone(),
            errors: vec![error],
        }
    }

    /// One field error as a 422.
    pub fn field(path: &str, code: &str, fr: &str, en: &str) -> Self {
        Self::field_message(path, code, Message::new(fr, en))
    }

    /// One field error as a 422.
    pub fn field_message(path: &str, code: &str, message: Message) -> Self {
        Self::one_invalid(ValidationError::new(path, code, message))
    }

    /// The database's connections are all in use: try again shortly.
    pub fn busy() -> Self {
        AppError::Busy {
            message: Message::new(
                "le serveur est très occupé : réessayez dans quelques secondes (rien n'est perdu)",
                "the server is very busy: try again in a few seconds (nothing is lost)",
            ),
            retry_after: std::time::Duration::from_secs(5),
        }
    }

    /// The database cannot be reached for now (restarting, stopped): try again shortly.
    pub fn unavailable() -> Self {
        AppError::Busy {
            message: Message::new(
                "la base de données est momentanément indisponible : réessayez dans quelques secondes (rien n'est perdu)",
                "the database is unavailable for a moment: try again in a few seconds (nothing is lost)",
            ),
            retry_after: std::time::Duration::from_secs(5),
        }
    }

    pub fn not_found() -> Self {
        AppError::NotFound(Message::new("introuvable", "not found"))
    }

    pub fn bad_request(fr: impl Into<String>, en: impl Into<String>) -> Self {
        AppError::BadRequest(Message::new(fr, en))
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::not_found(),
            DbError::Conflict(c) => AppError::Conflict(Message::new(
                format!("existe déjà ({c})"),
                format!("already exists ({c})"),
            )),
            DbError::Busy => {
                crate::metrics::METRICS.pool_timed_out();
                AppError::busy()
            }
            DbError::Unavailable => AppError::unavailable(),
            DbError::Other(e) => AppError::Internal(e.into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let message = self.message();
        let retry_after = match &self {
            AppError::TooManyAttempts { retry_after }
            | AppError::Busy { retry_after, .. }
            | AppError::QuotaExceeded { retry_after, .. } => Some(retry_seconds(*retry_after)),
            _ => None,
        };
        if let AppError::WorkbookRefused { errors, .. } = self {
            let body = XlsformRefusal {
                error: message.joined(),
                message,
                errors,
            };
            return (status, Json(body)).into_response();
        }
        let mut code = None;
        let (errors, limits) = match self {
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                (Vec::new(), None)
            }
            AppError::Invalid { errors, .. } => (errors, None),
            AppError::ConflictWith(c) => {
                code = Some(c.code.to_string());
                (c.errors, c.details)
            }
            // The limits, for the client to split or shrink what it sends.
            AppError::TooLarge {
                max_responses,
                max_bytes,
            } => (
                Vec::new(),
                Some(json!({"max_responses": max_responses, "max_bytes": max_bytes})),
            ),
            AppError::AttachmentTooLarge { max_bytes } => {
                (Vec::new(), Some(json!({"max_bytes": max_bytes})))
            }
            _ => (Vec::new(), None),
        };
        let mut body = ErrorBody::new(message, errors);
        body.code = code;
        if let Some(seconds) = retry_after {
            let seconds = seconds.to_string();
            return (status, [(header::RETRY_AFTER, seconds)], Json(body)).into_response();
        }
        let Some(Value::Object(limits)) = limits else {
            return (status, Json(body)).into_response();
        };
        let mut value = serde_json::to_value(&body).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut value {
            map.extend(limits);
        }
        (status, Json(value)).into_response()
    }
}

/// Whole seconds to wait, at least 1 (`Retry-After` takes whole seconds).
fn retry_seconds(d: std::time::Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

/// A JSON syntax error with its line and column, as a 400.
pub fn json_syntax_error(e: &serde_json::Error) -> AppError {
    AppError::BadRequest(json_syntax_message(e))
}

/// What is wrong with malformed JSON: its line and column, in both languages.
pub fn json_syntax_message(e: &serde_json::Error) -> Message {
    let (line, col) = (e.line(), e.column());
    Message::new(
        format!("JSON mal formé, ligne {line}, colonne {col} : {e}"),
        format!("malformed JSON at line {line}, column {col}: {e}"),
    )
}

/// Refuses a request body holding a NUL character (U+0000) in any string or key: PostgreSQL
/// cannot store one, and it is never meant. A 422 naming each place.
pub fn refuse_nul_characters(value: &serde_json::Value) -> Result<(), AppError> {
    let mut paths = Vec::new();
    parole_client::validate::nul_characters(value, "", &mut paths);
    if paths.is_empty() {
        return Ok(());
    }
    let errors: Vec<ValidationError> = paths
        .into_iter()
        .map(|path| {
            ValidationError::new(
                path,
                "nul_character",
                Message::new(
                    "ce champ contient un caractère nul (U+0000), que le serveur ne peut pas \
                     enregistrer : retirez-le",
                    "this field contains a NUL character (U+0000), which the server cannot \
                     store: remove it",
                ),
            )
        })
        .collect();
    Err(match errors.len() {
        1 => AppError::one_invalid(errors.into_iter().next().expect("one")),
        n => AppError::invalid(
            Message::new(
                format!("{n} champs contiennent un caractère nul (U+0000)"),
                format!("{n} fields contain a NUL character (U+0000)"),
            ),
            errors,
        ),
    })
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
        let (fr_at, en_at) = if pointer.is_empty() {
            ("(racine)", "(root)")
        } else {
            (pointer.as_str(), pointer.as_str())
        };
        let message = Message::new(
            format!("champ {fr_at} : {inner}"),
            format!("field {en_at}: {inner}"),
        );
        ValidationError::new(pointer, code, message)
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
