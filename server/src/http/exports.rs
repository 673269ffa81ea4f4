//! Exports (coordinators and analysts): `GET /api/v1/questionnaires/{slug}/responses.ndjson`,
//! `….csv`, `….xlsx`, `….geojson` and `GET /api/v1/questionnaires/{slug}/photos.zip`, streamed from a
//! database cursor (see [`crate::export`]), with the query of [`ExportParams`]: `after`,
//! `personal`, the filters of the responses page ([`super::filters`]), and how CSV and
//! GeoJSON write answers (`sep`, `labels`, `repeat`).

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
        .route(
            "/api/v1/questionnaires/{slug}/responses.geojson",
            get(export_geojson),
        )
        .route(
            "/api/v1/questionnaires/{slug}/photos.zip",
            get(export_photos),
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

async fn export_geojson(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, AppError> {
    export_response(state, role, slug, params, export::Format::Geojson).await
}

/// How CSV and GeoJSON write their answers, from the query: `sep`, `labels` (a language
/// of the questionnaire, or `fr` / `en`; 400 otherwise), `repeat` (CSV only; 400 naming a
/// name that is no repeat of the exported columns).
fn options(
    params: &ExportParams,
    selection: &filters::Selection,
    format: export::Format,
) -> Result<export::Options, AppError> {
    let languages: Vec<&str> = selection
        .shapes
        .iter()
        .flat_map(|(_, s)| s.languages.iter().map(String::as_str))
        .collect();
    let labels = match params.labels.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(lang) if lang == "fr" || lang == "en" || languages.contains(&lang) => {
            // The newest exported version's default language.
            let default_lang = selection
                .shapes
                .iter()
                .rev()
                .find_map(|(_, s)| s.languages.first())
                .cloned()
                .unwrap_or_else(|| "fr".to_string());
            Some(export::Labels {
                lang: lang.to_string(),
                default_lang,
            })
        }
        Some(lang) => {
            let mut known = vec!["fr", "en"];
            for l in languages {
                if !known.contains(&l) {
                    known.push(l);
                }
            }
            return Err(AppError::BadRequest(Message::new(
                format!(
                    "labels : pas d'étiquettes en « {lang} » (langues : {})",
                    known.join(", ")
                ),
                format!(
                    "labels: no labels in `{lang}` (languages: {})",
                    known.join(", ")
                ),
            )));
        }
    };
    let repeat = match params.repeat.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(name) => match selection
            .columns
            .iter()
            .find(|c| c.name == name && c.is_repeat())
        {
            Some(c) if format == export::Format::Csv => Some(c.clone()),
            Some(_) => {
                return Err(AppError::BadRequest(Message::new(
                    "repeat : seulement pour le CSV",
                    "repeat: for CSV only",
                )))
            }
            None => {
                let repeats: Vec<&str> = selection
                    .columns
                    .iter()
                    .filter(|c| c.is_repeat())
                    .map(|c| c.name.as_str())
                    .collect();
                let list = if repeats.is_empty() {
                    "—".to_string()
                } else {
                    repeats.join(", ")
                };
                return Err(AppError::BadRequest(Message::new(
                    format!(
                        "repeat : pas de liste répétée « {name} » dans ce questionnaire \
                         (listes : {list})"
                    ),
                    format!("repeat: no repeat `{name}` in this questionnaire (repeats: {list})"),
                )));
            }
        },
    };
    Ok(export::Options {
        sep: params.sep.unwrap_or_default().byte(),
        labels,
        repeat,
    })
}

/// One of the exports' share of the pool, or 503.
fn export_permit(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy {
            message: Message::new(
                "trop d'exports en cours : réessayez dans un moment",
                "too many exports under way: try again in a moment",
            ),
            retry_after: std::time::Duration::from_secs(10),
        })
}

async fn export_photos(
    State(state): State<AppState>,
    Reader(_, role): Reader,
    ApiPath(slug): ApiPath<Slug>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, AppError> {
    let selection = filters::select(&state, &slug, role, params.personal, &params.filter()).await?;
    let permit = export_permit(&state)?;
    let until = db::committed_horizon(&state.pool).await?;
    let body = Body::from_stream(export::photos::stream(
        state.pool.clone(),
        export::photos::PhotoPlan {
            questionnaire_id: selection.questionnaire_id,
            filter: selection.filter,
            after: params.after.unwrap_or(0),
            until,
            personal: selection.personal,
        },
        permit,
    ));
    let disposition = format!("attachment; filename=\"{}-photos.zip\"", selection.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

async fn export_response(
    state: AppState,
    role: Role,
    slug: Slug,
    params: ExportParams,
    format: export::Format,
) -> Result<Response, AppError> {
    let selection = filters::select(&state, &slug, role, params.personal, &params.filter()).await?;
    let options = options(&params, &selection, format)?;
    let permit = export_permit(&state)?;
    let slug = match &options.repeat {
        Some(r) => format!("{}-{}", selection.slug, r.name),
        None => selection.slug.clone(),
    };
    let (content_type, ext) = match format {
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
        export::Format::Geojson => ("application/geo+json", "geojson"),
        export::Format::Xlsx => (export::xlsx::CONTENT_TYPE, "xlsx"),
    };
    let until = db::committed_horizon(&state.pool).await?;
    // The replica, if any, once it holds everything up to `until`.
    let pool = state.read_pool().await;
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
        options,
    };
    let body = if format == export::Format::Xlsx {
        // Labels and types for the codebook, from the cached parsed versions.
        let parsed = state
            .cache
            .parsed(&state.pool, &plan.slug, plan.shapes.keys().copied())
            .await?;
        let layout = export::xlsx::Layout::new(&plan, &parsed);
        Body::from_stream(export::xlsx::stream(pool, plan, layout, permit))
    } else {
        Body::from_stream(export::stream(pool, plan, permit))
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
