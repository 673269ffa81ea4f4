//! Reading responses one by one or a page at a time, and reviewing them: the state a
//! coordinator sets is written to `response.review_state` and appended to `response_review`
//! in one transaction, so the state now is always the history's latest.

use chrono::{DateTime, Utc};
use parole_client::api::{Review, ReviewEntry, ReviewState};
use serde_json::Value;
use sqlx::{FromRow, PgPool, QueryBuilder};
use uuid::Uuid;

use super::{DbError, Filter, Result};

/// The slug and version of response `id`'s questionnaire, if there is such a response.
pub async fn response_version(pool: &PgPool, id: Uuid) -> Result<Option<(String, i32)>> {
    Ok(sqlx::query_as(
        "select q.slug, r.version from response r join questionnaire q on q.id = r.questionnaire_id
         where r.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Sets response `id`'s review state, with a comment, by `by`; `NotFound` when there is no
/// such response. `spec` is the summaries' spec of its version: when the summaries' rollup
/// already counts it, its counts move to the new state in the same transaction.
pub async fn review_response(
    pool: &PgPool,
    id: Uuid,
    state: ReviewState,
    comment: Option<&str>,
    by: Uuid,
    spec: &super::SummarySpec,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let found: Option<(i64, i64, i32, String)> = sqlx::query_as(
        "select questionnaire_id, seq, version, review_state from response where id = $1
         for update",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((questionnaire_id, seq, version, old)) = found else {
        return Err(DbError::NotFound);
    };
    // After the row's lock: the fold takes this one first, and never the row's.
    super::summary::lock_rollup(&mut tx, questionnaire_id).await?;
    sqlx::query("update response set review_state = $2 where id = $1")
        .bind(id)
        .bind(state.as_str())
        .execute(&mut *tx)
        .await?;
    super::summary::move_folded_response(
        &mut tx,
        questionnaire_id,
        (id, seq, version),
        spec,
        (&old, state.as_str()),
    )
    .await?;
    sqlx::query(
        "insert into response_review (response_id, state, comment, by_user_id)
         values ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(comment)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(FromRow)]
struct EntryRow {
    state: String,
    comment: Option<String>,
    by: Option<String>,
    at: DateTime<Utc>,
}

fn state_of(s: &str) -> Result<ReviewState> {
    ReviewState::parse(s).ok_or_else(|| {
        super::UnexpectedValue {
            column: "response.review_state",
            value: s.to_string(),
        }
        .into_db_error()
    })
}

/// Response `id`'s review: its state and history, newest first.
pub async fn review_of(pool: &PgPool, id: Uuid) -> Result<Review> {
    let state: String = sqlx::query_scalar("select review_state from response where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)?;
    let rows: Vec<EntryRow> = sqlx::query_as(
        "select h.state, h.comment, u.username as by, h.created_at as at
         from response_review h left join app_user u on u.id = h.by_user_id
         where h.response_id = $1 order by h.id desc",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let history = rows
        .into_iter()
        .map(|r| {
            Ok(ReviewEntry {
                state: state_of(&r.state)?,
                comment: r.comment,
                by: r.by,
                at: r.at,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Review {
        state: state_of(&state)?,
        history,
    })
}

/// One stored response with who made it and where it stands.
#[derive(Debug, Clone, FromRow)]
pub struct ResponseRow {
    pub id: Uuid,
    pub slug: String,
    pub approved_only: bool,
    pub version: i32,
    pub answers: Value,
    pub started_at: String,
    pub completed_at: String,
    pub received_at: DateTime<Utc>,
    pub duration_s: f64,
    pub device_id: Option<Uuid>,
    pub device_name: Option<String>,
    pub interviewer_id: Option<Uuid>,
    pub interviewer_name: Option<String>,
    pub location: Option<Value>,
    pub review_state: String,
}

impl ResponseRow {
    pub fn review_state(&self) -> Result<ReviewState> {
        state_of(&self.review_state)
    }
}

/// Response `id`, with its questionnaire's slug and setting; `NotFound` when there is none.
pub async fn response_by_id(pool: &PgPool, id: Uuid) -> Result<ResponseRow> {
    sqlx::query_as(
        "select r.id, q.slug, q.approved_only, r.version, r.answers, r.started_at,
                r.completed_at, r.received_at,
                extract(epoch from r.completed_at_ts - r.started_at_ts)::float8 as duration_s,
                r.device_id, d.name as device_name, i.id as interviewer_id,
                i.name as interviewer_name, r.location, r.review_state
         from response r join questionnaire q on q.id = r.questionnaire_id
         left join device d on d.id = r.device_id
         left join interviewer i on i.id = d.interviewer_id
         where r.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound)
}

/// One row of a page.
#[derive(Debug, Clone, FromRow)]
pub struct SummaryRow {
    pub id: Uuid,
    pub seq: i64,
    pub version: i32,
    pub completed_at: String,
    pub received_at: DateTime<Utc>,
    pub interviewer_id: Option<Uuid>,
    pub interviewer_name: Option<String>,
    pub review_state: String,
    pub answers: Value,
    pub location: Option<Value>,
}

impl SummaryRow {
    pub fn review_state(&self) -> Result<ReviewState> {
        state_of(&self.review_state)
    }
}

/// Up to `limit` responses to questionnaire `questionnaire_id` matching `filter`, received
/// before `before_seq` (the previous page's last) when given, by `seq` descending (newest
/// received first).
pub async fn response_page(
    pool: &PgPool,
    questionnaire_id: i64,
    filter: &Filter,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<SummaryRow>> {
    let mut qb = QueryBuilder::new(
        "select r.id, r.seq, r.version, r.completed_at, r.received_at,
                i.id as interviewer_id, i.name as interviewer_name, r.review_state, r.answers,
                r.location
         from response r
         left join device d on d.id = r.device_id
         left join interviewer i on i.id = d.interviewer_id
         where r.questionnaire_id = ",
    );
    qb.push_bind(questionnaire_id);
    filter.push_conditions(&mut qb);
    if let Some(seq) = before_seq {
        qb.push(" and r.seq < ").push_bind(seq);
    }
    qb.push(" order by r.seq desc limit ").push_bind(limit);
    Ok(qb.build_query_as().fetch_all(pool).await?)
}
