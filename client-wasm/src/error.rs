//! The one error the JS API reports: a stable `code`, the message in French (`message`) and
//! in English (`message_en`). Thrown as a JS `Error` (see the crate's README), or carried in
//! `sync()`'s result.

use parole_client::api::ErrorBody;
use parole_client::i18n::Message;
use parole_client::outbox::{OutboxError, StorageError};
use parole_client::sync::{SyncError, TransportError};
use serde::Serialize;

/// An error for the interviewer, in both languages, with a machine code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientError {
    /// A stable code: see the README's table.
    pub code: String,
    /// In French (`message`) and in English (`message_en`).
    #[serde(flatten)]
    pub message: Message,
}

impl ClientError {
    pub fn new(code: &str, fr: impl Into<String>, en: impl Into<String>) -> Self {
        Self::with_message(code, Message::new(fr, en))
    }

    /// With a message made elsewhere (client-core's errors' `message()`, the server's
    /// [`ErrorBody::text`]).
    pub fn with_message(code: &str, message: Message) -> Self {
        Self {
            code: code.to_string(),
            message,
        }
    }

    pub fn bad_argument(what: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            "bad_argument",
            format!("argument invalide ({what}) : {why}"),
            format!("invalid argument ({what}): {why}"),
        )
    }

    pub fn not_enrolled() -> Self {
        Self::new(
            "not_enrolled",
            "Cet appareil n'est pas encore inscrit : saisissez le code d'inscription donné par votre coordinateur.",
            "This device is not enrolled yet: enter the enrolment code your coordinator gave you.",
        )
    }

    pub fn unknown_questionnaire(slug: &str, version: i32) -> Self {
        Self::new(
            "unknown_questionnaire",
            format!("Le questionnaire « {slug} » (version {version}) n'est pas sur cet appareil : mettez à jour la liste des questionnaires."),
            format!("Questionnaire \"{slug}\" (version {version}) is not on this device: update the questionnaire list."),
        )
    }

    /// A questionnaire the device holds but cannot read (the server checked it: a bug);
    /// `first`: the first thing wrong with it.
    pub fn bad_questionnaire(slug: &str, version: i32, first: Option<&Message>) -> Self {
        let why = first.cloned().unwrap_or_else(|| Message::same(""));
        Self::new(
            "bad_questionnaire",
            format!(
                "Le questionnaire « {slug} » (version {version}) est illisible : {}",
                why.fr
            ),
            format!(
                "Questionnaire \"{slug}\" (version {version}) cannot be read: {}",
                why.en
            ),
        )
    }

    /// The answer to an enrolment request that failed.
    pub fn enrol_failed(e: &TransportError) -> Self {
        match e {
            TransportError::Status { status, body } => {
                let server = serde_json::from_str::<ErrorBody>(body).ok();
                // A field error (e.g. the device name) has its own message.
                if let Some(err) = server.as_ref().and_then(|b| b.errors.first()) {
                    return Self::with_message("enrol_refused", err.message.clone());
                }
                match (status, server) {
                    (401 | 403 | 404 | 410, Some(b)) => Self::with_message("enrol_refused", b.text()),
                    (401 | 403 | 404 | 410, None) => Self::new(
                        "enrol_refused",
                        "Code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau à votre coordinateur.",
                        "Unknown, used or expired enrolment code: ask your coordinator for a new one.",
                    ),
                    _ => Self::from(e.clone()),
                }
            }
            other => Self::from(other.clone()),
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message.fr, self.code)
    }
}

impl From<StorageError> for ClientError {
    fn from(e: StorageError) -> Self {
        let code = match e {
            StorageError::Corrupt { .. } => "corrupt",
            _ => "storage",
        };
        Self::with_message(code, e.message())
    }
}

impl From<OutboxError> for ClientError {
    fn from(e: OutboxError) -> Self {
        let e = match e {
            OutboxError::Storage(s) => return s.into(),
            other => other,
        };
        let code = match &e {
            OutboxError::Invalid(_) => "invalid",
            OutboxError::NotFound(_) => "not_found",
            OutboxError::WrongState { .. } => "wrong_state",
            OutboxError::HashMismatch(_) => "hash_mismatch",
            OutboxError::Storage(_) => "storage", // returned above
        };
        Self::with_message(code, e.message())
    }
}

impl From<SyncError> for ClientError {
    fn from(e: SyncError) -> Self {
        let e = match e {
            SyncError::Storage(s) => return s.into(),
            SyncError::Outbox(o) => return o.into(),
            other => other,
        };
        // Client-core says it (a refusal with the server's own message, out of its error
        // body); only the code is the phone's.
        let code = match &e {
            SyncError::Refused { .. } => "refused",
            SyncError::Unreachable { .. } => "unreachable",
            // Unauthorized (the others were returned above).
            _ => "unauthorized",
        };
        Self::with_message(code, e.message())
    }
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        match &e {
            TransportError::Status { status: 401 | 403, .. } => Self::new(
                "unauthorized",
                "Cet appareil n'est plus autorisé : demandez un nouveau code d'inscription au coordinateur.",
                "This device is no longer authorised: ask the coordinator for a new enrolment code.",
            ),
            // The server's own message, out of its error body (the body is a snippet already:
            // see `fetch::Answer::status_error`).
            TransportError::Status { .. } => Self::with_message("http_status", e.message()),
            TransportError::Network(m) => Self::new(
                "network",
                format!("Réseau indisponible ({m}). Rien n'est perdu : réessayez plus tard."),
                format!("Network unavailable ({m}). Nothing is lost: try again later."),
            ),
            TransportError::BadBody(m) => Self::new(
                "bad_body",
                format!("Réponse illisible (portail captif ?) : {m}"),
                format!("Unreadable answer (captive portal?): {m}"),
            ),
            TransportError::Timeout => Self::new(
                "timeout",
                "Délai dépassé : le réseau est trop lent. Rien n'est perdu : réessayez plus tard.",
                "Timed out: the network is too slow. Nothing is lost: try again later.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_enrolment_code_gets_the_servers_french_message() {
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 401,
            body: r#"{"error":"code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau à votre coordinateur / unknown, used or expired enrolment code: ask your coordinator for a new one","message":"code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau à votre coordinateur","message_en":"unknown, used or expired enrolment code: ask your coordinator for a new one"}"#.into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert!(
            e.message.fr.starts_with("code d'inscription inconnu"),
            "{e:?}"
        );
        assert!(e.message.en.starts_with("unknown, used"), "{e:?}");
    }

    #[test]
    fn a_refused_enrolment_without_a_readable_body_still_says_what_to_do() {
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 401,
            body: "<html>".into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert!(e.message.fr.contains("coordinateur"));
    }

    #[test]
    fn a_bad_device_name_gets_its_field_message() {
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 422,
            body: r#"{"error":"x / y","errors":[{"path":"/device_name","code":"length","message":"le nom de l'appareil doit faire de 1 à 200 caractères","message_en":"the device name must be 1 to 200 characters"}]}"#.into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert_eq!(
            e.message.fr,
            "le nom de l'appareil doit faire de 1 à 200 caractères"
        );
    }

    #[test]
    fn an_enrolment_with_no_network_says_so() {
        let e = ClientError::enrol_failed(&TransportError::Network("Failed to fetch".into()));
        assert_eq!(e.code, "network");
        assert!(e.message.fr.contains("Réseau indisponible"));
    }

    #[test]
    fn an_unreachable_server_is_said_in_each_language_alone() {
        let e = ClientError::from(SyncError::Unreachable {
            attempts: 5,
            error: TransportError::Network("TypeError: Failed to fetch".into()),
        });
        assert_eq!(e.code, "unreachable");
        assert!(!e.message.fr.contains("network error"), "{e:?}");
        assert!(e.message.en.contains("(network error)"), "{e:?}");
        let e = ClientError::from(SyncError::Refused {
            error: TransportError::Status {
                status: 400,
                body: r#"{"error":"requête illisible / unreadable request","message":"requête illisible","message_en":"unreadable request"}"#.into(),
            },
            report: Default::default(),
        });
        assert_eq!(e.code, "refused");
        assert!(
            e.message
                .fr
                .contains("(le serveur a répondu 400 : requête illisible)"),
            "{e:?}"
        );
        assert!(
            e.message
                .en
                .contains("(the server answered 400: unreadable request)"),
            "{e:?}"
        );
        let e = ClientError::from(SyncError::Unauthorized {
            status: 401,
            report: Default::default(),
        });
        assert_eq!(e.code, "unauthorized");
    }

    #[test]
    fn storage_errors_are_said_in_both_languages() {
        let e = ClientError::from(StorageError::Backend("QuotaExceededError".into()));
        assert_eq!(e.code, "storage");
        assert_eq!(e.message.fr, "erreur du stockage : QuotaExceededError");
        assert_eq!(e.message.en, "storage error");
    }

    #[test]
    fn a_french_message_containing_a_slash_arrives_whole() {
        let body = r#"{"error":"a / b / c","message":"Âge / tranche requis","message_en":"Age bracket required"}"#;
        let e = ClientError::from(TransportError::Status {
            status: 422,
            body: body.into(),
        });
        assert_eq!(e.code, "http_status");
        assert_eq!(
            e.message.fr,
            "le serveur a répondu 422 : Âge / tranche requis"
        );
        assert_eq!(
            e.message.en,
            "the server answered 422: Age bracket required"
        );
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 404,
            body: body.into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert_eq!(e.message.fr, "Âge / tranche requis");
        assert_eq!(e.message.en, "Age bracket required");
        // A body without `message` / `message_en` (an older server) is kept whole in both.
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 404,
            body: r#"{"error":"code inconnu / unknown code"}"#.into(),
        });
        assert_eq!(e.message.fr, "code inconnu / unknown code");
        assert_eq!(e.message.en, "code inconnu / unknown code");
    }

    #[test]
    fn the_js_side_sees_code_message_and_message_en() {
        let e = ClientError::new("storage", "plein", "full");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "storage", "message": "plein", "message_en": "full"})
        );
    }
}
