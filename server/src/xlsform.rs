//! The XLSForm import: an ODK XLSForm workbook (.xlsx) converted to Parole's questionnaire
//! format ([`convert`]). Pure: bytes in, a document and its report out; nothing is saved.
//!
//! What converts: the survey, choices and settings sheets (names and headers in any case,
//! columns in any order, SurveyCTO's and old column names); the question types real forms
//! use (text, integer, decimal, select_one / select_multiple, note, date, time, dateTime,
//! geopoint, image, acknowledge, range, groups as sections, repeats), labels and hints in
//! every language column (`label::English (en)`, `label::en`, `label:English`…), `required`,
//! the common `relevant` shapes as `x-visible-if`, the common `constraint` shapes as
//! JSON Schema keywords (with `constraint_message` as `x-error-message`), and the
//! appearances the format has an equivalent for (`multiline`, `minimal`, `likert`,
//! `field-list`).
//!
//! What does not (calculations, metadata such as `start` or `deviceid`, audio, files,
//! `choice_filter`, media, expressions of other shapes…) is listed row by row in the
//! warnings, each naming its sheet, row and column: never dropped silently. A workbook
//! that cannot become a questionnaire at all is refused with every reason, each naming
//! where.
//!
//! The document returned always passes [`Questionnaire::parse`]: that is checked here, and
//! a rule the format refuses (a pattern that does not compile) is taken out with a warning.
//!
//! ```no_run
//! let bytes = std::fs::read("form.xlsx").unwrap();
//! match parole_server::xlsform::convert(&bytes) {
//!     Ok(report) => println!("{} warnings", report.warnings.len()),
//!     Err(errors) => eprintln!("refused: {}", errors[0].message),
//! }
//! ```

mod expr;
mod lang;
mod workbook;

use std::collections::{BTreeMap, HashMap, HashSet};

use parole_client::api::{XlsformIssue, XlsformReport};
use parole_client::i18n::{shown, Message};
use parole_client::Questionnaire;
use serde_json::{json, Map, Value};

use expr::{Cond, Lit, Order, Subject, Test};
use workbook::{CellProblem, Column, Sheet, Table, TableRow};

/// One row of the report: where (sheet, Excel row, column header) and what.
pub type Issue = XlsformIssue;
/// The converted document, its warnings and a suggested slug.
pub type Converted = XlsformReport;

const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";
const PHOTO_PATTERN: &str = "^sha256:[0-9a-f]{64}$";
/// A telephone number as people type it: digits, spaces, `+ ( ) . -`.
const TEL_PATTERN: &str = "^\\+?[0-9][0-9 ().-]{2,}$";
/// A single choice with more choices than this is shown as a drop-down.
const SELECT_WIDGET_FROM: usize = 50;

/// Converts an XLSForm workbook. `Err` when it cannot become a questionnaire at all: every
/// reason, each naming its sheet and, where it applies, row and column.
pub fn convert(workbook: &[u8]) -> Result<Converted, Vec<Issue>> {
    let sheets = workbook::read(workbook).map_err(|e| vec![e])?;
    Converter::new(&sheets)?.run()
}

fn msg(fr: impl Into<String>, en: impl Into<String>) -> Message {
    Message::new(fr, en)
}

// ---------------------------------------------------------------------------------------------
// The model built from the survey sheet

/// What an answer is, for turning a condition on it into a schema.
#[derive(Debug, Clone)]
enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// A single choice; the values as the document writes them (strings, or integers for
    /// a scale).
    Choice(Vec<Value>),
    Multiple(Vec<Value>),
    /// Dates, times, photos: strings with a format.
    Formatted,
    Geopoint,
    Note,
    Section,
    Repeat,
}

impl Kind {
    fn is_string(&self) -> bool {
        match self {
            Kind::Text | Kind::Formatted => true,
            Kind::Choice(values) => values.iter().all(Value::is_string),
            _ => false,
        }
    }
}

/// A question, section or repeat, in survey order.
#[derive(Debug)]
struct Node {
    /// Index into the survey table's rows.
    row: usize,
    /// The Excel row number.
    number: u32,
    /// The name as written (what `${…}` refers to).
    name: String,
    key: String,
    parent: Option<usize>,
    /// The innermost repeat strictly around it: what its `x-visible-if` is evaluated on.
    scope: Option<usize>,
    kind: Kind,
    /// Its keywords but the title, description, children and rules.
    schema: Map<String, Value>,
    /// Title and description by language code.
    titles: BTreeMap<String, String>,
    hints: BTreeMap<String, String>,
    /// Choice labels in the other languages: language → value → label.
    choice_labels: BTreeMap<String, Map<String, Value>>,
    error_messages: BTreeMap<String, String>,
    required: bool,
    visible_if: Option<Value>,
    /// The keywords its constraint added (taken out again if the format refuses them).
    constraint_keys: Vec<String>,
    /// The `_other` text question made for an `or_other` select: the select it follows.
    other_of: Option<usize>,
}

/// A choice list of the choices sheet.
#[derive(Debug, Default)]
struct List {
    choices: Vec<Choice>,
}

#[derive(Debug)]
struct Choice {
    value: String,
    labels: BTreeMap<String, String>,
}

/// The languages of the workbook's columns.
#[derive(Debug)]
struct Languages {
    /// Default first.
    order: Vec<String>,
    /// A column's language as written (lower case, no spaces) → its code; `None` when not
    /// recognised (the column is ignored, with a warning).
    codes: HashMap<String, Option<String>>,
}

impl Languages {
    fn default(&self) -> &str {
        &self.order[0]
    }

    fn code(&self, spec: &str) -> Option<&str> {
        self.codes.get(&spec_key(spec)).and_then(|c| c.as_deref())
    }

    /// The texts of `base` columns (`label`, `hint`…) on `row`, by language. A column
    /// without a language is the default language's, where that has no column of its own.
    fn texts(&self, table: &Table, row: &TableRow, base: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut plain = None;
        for col in table.columns_of(base) {
            let text = row.text(col);
            if text.is_empty() {
                continue;
            }
            match &col.field.lang {
                None => plain = Some(text.to_string()),
                Some(spec) => {
                    if let Some(code) = self.code(spec) {
                        out.entry(code.to_string())
                            .or_insert_with(|| text.to_string());
                    }
                }
            }
        }
        if let Some(text) = plain {
            out.entry(self.default().to_string()).or_insert(text);
        }
        out
    }

    /// The text in the default language, else in the first language that has one.
    fn main<'a>(&self, texts: &'a BTreeMap<String, String>) -> Option<&'a String> {
        self.order.iter().find_map(|l| texts.get(l))
    }
}

fn spec_key(spec: &str) -> String {
    spec.to_lowercase().replace(' ', "")
}

/// How a survey row's `type` reads.
#[derive(Debug, Clone, PartialEq)]
enum RowType {
    BeginGroup,
    EndGroup,
    BeginRepeat,
    EndRepeat,
    BeginLoop(String),
    EndLoop,
    Question(QType),
    /// Not converted: the warning says why.
    Dropped(Message),
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
enum QType {
    Text,
    Integer,
    Decimal,
    Date,
    Time,
    DateTime,
    Geopoint,
    Photo,
    Note,
    Acknowledge,
    Barcode,
    Tel,
    Range,
    Select {
        multiple: bool,
        list: String,
        or_other: bool,
    },
    /// `select_one` without a list name.
    SelectWithoutList,
}

fn metadata(name: &str, fr_why: &str, en_why: &str) -> RowType {
    RowType::Dropped(msg(
        format!("métadonnée « {name} » non convertie : {fr_why}"),
        format!("metadata `{name}` not converted: {en_why}"),
    ))
}

fn unsupported_type(name: &str) -> RowType {
    RowType::Dropped(msg(
        format!("type « {name} » non converti : le format de Parole n'a pas ce type de question ; la ligne est ignorée"),
        format!("type `{name}` not converted: Parole's format has no such kind of question; the row is left out"),
    ))
}

/// Reads a `type` cell: `select_one list`, `select one list or_other`, `begin group`,
/// `dateTime`, `gps`…
fn row_type(text: &str) -> RowType {
    let words: Vec<&str> = text.split_whitespace().collect();
    let spaced = words.join(" ");
    let lower = spaced.to_lowercase();
    // Selects and loops carry a list name, whose case matters.
    let (body, or_other) = ["or_other", "or specify other"]
        .iter()
        .find_map(|s| {
            lower
                .strip_suffix(s)
                .filter(|b| b.ends_with(' '))
                .map(|b| (b.trim_end().len(), true))
        })
        .map(|(len, o)| (&spaced[..len], o))
        .unwrap_or((spaced.as_str(), false));
    let lower_body = body.to_lowercase();
    let with_list = |prefix: &str| -> Option<String> {
        lower_body
            .starts_with(prefix)
            .then(|| body[prefix.len()..].trim().to_string())
    };
    for prefix in [
        "select_one_from_file ",
        "select_multiple_from_file ",
        "select one from file ",
        "select_one_external ",
    ] {
        if lower_body.starts_with(prefix) {
            return RowType::Dropped(msg(
                format!("« {} » non converti : les choix viennent d'un fichier externe que le classeur ne contient pas ; la ligne est ignorée", shown(&spaced)),
                format!("`{}` not converted: the choices come from an external file the workbook does not hold; the row is left out", shown(&spaced)),
            ));
        }
    }
    if lower_body.starts_with("rank ") {
        return unsupported_type("rank");
    }
    for prefix in [
        "begin loop over ",
        "begin_loop over ",
        "begin loop ",
        "begin_loop ",
    ] {
        if let Some(list) = with_list(prefix) {
            return RowType::BeginLoop(list);
        }
    }
    for (prefix, multiple) in [
        ("select all that apply from ", true),
        ("select all that apply ", true),
        ("select_multiple ", true),
        ("select multiple ", true),
        ("select one from ", false),
        ("select_one ", false),
        ("select one ", false),
        ("select1 ", false),
    ] {
        if let Some(list) = with_list(prefix) {
            return RowType::Question(QType::Select {
                multiple,
                list,
                or_other,
            });
        }
    }
    let plain = lower.replace(' ', "_");
    match plain.as_str() {
        "select_one" | "select_multiple" | "select_all_that_apply" => {
            RowType::Question(QType::SelectWithoutList)
        }
        "text" | "string" => RowType::Question(QType::Text),
        "integer" | "int" => RowType::Question(QType::Integer),
        "decimal" => RowType::Question(QType::Decimal),
        "date" => RowType::Question(QType::Date),
        "time" => RowType::Question(QType::Time),
        "datetime" | "date_time" => RowType::Question(QType::DateTime),
        "geopoint" | "gps" => RowType::Question(QType::Geopoint),
        "image" | "photo" => RowType::Question(QType::Photo),
        "note" => RowType::Question(QType::Note),
        "acknowledge" | "trigger" => RowType::Question(QType::Acknowledge),
        "barcode" => RowType::Question(QType::Barcode),
        "tel" => RowType::Question(QType::Tel),
        "range" => RowType::Question(QType::Range),
        "begin_group" | "begingroup" => RowType::BeginGroup,
        "end_group" | "endgroup" => RowType::EndGroup,
        "begin_repeat" | "beginrepeat" => RowType::BeginRepeat,
        "end_repeat" | "endrepeat" => RowType::EndRepeat,
        "end_loop" | "endloop" => RowType::EndLoop,
        "calculate" | "hidden" => RowType::Dropped(msg(
            format!("calcul « {} » non converti : le format de Parole n'a pas de champ calculé ; les règles qui s'en servent ne sont pas converties non plus", shown(&spaced)),
            format!("calculation `{}` not converted: Parole's format has no computed field; the rules that use it are not converted either", shown(&spaced)),
        )),
        "start" | "end" | "today" => metadata(
            &plain,
            "Parole enregistre déjà le début et la fin de chaque entretien (started_at, completed_at)",
            "Parole already records when each interview starts and ends (started_at, completed_at)",
        ),
        "deviceid" | "uri:deviceid" => metadata(
            &plain,
            "Parole enregistre déjà l'appareil de chaque réponse (device_id)",
            "Parole already records the device of each response (device_id)",
        ),
        "subscriberid" | "simserial" | "phonenumber" | "username" | "email" | "imei"
        | "uri:subscriberid" | "uri:simserial" | "uri:phonenumber" | "uri:username"
        | "uri:email" | "start_geopoint" | "start-geopoint" | "audit" | "background_audio"
        | "background-audio" | "background_geopoint" | "background-geopoint" => metadata(
            &plain,
            "Parole ne recueille pas cette information sur le téléphone",
            "Parole does not collect this from the phone",
        ),
        "audio" | "video" | "file" | "geotrace" | "geoshape" | "osm" | "xml-external"
        | "xml_external" | "csv-external" | "csv_external" => unsupported_type(&plain),
        _ if lower.starts_with("osm ") => unsupported_type("osm"),
        _ => RowType::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// The converter

struct Converter {
    survey: Table,
    choices: Option<Table>,
    settings: Option<Table>,
    langs: Languages,
    lists: HashMap<String, List>,
    nodes: Vec<Node>,
    /// Names as written → the nodes with that name.
    names: HashMap<String, Vec<usize>>,
    /// Names of rows not converted (calculations, metadata…).
    dropped: HashSet<String>,
    /// Sections shown one per screen (a root group with `field-list`, or `style: pages`).
    layout_sections: bool,
    /// Each node's pointer in the document, once assembled.
    pointers: Vec<(usize, String)>,
    warnings: Vec<Issue>,
    errors: Vec<Issue>,
}

fn find_sheet<'a>(sheets: &'a [Sheet], name: &str) -> Option<&'a Sheet> {
    sheets
        .iter()
        .find(|s| s.name.trim().eq_ignore_ascii_case(name))
}

impl Converter {
    fn new(sheets: &[Sheet]) -> Result<Converter, Vec<Issue>> {
        let Some(survey) = find_sheet(sheets, "survey") else {
            let names: Vec<String> = sheets.iter().map(|s| format!("« {} »", s.name)).collect();
            let names_en: Vec<String> = sheets.iter().map(|s| format!("`{}`", s.name)).collect();
            return Err(vec![Issue {
                sheet: "survey".into(),
                row: None,
                column: None,
                message: msg(
                    format!(
                        "le classeur n'a pas de feuille « survey » (ses feuilles : {}) : ce n'est pas un XLSForm",
                        if names.is_empty() { "aucune".to_string() } else { names.join(", ") }
                    ),
                    format!(
                        "the workbook has no `survey` sheet (its sheets: {}): it is not an XLSForm",
                        if names_en.is_empty() { "none".to_string() } else { names_en.join(", ") }
                    ),
                ),
            }]);
        };
        let table = |s: &Sheet| Table::of(s).map_err(|e| vec![e]);
        let survey = table(survey)?;
        let choices = find_sheet(sheets, "choices").map(table).transpose()?;
        let settings = find_sheet(sheets, "settings").map(table).transpose()?;
        let refuse = |row: Option<u32>, column: Option<&str>, m: Message| {
            vec![Issue {
                sheet: survey.sheet.clone(),
                row,
                column: column.map(String::from),
                message: m,
            }]
        };
        if survey.columns.is_empty() {
            return Err(refuse(
                None,
                None,
                msg(
                    "la feuille survey est vide : elle doit avoir une ligne d'en-têtes (type, name, label…) puis une ligne par question",
                    "the survey sheet is empty: it needs a header row (type, name, label…) then one row per question",
                ),
            ));
        }
        if survey.column("type").is_none() {
            return Err(refuse(
                Some(survey.header_row),
                Some("type"),
                msg(
                    format!("la feuille survey n'a pas de colonne « type » dans sa ligne d'en-têtes (ligne {})", survey.header_row),
                    format!("the survey sheet has no `type` column in its header row (row {})", survey.header_row),
                ),
            ));
        }
        if survey.column("name").is_none() {
            return Err(refuse(
                Some(survey.header_row),
                Some("name"),
                msg(
                    format!("la feuille survey n'a pas de colonne « name » dans sa ligne d'en-têtes (ligne {})", survey.header_row),
                    format!("the survey sheet has no `name` column in its header row (row {})", survey.header_row),
                ),
            ));
        }
        let mut warnings = Vec::new();
        let default_language = settings.as_ref().and_then(|s| {
            let col = s.column("default_language")?;
            let row = s.rows.first()?;
            let text = row.text(col);
            (!text.is_empty()).then(|| {
                (
                    text.to_string(),
                    s.sheet.clone(),
                    row.number,
                    col.header.clone(),
                )
            })
        });
        let langs = languages(&survey, choices.as_ref(), default_language, &mut warnings);
        let mut c = Converter {
            survey,
            choices,
            settings,
            langs,
            lists: HashMap::new(),
            nodes: Vec::new(),
            names: HashMap::new(),
            dropped: HashSet::new(),
            layout_sections: false,
            pointers: Vec::new(),
            warnings,
            errors: Vec::new(),
        };
        c.cell_problems();
        Ok(c)
    }

    fn warn(&mut self, sheet: &str, row: Option<u32>, column: Option<&str>, m: Message) {
        self.warnings.push(Issue {
            sheet: sheet.to_string(),
            row,
            column: column.map(String::from),
            message: m,
        });
    }

    /// A warning on a survey row.
    fn warn_row(&mut self, number: u32, column: Option<&str>, m: Message) {
        let sheet = self.survey.sheet.clone();
        self.warn(&sheet, Some(number), column, m);
    }

    fn error_row(&mut self, number: u32, column: Option<&str>, m: Message) {
        self.errors.push(Issue {
            sheet: self.survey.sheet.clone(),
            row: Some(number),
            column: column.map(String::from),
            message: m,
        });
    }

    /// Excel errors and formulas without a saved value, wherever a named column has one.
    fn cell_problems(&mut self) {
        let mut found = Vec::new();
        for table in [
            Some(&self.survey),
            self.choices.as_ref(),
            self.settings.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            for row in &table.rows {
                for (&index, cell) in &row.cells {
                    let (Some(problem), Some(header)) = (&cell.problem, table.header_of(index))
                    else {
                        continue;
                    };
                    let m = match problem {
                        CellProblem::ExcelError(e) => msg(
                            format!("la cellule contient l'erreur Excel {e} : lue comme vide"),
                            format!("the cell holds the Excel error {e}: read as empty"),
                        ),
                        CellProblem::FormulaWithoutValue(f) => msg(
                            format!("la cellule contient une formule (={}) dont la valeur n'a jamais été enregistrée : lue comme vide ; ouvrez le classeur dans Excel ou LibreOffice et enregistrez-le", shown(f)),
                            format!("the cell holds a formula (={}) whose value was never saved: read as empty; open the workbook in Excel or LibreOffice and save it", shown(f)),
                        ),
                    };
                    found.push((table.sheet.clone(), row.number, header.to_string(), m));
                }
            }
        }
        for (sheet, row, column, m) in found {
            self.warn(&sheet, Some(row), Some(&column), m);
        }
    }

    fn run(mut self) -> Result<Converted, Vec<Issue>> {
        self.read_choices();
        let (title, slug) = self.read_settings();
        self.read_survey();
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        for i in 0..self.nodes.len() {
            self.rules(i);
        }
        let (properties, required) = self.assemble(None);
        if properties.is_empty() {
            return Err(vec![Issue {
                sheet: self.survey.sheet.clone(),
                row: None,
                column: Some("type".into()),
                message: msg(
                    "aucune question à poser : la feuille survey n'a pas de question que Parole sait convertir (seulement des calculs, des métadonnées ou des types non pris en charge, voir les avertissements)",
                    "no question to ask: the survey sheet has no question Parole can convert (only calculations, metadata or unsupported types, see the warnings)",
                ),
            }]);
        }
        let mut document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": title,
            "x-languages": self.langs.order,
        });
        let root = document.as_object_mut().expect("an object");
        if self.layout_sections {
            root.insert("x-layout".into(), json!("sections"));
        }
        root.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            root.insert("required".into(), json!(required));
        }
        root.insert("additionalProperties".into(), json!(false));
        self.check(&mut document)?;
        // Sheet by sheet (survey, choices, settings, the others), row by row.
        let rank = |sheet: &str| match sheet.trim().to_lowercase().as_str() {
            "survey" => 0,
            "choices" => 1,
            "settings" => 2,
            _ => 3,
        };
        self.warnings
            .sort_by_key(|w| (rank(&w.sheet), w.row.unwrap_or(0)));
        Ok(Converted {
            document,
            warnings: self.warnings,
            slug,
        })
    }

    // -----------------------------------------------------------------------------------------
    // The choices sheet

    fn read_choices(&mut self) {
        let Some(table) = self.choices.take() else {
            return;
        };
        let sheet = table.sheet.clone();
        let list_col = table.column("list_name").cloned();
        let name_col = table
            .column("name")
            .or_else(|| table.column("value"))
            .cloned();
        let (Some(list_col), Some(name_col)) = (list_col, name_col) else {
            if !table.rows.is_empty() {
                let missing = if table.column("list_name").is_none() {
                    "list_name"
                } else {
                    "name"
                };
                self.warn(
                    &sheet,
                    Some(table.header_row),
                    Some(missing),
                    msg(
                        format!("la feuille choices n'a pas de colonne « {missing} » : ses choix sont ignorés"),
                        format!("the choices sheet has no `{missing}` column: its choices are left out"),
                    ),
                );
            }
            self.choices = Some(table);
            return;
        };
        let media: Vec<Column> = table
            .columns
            .iter()
            .filter(|c| c.field.base == "media")
            .cloned()
            .collect();
        let mut seen: HashMap<String, HashSet<String>> = HashMap::new();
        for row in &table.rows {
            let list = row.text(&list_col).to_string();
            let value = row.text(&name_col).to_string();
            if list.is_empty() && value.is_empty() {
                continue;
            }
            if list.is_empty() {
                self.warn(
                    &sheet,
                    Some(row.number),
                    Some(&list_col.header),
                    msg(
                        format!("choix « {} » sans nom de liste : ignoré", shown(&value)),
                        format!("choice `{}` without a list name: left out", shown(&value)),
                    ),
                );
                continue;
            }
            if value.is_empty() {
                self.warn(
                    &sheet,
                    Some(row.number),
                    Some(&name_col.header),
                    msg(
                        format!(
                            "choix sans valeur (colonne {}) dans la liste « {} » : ignoré",
                            name_col.header,
                            shown(&list)
                        ),
                        format!(
                            "choice without a value (column {}) in list `{}`: left out",
                            name_col.header,
                            shown(&list)
                        ),
                    ),
                );
                continue;
            }
            if !seen.entry(list.clone()).or_default().insert(value.clone()) {
                self.warn(&sheet, Some(row.number), Some(&name_col.header), msg(
                    format!("la valeur « {} » est déjà dans la liste « {} » : ce doublon est ignoré (une réponse doit dire quel choix a été fait)", shown(&value), shown(&list)),
                    format!("the value `{}` is already in list `{}`: this duplicate is left out (an answer must say which choice was made)", shown(&value), shown(&list)),
                ));
                continue;
            }
            let mut labels = self.langs.texts(&table, row, "label");
            if labels.is_empty() {
                self.warn(
                    &sheet,
                    Some(row.number),
                    Some("label"),
                    msg(
                        format!(
                            "choix « {} » sans libellé : sa valeur sert de libellé",
                            shown(&value)
                        ),
                        format!(
                            "choice `{}` has no label: its value is used as the label",
                            shown(&value)
                        ),
                    ),
                );
                labels.insert(self.langs.default().to_string(), value.clone());
            }
            if let Some(col) = media.iter().find(|c| !row.text(c).is_empty()) {
                self.warn(&sheet, Some(row.number), Some(&col.header), msg(
                    "image, son ou vidéo de choix non converti : le format de Parole n'a que du texte",
                    "choice image, audio or video not converted: Parole's format has text only",
                ));
            }
            if labels.values().any(|l| l.contains("${")) {
                self.warn(&sheet, Some(row.number), Some("label"), msg(
                    "le libellé cite une réponse (${…}) : Parole l'affiche tel quel, sans la remplacer",
                    "the label quotes an answer (${…}): Parole shows it as written, without replacing it",
                ));
            }
            self.lists
                .entry(list)
                .or_default()
                .choices
                .push(Choice { value, labels });
        }
        self.choices = Some(table);
    }

    // -----------------------------------------------------------------------------------------
    // The settings sheet

    /// The title and the suggested slug.
    fn read_settings(&mut self) -> (String, Option<String>) {
        let mut title = None;
        let mut form_id = None;
        if let Some(table) = self.settings.take() {
            if let Some(row) = table.rows.first() {
                for col in &table.columns {
                    let text = row.text(col).to_string();
                    if text.is_empty() {
                        continue;
                    }
                    match col.field.base.as_str() {
                        "form_title" | "title" => title = Some(text),
                        "form_id" | "id_string" => form_id = Some(text),
                        "default_language" => {}
                        "style" if text.split_whitespace().any(|s| s == "pages") => {
                            self.layout_sections = true
                        }
                        "version" => self.warn(&table.sheet, Some(row.number), Some(&col.header), msg(
                            format!("version « {} » non reprise : Parole numérote lui-même les versions à chaque publication", shown(&text)),
                            format!("version `{}` not kept: Parole numbers the versions itself each time you publish", shown(&text)),
                        )),
                        _ => self.warn(&table.sheet, Some(row.number), Some(&col.header), msg(
                            format!("réglage « {} » non converti : le format de Parole n'a pas d'équivalent", col.header),
                            format!("setting `{}` not converted: Parole's format has no equivalent", col.header),
                        )),
                    }
                }
            }
            self.settings = Some(table);
        }
        let slug = form_id
            .as_deref()
            .and_then(slug_of)
            .or_else(|| title.as_deref().and_then(slug_of));
        let title = title.or(form_id).unwrap_or_else(|| {
            self.warnings.push(Issue {
                sheet: "settings".into(),
                row: Some(1),
                column: Some("form_title".into()),
                message: msg(
                    "pas de form_title : le questionnaire s'appelle « Questionnaire importé » ; changez son titre",
                    "no form_title: the questionnaire is called “Questionnaire importé”; change its title",
                ),
            });
            "Questionnaire importé".to_string()
        });
        (title, slug)
    }

    // -----------------------------------------------------------------------------------------
    // The survey sheet: rows to nodes

    fn read_survey(&mut self) {
        let type_col = self.survey.column("type").cloned().expect("checked");
        let name_col = self.survey.column("name").cloned().expect("checked");
        let disabled = self.survey.column("disabled").cloned();
        let mut data_rows = 0;
        // The open groups and repeats: (node, its row, what closes it).
        let mut stack: Vec<(Option<usize>, u32, &'static str)> = Vec::new();
        for index in 0..self.survey.rows.len() {
            let row = &self.survey.rows[index].clone();
            let type_text = row.text(&type_col).to_string();
            let name = row.text(&name_col).to_string();
            if type_text.is_empty() {
                let other = row
                    .cells
                    .iter()
                    .find(|(i, c)| !c.text.is_empty() && self.survey.header_of(**i).is_some());
                if let Some((&i, _)) = other {
                    let header = self.survey.header_of(i).map(String::from);
                    self.warn_row(
                        row.number,
                        header.as_deref(),
                        msg("ligne sans type : ignorée", "row without a type: left out"),
                    );
                }
                continue;
            }
            data_rows += 1;
            let rt = row_type(&type_text);
            let structural = matches!(
                rt,
                RowType::BeginGroup
                    | RowType::EndGroup
                    | RowType::BeginRepeat
                    | RowType::EndRepeat
                    | RowType::BeginLoop(_)
                    | RowType::EndLoop
            );
            if let Some(col) = &disabled {
                if !structural && truthy(row.text(col)) == Some(true) {
                    self.warn_row(
                        row.number,
                        Some(&col.header),
                        msg(
                            "ligne désactivée (disabled) : ignorée",
                            "disabled row: left out",
                        ),
                    );
                    continue;
                }
            }
            let parent = stack.last().and_then(|(n, _, _)| *n);
            match rt {
                RowType::Unknown => self.error_row(row.number, Some(&type_col.header), msg(
                    format!("type de question inconnu « {} » : les types XLSForm sont text, integer, decimal, select_one LISTE, select_multiple LISTE, note, date, time, datetime, geopoint, image, begin_group, end_group, begin_repeat, end_repeat…", shown(&type_text)),
                    format!("unknown question type `{}`: the XLSForm types are text, integer, decimal, select_one LIST, select_multiple LIST, note, date, time, datetime, geopoint, image, begin_group, end_group, begin_repeat, end_repeat…", shown(&type_text)),
                )),
                RowType::Dropped(why) => {
                    if !name.is_empty() {
                        self.dropped.insert(name.clone());
                    }
                    self.warn_row(row.number, Some(&type_col.header), why);
                }
                RowType::BeginGroup | RowType::BeginRepeat | RowType::BeginLoop(_) => {
                    let (kind, closer) = match &rt {
                        RowType::BeginGroup => (Kind::Section, "end_group"),
                        RowType::BeginRepeat => (Kind::Repeat, "end_repeat"),
                        _ => (Kind::Repeat, "end_loop"),
                    };
                    let node = self.add_node(index, row, &name, parent, kind);
                    if let RowType::BeginLoop(list) = &rt {
                        self.begin_loop(node, list, &type_col.header);
                    }
                    stack.push((node, row.number, closer));
                }
                RowType::EndGroup | RowType::EndRepeat | RowType::EndLoop => {
                    let closer = match rt {
                        RowType::EndGroup => "end_group",
                        RowType::EndRepeat => "end_repeat",
                        _ => "end_loop",
                    };
                    match stack.pop() {
                        Some((_, _, want)) if want == closer => {}
                        Some((_, begun, want)) => self.error_row(row.number, Some(&type_col.header), msg(
                            format!("« {closer} » ferme ce qu'a ouvert la ligne {begun}, qui attend « {want} » : les begin/end sont mal imbriqués"),
                            format!("`{closer}` closes what row {begun} opened, which expects `{want}`: the begin/end rows are not nested properly"),
                        )),
                        None => self.error_row(row.number, Some(&type_col.header), msg(
                            format!("« {closer} » sans begin correspondant plus haut"),
                            format!("`{closer}` without a matching begin above it"),
                        )),
                    }
                }
                RowType::Question(q) => self.add_question(index, row, &name, parent, q, &type_col),
            }
        }
        for (_, begun, want) in stack.into_iter().rev() {
            self.error_row(begun, Some(&type_col.header), msg(
                format!("ce groupe ou cette répétition n'est jamais fermé : il manque une ligne « {want} »"),
                format!("this group or repeat is never closed: a `{want}` row is missing"),
            ));
        }
        if data_rows == 0 && self.errors.is_empty() {
            self.errors.push(Issue {
                sheet: self.survey.sheet.clone(),
                row: None,
                column: Some(type_col.header.clone()),
                message: msg(
                    "la feuille survey n'a aucune ligne de question sous ses en-têtes",
                    "the survey sheet has no question row under its headers",
                ),
            });
        }
    }

    /// A node with a key unique among its siblings; `None` when the row cannot be one.
    fn add_node(
        &mut self,
        index: usize,
        row: &TableRow,
        name: &str,
        parent: Option<usize>,
        kind: Kind,
    ) -> Option<usize> {
        let number = row.number;
        let base = if name.is_empty() {
            let generated = match kind {
                Kind::Section | Kind::Repeat => format!("groupe_{number}"),
                _ => format!("question_{number}"),
            };
            self.warn_row(
                number,
                Some("name"),
                msg(
                    format!("ligne sans nom : elle s'appelle « {generated} »"),
                    format!("row without a name: it is called `{generated}`"),
                ),
            );
            generated
        } else {
            key_of(name)
        };
        let taken: HashSet<&str> = self
            .nodes
            .iter()
            .filter(|n| n.parent == parent)
            .map(|n| n.key.as_str())
            .collect();
        let mut key = base.clone();
        let mut n = 2;
        while taken.contains(key.as_str()) {
            let suffix = format!("_{n}");
            key = format!("{}{suffix}", truncate(&base, 63 - suffix.len()));
            n += 1;
        }
        if !name.is_empty() && key != name {
            self.warn_row(number, Some("name"), msg(
                format!("le nom « {} » devient « {key} » (une clé de question est en minuscules sans accents, commence par une lettre et est unique à son niveau) : c'est le nom de la colonne dans les exports", shown(name)),
                format!("the name `{}` becomes `{key}` (a question key is lower case without accents, starts with a letter and is unique at its level): that is the column name in exports", shown(name)),
            ));
        }
        let scope = parent.and_then(|p| match self.nodes[p].kind {
            Kind::Repeat => Some(p),
            _ => self.nodes[p].scope,
        });
        let labels = self.langs.texts(&self.survey, row, "label");
        let hints = self.langs.texts(&self.survey, row, "hint");
        let id = self.nodes.len();
        self.nodes.push(Node {
            row: index,
            number,
            name: name.to_string(),
            key,
            parent,
            scope,
            kind,
            schema: Map::new(),
            titles: labels,
            hints,
            choice_labels: BTreeMap::new(),
            error_messages: BTreeMap::new(),
            required: false,
            visible_if: None,
            constraint_keys: Vec::new(),
            other_of: None,
        });
        if !name.is_empty() {
            self.names.entry(name.to_string()).or_default().push(id);
        }
        Some(id)
    }

    fn begin_loop(&mut self, node: Option<usize>, list: &str, type_header: &str) {
        let Some(node) = node else { return };
        let number = self.nodes[node].number;
        let count = self.lists.get(list).map(|l| l.choices.len());
        if let Some(n) = count {
            self.nodes[node].schema.insert("maxItems".into(), json!(n));
        }
        self.warn_row(number, Some(type_header), msg(
            format!("boucle sur la liste « {} » convertie en répétition (au plus une par choix) : l'enquêteur·rice ajoute un élément par choix, sans que le choix soit nommé", shown(list)),
            format!("loop over list `{}` converted to a repeat (at most one per choice): the interviewer adds one item per choice, without the choice being named", shown(list)),
        ));
    }

    fn add_question(
        &mut self,
        index: usize,
        row: &TableRow,
        name: &str,
        parent: Option<usize>,
        q: QType,
        type_col: &Column,
    ) {
        let number = row.number;
        let (mut schema, kind, or_other) = match &q {
            QType::SelectWithoutList => {
                self.error_row(number, Some(&type_col.header), msg(
                    "il manque le nom de la liste de choix après le type (par exemple « select_one oui_non »)",
                    "the choice list's name is missing after the type (for example `select_one yes_no`)",
                ));
                return;
            }
            QType::Select {
                multiple,
                list,
                or_other,
            } => {
                let Some(found) = self.lists.get(list) else {
                    let why = if self.choices.is_none() {
                        msg(
                            format!("la liste de choix « {} » n'existe pas : le classeur n'a pas de feuille choices", shown(list)),
                            format!("the choice list `{}` does not exist: the workbook has no choices sheet", shown(list)),
                        )
                    } else {
                        msg(
                            format!(
                                "la liste de choix « {} » n'existe pas dans la feuille choices",
                                shown(list)
                            ),
                            format!(
                                "the choice list `{}` does not exist in the choices sheet",
                                shown(list)
                            ),
                        )
                    };
                    self.error_row(number, Some(&type_col.header), why);
                    return;
                };
                let values: Vec<Value> = found.choices.iter().map(|c| json!(c.value)).collect();
                let schema = if *multiple {
                    json!({"type": "array", "uniqueItems": true, "items": {}})
                } else {
                    json!({"type": "string"})
                };
                let kind = if *multiple {
                    Kind::Multiple(values)
                } else {
                    Kind::Choice(values)
                };
                (into_map(schema), kind, *or_other)
            }
            other => {
                let (schema, kind) = match other {
                    QType::Text | QType::Barcode | QType::Tel => {
                        (json!({"type": "string"}), Kind::Text)
                    }
                    QType::Integer => (json!({"type": "integer"}), Kind::Integer),
                    QType::Decimal => (json!({"type": "number"}), Kind::Number),
                    QType::Date => (json!({"type": "string", "format": "date"}), Kind::Formatted),
                    QType::Time => (
                        json!({"type": "string", "x-widget": "time", "pattern": TIME_PATTERN}),
                        Kind::Formatted,
                    ),
                    QType::DateTime => (
                        json!({"type": "string", "format": "date-time"}),
                        Kind::Formatted,
                    ),
                    QType::Geopoint => (
                        json!({
                            "type": "object", "x-widget": "geopoint", "additionalProperties": false,
                            "properties": {
                                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                                "accuracy_m": {"type": "number", "minimum": 0}
                            },
                            "required": ["lat", "lon"]
                        }),
                        Kind::Geopoint,
                    ),
                    QType::Photo => (
                        json!({"type": "string", "x-widget": "photo", "pattern": PHOTO_PATTERN}),
                        Kind::Formatted,
                    ),
                    QType::Note => (json!({"type": "null", "x-widget": "note"}), Kind::Note),
                    QType::Acknowledge => (json!({"type": "boolean"}), Kind::Boolean),
                    QType::Range => (json!({"type": "number"}), Kind::Number),
                    QType::Select { .. } | QType::SelectWithoutList => unreachable!("above"),
                };
                (into_map(schema), kind, false)
            }
        };
        match q {
            QType::Barcode => self.warn_row(number, Some(&type_col.header), msg(
                "code-barres converti en texte : Parole ne lit pas les codes-barres, l'enquêteur·rice le tape",
                "barcode converted to text: Parole does not scan barcodes, the interviewer types it",
            )),
            QType::Tel => {
                schema.insert("pattern".into(), json!(TEL_PATTERN));
                self.warn_row(number, Some(&type_col.header), msg(
                    "« tel » converti en texte limité aux caractères d'un numéro (chiffres, espaces, + ( ) . -) ; marquez-le x-personal-data s'il identifie la personne",
                    "`tel` converted to text limited to a number's characters (digits, spaces, + ( ) . -); mark it x-personal-data if it identifies the person",
                ))
            }
            _ => {}
        }
        let Some(node) = self.add_node(index, row, name, parent, kind) else {
            return;
        };
        self.nodes[node].schema = schema;
        if let QType::Select { list, .. } = &q {
            self.fill_choices(node, list);
        }
        if q == QType::Range {
            self.range(node);
        }
        if or_other {
            self.or_other(node, index, row);
        }
    }

    /// The choices of `list` on a select question: `oneOf` (or `items.oneOf`) in the
    /// default language, the other languages in `x-i18n`.
    fn fill_choices(&mut self, node: usize, list: &str) {
        let default = self.langs.default().to_string();
        let Some(found) = self.lists.get(list) else {
            return;
        };
        let mut one_of = Vec::new();
        let mut translated: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for c in &found.choices {
            let title = self
                .langs
                .main(&c.labels)
                .cloned()
                .unwrap_or_else(|| c.value.clone());
            one_of.push(json!({"const": c.value, "title": title}));
            for (lang, label) in &c.labels {
                if *lang != default && *label != title {
                    translated
                        .entry(lang.clone())
                        .or_default()
                        .insert(c.value.clone(), json!(label));
                }
            }
        }
        let n = self.nodes.get_mut(node).expect("a node");
        match n.kind {
            Kind::Multiple(_) => {
                n.schema.insert("items".into(), json!({"oneOf": one_of}));
            }
            _ => {
                n.schema.insert("oneOf".into(), Value::Array(one_of));
                if found.choices.len() > SELECT_WIDGET_FROM {
                    n.schema.insert("x-widget".into(), json!("select"));
                }
            }
        }
        n.choice_labels = translated;
    }

    /// `range` with its `parameters` (`start=1 end=5 step=1`, ODK's defaults 1, 10, 1): a
    /// scale when it is a few whole numbers, else a number within bounds.
    fn range(&mut self, node: usize) {
        let params = self.parameters(node);
        let number = self.nodes[node].number;
        let get = |k: &str, default: f64| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .unwrap_or(default)
        };
        let (start, end, step) = (get("start", 1.0), get("end", 10.0), get("step", 1.0));
        let whole = [start, end, step].iter().all(|x| x.fract() == 0.0);
        let (lo, hi) = if start <= end {
            (start, end)
        } else {
            (end, start)
        };
        let n = &mut self.nodes[node];
        if whole && step == 1.0 && hi - lo <= 10.0 {
            let choices: Vec<Value> = (lo as i64..=hi as i64)
                .map(|i| json!({"const": i, "title": i.to_string()}))
                .collect();
            let values = (lo as i64..=hi as i64).map(|i| json!(i)).collect();
            n.schema = into_map(json!({"type": "integer", "x-widget": "likert", "oneOf": choices}));
            n.kind = Kind::Choice(values);
            return;
        }
        n.schema = into_map(json!({
            "type": if whole { "integer" } else { "number" },
            "minimum": json_number(lo),
            "maximum": json_number(hi),
        }));
        n.kind = if whole { Kind::Integer } else { Kind::Number };
        if step != 1.0 && step > 0.0 {
            self.warn_row(
                number,
                Some("parameters"),
                msg(
                    format!(
                        "pas de {} non converti : toute valeur entre {} et {} est acceptée",
                        json_number(step),
                        json_number(lo),
                        json_number(hi)
                    ),
                    format!(
                        "step {} not converted: any value between {} and {} is accepted",
                        json_number(step),
                        json_number(lo),
                        json_number(hi)
                    ),
                ),
            );
        }
    }

    /// The `parameters` cell of a node's row, as `key=value` pairs.
    fn parameters(&self, node: usize) -> Vec<(String, String)> {
        let Some(col) = self.survey.column("parameters") else {
            return Vec::new();
        };
        let row = &self.survey.rows[self.nodes[node].row];
        row.text(col)
            .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect()
    }

    /// `select_one list or_other`: the choice `other` and, after the question, the text
    /// question `NAME_other` shown when it is chosen (what ODK does).
    fn or_other(&mut self, node: usize, index: usize, row: &TableRow) {
        let number = row.number;
        let other = json!({"const": "other", "title": "Other"});
        let has_other = |values: &[Value]| values.iter().any(|v| v == "other");
        let n = &mut self.nodes[node];
        let added = match &mut n.kind {
            Kind::Choice(values) if !has_other(values) => {
                values.push(json!("other"));
                if let Some(Value::Array(a)) = n.schema.get_mut("oneOf") {
                    a.push(other);
                }
                true
            }
            Kind::Multiple(values) if !has_other(values) => {
                values.push(json!("other"));
                if let Some(Value::Array(a)) =
                    n.schema.get_mut("items").and_then(|i| i.get_mut("oneOf"))
                {
                    a.push(other);
                }
                true
            }
            _ => false,
        };
        let (name, parent, default) = (n.name.clone(), n.parent, self.langs.default().to_string());
        let text_name = format!("{name}_other");
        let follow = self.add_node(index, row, &text_name, parent, Kind::Text);
        if let Some(f) = follow {
            let f = &mut self.nodes[f];
            f.schema = into_map(json!({"type": "string"}));
            f.titles = BTreeMap::from([(default, "Specify other.".to_string())]);
            f.hints = BTreeMap::new();
            f.other_of = Some(node);
        }
        self.warn_row(number, Some("type"), msg(
            format!(
                "« or_other » converti : {}la question texte « {text_name} » (« Specify other. ») est posée quand « other » est choisi ; traduisez ces libellés si besoin",
                if added { "le choix « other » (« Other ») est ajouté et " } else { "" }
            ),
            format!(
                "`or_other` converted: {}the text question `{text_name}` (“Specify other.”) is asked when `other` is chosen; translate these labels if needed",
                if added { "the choice `other` (“Other”) is added and " } else { "" }
            ),
        ));
    }
}

/// `yes`, `true`, `TRUE()`, `1` → true; `no`, `false`, `0`, `` → false; else `None`.
fn truthy(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "true()" | "1" | "oui" => Some(true),
        "" | "no" | "n" | "false" | "false()" | "0" | "non" => Some(false),
        _ => None,
    }
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A number as JSON: an integer when it is whole.
fn json_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A question key (`^[a-z][a-z0-9_]{0,62}$`) from an XLSForm name: lower case, accents
/// taken off, anything else an underscore, a letter first.
fn key_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() || c == '_' => {
                out.push(c);
                continue;
            }
            _ => "_",
        };
        if folded == "_" && out.ends_with('_') {
            continue;
        }
        out.push_str(folded);
    }
    let trimmed = out.trim_start_matches('_');
    let key = if trimmed.starts_with(|c: char| c.is_ascii_lowercase()) {
        trimmed.to_string()
    } else {
        format!("q_{trimmed}")
    };
    truncate(key.trim_end_matches('_'), 63).to_string()
}

/// A slug (`^[a-z0-9][a-z0-9-]{0,62}$`) from a form id or title.
fn slug_of(text: &str) -> Option<String> {
    let key = key_of(text);
    let key = key
        .strip_prefix("q_")
        .filter(|_| !text.trim().starts_with("q_"))
        .unwrap_or(&key);
    let slug: String = key
        .replace('_', "-")
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = truncate(&slug, 63).trim_end_matches('-').to_string();
    (!slug.is_empty()).then_some(slug)
}

/// The workbook's languages: codes from the column headers, the default one from the
/// settings' `default_language`, else the first label column's, else `und` (undetermined).
fn languages(
    survey: &Table,
    choices: Option<&Table>,
    default_language: Option<(String, String, u32, String)>,
    warnings: &mut Vec<Issue>,
) -> Languages {
    const TEXT_BASES: &[&str] = &[
        "label",
        "hint",
        "constraint_message",
        "required_message",
        "guidance_hint",
    ];
    let mut specs: Vec<(String, &Table, &Column)> = Vec::new();
    let mut has_plain = false;
    for table in std::iter::once(survey).chain(choices) {
        for col in &table.columns {
            if !TEXT_BASES.contains(&col.field.base.as_str()) || col.field.media.is_some() {
                continue;
            }
            match &col.field.lang {
                None => has_plain |= col.field.base == "label",
                Some(spec) => {
                    if !specs.iter().any(|(s, _, _)| spec_key(s) == spec_key(spec)) {
                        specs.push((spec.clone(), table, col));
                    }
                }
            }
        }
    }
    let mut codes: HashMap<String, Option<String>> = HashMap::new();
    let mut known: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    for (spec, table, col) in &specs {
        let code = lang::code_of(spec);
        match &code {
            Some(c) if !known.contains(c) => known.push(c.clone()),
            Some(_) => {}
            None => unknown.push((
                spec.clone(),
                table.sheet.clone(),
                table.header_row,
                col.header.clone(),
            )),
        }
        codes.insert(spec_key(spec), code);
    }
    let mut default = None;
    if let Some((text, sheet, row, header)) = default_language {
        match lang::code_of(&text) {
            Some(c) if known.contains(&c) || has_plain || known.is_empty() => default = Some(c),
            Some(c) => warnings.push(Issue {
                sheet,
                row: Some(row),
                column: Some(header),
                message: msg(
                    format!("la langue par défaut « {} » ({c}) n'a aucune colonne de libellés : la langue par défaut est « {} »", shown(&text), known[0]),
                    format!("the default language `{}` ({c}) has no label column: the default language is `{}`", shown(&text), known[0]),
                ),
            }),
            None => warnings.push(Issue {
                sheet,
                row: Some(row),
                column: Some(header),
                message: msg(
                    format!("langue par défaut « {} » non reconnue : écrivez-la « Nom (code) », par exemple « Français (fr) »", shown(&text)),
                    format!("default language `{}` not recognised: write it as `Name (code)`, for example `English (en)`", shown(&text)),
                ),
            }),
        }
    }
    let default = default
        .or_else(|| known.first().cloned())
        .unwrap_or_else(|| "und".to_string());
    let mut unknown = unknown.into_iter();
    if known.is_empty() && !has_plain {
        // The only language columns are in a language we cannot name: they are the
        // default language's.
        if let Some((spec, ..)) = unknown.next() {
            codes.insert(spec_key(&spec), Some(default.clone()));
        }
    }
    for (spec, sheet, row, header) in unknown {
        warnings.push(Issue {
            sheet,
            row: Some(row),
            column: Some(header),
            message: msg(
                format!("langue « {} » non reconnue : ses colonnes sont ignorées ; écrivez-la « Nom (code) », par exemple « Tetun (tet) »", shown(&spec)),
                format!("language `{}` not recognised: its columns are left out; write it as `Name (code)`, for example `Tetun (tet)`", shown(&spec)),
            ),
        });
    }
    let mut order = vec![default.clone()];
    order.extend(known.into_iter().filter(|c| *c != default));
    Languages { order, codes }
}

// ---------------------------------------------------------------------------------------------
// Rules: the columns of each row, once every name is known

/// `{"properties": {"a": {"properties": {"b": S}, "required": ["b"]}}, "required": ["a"]}`
/// for the path `a/b`: a condition on a question inside sections, seen from the root (or
/// the repeat item).
fn wrap(path: &[String], inner: Value) -> Value {
    path.iter().rev().fold(
        inner,
        |v, key| json!({"properties": {key.clone(): v}, "required": [key]}),
    )
}

/// Bounds for `OP n`: `minimum`, `exclusiveMaximum`…; on a whole number, `> 17` is
/// `minimum: 18`.
fn bounds(order: Order, n: f64, whole: bool) -> Value {
    let int = whole && n.fract() == 0.0;
    match order {
        Order::Ge => json!({"minimum": json_number(if whole { n.ceil() } else { n })}),
        Order::Le => json!({"maximum": json_number(if whole { n.floor() } else { n })}),
        Order::Gt if int => json!({"minimum": json_number(n + 1.0)}),
        Order::Gt if whole => json!({"minimum": json_number(n.ceil())}),
        Order::Gt => json!({"exclusiveMinimum": json_number(n)}),
        Order::Lt if int => json!({"maximum": json_number(n - 1.0)}),
        Order::Lt if whole => json!({"maximum": json_number(n.floor())}),
        Order::Lt => json!({"exclusiveMaximum": json_number(n)}),
    }
}

/// `count-selected` / `string-length` bounds: `minItems`… (whole, at least 0).
fn count_bounds(order: Order, n: f64, min: &str, max: &str) -> Result<Value, Message> {
    let (key, value) = match order {
        Order::Ge => (min, n.ceil()),
        Order::Gt => (min, n.floor() + 1.0),
        Order::Le => (max, n.floor()),
        Order::Lt => (max, n.ceil() - 1.0),
    };
    if value < 0.0 {
        return Err(msg(
            "une longueur ou un nombre de choix négatif ne peut jamais être atteint",
            "a negative length or number of choices can never be met",
        ));
    }
    Ok(json!({key: value.max(0.0) as u64}))
}

/// XPath regexes are XML Schema's; the format's are ECMA-262. POSIX classes, which some
/// forms write (`[:digit:]`), become ranges.
fn pattern_of(p: &str) -> (String, bool) {
    const CLASSES: &[(&str, &str)] = &[
        ("digit", "0-9"),
        ("alpha", "A-Za-z"),
        ("alnum", "A-Za-z0-9"),
        ("upper", "A-Z"),
        ("lower", "a-z"),
        ("space", "\\s"),
    ];
    let mut out = p.to_string();
    for (name, range) in CLASSES {
        out = out
            .replace(&format!("[[:{name}:]]"), &format!("[{range}]"))
            .replace(&format!("[:{name}:]"), &format!("[{range}]"));
    }
    let changed = out != p;
    (out, changed)
}

impl Converter {
    fn rules(&mut self, node: usize) {
        if let Some(select) = self.nodes[node].other_of {
            let mut notes = Vec::new();
            let shown = self
                .value_schema(
                    select,
                    &Test::Selected(Lit::Str("other".into())),
                    &mut notes,
                )
                .map(|s| wrap(&self.path_in_scope(select), s));
            self.nodes[node].visible_if = shown.ok();
            return;
        }
        let row = self.survey.rows[self.nodes[node].row].clone();
        let number = row.number;
        let n = &self.nodes[node];
        let untitled = self.langs.main(&n.titles).is_none().then(|| {
            if n.name.is_empty() {
                n.key.clone()
            } else {
                n.name.clone()
            }
        });
        let quotes = n
            .titles
            .values()
            .chain(n.hints.values())
            .any(|t| t.contains("${"));
        if let Some(name) = untitled {
            self.warn_row(
                number,
                Some("label"),
                msg(
                    format!("pas de libellé : le nom « {name} » sert de titre"),
                    format!("no label: the name `{name}` is used as the title"),
                ),
            );
        }
        if quotes {
            self.warn_row(number, Some("label"), msg(
                "le libellé cite une réponse (${…}) : Parole l'affiche tel quel, sans la remplacer",
                "the label quotes an answer (${…}): Parole shows it as written, without replacing it",
            ));
        }
        let mut media_warned = false;
        for col in self.survey.columns.clone() {
            let text = row.text(&col).to_string();
            if text.is_empty() {
                continue;
            }
            let header = col.header.as_str();
            let plain = col.field.lang.is_none() && col.field.media.is_none();
            match col.field.base.as_str() {
                "type" | "name" | "label" | "hint" | "disabled" | "constraint_message" => {}
                "" => {}
                "required" if plain => self.required(node, &text, header),
                "relevant" if plain => self.relevant(node, &text, header),
                "constraint" if plain => self.constraint(node, &row, &text, header),
                "appearance" if plain => self.appearance(node, &text, header),
                "default" if plain => self.default(node, &text, header),
                "parameters" if plain => self.other_parameters(node, header),
                "repeat_count" if plain => self.repeat_count(node, &text, header),
                "rows" if plain => {
                    if matches!(self.nodes[node].kind, Kind::Text)
                        && text.parse::<f64>().is_ok_and(|r| r > 1.0)
                    {
                        self.nodes[node].schema.insert("x-widget".into(), json!("textarea"));
                    }
                }
                "read_only" if plain => {
                    if truthy(&text) != Some(false) {
                        self.warn_row(number, Some(header), msg(
                            "« lecture seule » non converti : l'enquêteur·rice peut modifier la réponse",
                            "`read only` not converted: the interviewer can change the answer",
                        ));
                    }
                }
                "calculation" => self.warn_row(number, Some(header), msg(
                    format!("calcul « {} » non converti : le format de Parole n'a pas de valeur calculée", shown(&text)),
                    format!("calculation `{}` not converted: Parole's format has no computed value", shown(&text)),
                )),
                "choice_filter" => self.warn_row(number, Some(header), msg(
                    format!("filtre de choix « {} » non converti : tous les choix de la liste sont proposés", shown(&text)),
                    format!("choice filter `{}` not converted: every choice of the list is offered", shown(&text)),
                )),
                "required_message" => self.warn_row(number, Some(header), msg(
                    "message de réponse obligatoire non converti : le téléphone affiche le sien",
                    "required message not converted: the phone shows its own",
                )),
                "guidance_hint" => self.warn_row(number, Some(header), msg(
                    "indication pour l'enquêteur·rice (guidance_hint) non convertie",
                    "guidance hint not converted",
                )),
                "media" if !media_warned => {
                    media_warned = true;
                    self.warn_row(number, Some(header), msg(
                        "image, son ou vidéo non converti : le format de Parole n'a que du texte",
                        "image, audio or video not converted: Parole's format has text only",
                    ))
                }
                "media" => {}
                _ => self.warn_row(number, Some(header), msg(
                    format!("colonne « {header} » non convertie : Parole ne la connaît pas"),
                    format!("column `{header}` not converted: Parole does not know it"),
                )),
            }
        }
    }

    fn required(&mut self, node: usize, text: &str, header: &str) {
        let n = &mut self.nodes[node];
        if matches!(n.kind, Kind::Note | Kind::Section | Kind::Repeat) {
            return;
        }
        match truthy(text) {
            Some(true) => {
                n.required = true;
                // ODK's required multiple choice means at least one choice.
                if matches!(n.kind, Kind::Multiple(_)) && !n.schema.contains_key("minItems") {
                    n.schema.insert("minItems".into(), json!(1));
                }
            }
            Some(false) => {}
            None => {
                let number = n.number;
                self.warn_row(number, Some(header), msg(
                    format!("« required » conditionnel (« {} ») non converti : la question est facultative (une condition d'affichage la rend obligatoire seulement quand elle est posée)", shown(text)),
                    format!("conditional `required` (`{}`) not converted: the question is optional (a display condition makes it required only where it is asked)", shown(text)),
                ));
            }
        }
    }

    fn relevant(&mut self, node: usize, text: &str, header: &str) {
        let number = self.nodes[node].number;
        let mut notes = Vec::new();
        let converted = expr::parse(text).and_then(|c| self.visibility(node, &c, &mut notes));
        for note in notes {
            self.warn_row(number, Some(header), note);
        }
        match converted {
            Ok(Value::Bool(true)) => {}
            Ok(v) => self.nodes[node].visible_if = Some(v),
            Err(why) => self.warn_row(number, Some(header), why.wrap(
                |w| format!("condition d'affichage « {} » non convertie ({w}) : la question est toujours posée", shown(text)),
                |w| format!("display condition `{}` not converted ({w}): the question is always asked", shown(text)),
            )),
        }
    }

    fn constraint(&mut self, node: usize, row: &TableRow, text: &str, header: &str) {
        let number = self.nodes[node].number;
        if matches!(
            self.nodes[node].kind,
            Kind::Note | Kind::Section | Kind::Repeat | Kind::Geopoint
        ) {
            self.warn_row(number, Some(header), msg(
                format!("contrainte « {} » non convertie : elle porte sur une note, un groupe ou un lieu", shown(text)),
                format!("constraint `{}` not converted: it is on a note, a group or a location", shown(text)),
            ));
            return;
        }
        let mut notes = Vec::new();
        // A constraint is all of its `and` parts: those that convert are kept (the answer
        // is checked less, never more, than in ODK), the others listed.
        let converted = expr::parse(text).and_then(|c| match c {
            Cond::All(parts) => {
                let mut kept = Vec::new();
                let mut left = Vec::new();
                for part in &parts {
                    match self.restriction(node, part, &mut notes) {
                        Ok(s) => kept.push(s),
                        Err(why) => left.push(why),
                    }
                }
                if kept.is_empty() {
                    return Err(left.remove(0));
                }
                for why in left {
                    notes.push(why.wrap(
                        |w| format!("une partie de la contrainte « {} » n'est pas convertie ({w}) : le reste l'est", shown(text)),
                        |w| format!("part of the constraint `{}` is not converted ({w}): the rest is", shown(text)),
                    ));
                }
                Ok(json!({"allOf": kept}))
            }
            c => self.restriction(node, &c, &mut notes),
        });
        for note in notes {
            self.warn_row(number, Some(header), note);
        }
        let schema = match converted {
            Ok(s) => s,
            Err(why) => {
                self.warn_row(number, Some(header), why.wrap(
                    |w| format!("contrainte « {} » non convertie ({w}) : la réponse n'est pas contrôlée", shown(text)),
                    |w| format!("constraint `{}` not converted ({w}): the answer is not checked", shown(text)),
                ));
                return;
            }
        };
        let n = &mut self.nodes[node];
        let mut parts = Vec::new();
        flatten_all(schema, &mut parts);
        for part in parts {
            let Value::Object(part) = part else { continue };
            if part.keys().all(|k| !n.schema.contains_key(k)) {
                for (k, v) in part {
                    n.constraint_keys.push(k.clone());
                    n.schema.insert(k, v);
                }
            } else {
                if !n.schema.contains_key("allOf") {
                    n.constraint_keys.push("allOf".into());
                }
                if let Value::Array(all) = n.schema.entry("allOf").or_insert_with(|| json!([])) {
                    all.push(Value::Object(part));
                }
            }
        }
        // Its message, shown instead of the generic one.
        let messages = self.langs.texts(&self.survey, row, "constraint_message");
        let n = &mut self.nodes[node];
        if let Some(main) = messages.get(self.langs.default()) {
            n.schema.insert("x-error-message".into(), json!(main));
            for (lang, m) in &messages {
                if m != main {
                    n.error_messages.insert(lang.clone(), m.clone());
                }
            }
        }
    }

    fn appearance(&mut self, node: usize, text: &str, header: &str) {
        let number = self.nodes[node].number;
        let lower = text.to_lowercase();
        if lower.contains("search(") {
            self.warn_row(number, Some(header), msg(
                format!("apparence « {} » non convertie : les choix viennent d'un fichier CSV joint au formulaire, que le classeur ne contient pas ; seuls les choix de la feuille choices sont proposés", shown(text)),
                format!("appearance `{}` not converted: the choices come from a CSV file attached to the form, which the workbook does not hold; only the choices sheet's choices are offered", shown(text)),
            ));
            return;
        }
        let mut ignored = Vec::new();
        for written in text.split_whitespace() {
            let token = written.to_lowercase();
            let token = token.as_str();
            let n = &mut self.nodes[node];
            let is_string_choice =
                matches!(&n.kind, Kind::Choice(v) if v.iter().all(Value::is_string));
            match (&n.kind, token) {
                (Kind::Text, "multiline") => {
                    n.schema.insert("x-widget".into(), json!("textarea"));
                }
                (Kind::Choice(_), "minimal" | "autocomplete" | "autocomplete-minimal")
                    if is_string_choice =>
                {
                    n.schema.insert("x-widget".into(), json!("select"));
                }
                (Kind::Choice(_), "likert") => self.likert(node, header),
                (Kind::Section, "field-list") => {
                    if n.parent.is_none() {
                        self.layout_sections = true;
                    }
                }
                _ => ignored.push(written.to_string()),
            }
        }
        if !ignored.is_empty() {
            let list = ignored.join(" ");
            self.warn_row(
                number,
                Some(header),
                msg(
                    format!(
                        "apparence « {} » sans équivalent dans le format de Parole : ignorée",
                        shown(&list)
                    ),
                    format!(
                        "appearance `{}` has no equivalent in Parole's format: ignored",
                        shown(&list)
                    ),
                ),
            );
        }
    }

    /// `likert` on a single choice whose values are whole numbers: a scale.
    fn likert(&mut self, node: usize, header: &str) {
        let n = &mut self.nodes[node];
        let Kind::Choice(values) = &n.kind else {
            return;
        };
        let ints: Option<Vec<i64>> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.trim().parse().ok(),
                Value::Number(x) => x.as_i64(),
                _ => None,
            })
            .collect();
        let Some(ints) = ints else {
            let number = n.number;
            self.warn_row(number, Some(header), msg(
                "apparence « likert » non convertie : une échelle de Parole a des valeurs entières ; la question reste un choix unique",
                "appearance `likert` not converted: a Parole scale has whole-number values; the question stays a single choice",
            ));
            return;
        };
        if let Some(Value::Array(choices)) = n.schema.get_mut("oneOf") {
            for (c, i) in choices.iter_mut().zip(&ints) {
                c["const"] = json!(i);
            }
        }
        n.schema.insert("type".into(), json!("integer"));
        n.schema.insert("x-widget".into(), json!("likert"));
        n.kind = Kind::Choice(ints.into_iter().map(|i| json!(i)).collect());
    }

    fn default(&mut self, node: usize, text: &str, header: &str) {
        let n = &self.nodes[node];
        let number = n.number;
        if text.contains("${") || text.contains('(') {
            self.warn_row(
                number,
                Some(header),
                msg(
                    format!(
                        "valeur par défaut calculée « {} » non convertie",
                        shown(text)
                    ),
                    format!("computed default `{}` not converted", shown(text)),
                ),
            );
            return;
        }
        let is_date = n.schema.get("format") == Some(&json!("date"));
        let is_time = n.schema.get("x-widget") == Some(&json!("time"));
        let value = match &n.kind {
            Kind::Text => Some(json!(text)),
            Kind::Integer => text.parse::<i64>().ok().map(|i| json!(i)),
            Kind::Number => text.parse::<f64>().ok().map(json_number),
            Kind::Boolean => match text.to_lowercase().as_str() {
                "ok" => Some(json!(true)),
                t => truthy(t).map(|b| json!(b)),
            },
            Kind::Choice(values) => values
                .iter()
                .find(|v| {
                    v.as_str() == Some(text)
                        || v.as_i64().map(|i| i.to_string()).as_deref() == Some(text)
                })
                .cloned(),
            Kind::Multiple(values) => text
                .split_whitespace()
                .map(|t| values.iter().find(|v| v.as_str() == Some(t)).cloned())
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Kind::Formatted if is_date => {
                let ok = text.len() == 10
                    && text.chars().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == '-'
                        } else {
                            c.is_ascii_digit()
                        }
                    });
                ok.then(|| json!(text))
            }
            Kind::Formatted if is_time => {
                let hm = truncate(text, 5);
                let ok = hm.len() == 5 && hm.as_bytes()[2] == b':';
                ok.then(|| json!(hm))
            }
            _ => None,
        };
        match value {
            Some(v) => {
                self.nodes[node].schema.insert("default".into(), v);
                self.warn_row(number, Some(header), msg(
                    format!("valeur par défaut « {} » gardée comme « default » JSON Schema : le téléphone ne pré-remplit pas encore les réponses", shown(text)),
                    format!("default `{}` kept as JSON Schema `default`: the phone does not prefill answers yet", shown(text)),
                ));
            }
            None => self.warn_row(number, Some(header), msg(
                format!("valeur par défaut « {} » non convertie : elle ne convient pas à cette question", shown(text)),
                format!("default `{}` not converted: it does not fit this question", shown(text)),
            )),
        }
    }

    /// `parameters` other than a range's: a geopoint's `capture-accuracy` is `x-accuracy-m`.
    fn other_parameters(&mut self, node: usize, header: &str) {
        let params = self.parameters(node);
        let n = &mut self.nodes[node];
        let number = n.number;
        let is_range = n.schema.get("x-widget") == Some(&json!("likert"))
            && !n.schema.contains_key("x-i18n")
            || n.schema.contains_key("minimum")
                && n.schema.contains_key("maximum")
                && matches!(n.kind, Kind::Integer | Kind::Number);
        let mut ignored = Vec::new();
        for (k, v) in params {
            match (k.as_str(), &n.kind) {
                ("capture-accuracy", Kind::Geopoint) => match v.parse::<f64>() {
                    Ok(m) if m > 0.0 => {
                        n.schema.insert("x-accuracy-m".into(), json_number(m));
                    }
                    _ => ignored.push(format!("{k}={v}")),
                },
                ("start" | "end" | "step", _) if is_range => {}
                _ => ignored.push(format!("{k}={v}")),
            }
        }
        if !ignored.is_empty() {
            let list = ignored.join(" ");
            self.warn_row(
                number,
                Some(header),
                msg(
                    format!(
                        "paramètres « {} » sans équivalent dans le format de Parole : ignorés",
                        shown(&list)
                    ),
                    format!(
                        "parameters `{}` have no equivalent in Parole's format: ignored",
                        shown(&list)
                    ),
                ),
            );
        }
    }

    fn repeat_count(&mut self, node: usize, text: &str, header: &str) {
        let n = &mut self.nodes[node];
        let number = n.number;
        if !matches!(n.kind, Kind::Repeat) {
            return;
        }
        match text.parse::<f64>() {
            Ok(c) if c.fract() == 0.0 && c >= 0.0 => {
                n.schema.insert("minItems".into(), json!(c as u64));
                n.schema.insert("maxItems".into(), json!(c as u64));
            }
            _ => self.warn_row(number, Some(header), msg(
                format!("nombre de répétitions calculé « {} » non converti : l'enquêteur·rice ajoute autant d'éléments que nécessaire", shown(text)),
                format!("computed repeat count `{}` not converted: the interviewer adds as many items as needed", shown(text)),
            )),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Conditions

    /// The node `${name}` refers to, as seen from `node`.
    fn resolve(&self, node: usize, name: &str) -> Result<usize, Message> {
        let candidates = self.names.get(name).cloned().unwrap_or_default();
        let scope = self.nodes[node].scope;
        let target = match candidates.as_slice() {
            [] if self.dropped.contains(name) => {
                return Err(msg(
                    format!("${{{name}}} est un calcul ou une métadonnée, qui n'est pas converti"),
                    format!("${{{name}}} is a calculation or metadata, which is not converted"),
                ))
            }
            [] => {
                return Err(msg(
                    format!("${{{name}}} ne nomme aucune question du formulaire"),
                    format!("${{{name}}} names no question of the form"),
                ))
            }
            [one] => *one,
            many => {
                let same: Vec<usize> = many
                    .iter()
                    .copied()
                    .filter(|&c| self.nodes[c].scope == scope)
                    .collect();
                match same.as_slice() {
                    [one] => *one,
                    _ => {
                        return Err(msg(
                            format!("plusieurs questions s'appellent « {name} »"),
                            format!("several questions are called `{name}`"),
                        ))
                    }
                }
            }
        };
        if target == node {
            return Err(msg(
                "la condition porte sur la question elle-même",
                "the condition is on the question itself",
            ));
        }
        if self.nodes[target].scope != scope {
            let (fr, en) = if scope.is_some() {
                (
                    format!("dans une répétition, une condition ne peut porter que sur les questions du même élément, et ${{{name}}} n'en est pas"),
                    format!("inside a repeat, a condition can only be on the questions of the same item, and ${{{name}}} is not one"),
                )
            } else {
                (
                    format!("${{{name}}} est dans une répétition : il a une réponse par élément"),
                    format!("${{{name}}} is inside a repeat: it has one answer per item"),
                )
            };
            return Err(msg(fr, en));
        }
        Ok(target)
    }

    /// The keys from a node's scope (the root or its repeat's item) down to it.
    fn path_in_scope(&self, node: usize) -> Vec<String> {
        let scope = self.nodes[node].scope;
        let mut path = vec![self.nodes[node].key.clone()];
        let mut p = self.nodes[node].parent;
        while p != scope {
            let Some(i) = p else { break };
            path.push(self.nodes[i].key.clone());
            p = self.nodes[i].parent;
        }
        path.reverse();
        path
    }

    /// A `relevant` condition as an `x-visible-if` schema.
    fn visibility(
        &self,
        node: usize,
        cond: &Cond,
        notes: &mut Vec<Message>,
    ) -> Result<Value, Message> {
        let all = |parts: &[Cond], notes: &mut Vec<Message>| -> Result<Vec<Value>, Message> {
            parts
                .iter()
                .map(|p| self.visibility(node, p, notes))
                .collect()
        };
        match cond {
            Cond::Always(b) => Ok(json!(b)),
            Cond::Unsupported(why) => Err(why.clone()),
            Cond::All(parts) => Ok(json!({"allOf": all(parts, notes)?})),
            Cond::Any(parts) => Ok(json!({"anyOf": all(parts, notes)?})),
            Cond::Not(inner) => Ok(json!({"not": self.visibility(node, inner, notes)?})),
            Cond::Test(Subject::Current, _) => Err(msg(
                "« . » désigne la question elle-même, qui n'a pas encore de réponse quand on décide de la poser",
                "`.` is the question itself, which has no answer yet when deciding whether to ask it",
            )),
            Cond::Test(Subject::Named(name), test) => {
                let target = self.resolve(node, name)?;
                let schema = self.value_schema(target, test, notes)?;
                Ok(wrap(&self.path_in_scope(target), schema))
            }
        }
    }

    /// A `constraint` as keywords on the question's own answer.
    fn restriction(
        &self,
        node: usize,
        cond: &Cond,
        notes: &mut Vec<Message>,
    ) -> Result<Value, Message> {
        let all = |parts: &[Cond], notes: &mut Vec<Message>| -> Result<Vec<Value>, Message> {
            parts
                .iter()
                .map(|p| self.restriction(node, p, notes))
                .collect()
        };
        match cond {
            Cond::Always(true) => Ok(json!({})),
            Cond::Unsupported(why) => Err(why.clone()),
            Cond::Always(false) => Err(msg(
                "une contrainte toujours fausse refuserait toute réponse",
                "a constraint that is always false would refuse every answer",
            )),
            Cond::All(parts) => Ok(json!({"allOf": all(parts, notes)?})),
            Cond::Any(parts) => Ok(json!({"anyOf": all(parts, notes)?})),
            Cond::Not(inner) => Ok(json!({"not": self.restriction(node, inner, notes)?})),
            Cond::Test(Subject::Current, test) => self.value_schema(node, test, notes),
            Cond::Test(Subject::Named(name), test)
                if self.names.get(name).is_some_and(|v| v.contains(&node)) =>
            {
                self.value_schema(node, test, notes)
            }
            Cond::Test(Subject::Named(name), _) => Err(msg(
                format!("la contrainte compare la réponse avec une autre question (${{{name}}}), ce que JSON Schema ne sait pas faire"),
                format!("the constraint compares the answer with another question (${{{name}}}), which JSON Schema cannot do"),
            )),
        }
    }

    /// One test on a node's answer, as a schema on that answer.
    fn value_schema(
        &self,
        target: usize,
        test: &Test,
        notes: &mut Vec<Message>,
    ) -> Result<Value, Message> {
        let n = &self.nodes[target];
        let name = &n.name;
        let kind_error = |what: &str, what_en: &str| {
            msg(
                format!("${{{name}}} n'est pas {what}"),
                format!("${{{name}}} is not {what_en}"),
            )
        };
        // A value of a choice list, as the document writes it; a note when it is not one.
        let choice = |values: &[Value], lit: &Lit, notes: &mut Vec<Message>| -> Value {
            let text = lit.text();
            let found = values.iter().find(|v| match v {
                Value::String(s) => *s == text,
                Value::Number(x) => lit.number().is_some_and(|l| x.as_f64() == Some(l)),
                _ => false,
            });
            match found {
                Some(v) => v.clone(),
                None => {
                    notes.push(msg(
                        format!("« {} » n'est pas un choix de ${{{name}}} : cette partie de la condition n'est jamais vraie", shown(&text)),
                        format!("`{}` is not a choice of ${{{name}}}: that part of the condition is never true", shown(&text)),
                    ));
                    json!(text)
                }
            }
        };
        match (test, &n.kind) {
            (Test::Answered, Kind::Multiple(_)) => Ok(json!({"minItems": 1})),
            (Test::Answered, k) if k.is_string() => Ok(json!({"minLength": 1})),
            (Test::Answered, Kind::Note) => Err(kind_error(
                "une question (c'est une note)",
                "a question (it is a note)",
            )),
            (Test::Answered, _) => Ok(json!({})),
            (Test::Equals(lit) | Test::Selected(lit), Kind::Choice(values)) => {
                Ok(json!({"const": choice(values, lit, notes)}))
            }
            (Test::Selected(lit), Kind::Multiple(values)) => {
                Ok(json!({"contains": {"const": choice(values, lit, notes)}}))
            }
            (Test::Equals(lit), Kind::Multiple(values)) => {
                Ok(json!({"const": [choice(values, lit, notes)]}))
            }
            (Test::Equals(lit) | Test::Selected(lit), Kind::Text | Kind::Formatted) => {
                Ok(json!({"const": lit.text()}))
            }
            (Test::Equals(lit), Kind::Integer | Kind::Number) => match lit.number() {
                Some(x) => Ok(json!({"const": json_number(x)})),
                None => Err(kind_error(
                    "un texte (c'est un nombre)",
                    "a text (it is a number)",
                )),
            },
            (Test::Equals(lit), Kind::Boolean) => match lit.text().to_lowercase().as_str() {
                "ok" | "true" | "1" | "yes" => Ok(json!({"const": true})),
                "false" | "0" | "no" => Ok(json!({"const": false})),
                _ => Err(kind_error(
                    "un texte (c'est une case à cocher)",
                    "a text (it is a checkbox)",
                )),
            },
            (Test::Compare(order, x), Kind::Integer) => Ok(bounds(*order, *x, true)),
            (Test::Compare(order, x), Kind::Number) => Ok(bounds(*order, *x, false)),
            (Test::Compare(order, x), Kind::Choice(values)) => {
                // A comparison on numeric choice values: the choices that satisfy it.
                let mut matching = Vec::new();
                for v in values {
                    let num = match v {
                        Value::String(s) => s.trim().parse::<f64>().ok(),
                        other => other.as_f64(),
                    };
                    let Some(num) = num else {
                        return Err(kind_error(
                            "un nombre (ses choix ne sont pas des nombres)",
                            "a number (its choices are not numbers)",
                        ));
                    };
                    if order.holds(num, *x) {
                        matching.push(v.clone());
                    }
                }
                Ok(if matching.is_empty() {
                    json!(false)
                } else {
                    json!({"enum": matching})
                })
            }
            (Test::Compare(..), _) => Err(kind_error("un nombre", "a number")),
            (Test::Regex(p), k) if k.is_string() => {
                let (pattern, changed) = pattern_of(p);
                if changed {
                    notes.push(msg(
                        format!("classes POSIX de « {} » lues comme des intervalles ([:digit:] → [0-9])", shown(p)),
                        format!("POSIX classes of `{}` read as ranges ([:digit:] → [0-9])", shown(p)),
                    ));
                }
                Ok(json!({"pattern": pattern}))
            }
            (Test::Regex(_), _) => Err(kind_error("un texte", "a text")),
            (Test::Count(order, x), Kind::Multiple(_)) => {
                count_bounds(*order, *x, "minItems", "maxItems")
            }
            (Test::Count(..), _) => Err(kind_error("un choix multiple", "a multiple choice")),
            (Test::Length(order, x), k) if k.is_string() => {
                count_bounds(*order, *x, "minLength", "maxLength")
            }
            (Test::Length(..), _) => Err(kind_error("un texte", "a text")),
            (Test::Equals(_) | Test::Selected(_), _) => Err(kind_error(
                "une question à laquelle on compare une valeur",
                "a question a value can be compared with",
            )),
        }
    }

    // -----------------------------------------------------------------------------------------
    // The document

    /// The questions of a container (the root, a section, a repeat's item): its
    /// `properties` and `required`, recording each node's pointer.
    fn assemble(&mut self, container: Option<usize>) -> (Map<String, Value>, Vec<String>) {
        self.assemble_at(container, "")
    }

    fn assemble_at(
        &mut self,
        container: Option<usize>,
        prefix: &str,
    ) -> (Map<String, Value>, Vec<String>) {
        let children: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].parent == container)
            .collect();
        let mut properties = Map::new();
        let mut required = Vec::new();
        for i in children {
            let pointer = format!("{prefix}/properties/{}", self.nodes[i].key);
            let inner = match self.nodes[i].kind {
                Kind::Section => Some(self.assemble_at(Some(i), &pointer)),
                Kind::Repeat => Some(self.assemble_at(Some(i), &format!("{pointer}/items"))),
                _ => None,
            };
            if inner.as_ref().is_some_and(|(p, _)| p.is_empty()) {
                let number = self.nodes[i].number;
                self.warn_row(number, Some("type"), msg(
                    "groupe ou répétition sans aucune question convertie : il est laissé de côté",
                    "group or repeat without any converted question: it is left out",
                ));
                continue;
            }
            let q = self.question(i, inner);
            let n = &self.nodes[i];
            if n.required {
                required.push(n.key.clone());
            }
            self.pointers.push((i, pointer));
            properties.insert(self.nodes[i].key.clone(), Value::Object(q));
        }
        (properties, required)
    }

    fn question(
        &self,
        i: usize,
        inner: Option<(Map<String, Value>, Vec<String>)>,
    ) -> Map<String, Value> {
        let n = &self.nodes[i];
        let mut schema = n.schema.clone();
        let mut q = Map::new();
        let ty = match n.kind {
            Kind::Section => json!("object"),
            Kind::Repeat => json!("array"),
            _ => schema.remove("type").unwrap_or(json!("string")),
        };
        q.insert("type".into(), ty);
        match n.kind {
            Kind::Section => {
                q.insert("x-widget".into(), json!("section"));
            }
            Kind::Repeat => {
                q.insert("x-widget".into(), json!("repeat"));
            }
            _ => {
                if let Some(w) = schema.remove("x-widget") {
                    q.insert("x-widget".into(), w);
                }
            }
        }
        let title = self.langs.main(&n.titles).cloned().unwrap_or_else(|| {
            if n.name.is_empty() {
                n.key.clone()
            } else {
                n.name.clone()
            }
        });
        q.insert("title".into(), json!(title));
        // A hint only in another language stays in that language's labels.
        let description = n.hints.get(self.langs.default()).cloned();
        if let Some(d) = &description {
            q.insert("description".into(), json!(d));
        }
        q.extend(schema);
        if let Some((properties, required)) = inner {
            let mut container = Map::new();
            if matches!(n.kind, Kind::Repeat) {
                container.insert("type".into(), json!("object"));
            }
            container.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                container.insert("required".into(), json!(required));
            }
            container.insert("additionalProperties".into(), json!(false));
            if matches!(n.kind, Kind::Repeat) {
                q.insert("items".into(), Value::Object(container));
            } else {
                q.extend(container);
            }
        }
        if let Some(v) = &n.visible_if {
            q.insert("x-visible-if".into(), v.clone());
        }
        let mut i18n = Map::new();
        for lang in self.langs.order.iter().skip(1) {
            let mut entry = Map::new();
            if let Some(t) = n.titles.get(lang).filter(|t| **t != title) {
                entry.insert("title".into(), json!(t));
            }
            if let Some(t) = n
                .hints
                .get(lang)
                .filter(|t| Some(*t) != description.as_ref())
            {
                entry.insert("description".into(), json!(t));
            }
            if let Some(m) = n.error_messages.get(lang) {
                entry.insert("error_message".into(), json!(m));
            }
            if let Some(choices) = n.choice_labels.get(lang).filter(|c| !c.is_empty()) {
                let mut choices = choices.clone();
                // A scale's values are integers; their labels are keyed by their text.
                if let Kind::Choice(values) = &n.kind {
                    choices.retain(|k, _| {
                        values.iter().any(|v| {
                            v.as_str() == Some(k)
                                || v.as_i64().map(|i| i.to_string()).as_deref() == Some(k)
                        })
                    });
                }
                entry.insert("choices".into(), Value::Object(choices));
            }
            if !entry.is_empty() {
                i18n.insert(lang.clone(), Value::Object(entry));
            }
        }
        if !i18n.is_empty() {
            q.insert("x-i18n".into(), Value::Object(i18n));
        }
        q
    }

    /// The document must parse: a rule the format refuses (a pattern that does not
    /// compile…) is taken out with a warning naming its row; anything else is refused,
    /// naming the row it came from.
    fn check(&mut self, document: &mut Value) -> Result<(), Vec<Issue>> {
        for _ in 0..8 {
            let errors = match Questionnaire::parse(document) {
                Ok(_) => return Ok(()),
                Err(errors) => errors,
            };
            let mut fixed = false;
            let mut unfixed = Vec::new();
            for e in &errors {
                let owner = self
                    .pointers
                    .iter()
                    .filter(|(_, p)| e.path == *p || e.path.starts_with(&format!("{p}/")))
                    .max_by_key(|(_, p)| p.len())
                    .cloned();
                let Some((node, pointer)) = owner else {
                    unfixed.push((None, e.message.clone()));
                    continue;
                };
                let rest = e.path[pointer.len()..].to_string();
                let n = &self.nodes[node];
                let (number, keys) = (n.number, n.constraint_keys.clone());
                let Some(q) = document
                    .pointer_mut(&pointer)
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let why = e.message.clone();
                if rest.starts_with("/x-visible-if") && q.remove("x-visible-if").is_some() {
                    fixed = true;
                    self.warn_row(number, Some("relevant"), why.wrap(
                        |w| format!("condition d'affichage retirée : le format la refuse ({w}) ; la question est toujours posée"),
                        |w| format!("display condition taken out: the format refuses it ({w}); the question is always asked"),
                    ));
                } else if !keys.is_empty() && keys.iter().any(|k| q.contains_key(k)) {
                    for k in &keys {
                        q.remove(k);
                    }
                    q.remove("x-error-message");
                    if let Some(Value::Object(i18n)) = q.get_mut("x-i18n") {
                        for entry in i18n.values_mut() {
                            if let Some(entry) = entry.as_object_mut() {
                                entry.remove("error_message");
                            }
                        }
                    }
                    fixed = true;
                    self.warn_row(number, Some("constraint"), why.wrap(
                        |w| format!("contrainte retirée : le format la refuse ({w}) ; la réponse n'est pas contrôlée"),
                        |w| format!("constraint taken out: the format refuses it ({w}); the answer is not checked"),
                    ));
                } else if q.remove("default").is_some() {
                    fixed = true;
                    self.warn_row(
                        number,
                        Some("default"),
                        why.wrap(
                            |w| format!("valeur par défaut retirée : le format la refuse ({w})"),
                            |w| format!("default taken out: the format refuses it ({w})"),
                        ),
                    );
                } else {
                    unfixed.push((Some(number), why));
                }
            }
            if !fixed {
                let sheet = self.survey.sheet.clone();
                return Err(unfixed
                    .into_iter()
                    .map(|(row, why)| Issue {
                        sheet: sheet.clone(),
                        row,
                        column: None,
                        message: why.wrap(
                            |w| format!("le questionnaire converti est refusé par le format ({w}) : c'est une erreur de l'import, signalez-la avec ce classeur"),
                            |w| format!("the converted questionnaire is refused by the format ({w}): this is a bug of the import, report it with this workbook"),
                        ),
                    })
                    .collect());
            }
        }
        Ok(())
    }
}

/// The parts of an `allOf`, flattened.
fn flatten_all(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(mut m) if m.len() == 1 && m.contains_key("allOf") => {
            if let Some(Value::Array(parts)) = m.remove("allOf") {
                for p in parts {
                    flatten_all(p, out);
                }
            }
        }
        Value::Object(m) if m.is_empty() => {}
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use workbook::test_workbooks::xlsx;

    fn corpus(dir: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/xlsforms")
            .join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
            .collect();
        files.sort();
        files
    }

    /// The kind of a warning, for the summary: its English message up to the first `:`
    /// or quote.
    fn kind(w: &Issue) -> String {
        w.message
            .en
            .split([':', '`', '('])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    #[test]
    fn every_permissive_workbook_of_the_corpus_converts_to_a_questionnaire_that_parses() {
        let files = corpus("");
        assert_eq!(files.len(), 21, "{files:?}");
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut total = 0;
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy();
            let report = convert(&std::fs::read(file).unwrap())
                .unwrap_or_else(|e| panic!("{name} refused: {e:#?}"));
            let q = Questionnaire::parse(&report.document)
                .unwrap_or_else(|e| panic!("{name}: the document does not parse: {e:#?}"));
            assert!(!q.all_questions().is_empty(), "{name}: no question");
            for w in &report.warnings {
                assert!(!w.sheet.is_empty() && w.row.is_some(), "{name}: {w:?}");
                assert!(
                    !w.message.fr.is_empty() && !w.message.en.is_empty(),
                    "{name}: {w:?}"
                );
                assert_ne!(w.message.fr, w.message.en, "{name}: {w:?}");
                *kinds.entry(kind(w)).or_default() += 1;
                eprintln!("  {name}: {}: {}", w.place(), w.message.en);
            }
            total += report.warnings.len();
            if let Some(slug) = &report.slug {
                crate::domain::Slug::parse(slug).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            eprintln!(
                "{name}: {} questions, {} warnings, slug {:?}, languages {}",
                q.all_questions().len(),
                report.warnings.len(),
                report.slug,
                report.document["x-languages"]
            );
        }
        eprintln!("{total} warnings in all:");
        for (k, n) in &kinds {
            eprintln!("  {n:4}  {k}");
        }
    }

    /// A survey (header first) and choices, converted; panics on a refusal.
    fn converted(survey: &[&[&str]], choices: &[&[&str]]) -> Converted {
        let settings: &[&[&str]] = &[&["form_title"], &["Test"]];
        let mut sheets: Vec<(&str, &[&[&str]])> = vec![("survey", survey), ("settings", settings)];
        if !choices.is_empty() {
            sheets.push(("choices", choices));
        }
        convert(&xlsx(&sheets)).unwrap_or_else(|e| panic!("refused: {e:#?}"))
    }

    fn refused(sheets: &[(&str, &[&[&str]])]) -> Vec<Issue> {
        convert(&xlsx(sheets)).expect_err("refused")
    }

    const YES_NO: &[&[&str]] = &[
        &["list_name", "name", "label"],
        &["yn", "yes", "Yes"],
        &["yn", "no", "No"],
    ];

    /// The `x-visible-if` of `b`, shown after `a` (a select_one yn), `n` (an integer),
    /// `m` (a select_multiple yn) and `t` (a text), with `relevant`.
    fn visible_if(relevant: &str) -> (Option<Value>, Vec<Issue>) {
        let r = converted(
            &[
                &["type", "name", "label", "relevant"],
                &["select_one yn", "a", "A", ""],
                &["integer", "n", "N", ""],
                &["select_multiple yn", "m", "M", ""],
                &["text", "t", "T", ""],
                &["text", "b", "B", relevant],
            ],
            YES_NO,
        );
        (
            r.document["properties"]["b"].get("x-visible-if").cloned(),
            r.warnings,
        )
    }

    fn on(key: &str, schema: Value) -> Value {
        json!({"properties": {key: schema}, "required": [key]})
    }

    #[test]
    fn the_common_relevant_shapes_become_x_visible_if() {
        let cases = [
            ("selected(${a}, 'yes')", on("a", json!({"const": "yes"}))),
            (
                "selected(${m}, 'yes')",
                on("m", json!({"contains": {"const": "yes"}})),
            ),
            ("${a} = 'yes'", on("a", json!({"const": "yes"}))),
            (
                "${a} != 'yes'",
                json!({"not": on("a", json!({"const": "yes"}))}),
            ),
            ("${t} != ''", on("t", json!({"minLength": 1}))),
            ("${m} != ''", on("m", json!({"minItems": 1}))),
            ("${n} >= 18", on("n", json!({"minimum": 18}))),
            ("${n} > 17", on("n", json!({"minimum": 18}))),
            ("${n} < 5", on("n", json!({"maximum": 4}))),
            ("${n} = 3", on("n", json!({"const": 3}))),
            (
                "not(selected(${a}, 'no'))",
                json!({"not": on("a", json!({"const": "no"}))}),
            ),
            (
                "selected(${m}, 'yes') or selected(${m}, 'no')",
                json!({"anyOf": [
                    on("m", json!({"contains": {"const": "yes"}})),
                    on("m", json!({"contains": {"const": "no"}}))
                ]}),
            ),
            (
                "${a} = 'yes' and ${n} > 0",
                json!({"allOf": [on("a", json!({"const": "yes"})), on("n", json!({"minimum": 1}))]}),
            ),
            // Curly quotes, a line break, an XPath path.
            ("selected(${a}, ‘yes’)\n", on("a", json!({"const": "yes"}))),
            ("selected(../a,\n'yes')", on("a", json!({"const": "yes"}))),
        ];
        for (relevant, want) in cases {
            let (got, warnings) = visible_if(relevant);
            assert_eq!(got, Some(want), "{relevant}");
            assert!(warnings.is_empty(), "{relevant}: {warnings:#?}");
        }
    }

    #[test]
    fn a_relevant_without_an_equivalent_keeps_the_question_with_a_warning_on_its_row() {
        for relevant in [
            "${n} + 1 > 3",
            "today() > ${t}",
            "${n} > ${a}",
            "${unknown} = 'x'",
            "selected(${a}, 'x'",
        ] {
            let (got, warnings) = visible_if(relevant);
            assert_eq!(got, None, "{relevant}");
            let w = warnings
                .iter()
                .find(|w| w.column.as_deref() == Some("relevant"))
                .unwrap_or_else(|| panic!("{relevant}: {warnings:#?}"));
            assert_eq!((w.sheet.as_str(), w.row), ("survey", Some(6)), "{relevant}");
            assert!(
                w.message.en.contains("the question is always asked"),
                "{w:?}"
            );
        }
        // A value the list does not have: converted, and said.
        let (got, warnings) = visible_if("selected(${a}, 'maybe')");
        assert_eq!(got, Some(on("a", json!({"const": "maybe"}))));
        assert!(
            warnings[0].message.en.contains("not a choice"),
            "{warnings:#?}"
        );
    }

    #[test]
    fn a_condition_on_a_question_in_a_section_is_written_through_the_section() {
        let r = converted(
            &[
                &["type", "name", "label", "relevant"],
                &["begin_group", "g", "G", ""],
                &["select_one yn", "a", "A", ""],
                &["end_group", "", "", ""],
                &["text", "b", "B", "${a} = 'yes'"],
            ],
            YES_NO,
        );
        assert_eq!(
            r.document["properties"]["b"]["x-visible-if"],
            on("g", on("a", json!({"const": "yes"})))
        );
    }

    #[test]
    fn inside_a_repeat_a_condition_is_on_the_item_and_one_on_the_outside_is_a_warning() {
        let r = converted(
            &[
                &["type", "name", "label", "relevant"],
                &["select_one yn", "outside", "O", ""],
                &["begin_repeat", "r", "R", ""],
                &["select_one yn", "a", "A", ""],
                &["text", "b", "B", "${a} = 'yes'"],
                &["text", "c", "C", "${outside} = 'yes'"],
                &["end_repeat", "", "", ""],
            ],
            YES_NO,
        );
        let item = &r.document["properties"]["r"]["items"]["properties"];
        assert_eq!(item["b"]["x-visible-if"], on("a", json!({"const": "yes"})));
        assert!(item["c"].get("x-visible-if").is_none());
        assert!(r
            .warnings
            .iter()
            .any(|w| w.row == Some(6) && w.message.en.contains("inside a repeat")));
    }

    /// The question `q` of type `ty` with `constraint` (and a message).
    fn constrained(ty: &str, constraint: &str) -> (Value, Vec<Issue>) {
        let r = converted(
            &[
                &[
                    "type",
                    "name",
                    "label",
                    "constraint",
                    "constraint_message::English (en)",
                    "constraint_message::Français (fr)",
                    "label::Français (fr)",
                ],
                &["integer", "other", "Other", "", "", "", "Autre"],
                &[ty, "q", "Q", constraint, "Wrong", "Faux", "Q fr"],
            ],
            YES_NO,
        );
        (r.document["properties"]["q"].clone(), r.warnings)
    }

    #[test]
    fn the_common_constraint_shapes_become_keywords_with_their_message() {
        let cases = [
            (
                "integer",
                ". >= 18 and . <= 120",
                json!({"minimum": 18, "maximum": 120}),
            ),
            (
                "integer",
                ".> 17 and .< 120",
                json!({"minimum": 18, "maximum": 119}),
            ),
            ("decimal", ". > 0.5", json!({"exclusiveMinimum": 0.5})),
            (
                "text",
                "regex(., '^[0-9]{5}$')",
                json!({"pattern": "^[0-9]{5}$"}),
            ),
            (
                "select_multiple yn",
                "count-selected(.) <= 1",
                json!({"maxItems": 1}),
            ),
            ("text", "string-length(.) <= 80", json!({"maxLength": 80})),
            (
                "integer",
                "(. >= 0 and .<=150) or .=999",
                json!({"anyOf": [{"allOf": [{"minimum": 0}, {"maximum": 150}]}, {"const": 999}]}),
            ),
        ];
        for (ty, constraint, want) in cases {
            let (q, warnings) = constrained(ty, constraint);
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(q.get(k), Some(v), "{constraint}: {q:#}");
            }
            assert_eq!(q["x-error-message"], "Wrong", "{constraint}");
            assert_eq!(q["x-i18n"]["fr"]["error_message"], "Faux", "{constraint}");
            assert!(warnings.is_empty(), "{constraint}: {warnings:#?}");
        }
    }

    #[test]
    fn a_constraint_on_another_question_is_a_warning_and_its_other_parts_are_kept() {
        let (q, warnings) = constrained("integer", ". <= ${other}");
        assert!(
            q.get("maximum").is_none() && q.get("x-error-message").is_none(),
            "{q:#}"
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert_eq!(warnings[0].column.as_deref(), Some("constraint"));
        assert!(warnings[0].message.en.contains("the answer is not checked"));
        let (q, warnings) = constrained("integer", ". >= 0 and . <= ${other}");
        assert_eq!(q["minimum"], 0);
        assert!(
            warnings[0].message.en.contains("part of the constraint"),
            "{warnings:#?}"
        );
    }

    #[test]
    fn label_columns_in_every_spelling_give_languages_default_first() {
        let cases: &[(&[&str], Option<&str>, &[&str])] = &[
            (
                &["label::English (en)", "label::Français (fr)"],
                None,
                &["en", "fr"],
            ),
            (
                &["label::English(en)", "label::French(fr)"],
                Some("French (fr)"),
                &["fr", "en"],
            ),
            (&["label::en", "label::fr"], Some("fr"), &["fr", "en"]),
            (&["label:English", "label:French"], None, &["en", "fr"]),
            (&["LABEL::EN", "LABEL::FR"], None, &["en", "fr"]),
            (&["label"], Some("de"), &["de"]),
            (&["label"], None, &["und"]),
        ];
        for (headers, default, want) in cases {
            let mut header = vec!["type", "name"];
            header.extend_from_slice(headers);
            let mut row = vec!["text", "q", "Question"];
            if headers.len() > 1 {
                row.push("Question 2");
            }
            let survey: &[&[&str]] = &[&header, &row];
            let settings: &[&[&str]] = &[&["default_language"], &[default.unwrap_or("")]];
            let mut sheets: Vec<(&str, &[&[&str]])> = vec![("survey", survey)];
            if default.is_some() {
                sheets.push(("settings", settings));
            }
            let r = convert(&xlsx(&sheets)).unwrap();
            assert_eq!(r.document["x-languages"], json!(want), "{headers:?}");
            let q = &r.document["properties"]["q"];
            // The default language's column is the title, the other one in x-i18n.
            let texts = ["Question", "Question 2"];
            let of = |code: &str| {
                headers
                    .iter()
                    .position(|h| {
                        workbook::Field::parse(h)
                            .lang
                            .and_then(|l| lang::code_of(&l))
                            .is_none_or(|c| c == code)
                    })
                    .map(|i| texts[i])
            };
            assert_eq!(q["title"].as_str(), of(want[0]), "{headers:?}: {q:#}");
            if want.len() > 1 {
                assert_eq!(
                    q["x-i18n"][want[1]]["title"].as_str(),
                    of(want[1]),
                    "{headers:?}"
                );
            }
            Questionnaire::parse(&r.document).unwrap();
        }
    }

    #[test]
    fn surveycto_names_upper_case_sheets_and_type_not_first_are_read() {
        let survey: &[&[&str]] = &[
            &[
                "Label",
                "Name",
                "TYPE",
                "relevance",
                "constraint message",
                "read only",
            ],
            &["Âge", "age", "int", "", "", ""],
            &["Pourquoi ?", "why", "string", "${age} >= 18", "", "yes"],
        ];
        let choices: &[&[&str]] = &[&["list name", "value", "label"], &["yn", "yes", "Oui"]];
        let r = convert(&xlsx(&[("SURVEY", survey), ("Choices", choices)])).unwrap();
        let p = &r.document["properties"];
        assert_eq!(p["age"]["type"], "integer");
        assert_eq!(p["why"]["x-visible-if"], on("age", json!({"minimum": 18})));
        assert!(r
            .warnings
            .iter()
            .any(|w| w.column.as_deref() == Some("read only")));
    }

    #[test]
    fn a_formula_cell_is_read_by_its_cached_value_and_one_without_is_said() {
        let r = converted(
            &[
                &["type", "name", "label"],
                &["text", "q", "=CONCAT(\"Votre \",\"nom\")=>Votre nom"],
                &["text", "r", "=A1=>"],
            ],
            &[],
        );
        assert_eq!(r.document["properties"]["q"]["title"], "Votre nom");
        assert!(
            r.warnings.iter().any(|w| w.row == Some(3)
                && w.column.as_deref() == Some("label")
                && w.message.en.contains("never saved")),
            "{:#?}",
            r.warnings
        );
    }

    #[test]
    fn thousands_of_choices_convert_and_show_as_a_drop_down() {
        let rows: Vec<Vec<String>> = (0..5000)
            .map(|i| vec!["villes".into(), format!("v{i}"), format!("Ville {i}")])
            .collect();
        let mut choices: Vec<&[&str]> = vec![&["list_name", "name", "label"]];
        let refs: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        choices.extend(refs.iter().map(Vec::as_slice));
        let r = converted(
            &[
                &["type", "name", "label"],
                &["select_one villes", "ville", "Ville"],
            ],
            &choices,
        );
        let q = &r.document["properties"]["ville"];
        assert_eq!(q["oneOf"].as_array().unwrap().len(), 5000);
        assert_eq!(q["x-widget"], "select");
    }

    #[test]
    fn metadata_and_unsupported_types_are_dropped_each_with_a_warning_row() {
        let r = converted(
            &[
                &["type", "name", "label", "calculation"],
                &["start", "start", "", ""],
                &["deviceid", "deviceid", "", ""],
                &["calculate", "c", "", "1+1"],
                &["audio", "a", "A", ""],
                &["text", "q", "Q", ""],
            ],
            &[],
        );
        let rows: Vec<Option<u32>> = r.warnings.iter().map(|w| w.row).collect();
        assert_eq!(
            rows,
            [Some(2), Some(3), Some(4), Some(5)],
            "{:#?}",
            r.warnings
        );
        assert_eq!(r.document["properties"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn a_workbook_that_cannot_be_a_questionnaire_is_refused_naming_sheet_row_and_column() {
        let place = |e: &[Issue]| (e[0].sheet.clone(), e[0].row, e[0].column.clone());
        let s = |x: &str| x.to_string();
        // Not an xlsx at all.
        let e = convert(b"type,name,label\ntext,q,Q\n").unwrap_err();
        assert!(e[0].message.en.contains("not an .xlsx"), "{e:?}");
        let e = convert(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]).unwrap_err();
        assert!(e[0].message.en.contains(".xls"), "{e:?}");
        let e = convert(b"PK\x03\x04 broken").unwrap_err();
        assert!(e[0].message.en.contains("zip"), "{e:?}");
        // No survey sheet, no type column, an empty survey.
        let e = refused(&[("Feuil1", &[&["a"]])]);
        assert_eq!(place(&e), (s("survey"), None, None));
        assert!(e[0].message.en.contains("`Feuil1`"), "{e:?}");
        let e = refused(&[("survey", &[&["name", "label"], &["q", "Q"]])]);
        assert_eq!(place(&e), (s("survey"), Some(1), Some(s("type"))));
        let e = refused(&[("survey", &[&["type", "name", "label"]])]);
        assert_eq!(place(&e), (s("survey"), None, Some(s("type"))));
        // A duplicated header.
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label", "label"],
                &["text", "q", "Q", "Q"],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(1), Some(s("label"))));
        // An unknown type, a missing list, unbalanced groups.
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label"],
                &["text", "q", "Q"],
                &["textX", "r", "R"],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(3), Some(s("type"))));
        assert!(e[0].message.en.contains("`textX`"));
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label"],
                &["select_one nowhere", "q", "Q"],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(2), Some(s("type"))));
        assert!(e[0].message.en.contains("`nowhere`"));
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label"],
                &["begin_group", "g", "G"],
                &["text", "q", "Q"],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(2), Some(s("type"))));
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label"],
                &["text", "q", "Q"],
                &["end_group", "", ""],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(3), Some(s("type"))));
        let e = refused(&[(
            "survey",
            &[
                &["type", "name", "label"],
                &["begin_group", "g", "G"],
                &["text", "q", "Q"],
                &["end_repeat", "", ""],
            ],
        )]);
        assert_eq!(place(&e), (s("survey"), Some(4), Some(s("type"))));
        // Only metadata: nothing to ask.
        let e = refused(&[(
            "survey",
            &[&["type", "name"], &["start", "start"], &["end", "end"]],
        )]);
        assert!(e[0].message.en.contains("no question"), "{e:?}");
    }

    #[test]
    fn every_question_type_and_alias_converts_to_its_kind() {
        use parole_client::questionnaire::QuestionKind as K;
        let r = converted(
            &[
                &["type", "name", "label", "appearance", "parameters"],
                &["text", "a", "A", "", ""],
                &["string", "b", "B", "multiline", ""],
                &["int", "c", "C", "", ""],
                &["decimal", "d", "D", "", ""],
                &["select_one yn", "e", "E", "minimal", ""],
                &["select_multiple yn", "f", "F", "", ""],
                &["note", "g", "G", "", ""],
                &["date", "h", "H", "", ""],
                &["time", "i", "I", "", ""],
                &["dateTime", "j", "J", "", ""],
                &["gps", "k", "K", "", "capture-accuracy=10"],
                &["photo", "l", "L", "", ""],
                &["acknowledge", "m", "M", "", ""],
                &["range", "n", "N", "", "start=1 end=5 step=1"],
                &["select one yn", "o", "O", "", ""],
                &["begin group", "p", "P", "", ""],
                &["tel", "pa", "Pa", "", ""],
                &["end group", "", "", "", ""],
                &["begin_repeat", "r", "R", "", ""],
                &["integer", "ra", "Ra", "", ""],
                &["end_repeat", "", "", "", ""],
            ],
            YES_NO,
        );
        let q = Questionnaire::parse(&r.document).unwrap();
        let kind = |p: &str| q.get(p).unwrap_or_else(|| panic!("{p}")).kind;
        let want = [
            ("/a", K::ShortText),
            ("/b", K::LongText),
            ("/c", K::Integer),
            ("/d", K::Number),
            ("/e", K::SingleChoice),
            ("/f", K::MultipleChoice),
            ("/g", K::Note),
            ("/h", K::Date),
            ("/i", K::Time),
            ("/j", K::DateTime),
            ("/k", K::Geopoint),
            ("/l", K::Photo),
            ("/m", K::Boolean),
            ("/n", K::Likert),
            ("/o", K::SingleChoice),
            ("/p", K::Section),
            ("/p/pa", K::ShortText),
            ("/r", K::Repeat),
        ];
        for (p, k) in want {
            assert_eq!(kind(p), k, "{p}");
        }
        assert_eq!(r.document["properties"]["e"]["x-widget"], "select");
        assert_eq!(r.document["properties"]["k"]["x-accuracy-m"], 10);
        assert_eq!(
            r.document["properties"]["n"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        // tel: a warning on its row.
        assert!(r
            .warnings
            .iter()
            .any(|w| w.row == Some(18) && w.message.en.contains("`tel`")));
    }

    #[test]
    fn or_other_adds_the_choice_and_the_follow_up_question_with_a_warning() {
        let r = converted(
            &[
                &["type", "name", "label"],
                &["select_one yn or_other", "a", "A"],
            ],
            YES_NO,
        );
        let p = &r.document["properties"];
        assert_eq!(p["a"]["oneOf"][2]["const"], "other");
        assert_eq!(
            p["a_other"]["x-visible-if"],
            on("a", json!({"const": "other"}))
        );
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].message.en.contains("or_other"));
    }

    #[test]
    fn a_rule_the_format_refuses_is_taken_out_with_a_warning_and_the_document_parses() {
        // An unclosed character class: XPath and ECMA-262 both refuse it.
        let (q, warnings) = constrained("text", "regex(., '[a-')");
        assert!(q.get("pattern").is_none(), "{q:#}");
        assert!(q.get("x-error-message").is_none(), "{q:#}");
        assert!(
            warnings.iter().any(|w| w.row == Some(3)
                && w.column.as_deref() == Some("constraint")
                && w.message.en.contains("constraint taken out")),
            "{warnings:#?}"
        );
        let (visible, warnings) = visible_if("regex(${t}, '(unclosed')");
        assert_eq!(visible, None);
        assert!(
            warnings
                .iter()
                .any(|w| w.message.en.contains("display condition taken out")),
            "{warnings:#?}"
        );
    }

    #[test]
    fn every_broken_workbook_of_the_corpus_is_refused_naming_where() {
        let files = corpus("broken");
        assert_eq!(files.len(), 3, "{files:?}");
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy();
            let errors = convert(&std::fs::read(file).unwrap())
                .err()
                .unwrap_or_else(|| panic!("{name} was accepted"));
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(!e.sheet.is_empty(), "{name}: {e:?}");
                assert!(!e.message.fr.is_empty() && !e.message.en.is_empty());
                eprintln!("{name}: {}: {}", e.place(), e.message.en);
            }
        }
    }
}
