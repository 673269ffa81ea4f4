//! Checking a questionnaire document against the format, in two passes: the format's
//! meta-schema (structure), then what a schema cannot express (cross-references, languages,
//! sub-schemas that must themselves compile). Every error is kept, each with the JSON pointer
//! of its place in the document, in document order.

use std::collections::HashSet;
#[cfg(feature = "jsonschema")]
use std::sync::OnceLock;

#[cfg(feature = "jsonschema")]
use jsonschema::error::ValidationErrorKind;
#[cfg(feature = "jsonschema")]
use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

use super::{choice_key, push_token, split_pointer};
use crate::i18n::Message;
use crate::validate::ValidationError;

/// The format's meta-schema (JSON Schema 2020-12), `schemas/questionnaire-format.schema.json`.
#[cfg(feature = "jsonschema")]
pub const META_SCHEMA: &str = include_str!("../../../schemas/questionnaire-format.schema.json");

/// The widgets of the format, for messages.
const WIDGETS: &str = "textarea, select, likert, time, geopoint, photo, note, section, repeat";

#[cfg(feature = "jsonschema")]
fn meta() -> &'static (Value, Validator) {
    static META: OnceLock<(Value, Validator)> = OnceLock::new();
    META.get_or_init(|| {
        let schema: Value = serde_json::from_str(META_SCHEMA).expect("the meta-schema is JSON");
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build(&schema)
            .expect("the meta-schema compiles");
        (schema, validator)
    })
}

/// Checks `document`; every error in document order, or `Ok`.
pub(super) fn check(document: &Value) -> Result<(), Vec<ValidationError>> {
    let mut out = Vec::new();
    meta_pass(document, &mut out);
    if let Some(root) = document.as_object() {
        semantic_pass(document, root, &mut out);
    }
    if out.is_empty() {
        return Ok(());
    }
    // One error per place: the structural one first, it is the most direct.
    let mut seen = HashSet::new();
    out.retain(|e| seen.insert(e.path.clone()));
    out.sort_by_cached_key(|e| document_order(document, &e.path));
    Err(out)
}

/// A sort key putting a pointer into the document in the order its parts are written.
fn document_order(document: &Value, path: &str) -> Vec<usize> {
    let mut key = Vec::new();
    let mut node = Some(document);
    for token in split_pointer(path).unwrap_or_default() {
        let (index, next) = match node {
            Some(Value::Object(m)) => (
                m.keys().position(|k| *k == token).unwrap_or(usize::MAX),
                m.get(&token),
            ),
            Some(Value::Array(a)) => {
                let i = token.parse().unwrap_or(usize::MAX);
                (i, a.get(i))
            }
            _ => (usize::MAX, None),
        };
        key.push(index);
        node = next;
    }
    key
}

/// Without `jsonschema` (the phone's wasm), the meta-schema pass is left to the server, which
/// refuses a document that breaks it: the phone only receives documents it published. The
/// semantic pass and the compact validator's compilation (which refuses any keyword it does
/// not know) still run; only the root's shape is checked here, as the rest relies on it.
#[cfg(not(feature = "jsonschema"))]
fn meta_pass(document: &Value, out: &mut Vec<ValidationError>) {
    let questions = document.get("properties").map(Value::is_object);
    if questions != Some(true) {
        out.push(format_error(
            document,
            "",
            "not_an_object",
            "a questionnaire is an object with its questions in `properties`",
        ));
    }
}

#[cfg(feature = "jsonschema")]
fn meta_pass(document: &Value, out: &mut Vec<ValidationError>) {
    let (schema, validator) = meta();
    for error in validator.iter_errors(document) {
        let at = error.instance_path().as_str().to_string();
        let (path, code) = match error.kind() {
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                let code = match property {
                    "$schema" => "schema_version",
                    "type" if at.is_empty() => "root_type",
                    "type" => "missing_type",
                    "title" => "missing_title",
                    "properties" => "missing_properties",
                    "additionalProperties" => "additional_properties",
                    "oneOf" => "choices",
                    "items" if is_repeat(document, &at) => "repeat_item",
                    "items" => "choices",
                    "uniqueItems" => "unique_items",
                    "const" => "choice_const",
                    "x-widget" => "widget_type",
                    "lat" | "lon" => "geopoint",
                    _ => "format",
                };
                (push_token(&at, property), code.to_string())
            }
            ValidationErrorKind::PropertyNames { error: inner } => {
                let name = inner.instance().as_str().unwrap_or_default().to_string();
                let code = annotation(schema, inner.schema_path().as_str())
                    .or_else(|| annotation(schema, error.schema_path().as_str()))
                    .unwrap_or("bad_key");
                (push_token(&at, &name), code.to_string())
            }
            _ => {
                let code = annotation(schema, error.schema_path().as_str()).unwrap_or("format");
                (at, code.to_string())
            }
        };
        out.push(format_error(document, &path, &code, &error.to_string()));
    }
}

#[cfg(feature = "jsonschema")]
fn is_repeat(document: &Value, at: &str) -> bool {
    document
        .pointer(at)
        .and_then(|q| q.get("x-widget"))
        .and_then(Value::as_str)
        == Some("repeat")
}

/// The innermost `x-code` annotation on the way to a keyword of the meta-schema.
#[cfg(feature = "jsonschema")]
fn annotation(schema: &'static Value, schema_path: &str) -> Option<&'static str> {
    let mut node = schema;
    let mut code = node.get("x-code").and_then(Value::as_str);
    for token in split_pointer(schema_path)? {
        node = match node {
            Value::Object(m) => m.get(&token)?,
            Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
            _ => break,
        };
        if let Some(c) = node.get("x-code").and_then(Value::as_str) {
            code = Some(c);
        }
    }
    code
}

fn semantic_pass(document: &Value, root: &Map<String, Value>, out: &mut Vec<ValidationError>) {
    let languages: Vec<String> = match root.get("x-languages").and_then(Value::as_array) {
        Some(l) => l
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        None => vec!["fr".into()],
    };
    let cx = Cx {
        document,
        languages,
    };
    cx.check_i18n(root, "", &[], out);
    let root_keys = keys(root);
    cx.check_container(root, "", &root_keys, out);
}

struct Cx<'a> {
    document: &'a Value,
    languages: Vec<String>,
}

fn keys(container: &Map<String, Value>) -> Vec<String> {
    container
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn is_note(q: &Value) -> bool {
    q.get("type").and_then(Value::as_str) == Some("null")
        || q.get("x-widget").and_then(Value::as_str) == Some("note")
}

impl Cx<'_> {
    fn push(&self, out: &mut Vec<ValidationError>, path: String, code: &str, detail: &str) {
        out.push(format_error(self.document, &path, code, detail));
    }

    /// The container's `required` list and questions. `context_keys`: the questions an
    /// `x-visible-if` here is evaluated against (the root's, or the repeat item's).
    fn check_container(
        &self,
        container: &Map<String, Value>,
        path: &str,
        context_keys: &[String],
        out: &mut Vec<ValidationError>,
    ) {
        let props = container.get("properties").and_then(Value::as_object);
        if let Some(required) = container.get("required").and_then(Value::as_array) {
            for (i, name) in required.iter().enumerate() {
                let Some(name) = name.as_str() else { continue };
                let at = format!("{path}/required/{i}");
                match props.and_then(|p| p.get(name)) {
                    None => self.push(out, at, "required_unknown", name),
                    Some(q) if is_note(q) => self.push(out, at, "required_note", name),
                    Some(_) => {}
                }
            }
        }
        let Some(props) = props else { return };
        for (key, q) in props {
            let Some(obj) = q.as_object() else { continue };
            let qpath = push_token(&format!("{path}/properties"), key);
            self.check_question(obj, &qpath, context_keys, out);
            match obj.get("x-widget").and_then(Value::as_str) {
                Some("section") => self.check_container(obj, &qpath, context_keys, out),
                Some("repeat") => {
                    if let Some(item) = obj.get("items").and_then(Value::as_object) {
                        let item_keys = keys(item);
                        self.check_container(item, &format!("{qpath}/items"), &item_keys, out);
                    }
                }
                _ => {}
            }
        }
    }

    fn check_question(
        &self,
        q: &Map<String, Value>,
        qpath: &str,
        context_keys: &[String],
        out: &mut Vec<ValidationError>,
    ) {
        // The choices: distinct values, of the question's type.
        let (choices, choices_path) = match q.get("type").and_then(Value::as_str) {
            Some("array") => (
                q.get("items").and_then(|i| i.get("oneOf")),
                format!("{qpath}/items/oneOf"),
            ),
            _ => (q.get("oneOf"), format!("{qpath}/oneOf")),
        };
        let mut values = Vec::new();
        if let Some(list) = choices.and_then(Value::as_array) {
            let want = q.get("type").and_then(Value::as_str);
            for (i, c) in list.iter().enumerate() {
                let Some(v) = c.get("const") else { continue };
                let at = format!("{choices_path}/{i}/const");
                let k = choice_key(v);
                if values.contains(&k) {
                    self.push(out, at, "duplicate_choice", &k);
                    continue;
                }
                let fits = match want {
                    Some("string") => v.is_string(),
                    Some("integer") => v.is_i64() || v.is_u64(),
                    _ => v.is_string() || v.is_i64() || v.is_u64(),
                };
                if !fits {
                    self.push(out, at, "choice_type", &k);
                }
                values.push(k);
            }
        }
        self.check_i18n(q, qpath, &values, out);
        if let Some(cond) = q.get("x-visible-if") {
            self.check_visible_if(cond, &format!("{qpath}/x-visible-if"), context_keys, out);
        }
    }

    /// `x-i18n`: only declared languages; choice labels only for existing choices.
    fn check_i18n(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        choice_values: &[String],
        out: &mut Vec<ValidationError>,
    ) {
        let Some(i18n) = obj.get("x-i18n").and_then(Value::as_object) else {
            return;
        };
        for (lang, labels) in i18n {
            let at = push_token(&format!("{path}/x-i18n"), lang);
            if !self.languages.contains(lang) {
                let detail = format!("{lang}|{}", self.languages.join(", "));
                self.push(out, at, "i18n_language", &detail);
                continue;
            }
            if let Some(ch) = labels.get("choices").and_then(Value::as_object) {
                for value in ch.keys() {
                    if !choice_values.contains(value) {
                        self.push(
                            out,
                            push_token(&format!("{at}/choices"), value),
                            "i18n_choice",
                            value,
                        );
                    }
                }
            }
        }
    }

    fn check_visible_if(
        &self,
        cond: &Value,
        at: &str,
        context_keys: &[String],
        out: &mut Vec<ValidationError>,
    ) {
        if !cond.is_object() && !cond.is_boolean() {
            return; // reported by the meta-schema
        }
        if let Err((inner, e)) = crate::schema::Compiled::new(crate::Engine::default(), cond) {
            let path = format!("{at}{inner}");
            self.push(out, path, "invalid_visible_if", &e);
            return;
        }
        if let Some(props) = cond.get("properties").and_then(Value::as_object) {
            for key in props.keys() {
                if !context_keys.contains(key) {
                    self.push(
                        out,
                        push_token(&format!("{at}/properties"), key),
                        "visible_if_unknown",
                        key,
                    );
                }
            }
        }
        if let Some(required) = cond.get("required").and_then(Value::as_array) {
            for (i, key) in required.iter().enumerate() {
                if let Some(key) = key.as_str() {
                    if !context_keys.iter().any(|k| k == key) {
                        self.push(out, format!("{at}/required/{i}"), "visible_if_unknown", key);
                    }
                }
            }
        }
    }
}

/// The question a document pointer is in: its key, and the pointer of its schema.
fn question_at(path: &str) -> Option<(String, String)> {
    let tokens = split_pointer(path)?;
    let mut found = None;
    let mut prefix = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t == "properties" && i + 1 < tokens.len() {
            // `…/properties/KEY` where the parent is a container, not a geopoint's fields
            // nor a visible-if condition.
            let inside_condition = tokens[..i]
                .iter()
                .any(|t| t == "x-visible-if" || t == "allOf");
            let qprefix = push_token(&format!("{prefix}/properties"), &tokens[i + 1]);
            if !inside_condition {
                found = Some((tokens[i + 1].clone(), qprefix.clone()));
            }
            prefix = qprefix;
            i += 2;
            continue;
        }
        prefix = push_token(&prefix, t);
        i += 1;
    }
    found
}

/// A format error with its messages, naming the question it is about.
pub(crate) fn format_error(
    document: &Value,
    path: &str,
    code: &str,
    detail: &str,
) -> ValidationError {
    let q = question_at(path);
    let (wfr, wen) = match &q {
        Some((key, _)) => (
            format!("La question « {key} »"),
            format!("Question “{key}”"),
        ),
        None => (
            "Le questionnaire".to_string(),
            "The questionnaire".to_string(),
        ),
    };
    let qschema = q.as_ref().and_then(|(_, qp)| document.pointer(qp));
    let field = |name: &str| {
        qschema
            .and_then(|s| s.get(name))
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_else(|| "?".into())
    };
    let last = split_pointer(path)
        .and_then(|t| t.last().cloned())
        .unwrap_or_default();
    let (fr, en) = match code {
        "not_an_object" if path.is_empty() => (
            "Le questionnaire doit être un objet JSON ({ … }).".to_string(),
            "The questionnaire must be a JSON object ({ … }).".to_string(),
        ),
        "schema_version" => (
            "`$schema` doit valoir « https://json-schema.org/draft/2020-12/schema » : le format est JSON Schema 2020-12.".into(),
            "`$schema` must be \"https://json-schema.org/draft/2020-12/schema\": the format is JSON Schema 2020-12.".into(),
        ),
        "root_type" => (
            "Le `type` du questionnaire doit valoir « object » : les réponses forment un objet.".into(),
            "The questionnaire's `type` must be \"object\": the answers are an object.".into(),
        ),
        "additional_properties" => (
            format!("{wfr} doit avoir `\"additionalProperties\": false`, pour refuser les réponses à des questions qui n'existent pas."),
            format!("{wen} must have `\"additionalProperties\": false`, so that answers to questions that do not exist are refused."),
        ),
        "bad_key" => (
            format!("Le nom de question « {last} » n'est pas permis : il doit commencer par une lettre minuscule et ne contenir que des minuscules sans accent, des chiffres et « _ » (63 caractères au plus)."),
            format!("The question name “{last}” is not allowed: it must start with a lowercase letter and contain only unaccented lowercase letters, digits and “_” (63 characters at most)."),
        ),
        "unknown_widget" => (
            format!("{wfr} : le widget « {} » n'existe pas. Widgets possibles : {WIDGETS}.", field("x-widget")),
            format!("{wen}: there is no widget “{}”. Possible widgets: {WIDGETS}.", field("x-widget")),
        ),
        "widget_type" => (
            format!("{wfr} : le type « {} » ne va pas avec le widget « {} » (textarea, select, time, photo : string ; likert : integer ; note : null ; section, geopoint : object ; repeat : array).", field("type"), field("x-widget")),
            format!("{wen}: type “{}” does not go with widget “{}” (textarea, select, time, photo: string; likert: integer; note: null; section, geopoint: object; repeat: array).", field("type"), field("x-widget")),
        ),
        "missing_type" | "question_type" => (
            format!("{wfr} doit avoir un `type` parmi string, integer, number, boolean, array, object, null."),
            format!("{wen} must have a `type` among string, integer, number, boolean, array, object, null."),
        ),
        "missing_title" => (
            format!("{wfr} : il manque le libellé (`title`) de {}.", if path.contains("/oneOf/") { "ce choix" } else { "la question" }),
            format!("{wen}: the label (`title`) of {} is missing.", if path.contains("/oneOf/") { "this choice" } else { "the question" }),
        ),
        "missing_properties" => (
            format!("{wfr} doit lister ses questions dans `properties`."),
            format!("{wen} must list its questions in `properties`."),
        ),
        "choices" | "choice" | "choice_const" => (
            format!("{wfr} : chaque choix (`oneOf`) doit être de la forme {{\"const\": valeur, \"title\": \"Libellé\"}}, la valeur étant un texte ou un nombre entier."),
            format!("{wen}: each choice (`oneOf`) must look like {{\"const\": value, \"title\": \"Label\"}}, the value being a string or an integer."),
        ),
        "duplicate_choice" => (
            format!("{wfr} : deux choix ont la même valeur « {detail} »."),
            format!("{wen}: two choices have the same value “{detail}”."),
        ),
        "choice_type" => (
            format!("{wfr} : la valeur du choix « {detail} » doit être du type de la question ({}).", field("type")),
            format!("{wen}: the choice value “{detail}” must be of the question's type ({}).", field("type")),
        ),
        "unique_items" => (
            format!("{wfr} est à choix multiples : elle doit avoir `\"uniqueItems\": true` (un choix ne peut être coché deux fois)."),
            format!("{wen} is a multiple choice: it must have `\"uniqueItems\": true` (a choice cannot be ticked twice)."),
        ),
        "repeat_item" => (
            format!("{wfr} est une répétition : `items` doit être un objet `\"type\": \"object\"` avec ses `properties` et `\"additionalProperties\": false`."),
            format!("{wen} is a repeat: `items` must be a `\"type\": \"object\"` schema with its `properties` and `\"additionalProperties\": false`."),
        ),
        "geopoint" => (
            format!("{wfr} est un lieu : ses propriétés sont lat et lon (obligatoires) et accuracy_m, rien d'autre."),
            format!("{wen} is a location: its properties are lat and lon (required) and accuracy_m, nothing else."),
        ),
        "languages" => (
            "`x-languages` doit être une liste non vide de codes de langue distincts, en minuscules, la langue par défaut d'abord : [\"fr\", \"en\"].".into(),
            "`x-languages` must be a non-empty list of distinct lowercase language codes, the default first: [\"fr\", \"en\"].".into(),
        ),
        "i18n" => (
            format!("{wfr} : `x-i18n` doit être de la forme {{\"en\": {{\"title\": …, \"description\": …, \"choices\": {{\"valeur\": \"libellé\"}}}}}}."),
            format!("{wen}: `x-i18n` must look like {{\"en\": {{\"title\": …, \"description\": …, \"choices\": {{\"value\": \"label\"}}}}}}."),
        ),
        "i18n_language" => {
            let (lang, langs) = detail.split_once('|').unwrap_or((detail, ""));
            (
                format!("{wfr} : `x-i18n` donne des libellés en « {lang} », langue absente de `x-languages` ({langs})."),
                format!("{wen}: `x-i18n` has labels in “{lang}”, a language missing from `x-languages` ({langs})."),
            )
        }
        "i18n_choice" => (
            format!("{wfr} : `x-i18n` traduit le choix « {detail} », qui n'existe pas."),
            format!("{wen}: `x-i18n` translates the choice “{detail}”, which does not exist."),
        ),
        "personal_data" => (
            format!("{wfr} : `x-personal-data` doit valoir true ou false."),
            format!("{wen}: `x-personal-data` must be true or false."),
        ),
        "invalid_visible_if" => (
            format!("{wfr} : la condition d'affichage `x-visible-if` n'est pas un JSON Schema valide ({detail})."),
            format!("{wen}: the display condition `x-visible-if` is not a valid JSON Schema ({detail})."),
        ),
        "visible_if_unknown" => (
            format!("{wfr} : la condition d'affichage `x-visible-if` parle de « {detail} », qui n'est pas une question à ce niveau (la racine, ou l'élément de la répétition)."),
            format!("{wen}: the display condition `x-visible-if` refers to “{detail}”, which is not a question at that level (the root, or the repeat's item)."),
        ),
        "required_list" => (
            format!("{wfr} : `required` doit être une liste de noms de questions, sans doublon."),
            format!("{wen}: `required` must be a list of question names, without duplicates."),
        ),
        "required_unknown" => (
            format!("`required` nomme « {detail} », qui n'est pas une question à cet endroit ({})." , if wfr.starts_with("Le ") { "racine du questionnaire".to_string() } else { wfr.to_lowercase() }),
            format!("`required` names “{detail}”, which is not a question there ({}).", if wen.starts_with("The ") { "root of the questionnaire".to_string() } else { wen.to_lowercase() }),
        ),
        "required_note" => (
            format!("`required` nomme « {detail} », qui est une note : une note n'a pas de réponse et ne peut pas être obligatoire."),
            format!("`required` names “{detail}”, which is a note: a note has no answer and cannot be required."),
        ),
        "not_a_string" => (
            format!("{wfr} : ce libellé doit être un texte."),
            format!("{wen}: this label must be a string."),
        ),
        "rules" => (
            "`allOf` doit être une liste de règles (des JSON Schemas).".into(),
            "`allOf` must be a list of rules (JSON Schemas).".into(),
        ),
        "questions" | "question" | "not_an_object" => (
            format!("{wfr} : `properties` doit être un objet dont chaque entrée est une question (un objet JSON Schema)."),
            format!("{wen}: `properties` must be an object whose entries are questions (JSON Schema objects)."),
        ),
        "invalid_schema" => (
            format!("{wfr} : ce n'est pas du JSON Schema 2020-12 valide ({detail})."),
            format!("{wen}: this is not valid JSON Schema 2020-12 ({detail})."),
        ),
        _ => (
            format!("{wfr} ne suit pas le format des questionnaires ({detail})."),
            format!("{wen} does not follow the questionnaire format ({detail})."),
        ),
    };
    ValidationError::new(path, code, Message::new(fr, en))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_schema_compiles() {
        let _ = meta();
    }

    #[test]
    fn a_place_in_the_document_names_its_question() {
        assert_eq!(
            question_at("/properties/cadre_de_vie/properties/logement/x-widget"),
            Some((
                "logement".to_string(),
                "/properties/cadre_de_vie/properties/logement".to_string()
            ))
        );
        assert_eq!(
            question_at("/properties/q/x-visible-if/properties/a"),
            Some(("q".to_string(), "/properties/q".to_string()))
        );
        assert_eq!(question_at("/required/0"), None);
    }
}
