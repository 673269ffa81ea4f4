//! What the console's questionnaire builder asks of client-core, in the page: a document's
//! errors as one types (`checkQuestionnaire`), a draft parsed for the live preview
//! (`QuestionnaireDraft`: the model the phone's renderer draws, `visible`, `validate`, the
//! very calls the phone makes), and skip logic as picks (`conditionFromSchema`,
//! `conditionToSchema`, see `parole_client::condition`).

use parole_client::condition::Condition;
use parole_client::Questionnaire;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::client::{from_js, to_js};
use crate::error::ClientError;

/// The errors of a questionnaire document, by path (`[]` when it is valid).
#[wasm_bindgen(
    js_name = checkQuestionnaire,
    unchecked_return_type = "Array<{path: string, code: string, message: string, message_en: string}>"
)]
pub fn check_questionnaire(document: JsValue) -> Result<JsValue, JsValue> {
    let document: Value = from_js("document", &document)?;
    let errors = Questionnaire::parse(&document).err().unwrap_or_default();
    Ok(to_js(&errors)?)
}

/// A questionnaire document parsed in the page, for the builder's preview.
#[wasm_bindgen]
pub struct QuestionnaireDraft {
    model: Questionnaire,
}

#[wasm_bindgen]
impl QuestionnaireDraft {
    /// Parses `document`; throws (code `invalid_questionnaire`, the first error's message)
    /// when it is not a valid questionnaire (ask `checkQuestionnaire` for every error).
    #[wasm_bindgen(constructor)]
    pub fn new(document: JsValue) -> Result<QuestionnaireDraft, JsValue> {
        let document: Value = from_js("document", &document)?;
        let model = Questionnaire::parse(&document).map_err(|errors| {
            let first = errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| parole_client::i18n::Message::same("?"));
            ClientError::with_message("invalid_questionnaire", first)
        })?;
        Ok(QuestionnaireDraft { model })
    }

    /// The model the phone's renderer draws (what `ParoleClient.questionnaire()` gives as
    /// `model`).
    pub fn model(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.model)?)
    }

    /// The errors of `answers` (`[]` when valid).
    pub fn validate(&self, answers: JsValue) -> Result<JsValue, JsValue> {
        let answers: Value = from_js("answers", &answers)?;
        Ok(to_js(&self.model.validate(&answers))?)
    }

    /// The JSON pointers of the questions visible with `answers`.
    pub fn visible(&self, answers: JsValue) -> Result<JsValue, JsValue> {
        let answers: Value = from_js("answers", &answers)?;
        Ok(to_js(&self.model.visible(&answers))?)
    }
}

/// The picks an `x-visible-if` schema stands for (`{join, clauses: [{question, op, value}]}`),
/// or `null` when it is of another shape.
#[wasm_bindgen(js_name = conditionFromSchema)]
pub fn condition_from_schema(schema: JsValue) -> Result<JsValue, JsValue> {
    let schema: Value = from_js("schema", &schema)?;
    Ok(to_js(&Condition::from_schema(&schema))?)
}

/// The `x-visible-if` schema of picks, or `null` when they hold no clause.
#[wasm_bindgen(js_name = conditionToSchema)]
pub fn condition_to_schema(condition: JsValue) -> Result<JsValue, JsValue> {
    let condition: Condition = from_js("condition", &condition)?;
    Ok(to_js(&condition.to_schema())?)
}
