//! The summaries of a questionnaire's responses (readers): for each question, counts and
//! percentages per choice, the numbers' extremes, median, mean and histogram, the dates'
//! counts per day, and always how many did not answer; filtered as the responses page is,
//! and optionally broken down by the answer to a single-choice question (`by=conseil`).
//!
//! The questions are the union over the selected versions (from client-core's parsed
//! `Questionnaire`: kinds, choices, labels in every language); a repeat's questions are
//! summarised over its items (`"unit": "items"`). The figures come from PostgreSQL
//! ([`db::summary_tallies`], [`db::summary_numbers`]); this module only names them.
//!
//! Personal data: when the reader gets none (analysts), a question personal in any of the
//! selected versions (or inside a personal section or repeat) is left out altogether, and
//! `by` may not name one.
//!
//! ```text
//! GET /api/v1/questionnaires/besoins-formation/summary?where=role:habitant&by=conseil
//! → {"responses": 120, "questions": [{"question": "format_prefere", "kind": "choices",
//!    "groups": [{"by_value": "bellevue", "total": 14, "choices": [{"value": "atelier",
//!    "count": 6, "pct": 42.9}…], "no_answer": 1, "no_answer_pct": 7.1}…]}…]}
//! ```

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parole_client::api::{
    percent, Bin, ChoiceCount, DayTally, NumberSummary, PersonalData, QuestionSummary,
    ResponsesSummary, SummaryBy, SummaryGroup, SummaryKind, SummaryParams, SummaryUnit,
};
use parole_client::i18n::Message;
use parole_client::questionnaire::{Question, QuestionKind, Questionnaire};
use serde_json::Value;

use super::{filters, ApiPath, ApiQuery, Reader};
use crate::db::{self, Measure};
use crate::domain::Slug;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/questionnaires/{slug}/summary", get(summary))
}

type Labels = BTreeMap<String, String>;

/// One choice of the union: its value as text and labels.
struct ChoiceEntry {
    value: String,
    labels: Labels,
}

/// One question of the union over the selected versions.
struct Entry {
    name: String,
    pointer: String,
    kind: QuestionKind,
    labels: Labels,
    choices: Vec<ChoiceEntry>,
    /// Personal in at least one selected version.
    personal: bool,
    /// The repeat it is in: (column name, path).
    repeat: Option<(String, Vec<String>)>,
    /// Its path from the response's answers, or from the repeat item.
    path: Vec<String>,
}

fn measure_of(kind: QuestionKind) -> Option<Measure> {
    use QuestionKind::*;
    Some(match kind {
        SingleChoice | Likert | Boolean => Measure::Choice,
        MultipleChoice => Measure::Multiple,
        Integer | Number => Measure::Number,
        Date | DateTime => Measure::Date,
        ShortText | LongText | Time | Geopoint | Photo => Measure::Answered,
        Note | Section | Repeat => return None,
    })
}

/// The text a choice value is matched by (`#>>` in SQL): a string as is, else its JSON.
fn value_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn question_labels(q: &Question, default_lang: &str) -> Labels {
    let mut labels = Labels::new();
    labels.insert(default_lang.to_string(), q.title.clone());
    for (lang, l) in &q.i18n {
        if let Some(t) = &l.title {
            labels.insert(lang.clone(), t.clone());
        }
    }
    labels
}

fn yes_no() -> Vec<ChoiceEntry> {
    let l = |fr: &str, en: &str| Labels::from([("fr".into(), fr.into()), ("en".into(), en.into())]);
    vec![
        ChoiceEntry {
            value: "true".into(),
            labels: l("Oui", "Yes"),
        },
        ChoiceEntry {
            value: "false".into(),
            labels: l("Non", "No"),
        },
    ]
}

/// Adds `questions` (of one version) to the union `out`, depth first in question order.
fn collect(
    questions: &[Question],
    prefix: &str,
    personal: bool,
    repeat: Option<&(String, Vec<String>)>,
    rel: &[String],
    lang: &str,
    out: &mut Vec<Entry>,
) {
    for q in questions {
        let name = if prefix.is_empty() {
            q.key.clone()
        } else {
            format!("{prefix}.{}", q.key)
        };
        let personal = personal || q.personal_data;
        let mut path = rel.to_vec();
        path.push(q.key.clone());
        match q.kind {
            QuestionKind::Note => {}
            QuestionKind::Section => {
                collect(&q.children, &name, personal, repeat, &path, lang, out)
            }
            QuestionKind::Repeat => {
                // A repeat inside a repeat is not summarised (its items have no one place).
                if repeat.is_none() {
                    let r = (name.clone(), path);
                    collect(&q.children, &name, personal, Some(&r), &[], lang, out);
                }
            }
            kind => {
                let labels = question_labels(q, lang);
                let choices: Vec<ChoiceEntry> = if kind == QuestionKind::Boolean {
                    yes_no()
                } else {
                    q.choices
                        .iter()
                        .map(|c| {
                            let mut labels = Labels::from([(lang.to_string(), c.title.clone())]);
                            labels.extend(c.i18n.clone());
                            ChoiceEntry {
                                value: value_key(&c.value),
                                labels,
                            }
                        })
                        .collect()
                };
                match out.iter_mut().find(|e| e.pointer == q.pointer) {
                    Some(e) => {
                        // A later version's labels win; choices add up.
                        e.labels = labels;
                        e.personal |= personal;
                        for c in choices {
                            match e.choices.iter_mut().find(|x| x.value == c.value) {
                                Some(x) => x.labels = c.labels,
                                None => e.choices.push(c),
                            }
                        }
                    }
                    None => out.push(Entry {
                        name,
                        pointer: q.pointer.clone(),
                        kind,
                        labels,
                        choices,
                        personal,
                        repeat: repeat.cloned(),
                        path,
                    }),
                }
            }
        }
    }
}

/// The first pass's rows of question (or unit) `q` in group `g`.
fn tally<'a>(
    tallies: &'a [db::SummaryTally],
    g: &'a Option<String>,
    q: i32,
) -> impl Iterator<Item = &'a db::SummaryTally> + 'a {
    tallies.iter().filter(move |t| &t.g == g && t.q == q)
}

/// How many rows question (or unit) `q` has in group `g`.
fn count(tallies: &[db::SummaryTally], g: &Option<String>, q: i32) -> i64 {
    tally(tallies, g, q).map(|t| t.n).sum()
}

/// The spec of `entries` (top-level questions first, then each repeat's), with for each
/// `q` its entry's index and its repeat's (in `spec.repeats`).
fn spec_of(
    entries: &[Entry],
    by: Option<Vec<String>>,
) -> (db::SummarySpec, Vec<usize>, Vec<Option<usize>>) {
    let mut spec = db::SummarySpec {
        by,
        ..Default::default()
    };
    let mut index: Vec<usize> = Vec::new();
    let mut repeat_of: Vec<Option<usize>> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let (None, Some(measure)) = (&e.repeat, measure_of(e.kind)) {
            spec.questions.push(db::SummaryQuestion {
                path: e.path.clone(),
                measure,
            });
            index.push(i);
            repeat_of.push(None);
        }
    }
    let mut repeat_names: Vec<String> = Vec::new();
    for e in entries {
        if let Some((name, path)) = &e.repeat {
            if !repeat_names.contains(name) {
                repeat_names.push(name.clone());
                spec.repeats.push(db::SummaryRepeat {
                    path: path.clone(),
                    questions: Vec::new(),
                });
            }
        }
    }
    for (j, name) in repeat_names.iter().enumerate() {
        for (i, e) in entries.iter().enumerate() {
            if e.repeat.as_ref().is_some_and(|(n, _)| n == name) {
                if let Some(measure) = measure_of(e.kind) {
                    spec.repeats[j].questions.push(db::SummaryQuestion {
                        path: e.path.clone(),
                        measure,
                    });
                    index.push(i);
                    repeat_of.push(Some(j));
                }
            }
        }
    }
    (spec, index, repeat_of)
}

/// The spec of one version's questions, all of them (personal or not): what the rollup
/// counts its responses by.
pub fn version_spec(q: &Questionnaire) -> db::SummarySpec {
    let mut entries = Vec::new();
    add_version(q, &mut entries);
    spec_of(&entries, None).0
}

/// Adds every question of version `q` to the union `out`.
fn add_version(q: &Questionnaire, out: &mut Vec<Entry>) {
    collect(
        &q.questions,
        "",
        false,
        None,
        &[],
        q.default_language(),
        out,
    );
}

/// `GET /api/v1/questionnaires/{slug}/summary` (readers).
async fn summary(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<SummaryParams>,
) -> Result<Json<ResponsesSummary>, AppError> {
    let selection = filters::select(&state, &slug, role, None, &params.filter()).await?;
    let versions: Vec<i32> = selection.shapes.iter().map(|(v, _)| *v).collect();
    let parsed = state
        .cache
        .parsed(&state.pool, &selection.slug, versions.iter().copied())
        .await?;
    let mut languages: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for v in &versions {
        if let Some(q) = parsed.get(v) {
            languages = q.languages.clone();
            add_version(q, &mut entries);
        }
    }
    let omit = selection.personal == PersonalData::Omit;
    let by = match &params.by {
        None => None,
        Some(name) => {
            let e = entries
                .iter()
                .find(|e| &e.name == name)
                .filter(|e| e.repeat.is_none() && measure_of(e.kind) == Some(Measure::Choice));
            match e {
                Some(e) if omit && e.personal => {
                    return Err(AppError::ForbiddenBecause(Message::new(
                        format!("by : « {name} » est une donnée personnelle, réservée aux coordinateurs"),
                        format!("by: `{name}` is personal data, for coordinators only"),
                    )))
                }
                Some(e) => Some((
                    e.path.clone(),
                    SummaryBy {
                        question: e.name.clone(),
                        labels: e.labels.clone(),
                    },
                    e.choices
                        .iter()
                        .map(|c| (c.value.clone(), c.labels.clone()))
                        .collect::<Vec<_>>(),
                )),
                None => {
                    return Err(AppError::BadRequest(Message::new(
                        format!("by : « {name} » n'est pas une question à choix unique de ce questionnaire"),
                        format!("by: `{name}` is not a single-choice question of this questionnaire"),
                    )))
                }
            }
        }
    };
    if omit {
        entries.retain(|e| !e.personal);
    }

    let (spec, index, repeat_of) = spec_of(&entries, by.as_ref().map(|(p, _, _)| p.clone()));

    // A long read: the replica, when there is one and it has caught up.
    let pool = state.read_pool().await;
    // The rollup's counts and the few responses past it when it keeps what is asked (see
    // `db::rollup_serves`); else every selected response.
    let each: Vec<db::SummarySpec> = parsed.values().map(|q| version_spec(q)).collect();
    let counted = match db::rollup_serves(&selection.filter, &spec, &each) {
        Some(rolled) => {
            db::rolled_up_tallies(
                &pool,
                selection.questionnaire_id,
                &selection.filter,
                &spec,
                &rolled,
            )
            .await?
        }
        None => {
            db::summary_tallies(&pool, selection.questionnaire_id, &selection.filter, &spec).await?
        }
    };
    let tallies = &counted.rows;

    // The groups: the `by` choices in order, then the responses without a `by` answer.
    let mut groups: Vec<(Option<String>, Labels)> = match &by {
        None => vec![(None, Labels::new())],
        Some((_, _, choices)) => choices
            .iter()
            .map(|(v, l)| (Some(v.clone()), l.clone()))
            .collect(),
    };
    for t in tallies {
        if !groups.iter().any(|(g, _)| g == &t.g) {
            groups.push((t.g.clone(), Labels::new()));
        }
    }
    // Groups whose value is no choice (an older version's) stay, before "no answer".
    groups.sort_by_key(|(g, _)| g.is_none());

    let responses: i64 = tallies
        .iter()
        .filter(|t| t.q == db::UNIT_RESPONSES)
        .map(|t| t.n)
        .sum();

    // The numbers' bins, the same for every group.
    let mut bins: Vec<db::Bins> = Vec::new();
    for (q, &i) in index.iter().enumerate() {
        if measure_of(entries[i].kind) != Some(Measure::Number) {
            continue;
        }
        let q = q as i32;
        let mins = tallies.iter().filter(|t| t.q == q).filter_map(|t| t.min);
        let maxs = tallies.iter().filter(|t| t.q == q).filter_map(|t| t.max);
        let (Some(lo), Some(hi)) = (mins.reduce(f64::min), maxs.reduce(f64::max)) else {
            continue;
        };
        let integers = lo.fract() == 0.0 && hi.fract() == 0.0;
        let b = if integers && hi - lo < f64::from(db::MAX_BINS) {
            // One bin per value.
            db::Bins {
                q,
                from: lo - 0.5,
                to: hi + 0.5,
                bins: (hi - lo) as i32 + 1,
            }
        } else if hi == lo {
            db::Bins {
                q,
                from: lo - 0.5,
                to: hi + 0.5,
                bins: 1,
            }
        } else {
            db::Bins {
                q,
                from: lo,
                to: hi,
                bins: 10,
            }
        };
        bins.push(b);
    }
    let numbers = db::summary_numbers(
        &pool,
        selection.questionnaire_id,
        &selection.filter,
        &spec,
        &bins,
        &counted,
    )
    .await?;

    let mut questions = Vec::new();
    for (q, &i) in index.iter().enumerate() {
        let e = &entries[i];
        let q = q as i32;
        let measure = measure_of(e.kind).expect("only summarised kinds are in the spec");
        let unit_q = match repeat_of[q as usize] {
            None => db::UNIT_RESPONSES,
            Some(j) => db::unit_items(j),
        };
        let groups = groups
            .iter()
            .map(|(g, by_labels)| {
                let total = count(tallies, g, unit_q);
                let answered = match measure {
                    Measure::Choice | Measure::Date => count(tallies, g, q),
                    Measure::Multiple | Measure::Number | Measure::Answered => tally(tallies, g, q)
                        .filter(|t| t.k.is_none())
                        .map(|t| t.n)
                        .sum(),
                };
                let mut group = SummaryGroup {
                    by_value: g.clone(),
                    by_labels: by_labels.clone(),
                    total,
                    answered,
                    no_answer: total - answered,
                    no_answer_pct: percent(total - answered, total),
                    choices: Vec::new(),
                    other: 0,
                    numbers: None,
                    per_day: Vec::new(),
                };
                match measure {
                    Measure::Choice | Measure::Multiple => {
                        group.choices = e
                            .choices
                            .iter()
                            .map(|c| {
                                let n = tally(tallies, g, q)
                                    .filter(|t| t.k.as_deref() == Some(&c.value))
                                    .map(|t| t.n)
                                    .sum();
                                ChoiceCount {
                                    value: c.value.clone(),
                                    labels: c.labels.clone(),
                                    count: n,
                                    pct: percent(n, total),
                                }
                            })
                            .collect();
                        group.other = tally(tallies, g, q)
                            .filter(|t| {
                                t.k.as_ref()
                                    .is_some_and(|k| !e.choices.iter().any(|c| &c.value == k))
                            })
                            .map(|t| t.n)
                            .sum();
                    }
                    Measure::Date => {
                        let mut days: Vec<DayTally> = tally(tallies, g, q)
                            .filter_map(|t| {
                                t.k.as_ref().map(|k| DayTally {
                                    day: k.clone(),
                                    count: t.n,
                                })
                            })
                            .collect();
                        days.sort_by(|a, b| a.day.cmp(&b.day));
                        group.per_day = days;
                    }
                    Measure::Number => {
                        let t = tally(tallies, g, q).find(|t| t.k.is_none() && t.n > 0);
                        let b = bins.iter().find(|b| b.q == q);
                        let n = numbers.iter().find(|n| &n.g == g && n.q == q);
                        if let (Some(t), Some(b), Some(n)) = (t, b, n) {
                            let width = (b.to - b.from) / f64::from(b.bins);
                            group.numbers = Some(NumberSummary {
                                count: t.n,
                                min: t.min.unwrap_or_default(),
                                median: n.median.unwrap_or_default(),
                                mean: t.sum.unwrap_or_default() / t.n as f64,
                                max: t.max.unwrap_or_default(),
                                histogram: (0..b.bins as usize)
                                    .map(|k| Bin {
                                        from: b.from + width * k as f64,
                                        to: if k + 1 == b.bins as usize {
                                            b.to
                                        } else {
                                            b.from + width * (k + 1) as f64
                                        },
                                        count: n.bins.get(k).copied().unwrap_or_default(),
                                    })
                                    .collect(),
                            });
                        }
                    }
                    Measure::Answered => {}
                }
                group
            })
            .collect();
        questions.push(QuestionSummary {
            question: e.name.clone(),
            pointer: e.pointer.clone(),
            question_kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            kind: match measure {
                Measure::Choice | Measure::Multiple => SummaryKind::Choices,
                Measure::Number => SummaryKind::Numbers,
                Measure::Date => SummaryKind::Dates,
                Measure::Answered => SummaryKind::Answered,
            },
            unit: if e.repeat.is_some() {
                SummaryUnit::Items
            } else {
                SummaryUnit::Responses
            },
            repeat: e.repeat.as_ref().map(|(n, _)| n.clone()),
            labels: e.labels.clone(),
            groups,
        });
    }
    // Keep question order: the entries' order (top-level and repeat questions interleaved
    // as the questionnaire asks them).
    let order: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.pointer.as_str(), i))
        .collect();
    questions.sort_by_key(|q| order.get(q.pointer.as_str()).copied());

    Ok(Json(ResponsesSummary {
        questionnaire: selection.slug,
        versions,
        languages,
        responses,
        personal_data: selection.personal,
        by: by.map(|(_, b, _)| b),
        questions,
    }))
}
