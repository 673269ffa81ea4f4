//! The summaries' figures, computed by PostgreSQL, never by loading the responses into the
//! server.
//!
//! [`summary_tallies`] reads every selected row once (and once more per repeat, for its
//! items) and computes each question's key there: its answer as text (a choice, a day), a
//! multiple choice's whole array, a number's value, `''` for a question only counted when
//! answered. One hash aggregate with `grouping sets` counts every `(g, key)`, `g` being the
//! `by` question's answer (null without `by`). The server turns these counts, few (a
//! choice's values, the days, the combinations of a multiple choice, a number's distinct
//! values), into tallies `(g, q, k)`: `q` a question's index in the [`SummarySpec`] (the
//! units, responses or a repeat's items, are `q` < 0), `k` a choice or a day, with the
//! numbers' count, extremes and sum.
//!
//! [`summary_numbers`] gives each number question's median and histogram from its value
//! counts; a question with more than [`MAX_DISTINCT_NUMBERS`] distinct values in a group
//! has them computed by PostgreSQL instead (`percentile_cont`, `width_bucket`), in a second
//! pass, so that the server's memory stays bounded.
//!
//! Every path and value is bound; the question indices are the only numbers written into
//! the text.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Filter, Result};

/// What the figures of one question are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// One value among choices (single choice, scale, yes/no): counted per value.
    Choice,
    /// An array of choices: counted per element, and once per unit that has any.
    Multiple,
    /// A number: extremes, mean, median, histogram.
    Number,
    /// A date (or date-time): counted per day.
    Date,
    /// Counted when answered, nothing more.
    Answered,
}

/// One question to summarise: where its answer is (unescaped pointer tokens, from the
/// response's answers, or from the repeat item for a question inside a repeat).
#[derive(Debug, Clone)]
pub struct SummaryQuestion {
    pub path: Vec<String>,
    pub measure: Measure,
}

/// One repeat, and its questions (paths from the item).
#[derive(Debug, Clone)]
pub struct SummaryRepeat {
    pub path: Vec<String>,
    pub questions: Vec<SummaryQuestion>,
}

/// What to summarise. Question indices (`q` in the results) count the top-level questions
/// first, then each repeat's in turn.
#[derive(Debug, Clone, Default)]
pub struct SummarySpec {
    /// The `by` question's path (a top-level scalar answer).
    pub by: Option<Vec<String>>,
    pub questions: Vec<SummaryQuestion>,
    pub repeats: Vec<SummaryRepeat>,
}

impl Measure {
    /// Its word in a rollup name.
    fn tag(self) -> &'static str {
        match self {
            Measure::Choice => "choice",
            Measure::Multiple => "multiple",
            Measure::Number => "number",
            Measure::Date => "date",
            Measure::Answered => "answered",
        }
    }
}

impl SummaryQuestion {
    /// Its name in the rollup, in the repeat at `repeat` if any.
    fn name(&self, repeat: Option<&Vec<String>>) -> String {
        format!(
            "{} {}",
            self.measure.tag(),
            serde_json::json!([repeat, self.path])
        )
    }
}

/// The name in the cube of the single-choice question at `path` (its `b`).
fn cube_name(path: &[String]) -> String {
    SummaryQuestion {
        path: path.to_vec(),
        measure: Measure::Choice,
    }
    .name(None)
}

impl SummarySpec {
    /// Each question's measure, by `q`.
    fn measures(&self) -> Vec<Measure> {
        self.questions
            .iter()
            .chain(self.repeats.iter().flat_map(|r| &r.questions))
            .map(|q| q.measure)
            .collect()
    }

    /// Each question's name in the rollup, by `q`: its measure and its place (the repeat's
    /// path, or null, and its path), as `number [["formations_suivies"],["utilite"]]`.
    pub fn names(&self) -> Vec<String> {
        let name = |q: &SummaryQuestion, repeat: Option<&Vec<String>>| {
            format!(
                "{} {}",
                q.measure.tag(),
                serde_json::json!([repeat, q.path])
            )
        };
        self.questions
            .iter()
            .map(|q| name(q, None))
            .chain(
                self.repeats
                    .iter()
                    .flat_map(|r| r.questions.iter().map(move |q| name(q, Some(&r.path)))),
            )
            .collect()
    }

    /// Each unit's `q` and name in the rollup: the responses, each repeat's items.
    fn unit_names(&self) -> Vec<(i32, String)> {
        std::iter::once((UNIT_RESPONSES, "responses".to_string()))
            .chain(self.repeats.iter().enumerate().map(|(j, r)| {
                (
                    unit_items(j),
                    format!("items {}", serde_json::json!(r.path)),
                )
            }))
            .collect()
    }
}

/// The `q` of the responses themselves (one row per response).
pub const UNIT_RESPONSES: i32 = -1;

/// The `q` of repeat `j`'s items (one row per item).
pub fn unit_items(j: usize) -> i32 {
    -2 - j as i32
}

/// One row of the first pass.
#[derive(Debug, Clone, FromRow)]
pub struct SummaryTally {
    pub g: Option<String>,
    pub q: i32,
    pub k: Option<String>,
    pub n: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub sum: Option<f64>,
}

/// Where a number question's histogram bins are: `bins` of equal width from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bins {
    pub q: i32,
    pub from: f64,
    pub to: f64,
    pub bins: i32,
}

/// The most bins a histogram has.
pub const MAX_BINS: i32 = 20;

/// One row of the second pass: a number question's median and histogram in one group.
#[derive(Debug, Clone, FromRow)]
pub struct NumberTally {
    pub g: Option<String>,
    pub q: i32,
    pub median: Option<f64>,
    /// [`MAX_BINS`] counts, the first `bins` of them used.
    pub bins: Vec<i64>,
}

/// What each selected row is grouped by (its `g`).
#[derive(Debug, Clone, Copy)]
enum Group<'a> {
    /// The answer at this path (the `by` question's), or nothing.
    Answer(Option<&'a Vec<String>>),
    /// `YYYY-MM-DD state`: its day and review state, as the rollup keeps them.
    DayAndState,
}

/// Which responses a pass reads: the filter's, and of them only those with `after < seq
/// <= upto`, or only one.
#[derive(Debug, Clone, Copy)]
struct Rows<'a> {
    filter: &'a Filter,
    group: Group<'a>,
    after: Option<i64>,
    upto: Option<i64>,
    id: Option<Uuid>,
    /// For the fold: the questions whose answers the cube breaks the counts down by (their
    /// paths), each also counted per review state and answer.
    cube: &'a [Vec<String>],
}

impl<'a> Rows<'a> {
    /// Every response the filter selects, grouped by the `by` answer.
    fn filtered(filter: &'a Filter, by: Option<&'a Vec<String>>) -> Self {
        Rows {
            filter,
            group: Group::Answer(by),
            after: None,
            upto: None,
            id: None,
            cube: &[],
        }
    }
}

/// The scalar answer at `p` in `r.answers`, as text (null when it is none).
fn push_answer(qb: &mut QueryBuilder<'_, Postgres>, p: &[String]) {
    qb.push("case when jsonb_typeof(r.answers #> ")
        .push_bind(p.to_vec())
        .push(") in ('string', 'number', 'boolean') then r.answers #>> ")
        .push_bind(p.to_vec())
        .push(" end");
}

/// The selected responses as `(g, st, b0…, a)`: the group, the review state, the cube's
/// answers, and the answers.
fn push_source(qb: &mut QueryBuilder<'_, Postgres>, questionnaire_id: i64, rows: &Rows<'_>) {
    qb.push("(select ");
    match rows.group {
        Group::Answer(Some(p)) => push_answer(qb, p),
        Group::Answer(None) => {
            qb.push("null::text");
        }
        Group::DayAndState => {
            qb.push("left(r.completed_at, 10) || ' ' || r.review_state");
        }
    }
    qb.push(" as g, r.review_state as st");
    for (i, p) in rows.cube.iter().enumerate() {
        qb.push(", ");
        push_answer(qb, p);
        qb.push(format!(" as b{i}"));
    }
    qb.push(", r.answers as a from response r where r.questionnaire_id = ")
        .push_bind(questionnaire_id);
    if let Some(s) = rows.after {
        qb.push(" and r.seq > ").push_bind(s);
    }
    if let Some(s) = rows.upto {
        qb.push(" and r.seq <= ").push_bind(s);
    }
    if let Some(id) = rows.id {
        qb.push(" and r.id = ").push_bind(id);
    }
    rows.filter.push_conditions(qb);
    qb.push(") s");
}

/// The items of the repeat at `path` in `s.a`, as `i` (none when it is not an array), after
/// `join` (` from`, ` cross join lateral`).
fn push_items(qb: &mut QueryBuilder<'_, Postgres>, join: &str, path: &[String]) {
    qb.push(join)
        .push(" jsonb_array_elements(case when jsonb_typeof(s.a #> ")
        .push_bind(path.to_vec())
        .push(") = 'array' then s.a #> ")
        .push_bind(path.to_vec())
        .push(" end) i");
}

/// The most distinct values of one number question whose counts the first pass keeps (per
/// group): beyond it, that question's median and histogram come from a second pass in
/// PostgreSQL ([`summary_numbers`]), so that memory stays bounded whatever the answers.
pub const MAX_DISTINCT_NUMBERS: usize = 10_000;

/// A group (`g`) and a question (`q`).
type GroupQuestion = (Option<String>, i32);

/// What the first pass found: the tallies, and the value counts of the number questions
/// (from which [`summary_numbers`] computes their medians and histograms).
#[derive(Debug, Clone, Default)]
pub struct Tallies {
    pub rows: Vec<SummaryTally>,
    /// Per `(g, q)` of a number question: each distinct value and how many times it was
    /// answered.
    values: HashMap<GroupQuestion, Vec<(f64, i64)>>,
    /// The number questions with more than [`MAX_DISTINCT_NUMBERS`] values in a group.
    overflowed: HashSet<i32>,
}

/// The key column of question `question` (text, null when unanswered), read from `a`.
fn push_key(qb: &mut QueryBuilder<'_, Postgres>, a: &str, question: &SummaryQuestion) {
    let p = &question.path;
    let at = |qb: &mut QueryBuilder<'_, Postgres>, op: &str| {
        qb.push(format!(" {a} {op} ")).push_bind(p.clone());
    };
    qb.push("case when");
    match question.measure {
        Measure::Choice => {
            qb.push(" jsonb_typeof(");
            at(qb, "#>");
            qb.push(") in ('string', 'number', 'boolean') then");
            at(qb, "#>>");
        }
        Measure::Multiple => {
            // The array itself: its combinations are few, and the server counts each
            // element from them.
            qb.push(" jsonb_typeof(");
            at(qb, "#>");
            qb.push(") = 'array' then (");
            at(qb, "#>");
            qb.push(")::text");
        }
        Measure::Number => {
            qb.push(" jsonb_typeof(");
            at(qb, "#>");
            qb.push(") = 'number' then");
            at(qb, "#>>");
        }
        Measure::Date => {
            qb.push(" jsonb_typeof(");
            at(qb, "#>");
            qb.push(") = 'string' and");
            at(qb, "#>>");
            qb.push(" <> '' then left(");
            at(qb, "#>>");
            qb.push(", 10)");
        }
        Measure::Answered => {
            at(qb, "#>");
            qb.push(" not in ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb) then ''");
        }
    }
    qb.push(" end");
}

/// One row of the first pass's query: in the grouping set of the units, `q` is the unit's
/// (`-1`, or a repeat's items) and `k` null; in the set of question `q`, `k` is its key.
///
/// For the fold's cube sets (`(st, b{i}, …)`), `b` is `i`, `bv` that answer and `st` the
/// review state; elsewhere `b` is -1.
#[derive(Debug, FromRow)]
struct Grouped {
    g: Option<String>,
    b: i32,
    bv: Option<String>,
    st: Option<String>,
    q: i32,
    k: Option<String>,
    n: i64,
}

/// The first pass's query over `rows`: every question's key computed once per row (its
/// answer as text; a multiple choice's whole array; a number's value), then one hash
/// aggregate counting each `(g, key)` with `grouping sets`.
fn tally_query(
    questionnaire_id: i64,
    rows: &Rows<'_>,
    spec: &SummarySpec,
) -> QueryBuilder<'static, Postgres> {
    let total = spec.measures().len();
    let cube = rows.cube.len();
    let mut qb = QueryBuilder::new("select t.g, ");
    if cube == 0 {
        qb.push("-1 as b, null::text as bv, null::text as st");
    } else {
        qb.push("case when grouping(t.g) = 0 then -1");
        for i in 0..cube {
            qb.push(format!(" when grouping(t.b{i}) = 0 then {i}"));
        }
        qb.push(" end as b, case when grouping(t.g) = 0 then null");
        for i in 0..cube {
            qb.push(format!(" when grouping(t.b{i}) = 0 then t.b{i}"));
        }
        qb.push(" end as bv, case when grouping(t.g) = 0 then null else t.st end as st");
    }
    qb.push(", case when grouping(t.u) = 0 then t.u");
    for q in 0..total {
        qb.push(format!(" when grouping(t.k{q}) = 0 then {q}"));
    }
    qb.push(" end as q, ");
    if total == 0 {
        qb.push("null::text");
    } else {
        qb.push("coalesce(");
        for q in 0..total {
            if q > 0 {
                qb.push(", ");
            }
            qb.push(format!("t.k{q}"));
        }
        qb.push(")");
    }
    qb.push(" as k, count(*) as n from (");
    let carried: String = (0..cube).map(|i| format!(", s.b{i}")).collect();
    // The responses' row, with the top-level questions' keys.
    qb.push(format!(
        "select s.g, s.st{carried}, {UNIT_RESPONSES}::int4 as u"
    ));
    for (q, question) in spec.questions.iter().enumerate() {
        qb.push(", ");
        push_key(&mut qb, "s.a", question);
        qb.push(format!(" as k{q}"));
    }
    for q in spec.questions.len()..total {
        qb.push(format!(", null::text as k{q}"));
    }
    qb.push(" from ");
    push_source(&mut qb, questionnaire_id, rows);
    // Each repeat's items, with its questions' keys.
    let mut first = spec.questions.len();
    for (j, repeat) in spec.repeats.iter().enumerate() {
        qb.push(format!(
            " union all select s.g, s.st{carried}, {}::int4 as u",
            unit_items(j)
        ));
        for q in 0..total {
            qb.push(", ");
            match q.checked_sub(first).and_then(|i| repeat.questions.get(i)) {
                Some(question) => push_key(&mut qb, "i.value", question),
                None => {
                    qb.push("null::text");
                }
            }
            qb.push(format!(" as k{q}"));
        }
        qb.push(" from ");
        push_source(&mut qb, questionnaire_id, rows);
        push_items(&mut qb, " cross join lateral", &repeat.path);
        first += repeat.questions.len();
    }
    qb.push(") t group by grouping sets ((t.g, t.u)");
    for q in 0..total {
        qb.push(format!(", (t.g, t.k{q})"));
    }
    for i in 0..cube {
        qb.push(format!(", (t.st, t.b{i}, t.u)"));
        for q in 0..total {
            qb.push(format!(", (t.st, t.b{i}, t.k{q})"));
        }
    }
    qb.push(")");
    qb
}

/// The planner expects `jsonb_array_elements` to make 100 rows and every key to have
/// hundreds of values: with the default `work_mem` it would sort the rows once per grouping
/// set (over 30 s at 1 M responses) rather than hash them, which needs a few megabytes (the
/// keys' values are few, and a hash aggregate spills to disk past `work_mem` anyway).
/// Compiling this wide query (JIT) costs more than it saves.
async fn plan_for_grouping_sets(tx: &mut PgConnection) -> Result<()> {
    sqlx::query("set local work_mem = '128MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local jit = off").execute(&mut *tx).await?;
    Ok(())
}

/// Turns the first pass's rows (from the responses, and from the rollup) into [`Tallies`]:
/// a multiple choice's arrays into counts per element, a number's values into its count,
/// extremes and sum, its value counts kept for the median and histogram.
struct Counter {
    measures: Vec<Measure>,
    max_distinct: usize,
    rows: HashMap<(Option<String>, i32, Option<String>), SummaryTally>,
    /// Per `(g, q)` of a number question: each value's bits, and how many times.
    values: HashMap<GroupQuestion, HashMap<u64, i64>>,
    overflowed: HashSet<i32>,
}

impl Counter {
    fn new(spec: &SummarySpec, max_distinct: usize) -> Self {
        Counter {
            measures: spec.measures(),
            max_distinct,
            rows: HashMap::new(),
            values: HashMap::new(),
            overflowed: HashSet::new(),
        }
    }

    fn tally(&mut self, g: &Option<String>, q: i32, k: Option<String>, n: i64, x: Option<f64>) {
        let t = self
            .rows
            .entry((g.clone(), q, k.clone()))
            .or_insert_with(|| SummaryTally {
                g: g.clone(),
                q,
                k,
                n: 0,
                min: None,
                max: None,
                sum: None,
            });
        t.n += n;
        if let Some(x) = x {
            t.min = Some(t.min.map_or(x, |m| m.min(x)));
            t.max = Some(t.max.map_or(x, |m| m.max(x)));
            t.sum = Some(t.sum.unwrap_or(0.0) + x * n as f64);
        }
    }

    fn add(&mut self, row: Grouped) {
        let Grouped { g, q, k, n, .. } = row;
        let Some(&measure) = usize::try_from(q).ok().and_then(|i| self.measures.get(i)) else {
            self.tally(&g, q, None, n, None); // the units
            return;
        };
        let Some(k) = k else { return }; // not answered
        match measure {
            Measure::Choice | Measure::Date => self.tally(&g, q, Some(k), n, None),
            Measure::Answered => self.tally(&g, q, None, n, None),
            Measure::Multiple => {
                let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&k) else {
                    return;
                };
                if !items.is_empty() {
                    self.tally(&g, q, None, n, None);
                }
                for item in items {
                    let e = match item {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    };
                    self.tally(&g, q, e, n, None);
                }
            }
            Measure::Number => {
                let Ok(x) = k.parse::<f64>() else { return };
                self.tally(&g, q, None, n, Some(x));
                if !self.overflowed.contains(&q) {
                    let values = self.values.entry((g, q)).or_default();
                    *values.entry(x.to_bits()).or_default() += n;
                    if values.len() > self.max_distinct {
                        self.overflowed.insert(q);
                        self.values.retain(|(_, vq), _| *vq != q);
                    }
                }
            }
        }
    }

    /// Runs `qb` (a [`tally_query`]) and adds its rows.
    async fn count(
        &mut self,
        tx: &mut PgConnection,
        qb: &mut QueryBuilder<'_, Postgres>,
    ) -> Result<()> {
        let mut stream = qb.build_query_as::<Grouped>().fetch(&mut *tx);
        while let Some(row) = stream.try_next().await? {
            self.add(row);
        }
        Ok(())
    }

    fn finish(self) -> Tallies {
        Tallies {
            rows: self.rows.into_values().collect(),
            values: self
                .values
                .into_iter()
                .map(|(gq, v)| {
                    (
                        gq,
                        v.into_iter().map(|(b, n)| (f64::from_bits(b), n)).collect(),
                    )
                })
                .collect(),
            overflowed: self.overflowed,
        }
    }
}

/// The first pass: per `(g, q, k)`, how many rows and the extremes and sum of the numbers.
///
/// One read of the selected responses (and one more per repeat, for its items), with
/// [`tally_query`]; the server then turns the counts into tallies ([`Counter`]). This
/// replaced a `cross join lateral` making a row per question per response, about 3.5 times
/// slower (7–9 s for 200 000 responses, against 2.0–2.3 s). It still reads every selected
/// response's answers: [`rolled_up_tallies`] does not, where the filter allows.
pub async fn summary_tallies(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
) -> Result<Tallies> {
    summary_tallies_keeping(pool, questionnaire_id, filter, spec, MAX_DISTINCT_NUMBERS).await
}

/// [`summary_tallies`], keeping at most `max_distinct` values of a number question per
/// group (the tests lower it to exercise both ways of computing the medians).
pub async fn summary_tallies_keeping(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
    max_distinct: usize,
) -> Result<Tallies> {
    let mut counter = Counter::new(spec, max_distinct);
    let mut tx = pool.begin().await?;
    plan_for_grouping_sets(&mut tx).await?;
    let rows = Rows::filtered(filter, spec.by.as_ref());
    counter
        .count(&mut tx, &mut tally_query(questionnaire_id, &rows, spec))
        .await?;
    tx.commit().await?;
    Ok(counter.finish())
}

// The rollup (`summary_count`): the first pass's counts per version, day and review state,
// for every response up to `summary_folded.upto`; and its cube (`summary_cube`): the same
// counts per version, review state and answer to each of a few single-choice questions
// ([`cube_questions`]), for the side-by-side view and a filter on one of them.

/// The most questions a version's cube breaks its counts down by.
pub const MAX_CUBE_QUESTIONS: usize = 8;

/// The questions the cube breaks `spec`'s counts down by: its first
/// [`MAX_CUBE_QUESTIONS`] top-level single-choice ones (choices, scales, yes/no).
pub fn cube_questions(spec: &SummarySpec) -> Vec<Vec<String>> {
    spec.questions
        .iter()
        .filter(|q| q.measure == Measure::Choice)
        .take(MAX_CUBE_QUESTIONS)
        .map(|q| q.path.clone())
        .collect()
}

/// How a summary reads the rollup ([`rollup_serves`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rolled {
    /// The counts per day: any version, dates and review state.
    Days,
    /// The cube's counts of question `path`: broken down by its answer (the `by`), or, with
    /// `values`, of the responses whose answer is one of them (a `where`); any version and
    /// review state, no dates.
    Cube {
        path: Vec<String>,
        values: Option<Vec<String>>,
    },
}

/// Whether, and how, a summary can be read from the rollup: not filtered on an interviewer
/// (the rollup keeps none), every version's questions measured as the union measures them
/// (a question that changed kind, say from a choice to a number, is counted by the union's
/// kind when reading the responses); then without `by` or `where`, from the days' counts;
/// with a `by`, or one `where` on one question, and no dates, from the cube when that
/// question is one of every version's [`cube_questions`].
pub fn rollup_serves(
    filter: &Filter,
    spec: &SummarySpec,
    versions: &[SummarySpec],
) -> Option<Rolled> {
    if filter.interviewer.is_some() {
        return None;
    }
    // A name is `measure place`: the same place must have the same measure everywhere.
    let union: HashMap<String, String> = spec
        .names()
        .into_iter()
        .filter_map(|n| {
            n.split_once(' ')
                .map(|(m, p)| (p.to_string(), m.to_string()))
        })
        .collect();
    let agree = versions.iter().all(|v| {
        v.names().iter().all(|n| match n.split_once(' ') {
            Some((m, place)) => union.get(place).is_none_or(|um| um == m),
            None => true,
        })
    });
    if !agree {
        return None;
    }
    let in_cubes = |p: &Vec<String>| versions.iter().all(|v| cube_questions(v).contains(p));
    match (&spec.by, filter.answers.as_slice()) {
        (None, []) => Some(Rolled::Days),
        _ if filter.from.is_some() || filter.to.is_some() => None,
        (Some(by), []) if in_cubes(by) => Some(Rolled::Cube {
            path: by.clone(),
            values: None,
        }),
        (None, [answer]) if in_cubes(&answer.path) => Some(Rolled::Cube {
            path: answer.path.clone(),
            values: Some(answer.values.clone()),
        }),
        _ => None,
    }
}

/// The advisory lock the fold and the reviews of folded responses take, per questionnaire
/// (the two-key form: its key space is not the one of `INGEST_LOCK`).
pub(super) async fn lock_rollup(tx: &mut PgConnection, questionnaire_id: i64) -> Result<()> {
    sqlx::query("select pg_advisory_xact_lock(7, ($1 % 2147483647)::int4)")
        .bind(questionnaire_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The `seq` up to which the rollup counts `questionnaire_id`'s responses (0: none).
async fn folded_upto(tx: &mut PgConnection, questionnaire_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select coalesce((select upto from summary_folded where questionnaire_id = $1), 0)",
    )
    .bind(questionnaire_id)
    .fetch_one(&mut *tx)
    .await?)
}

/// A `summary_count` row's key: version, day, review state, question name, key.
type DayKey = (i32, String, String, String, String);

/// A `summary_cube` row's key: version, review state, cube question's name, its answer (as
/// JSON: a string, or null), question name, key.
type CubeKey = (i32, String, String, String, String, String);

/// Counts on their way into the rollup.
#[derive(Debug, Default)]
struct RollupCounts {
    days: HashMap<DayKey, i64>,
    cube: HashMap<CubeKey, i64>,
}

/// How a pass's counts go into the rollup: as `version`'s, each times `sign`, under the
/// review state `state` when given (else the response's own).
#[derive(Debug, Clone, Copy)]
struct CountedAs<'a> {
    version: i32,
    sign: i64,
    state: Option<&'a str>,
}

/// The first pass over `rows` (grouped by day and state, with the version's cube), as
/// rollup counts added to `counts`.
async fn rollup_counts(
    tx: &mut PgConnection,
    questionnaire_id: i64,
    rows: &Rows<'_>,
    spec: &SummarySpec,
    CountedAs {
        version,
        sign,
        state,
    }: CountedAs<'_>,
    counts: &mut RollupCounts,
) -> Result<()> {
    let names = spec.names();
    let units: HashMap<i32, String> = spec.unit_names().into_iter().collect();
    let cube_names: Vec<String> = rows.cube.iter().map(|p| cube_name(p)).collect();
    let mut qb = tally_query(questionnaire_id, rows, spec);
    let mut stream = qb.build_query_as::<Grouped>().fetch(&mut *tx);
    while let Some(Grouped {
        g,
        b,
        bv,
        st,
        q,
        k,
        n,
    }) = stream.try_next().await?
    {
        let name = match usize::try_from(q) {
            Ok(i) => match (names.get(i), &k) {
                (Some(name), Some(_)) => name,
                _ => continue, // not answered
            },
            Err(_) => match units.get(&q) {
                Some(name) => name,
                None => continue,
            },
        };
        let k = k.unwrap_or_default();
        match usize::try_from(b).ok().and_then(|i| cube_names.get(i)) {
            None => {
                let g = g.unwrap_or_default();
                let (day, own) = g.split_once(' ').unwrap_or((&g, ""));
                let state = state.unwrap_or(own).to_string();
                let key = (version, day.to_string(), state, name.clone(), k);
                *counts.days.entry(key).or_default() += sign * n;
            }
            Some(cube_name) => {
                let state = state.map(str::to_string).or(st).unwrap_or_default();
                let bv = serde_json::Value::from(bv).to_string();
                let key = (version, state, cube_name.clone(), bv, name.clone(), k);
                *counts.cube.entry(key).or_default() += sign * n;
            }
        }
    }
    Ok(())
}

/// Adds `counts` to the rollup, and drops the rows they bring to zero.
async fn write_counts(
    tx: &mut PgConnection,
    questionnaire_id: i64,
    counts: RollupCounts,
) -> Result<()> {
    let negative = counts
        .days
        .values()
        .chain(counts.cube.values())
        .any(|n| *n < 0);
    if !counts.days.is_empty() {
        let (mut versions, mut days, mut states, mut qs, mut ks, mut ns) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for ((version, day, state, q, k), n) in counts.days {
            versions.push(version);
            days.push(day);
            states.push(state);
            qs.push(q);
            ks.push(k);
            ns.push(n);
        }
        sqlx::query(
            "insert into summary_count (questionnaire_id, version, day, review_state, q, k, n)
             select $1, * from unnest($2::int4[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::int8[])
             on conflict (questionnaire_id, q, k, version, day, review_state)
             do update set n = summary_count.n + excluded.n",
        )
        .bind(questionnaire_id)
        .bind(&versions)
        .bind(&days)
        .bind(&states)
        .bind(&qs)
        .bind(&ks)
        .bind(&ns)
        .execute(&mut *tx)
        .await?;
    }
    if !counts.cube.is_empty() {
        let (mut versions, mut states, mut bs, mut bvs, mut qs, mut ks, mut ns) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for ((version, state, b, bv, q, k), n) in counts.cube {
            versions.push(version);
            states.push(state);
            bs.push(b);
            bvs.push(bv);
            qs.push(q);
            ks.push(k);
            ns.push(n);
        }
        sqlx::query(
            "insert into summary_cube (questionnaire_id, version, review_state, b, bv, q, k, n)
             select $1, * from unnest($2::int4[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::int8[])
             on conflict (questionnaire_id, b, q, k, bv, version, review_state)
             do update set n = summary_cube.n + excluded.n",
        )
        .bind(questionnaire_id)
        .bind(&versions)
        .bind(&states)
        .bind(&bs)
        .bind(&bvs)
        .bind(&qs)
        .bind(&ks)
        .bind(&ns)
        .execute(&mut *tx)
        .await?;
    }
    if negative {
        for table in ["summary_count", "summary_cube"] {
            sqlx::query(&format!(
                "delete from {table} where questionnaire_id = $1 and n = 0"
            ))
            .bind(questionnaire_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Folds `questionnaire_id`'s responses up to `horizon` (a [`super::committed_horizon`])
/// into the rollup, `chunk` responses per transaction; `specs` holds every version's
/// questions. Returns how many responses it folded.
///
/// Each transaction takes the rollup's lock, so that a review never changes the state of a
/// response being folded: the fold reads the states, the review moves a folded response's
/// counts from its old state to its new one.
pub async fn fold_summaries(
    pool: &PgPool,
    questionnaire_id: i64,
    specs: &HashMap<i32, SummarySpec>,
    horizon: i64,
    chunk: i64,
) -> Result<i64> {
    let mut folded = 0;
    loop {
        let mut tx = pool.begin().await?;
        lock_rollup(&mut tx, questionnaire_id).await?;
        plan_for_grouping_sets(&mut tx).await?;
        // The cube's sets too (60 more for four cube questions) are hashed only if the
        // planner's estimate of every set's groups fits, and it guesses hundreds of values
        // per key: without this it sorts the chunk once per cube set, 3.5 times slower.
        // What the hash tables really hold is bounded by the chunk (at most one group per
        // row and set: a few hundred MB for 10 000 responses of pathological answers, a
        // few tens for real ones).
        sqlx::query("set local hash_mem_multiplier = 100")
            .execute(&mut *tx)
            .await?;
        let upto = folded_upto(&mut tx, questionnaire_id).await?;
        let (next, n): (Option<i64>, i64) = sqlx::query_as(
            "select max(seq), count(*) from (select seq from response
             where questionnaire_id = $1 and seq > $2 and seq <= $3 order by seq limit $4) t",
        )
        .bind(questionnaire_id)
        .bind(upto)
        .bind(horizon)
        .bind(chunk)
        .fetch_one(&mut *tx)
        .await?;
        let Some(next) = next else {
            tx.commit().await?;
            return Ok(folded);
        };
        let versions: Vec<i32> = sqlx::query_scalar(
            "select distinct version from response
             where questionnaire_id = $1 and seq > $2 and seq <= $3",
        )
        .bind(questionnaire_id)
        .bind(upto)
        .bind(next)
        .fetch_all(&mut *tx)
        .await?;
        let mut counts = RollupCounts::default();
        for version in versions {
            let Some(spec) = specs.get(&version) else {
                return Err(super::UnexpectedValue {
                    column: "response.version (no questions known to fold)",
                    value: version.to_string(),
                }
                .into_db_error());
            };
            let filter = Filter {
                version: Some(version),
                ..Default::default()
            };
            let cube = cube_questions(spec);
            let rows = Rows {
                filter: &filter,
                group: Group::DayAndState,
                after: Some(upto),
                upto: Some(next),
                id: None,
                cube: &cube,
            };
            let counted = CountedAs {
                version,
                sign: 1,
                state: None,
            };
            rollup_counts(&mut tx, questionnaire_id, &rows, spec, counted, &mut counts).await?;
        }
        write_counts(&mut tx, questionnaire_id, counts).await?;
        sqlx::query(
            "insert into summary_folded (questionnaire_id, upto) values ($1, $2)
             on conflict (questionnaire_id) do update set upto = excluded.upto",
        )
        .bind(questionnaire_id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        folded += n;
    }
}

/// In a review's transaction (after its `update`): when response `id` (of `version`) is
/// already folded, moves its counts in the rollup from review state `old` to `new`.
pub(super) async fn move_folded_response(
    tx: &mut PgConnection,
    questionnaire_id: i64,
    (id, seq, version): (Uuid, i64, i32),
    spec: &SummarySpec,
    (old, new): (&str, &str),
) -> Result<()> {
    if old == new || seq > folded_upto(tx, questionnaire_id).await? {
        return Ok(());
    }
    let filter = Filter::default();
    let cube = cube_questions(spec);
    let rows = Rows {
        filter: &filter,
        group: Group::DayAndState,
        after: None,
        upto: None,
        id: Some(id),
        cube: &cube,
    };
    let mut counts = RollupCounts::default();
    for (sign, state) in [(-1, old), (1, new)] {
        let counted = CountedAs {
            version,
            sign,
            state: Some(state),
        };
        rollup_counts(tx, questionnaire_id, &rows, spec, counted, &mut counts).await?;
    }
    write_counts(tx, questionnaire_id, counts).await
}

/// [`summary_tallies`] from the rollup, as [`rollup_serves`] said it can: the rollup's
/// counts of the responses folded, and the first pass over those past it (few: the server
/// folds them every few seconds), read in one snapshot.
pub async fn rolled_up_tallies(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
    rolled: &Rolled,
) -> Result<Tallies> {
    let mut counter = Counter::new(spec, MAX_DISTINCT_NUMBERS);
    let mut tx = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    plan_for_grouping_sets(&mut tx).await?;
    let upto = folded_upto(&mut tx, questionnaire_id).await?;
    let mut names: HashMap<String, i32> = spec
        .names()
        .into_iter()
        .enumerate()
        .map(|(q, name)| (name, q as i32))
        .collect();
    names.extend(spec.unit_names().into_iter().map(|(q, name)| (name, q)));
    let mut qb = QueryBuilder::new("");
    match rolled {
        Rolled::Days => {
            qb.push("select null::text as bv, c.q, c.k, sum(c.n)::int8 as n from summary_count c");
        }
        Rolled::Cube { .. } => {
            qb.push("select c.bv, c.q, c.k, sum(c.n)::int8 as n from summary_cube c");
        }
    }
    qb.push(" where c.questionnaire_id = ")
        .push_bind(questionnaire_id)
        .push(" and c.q = any(")
        .push_bind(names.keys().cloned().collect::<Vec<_>>())
        .push(")");
    let by = match rolled {
        Rolled::Days => {
            filter.push_rollup_conditions(&mut qb, true);
            false
        }
        Rolled::Cube { path, values } => {
            qb.push(" and c.b = ").push_bind(cube_name(path));
            if let Some(values) = values {
                let json: Vec<String> = values
                    .iter()
                    .map(|v| serde_json::Value::from(v.as_str()).to_string())
                    .collect();
                qb.push(" and c.bv = any(").push_bind(json).push(")");
            }
            filter.push_rollup_conditions(&mut qb, false);
            values.is_none()
        }
    };
    qb.push(" group by 1, 2, 3 having sum(c.n) <> 0");
    let counted: Vec<(Option<String>, String, String, i64)> =
        qb.build_query_as().fetch_all(&mut *tx).await?;
    for (bv, name, k, n) in counted {
        if let Some(&q) = names.get(&name) {
            let k = (q >= 0).then_some(k);
            // The cube's answer, as JSON: the group of a `by`.
            let g = bv
                .filter(|_| by)
                .and_then(|bv| serde_json::from_str::<Option<String>>(&bv).ok())
                .flatten();
            counter.add(Grouped {
                g,
                b: -1,
                bv: None,
                st: None,
                q,
                k,
                n,
            });
        }
    }
    let rows = Rows {
        after: Some(upto),
        ..Rows::filtered(filter, spec.by.as_ref())
    };
    counter
        .count(&mut tx, &mut tally_query(questionnaire_id, &rows, spec))
        .await?;
    tx.commit().await?;
    Ok(counter.finish())
}

/// The median (as `percentile_cont(0.5)`: the mean of the two middle values of an even
/// count) and the histogram in `b` of a number question's value counts.
fn median_and_bins(values: &mut [(f64, i64)], b: &Bins) -> (Option<f64>, Vec<i64>) {
    values.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n: i64 = values.iter().map(|v| v.1).sum();
    let nth = |i: i64| {
        let mut seen = 0;
        values.iter().find_map(|&(x, c)| {
            seen += c;
            (i < seen).then_some(x)
        })
    };
    let median = match n {
        0 => None,
        n if n % 2 == 1 => nth(n / 2),
        // As PostgreSQL interpolates (not `(a + b) / 2`, which may differ in the last bit).
        n => nth(n / 2 - 1)
            .zip(nth(n / 2))
            .map(|(a, b)| a + (b - a) * 0.5),
    };
    let mut bins = vec![0i64; MAX_BINS as usize];
    for &(x, c) in values.iter() {
        // As `least(greatest(width_bucket(x, from, to, bins), 1), bins)`.
        let bucket = if x < b.from {
            1
        } else if x >= b.to {
            b.bins
        } else {
            let i = (f64::from(b.bins) * ((x - b.from) / (b.to - b.from))).floor() as i32 + 1;
            i.clamp(1, b.bins)
        };
        if let Some(slot) = bins.get_mut(bucket as usize - 1) {
            *slot += c;
        }
    }
    (median, bins)
}

/// The second pass: the median and histogram of each number question in `bins`, per group,
/// from the first pass's value counts; in PostgreSQL ([`summary_numbers_in_database`]) for
/// the questions with too many distinct values to keep.
pub async fn summary_numbers(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
    bins: &[Bins],
    tallies: &Tallies,
) -> Result<Vec<NumberTally>> {
    let mut out = Vec::new();
    for ((g, q), values) in &tallies.values {
        let Some(b) = bins.iter().find(|b| b.q == *q) else {
            continue;
        };
        let (median, bins) = median_and_bins(&mut values.clone(), b);
        out.push(NumberTally {
            g: g.clone(),
            q: *q,
            median,
            bins,
        });
    }
    let rest: Vec<Bins> = bins
        .iter()
        .filter(|b| tallies.overflowed.contains(&b.q))
        .copied()
        .collect();
    out.extend(summary_numbers_in_database(pool, questionnaire_id, filter, spec, &rest).await?);
    Ok(out)
}

/// The median and histogram of each number question in `bins`, per group, computed by
/// PostgreSQL (`percentile_cont`, `width_bucket`): for the questions whose distinct values
/// are too many to count in the first pass.
pub async fn summary_numbers_in_database(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
    bins: &[Bins],
) -> Result<Vec<NumberTally>> {
    if bins.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::new(
        "select s.g, v.q, percentile_cont(0.5) within group (order by v.x) as median, array[",
    );
    for b in 1..=MAX_BINS {
        if b > 1 {
            qb.push(", ");
        }
        qb.push(format!("count(*) filter (where v.b = {b})"));
    }
    qb.push("]::int8[] as bins from ");
    push_source(
        &mut qb,
        questionnaire_id,
        &Rows::filtered(filter, spec.by.as_ref()),
    );
    qb.push(" cross join lateral (select null::int4 as q, null::float8 as x, null::int4 as b where false");
    // Question index → (its path, whether it is in repeat j).
    let mut all: Vec<(i32, &SummaryQuestion, Option<usize>)> = Vec::new();
    let mut q = 0i32;
    for question in &spec.questions {
        all.push((q, question, None));
        q += 1;
    }
    for (j, repeat) in spec.repeats.iter().enumerate() {
        for question in &repeat.questions {
            all.push((q, question, Some(j)));
            q += 1;
        }
    }
    for b in bins {
        let Some(&(q, question, repeat)) = all.iter().find(|(q, _, _)| *q == b.q) else {
            continue;
        };
        let a = if repeat.is_some() { "i.value" } else { "s.a" };
        qb.push(format!(
            " union all select {q}, t.x, least(greatest(width_bucket(t.x, "
        ))
        .push_bind(b.from)
        .push(", ")
        .push_bind(b.to)
        .push(", ")
        .push_bind(b.bins)
        .push("), 1), ")
        .push_bind(b.bins)
        .push(")::int4");
        if let Some(j) = repeat {
            // Read per item: the items first, then the answer in each.
            push_items(&mut qb, " from", &spec.repeats[j].path);
            qb.push(" cross join lateral");
        } else {
            qb.push(" from");
        }
        qb.push(format!(" (select ({a} #>> "))
            .push_bind(question.path.clone())
            .push(format!(")::float8 as x where jsonb_typeof({a} #> "))
            .push_bind(question.path.clone())
            .push(") = 'number') t");
    }
    qb.push(") v group by 1, 2");
    Ok(qb.build_query_as().fetch_all(pool).await?)
}

/// The questionnaires with at least `at_least` committed responses past their rollup (at
/// least 1), each with its slug and versions.
pub async fn questionnaires_to_fold(
    pool: &PgPool,
    at_least: i64,
) -> Result<Vec<(i64, String, Vec<i32>)>> {
    Ok(sqlx::query_as(
        "select q.id, q.slug, array(select v.version from questionnaire_version v
             where v.questionnaire_id = q.id order by 1)
         from questionnaire q
         where (select count(*) from (select 1 from response r
                 where r.questionnaire_id = q.id
                   and r.seq > coalesce((select f.upto from summary_folded f
                                         where f.questionnaire_id = q.id), 0)
                 limit $1) t) >= $1",
    )
    .bind(at_least.max(1))
    .fetch_all(pool)
    .await?)
}
