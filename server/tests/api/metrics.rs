//! `/metrics`: Prometheus' format, for staff or the scraper's token, with what an operator
//! watches (requests by route and status, sync results, the pool) and nothing personal.

use axum::http::StatusCode;
use parole_client::api::Role;
use parole_server::AppState;
use serde_json::json;

use crate::helpers::*;

/// The value of the sample `name{labels}` (labels in the order written), if there.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn staff_and_the_scraper_read_what_happened_and_no_one_else_does() {
    let db = parole_server::testing::test_db().await;
    let mut state = AppState::new(db.pool.clone());
    state.metrics_token_hash = Some(parole_server::auth::sha256_hex("jeton-du-collecteur"));
    let ctx = Ctx {
        app: parole_server::router(state),
        db,
    };
    let coord = ctx.login_as(Role::Coordinator).await;
    ctx.publish(&coord, "besoins-formation", besoins()).await;
    let (_device, device) = ctx.enrol_device(&coord).await;
    let analyst = ctx.login_as(Role::Analyst).await;

    let accepted = "parole_sync_responses_total{status=\"accepted\"}";
    let rejected = "parole_sync_responses_total{status=\"rejected\"}";
    let before = ctx.get("/metrics", &analyst).await.text();
    let mut bad = response(besoins_answers());
    bad["answers"]["conseil"] = json!("atlantide");
    let good = response(besoins_answers());
    let secret = good["answers"]["formations_suivies"][0]["intitule"].clone();
    let r = ctx.push(&device, vec![good.clone(), bad]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let csv = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.csv",
            &analyst,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);

    let r = ctx.get("/metrics", &analyst).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let after = r.text();
    let delta = |series: &str| {
        sample(&after, series).unwrap_or(0.0) - sample(&before, series).unwrap_or(0.0)
    };
    // Other tests of this binary push too: at least ours.
    assert!(delta(accepted) >= 1.0, "{after}");
    assert!(delta(rejected) >= 1.0, "{after}");
    assert!(
        delta("parole_export_rows_total{format=\"csv\"}") >= 1.0,
        "{after}"
    );
    let pushes = "parole_http_requests_total{method=\"POST\",route=\"/api/v1/sync/responses\",status=\"200\"}";
    assert!(sample(&after, pushes).unwrap_or(0.0) >= 1.0, "{after}");
    assert!(
        after.contains(
            "parole_http_request_duration_seconds_bucket{le=\"+Inf\",method=\"POST\",route=\"/api/v1/sync/responses\"}"
        ),
        "{after}"
    );
    assert!(sample(&after, "parole_db_pool_connections{state=\"max\"}").unwrap() >= 1.0);
    assert!(
        sample(&after, "parole_embedded_postgres_restarts").is_some(),
        "{after}"
    );
    // Route templates only: no id, no answer, no token.
    let id = good["id"].as_str().unwrap();
    for private in [id, secret.as_str().unwrap(), &device, &analyst] {
        assert!(!after.contains(private), "{private} in /metrics");
    }

    // The scraper's token, and nobody else.
    let r = ctx.get("/metrics", "jeton-du-collecteur").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        ctx.get("/metrics", &device).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ctx.get("/metrics", "autre-jeton").await.status,
        StatusCode::UNAUTHORIZED
    );
    let anonymous = ctx
        .call(axum::http::Method::GET, "/metrics", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
