//! Exports of a questionnaire's responses, NDJSON, CSV and GeoJSON (and `photos.zip`, in
//! [`photos`]), streamed from PostgreSQL in constant memory: a task reads rows from a
//! `fetch` stream and sends encoded chunks through a small bounded channel that the HTTP
//! body drains (so a slow client slows the query down instead of filling memory).
//!
//! CSV columns: the metadata columns, then the union of the columns of every exported
//! version in order of first appearance, as client-core's `Questionnaire::columns()` names
//! them (a section's questions become `section.question`, notes have no column). A multiple
//! choice is its `;`-joined values, then one 0/1 column per choice of any exported version
//! (`themes/budget`, as KoboToolbox names them; empty when unanswered). A repeat is its
//! number of items: its items are a CSV of their own (`repeat=NAME`: `response_id`,
//! `item_index` from 1, the item's columns by the same rules), which R and Excel join on
//! the response's id, where a cell of JSON would have to be parsed. A geopoint is compact
//! JSON whose keys are in the questionnaire's order (PostgreSQL's jsonb does not keep the
//! order they came in). `labels=LANG` writes choices', scales' and yes/no's labels instead
//! of values. The file opens with a UTF-8 byte order mark (Excel reads UTF-8 only then), its
//! separator is `,` or `;` (Excel in French), and every text cell a spreadsheet would run as
//! a formula is [`neutralise`]d; numbers are typed ([`Cell`]) and never are. Should a stored
//! document no longer parse, a plain flattening of its `properties` is used.
//!
//! GeoJSON: a FeatureCollection of Points `[lon, lat]`, one per located response (its
//! first location answer, else its own location), with the CSV's columns as typed
//! properties.
//!
//! Each response says which of the photos it names the server does not hold yet:
//! `photos_missing` (an array in NDJSON, `;`-joined in CSV, empty when complete), computed
//! by the streaming query itself.
//!
//! **Personal data** (GDPR data minimisation). The answers to questions marked
//! `"x-personal-data": true` (or inside a section or repeat so marked) identify the
//! respondent. An export either includes them or omits them ([`PersonalData`]); by default it
//! follows the caller's role ([`personal_for`]): coordinators and admins get them, analysts
//! do not and may not ask for them. What is personal is decided **per version**, from each
//! version's parsed questionnaire ([`VersionShape`]): omitting removes, from each row's
//! answers, the keys that are personal in *that row's* version — inside sections and in
//! every repeat item too — before anything is written. So the NDJSON `answers` lack those
//! keys, and a CSV cell of a personal answer is empty. A CSV column that is personal in
//! every exported version that has it is left out of the header altogether; one personal in
//! some versions only stays, empty on the rows of those versions. NDJSON lines say which
//! was done: `"personal_data": "omitted"` or `"included"`.
//!
//! ```text
//! GET /api/v1/questionnaires/parole-habitants/responses.csv?personal=omit
//! id,seq,…,photos_missing,quartier,…,recontact          (no prenom, telephone, email)
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use parole_client::api::{PersonalData, Role, Where};
use parole_client::i18n::Message;
use parole_client::questionnaire::QuestionKind;
use parole_client::Questionnaire;
use serde::Serialize;
use serde_json::{json, Value};

use crate::db::{self, ExportRow};

pub mod photos;
pub mod xlsx;

/// The metadata columns, before the answers' columns.
pub const META_COLUMNS: &[&str] = &[
    "id",
    "seq",
    "questionnaire",
    "version",
    "device_id",
    "sender_device_id",
    "started_at",
    "completed_at",
    "received_at",
    "location_lat",
    "location_lon",
    "location_accuracy_m",
    "content_hash",
    "photos_missing",
];

/// One answer column: its CSV name and where the answer is (a JSON pointer into `answers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub pointer: String,
    pub kind: ColumnKind,
    /// For JSON columns: the keys of the object (or of each repeat item), in question order.
    pub key_order: Vec<String>,
    /// The answer identifies the respondent (`x-personal-data` on the question or on an
    /// enclosing section), in the version the column comes from.
    pub personal: bool,
    /// The question's kind (`None` when the version's document no longer parses: then only
    /// repeats and locations are told apart, from their `x-widget`).
    pub question: Option<QuestionKind>,
    /// The choices of a single or multiple choice or a scale, in order (over several
    /// versions: their union, in order of first appearance, each labelled as in the newest
    /// version that has it).
    pub choices: Vec<ColumnChoice>,
    /// For a repeat: the columns of one item, their pointers relative to the item.
    pub items: Vec<Column>,
}

/// One choice of a column: its value and its label in each language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChoice {
    pub value: Value,
    /// Language → label (the default language's too).
    pub labels: BTreeMap<String, String>,
}

impl ColumnChoice {
    /// The label in `lang`, else in the questionnaire's default language, else the value.
    pub fn label(&self, lang: &str, default_lang: &str) -> String {
        self.labels
            .get(lang)
            .or_else(|| self.labels.get(default_lang))
            .or_else(|| self.labels.values().next())
            .cloned()
            .unwrap_or_else(|| choice_text(&self.value))
    }
}

/// A choice value as text (`budget`, `4`).
pub fn choice_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColumnKind {
    /// A string, number or boolean, written as is.
    #[default]
    Scalar,
    /// A multiple choice: the values joined with `;`.
    Multiple,
    /// A repeat, a geopoint or any object: compact JSON (a repeat in the CSV: its number
    /// of items).
    Json,
}

impl Column {
    /// A repeat (whose items are exported on their own with `repeat=`).
    pub fn is_repeat(&self) -> bool {
        self.question == Some(QuestionKind::Repeat)
    }
}

/// The columns of one questionnaire document, in question order (parsing it: when the
/// parsed version is at hand, [`VersionShape::new`] avoids parsing again).
pub fn columns(document: &Value) -> Vec<Column> {
    columns_of(document, Questionnaire::parse(document).ok().as_ref())
}

/// The columns of `document`, from its parsed questionnaire when there is one, else from a
/// plain flattening of its `properties`.
fn columns_of(document: &Value, parsed: Option<&Questionnaire>) -> Vec<Column> {
    let Some(q) = parsed else {
        let mut out = Vec::new();
        flatten(document, "", "", false, &mut out);
        return out;
    };
    let mut out = Vec::new();
    columns_of_questions(
        document,
        &q.questions,
        "",
        "",
        false,
        q.default_language(),
        &mut out,
    );
    out
}

/// The columns of `questions` (as client-core's `Questionnaire::columns`, plus each one's
/// choices and a repeat's item columns). `strip` is removed from the front of pointers (a
/// repeat item's columns point into the item).
fn columns_of_questions(
    document: &Value,
    questions: &[parole_client::questionnaire::Question],
    prefix: &str,
    strip: &str,
    personal: bool,
    default_lang: &str,
    out: &mut Vec<Column>,
) {
    for q in questions {
        let name = if prefix.is_empty() {
            q.key.clone()
        } else {
            format!("{prefix}.{}", q.key)
        };
        let personal = personal || q.personal_data;
        let pointer = q
            .pointer
            .strip_prefix(strip)
            .unwrap_or(&q.pointer)
            .to_string();
        let kind = match q.kind {
            QuestionKind::Note => continue,
            QuestionKind::Section => {
                columns_of_questions(
                    document,
                    &q.children,
                    &name,
                    strip,
                    personal,
                    default_lang,
                    out,
                );
                continue;
            }
            QuestionKind::MultipleChoice => ColumnKind::Multiple,
            QuestionKind::Repeat | QuestionKind::Geopoint => ColumnKind::Json,
            _ => ColumnKind::Scalar,
        };
        let key_order = if kind == ColumnKind::Json {
            key_order(document, &q.pointer)
        } else {
            Vec::new()
        };
        let mut items = Vec::new();
        if q.kind == QuestionKind::Repeat {
            let strip = format!("{}/-", q.pointer);
            columns_of_questions(
                document,
                &q.children,
                "",
                &strip,
                personal,
                default_lang,
                &mut items,
            );
        }
        out.push(Column {
            name,
            pointer,
            kind,
            key_order,
            personal,
            question: Some(q.kind),
            choices: q
                .choices
                .iter()
                .map(|c| ColumnChoice {
                    value: c.value.clone(),
                    labels: std::iter::once((default_lang.to_string(), c.title.clone()))
                        .chain(c.i18n.iter().map(|(l, t)| (l.clone(), t.clone())))
                        .collect(),
                })
                .collect(),
            items,
        });
    }
}

/// The keys of the object answered at `pointer` (or of its repeat items), in schema order.
fn key_order(document: &Value, pointer: &str) -> Vec<String> {
    let mut node = document;
    for token in pointer.split('/').skip(1) {
        if token == "-" {
            match node.get("items") {
                Some(n) => node = n,
                None => return Vec::new(),
            }
            continue;
        }
        let token = token.replace("~1", "/").replace("~0", "~");
        match node.get("properties").and_then(|p| p.get(&token)) {
            Some(n) => node = n,
            None => return Vec::new(),
        }
    }
    let node = node.get("items").unwrap_or(node);
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// `value` with its object keys (one level, or in each array item) in `order` first.
fn reorder(value: &Value, order: &[String]) -> Value {
    let one = |v: &Value| match v {
        Value::Object(map) if !order.is_empty() => {
            let mut out = serde_json::Map::new();
            for k in order {
                if let Some(x) = map.get(k) {
                    out.insert(k.clone(), x.clone());
                }
            }
            for (k, x) in map {
                if !out.contains_key(k) {
                    out.insert(k.clone(), x.clone());
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().map(one).collect()),
        other => one(other),
    }
}

fn flatten(
    schema: &Value,
    name_prefix: &str,
    pointer_prefix: &str,
    personal: bool,
    out: &mut Vec<Column>,
) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, q) in props {
        let personal = personal || marked_personal(q);
        let name = format!("{name_prefix}{key}");
        let pointer = format!(
            "{pointer_prefix}/{}",
            key.replace('~', "~0").replace('/', "~1")
        );
        let ty = q.get("type").and_then(Value::as_str).unwrap_or_default();
        let widget = q
            .get("x-widget")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = match (ty, widget) {
            ("null", _) | (_, "note") => continue,
            ("object", "section") => {
                flatten(q, &format!("{name}."), &pointer, personal, out);
                continue;
            }
            ("array", "repeat") => ColumnKind::Json,
            ("array", _) => ColumnKind::Multiple,
            ("object", _) => ColumnKind::Json,
            _ => ColumnKind::Scalar,
        };
        let key_order = if kind == ColumnKind::Json {
            let node = q.get("items").unwrap_or(q);
            node.get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let question = match (ty, widget) {
            ("array", "repeat") => Some(QuestionKind::Repeat),
            (_, "geopoint") => Some(QuestionKind::Geopoint),
            _ => None,
        };
        let mut items = Vec::new();
        if question == Some(QuestionKind::Repeat) {
            if let Some(item) = q.get("items") {
                flatten(item, "", "", personal, &mut items);
            }
        }
        out.push(Column {
            name,
            pointer,
            kind,
            key_order,
            personal,
            question,
            items,
            ..Column::default()
        });
    }
}

fn marked_personal(schema: &Value) -> bool {
    schema.get("x-personal-data") == Some(&Value::Bool(true))
}

/// The union of several documents' columns, in order of first appearance (everything
/// included).
pub fn union_columns<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Vec<Column> {
    let shapes: Vec<VersionShape> = documents
        .into_iter()
        .map(|d| VersionShape::new(d, Questionnaire::parse(d).ok().as_ref()))
        .collect();
    union_of(&shapes, PersonalData::Include)
}

/// The union of several versions' columns, in order of first appearance. With
/// [`PersonalData::Omit`], a column personal in every version that has it is left out (one
/// personal in some versions only stays: its cells are emptied on those versions' rows by
/// [`VersionShape::redact`]).
pub fn union_of<'a>(
    shapes: impl IntoIterator<Item = &'a VersionShape>,
    personal: PersonalData,
) -> Vec<Column> {
    // Each column with "personal in every version seen so far".
    union_of_columns(shapes.into_iter().map(|s| s.columns.as_slice()), personal)
}

fn union_of_columns<'a>(
    lists: impl IntoIterator<Item = &'a [Column]>,
    personal: PersonalData,
) -> Vec<Column> {
    // Each column with "personal in every version seen so far", and its items in each
    // version.
    let mut out: Vec<(Column, bool, Vec<&'a [Column]>)> = Vec::new();
    for list in lists {
        for c in list {
            match out.iter_mut().find(|(o, _, _)| o.name == c.name) {
                Some((o, always, items)) => {
                    *always &= c.personal;
                    for choice in &c.choices {
                        match o.choices.iter_mut().find(|x| x.value == choice.value) {
                            // The newest version's labels.
                            Some(x) => x.labels = choice.labels.clone(),
                            None => o.choices.push(choice.clone()),
                        }
                    }
                    items.push(c.items.as_slice());
                }
                None => out.push((c.clone(), c.personal, vec![c.items.as_slice()])),
            }
        }
    }
    out.into_iter()
        .filter(|(_, always_personal, _)| personal == PersonalData::Include || !always_personal)
        .map(|(mut c, _, items)| {
            if c.is_repeat() {
                c.items = union_of_columns(items, personal);
            }
            c
        })
        .collect()
}

/// The `where=question:value` filters resolved against the exported `columns`: one
/// [`db::AnswerIs`] per question, its values alternatives. A question that has no column
/// (unknown, a note, left out as personal) or whose answers are not single values (a repeat,
/// a location) is refused, named.
pub fn resolve_where(columns: &[Column], wheres: &[Where]) -> Result<Vec<db::AnswerIs>, Message> {
    let mut out: Vec<(String, db::AnswerIs)> = Vec::new();
    for w in wheres {
        let Some(column) = columns.iter().find(|c| c.name == w.question) else {
            return Err(Message::new(
                format!(
                    "where : pas de question « {} » dans ce questionnaire",
                    w.question
                ),
                format!("where: no question `{}` in this questionnaire", w.question),
            ));
        };
        if column.kind == ColumnKind::Json {
            return Err(Message::new(
                format!(
                    "where : « {} » ne se filtre pas (liste répétée ou position)",
                    w.question
                ),
                format!(
                    "where: `{}` cannot be filtered on (a repeat or a location)",
                    w.question
                ),
            ));
        }
        match out.iter_mut().find(|(name, _)| *name == w.question) {
            Some((_, a)) => a.values.push(w.value.clone()),
            None => out.push((
                w.question.clone(),
                db::AnswerIs {
                    path: pointer_tokens(&column.pointer),
                    values: vec![w.value.clone()],
                },
            )),
        }
    }
    Ok(out.into_iter().map(|(_, a)| a).collect())
}

// ---------------------------------------------------------------------------------------------
// Personal data

/// What the NDJSON lines say an export did: `omitted` or `included`.
pub fn personal_done(personal: PersonalData) -> &'static str {
    match personal {
        PersonalData::Include => "included",
        PersonalData::Omit => "omitted",
    }
}

/// An analyst asked for personal data: refused (403), with what to ask instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct PersonalDataRefused;

impl PersonalDataRefused {
    pub fn message(&self) -> Message {
        Message::new(
            "les données personnelles (questions marquées x-personal-data : nom, téléphone, \
             e-mail…) ne sont exportées que pour les coordinateurs : exportez avec \
             personal=omit ou sans ce paramètre",
            "personal data (questions marked x-personal-data: name, phone, e-mail…) is \
             exported to coordinators only: export with personal=omit or without this \
             parameter",
        )
    }
}

/// `include` 400.
pub fn personal_for(
    role: Role,
    asked: Option<PersonalData>,
) -> Result<PersonalData, PersonalDataRefused> {
    let entitled = matches!(role, Role::Admin | Role::Coordinator);
    let mode = match asked {
        None if entitled => PersonalData::Include,
        None => PersonalData::Omit,
        Some(mode) => mode,
    };
    if mode == PersonalData::Include && !entitled {
        return Err(PersonalDataRefused);
    }
    Ok(mode)
}

/// What an export needs to know of one questionnaire version: its columns, and where its
/// personal answers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionShape {
    pub columns: Vec<Column>,
    /// The paths (unescaped JSON pointer tokens) of the personal answers, `-` standing for
    /// every item of a repeat: `["prenom"]`, `["enfants", "-", "nom"]`. A personal section or
    /// repeat is one path (all of it goes).
    pub personal: Vec<Vec<String>>,
    /// The languages its labels exist in, default first (empty when it no longer parses).
    pub languages: Vec<String>,
}

impl VersionShape {
    /// The shape of `document`, from its parsed questionnaire when there is one (the
    /// server's cache holds them), else from the document itself (a stored version that no
    /// longer parses still has its `x-personal-data` marks honoured).
    pub fn new(document: &Value, parsed: Option<&Questionnaire>) -> VersionShape {
        let mut personal = Vec::new();
        match parsed {
            Some(q) => personal_paths(&q.questions, &mut personal),
            None => personal_paths_in_schema(document, &mut Vec::new(), &mut personal),
        }
        VersionShape {
            columns: columns_of(document, parsed),
            personal,
            languages: parsed.map(|q| q.languages.clone()).unwrap_or_default(),
        }
    }

    /// Removes this version's personal answers from `answers`.
    pub fn redact(&self, answers: &mut Value) {
        for path in &self.personal {
            remove_path(answers, path);
        }
    }
}

fn personal_paths(
    questions: &[parole_client::questionnaire::Question],
    out: &mut Vec<Vec<String>>,
) {
    for q in questions {
        if q.personal_data {
            out.push(pointer_tokens(&q.pointer));
        } else {
            personal_paths(&q.children, out);
        }
    }
}

/// The same as [`personal_paths`], from a raw document: sections' `properties`, repeats'
/// `items.properties`.
fn personal_paths_in_schema(schema: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, q) in props {
        at.push(key.clone());
        if marked_personal(q) {
            out.push(at.clone());
        } else if let Some(items) = q.get("items").filter(|i| i.get("properties").is_some()) {
            at.push("-".into());
            personal_paths_in_schema(items, at, out);
            at.pop();
        } else {
            personal_paths_in_schema(q, at, out);
        }
        at.pop();
    }
}

fn pointer_tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Removes the value at `path` (`-` = in every item of an array), if there.
fn remove_path(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Object(map) if rest.is_empty() => {
            map.shift_remove(first);
        }
        Value::Object(map) => {
            if let Some(child) = map.get_mut(first) {
                remove_path(child, rest);
            }
        }
        Value::Array(items) if first == "-" => {
            for item in items {
                remove_path(item, rest);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Cells

/// `value.pointer(pointer)` without its two allocations per token (it unescapes every
/// token): a token is unescaped here only when it holds a `~`. An export looks up every
/// column of every row.
pub fn pointer<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(value, |value, token| {
            let token = match token.contains('~') {
                true => Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
                false => Cow::Borrowed(token),
            };
            match value {
                Value::Object(map) => map.get(token.as_ref()),
                // As `Value::pointer`: no sign, no leading zero.
                Value::Array(items)
                    if !token.starts_with('+') && (token == "0" || !token.starts_with('0')) =>
                {
                    items.get(token.parse::<usize>().ok()?)
                }
                _ => None,
            }
        })
}

/// One cell of an export, typed: text is [`neutralise`]d in spreadsheets (CSV, XLSX),
/// numbers are written as numbers and never prefixed.
/// Text borrows from the row where it can: an export makes millions of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    Bool(bool),
}

impl<'a> Cell<'a> {
    /// A plain answer as it is: a string is text, a number a number; an array or object
    /// (not expected here) compact JSON.
    fn of(value: Option<&'a Value>) -> Cell<'a> {
        match value {
            None | Some(Value::Null) => Cell::Empty,
            Some(Value::String(s)) => Cell::Text(Cow::Borrowed(s)),
            Some(Value::Number(n)) => Cell::Number(n.clone()),
            Some(Value::Bool(b)) => Cell::Bool(*b),
            Some(v) => Cell::text(v.to_string()),
        }
    }

    fn text(s: String) -> Cell<'a> {
        Cell::Text(Cow::Owned(s))
    }

    fn count(n: usize) -> Cell<'a> {
        Cell::Number(serde_json::Number::from(n))
    }

    /// The cell as CSV text: text [`neutralise`]d, numbers and booleans as JSON writes them.
    pub fn csv(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => neutralise(s),
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// The cell as a JSON value (GeoJSON properties): never neutralised.
    pub fn json(self) -> Value {
        match self {
            Cell::Empty => Value::Null,
            Cell::Text(s) => Value::String(s.into_owned()),
            Cell::Number(n) => Value::Number(n),
            Cell::Bool(b) => Value::Bool(b),
        }
    }
}

/// A text cell as a spreadsheet must get it: one that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be read as a formula by Excel or LibreOffice (CSV injection),
/// so it gets a `'` in front, which they show as text. Only for text: a number answered to
/// a number question (`-2`) is a [`Cell::Number`] and is never prefixed.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Labels instead of values: choices, scales and yes/no written in `lang`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub lang: String,
    /// The questionnaire's default language: a label missing in `lang` is taken in it.
    pub default_lang: String,
}

impl Labels {
    fn yes_no(&self, b: bool) -> &'static str {
        match (self.lang.as_str(), b) {
            ("fr", true) => "oui",
            ("fr", false) => "non",
            ("ar", true) => "نعم",
            ("ar", false) => "لا",
            (_, true) => "yes",
            (_, false) => "no",
        }
    }

    fn choice(&self, column: &Column, value: &Value) -> Option<String> {
        let c = column.choices.iter().find(|c| &c.value == value)?;
        Some(c.label(&self.lang, &self.default_lang))
    }
}

/// The header cells of one answer column: its name, and for a multiple choice one
/// `name/value` column per choice (as KoboToolbox names them).
pub fn answer_header(column: &Column, out: &mut Vec<String>) {
    out.push(column.name.clone());
    if column.kind == ColumnKind::Multiple {
        for c in &column.choices {
            out.push(format!("{}/{}", column.name, choice_text(&c.value)));
        }
    }
}

/// The cells of one answer (as many as [`answer_header`] names): a multiple choice is its
/// values (or labels) joined with `;`, then a 0/1 cell per choice (all empty when the
/// question was not answered); a repeat is its number of items (its items go to their own
/// file with `repeat=`); a location is compact JSON; a choice, a scale or a yes/no is its
/// label when `labels` asks for one; anything else as it is.
pub fn answer_cells<'a>(
    value: Option<&'a Value>,
    column: &Column,
    labels: Option<&Labels>,
    out: &mut Vec<Cell<'a>>,
) {
    let value = value.filter(|v| !v.is_null());
    match column.kind {
        ColumnKind::Multiple => {
            let items = value.and_then(Value::as_array);
            out.push(match (items, value) {
                (Some(items), _) => Cell::text(
                    items
                        .iter()
                        .map(|v| {
                            labels
                                .and_then(|l| l.choice(column, v))
                                .unwrap_or_else(|| choice_text(v))
                        })
                        .collect::<Vec<_>>()
                        .join(";"),
                ),
                (None, v) => Cell::of(v),
            });
            for c in &column.choices {
                out.push(match items {
                    Some(items) => Cell::count(usize::from(items.contains(&c.value))),
                    None => Cell::Empty,
                });
            }
        }
        ColumnKind::Json => out.push(match value {
            Some(Value::Array(items)) if column.is_repeat() => Cell::count(items.len()),
            Some(v @ (Value::Array(_) | Value::Object(_))) => {
                Cell::text(reorder(v, &column.key_order).to_string())
            }
            v => Cell::of(v),
        }),
        ColumnKind::Scalar => out.push(match (labels, value) {
            (Some(l), Some(Value::Bool(b))) => Cell::Text(Cow::Borrowed(l.yes_no(*b))),
            (Some(l), Some(v)) => match l.choice(column, v) {
                Some(label) => Cell::text(label),
                None => Cell::of(Some(v)),
            },
            (_, v) => Cell::of(v),
        }),
    }
}

fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The decimals a location keeps when personal data is omitted: 3, about 100 m, enough to
/// place a response in its neighbourhood, not at a door.
pub const COARSE_DECIMALS: i32 = 3;

/// Rounds a location's `lat` and `lon` to [`COARSE_DECIMALS`]; its accuracy becomes at least
/// what the rounding loses.
pub fn coarsen(location: &mut Value) {
    let factor = 10f64.powi(COARSE_DECIMALS);
    for key in ["lat", "lon"] {
        if let Some(x) = location.get(key).and_then(Value::as_f64) {
            location[key] = json!((x * factor).round() / factor);
        }
    }
    if let Some(obj) = location.as_object_mut() {
        // Half a step of latitude, in metres (a degree is about 111 km).
        let lost = 111_000.0 / factor / 2.0;
        let accuracy = obj.get("accuracy_m").and_then(Value::as_f64).unwrap_or(0.0);
        obj.insert("accuracy_m".into(), json!(accuracy.max(lost).round()));
    }
}

/// One NDJSON line (with its `\n`); `personal` says what was done with the personal
/// answers (already removed from `row.answers` when omitted).
pub fn ndjson_line(slug: &str, row: &ExportRow, personal: PersonalData, out: &mut Vec<u8>) {
    /// The line's fields, in order, borrowed from the row (a `json!` would copy the answers).
    #[derive(Serialize)]
    struct Line<'a> {
        id: uuid::Uuid,
        seq: i64,
        questionnaire: &'a str,
        version: i32,
        device_id: Option<uuid::Uuid>,
        sender_device_id: Option<uuid::Uuid>,
        started_at: &'a str,
        completed_at: &'a str,
        received_at: String,
        location: &'a Option<Value>,
        content_hash: &'a str,
        photos_missing: &'a [String],
        personal_data: &'static str,
        answers: &'a Value,
    }
    let line = Line {
        id: row.id,
        seq: row.seq,
        questionnaire: slug,
        version: row.version,
        device_id: row.device_id,
        sender_device_id: row.sender_device_id,
        started_at: &row.started_at,
        completed_at: &row.completed_at,
        received_at: timestamp(&row.received_at),
        location: &row.location,
        content_hash: &row.content_hash,
        photos_missing: &row.photos_missing,
        personal_data: personal_done(personal),
        answers: &row.answers,
    };
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &line);
    out.push(b'\n');
}

/// The metadata cells of a response (as [`META_COLUMNS`] names them).
pub fn meta_cells<'a>(slug: &'a str, row: &'a ExportRow) -> Vec<Cell<'a>> {
    let loc = |k: &str| Cell::of(row.location.as_ref().and_then(|l| l.get(k)));
    let uuid = |d: Option<uuid::Uuid>| d.map_or(Cell::Empty, |d| Cell::text(d.to_string()));
    vec![
        Cell::text(row.id.to_string()),
        Cell::Number(row.seq.into()),
        Cell::Text(Cow::Borrowed(slug)),
        Cell::Number(row.version.into()),
        uuid(row.device_id),
        uuid(row.sender_device_id),
        Cell::Text(Cow::Borrowed(&row.started_at)),
        Cell::Text(Cow::Borrowed(&row.completed_at)),
        Cell::text(timestamp(&row.received_at)),
        loc("lat"),
        loc("lon"),
        loc("accuracy_m"),
        Cell::Text(Cow::Borrowed(&row.content_hash)),
        match row.photos_missing.as_slice() {
            [] => Cell::Text(Cow::Borrowed("")),
            [one] => Cell::Text(Cow::Borrowed(one)),
            many => Cell::text(many.join(";")),
        },
    ]
}

/// The CSV header's cells: the metadata and the answers' columns, or for the items of a
/// repeat (`options.repeat`) `response_id`, `item_index` and the item's columns.
pub fn csv_header(columns: &[Column], options: &Options) -> Vec<String> {
    let (mut out, columns) = match &options.repeat {
        Some(repeat) => (
            vec!["response_id".to_string(), "item_index".to_string()],
            repeat.items.as_slice(),
        ),
        None => (
            META_COLUMNS.iter().map(|s| s.to_string()).collect(),
            columns,
        ),
    };
    for c in columns {
        answer_header(c, &mut out);
    }
    out
}

/// One CSV record's cells: the metadata, then the answers.
pub fn csv_record<'a>(
    slug: &'a str,
    columns: &[Column],
    row: &'a ExportRow,
    labels: Option<&Labels>,
) -> Vec<Cell<'a>> {
    let mut cells = meta_cells(slug, row);
    for c in columns {
        answer_cells(pointer(&row.answers, &c.pointer), c, labels, &mut cells);
    }
    cells
}

/// The records of a response's items of `repeat`: `response_id`, `item_index` (from 1),
/// then the item's answers.
pub fn repeat_records<'a>(
    row: &'a ExportRow,
    repeat: &Column,
    labels: Option<&Labels>,
) -> Vec<Vec<Cell<'a>>> {
    let Some(items) = pointer(&row.answers, &repeat.pointer).and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut cells = vec![Cell::text(row.id.to_string()), Cell::count(i + 1)];
            for c in &repeat.items {
                answer_cells(pointer(item, &c.pointer), c, labels, &mut cells);
            }
            cells
        })
        .collect()
}

/// Appends one CSV record to `out`, as RFC 4180 says: a field that holds the separator, a
/// quote or a line break is quoted, its quotes doubled; CRLF after the record. (Written
/// here rather than with a `csv::Writer`, which costs a buffer per record; the tests read
/// every export back with the `csv` crate.)
fn csv_write<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = Cow<'a, str>>, sep: u8) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let field = cell.as_bytes();
        if field
            .iter()
            .any(|&b| b == sep || b == b'"' || b == b'\n' || b == b'\r')
        {
            out.push(b'"');
            for (j, part) in field.split(|&b| b == b'"').enumerate() {
                if j > 0 {
                    out.extend_from_slice(b"\"\"");
                }
                out.extend_from_slice(part);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The byte order mark that opens a CSV: Excel reads the file as UTF-8 only with it.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------------
// GeoJSON

/// Where a GeoJSON feature's point comes from: the first location answer (its column
/// name), else the response's own location (`response`). `None`: the response is not
/// located.
fn located(columns: &[Column], row: &ExportRow) -> Option<(f64, f64, Option<Value>, String)> {
    let point = |v: &Value| {
        let lat = v.get("lat")?.as_f64()?;
        let lon = v.get("lon")?.as_f64()?;
        Some((lon, lat, v.get("accuracy_m").cloned()))
    };
    columns
        .iter()
        .filter(|c| c.question == Some(QuestionKind::Geopoint))
        .find_map(|c| {
            let (lon, lat, acc) = point(pointer(&row.answers, &c.pointer)?)?;
            Some((lon, lat, acc, c.name.clone()))
        })
        .or_else(|| {
            let (lon, lat, acc) = point(row.location.as_ref()?)?;
            Some((lon, lat, acc, "response".to_string()))
        })
}

/// One GeoJSON feature (a Point at `[lon, lat]`), or `None` for a response without a
/// location. Properties: the metadata, `location_source` (the location answer's column, or
/// `response`), then the answers named and flattened as the CSV's columns, typed (numbers
/// as numbers, nothing neutralised: not a spreadsheet).
pub fn geojson_feature(
    slug: &str,
    columns: &[Column],
    row: &ExportRow,
    labels: Option<&Labels>,
) -> Option<Value> {
    let (lon, lat, accuracy, source) = located(columns, row)?;
    let mut props = serde_json::Map::new();
    for (name, cell) in META_COLUMNS.iter().zip(meta_cells(slug, row)) {
        match *name {
            "location_lat" | "location_lon" => {}
            "location_accuracy_m" => {
                props.insert("location_source".into(), Value::String(source.clone()));
                props.insert(
                    "location_accuracy_m".into(),
                    accuracy.clone().unwrap_or(Value::Null),
                );
            }
            _ => {
                props.insert(name.to_string(), cell.json());
            }
        }
    }
    let (mut names, mut cells) = (Vec::new(), Vec::new());
    for c in columns {
        answer_header(c, &mut names);
        answer_cells(pointer(&row.answers, &c.pointer), c, labels, &mut cells);
    }
    for (name, cell) in names.into_iter().zip(cells) {
        props.insert(name, cell.json());
    }
    Some(json!({
        "type": "Feature",
        "id": row.id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }))
}

/// What a reader not entitled to personal data gets of one response (the exports with
/// `personal=omit`, and `GET /api/v1/responses/{id}` for an analyst): the answers to its
/// version's personal questions removed, the location [`coarsen`]ed. `shape` is its
/// version's; without one (a version unknown to the caller) none of its answers go out.
pub fn withhold_personal(
    answers: &mut Value,
    location: &mut Option<Value>,
    version: i32,
    shape: Option<&VersionShape>,
) {
    if let Some(location) = location {
        coarsen(location);
    }
    match shape {
        Some(shape) => shape.redact(answers),
        None => {
            // A version published after the export started: what is personal in it is
            // unknown here, so none of its answers go out.
            tracing::warn!(version, "answers of an unknown version left out");
            *answers = json!({});
        }
    }
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
    Geojson,
    /// Written by [`xlsx::stream`], not by [`stream`].
    Xlsx,
}

/// How a CSV or GeoJSON export writes its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The CSV separator: `,` or `;`.
    pub sep: u8,
    /// Labels instead of values (CSV, GeoJSON).
    pub labels: Option<Labels>,
    /// CSV: the rows are this repeat's items (its [`Column::items`] the columns).
    pub repeat: Option<Column>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sep: b',',
            labels: None,
            repeat: None,
        }
    }
}

/// What to export, besides the pool.
#[derive(Debug, Clone)]
pub struct Plan {
    pub slug: String,
    pub questionnaire_id: i64,
    /// Which responses (the version, dates, answers…, and the approved only for an analyst
    /// on an `approved_only` questionnaire).
    pub filter: db::Filter,
    /// Only the responses with `seq > after`.
    pub after: i64,
    /// Only the responses with `seq <= until`: every response under it is committed (see
    /// [`db::committed_horizon`]).
    pub until: i64,
    pub format: Format,
    /// The CSV columns ([`union_of`] the exported versions; unused for NDJSON).
    pub columns: Vec<Column>,
    pub personal: PersonalData,
    /// The exported versions' shapes, by version number.
    pub shapes: HashMap<i32, VersionShape>,
    pub options: Options,
}

impl Format {
    /// Its name, as in the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Geojson => "geojson",
            Format::Xlsx => "xlsx",
        }
    }
}

impl Plan {
    /// What comes before the rows.
    fn prelude(&self) -> Vec<u8> {
        match self.format {
            Format::Ndjson | Format::Xlsx => Vec::new(),
            Format::Csv => {
                let mut out = BOM.to_vec();
                let header = csv_header(&self.columns, &self.options);
                csv_write(
                    &mut out,
                    header.iter().map(|h| neutralise(h)),
                    self.options.sep,
                );
                out
            }
            Format::Geojson => br#"{"type":"FeatureCollection","features":["#.to_vec(),
        }
    }

    /// What comes after the rows.
    fn epilogue(&self) -> Vec<u8> {
        match self.format {
            Format::Geojson => b"\n]}\n".to_vec(),
            Format::Ndjson | Format::Csv | Format::Xlsx => Vec::new(),
        }
    }

    /// The query of the rows to export (run it with [`db::export_rows`]).
    fn query(&self) -> sqlx::QueryBuilder<'static, sqlx::Postgres> {
        db::export_query(
            self.questionnaire_id,
            &self.filter,
            self.after,
            self.until,
            self.personal == PersonalData::Include,
        )
    }

    /// Removes what the reader may not have of `row` (see [`withhold_personal`]).
    fn withhold(&self, row: &mut ExportRow) {
        if self.personal == PersonalData::Omit {
            withhold_personal(
                &mut row.answers,
                &mut row.location,
                row.version,
                self.shapes.get(&row.version),
            );
        }
    }

    /// One row, encoded and appended to `out`; its personal answers removed first when
    /// they are omitted. `written` counts the records written so far (GeoJSON separates
    /// them with commas; a response without a location writes none).
    fn encode(&self, mut row: ExportRow, out: &mut Vec<u8>, written: &mut u64) {
        self.withhold(&mut row);
        let labels = self.options.labels.as_ref();
        match self.format {
            Format::Ndjson => ndjson_line(&self.slug, &row, self.personal, out),
            Format::Csv => match &self.options.repeat {
                Some(repeat) => {
                    for record in repeat_records(&row, repeat, labels) {
                        csv_write(out, record.iter().map(Cell::csv), self.options.sep);
                    }
                }
                None => {
                    let record = csv_record(&self.slug, &self.columns, &row, labels);
                    csv_write(out, record.iter().map(Cell::csv), self.options.sep);
                }
            },
            Format::Geojson => {
                let Some(feature) = geojson_feature(&self.slug, &self.columns, &row, labels) else {
                    return;
                };
                out.extend_from_slice(if *written == 0 { b"\n" } else { b",\n" });
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &feature);
            }
            Format::Xlsx => {} // see `xlsx::stream`
        }
        *written += 1;
    }
}

/// How long an export waits for its client to take the next chunk before it gives up (and
/// hands its database connection back): a reader that stalls cannot hold one for ever.
pub const IDLE_STREAM: std::time::Duration = std::time::Duration::from_secs(60);

/// Streams an export as body chunks. Rows are read in a task; the bounded channel keeps
/// memory constant. A database error mid-stream ends the body with an error (the client
/// sees a truncated transfer, never a silently short file), and so does a client that takes
/// no chunk for [`IDLE_STREAM`]. `permit` (one of the exports' share of the pool) is held
/// until the stream ends.
pub fn stream(
    pool: sqlx::PgPool,
    plan: Plan,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let _permit = permit;
        let mut tx = Sender(tx);
        let prelude = plan.prelude();
        if !prelude.is_empty() && tx.send(Ok(Bytes::from(prelude))).await.is_err() {
            return;
        }
        let mut query = plan.query();
        let mut rows = db::export_rows(&pool, &mut query);
        // Batch small rows into chunks of about 64 KiB.
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut written = 0;
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => {
                    plan.encode(row, &mut buf, &mut written);
                    if buf.len() >= 64 * 1024
                        && tx
                            .send(Ok(Bytes::from(std::mem::take(&mut buf))))
                            .await
                            .is_err()
                    {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "export interrupted");
                    let _ = tx
                        .send(Err(std::io::Error::other("export interrupted")))
                        .await;
                    return;
                }
            }
        }
        buf.extend_from_slice(&plan.epilogue());
        if !buf.is_empty() {
            let _ = tx.send(Ok(Bytes::from(buf))).await;
        }
        crate::metrics::METRICS.export_rows(plan.format.name(), written);
    });
    rx
}

/// The stream's sending half: a chunk the client does not take within [`IDLE_STREAM`] ends
/// the export.
struct Sender(futures::channel::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Sender {
    async fn send(&mut self, chunk: Result<Bytes, std::io::Error>) -> Result<(), ()> {
        match tokio::time::timeout(IDLE_STREAM, self.0.send(chunk)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(()), // the client went away
            Err(_) => {
                tracing::warn!("export: the client took no data for {IDLE_STREAM:?}; stopped");
                Err(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_finds_what_value_pointer_finds() {
        let v = json!({"a": {"b/c": [1, {"d~e": 2}]}, "": 3, "x": [4]});
        for p in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/",
            "/x/0",
            "/x/00",
            "/x/+0",
            "/x/1",
            "/a/b",
            "a",
            "/a/b~1c/01",
        ] {
            assert_eq!(pointer(&v, p), v.pointer(p), "{p}");
        }
    }

    #[test]
    fn csv_records_read_back_as_written() {
        let fields = [
            "plain",
            "with,comma",
            "with;semicolon",
            "say \"hi\"",
            "two\r\nlines",
            "",
        ];
        for sep in [b',', b';'] {
            let mut out = Vec::new();
            csv_write(&mut out, fields.iter().map(|f| Cow::Borrowed(*f)), sep);
            csv_write(&mut out, ["x", "y"].map(Cow::Borrowed), sep);
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(sep)
                .has_headers(false)
                .flexible(true)
                .from_reader(out.as_slice());
            let records: Vec<Vec<String>> = reader
                .records()
                .map(|r| r.unwrap().iter().map(String::from).collect())
                .collect();
            assert_eq!(records, [fields.to_vec(), vec!["x", "y"]]);
            assert!(out.ends_with(&[b'x', sep, b'y', b'\r', b'\n']));
        }
    }

    #[test]
    fn sections_flatten_to_dotted_names_and_notes_have_no_column() {
        let doc = json!({"properties": {
            "intro": {"type": "null", "x-widget": "note"},
            "age": {"type": "integer"},
            "cadre": {"type": "object", "x-widget": "section", "properties": {
                "logement": {"type": "integer"}, "themes": {"type": "array", "items": {}}
            }},
            "enfants": {"type": "array", "x-widget": "repeat", "items": {}},
            "lieu": {"type": "object", "x-widget": "geopoint"}
        }});
        let cols = columns(&doc);
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["age", "cadre.logement", "cadre.themes", "enfants", "lieu"]
        );
        assert_eq!(cols[1].pointer, "/cadre/logement");
        assert_eq!(cols[2].kind, ColumnKind::Multiple);
        assert_eq!(cols[3].kind, ColumnKind::Json);
    }

    #[test]
    fn the_union_of_versions_keeps_first_appearance_order() {
        let v1 = json!({"properties": {"a": {"type": "string"}, "b": {"type": "string"}}});
        let v2 = json!({"properties": {"a": {"type": "string"}, "c": {"type": "string"}}});
        let names: Vec<_> = union_columns([&v1, &v2])
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    fn csv_of(value: Option<&Value>, column: &Column, labels: Option<&Labels>) -> Vec<String> {
        let mut cells = Vec::new();
        answer_cells(value, column, labels, &mut cells);
        cells.iter().map(|c| c.csv().into_owned()).collect()
    }

    #[test]
    fn cells_join_multiple_choices_count_repeats_and_write_locations_as_json() {
        let choice = |v: &str| ColumnChoice {
            value: json!(v),
            labels: [("fr".to_string(), format!("« {v} »"))].into(),
        };
        let multiple = Column {
            name: "themes".into(),
            pointer: "/themes".into(),
            kind: ColumnKind::Multiple,
            question: Some(QuestionKind::MultipleChoice),
            choices: vec![choice("a"), choice("b"), choice("c")],
            ..Column::default()
        };
        let mut header = Vec::new();
        answer_header(&multiple, &mut header);
        assert_eq!(header, ["themes", "themes/a", "themes/b", "themes/c"]);
        assert_eq!(
            csv_of(Some(&json!(["a", "c"])), &multiple, None),
            ["a;c", "1", "0", "1"]
        );
        assert_eq!(csv_of(None, &multiple, None), ["", "", "", ""]);
        let fr = Labels {
            lang: "fr".into(),
            default_lang: "fr".into(),
        };
        assert_eq!(
            csv_of(Some(&json!(["b"])), &multiple, Some(&fr)),
            ["« b »", "0", "1", "0"]
        );
        let repeat = Column {
            name: "r".into(),
            pointer: "/r".into(),
            kind: ColumnKind::Json,
            question: Some(QuestionKind::Repeat),
            ..Column::default()
        };
        assert_eq!(csv_of(Some(&json!([{}, {}, {}])), &repeat, None), ["3"]);
        let point = Column {
            name: "p".into(),
            pointer: "/p".into(),
            kind: ColumnKind::Json,
            key_order: vec!["lat".into(), "lon".into()],
            question: Some(QuestionKind::Geopoint),
            ..Column::default()
        };
        assert_eq!(
            csv_of(Some(&json!({"lon": 2, "lat": 1})), &point, None),
            [r#"{"lat":1,"lon":2}"#]
        );
        let scalar = Column::default();
        assert_eq!(csv_of(Some(&json!(4.5)), &scalar, None), ["4.5"]);
        assert_eq!(csv_of(Some(&json!(true)), &scalar, None), ["true"]);
        assert_eq!(csv_of(Some(&json!(true)), &scalar, Some(&fr)), ["oui"]);
        assert_eq!(csv_of(None, &scalar, None), [""]);
    }

    #[test]
    fn text_that_a_spreadsheet_would_run_is_prefixed_and_numbers_are_not() {
        for s in ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(s), format!("'{s}"), "{s:?}");
        }
        for s in ["", "bonjour", "مرحبا", "1=1", " =x", "'déjà"] {
            assert_eq!(neutralise(s), s, "{s:?}");
        }
        let scalar = Column::default();
        assert_eq!(csv_of(Some(&json!(-2)), &scalar, None), ["-2"]);
        assert_eq!(csv_of(Some(&json!("-2")), &scalar, None), ["'-2"]);
    }

    fn parsed(doc: &Value) -> Questionnaire {
        Questionnaire::parse(doc).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A version with personal answers at the top, in a section and in a repeat's items.
    fn nested() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Test",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "nom": {"type": "string", "title": "Nom", "x-personal-data": true},
                "avis": {"type": "string", "title": "Avis"},
                "foyer": {"type": "object", "x-widget": "section", "title": "Foyer",
                    "additionalProperties": false, "properties": {
                    "taille": {"type": "integer", "title": "Taille"},
                    "adresse": {"type": "string", "title": "Adresse", "x-personal-data": true}
                }},
                "enfants": {"type": "array", "x-widget": "repeat", "title": "Enfants",
                    "items": {"type": "object", "additionalProperties": false, "properties": {
                        "prenom": {"type": "string", "title": "Prénom", "x-personal-data": true},
                        "age": {"type": "integer", "title": "Âge"}
                    }}}
            }
        })
    }

    fn answers() -> Value {
        json!({
            "nom": "Aïcha", "avis": "bien",
            "foyer": {"taille": 3, "adresse": "1 rue X"},
            "enfants": [{"prenom": "A", "age": 4}, {"prenom": "B", "age": 7}]
        })
    }

    #[test]
    fn omitting_removes_personal_answers_everywhere_and_keeps_the_others() {
        let doc = nested();
        let q = parsed(&doc);
        for shape in [
            VersionShape::new(&doc, Some(&q)),
            VersionShape::new(&doc, None),
        ] {
            let mut a = answers();
            shape.redact(&mut a);
            assert_eq!(
                a,
                json!({"avis": "bien", "foyer": {"taille": 3},
                       "enfants": [{"age": 4}, {"age": 7}]})
            );
            let cols: Vec<_> = shape
                .columns
                .iter()
                .map(|c| (c.name.as_str(), c.personal))
                .collect();
            assert_eq!(
                cols,
                [
                    ("nom", true),
                    ("avis", false),
                    ("foyer.taille", false),
                    ("foyer.adresse", true),
                    ("enfants", false)
                ]
            );
        }
    }

    #[test]
    fn a_personal_section_goes_whole_and_its_columns_are_personal() {
        let mut doc = nested();
        doc["properties"]["foyer"]["x-personal-data"] = json!(true);
        let q = parsed(&doc);
        let shape = VersionShape::new(&doc, Some(&q));
        let mut a = answers();
        shape.redact(&mut a);
        assert!(a.get("foyer").is_none());
        assert!(shape
            .columns
            .iter()
            .filter(|c| c.name.starts_with("foyer."))
            .all(|c| c.personal));
        // Absent answers and answers of another shape are left alone.
        let mut other = json!({"enfants": "pas une liste", "avis": "x"});
        shape.redact(&mut other);
        assert_eq!(other, json!({"enfants": "pas une liste", "avis": "x"}));
    }

    #[test]
    fn the_fixture_marks_its_contact_questions_personal() {
        let doc: Value =
            serde_json::from_str(include_str!("../../schemas/examples/parole-habitants.json"))
                .unwrap();
        let shape = VersionShape::new(&doc, Some(&parsed(&doc)));
        assert_eq!(
            shape.personal,
            [vec!["prenom"], vec!["telephone"], vec!["email"]]
        );
    }

    #[test]
    fn a_column_personal_in_one_version_only_stays_when_omitting() {
        let v1 = nested();
        let mut v2 = nested();
        // In version 2 `avis` becomes personal; `nom` is personal in both.
        v2["properties"]["avis"]["x-personal-data"] = json!(true);
        let shapes = [
            VersionShape::new(&v1, Some(&parsed(&v1))),
            VersionShape::new(&v2, Some(&parsed(&v2))),
        ];
        let names =
            |p| -> Vec<String> { union_of(&shapes, p).into_iter().map(|c| c.name).collect() };
        assert_eq!(
            names(PersonalData::Omit),
            ["avis", "foyer.taille", "enfants"]
        );
        assert_eq!(
            names(PersonalData::Include),
            ["nom", "avis", "foyer.taille", "foyer.adresse", "enfants"]
        );
        // Version 2's rows lose `avis`, version 1's keep it.
        let (mut a1, mut a2) = (answers(), answers());
        shapes[0].redact(&mut a1);
        shapes[1].redact(&mut a2);
        assert_eq!(a1["avis"], "bien");
        assert!(a2.get("avis").is_none());
    }

    #[test]
    fn the_personal_mode_follows_the_role() {
        use PersonalData::*;
        let ok = [
            (Role::Coordinator, None, Include),
            (Role::Admin, None, Include),
            (Role::Analyst, None, Omit),
            (Role::Coordinator, Some(Omit), Omit),
            (Role::Coordinator, Some(Include), Include),
            (Role::Admin, Some(Omit), Omit),
            (Role::Analyst, Some(Omit), Omit),
        ];
        for (role, asked, want) in ok {
            assert_eq!(
                personal_for(role, asked).unwrap(),
                want,
                "{role:?} {asked:?}"
            );
        }
        assert_eq!(
            personal_for(Role::Analyst, Some(Include)),
            Err(PersonalDataRefused)
        );
        assert!(PersonalDataRefused.message().en.contains("personal=omit"));
    }
}
