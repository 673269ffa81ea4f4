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
#[derive(Debug, FromRow)]
struct Grouped {
    g: Option<String>,
    q: i32,
    k: Option<String>,
    n: i64,
}

/// The first pass: per `(g, q, k)`, how many rows and the extremes and sum of the numbers.
///
/// One read of the selected responses (and one more per repeat, for its items): every
/// question's key is computed once per row (its answer as text; a multiple choice's whole
/// array; a number's value), then one hash aggregate counts each `(g, key)` with `grouping
/// sets`. The server then turns the counts into tallies: a multiple choice's arrays into
/// counts per element, a number's values into its count, extremes and sum (kept for the
/// median and histogram). This replaced a `cross join lateral` making a row per question
/// per response, about 3.5 times slower (7–9 s for 200 000 responses, against 2.0–2.3 s).
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
    let measures: Vec<Measure> = spec
        .questions
        .iter()
        .chain(spec.repeats.iter().flat_map(|r| &r.questions))
        .map(|q| q.measure)
        .collect();
    let total = measures.len();
    let mut qb = QueryBuilder::new("select t.g, case when grouping(t.u) = 0 then t.u");
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
    // The responses' row, with the top-level questions' keys.
    qb.push(format!("select s.g, {UNIT_RESPONSES}::int4 as u"));
    for (q, question) in spec.questions.iter().enumerate() {
        qb.push(", ");
        push_key(&mut qb, "s.a", question);
        qb.push(format!(" as k{q}"));
    }
    for q in spec.questions.len()..total {
        qb.push(format!(", null::text as k{q}"));
    }
    qb.push(" from ");
    push_source(&mut qb, questionnaire_id, filter, spec.by.as_ref());
    // Each repeat's items, with its questions' keys.
    let mut first = spec.questions.len();
    for (j, repeat) in spec.repeats.iter().enumerate() {
        qb.push(format!(
            " union all select s.g, {}::int4 as u",
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
        push_source(&mut qb, questionnaire_id, filter, spec.by.as_ref());
        push_items(&mut qb, " cross join lateral", &repeat.path);
        first += repeat.questions.len();
    }
    qb.push(") t group by grouping sets ((t.g, t.u)");
    for q in 0..total {
        qb.push(format!(", (t.g, t.k{q})"));
    }
    qb.push(")");

    let mut tallies = Tallies::default();
    let mut rows: HashMap<(Option<String>, i32, Option<String>), SummaryTally> = HashMap::new();
    let mut add = |g: &Option<String>, q: i32, k: Option<String>, n: i64, x: Option<f64>| {
        let t = rows
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
    };
    // The planner expects `jsonb_array_elements` to make 100 rows and every key to have
    // hundreds of values: with the default `work_mem` it would sort the rows once per
    // grouping set (over 30 s at 1 M responses) rather than hash them, which needs a few
    // megabytes (the keys' values are few, and a hash aggregate spills to disk past
    // `work_mem` anyway). Compiling this wide query (JIT) costs more than it saves.
    let mut tx = pool.begin().await?;
    sqlx::query("set local work_mem = '128MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local jit = off").execute(&mut *tx).await?;
    let mut stream = qb.build_query_as::<Grouped>().fetch(&mut *tx);
    while let Some(row) = stream.try_next().await? {
        let Grouped { g, q, k, n } = row;
        let Some(measure) = usize::try_from(q).ok().and_then(|i| measures.get(i)) else {
            add(&g, q, None, n, None); // the units
            continue;
        };
        let Some(k) = k else { continue }; // not answered
        match measure {
            Measure::Choice | Measure::Date => add(&g, q, Some(k), n, None),
            Measure::Answered => add(&g, q, None, n, None),
            Measure::Multiple => {
                let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&k) else {
                    continue;
                };
                if !items.is_empty() {
                    add(&g, q, None, n, None);
                }
                for item in items {
                    let e = match item {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    };
                    add(&g, q, e, n, None);
                }
            }
            Measure::Number => {
                let Ok(x) = k.parse::<f64>() else { continue };
                add(&g, q, None, n, Some(x));
                if !tallies.overflowed.contains(&q) {
                    let values = tallies.values.entry((g, q)).or_default();
                    values.push((x, n));
                    if values.len() > max_distinct {
                        tallies.overflowed.insert(q);
                        tallies.values.retain(|(_, vq), _| *vq != q);
                    }
                }
            }
        }
    }
    drop(stream);
    tx.commit().await?;
    tallies.rows = rows.into_values().collect();
    Ok(tallies)
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
