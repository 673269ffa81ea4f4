//! Exports (coordinators and analysts): `GET /api/v1/questionnaires/{slug}/responses.ndjson`
//! and `….csv`, streamed from a database cursor (see [`crate::export`]), with the query of
//! [`ExportParams`]: `version`, `after`, `personal`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parole_client::api::{ExportParams, Role};
use parole_client::i18n::Message;

use super::{ApiPath, ApiQuery, Reader};
use crate::db;
use crate::domain::Slug;
use crate::error::AppError;
use crate::export::{self, PersonalDataRefused};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/questionnaires/{slug}/responses.ndjson",
            get(export_ndjson),
        )
        .route(
            "/api/v1/questionnaires/{slug}/responses.csv",
            get(export_csv),
        )
}

impl From<PersonalDataRefused> for AppError {
    fn from(e: PersonalDataRefused) -> Self {
        AppError::ForbiddenBecause(e.message())
    }
}

async fn export_ndjson(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Ndjson).await
}

async fn export_csv(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Csv).await
}

async fn export_response(
    state: AppState,
    role: Role,
    slug: Slug,
    params: ExportParams,
    format: export::Format,
) -> Result<Response, AppError> {
    let personal = export::personal_for(role, params.personal)?;
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy {
            message: Message::new(
                "trop d'exports en cours : réessayez dans un moment",
                "too many exports under way: try again in a moment",
            ),
            retry_after: std::time::Duration::from_secs(10),
        })?;
    let version = params.version;
    let slug = slug.as_str().to_string();
    let (id, approved_only) = db::questionnaire_settings(&state.pool, &slug).await?;
    let versions = db::versions_of(&state.pool, &slug).await?;
    if let Some(v) = version {
        if !versions.iter().any(|r| r.version == v) {
            return Err(AppError::NotFound(Message::new(
                format!("pas de version {v}"),
                format!("no version {v}"),
            )));
        }
    }
    let exported: Vec<&db::VersionRow> = versions
        .iter()
        .filter(|r| version.is_none_or(|v| v == r.version))
        .collect();
    // What is personal is decided per version, from its parsed questionnaire (cached).
    let parsed = state
        .cache
        .parsed(&state.pool, &slug, exported.iter().map(|r| r.version))
        .await?;
    let shapes: Vec<(i32, export::VersionShape)> = exported
        .iter()
        .map(|r| {
            let shape =
                export::VersionShape::new(&r.document, parsed.get(&r.version).map(|q| &**q));
            (r.version, shape)
        })
        .collect();
    let columns = export::union_of(shapes.iter().map(|(_, s)| s), personal);
    let (content_type, ext) = match format {
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let until = db::committed_horizon(&state.pool).await?;
    let body = Body::from_stream(export::stream(
        state.pool.clone(),
        export::Plan {
            slug: slug.clone(),
            questionnaire_id: id,
            version,
            after: params.after.unwrap_or(0),
            until,
            format,
            columns,
            personal,
            shapes: shapes.into_iter().collect(),
            approved_only: approved_only && role == Role::Analyst,
        },
        permit,
    ));
    let disposition = format!("attachment; filename=\"{slug}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
