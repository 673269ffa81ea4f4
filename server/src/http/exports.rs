//! Exports (coordinators and analysts): `GET /api/v1/questionnaires/{slug}/responses.ndjson`,
//! `….csv` and `….xlsx`, streamed from a database cursor (see [`crate::export`]), with the query of
//! [`ExportParams`]: `after`, `personal` and the filters of the responses page
//! ([`super::filters`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parole_client::api::{ExportParams, Role};
use parole_client::i18n::Message;

use super::{filters, ApiPath, ApiQuery, Reader};
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
        .route(
            "/api/v1/questionnaires/{slug}/responses.xlsx",
            get(export_xlsx),
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

async fn export_xlsx(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Xlsx).await
}

async fn export_response(
    state: AppState,
    role: Role,
    slug: Slug,
    params: ExportParams,
    format: export::Format,
) -> Result<Response, AppError> {
    let selection = filters::select(&state, &slug, role, params.personal, &params.filter()).await?;
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
    let slug = selection.slug.clone();
    let (content_type, ext) = match format {
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
        export::Format::Xlsx => (export::xlsx::CONTENT_TYPE, "xlsx"),
    };
    let until = db::committed_horizon(&state.pool).await?;
    let plan = export::Plan {
        slug: selection.slug,
        questionnaire_id: selection.questionnaire_id,
        filter: selection.filter,
        after: params.after.unwrap_or(0),
        until,
        format,
        columns: selection.columns,
        personal: selection.personal,
        shapes: selection.shapes.into_iter().collect(),
    };
    let body = if format == export::Format::Xlsx {
        // Labels and types for the codebook, from the cached parsed versions.
        let parsed = state
            .cache
            .parsed(&state.pool, &plan.slug, plan.shapes.keys().copied())
            .await?;
        let layout = export::xlsx::Layout::new(&plan, &parsed);
        Body::from_stream(export::xlsx::stream(
            state.pool.clone(),
            plan,
            layout,
            permit,
        ))
    } else {
        Body::from_stream(export::stream(state.pool.clone(), plan, permit))
    };
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
