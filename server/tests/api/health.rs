//! Health checks, and the JSON 404 of an unknown route.

use axum::http::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_a_database() {
    let ctx = Ctx::new().await;
    assert_eq!(
        ctx.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        ctx.call(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn readyz_answers_503_when_the_database_is_gone() {
    let ctx = Ctx::new().await;
    ctx.db.pool.close().await;
    assert_eq!(
        ctx.call(Method::GET, "/readyz", None, None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        ctx.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let ctx = Ctx::new().await;
    let r = ctx.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());
}
