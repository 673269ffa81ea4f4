//! Accounts: logging in and out, the first admin, tokens and each role's rights.

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn logging_in_with_the_right_password_gives_a_token_and_the_role() {
    let ctx = Ctx::new().await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "camille", "password": "un mot de passe"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["role"], "analyst");
    assert_eq!(v["token"].as_str().unwrap().len(), 64);
    // The token works.
    let r = ctx
        .get("/api/v1/questionnaires", v["token"].as_str().unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn logging_in_with_a_wrong_password_or_unknown_user_is_401() {
    let ctx = Ctx::new().await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    for (u, p) in [("camille", "mauvais"), ("personne", "un mot de passe")] {
        let r = ctx
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": u, "password": p}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.json()["error"].as_str().unwrap().contains("mot de passe"));
    }
}

#[tokio::test]
async fn ensure_admin_creates_the_admin_once_and_returns_a_generated_password() {
    let ctx = Ctx::new().await;
    let pw = parole_server::ensure_admin(&ctx.db.pool, None)
        .await
        .unwrap()
        .unwrap();
    assert!(pw.len() >= 16);
    assert_eq!(
        parole_server::ensure_admin(&ctx.db.pool, None)
            .await
            .unwrap(),
        None
    );
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": pw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["role"], "admin");
}

#[tokio::test]
async fn the_given_admin_password_is_used_and_not_returned() {
    let ctx = Ctx::new().await;
    let out = parole_server::ensure_admin(&ctx.db.pool, Some("secret-admin-pw".into()))
        .await
        .unwrap();
    assert_eq!(out, None);
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "secret-admin-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn calls_without_a_valid_token_are_401() {
    let ctx = Ctx::new().await;
    let r = ctx
        .call(Method::GET, "/api/v1/questionnaires", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].is_string());
    let r = ctx.get("/api/v1/questionnaires", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = ctx.get("/api/v1/sync/questionnaires", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_role_gets_403_outside_its_rights() {
    let (ctx, coord, _device, device_token) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let interviewer = ctx.login_as(Role::Interviewer).await;
    let admin = ctx.login_as(Role::Admin).await;
    let user_body = json!({"username": "x1", "password": "12345678", "role": "analyst"});
    let q_body = json!({"slug": "nouveau", "document": besoins()});

    // Only the admin creates users (coordinator: 403), whatever the body.
    for t in [&coord, &analyst, &interviewer, &device_token] {
        let r = ctx.post("/api/v1/users", Some(t), user_body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }
    let r = ctx.post("/api/v1/users", Some(&admin), user_body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Analysts read and export but do not write; devices and interviewer users neither.
    for t in [&analyst, &interviewer, &device_token] {
        let r = ctx
            .post("/api/v1/questionnaires", Some(t), q_body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx
            .post("/api/v1/interviewers", Some(t), json!({"name": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx.get("/api/v1/devices", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    for t in [&interviewer, &device_token] {
        let r = ctx.get("/api/v1/questionnaires", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx
            .get("/api/v1/questionnaires/besoins-formation/responses.csv", t)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &analyst,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Only devices sync.
    for t in [&coord, &analyst, &admin] {
        let r = ctx.get("/api/v1/sync/questionnaires", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx.push(t, vec![]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    // The admin can do what a coordinator can.
    let r = ctx
        .post("/api/v1/questionnaires", Some(&admin), q_body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_logged_out_token_stops_working() {
    let ctx = Ctx::new().await;
    let t = ctx.login_as(Role::Coordinator).await;
    let r = ctx.post("/api/v1/auth/logout", Some(&t), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/questionnaires", &t).await.status,
        StatusCode::UNAUTHORIZED
    );
}
