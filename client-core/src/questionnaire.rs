//! The questionnaire model. STUB: being written.
use serde_json::Value;

use crate::validate::ValidationError;

#[derive(Debug)]
pub struct Questionnaire {
    pub title: String,
    pub document: Value,
}

impl Questionnaire {
    /// Parses a questionnaire document, refusing a broken one with every error by path.
    pub fn parse(document: &Value) -> Result<Questionnaire, Vec<ValidationError>> {
        Ok(Questionnaire {
            title: document["title"].as_str().unwrap_or_default().to_string(),
            document: document.clone(),
        })
    }

    /// Validates a response's answers; empty when valid.
    pub fn validate(&self, _answers: &Value) -> Vec<ValidationError> {
        Vec::new()
    }
}
