//! Questionnaires (coordinators write, analysts read): the list, a questionnaire's draft and
//! versions, publishing the draft as a new immutable version, one version's document, and
//! retiring a version.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use parole_client::api::{
    CreateQuestionnaireRequest, CreatedQuestionnaire, Published, PutDraftRequest,
    QuestionnaireDetail, QuestionnaireList, QuestionnaireSummary, RetireRequest, Retirement,
    VersionDetail, VersionSummary, MAX_RETIRE_REASON_CHARS,
};
use parole_client::i18n::Message;
use parole_client::Questionnaire;
use serde_json::Value;

use super::{ApiJson, ApiPath, Coordinator, Reader};
use crate::db::{self, DbError};
use crate::domain::Slug;
use crate::error::AppError;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/questionnaires",
            get(list_questionnaires).post(create_questionnaire),
        )
        .route("/api/v1/questionnaires/{slug}", get(get_questionnaire))
        .route("/api/v1/questionnaires/{slug}/draft", put(put_draft))
        .route("/api/v1/questionnaires/{slug}/publish", post(publish))
        .route(
            "/api/v1/questionnaires/{slug}/versions/{n}",
            get(get_version),
        )
        .route(
            "/api/v1/questionnaires/{slug}/versions/{n}/retire",
            post(retire_version),
        )
        // The first name of `…/retire`, kept for the clients that use it.
        .route(
            "/api/v1/questionnaires/{slug}/versions/{n}/revoke",
            post(retire_version),
        )
}

fn summary(v: &db::VersionRow) -> VersionSummary {
    VersionSummary {
        version: v.version,
        title: v.title.clone(),
        published_at: v.published_at,
        retired_at: v.revoked_at,
        retired_reason: v.revoked_reason.clone(),
    }
}

/// Parses a document, 422 with every error by path when it is broken.
fn check_document(document: &Value) -> Result<Questionnaire, AppError> {
    Questionnaire::parse(document).map_err(|errors| {
        let n = errors.len();
        AppError::invalid(
            Message::new(
                format!("questionnaire invalide ({n} erreur(s))"),
                format!("invalid questionnaire ({n} error(s))"),
            ),
            errors,
        )
    })
}

async fn list_questionnaires(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<QuestionnaireList>, AppError> {
    let questionnaires = db::list_questionnaires(&state.pool)
        .await?
        .into_iter()
        .map(|q| QuestionnaireSummary {
            slug: q.slug,
            title: q.title,
            latest_version: q.latest_version,
            published_at: q.published_at,
            created_at: q.created_at,
            updated_at: q.updated_at,
            draft_changed: q.draft_changed,
            responses: q.responses.0,
            last_response_at: q.last_response_at,
        })
        .collect();
    Ok(Json(QuestionnaireList { questionnaires }))
}

async fn create_questionnaire(
    State(state): State<AppState>,
    _: Coordinator,
    ApiJson(req): ApiJson<CreateQuestionnaireRequest>,
) -> Result<(StatusCode, Json<CreatedQuestionnaire>), AppError> {
    let slug =
        Slug::parse(&req.slug).map_err(|m| AppError::field_message("/slug", "pattern", m))?;
    check_document(&req.document)?;
    db::insert_questionnaire(&state.pool, slug.as_str(), &req.document)
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => AppError::Conflict(Message::new(
                format!("le questionnaire « {slug} » existe déjà"),
                format!("questionnaire `{slug}` already exists"),
            )),
            e => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedQuestionnaire {
            slug: slug.as_str().to_string(),
        }),
    ))
}

async fn get_questionnaire(
    State(state): State<AppState>,
    _: Reader,
    ApiPath(slug): ApiPath<Slug>,
) -> Result<Json<QuestionnaireDetail>, AppError> {
    let draft = db::draft(&state.pool, slug.as_str()).await?;
    let versions = db::versions_of(&state.pool, slug.as_str())
        .await?
        .iter()
        .map(summary)
        .collect();
    Ok(Json(QuestionnaireDetail {
        slug: slug.as_str().to_string(),
        draft,
        versions,
    }))
}

async fn put_draft(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(slug): ApiPath<Slug>,
    ApiJson(req): ApiJson<PutDraftRequest>,
) -> Result<StatusCode, AppError> {
    check_document(&req.document)?;
    db::update_draft(&state.pool, slug.as_str(), &req.document).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(slug): ApiPath<Slug>,
) -> Result<(StatusCode, Json<Published>), AppError> {
    let draft = db::draft(&state.pool, slug.as_str()).await?;
    let q = check_document(&draft)?;
    let version = db::publish_version(&state.pool, slug.as_str(), &q.title, &draft).await?;
    Ok((StatusCode::CREATED, Json(Published { version })))
}

async fn get_version(
    State(state): State<AppState>,
    _: Reader,
    ApiPath((slug, n)): ApiPath<(Slug, i32)>,
) -> Result<Json<VersionDetail>, AppError> {
    let v = db::version(&state.pool, slug.as_str(), n)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(VersionDetail {
        slug: v.slug.clone(),
        summary: summary(&v),
        document: v.document,
    }))
}

/// `POST /api/v1/questionnaires/{slug}/versions/{n}/retire` (coordinator): retires a
/// published version, as ODK Central's "closed" forms. The phones stop getting it, and the
/// server refuses the responses filled against it (`version_revoked`); those already stored
/// stay. Idempotent: 200 with the retirement, the first one's time and reason standing.
/// The body (`{"reason": "…"}`) is optional.
async fn retire_version(
    State(state): State<AppState>,
    Coordinator(user): Coordinator,
    ApiPath((slug, n)): ApiPath<(Slug, i32)>,
    body: bytes::Bytes,
) -> Result<Json<Retirement>, AppError> {
    let req: RetireRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetireRequest::default()
    } else {
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| crate::error::json_syntax_error(&e))?;
        crate::error::refuse_nul_characters(&value)?;
        crate::error::from_value_with_path(value).map_err(AppError::one_invalid)?
    };
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_RETIRE_REASON_CHARS) {
        return Err(AppError::field(
            "/reason",
            "max_length",
            &format!("le motif doit faire au plus {MAX_RETIRE_REASON_CHARS} caractères"),
            &format!("the reason must be at most {MAX_RETIRE_REASON_CHARS} characters"),
        ));
    }
    let r = db::retire_version(&state.pool, slug.as_str(), n, reason, user)
        .await
        .map_err(|e| match e {
            DbError::NotFound => AppError::NotFound(Message::new(
                format!("pas de version {n} du questionnaire « {slug} »"),
                format!("no version {n} of questionnaire `{slug}`"),
            )),
            e => e.into(),
        })?;
    Ok(Json(Retirement {
        slug: r.slug,
        version: r.version,
        retired_at: r.revoked_at,
        retired_reason: r.revoked_reason,
    }))
}
