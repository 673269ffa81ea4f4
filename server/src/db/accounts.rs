//! Users and tokens: the accounts of the web console and the CLI, the bearer tokens of users
//! and devices, and who a token belongs to.

use parole_client::api::Role;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::{parse_role, role_str, DbError, Result};

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

/// Fails on a role the server does not know (see `parse_role`).
impl TryFrom<RawUser> for UserRow {
    type Error = DbError;

    fn try_from(r: RawUser) -> Result<Self> {
        Ok(UserRow {
            id: r.id,
            username: r.username,
            role: parse_role(&r.role)?,
            password_hash: r.password_hash,
        })
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
        .await?;
    Ok(id)
}

pub async fn user_by_name(pool: &PgPool, username: &str) -> Result<Option<UserRow>> {
    let row: Option<RawUser> = sqlx::query_as(
        "select id, username, role, password_hash from app_user
         where username = $1 and disabled_at is null",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(UserRow::try_from).transpose()
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

/// A staff account as the admin's list shows it.
#[derive(Debug, Clone)]
pub struct UserListed {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The last use of any of its sessions.
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(FromRow)]
struct RawUserListed {
    id: Uuid,
    username: String,
    role: String,
    disabled: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every staff account, by name.
pub async fn list_users(pool: &PgPool) -> Result<Vec<UserListed>> {
    let rows: Vec<RawUserListed> = sqlx::query_as(
        "select u.id, u.username, u.role, u.disabled_at is not null as disabled, u.created_at,
                (select max(t.last_used_at) from token t where t.user_id = u.id) as last_seen_at
         from app_user u where u.role <> 'interviewer' order by u.username",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UserListed {
                id: r.id,
                username: r.username,
                role: parse_role(&r.role)?,
                disabled: r.disabled,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
            })
        })
        .collect()
}

/// What an admin changes of an account (`None`: unchanged).
#[derive(Debug, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// Applies `change` to the account `id`; disabling it or setting its password ends its
/// sessions, in the same transaction. `NotFound` when there is no such account.
pub async fn update_user(pool: &PgPool, id: Uuid, change: &UserChange) -> Result<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "update app_user set
             role = coalesce($2, role),
             disabled_at = case when $3 is null then disabled_at
                                when $3 then coalesce(disabled_at, now())
                                else null end,
             password_hash = coalesce($4, password_hash),
             updated_at = now()
         where id = $1 and role <> 'interviewer'",
    )
    .bind(id)
    .bind(change.role.map(role_str))
    .bind(change.disabled)
    .bind(change.password_hash.as_deref())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    if change.disabled == Some(true) || change.password_hash.is_some() {
        end_sessions(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends every session of user `id`.
async fn end_sessions(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<()> {
    sqlx::query("update token set revoked_at = now() where user_id = $1 and revoked_at is null")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The password hash of user `id` (for a change of one's own password).
pub async fn password_hash_of(pool: &PgPool, id: Uuid) -> Result<String> {
    sqlx::query_scalar("select password_hash from app_user where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(DbError::NotFound)
}

/// Sets user `id`'s own password and ends their other sessions (all but `keep`, the token
/// hash of the session that asked).
pub async fn change_own_password(
    pool: &PgPool,
    id: Uuid,
    password_hash: &str,
    keep: &str,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("update app_user set password_hash = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update token set revoked_at = now()
         where user_id = $1 and revoked_at is null and token_hash <> $2",
    )
    .bind(id)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How many accounts are active admins.
pub async fn count_active_admins(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from app_user where role = 'admin' and disabled_at is null",
    )
    .fetch_one(pool)
    .await?)
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

impl RawOwner {
    /// The owner, `None` when the row names neither a user nor a device with its
    /// interviewer; an error when the user's role is missing or unknown.
    fn into_owner(self) -> Result<Option<TokenOwner>> {
        Ok(match (self.user_id, self.device_id) {
            // `app_user.role` is `not null`; were it null, "" is refused like any unknown role.
            (Some(id), _) => Some(TokenOwner::User {
                id,
                username: self.username.unwrap_or_default(),
                role: parse_role(self.role.as_deref().unwrap_or_default())?,
            }),
            (None, Some(id)) => self
                .interviewer_id
                .map(|interviewer_id| TokenOwner::Device { id, interviewer_id }),
            _ => None,
        })
    }
}

/// What a token (by its hash) stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenLookup {
    Live(TokenOwner),
    /// A staff session past its idle or absolute limit.
    Expired,
}

#[derive(FromRow)]
struct RawLookup {
    #[sqlx(flatten)]
    owner: RawOwner,
    expired: bool,
}

/// The owner of a token (by its hash): none when unknown, revoked, or its device is. A staff
/// session is `Expired` once unused for `idle` or older than `max`; a live one's last use
/// is recorded (at most once a minute, in the same statement).
pub async fn token_owner(
    pool: &PgPool,
    token_hash: &str,
    idle: std::time::Duration,
    max: std::time::Duration,
) -> Result<Option<TokenLookup>> {
    let row: Option<RawLookup> = sqlx::query_as(
        "with t as (
             select t.id, t.user_id, t.device_id,
                    t.user_id is not null
                      and (t.created_at <= now() - make_interval(secs => $3)
                           or t.last_used_at <= now() - make_interval(secs => $2)) as expired,
                    t.last_used_at < now() - interval '1 minute' as stale
             from token t
             where t.token_hash = $1 and t.revoked_at is null
         ), touch as (
             update token set last_used_at = now()
             from t where token.id = t.id and t.user_id is not null and not t.expired
               and t.stale
         )
         select u.id as user_id, u.username, u.role, d.id as device_id, d.interviewer_id,
                t.expired
         from t
         left join app_user u on u.id = t.user_id
         left join device d on d.id = t.device_id
         where (t.user_id is not null and u.disabled_at is null)
            or (t.device_id is not null and d.revoked_at is null)",
    )
    .bind(token_hash)
    .bind(idle.as_secs_f64())
    .bind(max.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.expired {
        return Ok(Some(TokenLookup::Expired));
    }
    Ok(row.owner.into_owner()?.map(TokenLookup::Live))
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

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use super::*;
    use crate::testing::test_db;

    #[tokio::test]
    async fn a_duplicate_username_is_a_conflict_naming_the_constraint() {
        let db = test_db().await;
        insert_user(&db.pool, "ana", Role::Analyst, "h")
            .await
            .unwrap();
        let err = insert_user(&db.pool, "ana", Role::Admin, "h")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DbError::Conflict(c) if c == "app_user_username_key"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unknown_stored_role_is_an_error_for_the_user_and_its_tokens() {
        let db = test_db().await;
        let id = insert_user(&db.pool, "ana", Role::Analyst, "h")
            .await
            .unwrap();
        insert_user_token(&db.pool, id, "token-hash").await.unwrap();
        // What a later version, or a row written by hand, could leave behind.
        sqlx::query("alter table app_user drop constraint app_user_role_check")
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("update app_user set role = 'superuser'")
            .execute(&db.pool)
            .await
            .unwrap();
        let errors = [
            user_by_name(&db.pool, "ana").await.unwrap_err(),
            token_owner(
                &db.pool,
                "token-hash",
                crate::auth::SESSION_IDLE,
                crate::auth::SESSION_MAX,
            )
            .await
            .unwrap_err(),
        ];
        for err in errors {
            assert!(
                matches!(err, DbError::Other(sqlx::Error::Decode(_))),
                "{err:?}"
            );
            assert!(
                err.to_string()
                    .contains(r#"unexpected value "superuser" in app_user.role"#),
                "{err}"
            );
        }
    }
}
