//! The one error the JS API reports: a stable `code`, the message in French (`message`) and
//! in English (`message_en`). Thrown as a JS `Error` (see the crate's README), or carried in
//! `sync()`'s result.

use parole_client::api::ErrorBody;
use parole_client::outbox::{OutboxError, StorageError};
use parole_client::sync::{SyncError, TransportError};
use serde::Serialize;

use crate::util::{snippet, split_bilingual};

/// An error for the interviewer, in both languages, with a machine code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientError {
    /// A stable code: see the README's table.
    pub code: String,
    /// In French.
    pub message: String,
    /// In English.
    pub message_en: String,
}

impl ClientError {
    pub fn new(code: &str, fr: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: fr.into(),
            message_en: en.into(),
        }
    }

    /// From a bilingual `"fr / en"` text, such as client-core's error messages.
    pub fn bilingual(code: &str, text: &str) -> Self {
        let (fr, en) = split_bilingual(text);
        Self::new(code, fr, en)
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

    /// A questionnaire the device holds but cannot read (the server checked it: a bug).
    pub fn bad_questionnaire(slug: &str, version: i32, first: Option<&str>) -> Self {
        let why = first.unwrap_or_default();
        Self::new(
            "bad_questionnaire",
            format!("Le questionnaire « {slug} » (version {version}) est illisible : {why}"),
            format!("Questionnaire \"{slug}\" (version {version}) cannot be read: {why}"),
        )
    }

    /// The answer to an enrolment request that failed.
    pub fn enrol_failed(e: &TransportError) -> Self {
        match e {
            TransportError::Status { status, body } => {
                let server = serde_json::from_str::<ErrorBody>(body).ok();
                // A field error (e.g. the device name) has its own bilingual message.
                if let Some(err) = server.as_ref().and_then(|b| b.errors.first()) {
                    return Self::new("enrol_refused", &err.message, &err.message_en);
                }
                match (status, server) {
                    (401 | 403 | 404 | 410, Some(b)) => Self::bilingual("enrol_refused", &b.error),
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
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<StorageError> for ClientError {
    fn from(e: StorageError) -> Self {
        let code = match e {
            StorageError::Corrupt { .. } => "corrupt",
            _ => "storage",
        };
        Self::bilingual(code, &e.to_string())
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
        Self::bilingual(code, &e.to_string())
    }
}

impl From<SyncError> for ClientError {
    fn from(e: SyncError) -> Self {
        let e = match e {
            SyncError::Storage(s) => return s.into(),
            SyncError::Outbox(o) => return o.into(),
            other => other,
        };
        match e {
            SyncError::Refused { error, .. } => {
                // The server's own message, out of its error body.
                let why = ClientError::from(error);
                Self::new(
                    "refused",
                    format!("Le serveur refuse la requête ({}). Rien n'est perdu : les réponses restent en file.", why.message),
                    format!("The server refuses the request ({}). Nothing is lost: the responses stay queued.", why.message_en),
                )
            }
            SyncError::Unreachable { attempts, error } => {
                let (fr, en) = split_bilingual(&error.to_string());
                Self::new(
                    "unreachable",
                    format!("Serveur injoignable après {attempts} tentative(s) ({fr}). Rien n'est perdu : réessayez plus tard."),
                    format!("Server unreachable after {attempts} attempt(s) ({en}). Nothing is lost: try again later."),
                )
            }
            other => {
                // Unauthorized (the others were returned above).
                let m = other.message();
                Self::new("unauthorized", m.fr, m.en)
            }
        }
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
            TransportError::Status { status, body } => {
                let text = serde_json::from_str::<ErrorBody>(body)
                    .map(|b| b.error)
                    .unwrap_or_else(|_| snippet(body.as_bytes()));
                let (fr, en) = split_bilingual(&text);
                Self::new(
                    "http_status",
                    format!("le serveur a répondu {status} : {fr}"),
                    format!("the server answered {status}: {en}"),
                )
            }
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
            body: r#"{"error":"code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau à votre coordinateur / unknown, used or expired enrolment code: ask your coordinator for a new one"}"#.into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert!(e.message.starts_with("code d'inscription inconnu"), "{e:?}");
        assert!(e.message_en.starts_with("unknown, used"), "{e:?}");
    }

    #[test]
    fn a_refused_enrolment_without_a_readable_body_still_says_what_to_do() {
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 401,
            body: "<html>".into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert!(e.message.contains("coordinateur"));
    }

    #[test]
    fn a_bad_device_name_gets_its_field_message() {
        let e = ClientError::enrol_failed(&TransportError::Status {
            status: 422,
            body: r#"{"error":"x / y","errors":[{"path":"/device_name","code":"length","message":"le nom de l'appareil doit faire de 1 à 200 caractères","message_en":"the device name must be 1 to 200 characters"}]}"#.into(),
        });
        assert_eq!(e.code, "enrol_refused");
        assert_eq!(
            e.message,
            "le nom de l'appareil doit faire de 1 à 200 caractères"
        );
    }

    #[test]
    fn an_enrolment_with_no_network_says_so() {
        let e = ClientError::enrol_failed(&TransportError::Network("Failed to fetch".into()));
        assert_eq!(e.code, "network");
        assert!(e.message.contains("Réseau indisponible"));
    }

    #[test]
    fn an_unreachable_server_is_said_in_each_language_alone() {
        let e = ClientError::from(SyncError::Unreachable {
            attempts: 5,
            error: TransportError::Network("TypeError: Failed to fetch".into()),
        });
        assert_eq!(e.code, "unreachable");
        assert!(!e.message.contains("network error"), "{e:?}");
        assert!(e.message_en.contains("(network error)"), "{e:?}");
        let e = ClientError::from(SyncError::Refused {
            error: TransportError::Status {
                status: 400,
                body: r#"{"error":"requête illisible / unreadable request"}"#.into(),
            },
            report: Default::default(),
        });
        assert_eq!(e.code, "refused");
        assert!(
            e.message
                .contains("(le serveur a répondu 400 : requête illisible)"),
            "{e:?}"
        );
        assert!(
            e.message_en
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
    fn storage_errors_are_split_into_both_languages() {
        let e = ClientError::from(StorageError::Backend("QuotaExceededError".into()));
        assert_eq!(e.code, "storage");
        assert_eq!(e.message, "erreur du stockage : QuotaExceededError");
        assert_eq!(e.message_en, "storage error");
    }
}
