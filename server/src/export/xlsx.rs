//! The XLSX export (`GET /api/v1/questionnaires/{slug}/responses.xlsx`), written with
//! `rust_xlsxwriter` in its constant-memory mode.
//!
//! An XLSX file is a zip whose central directory comes last, and whose worksheets must be
//! written whole, so it cannot be produced row by row on the wire as CSV is. The pipeline:
//!
//! 1. a task reads the rows from the database cursor (as the other exports do), removes the
//!    personal answers the reader may not see ([`super::withhold_personal`]) and hands them
//!    to a blocking thread through a small bounded channel;
//! 2. that thread writes each row into constant-memory worksheets: each keeps one row in
//!    memory and appends the rest, as XML, to an unnamed temporary file in a private
//!    directory under the system's temporary directory (removed when the export ends, even
//!    on error);
//! 3. once the last row is written, the workbook is zipped straight into the HTTP body
//!    (`save_to_writer` over a writer that sends 64 KiB chunks through a bounded channel:
//!    `rust_xlsxwriter` zips as a stream, without seeking), so memory stays bounded and the
//!    file never exists whole on the server.
//!
//! The sheets:
//! - **Réponses**: the metadata columns of the CSV, then the union of the exported versions'
//!   columns. Numbers are numbers, booleans booleans, dates (`format: date` answers) and
//!   date-times (`format: date-time` answers, `started_at`, `completed_at` as the phone's
//!   local time, `received_at` in UTC) real Excel dates with a date format; a multiple
//!   choice is `;`-joined, a location compact JSON, a repeat its number of items.
//! - **one sheet per repeat**, named after it: `response_id`, `item` (1-based), then the
//!   repeat's questions (the union over versions);
//! - **Codebook**: each column with its sheet, type, label and choices in every language of
//!   the questionnaire, whether it is personal data, and the versions it exists in.
//!
//! A sheet holds at most 1 048 576 rows (Excel's limit): beyond, the rows go on in a sheet
//! named `… (2)`. Text is always written as a string, never as a formula, and a text that
//! would look like a formula to a spreadsheet (`= + - @`, tab, carriage return first) gets a
//! `'` prefix. Excel's limit of 32 767 characters a cell cuts longer texts.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use parole_client::api::PersonalData;
use parole_client::questionnaire::{Question, QuestionKind};
use parole_client::Questionnaire;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde_json::Value;

use super::{neutralise, pointer, reorder, timestamp, ColumnKind, Plan, IDLE_STREAM, META_COLUMNS};
use crate::db::{self, ExportRow};

/// The media type of an XLSX workbook.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The name of the responses sheet.
pub const RESPONSES_SHEET: &str = "Réponses";
/// The name of the codebook sheet.
pub const CODEBOOK_SHEET: &str = "Codebook";

/// Rows a worksheet can hold (Excel's limit), header included.
const MAX_ROWS: u32 = 1_048_576;
/// Characters a cell can hold (Excel's limit).
const MAX_CHARS: usize = 32_767;

/// How a column's answers are written.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// As the JSON says: a number as a number, a boolean as a boolean, a string as text.
    Plain,
    /// `YYYY-MM-DD` as an Excel date (text when it does not parse).
    Date,
    /// RFC 3339 as an Excel date-time, in the time zone it was written in.
    DateTime,
    /// A multiple choice: the values `;`-joined.
    Multiple,
    /// A location or any object: compact JSON, its keys in question order.
    Json(Vec<String>),
    /// A repeat: its number of items (the items are on the repeat's sheet).
    Count,
}

/// One column of answers.
#[derive(Debug, Clone)]
struct AnswerColumn {
    name: String,
    /// A JSON pointer into the answers (or into one repeat item, for a repeat's sheet).
    pointer: String,
    kind: Kind,
}

/// A repeat's sheet.
#[derive(Debug, Clone)]
struct RepeatSheet {
    pointer: String,
    columns: Vec<AnswerColumn>,
}

/// One line of the codebook.
#[derive(Debug, Clone)]
struct CodebookLine {
    sheet: String,
    column: String,
    kind: String,
    personal: bool,
    /// By language, in [`Layout::languages`] order.
    labels: Vec<String>,
    /// `value = label` lines, by language.
    choices: Vec<String>,
    versions: Vec<i32>,
}

/// What the workbook holds, decided from the exported versions before any row is read.
#[derive(Debug, Clone)]
pub struct Layout {
    columns: Vec<AnswerColumn>,
    repeats: Vec<RepeatSheet>,
    /// The repeats' sheet names, in [`Layout::repeats`] order.
    sheet_names: Vec<String>,
    languages: Vec<String>,
    codebook: Vec<CodebookLine>,
}

impl Layout {
    /// The layout of `plan`'s export: its columns (already the union of the exported
    /// versions, without those personal in all of them when personal data is omitted), typed
    /// and labelled from the versions' parsed questionnaires (`parsed`, by version; a version
    /// that no longer parses has its columns written as the JSON says, unlabelled).
    pub fn new(plan: &Plan, parsed: &HashMap<i32, Arc<Questionnaire>>) -> Layout {
        let mut versions: Vec<i32> = plan.shapes.keys().copied().collect();
        versions.sort_unstable();
        // Oldest first; labels come from the newest version that has the question.
        let questionnaires: Vec<(i32, &Questionnaire)> = versions
            .iter()
            .filter_map(|v| parsed.get(v).map(|q| (*v, &**q)))
            .collect();
        let mut languages: Vec<String> = Vec::new();
        for (_, q) in &questionnaires {
            for l in &q.languages {
                if !languages.contains(l) {
                    languages.push(l.clone());
                }
            }
        }
        if languages.is_empty() {
            languages.push("fr".into());
        }
        let mut reserved = vec![RESPONSES_SHEET.to_string(), CODEBOOK_SHEET.to_string()];
        let mut layout = Layout {
            columns: Vec::new(),
            repeats: Vec::new(),
            sheet_names: Vec::new(),
            languages,
            codebook: Vec::new(),
        };
        for column in &plan.columns {
            // The question in each version that has it, oldest first.
            let found: Vec<(i32, &Question, bool)> = questionnaires
                .iter()
                .filter_map(|(v, q)| {
                    let c = q.columns().into_iter().find(|c| c.name == column.name)?;
                    Some((*v, q.get(&c.pointer)?, c.personal_data))
                })
                .collect();
            let newest = found.last().map(|(_, q, _)| *q);
            let kind = match newest.map(|q| q.kind) {
                Some(QuestionKind::Repeat) => Kind::Count,
                Some(k) => kind_of(k, &column.key_order),
                None => match column.kind {
                    ColumnKind::Scalar => Kind::Plain,
                    ColumnKind::Multiple => Kind::Multiple,
                    ColumnKind::Json => Kind::Json(column.key_order.clone()),
                },
            };
            layout.codebook.push(codebook_line(
                RESPONSES_SHEET,
                &column.name,
                newest,
                column.personal,
                found.iter().map(|(v, _, _)| *v).collect(),
                &layout.languages,
            ));
            if kind == Kind::Count {
                let sheet = unique_sheet_name(&column.name, &mut reserved);
                let repeat = repeat_sheet(column, &found, plan.personal);
                for c in &repeat.columns {
                    let in_versions: Vec<(i32, &Question, bool)> = found
                        .iter()
                        .filter_map(|(v, q, repeat_personal)| {
                            let (_, p, child) = item_columns(q)
                                .into_iter()
                                .find(|(child, _, _)| child.name == c.name)?;
                            Some((*v, child, p || *repeat_personal))
                        })
                        .collect();
                    let personal = in_versions.iter().any(|(_, _, p)| *p);
                    layout.codebook.push(codebook_line(
                        &sheet,
                        &c.name,
                        in_versions.last().map(|(_, q, _)| *q),
                        personal,
                        in_versions.iter().map(|(v, _, _)| *v).collect(),
                        &layout.languages,
                    ));
                }
                layout.sheet_names.push(sheet);
                layout.repeats.push(repeat);
            }
            layout.columns.push(AnswerColumn {
                name: column.name.clone(),
                pointer: column.pointer.clone(),
                kind,
            });
        }
        layout
    }
}

fn kind_of(kind: QuestionKind, key_order: &[String]) -> Kind {
    match kind {
        QuestionKind::Date => Kind::Date,
        QuestionKind::DateTime => Kind::DateTime,
        QuestionKind::MultipleChoice => Kind::Multiple,
        QuestionKind::Geopoint | QuestionKind::Section => Kind::Json(key_order.to_vec()),
        QuestionKind::Repeat => Kind::Json(Vec::new()),
        _ => Kind::Plain,
    }
}

/// The columns of one item of repeat `q`, sections flattened as `section.question`, with
/// pointers relative to the item (`/-` stripped), and whether each is personal.
fn item_columns(q: &Question) -> Vec<(AnswerColumn, bool, &Question)> {
    fn walk<'a>(
        qs: &'a [Question],
        prefix: &str,
        base: &str,
        personal: bool,
        out: &mut Vec<(AnswerColumn, bool, &'a Question)>,
    ) {
        for q in qs {
            let name = if prefix.is_empty() {
                q.key.clone()
            } else {
                format!("{prefix}.{}", q.key)
            };
            let personal = personal || q.personal_data;
            match q.kind {
                QuestionKind::Note => {}
                QuestionKind::Section => walk(&q.children, &name, base, personal, out),
                kind => {
                    let pointer = q
                        .pointer
                        .strip_prefix(base)
                        .unwrap_or(&q.pointer)
                        .to_string();
                    let order = key_order(&q.schema);
                    out.push((
                        AnswerColumn {
                            name,
                            pointer,
                            kind: kind_of(kind, &order),
                        },
                        personal,
                        q,
                    ));
                }
            }
        }
    }
    let base = format!("{}/-", q.pointer);
    let mut out = Vec::new();
    walk(&q.children, "", &base, false, &mut out);
    out
}

/// The keys of an object question (or of a repeat's items), in schema order.
fn key_order(schema: &Value) -> Vec<String> {
    let node = schema.get("items").unwrap_or(schema);
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// A repeat's sheet: the union of its item columns over the versions that have it, in order
/// of first appearance; with personal data omitted, a column personal in every version that
/// has it is left out (as [`super::union_of`] does for the responses sheet).
fn repeat_sheet(
    column: &super::Column,
    found: &[(i32, &Question, bool)],
    personal: PersonalData,
) -> RepeatSheet {
    let mut out: Vec<(AnswerColumn, bool)> = Vec::new();
    for (_, q, repeat_personal) in found {
        for (c, p, _) in item_columns(q) {
            let p = p || *repeat_personal;
            match out.iter_mut().find(|(o, _)| o.name == c.name) {
                Some((_, always)) => *always &= p,
                None => out.push((c, p)),
            }
        }
    }
    RepeatSheet {
        pointer: column.pointer.clone(),
        columns: out
            .into_iter()
            .filter(|(_, always)| personal == PersonalData::Include || !always)
            .map(|(c, _)| c)
            .collect(),
    }
}

fn codebook_line(
    sheet: &str,
    column: &str,
    question: Option<&Question>,
    personal: bool,
    versions: Vec<i32>,
    languages: &[String],
) -> CodebookLine {
    let kind = question
        .and_then(|q| serde_json::to_value(q.kind).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    CodebookLine {
        sheet: sheet.to_string(),
        column: column.to_string(),
        kind,
        personal,
        labels: languages
            .iter()
            .map(|l| question.map(|q| q.label(l).to_string()).unwrap_or_default())
            .collect(),
        choices: languages
            .iter()
            .map(|l| {
                question
                    .map(|q| {
                        q.choices
                            .iter()
                            .map(|c| {
                                let value = match &c.value {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                format!("{value} = {}", c.label(l))
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            })
            .collect(),
        versions,
    }
}

/// `name` made a valid sheet name (at most 31 characters, none of `[]:*?/\`, no `'` at
/// either end), unique among `taken` (case-insensitively, as Excel compares), and taken.
fn unique_sheet_name(name: &str, taken: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'');
    let clean = if clean.is_empty() { "repeat" } else { clean };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let room = 31 - suffix.chars().count();
        let candidate: String = clean.chars().take(room).collect::<String>() + &suffix;
        if !taken
            .iter()
            .any(|t| t.to_lowercase() == candidate.to_lowercase())
        {
            taken.push(candidate.clone());
            return candidate;
        }
        n += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Cells

/// `text` cut to Excel's [`MAX_CHARS`].
fn clip(text: &str) -> &str {
    if text.len() <= MAX_CHARS {
        return text;
    }
    match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Days since 1899-12-30: Excel's date serial number (for dates from 1900-03-01, before
/// which Excel's calendar is off by its 1900 leap day).
fn serial(at: chrono::NaiveDateTime) -> Option<f64> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let first = chrono::NaiveDate::from_ymd_opt(1900, 3, 1)?.and_hms_opt(0, 0, 0)?;
    let max = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)?.and_hms_opt(23, 59, 59)?;
    if at < first || at > max {
        return None;
    }
    let d = at - epoch;
    Some(d.num_milliseconds() as f64 / 86_400_000.0)
}

fn date_serial(text: &str) -> Option<f64> {
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    serial(d.and_hms_opt(0, 0, 0)?)
}

/// An RFC 3339 date-time, in the time zone it was written in.
fn datetime_serial(text: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    serial(t.naive_local())
}

struct Formats {
    date: Format,
    datetime: Format,
    header: Format,
    wrap: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            header: Format::new().set_bold(),
            wrap: Format::new().set_text_wrap(),
        }
    }
}

fn text(ws: &mut Worksheet, row: u32, col: u16, value: &str) -> Result<(), XlsxError> {
    if !value.is_empty() {
        ws.write_string(row, col, clip(&neutralise(value)))?;
    }
    Ok(())
}

fn write_value(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<&Value>,
    kind: &Kind,
    f: &Formats,
) -> Result<(), XlsxError> {
    let Some(value) = value else { return Ok(()) };
    match (kind, value) {
        (_, Value::Null) => {}
        (Kind::Date, Value::String(s)) => match date_serial(s) {
            Some(n) => {
                ws.write_number_with_format(row, col, n, &f.date)?;
            }
            None => text(ws, row, col, s)?,
        },
        (Kind::DateTime, Value::String(s)) => match datetime_serial(s) {
            Some(n) => {
                ws.write_number_with_format(row, col, n, &f.datetime)?;
            }
            None => text(ws, row, col, s)?,
        },
        (Kind::Count, Value::Array(items)) => {
            ws.write_number(row, col, items.len() as f64)?;
        }
        (Kind::Multiple, Value::Array(items)) => {
            let mut joined = String::new();
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    joined.push(';');
                }
                match v {
                    Value::String(s) => joined.push_str(s),
                    other => joined.push_str(&other.to_string()),
                }
            }
            text(ws, row, col, &joined)?;
        }
        (_, Value::Number(n)) => match n.as_f64() {
            Some(x) => {
                ws.write_number(row, col, x)?;
            }
            None => text(ws, row, col, &n.to_string())?,
        },
        (_, Value::Bool(b)) => {
            ws.write_boolean(row, col, *b)?;
        }
        (_, Value::String(s)) => text(ws, row, col, s)?,
        (Kind::Json(order), v) => text(ws, row, col, &reorder(v, order).to_string())?,
        (_, v) => text(ws, row, col, &v.to_string())?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The workbook

/// A sheet being written: its worksheets (more than one past Excel's row limit), the row to
/// write next.
struct Sheet {
    name: String,
    header: Vec<String>,
    /// The index in the workbook of the worksheet being written.
    index: usize,
    parts: u32,
    row: u32,
}

struct Book {
    workbook: Workbook,
    formats: Formats,
    /// Rows a worksheet holds, header included: [`MAX_ROWS`], smaller in tests.
    max_rows: u32,
    worksheets: usize,
    taken: Vec<String>,
    responses: Sheet,
    repeats: Vec<Sheet>,
}

impl Book {
    /// A workbook for `layout`, its worksheets' temporary files in `tempdir`, each worksheet
    /// holding up to `max_rows` rows (header included; at least 2).
    fn new(layout: &Layout, tempdir: &std::path::Path, max_rows: u32) -> Result<Book, XlsxError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(tempdir)?;
        // Speed over size: the XML of a large export is mostly repeated text, which the
        // fastest deflate level already shrinks well.
        workbook.set_zip_compression_level(1);
        workbook.use_zip_large_file(true);
        let mut book = Book {
            workbook,
            formats: Formats::new(),
            max_rows: max_rows.clamp(2, MAX_ROWS),
            worksheets: 0,
            taken: layout
                .sheet_names
                .iter()
                .cloned()
                .chain([RESPONSES_SHEET.to_string(), CODEBOOK_SHEET.to_string()])
                .collect(),
            responses: Sheet {
                name: RESPONSES_SHEET.into(),
                header: META_COLUMNS
                    .iter()
                    .map(|s| s.to_string())
                    .chain(layout.columns.iter().map(|c| c.name.clone()))
                    .collect(),
                index: 0,
                parts: 0,
                row: 0,
            },
            repeats: layout
                .repeats
                .iter()
                .zip(&layout.sheet_names)
                .map(|(r, name)| Sheet {
                    name: name.clone(),
                    header: ["response_id", "item"]
                        .into_iter()
                        .map(String::from)
                        .chain(r.columns.iter().map(|c| c.name.clone()))
                        .collect(),
                    index: 0,
                    parts: 0,
                    row: 0,
                })
                .collect(),
        };
        let mut responses = std::mem::replace(&mut book.responses, placeholder());
        book.open(&mut responses)?;
        book.responses = responses;
        let mut repeats = std::mem::take(&mut book.repeats);
        for sheet in &mut repeats {
            book.open(sheet)?;
        }
        book.repeats = repeats;
        Ok(book)
    }

    /// Adds a worksheet for `sheet` (its first, or the next past the row limit) with the
    /// header row.
    fn open(&mut self, sheet: &mut Sheet) -> Result<(), XlsxError> {
        sheet.parts += 1;
        let name = if sheet.parts == 1 {
            sheet.name.clone()
        } else {
            unique_sheet_name(
                &format!("{} ({})", sheet.name, sheet.parts),
                &mut self.taken,
            )
        };
        let ws = self.workbook.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        ws.set_freeze_panes(1, 0)?;
        for (col, h) in sheet.header.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, h, &self.formats.header)?;
        }
        sheet.index = self.worksheets;
        sheet.row = 1;
        self.worksheets += 1;
        Ok(())
    }

    /// The next row of `sheet`, opening its next worksheet past the row limit.
    fn next_row(&mut self, which: Option<usize>) -> Result<(usize, u32), XlsxError> {
        let mut sheet = match which {
            None => std::mem::replace(&mut self.responses, placeholder()),
            Some(i) => std::mem::replace(&mut self.repeats[i], placeholder()),
        };
        let result = if sheet.row >= self.max_rows {
            self.open(&mut sheet)
        } else {
            Ok(())
        };
        let at = (sheet.index, sheet.row);
        sheet.row += 1;
        match which {
            None => self.responses = sheet,
            Some(i) => self.repeats[i] = sheet,
        }
        result.map(|()| at)
    }

    fn write_row(&mut self, layout: &Layout, slug: &str, row: &ExportRow) -> Result<(), XlsxError> {
        let (index, r) = self.next_row(None)?;
        let f = &self.formats;
        let ws = self.workbook.worksheet_from_index(index)?;
        let id = row.id.to_string();
        text(ws, r, 0, &id)?;
        ws.write_number(r, 1, row.seq as f64)?;
        text(ws, r, 2, slug)?;
        ws.write_number(r, 3, f64::from(row.version))?;
        if let Some(d) = row.device_id {
            text(ws, r, 4, &d.to_string())?;
        }
        if let Some(d) = row.sender_device_id {
            text(ws, r, 5, &d.to_string())?;
        }
        for (col, at) in [(6, &row.started_at), (7, &row.completed_at)] {
            match datetime_serial(at) {
                Some(n) => {
                    ws.write_number_with_format(r, col, n, &f.datetime)?;
                }
                None => text(ws, r, col, at)?,
            }
        }
        match serial(row.received_at.naive_utc()) {
            Some(n) => {
                ws.write_number_with_format(r, 8, n, &f.datetime)?;
            }
            None => text(ws, r, 8, &timestamp(&row.received_at))?,
        }
        for (col, key) in [(9, "lat"), (10, "lon"), (11, "accuracy_m")] {
            let v = row.location.as_ref().and_then(|l| l.get(key));
            write_value(ws, r, col, v, &Kind::Plain, f)?;
        }
        text(ws, r, 12, &row.content_hash)?;
        text(ws, r, 13, &row.photos_missing.join(";"))?;
        let first = META_COLUMNS.len();
        for (i, c) in layout.columns.iter().enumerate() {
            let col = u16::try_from(first + i).map_err(|_| XlsxError::RowColumnLimitError)?;
            write_value(ws, r, col, pointer(&row.answers, &c.pointer), &c.kind, f)?;
        }
        for (i, repeat) in layout.repeats.iter().enumerate() {
            let Some(Value::Array(items)) = pointer(&row.answers, &repeat.pointer) else {
                continue;
            };
            for (n, item) in items.iter().enumerate() {
                let (index, r) = self.next_row(Some(i))?;
                let f = &self.formats;
                let ws = self.workbook.worksheet_from_index(index)?;
                text(ws, r, 0, &id)?;
                ws.write_number(r, 1, (n + 1) as f64)?;
                for (j, c) in repeat.columns.iter().enumerate() {
                    let col = u16::try_from(2 + j).map_err(|_| XlsxError::RowColumnLimitError)?;
                    write_value(ws, r, col, pointer(item, &c.pointer), &c.kind, f)?;
                }
            }
        }
        Ok(())
    }

    /// Adds the codebook, last.
    fn write_codebook(&mut self, layout: &Layout) -> Result<(), XlsxError> {
        let f = &self.formats;
        let ws = self.workbook.add_worksheet();
        ws.set_name(CODEBOOK_SHEET)?;
        ws.set_freeze_panes(1, 0)?;
        let mut header = vec!["column".to_string(), "sheet".into(), "type".into()];
        header.extend(layout.languages.iter().map(|l| format!("label_{l}")));
        header.extend(layout.languages.iter().map(|l| format!("choices_{l}")));
        header.push("personal_data".into());
        header.push("versions".into());
        for (col, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, h, &f.header)?;
        }
        let n = layout.languages.len();
        for (i, line) in layout.codebook.iter().enumerate() {
            let r = (i + 1) as u32;
            text(ws, r, 0, &line.column)?;
            text(ws, r, 1, &line.sheet)?;
            text(ws, r, 2, &line.kind)?;
            for (j, label) in line.labels.iter().enumerate() {
                text(ws, r, (3 + j) as u16, label)?;
            }
            for (j, choices) in line.choices.iter().enumerate() {
                if !choices.is_empty() {
                    ws.write_string_with_format(
                        r,
                        (3 + n + j) as u16,
                        clip(&neutralise(choices)),
                        &f.wrap,
                    )?;
                }
            }
            ws.write_boolean(r, (3 + 2 * n) as u16, line.personal)?;
            let versions: Vec<String> = line.versions.iter().map(i32::to_string).collect();
            text(ws, r, (4 + 2 * n) as u16, &versions.join(", "))?;
        }
        ws.set_column_width(0, 24)?;
        for j in 0..n {
            ws.set_column_width((3 + j) as u16, 40)?;
            ws.set_column_width((3 + n + j) as u16, 40)?;
        }
        Ok(())
    }
}

fn placeholder() -> Sheet {
    Sheet {
        name: String::new(),
        header: Vec::new(),
        index: 0,
        parts: 0,
        row: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming

type Chunk = Result<Bytes, std::io::Error>;

/// Why the writing thread stopped early.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("the rows stopped coming: the database failed")]
    Database,
    #[error("the client went away or took no data for too long")]
    Client,
    #[error(transparent)]
    Xlsx(#[from] XlsxError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The body's writer: 64 KiB chunks through the bounded channel, each waiting at most
/// [`IDLE_STREAM`] for the client to take it.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    runtime: tokio::runtime::Handle,
    buf: Vec<u8>,
    gone: bool,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let sent = self
            .runtime
            .block_on(tokio::time::timeout(IDLE_STREAM, self.tx.send(Ok(chunk))));
        match sent {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.gone = true;
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "client gone",
                ))
            }
        }
    }
}

const CHUNK: usize = 64 * 1024;

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams the XLSX export of `plan` laid out as `layout`: the rows are read in a task and
/// written by a blocking thread, which then zips the workbook into the body. `permit` is held
/// until the last byte is sent. An error ends the body with an error (a truncated transfer,
/// never a file that looks complete).
pub fn stream(
    pool: sqlx::PgPool,
    plan: Plan,
    layout: Layout,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Chunk> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Result<ExportRow, ()>>(256);
    let plan = Arc::new(plan);
    let reader_plan = plan.clone();
    tokio::spawn(async move {
        let plan = reader_plan;
        let mut query = plan.query();
        let mut rows = db::export_rows(&pool, &mut query);
        let mut read = 0;
        while let Some(row) = rows.next().await {
            let msg = match row {
                Ok(mut row) => {
                    read += 1;
                    plan.withhold(&mut row);
                    Ok(row)
                }
                Err(e) => {
                    tracing::error!(error = %e, "xlsx export interrupted");
                    Err(())
                }
            };
            let failed = msg.is_err();
            if rows_tx.send(msg).await.is_err() || failed {
                return; // the writer stopped
            }
        }
        crate::metrics::METRICS.export_rows("xlsx", read);
    });
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = ChunkWriter {
            tx: tx.clone(),
            runtime,
            buf: Vec::with_capacity(CHUNK),
            gone: false,
        };
        let result = (|| -> Result<(), Stop> {
            // Declared before the workbook, so removed after its files are closed.
            let dir = tempfile::Builder::new()
                .prefix("parole-xlsx-")
                .tempdir_in(std::env::temp_dir())?;
            let mut book = Book::new(&layout, dir.path(), MAX_ROWS)?;
            while let Some(row) = rows_rx.blocking_recv() {
                let row = row.map_err(|()| Stop::Database)?;
                book.write_row(&layout, &plan.slug, &row)?;
            }
            book.write_codebook(&layout)?;
            match book.workbook.save_to_writer(&mut out) {
                Ok(()) => {}
                Err(_) if out.gone => return Err(Stop::Client),
                Err(e) => return Err(e.into()),
            }
            if out.send().is_err() {
                return Err(Stop::Client);
            }
            drop(book);
            dir.close()?;
            Ok(())
        })();
        match result {
            Ok(()) | Err(Stop::Client) => {}
            Err(e) => {
                tracing::error!(error = %e, "xlsx export failed");
                let _ = tx.blocking_send(Err(std::io::Error::other("export interrupted")));
            }
        }
    });
    tokio_stream_of(rx)
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Chunk>,
) -> impl futures::Stream<Item = Chunk> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::Reader;

    #[test]
    fn formula_looking_text_gets_a_quote_and_other_text_does_not() {
        for s in ["=1+1", "+33 6", "-x", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(s), format!("'{s}"));
        }
        for s in ["", "bien", "1=1", "مرحبا", "'déjà"] {
            assert_eq!(neutralise(s), s);
        }
    }

    #[test]
    fn dates_become_excel_serial_numbers() {
        assert_eq!(date_serial("1900-03-01"), Some(61.0));
        assert_eq!(date_serial("2024-03-09"), Some(45360.0));
        assert_eq!(
            datetime_serial("2025-03-14T18:30:00+01:00"),
            Some(45730.0 + 18.5 / 24.0)
        );
        assert_eq!(date_serial("09/03/2024"), None);
        assert_eq!(date_serial("1899-01-01"), None);
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut taken = vec![RESPONSES_SHEET.to_string()];
        assert_eq!(unique_sheet_name("réponses", &mut taken), "réponses (2)");
        assert_eq!(unique_sheet_name("a/b:c", &mut taken), "a_b_c");
        let long = "x".repeat(40);
        assert_eq!(unique_sheet_name(&long, &mut taken), "x".repeat(31));
        assert_eq!(
            unique_sheet_name(&long, &mut taken),
            format!("{} (2)", "x".repeat(27))
        );
    }

    /// Writes `rows` responses (response `i` with `i % 3` repeat items) into a workbook
    /// whose worksheets hold `max_rows` rows, and reads it back.
    fn workbook_of(rows: usize, max_rows: u32) -> calamine::Xlsx<std::io::Cursor<Vec<u8>>> {
        let column = |name: &str, kind: Kind| AnswerColumn {
            name: name.into(),
            pointer: format!("/{name}"),
            kind,
        };
        let layout = Layout {
            columns: vec![
                column("quartier", Kind::Plain),
                column("enfants", Kind::Count),
            ],
            repeats: vec![RepeatSheet {
                pointer: "/enfants".into(),
                columns: vec![column("age", Kind::Plain)],
            }],
            sheet_names: vec!["enfants".into()],
            languages: vec!["fr".into()],
            codebook: Vec::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut book = Book::new(&layout, dir.path(), max_rows).unwrap();
        for i in 0..rows {
            let items: Vec<Value> = (0..i % 3)
                .map(|k| serde_json::json!({ "age": i * 10 + k }))
                .collect();
            let row = ExportRow {
                id: uuid::Uuid::from_u128(i as u128 + 1),
                seq: i as i64 + 1,
                version: 1,
                device_id: None,
                sender_device_id: None,
                started_at: "2025-03-14T18:30:00+01:00".into(),
                completed_at: "2025-03-14T18:42:00+01:00".into(),
                received_at: chrono::Utc::now(),
                location: None,
                content_hash: "sha256:0".into(),
                answers: serde_json::json!({ "quartier": format!("q{i}"), "enfants": items }),
                photos_missing: Vec::new(),
            };
            book.write_row(&layout, "besoins", &row).unwrap();
        }
        book.write_codebook(&layout).unwrap();
        let mut bytes = Vec::new();
        book.workbook.save_to_writer(&mut bytes).unwrap();
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap()
    }

    /// The cells of sheet `name` as text, row by row.
    fn sheet_text(
        book: &mut calamine::Xlsx<std::io::Cursor<Vec<u8>>>,
        name: &str,
    ) -> Vec<Vec<String>> {
        let range = book.worksheet_range(name).unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn rows_past_a_sheets_limit_go_on_in_continuation_sheets_each_with_the_header() {
        // 10 responses, 3 a sheet (4 rows with the header): 4 response sheets; 9 repeat
        // items (0, 1, 2, 0, 1… a response): 3 repeat sheets, each added when its first row
        // comes.
        let mut book = workbook_of(10, 4);
        assert_eq!(
            book.sheet_names(),
            [
                "Réponses",
                "enfants",
                "Réponses (2)",
                "enfants (2)",
                "Réponses (3)",
                "enfants (3)",
                "Réponses (4)",
                "Codebook",
            ]
        );
        let header: Vec<String> = META_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(["quartier".into(), "enfants".into()])
            .collect();
        let mut responses = Vec::new();
        for name in ["Réponses", "Réponses (2)", "Réponses (3)", "Réponses (4)"] {
            let rows = sheet_text(&mut book, name);
            assert_eq!(rows[0], header, "{name}'s header");
            assert!(
                rows.len() <= 4,
                "{name} holds at most 3 rows under its header"
            );
            responses.extend(rows.into_iter().skip(1));
        }
        let quartier = header.iter().position(|h| h == "quartier").unwrap();
        let expected: Vec<(String, String)> = (0..10)
            .map(|i| (uuid::Uuid::from_u128(i + 1).to_string(), format!("q{i}")))
            .collect();
        let got: Vec<(String, String)> = responses
            .iter()
            .map(|r| (r[0].clone(), r[quartier].clone()))
            .collect();
        assert_eq!(got, expected, "every response once, in order");

        let mut items = Vec::new();
        for name in ["enfants", "enfants (2)", "enfants (3)"] {
            let rows = sheet_text(&mut book, name);
            assert_eq!(rows[0], ["response_id", "item", "age"], "{name}'s header");
            assert!(rows.len() <= 4);
            items.extend(rows.into_iter().skip(1));
        }
        let expected: Vec<Vec<String>> = (0..10u128)
            .flat_map(|i| {
                (0..i % 3).map(move |k| {
                    vec![
                        uuid::Uuid::from_u128(i + 1).to_string(),
                        (k + 1).to_string(),
                        (i * 10 + k).to_string(),
                    ]
                })
            })
            .collect();
        assert_eq!(items, expected, "every item once, in order");
    }

    #[test]
    fn under_the_limit_there_is_one_sheet_each() {
        let book = workbook_of(3, 4);
        assert_eq!(book.sheet_names(), ["Réponses", "enfants", "Codebook"]);
    }

    #[test]
    fn long_text_is_clipped_on_a_character_boundary() {
        let s = "é".repeat(MAX_CHARS + 5);
        assert_eq!(clip(&s).chars().count(), MAX_CHARS);
        assert_eq!(clip("court"), "court");
    }
}
