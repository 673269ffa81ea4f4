//! Responses: storing a pushed batch in one transaction (never overwriting), and streaming
//! the stored ones out for the exports.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::{Filter, Result};

/// One response ready to store (already validated).
#[derive(Debug, Clone)]
pub struct NewResponse {
    pub id: Uuid,
    pub questionnaire_id: i64,
    pub version: i32,
    pub answers: Value,
    pub started_at: String,
    pub started_at_ts: DateTime<Utc>,
    pub completed_at: String,
    pub completed_at_ts: DateTime<Utc>,
    pub device_id: Option<Uuid>,
    pub location: Option<Value>,
    pub content_hash: String,
    /// The photos its answers name (recorded in `response_photo`).
    pub photos: Vec<crate::attachment::PhotoRef>,
}

/// What [`insert_responses`] did: the ids it inserted, and the content hash now held for
/// every id asked about (inserted or not).
#[derive(Debug, Default)]
pub struct InsertOutcome {
    pub inserted: std::collections::HashSet<Uuid>,
    pub held: std::collections::HashMap<Uuid, String>,
}

/// Inserts a batch (ids distinct) in ONE transaction, never overwriting: `insert … on
/// conflict (id) do nothing` over `unnest` arrays, then a lookup of the hashes held for the
/// ids that were not inserted and for `also_ask` (ids of refused items). Records the photos
/// each inserted response names in `response_photo` (one more statement, only when the batch
/// names photos). Updates the sending device's `last_sync_at` and `device_state`. Commits
/// before returning.
pub async fn insert_responses(
    pool: &PgPool,
    sender: Uuid,
    rows: &[NewResponse],
    also_ask: &[Uuid],
    device_state: Option<&Value>,
) -> Result<InsertOutcome> {
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let mut outcome = InsertOutcome::default();
    if !rows.is_empty() {
        // Shared with every other ingest, until the commit: see `committed_horizon`.
        sqlx::query("select pg_advisory_xact_lock_shared($1)")
            .bind(INGEST_LOCK)
            .execute(&mut *tx)
            .await?;
        let n = rows.len();
        let mut ids = Vec::with_capacity(n);
        let mut qids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut answers = Vec::with_capacity(n);
        let mut started = Vec::with_capacity(n);
        let mut started_ts = Vec::with_capacity(n);
        let mut completed = Vec::with_capacity(n);
        let mut completed_ts = Vec::with_capacity(n);
        let mut devices = Vec::with_capacity(n);
        let mut locations = Vec::with_capacity(n);
        let mut hashes = Vec::with_capacity(n);
        for r in rows {
            ids.push(r.id);
            qids.push(r.questionnaire_id);
            versions.push(r.version);
            answers.push(&r.answers);
            started.push(r.started_at.as_str());
            started_ts.push(r.started_at_ts);
            completed.push(r.completed_at.as_str());
            completed_ts.push(r.completed_at_ts);
            devices.push(r.device_id);
            locations.push(r.location.as_ref());
            hashes.push(r.content_hash.as_str());
        }
        let inserted: Vec<Uuid> = sqlx::query_scalar(
            "insert into response (id, questionnaire_id, version, answers, started_at,
                 started_at_ts, completed_at, completed_at_ts, device_id, sender_device_id,
                 location, content_hash)
             select id, qid, version, answers, started_at, started_at_ts, completed_at,
                 completed_at_ts, device_id, $12, location, content_hash
             from unnest($1::uuid[], $2::bigint[], $3::int[], $4::jsonb[], $5::text[],
                 $6::timestamptz[], $7::text[], $8::timestamptz[], $9::uuid[], $10::jsonb[],
                 $11::text[])
               as t(id, qid, version, answers, started_at, started_at_ts, completed_at,
                 completed_at_ts, device_id, location, content_hash)
             on conflict (id) do nothing
             returning id",
        )
        .bind(&ids)
        .bind(&qids)
        .bind(&versions)
        .bind(&answers)
        .bind(&started)
        .bind(&started_ts)
        .bind(&completed)
        .bind(&completed_ts)
        .bind(&devices)
        .bind(&locations)
        .bind(&hashes)
        .bind(sender)
        .fetch_all(&mut *tx)
        .await?;
        outcome.inserted = inserted.into_iter().collect();
        let mut photo_ids = Vec::new();
        let mut photo_hashes = Vec::new();
        let mut photo_pointers = Vec::new();
        let mut photo_personal = Vec::new();
        for r in rows {
            if outcome.inserted.contains(&r.id) {
                outcome.held.insert(r.id, r.content_hash.clone());
                for p in &r.photos {
                    photo_ids.push(r.id);
                    photo_hashes.push(p.name.hex());
                    photo_pointers.push(p.pointer.as_str());
                    photo_personal.push(p.personal);
                }
            }
        }
        if !photo_ids.is_empty() {
            sqlx::query(
                "insert into response_photo (response_id, sha256, pointer, personal)
                 select * from unnest($1::uuid[], $2::text[], $3::text[], $4::bool[])",
            )
            .bind(&photo_ids)
            .bind(&photo_hashes)
            .bind(&photo_pointers)
            .bind(&photo_personal)
            .execute(&mut *tx)
            .await?;
        }
    }
    let ask: Vec<Uuid> = rows
        .iter()
        .map(|r| r.id)
        .filter(|id| !outcome.inserted.contains(id))
        .chain(also_ask.iter().copied())
        .collect();
    if !ask.is_empty() {
        let held: Vec<(Uuid, String)> =
            sqlx::query_as("select id, content_hash from response where id = any($1)")
                .bind(&ask)
                .fetch_all(&mut *tx)
                .await?;
        outcome.held.extend(held);
    }
    sqlx::query(
        "update device set last_sync_at = now(), device_state = coalesce($2, device_state),
             updated_at = now()
         where id = $1",
    )
    .bind(sender)
    .bind(device_state)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The advisory lock ingest transactions hold shared from their insert to their commit.
const INGEST_LOCK: i64 = 0x7061_726f_6c65_0001;

/// The highest `seq` below which every response is committed: no response not yet visible
/// will ever get a `seq` at or under it. Sequence numbers are drawn at insert time, but
/// batches commit in any order, so a cursor past the highest *visible* `seq` could skip a
/// batch that drew lower numbers and committed later. Taking the ingest lock exclusively for
/// an instant waits for the batches in flight (each holds it shared until its commit); every
/// batch after draws higher numbers.
pub async fn committed_horizon(pool: &PgPool) -> Result<i64> {
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(INGEST_LOCK)
        .execute(&mut *tx)
        .await?;
    let horizon: i64 = sqlx::query_scalar("select coalesce(max(seq), 0) from response")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(horizon)
}

/// One stored response, as the exports write it.
#[derive(Debug, Clone, FromRow)]
pub struct ExportRow {
    pub id: Uuid,
    pub seq: i64,
    pub version: i32,
    /// The device that made it.
    pub device_id: Option<Uuid>,
    /// The device that sent it (another of the same interviewer's, for an imported backup).
    pub sender_device_id: Option<Uuid>,
    pub started_at: String,
    pub completed_at: String,
    pub received_at: DateTime<Utc>,
    pub location: Option<Value>,
    pub content_hash: String,
    pub answers: Value,
    /// The photos it names that the server does not hold yet (`sha256:…`, sorted): empty
    /// when the response is complete.
    pub photos_missing: Vec<String>,
}

/// The query of the responses to a questionnaire matching `filter`, in `seq` order, only
/// those with `after < seq <= until` (`until` from [`committed_horizon`], so that a client
/// resuming after the last `seq` it got misses nothing); each with the photos it names that
/// are still missing (an index lookup per row, on `response_photo`'s primary key), those
/// answering personal questions only when `personal_photos`. Run it with [`export_rows`].
pub fn export_query(
    questionnaire_id: i64,
    filter: &Filter,
    after: i64,
    until: i64,
    personal_photos: bool,
) -> QueryBuilder<'static, Postgres> {
    let mut qb = QueryBuilder::new(
        "select r.id, r.seq, r.version, r.device_id, r.sender_device_id, r.started_at,
                r.completed_at, r.received_at, r.location, r.content_hash, r.answers,
                array(select distinct 'sha256:' || p.sha256
                      from response_photo p left join attachment a on a.sha256 = p.sha256
                      where p.response_id = r.id and a.sha256 is null
                        and (",
    );
    qb.push_bind(personal_photos)
        .push(
            " or not p.personal)
                      order by 1) as photos_missing
         from response r
         where r.questionnaire_id = ",
        )
        .push_bind(questionnaire_id)
        .push(" and r.seq > ")
        .push_bind(after)
        .push(" and r.seq <= ")
        .push_bind(until);
    filter.push_conditions(&mut qb);
    qb.push(" order by r.seq");
    qb
}

/// The rows of an [`export_query`], streamed (constant memory).
pub fn export_rows<'a>(
    pool: &'a PgPool,
    query: &'a mut QueryBuilder<'static, Postgres>,
) -> BoxStream<'a, Result<ExportRow, sqlx::Error>> {
    query.build_query_as().fetch(pool)
}
