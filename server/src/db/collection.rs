//! How a questionnaire's collection goes, for the coordinator: counts computed in
//! PostgreSQL, one statement.

use parole_client::api::{Collection, DayCount, InterviewerCount};
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};

use super::{questionnaire_id, Result};

#[derive(FromRow)]
struct Row {
    total: i64,
    per_day: Json<Vec<DayCount>>,
    per_interviewer: Json<Vec<InterviewerCount>>,
    median_duration_s: Option<f64>,
    waiting_for_photos: i64,
}

/// The collection of questionnaire `slug` (every version); `NotFound` when there is none.
pub async fn collection(pool: &PgPool, slug: &str) -> Result<Collection> {
    let id = questionnaire_id(pool, slug).await?;
    let row: Row = sqlx::query_as(
        "with r as (
             select r.id, r.completed_at, r.started_at_ts, r.completed_at_ts, r.received_at,
                    d.interviewer_id
             from response r left join device d on d.id = r.device_id
             where r.questionnaire_id = $1
         )
         select
             (select count(*) from r) as total,
             (select coalesce(jsonb_agg(jsonb_build_object('day', day, 'responses', n)
                                        order by day), '[]')
              from (select left(completed_at, 10) as day, count(*) as n
                    from r group by 1) per) as per_day,
             (select coalesce(jsonb_agg(jsonb_build_object(
                         'interviewer_id', i.id, 'name', i.name, 'responses', per.n,
                         'last_received_at', per.last) order by i.name, i.id), '[]')
              from (select interviewer_id, count(*) as n, max(received_at) as last
                    from r where interviewer_id is not null group by 1) per
              join interviewer i on i.id = per.interviewer_id) as per_interviewer,
             (select percentile_cont(0.5) within group (
                         order by extract(epoch from completed_at_ts - started_at_ts))
              from r) as median_duration_s,
             (select count(distinct p.response_id)
              from response_photo p join r on r.id = p.response_id
              where not exists (select 1 from attachment a where a.sha256 = p.sha256))
                 as waiting_for_photos",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    Ok(Collection {
        total: row.total,
        per_day: row.per_day.0,
        per_interviewer: row.per_interviewer.0,
        median_duration_s: row.median_duration_s,
        waiting_for_photos: row.waiting_for_photos,
    })
}
