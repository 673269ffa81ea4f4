//! Questionnaires: drafts, published (frozen, numbered) versions, their retirement, and the
//! lookups the sync and the exports make by slug and version.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::{DbError, Result};

/// Creates a questionnaire with its first draft (revision 1), written by `by`.
pub async fn insert_questionnaire(
    pool: &PgPool,
    slug: &str,
    draft: &Value,
    by: Uuid,
) -> Result<()> {
    sqlx::query("insert into questionnaire (slug, draft, updated_by) values ($1, $2::json, $3)")
        .bind(slug)
        .bind(draft.to_string())
        .bind(by)
        .execute(pool)
        .await?;
    Ok(())
}

/// A questionnaire's draft, with its revision and who saved it last.
#[derive(Debug, Clone, FromRow)]
pub struct Draft {
    pub draft: Value,
    /// 1 when created, one more at each save.
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
    /// The username of who saved it last (none for a draft saved before this was kept, or
    /// whose account is gone).
    pub updated_by: Option<String>,
}

/// What saving a draft did.
#[derive(Debug, Clone)]
pub enum DraftSaved {
    /// Saved: its new revision.
    Saved(i64),
    /// Not saved: the draft is no longer at the revision the save started from; here is
    /// what it is at.
    Stale(Draft),
}

/// Saves the draft, as `by`. With `base_revision`, only if the draft is still at that
/// revision: the check and the increment are one statement, so of two saves from the same
/// revision exactly one wins. Without it, the last save wins.
pub async fn update_draft(
    pool: &PgPool,
    slug: &str,
    draft: &Value,
    base_revision: Option<i64>,
    by: Uuid,
) -> Result<DraftSaved> {
    let saved: Option<i64> = sqlx::query_scalar(
        "update questionnaire
         set draft = $2::json, draft_revision = draft_revision + 1, updated_at = now(),
             updated_by = $4
         where slug = $1 and ($3::bigint is null or draft_revision = $3)
         returning draft_revision",
    )
    .bind(slug)
    .bind(draft.to_string())
    .bind(base_revision)
    .bind(by)
    .fetch_optional(pool)
    .await?;
    match saved {
        Some(revision) => Ok(DraftSaved::Saved(revision)),
        // Either no such questionnaire (NotFound), or another save came in between.
        None => Ok(DraftSaved::Stale(draft_of(pool, slug).await?)),
    }
}

/// The draft with its revision and who saved it last.
pub async fn draft_of(pool: &PgPool, slug: &str) -> Result<Draft> {
    sqlx::query_as(
        "select q.draft, q.draft_revision as revision, q.updated_at,
                u.username as updated_by
         from questionnaire q left join app_user u on u.id = q.updated_by
         where q.slug = $1",
    )
    .bind(slug)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound)
}

pub async fn draft(pool: &PgPool, slug: &str) -> Result<Value> {
    sqlx::query_scalar("select draft from questionnaire where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)
}

/// A publication under way: the questionnaire's row is locked (no other publication, no
/// draft save until it ends), and the draft and the versions are read under that lock, so
/// what is checked is what gets published. Dropped without [`Publication::publish`], it
/// publishes nothing.
pub struct Publication {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    id: i64,
    pub draft: Value,
    /// Every published version, oldest first, the retired ones included.
    pub versions: Vec<VersionRow>,
}

/// Starts publishing `slug`'s draft: see [`Publication`].
pub async fn begin_publication(pool: &PgPool, slug: &str) -> Result<Publication> {
    let mut tx = pool.begin().await?;
    let (id, draft): (i64, Value) =
        sqlx::query_as("select id, draft from questionnaire where slug = $1 for update")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DbError::NotFound)?;
    let versions = sqlx::query_as(
        "select $2::text as slug, v.version, v.title, v.document, v.published_at
         from questionnaire_version v where v.questionnaire_id = $1 order by v.version",
    )
    .bind(id)
    .bind(slug)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Publication {
        tx,
        id,
        draft,
        versions,
    })
}

impl Publication {
    /// Freezes the draft (already checked) as the next version, titled `title`; its number.
    pub async fn publish(mut self, title: &str) -> Result<i32> {
        let version: i32 = sqlx::query_scalar(
            "insert into questionnaire_version (questionnaire_id, version, title, document)
             select $1, coalesce(max(version), 0) + 1, $2, $3::json
             from questionnaire_version where questionnaire_id = $1
             returning version",
        )
        .bind(self.id)
        .bind(title)
        .bind(self.draft.to_string())
        .fetch_one(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(version)
    }
}

#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct QuestionnaireSummary {
    pub slug: String,
    /// The latest version's title, else the draft's.
    pub title: Option<String>,
    pub latest_version: Option<i32>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the draft differs from the latest version (true while none is published).
    pub draft_changed: bool,
    /// `[{"version", "responses"}]`, versions with responses only, in order.
    pub responses: sqlx::types::Json<Vec<parole_client::api::VersionResponses>>,
    pub last_response_at: Option<DateTime<Utc>>,
}

/// Every questionnaire, by slug, with its latest version and its responses per version.
pub async fn list_questionnaires(pool: &PgPool) -> Result<Vec<QuestionnaireSummary>> {
    Ok(sqlx::query_as(
        "select q.slug, coalesce(v.title, q.draft ->> 'title') as title,
                v.version as latest_version, v.published_at, q.created_at, q.updated_at,
                v.document is null or q.draft::text <> v.document::text as draft_changed,
                coalesce(c.responses, '[]') as responses, c.last_response_at
         from questionnaire q
         left join lateral (
             select version, title, published_at, document from questionnaire_version
             where questionnaire_id = q.id order by version desc limit 1
         ) v on true
         left join lateral (
             select jsonb_agg(jsonb_build_object('version', version, 'responses', n)
                              order by version) as responses,
                    max(last) as last_response_at
             from (select version, count(*) as n, max(received_at) as last
                   from response r where r.questionnaire_id = q.id group by version) per
         ) c on true
         order by q.slug",
    )
    .fetch_all(pool)
    .await?)
}

#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct VersionRow {
    pub slug: String,
    pub version: i32,
    pub title: String,
    pub document: Value,
    pub published_at: DateTime<Utc>,
    /// When the version was retired (none while it is live); not read by every query.
    #[sqlx(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[sqlx(default)]
    pub revoked_reason: Option<String>,
}

/// One published version; `Ok(None)` when the questionnaire exists but not that version,
/// `Err(NotFound)` when the questionnaire does not exist.
pub async fn version(pool: &PgPool, slug: &str, version: i32) -> Result<Option<VersionRow>> {
    let id = questionnaire_id(pool, slug).await?;
    Ok(sqlx::query_as(
        "select $3::text as slug, v.version, v.title, v.document, v.published_at,
                r.revoked_at, r.reason as revoked_reason
         from questionnaire_version v
         left join questionnaire_version_revocation r
           on r.questionnaire_id = v.questionnaire_id and r.version = v.version
         where v.questionnaire_id = $1 and v.version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(slug)
    .fetch_optional(pool)
    .await?)
}

pub async fn questionnaire_id(pool: &PgPool, slug: &str) -> Result<i64> {
    sqlx::query_scalar("select id from questionnaire where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)
}

/// Every published version of a questionnaire, oldest first, the retired ones included
/// (for the export's columns: their stored responses are exported as before).
pub async fn versions_of(pool: &PgPool, slug: &str) -> Result<Vec<VersionRow>> {
    Ok(sqlx::query_as(
        "select q.slug, v.version, v.title, v.document, v.published_at,
                r.revoked_at, r.reason as revoked_reason
         from questionnaire_version v join questionnaire q on q.id = v.questionnaire_id
         left join questionnaire_version_revocation r
           on r.questionnaire_id = v.questionnaire_id and r.version = v.version
         where q.slug = $1 order by v.version",
    )
    .bind(slug)
    .fetch_all(pool)
    .await?)
}

/// The latest live (not retired) version of every questionnaire, by slug: the phones'
/// list. A questionnaire whose versions are all retired is absent; retiring the latest
/// version brings back the one before it, if that one is live.
pub async fn latest_versions(pool: &PgPool) -> Result<Vec<VersionRow>> {
    Ok(sqlx::query_as(
        "select distinct on (q.slug) q.slug, v.version, v.title, v.document, v.published_at
         from questionnaire_version v join questionnaire q on q.id = v.questionnaire_id
         where not exists (
             select 1 from questionnaire_version_revocation r
             where r.questionnaire_id = v.questionnaire_id and r.version = v.version)
         order by q.slug, v.version desc",
    )
    .fetch_all(pool)
    .await?)
}

/// A retired version: when, and why if the coordinator said.
#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct RetiredVersion {
    pub slug: String,
    pub version: i32,
    pub revoked_at: DateTime<Utc>,
    pub revoked_reason: Option<String>,
}

/// Retires a published version (idempotent: a version already retired keeps its first
/// time and reason). `Err(NotFound)` when the questionnaire or the version does not exist.
pub async fn retire_version(
    pool: &PgPool,
    slug: &str,
    version: i32,
    reason: Option<&str>,
    revoked_by: Uuid,
) -> Result<RetiredVersion> {
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "select v.questionnaire_id from questionnaire_version v
         join questionnaire q on q.id = v.questionnaire_id
         where q.slug = $1 and v.version = $2",
    )
    .bind(slug)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
    sqlx::query(
        "insert into questionnaire_version_revocation (questionnaire_id, version, reason, revoked_by)
         values ($1, $2, $3, $4)
         on conflict (questionnaire_id, version) do nothing",
    )
    .bind(id)
    .bind(version)
    .bind(reason)
    .bind(revoked_by)
    .execute(&mut *tx)
    .await?;
    let revocation = sqlx::query_as(
        "select $3::text as slug, version, revoked_at, reason as revoked_reason
         from questionnaire_version_revocation where questionnaire_id = $1 and version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(slug)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(revocation)
}

/// Which of the `(questionnaire id, version)` pairs are retired: ONE primary-key lookup per
/// pair, in one statement (run once per pushed batch).
pub async fn retired_among(pool: &PgPool, keys: &[(i64, i32)]) -> Result<Vec<RetiredVersion>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
    let versions: Vec<i32> = keys.iter().map(|k| k.1).collect();
    Ok(sqlx::query_as(
        "select q.slug, r.version, r.revoked_at, r.reason as revoked_reason
         from unnest($1::bigint[], $2::int[]) as k(questionnaire_id, version)
         join questionnaire_version_revocation r
           on r.questionnaire_id = k.questionnaire_id and r.version = k.version
         join questionnaire q on q.id = r.questionnaire_id",
    )
    .bind(ids)
    .bind(versions)
    .fetch_all(pool)
    .await?)
}

/// A published version named by a response, as far as the database knows it.
#[derive(Debug, Clone, FromRow)]
pub struct KnownVersion {
    pub slug: String,
    pub questionnaire_id: i64,
    pub version: Option<i32>,
    pub document: Option<Value>,
}

/// Looks up `(slug, version)` pairs: one row per known slug and asked version (with
/// `version`/`document` null when the slug exists but not the version).
pub async fn lookup_versions(pool: &PgPool, keys: &[(String, i32)]) -> Result<Vec<KnownVersion>> {
    let slugs: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let versions: Vec<i32> = keys.iter().map(|k| k.1).collect();
    Ok(sqlx::query_as(
        "select q.slug, q.id as questionnaire_id, v.version, v.document
         from unnest($1::text[], $2::int[]) as k(slug, version)
         join questionnaire q on q.slug = k.slug
         left join questionnaire_version v
           on v.questionnaire_id = q.id and v.version = k.version",
    )
    .bind(slugs)
    .bind(versions)
    .fetch_all(pool)
    .await?)
}

/// A questionnaire's id and whether analysts see its approved responses only.
pub async fn questionnaire_settings(pool: &PgPool, slug: &str) -> Result<(i64, bool)> {
    sqlx::query_as("select id, approved_only from questionnaire where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)
}

/// Sets whether analysts see questionnaire `slug`'s approved responses only.
pub async fn set_approved_only(pool: &PgPool, slug: &str, approved_only: bool) -> Result<()> {
    let done = sqlx::query(
        "update questionnaire set approved_only = $2, updated_at = now() where slug = $1",
    )
    .bind(slug)
    .bind(approved_only)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}
