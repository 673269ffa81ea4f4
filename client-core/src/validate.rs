//! Validation of a response's answers against a questionnaire, exactly as the format says:
//! (1) evaluate each `x-visible-if`; (2) refuse answers to hidden questions; (3) validate
//! against the schema in which conditionally shown questions are required only where visible.

use serde::{Deserialize, Serialize};

/// One thing wrong with a response's answers, or with a questionnaire document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    /// A JSON pointer to what is wrong (`/cadre_de_vie/logement`, `""` for the whole).
    pub path: String,
    /// A stable machine code (`required`, `hidden`, `type`, `enum`, `format`, …).
    pub code: String,
    /// The message in French.
    pub message: String,
    /// The message in English.
    pub message_en: String,
}
