//! Interviewers, enrolment codes, devices: an interviewer gets a one-time enrolment code,
//! which a phone trades for its device and token; devices are listed and revoked here.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::{DbError, Result};

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
    .await?;
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

/// Among `devices`, those enrolled for the same interviewer as `sender` (revoked ones
/// included: a lost phone's backup is still that interviewer's work).
pub async fn devices_of_senders_interviewer(
    pool: &PgPool,
    sender: Uuid,
    devices: &[Uuid],
) -> Result<Vec<Uuid>> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "select d.id from device d
         join device s on s.interviewer_id = d.interviewer_id
         where s.id = $1 and d.id = any($2)",
    )
    .bind(sender)
    .bind(devices)
    .fetch_all(pool)
    .await?)
}
