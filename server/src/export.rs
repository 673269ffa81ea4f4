//! Exports of a questionnaire's responses, NDJSON and CSV, streamed from PostgreSQL in
//! constant memory: a task reads rows from a `fetch` stream and sends encoded chunks through
//! a small bounded channel that the HTTP body drains (so a slow client slows the query
//! down instead of filling memory).
//!
//! CSV columns: the metadata columns, then the union of the columns of every exported
//! version in order of first appearance, from client-core's `Questionnaire::columns()`
//! (a section's questions become `section.question`, notes have no column). A multiple
//! choice is `;`-joined; a repeat or a geopoint is one column of compact JSON whose keys are
//! in the questionnaire's order (PostgreSQL's jsonb does not keep the order they came in).
//! Should a stored document no longer parse, a plain flattening of its `properties` is used.
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

use std::collections::HashMap;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use parole_client::api::{PersonalData, Role, Where};
use parole_client::i18n::Message;
use parole_client::Questionnaire;
use serde_json::{json, Value};

use crate::db::{self, ExportRow};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub pointer: String,
    pub kind: ColumnKind,
    /// For JSON columns: the keys of the object (or of each repeat item), in question order.
    pub key_order: Vec<String>,
    /// The answer identifies the respondent (`x-personal-data` on the question or on an
    /// enclosing section), in the version the column comes from.
    pub personal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A string, number or boolean, written as is.
    Scalar,
    /// A multiple choice: the values joined with `;`.
    Multiple,
    /// A repeat, a geopoint or any object: compact JSON.
    Json,
}

/// The columns of one questionnaire document, in question order (parsing it: when the
/// parsed version is at hand, [`VersionShape::new`] avoids parsing again).
pub fn columns(document: &Value) -> Vec<Column> {
    columns_of(document, Questionnaire::parse(document).ok().as_ref())
}

/// The columns of `document`, from its parsed questionnaire when there is one, else from a
/// plain flattening of its `properties`.
fn columns_of(document: &Value, parsed: Option<&Questionnaire>) -> Vec<Column> {
    use parole_client::questionnaire::QuestionKind;
    let Some(q) = parsed else {
        let mut out = Vec::new();
        flatten(document, "", "", false, &mut out);
        return out;
    };
    q.columns()
        .into_iter()
        .map(|c| {
            let kind = match c.kind {
                QuestionKind::MultipleChoice => ColumnKind::Multiple,
                QuestionKind::Repeat | QuestionKind::Geopoint => ColumnKind::Json,
                _ => ColumnKind::Scalar,
            };
            let key_order = if kind == ColumnKind::Json {
                key_order(document, &c.pointer)
            } else {
                Vec::new()
            };
            Column {
                name: c.name,
                pointer: c.pointer,
                kind,
                key_order,
                personal: c.personal_data,
            }
        })
        .collect()
}

/// The keys of the object answered at `pointer` (or of its repeat items), in schema order.
fn key_order(document: &Value, pointer: &str) -> Vec<String> {
    let mut node = document;
    for token in pointer.split('/').skip(1) {
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
        out.push(Column {
            name,
            pointer,
            kind,
            key_order,
            personal,
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
    let mut out: Vec<(Column, bool)> = Vec::new();
    for shape in shapes {
        for c in &shape.columns {
            match out.iter_mut().find(|(o, _)| o.name == c.name) {
                Some((_, always)) => *always &= c.personal,
                None => out.push((c.clone(), c.personal)),
            }
        }
    }
    out.into_iter()
        .filter(|(_, always_personal)| personal == PersonalData::Include || !always_personal)
        .map(|(c, _)| c)
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

fn cell(value: Option<&Value>, column: &Column) -> String {
    if column.kind == ColumnKind::Json {
        if let Some(v @ (Value::Array(_) | Value::Object(_))) = value {
            return reorder(v, &column.key_order).to_string();
        }
    }
    scalar_cell(value, column.kind)
}

fn scalar_cell(value: Option<&Value>, kind: ColumnKind) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if kind == ColumnKind::Multiple => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(";"),
        Some(v @ (Value::Array(_) | Value::Object(_))) => v.to_string(),
        Some(v) => v.to_string(),
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
pub fn ndjson_line(slug: &str, row: &ExportRow, personal: PersonalData) -> Vec<u8> {
    let v = json!({
        "id": row.id,
        "seq": row.seq,
        "questionnaire": slug,
        "version": row.version,
        "device_id": row.device_id,
        "sender_device_id": row.sender_device_id,
        "started_at": row.started_at,
        "completed_at": row.completed_at,
        "received_at": timestamp(&row.received_at),
        "location": row.location,
        "content_hash": row.content_hash,
        "photos_missing": row.photos_missing,
        "personal_data": personal_done(personal),
        "answers": row.answers,
    });
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The CSV header's cells.
pub fn csv_header(columns: &[Column]) -> Vec<String> {
    META_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(columns.iter().map(|c| c.name.clone()))
        .collect()
}

/// One CSV record's cells.
pub fn csv_record(slug: &str, columns: &[Column], row: &ExportRow) -> Vec<String> {
    let loc = |k: &str| {
        scalar_cell(
            row.location.as_ref().and_then(|l| l.get(k)),
            ColumnKind::Scalar,
        )
    };
    let mut cells = vec![
        row.id.to_string(),
        row.seq.to_string(),
        slug.to_string(),
        row.version.to_string(),
        row.device_id.map(|d| d.to_string()).unwrap_or_default(),
        row.sender_device_id
            .map(|d| d.to_string())
            .unwrap_or_default(),
        row.started_at.clone(),
        row.completed_at.clone(),
        timestamp(&row.received_at),
        loc("lat"),
        loc("lon"),
        loc("accuracy_m"),
        row.content_hash.clone(),
        row.photos_missing.join(";"),
    ];
    cells.extend(
        columns
            .iter()
            .map(|c| cell(row.answers.pointer(&c.pointer), c)),
    );
    cells
}

fn csv_bytes(cells: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(cells);
    w.into_inner().unwrap_or_default()
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
    /// Written by [`xlsx::stream`], not by [`stream`].
    Xlsx,
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
}

impl Plan {
    /// One row, encoded; its personal answers removed first when they are omitted.
    fn encode(&self, mut row: ExportRow) -> Vec<u8> {
        if self.personal == PersonalData::Omit {
            withhold_personal(
                &mut row.answers,
                &mut row.location,
                row.version,
                self.shapes.get(&row.version),
            );
        }
        match self.format {
            Format::Ndjson => ndjson_line(&self.slug, &row, self.personal),
            Format::Csv => csv_bytes(&csv_record(&self.slug, &self.columns, &row)),
            Format::Xlsx => Vec::new(), // see `xlsx::stream`
        }
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
        if plan.format == Format::Csv
            && tx
                .send(Ok(Bytes::from(csv_bytes(&csv_header(&plan.columns)))))
                .await
                .is_err()
        {
            return;
        }
        let mut query = db::export_query(
            plan.questionnaire_id,
            &plan.filter,
            plan.after,
            plan.until,
            plan.personal == PersonalData::Include,
        );
        let mut rows = db::export_rows(&pool, &mut query);
        // Batch small rows into chunks of about 64 KiB.
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => {
                    buf.extend_from_slice(&plan.encode(row));
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
        if !buf.is_empty() {
            let _ = tx.send(Ok(Bytes::from(buf))).await;
        }
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

    #[test]
    fn cells_join_multiple_choices_and_write_repeats_as_json() {
        let col = |kind, order: &[&str]| Column {
            name: "c".into(),
            pointer: "/c".into(),
            kind,
            key_order: order.iter().map(|s| s.to_string()).collect(),
            personal: false,
        };
        assert_eq!(
            cell(Some(&json!(["a", "b"])), &col(ColumnKind::Multiple, &[])),
            "a;b"
        );
        assert_eq!(
            cell(
                Some(&json!([{"x": 1, "b": 2, "z": 0}])),
                &col(ColumnKind::Json, &["z", "x"])
            ),
            r#"[{"z":0,"x":1,"b":2}]"#
        );
        assert_eq!(
            cell(Some(&json!(4.5)), &col(ColumnKind::Scalar, &[])),
            "4.5"
        );
        assert_eq!(
            cell(Some(&json!(true)), &col(ColumnKind::Scalar, &[])),
            "true"
        );
        assert_eq!(cell(None, &col(ColumnKind::Scalar, &[])), "");
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
