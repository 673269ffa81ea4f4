//! Questionnaires (coordinators write, analysts read): the list, a questionnaire's draft and
//! versions, saving the draft (with its revision, so two editors never silently overwrite
//! each other), what publishing it would change, publishing it as a new immutable version
//! (refused when it would make the responses already received unreadable), one version's
//! document, and retiring a version.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use parole_client::api::{
    CreateQuestionnaireRequest, CreatedQuestionnaire, Published, PutDraftRequest,
    QuestionnaireChanges, QuestionnaireDetail, QuestionnaireList, QuestionnaireSummary,
    RetireRequest, Retirement, SavedDraft, VersionDetail, VersionSummary, BREAKING_CHANGE,
    DRAFT_CONFLICT, MAX_RETIRE_REASON_CHARS,
};
use parole_client::changes::changes_since;
use parole_client::i18n::Message;
use parole_client::{Questionnaire, ValidationError};
use serde_json::{json, Value};

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
        .route("/api/v1/questionnaires/{slug}/changes", get(get_changes))
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
    Coordinator(user): Coordinator,
    ApiJson(req): ApiJson<CreateQuestionnaireRequest>,
) -> Result<(StatusCode, Json<CreatedQuestionnaire>), AppError> {
    let slug =
        Slug::parse(&req.slug).map_err(|m| AppError::field_message("/slug", "pattern", m))?;
    check_document(&req.document)?;
    db::insert_questionnaire(&state.pool, slug.as_str(), &req.document, user)
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
    let draft = db::draft_of(&state.pool, slug.as_str()).await?;
    let (_, approved_only) = db::questionnaire_settings(&state.pool, slug.as_str()).await?;
    let versions = db::versions_of(&state.pool, slug.as_str())
        .await?
        .iter()
        .map(summary)
        .collect();
    Ok(Json(QuestionnaireDetail {
        slug: slug.as_str().to_string(),
        draft: draft.draft,
        draft_revision: draft.revision,
        draft_updated_at: draft.updated_at,
        draft_updated_by: draft.updated_by,
        versions,
        approved_only,
    }))
}

/// `PUT /api/v1/questionnaires/{slug}/draft` (coordinator): 200 `{"revision": N}`. With
/// `base_revision`, a 409 `draft_conflict` when someone saved the draft since then, nothing
/// saved.
async fn put_draft(
    State(state): State<AppState>,
    Coordinator(user): Coordinator,
    ApiPath(slug): ApiPath<Slug>,
    ApiJson(req): ApiJson<PutDraftRequest>,
) -> Result<Json<SavedDraft>, AppError> {
    check_document(&req.document)?;
    match db::update_draft(
        &state.pool,
        slug.as_str(),
        &req.document,
        req.base_revision,
        user,
    )
    .await?
    {
        db::DraftSaved::Saved(revision) => Ok(Json(SavedDraft { revision })),
        db::DraftSaved::Stale(now) => Err(draft_conflict(&now, req.base_revision)),
    }
}

/// Someone saved the draft since `base`: who and when, and what to do.
fn draft_conflict(now: &db::Draft, base: Option<i64>) -> AppError {
    let revision = now.revision;
    let (by_fr, by_en) = match &now.updated_by {
        Some(name) => (format!("par {name}"), format!("by {name}")),
        None => ("par quelqu'un d'autre".into(), "by someone else".into()),
    };
    let (at_fr, at_en) = (
        now.updated_at.format("le %d/%m/%Y à %H:%M UTC"),
        now.updated_at.format("on %Y-%m-%d at %H:%M UTC"),
    );
    let message = match base {
        Some(base) if base > revision => Message::new(
            format!(
                "Ce brouillon n'a pas de révision {base} (il en est à la {revision}) : rien \
                 n'a été enregistré. Rechargez-le, puis refaites vos changements."
            ),
            format!(
                "This draft has no revision {base} (it is at {revision}): nothing was saved. \
                 Reload it, then make your changes again."
            ),
        ),
        _ => Message::new(
            format!(
                "Ce brouillon a été modifié {by_fr} {at_fr} depuis que vous l'avez ouvert \
                 (il en est à la révision {revision}) : rien n'a été enregistré. Rechargez-le \
                 pour voir ses changements, puis refaites les vôtres."
            ),
            format!(
                "This draft was changed {by_en} {at_en} since you opened it (it is now at \
                 revision {revision}): nothing was saved. Reload it to see their changes, then \
                 make yours again."
            ),
        ),
    };
    let errors = vec![ValidationError::new(
        "/base_revision",
        DRAFT_CONFLICT,
        message.clone(),
    )];
    let details = json!({
        "revision": revision,
        "updated_at": now.updated_at,
        "updated_by": now.updated_by,
    });
    AppError::conflict_with(DRAFT_CONFLICT, message, errors, Some(details))
}

/// What publishing `draft` would change: compared with the latest published version, and
/// its keys with every earlier version's (the export's columns span them all). A version
/// today's code cannot parse (none should) is left out.
fn draft_changes(draft: &Questionnaire, versions: &[db::VersionRow]) -> QuestionnaireChanges {
    let parsed: Vec<(i32, Questionnaire)> = versions
        .iter()
        .filter_map(|v| Some((v.version, Questionnaire::parse(&v.document).ok()?)))
        .collect();
    let published: Vec<(i32, &Questionnaire)> = parsed.iter().map(|(n, q)| (*n, q)).collect();
    let changes = changes_since(&published, draft);
    QuestionnaireChanges {
        base_version: published.last().map(|(n, _)| *n),
        changes: changes.changes,
        breaking: changes.breaking,
    }
}

/// `GET /api/v1/questionnaires/{slug}/changes` (coordinator): what publishing the draft
/// would change, the breaking changes apart.
async fn get_changes(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(slug): ApiPath<Slug>,
) -> Result<Json<QuestionnaireChanges>, AppError> {
    let draft = db::draft(&state.pool, slug.as_str()).await?;
    let versions = db::versions_of(&state.pool, slug.as_str()).await?;
    let q = check_document(&draft)?;
    Ok(Json(draft_changes(&q, &versions)))
}

/// `POST /api/v1/questionnaires/{slug}/publish` (coordinator): 201 with the version and
/// what changed; 409 `breaking_change` with each breaking change, nothing published. The
/// check and the insert hold the questionnaire's row: what is checked is what is published.
async fn publish(
    State(state): State<AppState>,
    _: Coordinator,
    ApiPath(slug): ApiPath<Slug>,
) -> Result<(StatusCode, Json<Published>), AppError> {
    let publication = db::begin_publication(&state.pool, slug.as_str()).await?;
    let q = check_document(&publication.draft)?;
    let changes = draft_changes(&q, &publication.versions);
    if !changes.breaking.is_empty() {
        let n = changes.breaking.len();
        return Err(AppError::conflict_with(
            BREAKING_CHANGE,
            Message::new(
                format!(
                    "Publication refusée : {n} changement(s) rendraient illisibles les \
                     réponses déjà reçues (voir chacun ci-dessous, avec la marche à suivre)"
                ),
                format!(
                    "Not published: {n} change(s) would make the responses already received \
                     unreadable (see each below, with the way out)"
                ),
            ),
            changes
                .breaking
                .into_iter()
                .map(|c| ValidationError::new(c.path, "type_changed", c.message))
                .collect(),
            changes.base_version.map(|n| json!({"base_version": n})),
        ));
    }
    let version = publication.publish(&q.title).await?;
    Ok((
        StatusCode::CREATED,
        Json(Published {
            version,
            changes: changes.changes,
        }),
    ))
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
