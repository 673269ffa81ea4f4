//! The filters shared by the responses page, the exports and the summaries
//! (`version`, `from`, `to`, `interviewer`, `review`, `where=question:value`…), resolved
//! against a questionnaire for one reader: its versions' shapes and columns, the `where`
//! questions turned into paths, and what the reader's role imposes (personal data,
//! `approved_only`).

use parole_client::api::{PersonalData, ResponseFilter, Role};
use parole_client::i18n::Message;

use crate::db;
use crate::domain::Slug;
use crate::error::AppError;
use crate::export::{self, Column, VersionShape};
use crate::AppState;

/// A questionnaire's responses as one reader may see them, filtered.
pub(super) struct Selection {
    pub slug: String,
    pub questionnaire_id: i64,
    pub filter: db::Filter,
    pub personal: PersonalData,
    /// The selected versions (all, or the one asked for) and their shapes, oldest first.
    pub shapes: Vec<(i32, VersionShape)>,
    /// The union of their columns, without those personal in every version when personal
    /// data is omitted.
    pub columns: Vec<Column>,
}

/// Resolves `filter` on questionnaire `slug` for a reader of `role` who asked for
/// `personal` (`None`: by role). 404 for an unknown questionnaire or version, 400 naming a
/// `where` question that cannot be filtered on, 403 for an analyst asking for personal data
/// or filtering on a personal answer.
pub(super) async fn select(
    state: &AppState,
    slug: &Slug,
    role: Role,
    personal: Option<PersonalData>,
    filter: &ResponseFilter,
) -> Result<Selection, AppError> {
    let personal = export::personal_for(role, personal)?;
    let slug = slug.as_str().to_string();
    let (id, approved_only) = db::questionnaire_settings(&state.pool, &slug).await?;
    let versions = db::versions_of(&state.pool, &slug).await?;
    if let Some(v) = filter.version {
        if !versions.iter().any(|r| r.version == v) {
            return Err(AppError::NotFound(Message::new(
                format!("pas de version {v}"),
                format!("no version {v}"),
            )));
        }
    }
    let selected: Vec<&db::VersionRow> = versions
        .iter()
        .filter(|r| filter.version.is_none_or(|v| v == r.version))
        .collect();
    // What is personal is decided per version, from its parsed questionnaire (cached).
    let parsed = state
        .cache
        .parsed(&state.pool, &slug, selected.iter().map(|r| r.version))
        .await?;
    let shapes: Vec<(i32, VersionShape)> = selected
        .iter()
        .map(|r| {
            let shape = VersionShape::new(&r.document, parsed.get(&r.version).map(|q| &**q));
            (r.version, shape)
        })
        .collect();
    let columns = export::union_of(shapes.iter().map(|(_, s)| s), personal);
    if personal == PersonalData::Omit {
        if let Some(w) = filter.where_.iter().find(|w| {
            shapes
                .iter()
                .flat_map(|(_, s)| &s.columns)
                .any(|c| c.name == w.question && c.personal)
        }) {
            return Err(AppError::ForbiddenBecause(Message::new(
                format!(
                    "where : « {} » est une donnée personnelle, réservée aux coordinateurs",
                    w.question
                ),
                format!(
                    "where: `{}` is personal data, for coordinators only",
                    w.question
                ),
            )));
        }
    }
    let answers = export::resolve_where(&columns, &filter.where_).map_err(AppError::BadRequest)?;
    Ok(Selection {
        slug,
        questionnaire_id: id,
        filter: db::Filter {
            version: filter.version,
            from: filter.from,
            to: filter.to,
            interviewer: filter.interviewer,
            review: filter.review,
            answers,
            approved_only: approved_only && role == Role::Analyst,
        },
        personal,
        shapes,
        columns,
    })
}
