//! What the responses page, the exports and the summaries are filtered on, as SQL: one
//! [`Filter`] appends its conditions to a query on `response r`, each value bound (never
//! spliced into the text).

use chrono::NaiveDate;
use parole_client::api::ReviewState;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// A [`parole_client::api::ResponseFilter`] resolved against the questionnaire (its
/// `where` questions turned into paths), plus what the caller's role imposes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub version: Option<i32>,
    /// Completed on or after / before this day (the phone's local date).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub interviewer: Option<Uuid>,
    pub review: Option<ReviewState>,
    /// Every one of these holds.
    pub answers: Vec<AnswerIs>,
    /// Only the approved ones (an analyst, on an `approved_only` questionnaire).
    pub approved_only: bool,
}

/// The answer at `path` (unescaped pointer tokens) is one of `values`, or, for a multiple
/// choice, includes one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerIs {
    pub path: Vec<String>,
    pub values: Vec<String>,
}

impl Filter {
    /// Appends ` and …` for each filter set, on the table alias `r`.
    pub fn push_conditions(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        // `completed_at` is the phone's RFC 3339 time: its first ten characters are its
        // local date.
        self.push_kept(
            qb,
            "r.version",
            "left(r.completed_at, 10)",
            "r.review_state",
        );
        if let Some(i) = self.interviewer {
            qb.push(" and r.device_id in (select id from device where interviewer_id = ")
                .push_bind(i)
                .push(")");
        }
        for a in &self.answers {
            // A scalar answer equal to one of the values (numbers and booleans compare as
            // their JSON text: `3`, `true`), or an array of choices holding one of them.
            qb.push(" and (r.answers #>> ")
                .push_bind(a.path.clone())
                .push(" = any(")
                .push_bind(a.values.clone())
                .push(") or coalesce(r.answers #> ")
                .push_bind(a.path.clone())
                .push(" ?| ")
                .push_bind(a.values.clone())
                .push(", false))");
        }
    }

    /// Appends ` and …` on the summaries' rollup (table alias `c`) for the filters it keeps:
    /// version, review state and, when `days` (its days' counts; the cube has none), days.
    /// The others (interviewer, answers) it cannot apply: the caller reads the responses
    /// instead, or the cube's counts of one answer (`rollup_serves`).
    pub fn push_rollup_conditions(&self, qb: &mut QueryBuilder<'_, Postgres>, days: bool) {
        debug_assert!(self.interviewer.is_none() && (days || (self.from, self.to) == (None, None)));
        self.push_kept(qb, "c.version", "c.day", "c.review_state");
    }

    /// The conditions on version, days and review state, on these columns (the ones both
    /// the responses and the summaries' rollup keep).
    fn push_kept(
        &self,
        qb: &mut QueryBuilder<'_, Postgres>,
        version: &str,
        day: &str,
        state: &str,
    ) {
        if let Some(v) = self.version {
            qb.push(format!(" and {version} = ")).push_bind(v);
        }
        if let Some(d) = self.from {
            qb.push(format!(" and {day} >= "))
                .push_bind(d.format("%Y-%m-%d").to_string());
        }
        if let Some(d) = self.to {
            qb.push(format!(" and {day} <= "))
                .push_bind(d.format("%Y-%m-%d").to_string());
        }
        if let Some(s) = self.review {
            qb.push(format!(" and {state} = ")).push_bind(s.as_str());
        }
        if self.approved_only {
            qb.push(format!(" and {state} = 'approved'"));
        }
    }
}
