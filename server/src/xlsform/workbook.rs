//! Reading a workbook: the bytes become sheets of text cells, each header parsed into the
//! column it names. Everything Excel-specific stays here: numbers written as text the way a
//! person reads them (`12`, not `12.0`), dates as ISO 8601, a formula cell's cached value,
//! Excel errors and formulas without a saved value reported rather than read as text.
//!
//! Cells are streamed (`worksheet_cells_reader`), never laid out as a rectangle: a stray
//! cell at `XFD1048576` costs one cell, not a billion empty ones.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek};

use calamine::{DataRef, Reader, Xlsx};
use parole_client::i18n::{shown, Message};

use super::Issue;

/// The most a workbook may unpack to: real forms, thousands of choices in several
/// languages, stay under a few megabytes; a zip bomb does not get read.
const MAX_UNPACKED_BYTES: u64 = 100 * 1024 * 1024;
/// The most cells read over the whole workbook.
const MAX_CELLS: usize = 1_000_000;

/// One cell's text, and why it may not be what the author sees in Excel.
#[derive(Debug, Clone, Default)]
pub(super) struct Cell {
    pub text: String,
    pub problem: Option<CellProblem>,
}

#[derive(Debug, Clone)]
pub(super) enum CellProblem {
    /// An Excel error value (`#N/A`, `#REF!`…).
    ExcelError(String),
    /// A formula whose value was never saved (the file was written by a program, not Excel).
    FormulaWithoutValue(String),
}

/// A worksheet: its name as written, its non-empty cells by (1-based) row and (0-based)
/// column.
#[derive(Debug, Default)]
pub(super) struct Sheet {
    pub name: String,
    pub cells: BTreeMap<u32, BTreeMap<u32, Cell>>,
}

/// Opens the workbook and reads every worksheet. The refusal names no sheet: the file as a
/// whole is not a workbook.
pub(super) fn read(bytes: &[u8]) -> Result<Vec<Sheet>, Issue> {
    let whole = |fr: String, en: String| Issue {
        sheet: String::new(),
        row: None,
        column: None,
        message: Message::new(fr, en),
    };
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(whole(
            "ce fichier est un classeur Excel 97-2003 (.xls) : enregistrez-le au format .xlsx \
             (Fichier › Enregistrer sous › Classeur Excel) puis importez-le à nouveau"
                .into(),
            "this file is an Excel 97-2003 workbook (.xls): save it as .xlsx (File › Save As › \
             Excel Workbook) and import it again"
                .into(),
        ));
    }
    if !bytes.starts_with(b"PK") {
        return Err(whole(
            "ce fichier n'est pas un classeur .xlsx (un XLSForm s'enregistre au format Excel \
             .xlsx)"
                .into(),
            "this file is not an .xlsx workbook (an XLSForm is saved as an Excel .xlsx file)"
                .into(),
        ));
    }
    unpacked_size_within_limit(Cursor::new(bytes)).map_err(|(fr, en)| whole(fr, en))?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        let e = shown(&e.to_string());
        whole(
            format!("classeur .xlsx illisible ({e}) : est-il endommagé ? Ouvrez-le et enregistrez-le à nouveau dans Excel ou LibreOffice"),
            format!("unreadable .xlsx workbook ({e}): is it damaged? Open it and save it again in Excel or LibreOffice"),
        )
    })?;
    let mut sheets = Vec::new();
    let mut count = 0usize;
    for name in workbook.sheet_names() {
        let mut sheet = Sheet {
            name: name.clone(),
            cells: BTreeMap::new(),
        };
        // A chart sheet, or a sheet calamine cannot read: no cells. Only the survey, choices
        // and settings sheets matter, and an empty survey is refused by name later.
        let Ok(mut reader) = workbook.worksheet_cells_reader(&name) else {
            sheets.push(sheet);
            continue;
        };
        loop {
            let next = reader.next_cell_with_formula().map_err(|e| {
                let e = shown(&e.to_string());
                Issue {
                    sheet: name.clone(),
                    row: None,
                    column: None,
                    message: Message::new(
                        format!("feuille illisible ({e})"),
                        format!("unreadable sheet ({e})"),
                    ),
                }
            })?;
            let Some(cell) = next else { break };
            let (row, col) = cell.pos;
            let Some(cell) = cell_of(&cell.value, cell.formula) else {
                continue;
            };
            count += 1;
            if count > MAX_CELLS {
                return Err(whole(
                    format!("classeur trop grand : plus de {MAX_CELLS} cellules remplies"),
                    format!("workbook too large: over {MAX_CELLS} filled cells"),
                ));
            }
            sheet.cells.entry(row + 1).or_default().insert(col, cell);
        }
        sheets.push(sheet);
    }
    Ok(sheets)
}

/// Refuses a zip whose entries say they unpack to more than [`MAX_UNPACKED_BYTES`].
fn unpacked_size_within_limit<R: Read + Seek>(reader: R) -> Result<(), (String, String)> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| {
        let e = shown(&e.to_string());
        (
            format!("ce fichier n'est pas un classeur .xlsx lisible (archive zip invalide : {e})"),
            format!("this file is not a readable .xlsx workbook (invalid zip archive: {e})"),
        )
    })?;
    let mut total = 0u64;
    for i in 0..archive.len() {
        if let Ok(entry) = archive.by_index_raw(i) {
            total = total.saturating_add(entry.size());
        }
    }
    if total > MAX_UNPACKED_BYTES {
        let mib = MAX_UNPACKED_BYTES / (1024 * 1024);
        return Err((
            format!("classeur trop grand une fois décompressé (plus de {mib} Mio)"),
            format!("workbook too large once unpacked (over {mib} MiB)"),
        ));
    }
    Ok(())
}

/// A cell's text, `None` for an empty cell (formatting only).
fn cell_of(value: &DataRef<'_>, formula: Option<String>) -> Option<Cell> {
    let text = match value {
        DataRef::Empty => {
            let formula = formula.filter(|f| !f.trim().is_empty())?;
            return Some(Cell {
                text: String::new(),
                problem: Some(CellProblem::FormulaWithoutValue(formula)),
            });
        }
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => {
            let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
            if d.is_duration() {
                format!("{h:02}:{mi:02}:{s:02}")
            } else if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{day:02}")
            } else {
                format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => {
            return Some(Cell {
                text: String::new(),
                problem: Some(CellProblem::ExcelError(e.to_string())),
            })
        }
    };
    if text.is_empty() {
        return None;
    }
    Some(Cell {
        text,
        problem: None,
    })
}

/// A number as a person reads it: `12`, `2022062100`, `0.5`.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Tables: a header row, then data rows.

/// What a column header names: a base (`label`, `relevant`, `media`…), normalised (lower
/// case, `_` for spaces, SurveyCTO and old names mapped to the XLSForm ones), the language
/// it is in (as written: `English (en)`), and for media the media kind (`image`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Field {
    pub base: String,
    pub media: Option<String>,
    pub lang: Option<String>,
}

/// The media kinds a header may name (`image`, `media::image::English (en)`…).
const MEDIA: &[&str] = &["image", "big-image", "big_image", "audio", "video"];

impl Field {
    /// Reads a header: `label::English (en)`, `label:English`, `LABEL::EN`,
    /// `constraint message`, `media:image`, `jr:constraintMsg`, `bind::relevant`…
    pub fn parse(header: &str) -> Field {
        let h = header.trim();
        let (head, rest) = match h.split_once("::") {
            Some((a, b)) => (a, Some(b)),
            None => match h.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (h, None),
            },
        };
        let head_norm = normalise(head);
        // Prefixes that only say where pyxform puts the column.
        if matches!(head_norm.as_str(), "jr" | "bind" | "body") {
            if let Some(rest) = rest {
                return Field::parse(rest);
            }
        }
        let base = match head_norm.as_str() {
            "relevance" => "relevant",
            "constraintmsg" | "constraint_msg" | "constraint_message" => "constraint_message",
            "requiredmsg" | "required_msg" | "required_message" => "required_message",
            "readonly" | "read_only" => "read_only",
            "caption" => "label",
            "count" => "repeat_count",
            other => other,
        }
        .to_string();
        let rest = rest.map(str::trim).filter(|r| !r.is_empty());
        if base == "media" {
            let rest = rest.unwrap_or_default();
            let (kind, lang) = match rest.split_once("::").or_else(|| rest.split_once(':')) {
                Some((k, l)) => (k, Some(l.trim().to_string())),
                None => (rest, None),
            };
            return Field {
                base,
                media: Some(normalise(kind)),
                lang: lang.filter(|l| !l.is_empty()),
            };
        }
        if MEDIA.contains(&head.trim().to_ascii_lowercase().as_str()) {
            return Field {
                base: "media".into(),
                media: Some(base),
                lang: rest.map(String::from),
            };
        }
        Field {
            base,
            media: None,
            lang: rest.map(String::from),
        }
    }

    /// The key that makes two headers the same column (`label` twice, `relevant` and
    /// `relevance`, `label::English (en)` and `LABEL::english (EN)`).
    fn identity(&self) -> (String, Option<String>, Option<String>) {
        (
            self.base.clone(),
            self.media.clone(),
            self.lang
                .as_ref()
                .map(|l| l.to_lowercase().replace(' ', "")),
        )
    }
}

/// Lower case, `_` for runs of spaces and hyphens, trimmed.
fn normalise(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_whitespace() || c == '-' {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A column: its header as written (for messages), what it names, its position.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub header: String,
    pub field: Field,
    pub index: u32,
}

/// A sheet read as a table: the first non-empty row is the header.
#[derive(Debug)]
pub(super) struct Table {
    pub sheet: String,
    pub header_row: u32,
    pub columns: Vec<Column>,
    pub rows: Vec<TableRow>,
}

#[derive(Debug, Clone)]
pub(super) struct TableRow {
    pub number: u32,
    pub cells: BTreeMap<u32, Cell>,
}

impl TableRow {
    /// The text under `column` (`""` when empty).
    pub fn text(&self, column: &Column) -> &str {
        self.cells
            .get(&column.index)
            .map(|c| c.text.as_str())
            .unwrap_or_default()
    }
}

impl Table {
    /// The sheet as a table. A duplicated header (the same column twice, as written or
    /// under another name) is refused, naming both.
    pub fn of(sheet: &Sheet) -> Result<Table, Issue> {
        let mut rows = sheet.cells.iter();
        let Some((&header_row, header)) = rows.next() else {
            return Ok(Table {
                sheet: sheet.name.clone(),
                header_row: 1,
                columns: Vec::new(),
                rows: Vec::new(),
            });
        };
        let mut columns: Vec<Column> = Vec::new();
        for (&index, cell) in header {
            if cell.text.is_empty() {
                continue;
            }
            let field = Field::parse(&cell.text);
            if let Some(first) = columns
                .iter()
                .find(|c| c.field.identity() == field.identity())
            {
                let (a, b) = (shown(&first.header), shown(&cell.text));
                let (fr, en) = if a == b {
                    (
                        format!("l'en-tête de colonne « {b} » apparaît deux fois : gardez-en une seule colonne"),
                        format!("the column header `{b}` appears twice: keep only one such column"),
                    )
                } else {
                    (
                        format!("les colonnes « {a} » et « {b} » sont la même colonne sous deux noms : gardez-en une seule"),
                        format!("the columns `{a}` and `{b}` are the same column under two names: keep only one"),
                    )
                };
                return Err(Issue {
                    sheet: sheet.name.clone(),
                    row: Some(header_row),
                    column: Some(cell.text.clone()),
                    message: Message::new(fr, en),
                });
            }
            columns.push(Column {
                header: cell.text.clone(),
                field,
                index,
            });
        }
        let rows = rows
            .map(|(&number, cells)| TableRow {
                number,
                cells: cells.clone(),
            })
            .collect();
        Ok(Table {
            sheet: sheet.name.clone(),
            header_row,
            columns,
            rows,
        })
    }

    /// The column for `base` without a language (`type`, `name`, `relevant`…).
    pub fn column(&self, base: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.field.base == base && c.field.lang.is_none() && c.field.media.is_none())
    }

    /// Every column for `base`, with or without a language.
    pub fn columns_of<'a>(&'a self, base: &'a str) -> impl Iterator<Item = &'a Column> + 'a {
        self.columns
            .iter()
            .filter(move |c| c.field.base == base && c.field.media.is_none())
    }

    /// The column with this header, to name it in an issue.
    pub fn header_of(&self, index: u32) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.index == index)
            .map(|c| c.header.as_str())
    }
}

#[cfg(test)]
pub(crate) mod test_workbooks {
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    /// Test workbooks written by hand: `xlsx(&[("survey", &[&["type", "name"], …])])`. A cell
    /// `=FORMULA=>VALUE` is a formula with its cached value (`=FORMULA=>` without one).
    pub(crate) fn xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        }
        fn col_name(mut i: usize) -> String {
            let mut out = String::new();
            loop {
                out.insert(0, (b'A' + (i % 26) as u8) as char);
                if i < 26 {
                    return out;
                }
                i = i / 26 - 1;
            }
        }
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut put = |name: &str, body: String| {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        };
        let overrides: String = (1..=sheets.len())
            .map(|i| format!(r#"<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#))
            .collect();
        put(
            "[Content_Types].xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}</Types>"#
            ),
        );
        put("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into());
        let list: String = sheets
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                format!(
                    r#"<sheet name="{}" sheetId="{}" r:id="rId{}"/>"#,
                    esc(name),
                    i + 1,
                    i + 1
                )
            })
            .collect();
        put(
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{list}</sheets></workbook>"#
            ),
        );
        let rels: String = (1..=sheets.len())
            .map(|i| format!(r#"<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>"#))
            .collect();
        put(
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
            ),
        );
        for (i, (_, rows)) in sheets.iter().enumerate() {
            let mut data = String::new();
            for (r, row) in rows.iter().enumerate() {
                data.push_str(&format!(r#"<row r="{}">"#, r + 1));
                for (c, text) in row.iter().enumerate() {
                    if text.is_empty() {
                        continue;
                    }
                    let at = format!("{}{}", col_name(c), r + 1);
                    match text.strip_prefix('=').and_then(|t| t.split_once("=>")) {
                        Some((formula, "")) => {
                            data.push_str(&format!(r#"<c r="{at}"><f>{}</f></c>"#, esc(formula)))
                        }
                        Some((formula, value)) => data.push_str(&format!(
                            r#"<c r="{at}" t="str"><f>{}</f><v>{}</v></c>"#,
                            esc(formula),
                            esc(value)
                        )),
                        None => data.push_str(&format!(
                            r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                            esc(text)
                        )),
                    }
                }
                data.push_str("</row>");
            }
            put(
                &format!("xl/worksheets/sheet{}.xml", i + 1),
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>"#
                ),
            );
        }
        zip.finish().unwrap().into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(base: &str, media: Option<&str>, lang: Option<&str>) -> Field {
        Field {
            base: base.into(),
            media: media.map(String::from),
            lang: lang.map(String::from),
        }
    }

    #[test]
    fn headers_are_read_in_every_spelling_real_forms_use() {
        let cases = [
            ("label", f("label", None, None)),
            ("LABEL::EN", f("label", None, Some("EN"))),
            (
                "label::English (en)",
                f("label", None, Some("English (en)")),
            ),
            ("label::English(en)", f("label", None, Some("English(en)"))),
            ("label:English", f("label", None, Some("English"))),
            ("label::en", f("label", None, Some("en"))),
            ("hint::Deutsch (de)", f("hint", None, Some("Deutsch (de)"))),
            ("relevance", f("relevant", None, None)),
            ("constraint message", f("constraint_message", None, None)),
            (
                "constraint_message::Arabic (ar)",
                f("constraint_message", None, Some("Arabic (ar)")),
            ),
            ("jr:constraintMsg", f("constraint_message", None, None)),
            ("requiredMsg", f("required_message", None, None)),
            ("read only", f("read_only", None, None)),
            ("list name", f("list_name", None, None)),
            ("media:image", f("media", Some("image"), None)),
            (
                "media::image::English (en)",
                f("media", Some("image"), Some("English (en)")),
            ),
            ("image", f("media", Some("image"), None)),
            ("image::english", f("media", Some("image"), Some("english"))),
            ("bind::relevant", f("relevant", None, None)),
            (" Type ", f("type", None, None)),
        ];
        for (header, want) in cases {
            assert_eq!(Field::parse(header), want, "{header}");
        }
    }

    #[test]
    fn numbers_read_as_a_person_reads_them() {
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(2022062100.0), "2022062100");
        assert_eq!(number_text(0.5), "0.5");
        assert_eq!(number_text(-3.0), "-3");
    }

    #[test]
    fn a_header_written_twice_or_under_two_names_is_refused() {
        for (a, b) in [
            ("label", "label"),
            ("relevant", "relevance"),
            ("LABEL::EN", "label::en"),
        ] {
            let mut sheet = Sheet {
                name: "survey".into(),
                ..Sheet::default()
            };
            let header = sheet.cells.entry(1).or_default();
            for (i, h) in ["type", a, b].into_iter().enumerate() {
                header.insert(
                    i as u32,
                    Cell {
                        text: h.into(),
                        problem: None,
                    },
                );
            }
            let e = Table::of(&sheet).unwrap_err();
            assert_eq!((e.row, e.column.as_deref()), (Some(1), Some(b)), "{a} {b}");
        }
    }
}
