//! Responses for the people who read them (coordinators and analysts): a questionnaire's
//! responses a page at a time (by cursor, filtered), one response, and its review
//! (coordinators set a state with a comment; the history is kept).
//!
//! What an analyst gets follows the exports' rules ([`crate::export::withhold_personal`]):
//! no answers to personal questions, the location rounded; and on a questionnaire whose
//! setting is `approved_only`, only the approved responses (any other is a 404 to them).
//!
//! ```text
//! GET /api/v1/questionnaires/parole-habitants/responses?review=has_issues&limit=20
//! → {"responses": [{"id", "version", "completed_at", "received_at", "interviewer_name",
//!    "review_state", "interviewer_id", "answers", "location"}…], "next": "r1f4"}
//! ```

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use parole_client::api::{
    Cursor, PersonalData, QuestionnaireSettings, ResponseDetail, ResponseListParams, ResponsePage,
    ResponseSummary, Review, ReviewRequest, ReviewState, Role, MAX_REVIEW_COMMENT_CHARS,
};
use uuid::Uuid;

use super::{filters, ApiJson, ApiPath, ApiQuery, Coordinator, Reader};
use crate::db;
use crate::domain::Slug;
use crate::error::AppError;
use crate::export;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/questionnaires/{slug}/responses",
            get(list_responses),
        )
        .route("/api/v1/questionnaires/{slug}/settings", put(put_settings))
        .route("/api/v1/responses/{id}", get(get_response))
        .route("/api/v1/responses/{id}/review", put(put_review))
}

/// Whether `role` sees only the approved responses of a questionnaire so set.
fn approved_only_for(role: Role, approved_only: bool) -> bool {
    approved_only && role == Role::Analyst
}

/// `GET /api/v1/questionnaires/{slug}/responses` (readers): one page, newest received first.
async fn list_responses(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ResponseListParams>,
) -> Result<Json<ResponsePage>, AppError> {
    let selection = filters::select(&state, &slug, role, None, &params.filter()).await?;
    let limit = params.limit.unwrap_or_default().get();
    // One more than the page: whether there is a next one.
    let mut rows = db::response_page(
        &state.pool,
        selection.questionnaire_id,
        &selection.filter,
        params.after.map(Cursor::seq),
        i64::from(limit) + 1,
    )
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| Cursor::after_seq(r.seq))
    } else {
        None
    };
    let responses = rows
        .into_iter()
        .map(|mut r| {
            if selection.personal == PersonalData::Omit {
                // The single view's rule, with the shapes the selection already holds.
                let shape = selection
                    .shapes
                    .iter()
                    .find(|(v, _)| *v == r.version)
                    .map(|(_, s)| s);
                export::withhold_personal(&mut r.answers, &mut r.location, r.version, shape);
            }
            Ok(ResponseSummary {
                review_state: r.review_state()?,
                id: r.id,
                version: r.version,
                completed_at: r.completed_at,
                received_at: r.received_at,
                interviewer_id: r.interviewer_id,
                interviewer_name: r.interviewer_name,
                answers: r.answers,
                location: r.location,
            })
        })
        .collect::<Result<_, db::DbError>>()?;
    Ok(Json(ResponsePage { responses, next }))
}

/// `GET /api/v1/responses/{id}` (readers).
async fn get_response(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ResponseDetail>, AppError> {
    let mut row = db::response_by_id(&state.pool, id).await?;
    let review = db::review_of(&state.pool, id).await?;
    if approved_only_for(role, row.approved_only) && review.state != ReviewState::Approved {
        // Not there for them: the same answer as no such response.
        return Err(AppError::not_found());
    }
    let personal = export::personal_for(role, None)?;
    if personal == PersonalData::Omit {
        let shape = match db::version(&state.pool, &row.slug, row.version).await? {
            Some(v) => {
                let parsed = state
                    .cache
                    .parsed(&state.pool, &row.slug, [row.version])
                    .await?;
                Some(export::VersionShape::new(
                    &v.document,
                    parsed.get(&row.version).map(|q| &**q),
                ))
            }
            None => None,
        };
        export::withhold_personal(
            &mut row.answers,
            &mut row.location,
            row.version,
            shape.as_ref(),
        );
    }
    Ok(Json(ResponseDetail {
        id: row.id,
        questionnaire: row.slug,
        version: row.version,
        answers: row.answers,
        started_at: row.started_at,
        completed_at: row.completed_at,
        received_at: row.received_at,
        duration_s: row.duration_s,
        device_id: row.device_id,
        device_name: row.device_name,
        interviewer_id: row.interviewer_id,
        interviewer_name: row.interviewer_name,
        location: row.location,
        review,
    }))
}

/// `PUT /api/v1/responses/{id}/review` (coordinator): 200 with the review, newest first.
async fn put_review(
    State(state): State<AppState>,
    Coordinator(user): Coordinator,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReviewRequest>,
) -> Result<Json<Review>, AppError> {
    let comment = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_REVIEW_COMMENT_CHARS) {
        return Err(AppError::field(
            "/comment",
            "max_length",
            &format!("le commentaire doit faire au plus {MAX_REVIEW_COMMENT_CHARS} caractères"),
            &format!("the comment must be at most {MAX_REVIEW_COMMENT_CHARS} characters"),
        ));
    }
    // The summaries' spec of its version, for the rollup's counts.
    let (slug, version) = db::response_version(&state.pool, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let parsed = state.cache.parsed(&state.pool, &slug, [version]).await?;
    let spec = parsed
        .get(&version)
        .map(|q| super::summary::version_spec(q))
        .ok_or_else(AppError::not_found)?;
    db::review_response(&state.pool, id, body.state, comment, user, &spec).await?;
    Ok(Json(db::review_of(&state.pool, id).await?))
}

/// `PUT /api/v1/questionnaires/{slug}/settings` (coordinator): 200 with the settings.
async fn put_settings(
    State(state): State<AppState>,
    Coordinator(_): Coordinator,
    ApiPath(slug): ApiPath<Slug>,
    ApiJson(body): ApiJson<QuestionnaireSettings>,
) -> Result<Json<QuestionnaireSettings>, AppError> {
    db::set_approved_only(&state.pool, slug.as_str(), body.approved_only).await?;
    Ok(Json(body))
}
