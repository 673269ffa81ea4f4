//! What changed between two versions of a questionnaire, and whether a change would make the
//! responses already received unreadable.
//!
//! Publishing freezes the draft as a new version, and an export covering several versions
//! takes the **union** of their columns, by key (`cadre_de_vie.logement`). So a key must keep
//! the *shape* of its answers from one version to the next: if `age` held text in version 1
//! and whole numbers in version 2, the `age` column would mix both, and the old answers could
//! no longer be read as answers to the new question. That is the one **breaking** change
//! ([`ChangeKind::TypeChanged`] in [`Changes::breaking`]), and the server refuses to publish
//! it; the way out is a new question under another key.
//!
//! Everything else is a plain change, listed for the coordinator to review: labels, choices
//! (a removed choice only stops appearing in new responses), limits, `required`, skip logic,
//! the personal-data mark, the order of questions, the questionnaire's own title. Removing a
//! question is not breaking either: its column stays, for the versions that had it.
//!
//! Questions are matched by their key path (a question moved into a section is a removal
//! and an addition: its column changes). The same code runs in the server (publishing), the
//! CLI and the browser.
//!
//! ```
//! use parole_client::changes::{changes, ChangeKind};
//! use parole_client::Questionnaire;
//! use serde_json::json;
//!
//! let doc = |age: serde_json::Value| json!({
//!     "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Exemple",
//!     "type": "object", "additionalProperties": false, "properties": {"age": age}
//! });
//! let v1 = Questionnaire::parse(&doc(json!({"type": "string", "title": "Âge"}))).unwrap();
//! let v2 = Questionnaire::parse(&doc(json!({"type": "integer", "title": "Âge"}))).unwrap();
//! let c = changes(&v1, &v2);
//! assert_eq!(c.breaking[0].kind, ChangeKind::TypeChanged);
//! assert_eq!(c.breaking[0].path, "/properties/age");
//! assert!(c.changes.is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::i18n::Message;
use crate::questionnaire::{push_token, Choice, Question, QuestionKind, Questionnaire};

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    QuestionAdded,
    QuestionRemoved,
    /// Its title, help, error message or translations changed.
    QuestionRelabelled,
    /// It is asked at another place among the questions it sits with.
    QuestionMoved,
    ChoiceAdded,
    ChoiceRemoved,
    /// A choice's label (or its translations) changed; its value did not.
    ChoiceRelabelled,
    RequiredChanged,
    /// A limit on the answer (`minimum`, `maxLength`, `pattern`, `maxItems`, `format`…).
    LimitsChanged,
    /// A question's `x-visible-if`, or the root's cross-question rules (`allOf`).
    RuleChanged,
    PersonalDataChanged,
    /// The questionnaire's own title, description, languages, translations or layout.
    TitleChanged,
    /// The kind of question changed. Breaking (in [`Changes::breaking`]) unless the answers
    /// already received keep their shape and meaning (short ↔ long text, whole number →
    /// number, a note becoming a question or the reverse).
    TypeChanged,
}

/// One change, located in the new document (in the old one for a removal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The JSON pointer of the question in the document
    /// (`/properties/cadre_de_vie/properties/logement`), or of the root's part that changed
    /// (`/title`, `/allOf`).
    pub path: String,
    /// The question's key path (`cadre_de_vie.logement`, the export's column name); `""` for
    /// the root's parts.
    pub key: String,
    /// What changed, French first (`message`, `message_en` on the wire).
    #[serde(flatten)]
    pub message: Message,
}

/// The changes from one version to the next: the breaking ones apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// What changed without harm to the responses already received, in document order.
    pub changes: Vec<Change>,
    /// What would make them unreadable: a publication holding any of these is refused.
    pub breaking: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.breaking.is_empty()
    }
}

/// Everything that changed from `old` to `new`, the breaking changes apart.
pub fn changes(old: &Questionnaire, new: &Questionnaire) -> Changes {
    let mut out = Changes::default();
    root_changes(old, new, &mut out.changes);
    compare_lists(
        &old.questions,
        &new.questions,
        &Place::root(),
        &Place::root(),
        &mut out,
    );
    if old.document.get("allOf") != new.document.get("allOf") {
        out.changes.push(Change {
            kind: ChangeKind::RuleChanged,
            path: "/allOf".into(),
            key: String::new(),
            message: Message::new(
                "Règles entre questions (allOf) modifiées",
                "Cross-question rules (allOf) changed",
            ),
        });
    }
    out
}

/// The changes from the latest of `published` (oldest first, with their version numbers) to
/// `new`, and, beyond what [`changes`] finds, a key `new` uses that held answers of another
/// shape in an earlier version (a question removed, then its key reused): the union of
/// columns spans every version. A key the latest version has is judged against the latest
/// only, so an old inconsistency, already published, never blocks the next version.
/// Nothing published: no changes.
pub fn changes_since(published: &[(i32, &Questionnaire)], new: &Questionnaire) -> Changes {
    let Some(&(_, base)) = published.last() else {
        return Changes::default();
    };
    let mut out = changes(base, new);
    let earlier: Vec<(i32, BTreeMap<String, Located>)> = published
        .iter()
        .map(|&(n, q)| (n, flatten(&q.questions)))
        .collect();
    let latest = &earlier.last().expect("not empty").1;
    for (key, now) in flatten(&new.questions) {
        let answered_in_latest = latest
            .get(&key)
            .is_some_and(|q| q.question.kind != QuestionKind::Note);
        if now.question.kind == QuestionKind::Note || answered_in_latest {
            continue;
        }
        let before = earlier.iter().rev().find_map(|(n, questions)| {
            let q = questions.get(&key)?;
            (q.question.kind != QuestionKind::Note).then_some((*n, q))
        });
        let Some((version, before)) = before else {
            continue;
        };
        if compatible(before.question, now.question)
            || out.breaking.iter().any(|b| b.path == now.path)
        {
            continue;
        }
        let (title, (old_fr, old_en), (new_fr, new_en)) = (
            quoted(&now.question.title),
            kind_name(before.question.kind),
            kind_name(now.question.kind),
        );
        out.breaking.push(Change {
            kind: ChangeKind::TypeChanged,
            path: now.path.clone(),
            key: key.clone(),
            message: Message::new(
                format!(
                    "La question « {title} » ({key}) est de type {new_fr}, mais la clé {key} \
                     était celle d'une question de type {old_fr} dans la version {version} : \
                     les réponses reçues alors ne pourraient plus être lues avec elle. \
                     Donnez-lui une autre clé."
                ),
                format!(
                    "The question “{title}” ({key}) is of type {new_en}, but the key {key} was \
                     that of a question of type {old_en} in version {version}: the responses \
                     received then could no longer be read with it. Give it another key."
                ),
            ),
        });
    }
    out
}

/// Whether answers given to `old` keep their shape and meaning as answers to `new`.
fn compatible(old: &Question, new: &Question) -> bool {
    use QuestionKind::*;
    let integer_values = |q: &Question| q.schema.get("type") == Some(&Value::from("integer"));
    match (old.kind, new.kind) {
        (a, b) if a == b => true,
        // A note holds no answer: nothing received is at stake.
        (Note, _) | (_, Note) => true,
        (ShortText, LongText) | (LongText, ShortText) => true,
        (Integer, Number) => true,
        (SingleChoice, Likert) | (Likert, SingleChoice) => {
            integer_values(old) && integer_values(new)
        }
        _ => false,
    }
}

/// The name of a kind of question, in French and English.
pub fn kind_name(kind: QuestionKind) -> (&'static str, &'static str) {
    use QuestionKind::*;
    match kind {
        ShortText => ("texte court", "short text"),
        LongText => ("texte long", "long text"),
        Integer => ("nombre entier", "whole number"),
        Number => ("nombre", "number"),
        Boolean => ("oui/non", "yes/no"),
        SingleChoice => ("choix unique", "single choice"),
        MultipleChoice => ("choix multiple", "multiple choice"),
        Likert => ("échelle", "scale"),
        Date => ("date", "date"),
        Time => ("heure", "time of day"),
        DateTime => ("date et heure", "date and time"),
        Geopoint => ("position GPS", "GPS position"),
        Photo => ("photo", "photo"),
        Note => ("note", "note"),
        Section => ("section", "section"),
        Repeat => ("groupe répété", "repeated group"),
    }
}

/// Where a list of questions sits: its JSON pointer in the document, and the key path of
/// its parent.
struct Place {
    pointer: String,
    key: String,
}

impl Place {
    fn root() -> Place {
        Place {
            pointer: String::new(),
            key: String::new(),
        }
    }

    /// A question of this list: its pointer and key path.
    fn of(&self, key: &str) -> Place {
        Place {
            pointer: push_token(&format!("{}/properties", self.pointer), key),
            key: if self.key.is_empty() {
                key.to_string()
            } else {
                format!("{}.{key}", self.key)
            },
        }
    }

    /// The place of a question's own questions (a section's, a repeat item's).
    fn inside(&self, q: &Question) -> Place {
        let pointer = match q.kind {
            QuestionKind::Repeat => format!("{}/items", self.pointer),
            _ => self.pointer.clone(),
        };
        Place {
            pointer,
            key: self.key.clone(),
        }
    }
}

/// One question with where it is.
struct Located<'a> {
    question: &'a Question,
    path: String,
}

/// Every question by key path.
fn flatten(questions: &[Question]) -> BTreeMap<String, Located<'_>> {
    fn walk<'a>(qs: &'a [Question], at: &Place, out: &mut BTreeMap<String, Located<'a>>) {
        for q in qs {
            let here = at.of(&q.key);
            walk(&q.children, &here.inside(q), out);
            out.insert(
                here.key,
                Located {
                    question: q,
                    path: here.pointer,
                },
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(questions, &Place::root(), &mut out);
    out
}

/// A label quoted in a message: at most 80 characters, on one line.
fn quoted(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = one_line.trim().chars().take(80).collect();
    if one_line.trim().chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

fn root_changes(old: &Questionnaire, new: &Questionnaire, out: &mut Vec<Change>) {
    let mut push = |path: &str, fr: String, en: String| {
        out.push(Change {
            kind: ChangeKind::TitleChanged,
            path: path.into(),
            key: String::new(),
            message: Message::new(fr, en),
        })
    };
    if old.title != new.title {
        let (a, b) = (quoted(&old.title), quoted(&new.title));
        push(
            "/title",
            format!("Titre du questionnaire modifié : « {a} » devient « {b} »"),
            format!("Questionnaire title changed: “{a}” becomes “{b}”"),
        );
    }
    if old.description != new.description {
        push(
            "/description",
            "Présentation du questionnaire modifiée".into(),
            "Questionnaire description changed".into(),
        );
    }
    if old.languages != new.languages {
        let (a, b) = (old.languages.join(", "), new.languages.join(", "));
        push(
            "/x-languages",
            format!("Langues du questionnaire : {b} (avant : {a})"),
            format!("Questionnaire languages: {b} (before: {a})"),
        );
    }
    if old.i18n != new.i18n {
        push(
            "/x-i18n",
            "Traductions du titre ou de la présentation modifiées".into(),
            "Translations of the title or description changed".into(),
        );
    }
    if old.document.get("x-layout") != new.document.get("x-layout") {
        push(
            "/x-layout",
            "Mise en page modifiée (x-layout)".into(),
            "Layout changed (x-layout)".into(),
        );
    }
}

/// Compares two lists of questions (the root's, a section's, a repeat item's): in the new
/// order, then the removed ones.
fn compare_lists(
    old: &[Question],
    new: &[Question],
    old_at: &Place,
    new_at: &Place,
    out: &mut Changes,
) {
    let moved = moved_keys(old, new);
    for n in new {
        let here = new_at.of(&n.key);
        let title = quoted(&n.title);
        let key = &here.key;
        let Some(o) = old.iter().find(|o| o.key == n.key) else {
            let (kind_fr, kind_en) = kind_name(n.kind);
            out.changes.push(change(
                ChangeKind::QuestionAdded,
                &here,
                format!("Question ajoutée : « {title} » ({key}, {kind_fr})"),
                format!("Question added: “{title}” ({key}, {kind_en})"),
            ));
            continue;
        };
        if moved.contains(n.key.as_str()) {
            out.changes.push(change(
                ChangeKind::QuestionMoved,
                &here,
                format!("« {title} » ({key}) change de place"),
                format!("“{title}” ({key}) moved"),
            ));
        }
        if o.kind != n.kind {
            let ((old_fr, old_en), (new_fr, new_en)) = (kind_name(o.kind), kind_name(n.kind));
            if !compatible(o, n) {
                out.breaking.push(change(
                    ChangeKind::TypeChanged,
                    &here,
                    format!(
                        "La question « {title} » ({key}) passe de {old_fr} à {new_fr} : les \
                         réponses déjà reçues ne pourraient plus être lues avec elle. \
                         Gardez-la telle quelle et ajoutez une nouvelle question (avec une \
                         autre clé), ou retirez l'ancienne."
                    ),
                    format!(
                        "The question “{title}” ({key}) changes from {old_en} to {new_en}: the \
                         responses already received could no longer be read with it. Keep it \
                         as it is and add a new question (with another key), or remove the \
                         old one."
                    ),
                ));
                // What else changed on it is moot until it keeps its type.
                continue;
            }
            out.changes.push(change(
                ChangeKind::TypeChanged,
                &here,
                format!(
                    "« {title} » ({key}) passe de {old_fr} à {new_fr} : les réponses déjà \
                     reçues restent lisibles"
                ),
                format!(
                    "“{title}” ({key}) changes from {old_en} to {new_en}: the responses \
                     already received stay readable"
                ),
            ));
        }
        compare_question(o, n, &here, &mut out.changes);
        if o.kind == n.kind && matches!(n.kind, QuestionKind::Section | QuestionKind::Repeat) {
            let old_here = old_at.of(&o.key);
            compare_lists(
                &o.children,
                &n.children,
                &old_here.inside(o),
                &here.inside(n),
                out,
            );
        }
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| n.key == o.key)) {
        let here = old_at.of(&o.key);
        let (title, key) = (quoted(&o.title), &here.key);
        out.changes.push(change(
            ChangeKind::QuestionRemoved,
            &here,
            format!("Question retirée : « {title} » ({key}) ; les réponses déjà reçues la gardent"),
            format!("Question removed: “{title}” ({key}); the responses already received keep it"),
        ));
    }
}

fn change(kind: ChangeKind, at: &Place, fr: String, en: String) -> Change {
    Change {
        kind,
        path: at.pointer.clone(),
        key: at.key.clone(),
        message: Message::new(fr, en),
    }
}

/// The keys asked in another order: those outside a longest common subsequence of the keys
/// both lists have (so moving one question marks that one, not every other).
fn moved_keys<'a>(old: &'a [Question], new: &[Question]) -> BTreeSet<&'a str> {
    let a: Vec<&'a str> = old
        .iter()
        .filter(|q| new.iter().any(|n| n.key == q.key))
        .map(|q| q.key.as_str())
        .collect();
    let b: Vec<&str> = new
        .iter()
        .filter(|q| old.iter().any(|o| o.key == q.key))
        .map(|q| q.key.as_str())
        .collect();
    // lcs[i][j]: the length of a longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut kept = BTreeSet::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            kept.insert(a[i]);
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    a.into_iter().filter(|k| !kept.contains(k)).collect()
}

/// The keys of a question's schema that are not limits: labels, rules, structure.
const NOT_LIMITS: &[&str] = &[
    "type",
    "title",
    "description",
    "x-widget",
    "x-i18n",
    "x-visible-if",
    "x-personal-data",
    "x-error-message",
    "oneOf",
];

/// What changed on a question of the same (or a compatible) kind, its children apart.
fn compare_question(o: &Question, n: &Question, at: &Place, out: &mut Vec<Change>) {
    let title = quoted(&n.title);
    let key = &at.key;
    if labels_of(o) != labels_of(n) {
        let (fr, en) = if o.title != n.title {
            let before = quoted(&o.title);
            (
                format!("Libellé modifié : « {before} » devient « {title} » ({key})"),
                format!("Label changed: “{before}” becomes “{title}” ({key})"),
            )
        } else {
            (
                format!("Aide, message d'erreur ou traductions modifiés : « {title} » ({key})"),
                format!("Help, error message or translations changed: “{title}” ({key})"),
            )
        };
        out.push(change(ChangeKind::QuestionRelabelled, at, fr, en));
    }
    compare_choices(&o.choices, &n.choices, at, &title, out);
    if o.required != n.required {
        let (fr, en) = if n.required {
            (
                format!("« {title} » ({key}) devient obligatoire"),
                format!("“{title}” ({key}) becomes required"),
            )
        } else {
            (
                format!("« {title} » ({key}) n'est plus obligatoire"),
                format!("“{title}” ({key}) is no longer required"),
            )
        };
        out.push(change(ChangeKind::RequiredChanged, at, fr, en));
    }
    let changed_limits = limits_changed(o, n);
    if !changed_limits.is_empty() {
        let list = changed_limits.join(", ");
        out.push(change(
            ChangeKind::LimitsChanged,
            at,
            format!("Limites modifiées pour « {title} » ({key}) : {list}"),
            format!("Limits changed for “{title}” ({key}): {list}"),
        ));
    }
    if o.visible_if != n.visible_if {
        let (fr, en) = match (&o.visible_if, &n.visible_if) {
            (None, Some(_)) => (
                format!("« {title} » ({key}) n'est plus posée que sous condition (x-visible-if)"),
                format!("“{title}” ({key}) is now asked only under a condition (x-visible-if)"),
            ),
            (Some(_), None) => (
                format!("« {title} » ({key}) est désormais toujours posée"),
                format!("“{title}” ({key}) is now always asked"),
            ),
            _ => (
                format!("Condition d'affichage modifiée pour « {title} » ({key})"),
                format!("Display condition changed for “{title}” ({key})"),
            ),
        };
        out.push(change(ChangeKind::RuleChanged, at, fr, en));
    }
    if o.personal_data != n.personal_data {
        let (fr, en) = if n.personal_data {
            (
                format!("« {title} » ({key}) est désormais marquée comme donnée personnelle"),
                format!("“{title}” ({key}) is now marked as personal data"),
            )
        } else {
            (
                format!("« {title} » ({key}) n'est plus marquée comme donnée personnelle"),
                format!("“{title}” ({key}) is no longer marked as personal data"),
            )
        };
        out.push(change(ChangeKind::PersonalDataChanged, at, fr, en));
    }
}

/// A question's labels: title, help, error message, and their translations (choices apart).
fn labels_of(q: &Question) -> Vec<Option<Value>> {
    let translations = q
        .schema
        .get("x-i18n")
        .and_then(Value::as_object)
        .map(|i18n| {
            let without_choices: Map<String, Value> = i18n
                .iter()
                .map(|(lang, labels)| {
                    let mut labels = labels.clone();
                    if let Some(l) = labels.as_object_mut() {
                        l.remove("choices");
                    }
                    (lang.clone(), labels)
                })
                .collect();
            Value::Object(without_choices)
        });
    vec![
        q.schema.get("title").cloned(),
        q.schema.get("description").cloned(),
        q.schema.get("x-error-message").cloned(),
        translations,
    ]
}

fn compare_choices(old: &[Choice], new: &[Choice], at: &Place, title: &str, out: &mut Vec<Change>) {
    let key = &at.key;
    let value_of = |c: &Choice| crate::questionnaire::choice_key(&c.value);
    for n in new {
        let (label, value) = (quoted(&n.title), value_of(n));
        match old.iter().find(|o| o.value == n.value) {
            None => out.push(change(
                ChangeKind::ChoiceAdded,
                at,
                format!("Choix ajouté à « {title} » ({key}) : « {label} » ({value})"),
                format!("Choice added to “{title}” ({key}): “{label}” ({value})"),
            )),
            Some(o) if o.title != n.title || o.i18n != n.i18n => out.push(change(
                ChangeKind::ChoiceRelabelled,
                at,
                format!("Choix renommé dans « {title} » ({key}) : « {label} » ({value})"),
                format!("Choice relabelled in “{title}” ({key}): “{label}” ({value})"),
            )),
            Some(_) => {}
        }
    }
    for o in old
        .iter()
        .filter(|o| !new.iter().any(|n| n.value == o.value))
    {
        let (label, value) = (quoted(&o.title), value_of(o));
        out.push(change(
            ChangeKind::ChoiceRemoved,
            at,
            format!(
                "Choix retiré de « {title} » ({key}) : « {label} » ({value}) ; il ne sera plus \
                 proposé, les réponses déjà reçues le gardent"
            ),
            format!(
                "Choice removed from “{title}” ({key}): “{label}” ({value}); it will no longer \
                 be offered, the responses already received keep it"
            ),
        ));
    }
}

/// The names of the limits that differ (`maxLength`, `items.maxItems`…), sorted.
fn limits_changed(o: &Question, n: &Question) -> Vec<String> {
    fn limits(q: &Question) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let Some(schema) = q.schema.as_object() else {
            return out;
        };
        for (k, v) in schema {
            if NOT_LIMITS.contains(&k.as_str()) {
                continue;
            }
            match (q.kind, k.as_str()) {
                // A section's questions are compared one by one.
                (QuestionKind::Section, "properties" | "required") => {}
                // A repeat item's questions too, and a multiple choice's choices.
                (QuestionKind::Repeat | QuestionKind::MultipleChoice, "items") => {
                    let skip: &[&str] = match q.kind {
                        QuestionKind::Repeat => &["properties", "required"],
                        _ => &["oneOf"],
                    };
                    for (ik, iv) in v.as_object().into_iter().flatten() {
                        if !skip.contains(&ik.as_str()) {
                            out.insert(format!("items.{ik}"), iv.clone());
                        }
                    }
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out
    }
    let (a, b) = (limits(o), limits(n));
    a.keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}
