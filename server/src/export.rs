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

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::db::{self, ExportRow};

/// The metadata columns, before the answers' columns.
pub const META_COLUMNS: &[&str] = &[
    "id",
    "seq",
    "questionnaire",
    "version",
    "device_id",
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

/// The columns of one questionnaire document, in question order.
pub fn columns(document: &Value) -> Vec<Column> {
    use parole_client::questionnaire::QuestionKind;
    let Ok(q) = parole_client::Questionnaire::parse(document) else {
        let mut out = Vec::new();
        flatten(document, "", "", &mut out);
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

fn flatten(schema: &Value, name_prefix: &str, pointer_prefix: &str, out: &mut Vec<Column>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, q) in props {
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
                flatten(q, &format!("{name}."), &pointer, out);
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
        });
    }
}

/// The union of several documents' columns, in order of first appearance.
pub fn union_columns<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::new();
    for doc in documents {
        for c in columns(doc) {
            if !out.iter().any(|o| o.name == c.name) {
                out.push(c);
            }
        }
    }
    out
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

/// One NDJSON line (with its `\n`).
pub fn ndjson_line(slug: &str, row: &ExportRow) -> Vec<u8> {
    let v = json!({
        "id": row.id,
        "seq": row.seq,
        "questionnaire": slug,
        "version": row.version,
        "device_id": row.device_id,
        "started_at": row.started_at,
        "completed_at": row.completed_at,
        "received_at": timestamp(&row.received_at),
        "location": row.location,
        "content_hash": row.content_hash,
        "photos_missing": row.photos_missing,
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

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// Streams an export as body chunks. Rows are read in a task; the bounded channel keeps
/// memory constant. A database error mid-stream ends the body with an error (the client
/// sees a truncated transfer, never a silently short file).
pub fn stream(
    pool: sqlx::PgPool,
    slug: String,
    questionnaire_id: i64,
    version: Option<i32>,
    after: i64,
    format: Format,
    columns: Vec<Column>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        if format == Format::Csv
            && tx
                .send(Ok(Bytes::from(csv_bytes(&csv_header(&columns)))))
                .await
                .is_err()
        {
            return;
        }
        let mut rows = db::export_rows(&pool, questionnaire_id, version, after);
        // Batch small rows into chunks of about 64 KiB.
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => {
                    match format {
                        Format::Ndjson => buf.extend_from_slice(&ndjson_line(&slug, &row)),
                        Format::Csv => {
                            buf.extend_from_slice(&csv_bytes(&csv_record(&slug, &columns, &row)))
                        }
                    }
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
}
