//! Folding the responses into the summaries' rollup (`summary_count`, see
//! [`db::fold_summaries`]), in the background: every [`FOLD_EVERY`], each questionnaire
//! with at least [`FOLD_AT_LEAST`] responses past its rollup is folded up to the committed
//! horizon. A summary reads the rollup and the responses past it, so the rollup only has to
//! be near, never exact: between two folds, the responses past it are read as they are.
//!
//! Several replicas may fold at once: each questionnaire's fold takes its advisory lock, and
//! the second finds nothing left.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::PgPool;

use crate::db;
use crate::http::summary::version_spec;
use crate::sync::QuestionnaireCache;

/// How often the server looks for responses to fold.
pub const FOLD_EVERY: Duration = Duration::from_secs(10);

/// The fewest responses past a questionnaire's rollup worth a fold: fewer are read at
/// each summary at little cost.
pub const FOLD_AT_LEAST: i64 = 500;

/// The most responses folded in one transaction, which holds the questionnaire's rollup
/// lock: a review of one of its responses waits for it. The usual fold (the few hundred
/// responses of the last seconds) takes a fraction of a second; a backlog (an upgrade, a
/// million arriving at once) is folded in transactions of under a second each on the
/// 2-core build machine. It also bounds the fold's hash tables (see
/// [`db::fold_summaries`]).
const CHUNK: i64 = 10_000;

/// Folds every questionnaire with at least `at_least` responses past its rollup; returns
/// how many responses it folded. A questionnaire that fails (its versions unreadable, the
/// database gone mid-way) is logged and left for the next round; the others go on.
pub async fn fold_all(
    pool: &PgPool,
    cache: &QuestionnaireCache,
    at_least: i64,
) -> anyhow::Result<i64> {
    let due = db::questionnaires_to_fold(pool, at_least).await?;
    if due.is_empty() {
        return Ok(0);
    }
    // Only then: it waits for the ingests in flight.
    let horizon = db::committed_horizon(pool).await?;
    let mut folded = 0;
    for (questionnaire_id, slug, versions) in due {
        let one = async {
            let parsed = cache.parsed(pool, &slug, versions).await?;
            let specs: HashMap<i32, db::SummarySpec> =
                parsed.iter().map(|(v, q)| (*v, version_spec(q))).collect();
            anyhow::Ok(db::fold_summaries(pool, questionnaire_id, &specs, horizon, CHUNK).await?)
        };
        match one.await {
            Ok(n) => folded += n,
            Err(e) => {
                tracing::warn!(questionnaire = %slug, error = %e, "folding the summaries' rollup")
            }
        }
    }
    Ok(folded)
}

/// [`fold_all`] every [`FOLD_EVERY`], for as long as the server runs.
pub async fn fold_forever(pool: PgPool, cache: std::sync::Arc<QuestionnaireCache>) {
    let mut every = tokio::time::interval(FOLD_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match fold_all(&pool, &cache, FOLD_AT_LEAST).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(responses = n, "folded into the summaries' rollup"),
            Err(e) => tracing::warn!(error = %e, "folding the summaries' rollup"),
        }
    }
}
