//! Attachments: photos stored by their SHA-256 (first upload wins), with their media type.

use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::Result;

/// An attachment's metadata (without its bytes).
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentMeta {
    pub media_type: String,
    pub size: i64,
}

/// A stored attachment, with its bytes.
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub media_type: String,
    pub content: Vec<u8>,
}

/// Stores an attachment under `sha256` (its hex digest, already checked against `content`)
/// unless it is already held. `true` when this call stored it, `false` when it was already
/// there (nothing changed: the first upload's media type and device stay).
pub async fn insert_attachment(
    pool: &PgPool,
    sha256: &str,
    media_type: &str,
    content: &[u8],
    device_id: Uuid,
) -> Result<bool> {
    let inserted: Option<String> = sqlx::query_scalar(
        "insert into attachment (sha256, media_type, size, content, device_id)
         values ($1, $2, $3, $4, $5)
         on conflict (sha256) do nothing
         returning sha256",
    )
    .bind(sha256)
    .bind(media_type)
    .bind(content.len() as i64)
    .bind(content)
    .bind(device_id)
    .fetch_optional(pool)
    .await?;
    Ok(inserted.is_some())
}

/// An attachment's media type and size, if held.
pub async fn attachment_meta(pool: &PgPool, sha256: &str) -> Result<Option<AttachmentMeta>> {
    Ok(
        sqlx::query_as("select media_type, size from attachment where sha256 = $1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?,
    )
}

/// An attachment with its bytes, if held.
pub async fn attachment(pool: &PgPool, sha256: &str) -> Result<Option<AttachmentRow>> {
    Ok(
        sqlx::query_as("select media_type, content from attachment where sha256 = $1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?,
    )
}

/// Whether an analyst may have this photo: some response names it, and none as the answer to
/// a personal question. (A photo no response names is nobody's data yet; one that answers a
/// personal question anywhere stays with the coordinators.)
pub async fn attachment_open_to_analysts(pool: &PgPool, sha256: &str) -> Result<bool> {
    let (named, personal): (bool, bool) = sqlx::query_as(
        "select count(*) > 0, coalesce(bool_or(personal), false)
         from response_photo where sha256 = $1",
    )
    .bind(sha256)
    .fetch_one(pool)
    .await?;
    Ok(named && !personal)
}

/// The photos `device` sent that no response names yet: how many, and their bytes.
pub async fn unnamed_by_device(pool: &PgPool, device: Uuid) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*), coalesce(sum(a.size), 0)::bigint
         from attachment a
         where a.device_id = $1
           and not exists (select 1 from response_photo p where p.sha256 = a.sha256)",
    )
    .bind(device)
    .fetch_one(pool)
    .await?)
}

/// Deletes the photos that no response names and that arrived over `grace` ago; returns
/// how many went.
pub async fn delete_unnamed_older_than(pool: &PgPool, grace: std::time::Duration) -> Result<u64> {
    let done = sqlx::query(
        "delete from attachment a
         where a.created_at < now() - make_interval(secs => $1)
           and not exists (select 1 from response_photo p where p.sha256 = a.sha256)",
    )
    .bind(grace.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// One photo of an export (`photos.zip`): the response that names it, where (a JSON
/// pointer into its answers, `/enfants/0/photo` in a repeat), and its bytes.
#[derive(Debug, Clone, FromRow)]
pub struct ExportPhoto {
    pub response_id: Uuid,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub pointer: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// The query of the photos held for the responses an export selects (as
/// [`super::export_query`] selects them: `filter`, `after < seq <= until`), in `seq` then
/// pointer order. Without `personal`, a photo that answers a personal question in any
/// response is left out (as `GET /api/v1/attachments/…` refuses it to analysts). Run it with
/// [`export_photos`]: one row, one photo, at a time.
pub fn export_photos_query(
    questionnaire_id: i64,
    filter: &super::Filter,
    after: i64,
    until: i64,
    personal: bool,
) -> sqlx::QueryBuilder<'static, sqlx::Postgres> {
    let mut qb = sqlx::QueryBuilder::new(
        "select r.id as response_id, r.received_at, p.pointer, a.media_type, a.content
         from response r
         join response_photo p on p.response_id = r.id
         join attachment a on a.sha256 = p.sha256
         where (",
    );
    qb.push_bind(personal)
        .push(
            " or not exists (select 1 from response_photo q
                             where q.sha256 = p.sha256 and q.personal))
           and r.questionnaire_id = ",
        )
        .push_bind(questionnaire_id)
        .push(" and r.seq > ")
        .push_bind(after)
        .push(" and r.seq <= ")
        .push_bind(until);
    filter.push_conditions(&mut qb);
    qb.push(" order by r.seq, p.pointer");
    qb
}

/// The rows of an [`export_photos_query`], streamed.
pub fn export_photos<'a>(
    pool: &'a PgPool,
    query: &'a mut sqlx::QueryBuilder<'static, sqlx::Postgres>,
) -> futures::stream::BoxStream<'a, std::result::Result<ExportPhoto, sqlx::Error>> {
    query.build_query_as().fetch(pool)
}
