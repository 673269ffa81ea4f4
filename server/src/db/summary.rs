//! The summaries' figures, computed by PostgreSQL in two passes over the selected responses,
//! never by loading them into the server.
//!
//! Each pass reads every selected row once and turns it, with a `cross join lateral` (a
//! `union all` of one branch per question, each with its `where`), into a few narrow rows
//! `(g, q, k, x)`: `g` the `by` question's answer (null without `by`), `q` a
//! question's index in the [`SummarySpec`], `k` a categorical key (a choice, a day) and `x` a
//! number. A repeat's items are unfolded there too (`jsonb_array_elements`), so a question
//! inside a repeat counts each item once. Then one hash aggregate:
//!
//! 1. [`summary_tallies`]: `count(*)`, `min`, `max`, `sum` per `(g, q, k)`, which gives the
//!    units (responses, repeat items: `q` < 0), the answered counts, the counts per choice
//!    and per day, and the numbers' extremes and means;
//! 2. [`summary_numbers`] (only when there are number answers): the median
//!    (`percentile_cont`) and the histogram per `(g, q)`, its bins (`width_bucket`) between
//!    the extremes found by the first pass.
//!
//! Every path and value is bound; the question indices are the only numbers written into
//! the text.

use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

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

/// The selected responses as `(g, a)`: the `by` answer and the answers.
fn push_source(
    qb: &mut QueryBuilder<'_, Postgres>,
    questionnaire_id: i64,
    filter: &Filter,
    by: Option<&Vec<String>>,
) {
    qb.push("(select ");
    match by {
        Some(p) => {
            qb.push("case when jsonb_typeof(r.answers #> ")
                .push_bind(p.clone())
                .push(") in ('string', 'number', 'boolean') then r.answers #>> ")
                .push_bind(p.clone())
                .push(" end");
        }
        None => {
            qb.push("null::text");
        }
    }
    qb.push(" as g, r.answers as a from response r where r.questionnaire_id = ")
        .push_bind(questionnaire_id);
    filter.push_conditions(qb);
    qb.push(") s");
}

/// The `union all select q, k, x …` rows of one question, its answer read from `a` (a jsonb
/// expression); each branch's `where` is tested before its row is made.
fn push_question(qb: &mut QueryBuilder<'_, Postgres>, a: &str, q: i32, question: &SummaryQuestion) {
    let p = &question.path;
    let at = |qb: &mut QueryBuilder<'_, Postgres>, op: &str| {
        qb.push(format!(" {a} {op} ")).push_bind(p.clone());
    };
    match question.measure {
        Measure::Choice => {
            qb.push(format!(" union all select {q}, "));
            at(qb, "#>>");
            qb.push(", null where jsonb_typeof(");
            at(qb, "#>");
            qb.push(") in ('string', 'number', 'boolean')");
        }
        Measure::Multiple => {
            qb.push(format!(
                " union all select {q}, null, null where case when jsonb_typeof("
            ));
            at(qb, "#>");
            qb.push(") = 'array' then jsonb_array_length(");
            at(qb, "#>");
            qb.push(format!(
                ") > 0 else false end union all select {q}, e, null \
                 from jsonb_array_elements_text(case when jsonb_typeof("
            ));
            at(qb, "#>");
            qb.push(") = 'array' then");
            at(qb, "#>");
            qb.push(" end) e");
        }
        Measure::Number => {
            qb.push(format!(" union all select {q}, null, ("));
            at(qb, "#>>");
            qb.push(")::float8 where jsonb_typeof(");
            at(qb, "#>");
            qb.push(") = 'number'");
        }
        Measure::Date => {
            qb.push(format!(" union all select {q}, left("));
            at(qb, "#>>");
            qb.push(", 10), null where jsonb_typeof(");
            at(qb, "#>");
            qb.push(") = 'string' and");
            at(qb, "#>>");
            qb.push(" <> ''");
        }
        Measure::Answered => {
            qb.push(format!(" union all select {q}, null, null where"));
            at(qb, "#>");
            qb.push(" not in ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb)");
        }
    }
}

/// The items of the repeat at `path` in `s.a`, as `i` (none when it is not an array).
fn push_items(qb: &mut QueryBuilder<'_, Postgres>, path: &[String]) {
    qb.push(" from jsonb_array_elements(case when jsonb_typeof(s.a #> ")
        .push_bind(path.to_vec())
        .push(") = 'array' then s.a #> ")
        .push_bind(path.to_vec())
        .push(" end) i");
}

/// The first pass: per `(g, q, k)`, how many rows and the extremes and sum of `x`.
pub async fn summary_tallies(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    spec: &SummarySpec,
) -> Result<Vec<SummaryTally>> {
    let mut qb = QueryBuilder::new(
        "select s.g, v.q, v.k, count(*) as n, min(v.x) as min, max(v.x) as max, \
         sum(v.x) as sum from ",
    );
    push_source(&mut qb, questionnaire_id, filter, spec.by.as_ref());
    // One branch per question (a `values` list of them all was measured slower: it
    // computes every expression of every row, where a branch stops at its `where`).
    qb.push(format!(
        " cross join lateral (select {UNIT_RESPONSES}::int4 as q, null::text as k, null::float8 as x"
    ));
    let mut q = 0i32;
    for question in &spec.questions {
        push_question(&mut qb, "s.a", q, question);
        q += 1;
    }
    for (j, repeat) in spec.repeats.iter().enumerate() {
        qb.push(" union all select w.* ");
        push_items(&mut qb, &repeat.path);
        qb.push(format!(
            " cross join lateral (select {}::int4 as q, null::text as k, null::float8 as x",
            unit_items(j)
        ));
        for question in &repeat.questions {
            push_question(&mut qb, "i.value", q, question);
            q += 1;
        }
        qb.push(") w");
    }
    qb.push(") v group by 1, 2, 3");
    Ok(qb.build_query_as().fetch_all(pool).await?)
}

/// The second pass: the median and histogram of each number question in `bins`, per group.
pub async fn summary_numbers(
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
    push_source(&mut qb, questionnaire_id, filter, spec.by.as_ref());
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
            push_items(&mut qb, &spec.repeats[j].path);
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
