//! Accounts: signing in and out (`/api/v1/auth/…`), one's own password, and the admin's
//! management of staff accounts (`/api/v1/users…`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use parole_client::api::{
    ChangePasswordRequest, CreateUserRequest, CreatedUser, LoginRequest, LoginResponse, Me, Role,
    UpdateUserRequest, UserList, UserSummary,
};
use parole_client::i18n::Message;
use uuid::Uuid;

use super::{not_locked_out, Admin, ApiJson, ApiPath, ClientAddress, Principal, Reader};
use crate::auth::{self, UserError};
use crate::db;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/password", put(change_password))
        .route("/api/v1/users", post(create_user).get(list_users))
        .route("/api/v1/users/{id}", patch(update_user))
}

/// Failed logins lock out the account and the client's address for a growing while (see
/// [`crate::throttle`]), checked before any password is hashed.
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    let throttles = &state.throttles;
    let account = req.username.to_lowercase();
    not_locked_out(&throttles.login_address, &address)?;
    not_locked_out(&throttles.login_account, &account)?;
    match auth::login(&state.pool, &req.username, &req.password).await? {
        Some((token, role)) => {
            throttles.login_account.succeed(&account);
            Ok(Json(LoginResponse { token, role }))
        }
        None => {
            throttles.login_address.fail(&address);
            throttles.login_account.fail(&account);
            Err(AppError::Unauthorized(Message::new(
                "identifiant ou mot de passe incorrect",
                "wrong username or password",
            )))
        }
    }
}

async fn logout(State(state): State<AppState>, p: Principal) -> Result<StatusCode, AppError> {
    db::revoke_token(&state.pool, &p.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreatedUser>), AppError> {
    let id = auth::create_user(&state.pool, &req.username, req.role, &req.password).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            id,
            username: req.username,
            role: req.role,
        }),
    ))
}

/// The staff member a session belongs to (a device's token: 403).
fn staff(p: &Principal) -> Result<(Uuid, String, Role), AppError> {
    match &p.owner {
        db::TokenOwner::User { id, username, role } => Ok((*id, username.clone(), *role)),
        db::TokenOwner::Device { .. } => Err(AppError::Forbidden),
    }
}

async fn me(p: Principal) -> Result<Json<Me>, AppError> {
    let (id, username, role) = staff(&p)?;
    Ok(Json(Me { id, username, role }))
}

/// One's own password, given the current one (a wrong one counts as a failed login for the
/// account's lock-out). The asking session stays; the account's other sessions end.
async fn change_password(
    State(state): State<AppState>,
    _: Reader,
    p: Principal,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, AppError> {
    let (id, username, _) = staff(&p)?;
    let throttle = &state.throttles.login_account;
    not_locked_out(throttle, &username)?;
    let hash = db::password_hash_of(&state.pool, id).await?;
    if !auth::check_password(&req.current_password, hash).await? {
        throttle.fail(&username);
        return Err(AppError::field_message(
            "/current_password",
            "wrong_password",
            Message::new(
                "le mot de passe actuel n'est pas le bon",
                "the current password is wrong",
            ),
        ));
    }
    let new_hash = auth::new_password_hash(&req.new_password)
        .await
        .map_err(|e| match e {
            UserError::WeakPassword => {
                AppError::field_message("/new_password", "min_length", e.message())
            }
            e => e.into(),
        })?;
    db::change_own_password(&state.pool, id, &new_hash, &p.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(State(state): State<AppState>, _: Admin) -> Result<Json<UserList>, AppError> {
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let users = db::list_users(&state.pool)
        .await?
        .into_iter()
        .map(|u| UserSummary {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            created_at: time(u.created_at),
            last_seen_at: u.last_seen_at.map(time),
        })
        .collect();
    Ok(Json(UserList { users }))
}

/// An admin changes an account's role, disables or enables it, or resets its password. An
/// admin cannot disable or demote their own account (someone must stay able to manage
/// accounts), and interviewers are not staff accounts (404).
async fn update_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<StatusCode, AppError> {
    if req.role == Some(Role::Interviewer) {
        return Err(AppError::field_message(
            "/role",
            "enum",
            Message::new(
                "un compte du personnel est admin, coordinator ou analyst (les enquêteurs ont des \
                 codes d'inscription, pas de compte)",
                "a staff account is admin, coordinator or analyst (interviewers get enrolment \
                 codes, not accounts)",
            ),
        ));
    }
    let demoted = req.role.is_some_and(|r| r != Role::Admin);
    if id == me && (req.disabled == Some(true) || demoted) {
        return Err(AppError::Conflict(Message::new(
            "vous ne pouvez pas désactiver votre propre compte ni lui retirer le rôle admin : \
             demandez-le à un autre admin",
            "you cannot disable your own account or take the admin role from it: ask another \
             admin",
        )));
    }
    let password_hash =
        match &req.password {
            Some(password) => Some(auth::new_password_hash(password).await.map_err(
                |e| match e {
                    UserError::WeakPassword => {
                        AppError::field_message("/password", "min_length", e.message())
                    }
                    e => e.into(),
                },
            )?),
            None => None,
        };
    let change = db::UserChange {
        role: req.role,
        disabled: req.disabled,
        password_hash,
    };
    db::update_user(&state.pool, id, &change).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<UserError> for AppError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Exists(_) => AppError::Conflict(e.message()),
            UserError::BadUsername => AppError::field_message("/username", "format", e.message()),
            UserError::WeakPassword => {
                AppError::field_message("/password", "min_length", e.message())
            }
            UserError::Other(e) => AppError::Internal(e),
        }
    }
}
