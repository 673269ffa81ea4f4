//! Validation of a response's answers against a questionnaire, exactly as the format says:
//! (1) evaluate each `x-visible-if`; (2) refuse answers to hidden questions; (3) validate
//! against the schema in which conditionally shown questions are required only where visible.
//!
//! Step (3) uses a schema *derived* from the document once, at parse time: the same document
//! in which every question with an `x-visible-if` is taken out of its parent's `required`
//! (its presence is checked by this module, only where it is visible) and every note accepts
//! anything (an answer to a note is refused here, with its own code). `format` is asserted
//! (`date`, `date-time`, `email`). All validators are compiled once, in
//! [`Questionnaire::parse`], and kept in the questionnaire.
//!
//! The schema is run by `jsonschema` or, without that feature (the phone), by the compact
//! validator (`schema/compact.rs`); both report [`SchemaError`]s, worded here once.
//!
//! Errors come in document order, each with the JSON pointer of the answer it is about and
//! a message in French and English that names the question by its title.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::i18n::Message;
use crate::questionnaire::check::format_error;
use crate::questionnaire::{push_token, split_pointer, Question, QuestionKind, Questionnaire};
use crate::schema::{self, Engine, Kind, SchemaError, Ty};

/// One thing wrong with a response's answers, or with a questionnaire document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValidationError {
    /// A JSON pointer to what is wrong (`/cadre_de_vie/logement`, `""` for the whole).
    pub path: String,
    /// A stable machine code (`required`, `hidden`, `type`, `enum`, `format`, …).
    pub code: String,
    /// What is wrong, in French and English (`message` and `message_en` on the wire).
    #[serde(flatten)]
    pub message: Message,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, code: impl Into<String>, message: Message) -> Self {
        Self {
            path: path.into(),
            code: code.into(),
            message,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message.fr)
        } else {
            write!(f, "{}: {}", self.path, self.message.fr)
        }
    }
}

impl std::error::Error for ValidationError {}

/// The validators of one questionnaire, compiled once.
pub(crate) struct Compiled {
    /// The derived schema (see the module documentation).
    derived: Value,
    schema: schema::Compiled,
    /// The `x-visible-if` validators, by question pointer (`-` for a repeat's item index).
    visible_if: HashMap<String, schema::Compiled>,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("visible_if", &self.visible_if.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Compiled {
    pub(crate) fn new(
        document: &Value,
        questions: &[Question],
        engine: Engine,
    ) -> Result<Self, Vec<ValidationError>> {
        let mut derived = document.clone();
        if let Some(root) = derived.as_object_mut() {
            derive(root, questions);
        }
        let mut errors = Vec::new();
        let schema = schema::Compiled::new(engine, &derived)
            .map_err(|(at, e)| vec![format_error(document, &at, "invalid_schema", &e)]);
        let mut visible_if = HashMap::new();
        compile_conditions(questions, document, engine, &mut visible_if, &mut errors);
        match schema {
            Ok(schema) if errors.is_empty() => Ok(Compiled {
                derived,
                schema,
                visible_if,
            }),
            Ok(_) => Err(errors),
            Err(mut e) => {
                e.extend(errors);
                Err(e)
            }
        }
    }
}

/// Compiles every `x-visible-if`, keyed by question pointer.
fn compile_conditions(
    questions: &[Question],
    document: &Value,
    engine: Engine,
    visible_if: &mut HashMap<String, schema::Compiled>,
    errors: &mut Vec<ValidationError>,
) {
    for q in questions {
        if let Some(cond) = &q.visible_if {
            match schema::Compiled::new(engine, cond) {
                Ok(v) => {
                    visible_if.insert(q.pointer.clone(), v);
                }
                Err((_, e)) => {
                    errors.push(format_error(document, &q.pointer, "invalid_visible_if", &e))
                }
            }
        }
        compile_conditions(&q.children, document, engine, visible_if, errors);
    }
}

/// Takes conditionally shown questions out of `required`, and lets notes accept anything.
fn derive(container: &mut Map<String, Value>, questions: &[Question]) {
    let conditional: Vec<&str> = questions
        .iter()
        .filter(|q| q.visible_if.is_some())
        .map(|q| q.key.as_str())
        .collect();
    if let Some(Value::Array(required)) = container.get_mut("required") {
        required.retain(|k| !k.as_str().is_some_and(|k| conditional.contains(&k)));
    }
    let Some(Value::Object(props)) = container.get_mut("properties") else {
        return;
    };
    for q in questions {
        let Some(schema) = props.get_mut(&q.key) else {
            continue;
        };
        match q.kind {
            QuestionKind::Note => *schema = Value::Bool(true),
            QuestionKind::Section => {
                if let Some(obj) = schema.as_object_mut() {
                    derive(obj, &q.children);
                }
            }
            QuestionKind::Repeat => {
                if let Some(Value::Object(item)) = schema.get_mut("items") {
                    derive(item, &q.children);
                }
            }
            // No more ticks than choices (each at most once): the implied maximum, so that
            // a huge list is refused by its length at once.
            QuestionKind::MultipleChoice => {
                if let Some(obj) = schema.as_object_mut() {
                    obj.entry("maxItems")
                        .or_insert_with(|| Value::from(q.choices.len()));
                }
            }
            _ => {}
        }
    }
}

/// One question met while walking the answers.
struct Visit<'a> {
    question: &'a Question,
    /// The answer's pointer (with the real item index inside a repeat).
    pointer: String,
    answer: Option<&'a Value>,
    /// Whether the object holding the answer exists.
    container: bool,
    visible: bool,
}

impl Questionnaire {
    /// Whether `question` is shown, given `context`: the whole answers object for a question
    /// at the root or in a section, the repeat item for a question inside a repeat.
    pub fn is_visible(&self, question: &Question, context: &Value) -> bool {
        match self.compiled.visible_if.get(&question.pointer) {
            Some(v) => v.is_valid(context),
            None => true,
        }
    }

    /// The pointers of the questions shown for these answers, in document order: for the
    /// phone's live skip logic. A question in a hidden section is hidden; questions inside a
    /// repeat are listed per existing item (`/formations_suivies/0/date`).
    pub fn visible(&self, answers: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(
            &self.questions,
            answers.as_object(),
            answers,
            "",
            &mut |v: Visit<'_>| {
                if v.visible {
                    out.push(v.pointer);
                }
            },
        );
        out
    }

    fn visit<'a>(
        &'a self,
        questions: &'a [Question],
        container: Option<&'a Map<String, Value>>,
        context: &'a Value,
        pointer: &str,
        f: &mut dyn FnMut(Visit<'a>),
    ) {
        for q in questions {
            let p = push_token(pointer, &q.key);
            let answer = container.and_then(|c| c.get(&q.key));
            let visible = self.is_visible(q, context);
            f(Visit {
                question: q,
                pointer: p.clone(),
                answer,
                container: container.is_some(),
                visible,
            });
            if !visible {
                continue;
            }
            match q.kind {
                QuestionKind::Section => self.visit(
                    &q.children,
                    answer.and_then(Value::as_object),
                    context,
                    &p,
                    f,
                ),
                QuestionKind::Repeat => {
                    for (i, item) in answer
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let ip = format!("{p}/{i}");
                        self.visit(&q.children, item.as_object(), item, &ip, f);
                    }
                }
                _ => {}
            }
        }
    }

    /// Validates a response's answers; empty when valid. Errors are in document order, at
    /// most [`MAX_ERRORS`] of them (then one `too_many_errors` that counts the rest). Linear
    /// in the size of the answers.
    pub fn validate(&self, answers: &Value) -> Vec<ValidationError> {
        if !answers.is_object() {
            return vec![error(
                "",
                "not_an_object",
                "Les réponses doivent être un objet JSON : {\"question\": réponse, …}.".into(),
                "The answers must be a JSON object: {\"question\": answer, …}.".into(),
            )];
        }
        let mut errors = Vec::new();
        // (0): what no database can keep (PostgreSQL refuses a NUL in text and JSON).
        unstorable_text(answers, &mut errors);
        let mut silenced: Vec<String> = Vec::new();
        // (1) and (2): skip logic, and notes.
        self.visit(
            &self.questions,
            answers.as_object(),
            answers,
            "",
            &mut |v: Visit<'_>| {
                let q = v.question;
                let present = v.answer.is_some();
                if q.kind == QuestionKind::Note {
                    if present {
                        let (fr, en) = self.naming(&v.pointer).question();
                        errors.push(error(
                            &v.pointer,
                            "note",
                            format!("{fr} est un texte d'information, pas une question : il ne doit pas avoir de réponse."),
                            format!("{en} is an information text, not a question: it must have no answer."),
                        ));
                        silenced.push(v.pointer);
                    }
                } else if !v.visible && present {
                    let (fr, en) = self.naming(&v.pointer).question();
                    errors.push(error(
                        &v.pointer,
                        "hidden",
                        format!("La question {fr} ne doit pas avoir de réponse : avec les autres réponses, elle n'est pas posée (voir sa condition d'affichage)."),
                        format!("The question {en} must have no answer: given the other answers, it is not asked (see its display condition)."),
                    ));
                    silenced.push(v.pointer);
                } else if v.visible && !present && v.container && q.required && q.visible_if.is_some() {
                    let (fr, en) = self.naming(&v.pointer).answer();
                    errors.push(error(
                        &v.pointer,
                        "required",
                        format!("{fr} est obligatoire."),
                        format!("{en} is required."),
                    ));
                }
            },
        );
        // (3): the derived schema. Its errors are read lazily: past a bound, the rest are only
        // counted as "more" (a million wrong items must not cost a million messages).
        let mut schema_errors = Vec::new();
        let mut unread = false;
        // An array far over its maximum is judged on its first items: its length is refused
        // all the same, and the items past it would only cost time.
        let clamped = over_long(&self.questions, answers).then(|| {
            let mut copy = answers.clone();
            if let Some(map) = copy.as_object_mut() {
                clamp(&self.questions, map);
            }
            copy
        });
        self.compiled
            .schema
            .each_error(clamped.as_ref().unwrap_or(answers), &mut |e| {
                if schema_errors.len() >= MAX_ERRORS_READ {
                    unread = true;
                    return false;
                }
                self.map_error(&e, &mut schema_errors);
                true
            });
        let silenced: Vec<String> = silenced.into_iter().map(|s| s + "/").collect();
        let under = |p: &str| {
            silenced
                .iter()
                .any(|s| p.starts_with(s.as_str()) || p == &s[..s.len() - 1])
        };
        schema_errors.retain(|e| !under(&e.path));
        // A value of the wrong type is not also "not one of the choices".
        let typed: HashSet<String> = schema_errors
            .iter()
            .filter(|e| e.code == "type")
            .map(|e| e.path.clone())
            .collect();
        schema_errors.retain(|e| e.code != "choice" || !typed.contains(&e.path));
        let mut seen: HashSet<ValidationError> = errors.iter().cloned().collect();
        for e in schema_errors {
            if seen.insert(e.clone()) {
                errors.push(e);
            }
        }
        errors.sort_by_cached_key(|e| self.order(&e.path, e.code == "rule"));
        if errors.len() > MAX_ERRORS || unread {
            let more = errors.len().saturating_sub(MAX_ERRORS);
            errors.truncate(MAX_ERRORS);
            let (fr, en) = if unread {
                (format!("au moins {more}"), format!("at least {more}"))
            } else {
                (more.to_string(), more.to_string())
            };
            errors.push(error(
                "",
                "too_many_errors",
                format!("Et {fr} autres erreurs, non détaillées : corrigez d'abord celles-ci."),
                format!("And {en} more errors, not detailed: correct these first."),
            ));
        }
        errors
    }

    /// A sort key putting an answer's pointer in document order (unknown keys after the
    /// questions of their level, rules after everything they hold).
    fn order(&self, path: &str, rule: bool) -> Vec<(usize, String)> {
        let mut key = Vec::new();
        let mut list: &[Question] = &self.questions;
        let mut lost = false;
        let mut want_index = false;
        for token in split_pointer(path).unwrap_or_default() {
            if lost {
                key.push((usize::MAX, token));
                continue;
            }
            if want_index {
                want_index = false;
                if let Ok(i) = token.parse::<usize>() {
                    key.push((i, String::new()));
                    continue;
                }
            }
            match list.iter().position(|q| q.key == token) {
                Some(i) => {
                    key.push((i, String::new()));
                    want_index = list[i].kind == QuestionKind::Repeat;
                    list = &list[i].children;
                }
                None => match token.parse::<usize>() {
                    Ok(i) => key.push((i, String::new())),
                    Err(_) => {
                        lost = true;
                        key.push((usize::MAX, token));
                    }
                },
            }
        }
        if rule {
            key.push((usize::MAX, String::new()));
        }
        key
    }

    /// Names the answer at `pointer` for messages.
    fn naming(&self, pointer: &str) -> Naming<'_> {
        let mut list: &[Question] = &self.questions;
        let mut naming = Naming::default();
        let mut want_index = false;
        for token in split_pointer(pointer).unwrap_or_default() {
            if !naming.rest.is_empty() {
                naming.rest.push(token);
                continue;
            }
            if want_index {
                want_index = false;
                if let Ok(i) = token.parse::<usize>() {
                    naming.item = naming.question.map(|r| (r, i));
                    naming.question = None;
                    continue;
                }
            }
            match list.iter().find(|q| q.key == token) {
                Some(q) => {
                    naming.question = Some(q);
                    want_index = q.kind == QuestionKind::Repeat;
                    list = &q.children;
                }
                None => naming.rest.push(token),
            }
        }
        naming
    }

    /// Turns one schema error into ours (several for unknown keys).
    fn map_error(&self, e: &SchemaError, out: &mut Vec<ValidationError>) {
        let at = e.instance_path.as_str();
        let schema_path = split_pointer(&e.schema_path).unwrap_or_default();
        let rule_at = schema_path.iter().position(|t| {
            matches!(
                t.as_str(),
                "allOf"
                    | "anyOf"
                    | "if"
                    | "then"
                    | "else"
                    | "not"
                    | "dependentRequired"
                    | "dependentSchemas"
            )
        });
        let naming = self.naming(at);
        let (a_fr, a_en) = naming.answer();
        let (q_fr, q_en) = naming.question();
        let kind_of = naming.question.map(|q| q.kind);
        let (code, fr, en): (&str, String, String) = match &e.kind {
            Kind::Required { property } => {
                let p = push_token(at, property);
                let (fr, en) = self.naming(&p).answer();
                out.push(error(
                    &p,
                    "required",
                    format!("{fr} est obligatoire."),
                    format!("{en} is required."),
                ));
                return;
            }
            Kind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let p = push_token(at, key);
                    let (fr, en) = if at.is_empty() {
                        (
                            format!("La question « {key} » n'existe pas dans ce questionnaire."),
                            format!("There is no question “{key}” in this questionnaire."),
                        )
                    } else {
                        (
                            format!("La question « {key} » n'existe pas dans {q_fr}."),
                            format!("There is no question “{key}” in {q_en}."),
                        )
                    };
                    out.push(error(&p, "unknown_question", fr, en));
                }
                return;
            }
            Kind::Type { types } => {
                let fr: Vec<&str> = types.iter().map(|t| type_name(*t).0).collect();
                let en: Vec<&str> = types.iter().map(|t| type_name(*t).1).collect();
                (
                    "type",
                    format!("{a_fr} doit être {}.", fr.join(" ou ")),
                    format!("{a_en} must be {}.", en.join(" or ")),
                )
            }
            Kind::Choice { value: v } => {
                (
                    "choice",
                    format!("{a_fr} n'est pas un des choix proposés ({v})."),
                    format!("{a_en} is not one of the choices offered ({v})."),
                )
            }
            Kind::Minimum { limit } => (
                "min",
                format!("{a_fr} doit être au moins {limit}."),
                format!("{a_en} must be at least {limit}."),
            ),
            Kind::ExclusiveMinimum { limit } => (
                "min",
                format!("{a_fr} doit être strictement plus grande que {limit}."),
                format!("{a_en} must be greater than {limit}."),
            ),
            Kind::Maximum { limit } => (
                "max",
                format!("{a_fr} doit être au plus {limit}."),
                format!("{a_en} must be at most {limit}."),
            ),
            Kind::ExclusiveMaximum { limit } => (
                "max",
                format!("{a_fr} doit être strictement plus petite que {limit}."),
                format!("{a_en} must be less than {limit}."),
            ),
            Kind::MaxLength { limit } => (
                "max_length",
                format!("{a_fr} est trop longue : {limit} caractères au plus."),
                format!("{a_en} is too long: {limit} characters at most."),
            ),
            Kind::MinLength { limit } => (
                "min_length",
                format!("{a_fr} est trop courte : au moins {limit} caractères."),
                format!("{a_en} is too short: at least {limit} characters."),
            ),
            Kind::Pattern { pattern } => match kind_of {
                Some(QuestionKind::Photo) if naming.rest.is_empty() => (
                    "pattern",
                    format!("{a_fr} doit être la référence d'une photo : « sha256: » suivi de 64 chiffres hexadécimaux."),
                    format!("{a_en} must be a photo reference: “sha256:” followed by 64 hexadecimal digits."),
                ),
                Some(QuestionKind::Time) if naming.rest.is_empty() => (
                    "pattern",
                    format!("{a_fr} doit être une heure écrite HH:MM (par exemple 18:30)."),
                    format!("{a_en} must be a time written HH:MM (e.g. 18:30)."),
                ),
                _ => (
                    "pattern",
                    format!("{a_fr} n'a pas la forme attendue (motif {pattern})."),
                    format!("{a_en} does not have the expected form (pattern {pattern})."),
                ),
            },
            Kind::Format { format } => {
                let (fr, en) = match format.as_str() {
                    "date" => (
                        "une date qui existe, écrite AAAA-MM-JJ (par exemple 2025-03-14)",
                        "a real date written YYYY-MM-DD (e.g. 2025-03-14)",
                    ),
                    "date-time" => (
                        "une date et une heure avec leur décalage horaire (par exemple 2025-03-14T18:30:00+01:00)",
                        "a date and time with its offset (e.g. 2025-03-14T18:30:00+01:00)",
                    ),
                    "email" => (
                        "une adresse électronique valide (par exemple nom@exemple.fr)",
                        "a valid e-mail address (e.g. name@example.org)",
                    ),
                    other => (other, other),
                };
                (
                    "format",
                    format!("{a_fr} doit être {fr}."),
                    format!("{a_en} must be {en}."),
                )
            }
            Kind::MinItems { limit } => match kind_of {
                Some(QuestionKind::Repeat) => (
                    "min_items",
                    format!("{q_fr} doit avoir au moins {limit} élément(s)."),
                    format!("{q_en} needs at least {limit} item(s)."),
                ),
                _ => (
                    "min_items",
                    format!("Choisissez au moins {limit} réponse(s) pour {q_fr}."),
                    format!("Choose at least {limit} answer(s) for {q_en}."),
                ),
            },
            Kind::MaxItems { limit } => match kind_of {
                Some(QuestionKind::Repeat) => (
                    "max_items",
                    format!("{q_fr} a trop d'éléments : {limit} au plus."),
                    format!("{q_en} has too many items: {limit} at most."),
                ),
                _ => (
                    "max_items",
                    format!("Choisissez au plus {limit} réponse(s) pour {q_fr}."),
                    format!("Choose at most {limit} answer(s) for {q_en}."),
                ),
            },
            Kind::UniqueItems => (
                "unique_items",
                format!("La même réponse est donnée deux fois pour {q_fr}."),
                format!("The same answer is given twice for {q_en}."),
            ),
            Kind::AnyOf { context, .. } if rule_at.is_some() => {
                // `anyOf` of `required`: "answer at least one of these".
                let mut names = Vec::new();
                let all_required = context.iter().all(|branch| {
                    branch.iter().all(|b| match &b.kind {
                        Kind::Required { property } => {
                            let p = push_token(&b.instance_path, property);
                            names.push(self.naming(&p).question());
                            true
                        }
                        _ => false,
                    })
                });
                if all_required && !names.is_empty() {
                    let fr: Vec<String> = names.iter().map(|n| n.0.clone()).collect();
                    let en: Vec<String> = names.iter().map(|n| n.1.clone()).collect();
                    (
                        "rule",
                        format!("Il faut répondre à au moins une de ces questions : {}.", fr.join(", ")),
                        format!("At least one of these questions must be answered: {}.", en.join(", ")),
                    )
                } else {
                    (
                        "rule",
                        "Aucune des possibilités prévues par la règle n'est remplie.".into(),
                        "None of the possibilities the rule allows is met.".into(),
                    )
                }
            }
            Kind::AnyOf { display, .. } => (
                "invalid",
                format!("{a_fr} n'est pas valide (anyOf)."),
                format!("{a_en} is not valid ({display})."),
            ),
            Kind::Other { keyword, display } => (
                "invalid",
                format!("{a_fr} n'est pas valide ({keyword})."),
                format!("{a_en} is not valid ({display})."),
            ),
        };
        match rule_at {
            Some(i) => {
                let (fr, en) = match (self.rule_label(&schema_path, i), code) {
                    (Some((rfr, ren)), _) => (
                        format!("Règle « {rfr} » : {fr}"),
                        format!("Rule “{ren}”: {en}"),
                    ),
                    (None, "rule") => (fr, en),
                    (None, _) => (
                        format!("Une règle du questionnaire n'est pas respectée : {fr}"),
                        format!("A rule of the questionnaire is not met: {en}"),
                    ),
                };
                out.push(error(at, "rule", fr, en));
            }
            None => out.push(error(at, code, fr, en)),
        }
    }

    /// The `description` (or `title`) of the rule an error comes from, in French and English.
    fn rule_label(&self, schema_path: &[String], at: usize) -> Option<(String, String)> {
        let end = (at + 2).min(schema_path.len());
        let pointer: String = schema_path[..end]
            .iter()
            .fold(String::new(), |p, t| push_token(&p, t));
        let rule = self.compiled.derived.pointer(&pointer)?;
        let text = |v: &Value| {
            v.get("description")
                .or_else(|| v.get("title"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let fr = text(rule)?;
        let en = rule
            .get("x-i18n")
            .and_then(|i| i.get("en"))
            .and_then(text)
            .unwrap_or_else(|| fr.clone());
        Some((fr, en))
    }
}

/// What an answer's pointer names: a question, maybe inside a repeat item, maybe a part of
/// its answer (`lat` of a location, an item of a multiple choice).
#[derive(Default)]
struct Naming<'a> {
    question: Option<&'a Question>,
    item: Option<(&'a Question, usize)>,
    rest: Vec<String>,
}

impl Naming<'_> {
    /// The question, quoted: `« Lequel ? »`, with its repeat item when inside one.
    fn question(&self) -> (String, String) {
        let (mut fr, mut en) = match (self.question, self.item) {
            (Some(q), _) => (
                format!("« {} »", q.label("fr")),
                format!("“{}”", q.label("en")),
            ),
            (None, Some((r, i))) => {
                return (
                    format!("l'élément n° {} de « {} »", i + 1, r.label("fr")),
                    format!("item {} of “{}”", i + 1, r.label("en")),
                )
            }
            (None, None) => return ("les réponses".into(), "the answers".into()),
        };
        if let (Some(_), Some((r, i))) = (self.question, self.item) {
            fr.push_str(&format!(" (élément n° {} de « {} »)", i + 1, r.label("fr")));
            en.push_str(&format!(" (item {} of “{}”)", i + 1, r.label("en")));
        }
        (fr, en)
    }

    /// The answer, as the subject of a sentence: `La réponse à « Lequel ? »`.
    fn answer(&self) -> (String, String) {
        let (qfr, qen) = self.question();
        if self.question.is_none() {
            return match self.item {
                Some(_) => (capitalise(&qfr), capitalise(&qen)),
                None => ("Les réponses".into(), "The answers".into()),
            };
        }
        match self.rest.first() {
            None => (
                format!("La réponse à {qfr}"),
                format!("The answer to {qen}"),
            ),
            Some(i) if i.parse::<usize>().is_ok() => {
                let n = i.parse::<usize>().unwrap_or_default() + 1;
                (
                    format!("Le choix n° {n} de la réponse à {qfr}"),
                    format!("Choice {n} of the answer to {qen}"),
                )
            }
            Some(_) => {
                let part = self.rest.join("/");
                (
                    format!("La valeur « {part} » de la réponse à {qfr}"),
                    format!("The value “{part}” of the answer to {qen}"),
                )
            }
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn type_name(t: Ty) -> (&'static str, &'static str) {
    match t {
        Ty::String => ("un texte", "a text"),
        Ty::Integer => ("un nombre entier", "a whole number"),
        Ty::Number => ("un nombre", "a number"),
        Ty::Boolean => ("oui ou non (true ou false)", "yes or no (true or false)"),
        Ty::Array => ("une liste", "a list"),
        Ty::Object => ("un objet", "an object"),
        Ty::Null => ("vide (null)", "empty (null)"),
    }
}

/// The most items an array answer may hold: its `maxItems`, or for a multiple choice the
/// number of choices.
fn max_items(q: &Question) -> Option<usize> {
    let written = q
        .schema
        .get("maxItems")
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    match q.kind {
        QuestionKind::MultipleChoice => Some(written.unwrap_or(q.choices.len())),
        QuestionKind::Repeat => written,
        _ => None,
    }
}

/// Whether some array answer holds more than one item past its maximum.
fn over_long(questions: &[Question], container: &Value) -> bool {
    let Some(map) = container.as_object() else {
        return false;
    };
    questions.iter().any(|q| match (map.get(&q.key), q.kind) {
        (Some(Value::Array(items)), _) if max_items(q).is_some_and(|m| items.len() > m + 1) => true,
        (Some(section), QuestionKind::Section) => over_long(&q.children, section),
        (Some(Value::Array(items)), QuestionKind::Repeat) => {
            items.iter().any(|item| over_long(&q.children, item))
        }
        _ => false,
    })
}

/// Cuts every array answer to one item past its maximum (still refused for its length).
fn clamp(questions: &[Question], map: &mut Map<String, Value>) {
    for q in questions {
        match (map.get_mut(&q.key), q.kind) {
            (Some(Value::Array(items)), kind) => {
                if let Some(max) = max_items(q) {
                    items.truncate(max + 1);
                }
                if kind == QuestionKind::Repeat {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        clamp(&q.children, item);
                    }
                }
            }
            (Some(Value::Object(section)), QuestionKind::Section) => clamp(&q.children, section),
            _ => {}
        }
    }
}

/// The most errors a validation reports (then one `too_many_errors` counting the rest).
pub const MAX_ERRORS: usize = 50;
/// The most schema errors read before the rest are only "more": validation stays linear
/// and a refusal stays small whatever the answers hold.
const MAX_ERRORS_READ: usize = 1000;

/// The JSON pointers of the strings and keys in `value` that hold a NUL character
/// (U+0000), which PostgreSQL cannot store; `path` is `value`'s own pointer. A key's NUL is
/// shown as U+FFFD in the pointer. (A lone surrogate cannot reach here: JSON parsing refuses
/// it, and the browser turns it into U+FFFD on the way into the client.)
pub fn nul_characters(value: &Value, path: &str, out: &mut Vec<String>) {
    strings_containing(value, '\0', path, out)
}

/// The JSON pointers of the strings and keys in `value` that hold `c` (a key holding it is
/// shown with U+FFFD in its place); `path` is `value`'s own pointer.
pub fn strings_containing(value: &Value, c: char, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains(c) => out.push(path.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings_containing(item, c, &format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let at = push_token(path, &k.replace(c, "\u{fffd}"));
                if k.contains(c) {
                    out.push(at);
                } else {
                    strings_containing(v, c, &at, out);
                }
            }
        }
        _ => {}
    }
}

/// Refuses answers PostgreSQL cannot store: a NUL, often pasted from another app.
fn unstorable_text(answers: &Value, errors: &mut Vec<ValidationError>) {
    let mut paths = Vec::new();
    nul_characters(answers, "", &mut paths);
    for path in paths {
        errors.push(error(
            &path,
            "nul_character",
            "Cette réponse contient un caractère nul (U+0000), souvent collé depuis une autre \
             application : effacez-le et retapez le texte."
                .into(),
            "This answer contains a NUL character (U+0000), often pasted from another app: \
             delete it and type the text again."
                .into(),
        ));
    }
}

fn error(path: &str, code: &str, fr: String, en: String) -> ValidationError {
    ValidationError::new(path, code, Message::new(fr, en))
}
