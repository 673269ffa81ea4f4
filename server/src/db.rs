//! The storage layer: every SQL statement the server runs lives here, behind named
//! operations (`insert_responses`, `export_rows`, …) and one error type, [`DbError`].
//! Queries are runtime-checked (`sqlx::query_as` with `FromRow`): no `DATABASE_URL` at build
//! time; the router tests exercise every one against a real PostgreSQL.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use parole_client::api::Role;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The migrations in `server/migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("introuvable / not found")]
    NotFound,
    /// A unique constraint refused the row (the constraint's name).
    #[error("existe déjà / already exists ({0})")]
    Conflict(String),
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

impl DbError {
    fn from_sqlx(e: sqlx::Error) -> DbError {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return DbError::Conflict(db.constraint().unwrap_or_default().to_string());
            }
        }
        DbError::Other(e)
    }
}

type Result<T, E = DbError> = std::result::Result<T, E>;

/// Connects a pool to `url`.
pub async fn connect(url: &str) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// Runs the pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// `select 1`, for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("select 1").execute(pool).await?;
    Ok(())
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Coordinator => "coordinator",
        Role::Analyst => "analyst",
        Role::Interviewer => "interviewer",
    }
}

fn parse_role(s: &str) -> Role {
    match s {
        "admin" => Role::Admin,
        "coordinator" => Role::Coordinator,
        "analyst" => Role::Analyst,
        _ => Role::Interviewer,
    }
}

// ---------------------------------------------------------------------------------------------
// Users and tokens

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(FromRow)]
struct RawUser {
    id: Uuid,
    username: String,
    role: String,
    password_hash: String,
}

impl From<RawUser> for UserRow {
    fn from(r: RawUser) -> Self {
        UserRow {
            id: r.id,
            username: r.username,
            role: parse_role(&r.role),
            password_hash: r.password_hash,
        }
    }
}

pub async fn insert_user(
    pool: &PgPool,
    username: &str,
    role: Role,
    password_hash: &str,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query("insert into app_user (id, username, role, password_hash) values ($1, $2, $3, $4)")
        .bind(id)
        .bind(username)
        .bind(role_str(role))
        .bind(password_hash)
        .execute(pool)
        .await
        .map_err(DbError::from_sqlx)?;
    Ok(id)
}

pub async fn user_by_name(pool: &PgPool, username: &str) -> Result<Option<UserRow>> {
    let row: Option<RawUser> = sqlx::query_as(
        "select id, username, role, password_hash from app_user where username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
}

pub async fn set_password(pool: &PgPool, username: &str, password_hash: &str) -> Result<()> {
    let done = sqlx::query(
        "update app_user set password_hash = $2, updated_at = now() where username = $1",
    )
    .bind(username)
    .bind(password_hash)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

pub async fn count_users(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from app_user")
        .fetch_one(pool)
        .await?)
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOwner {
    User {
        id: Uuid,
        username: String,
        role: Role,
    },
    Device {
        id: Uuid,
        interviewer_id: Uuid,
    },
}

pub async fn insert_user_token(pool: &PgPool, user_id: Uuid, token_hash: &str) -> Result<()> {
    sqlx::query("insert into token (id, token_hash, user_id) values ($1, $2, $3)")
        .bind(Uuid::now_v7())
        .bind(token_hash)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct RawOwner {
    user_id: Option<Uuid>,
    username: Option<String>,
    role: Option<String>,
    device_id: Option<Uuid>,
    interviewer_id: Option<Uuid>,
}

/// The live owner of a token (by its hash): none when unknown, revoked, or its device is.
pub async fn token_owner(pool: &PgPool, token_hash: &str) -> Result<Option<TokenOwner>> {
    let row: Option<RawOwner> = sqlx::query_as(
        "select u.id as user_id, u.username, u.role, d.id as device_id, d.interviewer_id
         from token t
         left join app_user u on u.id = t.user_id
         left join device d on d.id = t.device_id
         where t.token_hash = $1 and t.revoked_at is null
           and (t.user_id is not null or d.revoked_at is null)",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| match (r.user_id, r.device_id) {
        (Some(id), _) => Some(TokenOwner::User {
            id,
            username: r.username.unwrap_or_default(),
            role: parse_role(r.role.as_deref().unwrap_or_default()),
        }),
        (None, Some(id)) => Some(TokenOwner::Device {
            id,
            interviewer_id: r.interviewer_id?,
        }),
        _ => None,
    }))
}

/// Revokes one token (logout).
pub async fn revoke_token(pool: &PgPool, token_hash: &str) -> Result<()> {
    sqlx::query(
        "update token set revoked_at = now(), updated_at = now()
         where token_hash = $1 and revoked_at is null",
    )
    .bind(token_hash)
    .execute(pool)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Interviewers, enrolment codes, devices

pub async fn insert_interviewer(pool: &PgPool, name: &str) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query("insert into interviewer (id, name) values ($1, $2)")
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(id)
}

#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct InterviewerRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn list_interviewers(pool: &PgPool) -> Result<Vec<InterviewerRow>> {
    Ok(
        sqlx::query_as("select id, name, created_at from interviewer order by created_at")
            .fetch_all(pool)
            .await?,
    )
}

/// Stores a new enrolment code for an interviewer; the codes not yet used stop working.
pub async fn replace_enrolment_code(
    pool: &PgPool,
    interviewer_id: Uuid,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let exists: Option<Uuid> = sqlx::query_scalar("select id from interviewer where id = $1")
        .bind(interviewer_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(DbError::NotFound);
    }
    sqlx::query(
        "update enrolment_code set expires_at = least(expires_at, now()), updated_at = now()
         where interviewer_id = $1 and used_at is null",
    )
    .bind(interviewer_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into enrolment_code (id, interviewer_id, code_hash, expires_at)
         values ($1, $2, $3, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(interviewer_id)
    .bind(code_hash)
    .bind(expires_at)
    .execute(&mut *tx)
    .await
    .map_err(DbError::from_sqlx)?;
    tx.commit().await?;
    Ok(())
}

/// Uses an enrolment code (once) and creates the device with its token, atomically.
/// `None` when the code is unknown, used or expired.
pub async fn enrol_device(
    pool: &PgPool,
    code_hash: &str,
    device_name: &str,
    token_hash: &str,
) -> Result<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    let interviewer: Option<Uuid> = sqlx::query_scalar(
        "update enrolment_code set used_at = now(), updated_at = now()
         where code_hash = $1 and used_at is null and expires_at > now()
         returning interviewer_id",
    )
    .bind(code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(interviewer_id) = interviewer else {
        return Ok(None);
    };
    let device_id = Uuid::now_v7();
    sqlx::query("insert into device (id, interviewer_id, name) values ($1, $2, $3)")
        .bind(device_id)
        .bind(interviewer_id)
        .bind(device_name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into token (id, token_hash, device_id) values ($1, $2, $3)")
        .bind(Uuid::now_v7())
        .bind(token_hash)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(device_id))
}

/// Revokes a device and its tokens.
pub async fn revoke_device(pool: &PgPool, device_id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "update device set revoked_at = coalesce(revoked_at, now()), updated_at = now()
         where id = $1",
    )
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    sqlx::query(
        "update token set revoked_at = now(), updated_at = now()
         where device_id = $1 and revoked_at is null",
    )
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct DeviceRow {
    pub id: Uuid,
    pub name: String,
    pub interviewer_id: Uuid,
    pub interviewer_name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub device_state: Option<Value>,
}

pub async fn list_devices(pool: &PgPool) -> Result<Vec<DeviceRow>> {
    Ok(sqlx::query_as(
        "select d.id, d.name, d.interviewer_id, i.name as interviewer_name, d.created_at,
                d.revoked_at, d.last_sync_at, d.device_state
         from device d join interviewer i on i.id = d.interviewer_id
         order by d.created_at",
    )
    .fetch_all(pool)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Questionnaires

/// Creates a questionnaire with its first draft.
pub async fn insert_questionnaire(pool: &PgPool, slug: &str, draft: &Value) -> Result<()> {
    sqlx::query("insert into questionnaire (slug, draft) values ($1, $2::json)")
        .bind(slug)
        .bind(draft.to_string())
        .execute(pool)
        .await
        .map_err(DbError::from_sqlx)?;
    Ok(())
}

pub async fn update_draft(pool: &PgPool, slug: &str, draft: &Value) -> Result<()> {
    let done = sqlx::query(
        "update questionnaire set draft = $2::json, updated_at = now() where slug = $1",
    )
    .bind(slug)
    .bind(draft.to_string())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

pub async fn draft(pool: &PgPool, slug: &str) -> Result<Value> {
    sqlx::query_scalar("select draft from questionnaire where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)
}

/// Freezes `document` (the draft, already checked) as the next version; returns its number.
pub async fn publish_version(
    pool: &PgPool,
    slug: &str,
    title: &str,
    document: &Value,
) -> Result<i32> {
    let mut tx = pool.begin().await?;
    // Lock the questionnaire row so that two publications get two numbers.
    let id: i64 = sqlx::query_scalar("select id from questionnaire where slug = $1 for update")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DbError::NotFound)?;
    let version: i32 = sqlx::query_scalar(
        "insert into questionnaire_version (questionnaire_id, version, title, document)
         select $1, coalesce(max(version), 0) + 1, $2, $3::json
         from questionnaire_version where questionnaire_id = $1
         returning version",
    )
    .bind(id)
    .bind(title)
    .bind(document.to_string())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(version)
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
}

pub async fn list_questionnaires(pool: &PgPool) -> Result<Vec<QuestionnaireSummary>> {
    Ok(sqlx::query_as(
        "select q.slug, coalesce(v.title, q.draft ->> 'title') as title,
                v.version as latest_version, v.published_at, q.created_at, q.updated_at
         from questionnaire q
         left join lateral (
             select version, title, published_at from questionnaire_version
             where questionnaire_id = q.id order by version desc limit 1
         ) v on true
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
pub struct Revocation {
    pub slug: String,
    pub version: i32,
    pub revoked_at: DateTime<Utc>,
    pub revoked_reason: Option<String>,
}

/// Retires a published version (idempotent: a version already retired keeps its first
/// time and reason). `Err(NotFound)` when the questionnaire or the version does not exist.
pub async fn revoke_version(
    pool: &PgPool,
    slug: &str,
    version: i32,
    reason: Option<&str>,
    revoked_by: Uuid,
) -> Result<Revocation> {
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
pub async fn revoked_among(pool: &PgPool, keys: &[(i64, i32)]) -> Result<Vec<Revocation>> {
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

// ---------------------------------------------------------------------------------------------
// Responses

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
        for r in rows {
            if outcome.inserted.contains(&r.id) {
                outcome.held.insert(r.id, r.content_hash.clone());
                for p in &r.photos {
                    photo_ids.push(r.id);
                    photo_hashes.push(p.name.hex());
                    photo_pointers.push(p.pointer.as_str());
                }
            }
        }
        if !photo_ids.is_empty() {
            sqlx::query(
                "insert into response_photo (response_id, sha256, pointer)
                 select * from unnest($1::uuid[], $2::text[], $3::text[])",
            )
            .bind(&photo_ids)
            .bind(&photo_hashes)
            .bind(&photo_pointers)
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

/// One stored response, as the exports write it.
#[derive(Debug, Clone, FromRow)]
pub struct ExportRow {
    pub id: Uuid,
    pub seq: i64,
    pub version: i32,
    pub device_id: Option<Uuid>,
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

/// The responses to a questionnaire in `seq` order, streamed (constant memory), optionally
/// one version only and only those with `seq > after`; each with the photos it names that
/// are still missing (an index lookup per row, on `response_photo`'s primary key).
pub fn export_rows<'a>(
    pool: &'a PgPool,
    questionnaire_id: i64,
    version: Option<i32>,
    after: i64,
) -> BoxStream<'a, Result<ExportRow, sqlx::Error>> {
    sqlx::query_as(
        "select id, seq, version, device_id, started_at, completed_at, received_at, location,
                content_hash, answers,
                array(select distinct 'sha256:' || p.sha256
                      from response_photo p left join attachment a on a.sha256 = p.sha256
                      where p.response_id = r.id and a.sha256 is null
                      order by 1) as photos_missing
         from response r
         where questionnaire_id = $1 and ($2::int is null or version = $2) and seq > $3
         order by seq",
    )
    .bind(questionnaire_id)
    .bind(version)
    .bind(after)
    .fetch(pool)
}

// ---------------------------------------------------------------------------------------------
// Attachments

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
