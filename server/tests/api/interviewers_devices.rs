//! Interviewers and devices: enrolment codes, the device list, revoking a device.

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_enrolment_code_enrols_one_device_and_only_once() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let r = ctx
        .post("/api/v1/interviewers", Some(&coord), json!({"name": "Awa"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let v = r.json();
    let code = v["enrolment_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 14);

    // Typed in lower case with spaces: still the same code.
    let typed = code.to_lowercase().replace('-', " ");
    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": typed, "device_name": "Tél"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        ctx.get("/api/v1/sync/questionnaires", &token).await.status,
        StatusCode::OK
    );

    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": code, "device_name": "Tél 2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("code d'inscription"));
    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": "AAAA-BBBB-CCCC", "device_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A fresh code works once; the previous unused one stops working.
    let id = v["id"].as_str().unwrap();
    let c1 = ctx
        .post(
            &format!("/api/v1/interviewers/{id}/enrolment-code"),
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(c1.status, StatusCode::CREATED);
    let c2 = ctx
        .post(
            &format!("/api/v1/interviewers/{id}/enrolment-code"),
            Some(&coord),
            json!({}),
        )
        .await;
    let (c1, c2) = (
        c1.json()["enrolment_code"].clone(),
        c2.json()["enrolment_code"].clone(),
    );
    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": c1, "device_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": c2, "device_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_revoked_device_token_is_refused_at_once() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    assert_eq!(
        ctx.get("/api/v1/sync/questionnaires", &token).await.status,
        StatusCode::OK
    );
    let r = ctx
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{device}"),
            Some(&coord),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/sync/questionnaires", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = ctx.push(&token, vec![response(besoins_answers())]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let list = ctx.get("/api/v1/devices", &coord).await.json();
    assert!(list["devices"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn the_device_list_shows_the_interviewer_last_sync_and_state() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    let list = ctx.get("/api/v1/devices", &coord).await.json();
    assert!(list["devices"][0]["last_sync_at"].is_null());
    ctx.push(&token, vec![response(besoins_answers())]).await;
    let list = ctx.get("/api/v1/devices", &coord).await.json();
    let d = &list["devices"][0];
    assert_eq!(d["id"], device.to_string());
    assert_eq!(d["interviewer_name"], "Awa Diallo");
    assert_eq!(d["name"], "Téléphone 1");
    assert!(d["last_sync_at"].is_string());
    assert_eq!(
        d["device_state"],
        json!({"queued": 0, "drafts": 1, "app_version": "0.1.0", "rejected": 0}),
        "a phone that does not report its refused responses (an older app) counts none"
    );
    // A phone that reports them: what it said is kept.
    ctx.post(
        "/api/v1/sync/responses",
        Some(&token),
        json!({"responses": [], "device_state": {"queued": 0, "drafts": 0, "app_version": "0.2.0", "rejected": 2}}),
    )
    .await;
    let list = ctx.get("/api/v1/devices", &coord).await.json();
    assert_eq!(list["devices"][0]["device_state"]["rejected"], 2);
}
