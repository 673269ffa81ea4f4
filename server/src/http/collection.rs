//! `GET /api/v1/questionnaires/{slug}/collection` (coordinator): how the collection of a
//! questionnaire goes: responses per day and per interviewer, the median interview
//! duration, responses still waiting for their photos.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parole_client::api::Collection;

use super::{ApiPath, Coordinator};
use crate::db;
use crate::domain::Slug;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/questionnaires/{slug}/collection", get(collection))
}

async fn collection(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(slug): ApiPath<Slug>,
) -> Result<Json<Collection>, AppError> {
    Ok(Json(db::collection(&state.pool, slug.as_str()).await?))
}
