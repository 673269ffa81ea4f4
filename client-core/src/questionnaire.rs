//! The questionnaire model.
//!
//! A questionnaire is one JSON Schema (draft 2020-12) document with a few `x-` annotations
//! (the format is in `questionnaire-format.md`). [`Questionnaire::parse`] checks a document in
//! two passes, and refuses a broken one with **every** error, each naming its place in the
//! document by a JSON pointer:
//!
//! 1. the format's meta-schema (`schemas/questionnaire-format.schema.json`, embedded), which
//!    says structurally what a questionnaire looks like;
//! 2. the checks a schema cannot express: `required` names an existing question and no note,
//!    `x-visible-if` is itself a valid JSON Schema, `x-i18n` only uses declared languages, …
//!
//! It then builds the typed model the renderers use (questions in the order they are asked,
//! with their labels in every language) and compiles, once, every validator that
//! [`Questionnaire::validate`] needs. A `Questionnaire` is `Send + Sync`: the server keeps
//! one per published version in an `Arc`.
//!
//! ```
//! use parole_client::Questionnaire;
//! use serde_json::json;
//!
//! let q = Questionnaire::parse(&json!({
//!     "$schema": "https://json-schema.org/draft/2020-12/schema",
//!     "title": "Exemple",
//!     "type": "object",
//!     "properties": {"age": {"type": "integer", "title": "Votre âge ?", "minimum": 0}},
//!     "required": ["age"],
//!     "additionalProperties": false
//! }))
//! .unwrap();
//! assert_eq!(q.columns()[0].name, "age");
//! assert!(q.validate(&json!({"age": 42})).is_empty());
//! assert_eq!(q.validate(&json!({}))[0].path, "/age");
//! ```

pub(crate) mod check;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::Engine;
use crate::validate::{Compiled, ValidationError};

/// A parsed, checked questionnaire, with its validators compiled.
#[derive(Debug, Clone, Serialize)]
pub struct Questionnaire {
    /// The title in the default language.
    pub title: String,
    /// The description in the default language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The languages the labels exist in, default first (`["fr"]` when the document says
    /// nothing).
    pub languages: Vec<String>,
    /// The title and description in the other languages, by language.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub i18n: BTreeMap<String, Labels>,
    /// The questions, in the order they are asked.
    pub questions: Vec<Question>,
    /// The document as given. Not serialized: whoever has the model already has it.
    #[serde(skip)]
    pub document: Value,
    #[serde(skip)]
    pub(crate) compiled: Arc<Compiled>,
}

/// What a question asks for, from its `type`, `x-widget`, `oneOf` and `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    ShortText,
    LongText,
    Integer,
    Number,
    Boolean,
    SingleChoice,
    MultipleChoice,
    Likert,
    Date,
    Time,
    DateTime,
    Geopoint,
    Photo,
    Note,
    Section,
    Repeat,
}

/// Labels in one language other than the default (`x-i18n.LANG`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Labels {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Choice labels by choice value (the value as a string: `"4"` for the integer 4).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub choices: BTreeMap<String, String>,
}

/// One choice of a single choice, multiple choice or Likert question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// The answer's value (`const`): a string, or an integer for a Likert scale.
    pub value: Value,
    /// The label in the default language.
    pub title: String,
    /// The label in other languages, by language.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub i18n: BTreeMap<String, String>,
}

/// One question (or note, section, repeat).
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    /// The key in its parent's `properties`.
    pub key: String,
    /// The JSON pointer of the answer (`/cadre_de_vie/logement`). Inside a repeat, the item
    /// index is written `-`: `/formations_suivies/-/date`.
    pub pointer: String,
    pub kind: QuestionKind,
    /// The question as asked, in the default language.
    pub title: String,
    /// The help shown under it, in the default language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Labels in the other languages, by language.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub i18n: BTreeMap<String, Labels>,
    /// The choices, for single / multiple choice and Likert questions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// `x-visible-if`: the question is shown only while the answers validate against it
    /// (the whole answers object, or the repeat item for a question inside a repeat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<Value>,
    /// `x-personal-data`: the answer identifies the respondent.
    pub personal_data: bool,
    /// Named in its parent's `required` (so required whenever visible).
    pub required: bool,
    /// The questions of a section, or of one item of a repeat.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Question>,
    /// `x-widget`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widget: Option<String>,
    /// The question's schema as written (limits such as `maxLength`, `minimum`, `pattern`).
    pub schema: Value,
}

/// One column of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// `question`, or `section.question` inside a section.
    pub name: String,
    /// The JSON pointer of the answer.
    pub pointer: String,
    pub kind: QuestionKind,
    /// The answer identifies the respondent (the question's or an enclosing section's mark).
    pub personal_data: bool,
}

impl Questionnaire {
    /// Parses a questionnaire document, refusing a broken one with every error by path.
    pub fn parse(document: &Value) -> Result<Questionnaire, Vec<ValidationError>> {
        Self::parse_with(document, Engine::default())
    }

    /// [`parse`](Self::parse), validating answers with the given engine (the tests compare
    /// the compact validator with `jsonschema` on the same questionnaire).
    pub fn parse_with(
        document: &Value,
        engine: Engine,
    ) -> Result<Questionnaire, Vec<ValidationError>> {
        check::check(document)?;
        let root = document.as_object().expect("checked: an object");
        let languages = match root.get("x-languages").and_then(Value::as_array) {
            Some(langs) => langs
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            None => vec!["fr".to_string()],
        };
        let questions = build_questions(root, "", false);
        let compiled = Compiled::new(document, &questions, engine)?;
        Ok(Questionnaire {
            title: str_of(root, "title").unwrap_or_default(),
            description: str_of(root, "description"),
            languages,
            i18n: labels_of(root),
            questions,
            document: document.clone(),
            compiled: Arc::new(compiled),
        })
    }

    /// The default language (the first of [`languages`](Self::languages)).
    pub fn default_language(&self) -> &str {
        self.languages.first().map(String::as_str).unwrap_or("fr")
    }

    /// The title in `lang`, or in the default language when it has none there.
    pub fn title_in(&self, lang: &str) -> &str {
        self.i18n
            .get(lang)
            .and_then(|l| l.title.as_deref())
            .unwrap_or(&self.title)
    }

    /// The question answered at `pointer`: `/quartier`, `/cadre_de_vie/logement`, or inside
    /// a repeat `/formations_suivies/0/date` (any item index, or `-`).
    pub fn get(&self, pointer: &str) -> Option<&Question> {
        let mut list = &self.questions;
        let mut found: Option<&Question> = None;
        let mut tokens = split_pointer(pointer)?.into_iter();
        while let Some(token) = tokens.next() {
            let q = list.iter().find(|q| q.key == token)?;
            if q.kind == QuestionKind::Repeat {
                if let Some(index) = tokens.next() {
                    if index != "-" && index.parse::<usize>().is_err() {
                        return None;
                    }
                }
            }
            list = &q.children;
            found = Some(q);
        }
        found
    }

    /// Every question, depth first in document order (sections and repeats before their
    /// children).
    pub fn all_questions(&self) -> Vec<&Question> {
        fn walk<'a>(qs: &'a [Question], out: &mut Vec<&'a Question>) {
            for q in qs {
                out.push(q);
                walk(&q.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.questions, &mut out);
        out
    }

    /// The export columns, in order: one per question that takes an answer, sections
    /// flattened as `section.question`, a repeat as one column (its items, as JSON). Notes
    /// have no column.
    pub fn columns(&self) -> Vec<Column> {
        fn walk(qs: &[Question], prefix: &str, personal: bool, out: &mut Vec<Column>) {
            for q in qs {
                let name = if prefix.is_empty() {
                    q.key.clone()
                } else {
                    format!("{prefix}.{}", q.key)
                };
                let personal_data = personal || q.personal_data;
                match q.kind {
                    QuestionKind::Note => {}
                    QuestionKind::Section => walk(&q.children, &name, personal_data, out),
                    _ => out.push(Column {
                        name,
                        pointer: q.pointer.clone(),
                        kind: q.kind,
                        personal_data,
                    }),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.questions, "", false, &mut out);
        out
    }
}

impl Question {
    /// The question as asked in `lang`, or in the default language when it has no label
    /// there.
    pub fn label(&self, lang: &str) -> &str {
        self.i18n
            .get(lang)
            .and_then(|l| l.title.as_deref())
            .unwrap_or(&self.title)
    }

    /// The help text in `lang`, falling back to the default language.
    pub fn help(&self, lang: &str) -> Option<&str> {
        self.i18n
            .get(lang)
            .and_then(|l| l.description.as_deref())
            .or(self.description.as_deref())
    }

    /// The choice whose value is `value`.
    pub fn choice(&self, value: &Value) -> Option<&Choice> {
        self.choices.iter().find(|c| &c.value == value)
    }

    /// Whether the question takes an answer (everything but a note).
    pub fn is_answerable(&self) -> bool {
        self.kind != QuestionKind::Note
    }
}

impl Choice {
    /// The label in `lang`, or in the default language.
    pub fn label(&self, lang: &str) -> &str {
        self.i18n
            .get(lang)
            .map(String::as_str)
            .unwrap_or(&self.title)
    }
}

/// The text of a choice value as used in `x-i18n.*.choices` (`"4"` for the integer 4).
pub(crate) fn choice_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Appends one reference token to a JSON pointer, escaping `~` and `/`.
pub(crate) fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// The unescaped reference tokens of a JSON pointer; `None` if it is not one.
pub(crate) fn split_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

fn str_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(String::from)
}

fn labels_of(obj: &Map<String, Value>) -> BTreeMap<String, Labels> {
    let Some(i18n) = obj.get("x-i18n").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    i18n.iter()
        .filter_map(|(lang, labels)| {
            let labels = labels.as_object()?;
            let choices = labels
                .get("choices")
                .and_then(Value::as_object)
                .map(|c| {
                    c.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            Some((
                lang.clone(),
                Labels {
                    title: str_of(labels, "title"),
                    description: str_of(labels, "description"),
                    choices,
                },
            ))
        })
        .collect()
}

/// The questions of a container (the root, a section, a repeat's item schema).
fn build_questions(
    container: &Map<String, Value>,
    pointer: &str,
    in_repeat: bool,
) -> Vec<Question> {
    let required: Vec<&str> = container
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = container.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .filter_map(|(key, schema)| {
            let obj = schema.as_object()?;
            let pointer = push_token(pointer, key);
            Some(build_question(
                key,
                obj,
                pointer,
                required.contains(&key.as_str()),
                in_repeat,
            ))
        })
        .collect()
}

fn build_question(
    key: &str,
    obj: &Map<String, Value>,
    pointer: String,
    required: bool,
    in_repeat: bool,
) -> Question {
    let kind = kind_of(obj);
    let i18n = labels_of(obj);
    let choice_list = match kind {
        QuestionKind::MultipleChoice => obj.get("items").and_then(|i| i.get("oneOf")),
        _ => obj.get("oneOf"),
    };
    let choices = choice_list
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let value = c.get("const")?.clone();
                    let k = choice_key(&value);
                    Some(Choice {
                        title: c
                            .get("title")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        i18n: i18n
                            .iter()
                            .filter_map(|(lang, l)| {
                                Some((lang.clone(), l.choices.get(&k)?.clone()))
                            })
                            .collect(),
                        value,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let children = match kind {
        QuestionKind::Section => build_questions(obj, &pointer, in_repeat),
        QuestionKind::Repeat => obj
            .get("items")
            .and_then(Value::as_object)
            .map(|item| build_questions(item, &format!("{pointer}/-"), true))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Question {
        key: key.to_string(),
        pointer,
        kind,
        title: str_of(obj, "title").unwrap_or_default(),
        description: str_of(obj, "description"),
        i18n,
        choices,
        visible_if: obj.get("x-visible-if").cloned(),
        personal_data: obj.get("x-personal-data") == Some(&Value::Bool(true)),
        required,
        children,
        widget: str_of(obj, "x-widget"),
        schema: Value::Object(obj.clone()),
    }
}

/// The kind of a question from its (already checked) schema.
pub(crate) fn kind_of(obj: &Map<String, Value>) -> QuestionKind {
    let widget = obj.get("x-widget").and_then(Value::as_str);
    let has_choices = obj.get("oneOf").is_some();
    match obj.get("type").and_then(Value::as_str).unwrap_or_default() {
        "null" => QuestionKind::Note,
        "object" if widget == Some("geopoint") => QuestionKind::Geopoint,
        "object" => QuestionKind::Section,
        "array" if widget == Some("repeat") => QuestionKind::Repeat,
        "array" => QuestionKind::MultipleChoice,
        "integer" if widget == Some("likert") => QuestionKind::Likert,
        "integer" if has_choices => QuestionKind::SingleChoice,
        "integer" => QuestionKind::Integer,
        "number" => QuestionKind::Number,
        "boolean" => QuestionKind::Boolean,
        _ => match widget {
            Some("textarea") => QuestionKind::LongText,
            Some("photo") => QuestionKind::Photo,
            Some("time") => QuestionKind::Time,
            _ if has_choices => QuestionKind::SingleChoice,
            _ => match obj.get("format").and_then(Value::as_str) {
                Some("date") => QuestionKind::Date,
                Some("date-time") => QuestionKind::DateTime,
                _ => QuestionKind::ShortText,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_questionnaire_can_be_shared_between_threads() {
        assert_send_sync::<Questionnaire>();
    }

    #[test]
    fn a_pointer_is_split_and_unescaped() {
        assert_eq!(split_pointer(""), Some(vec![]));
        assert_eq!(
            split_pointer("/a~1b/c~0d"),
            Some(vec!["a/b".to_string(), "c~d".to_string()])
        );
        assert_eq!(split_pointer("a"), None);
        assert_eq!(push_token("/x", "a/b"), "/x/a~1b");
    }
}
