//! Accounts: `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`, `POST /api/v1/users`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use parole_client::api::{CreateUserRequest, CreatedUser, LoginRequest, LoginResponse};
use parole_client::i18n::Message;

use super::{not_locked_out, Admin, ApiJson, ClientAddress, Principal};
use crate::auth::{self, UserError};
use crate::db;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/users", post(create_user))
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
