//! Router tests against a real PostgreSQL, a fresh database per test.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use parole_client::api::{Role, MAX_BATCH_BYTES, MAX_BATCH_RESPONSES};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Accounts

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

// ---------------------------------------------------------------------------------------------
// Questionnaires

#[tokio::test]
async fn publishing_freezes_numbered_versions_listed_with_the_latest() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    assert_eq!(ctx.publish(&coord, "besoins-formation", besoins()).await, 1);
    let mut v2 = besoins();
    v2["title"] = json!("Besoins de formation, 2e vague");
    assert_eq!(ctx.publish(&coord, "besoins-formation", v2).await, 2);

    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/versions/1",
            &coord,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["document"], besoins());
    // The key order of the questions is kept (json, not jsonb).
    let keys: Vec<_> = v["document"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let expected: Vec<_> = besoins()["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, expected);

    let list = ctx.get("/api/v1/questionnaires", &coord).await.json();
    let q = &list["questionnaires"][0];
    assert_eq!(q["slug"], "besoins-formation");
    assert_eq!(q["latest_version"], 2);
    assert_eq!(q["title"], "Besoins de formation, 2e vague");

    assert_eq!(
        ctx.get(
            "/api/v1/questionnaires/besoins-formation/versions/3",
            &coord
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_invalid_document_is_refused_with_422_and_the_paths() {
    // Needs the real `Questionnaire::parse` (client-core): fails while it is a stub.
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let mut doc = besoins();
    doc["properties"]["Bad Key"] = json!({"type": "string"});
    doc["properties"]["role"]["type"] = json!("not-a-type");
    let r = ctx
        .post(
            "/api/v1/questionnaires",
            Some(&coord),
            json!({"slug": "casse", "document": doc}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let v = r.json();
    assert!(v["error"].is_string());
    let errors = v["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        for k in ["path", "code", "message", "message_en"] {
            assert!(e[k].is_string(), "{e}");
        }
    }
    assert!(
        errors
            .iter()
            .any(|e| e["path"].as_str().unwrap().contains("role")),
        "{v}"
    );
}

#[tokio::test]
async fn a_bad_slug_is_422_and_a_duplicate_slug_is_409() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    for bad in ["Besoins", "-x", "a_b", ""] {
        let r = ctx
            .post(
                "/api/v1/questionnaires",
                Some(&coord),
                json!({"slug": bad, "document": besoins()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.json()["errors"][0]["path"], "/slug");
    }
    let body = json!({"slug": "besoins", "document": besoins()});
    assert_eq!(
        ctx.post("/api/v1/questionnaires", Some(&coord), body.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let r = ctx.post("/api/v1/questionnaires", Some(&coord), body).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["error"].as_str().unwrap().contains("existe déjà"));
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_422_naming_the_field() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let r = ctx
        .post(
            "/api/v1/questionnaires",
            Some(&coord),
            json!({"slug": 3, "document": {}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/slug");
    let r = ctx
        .post("/api/v1/questionnaires", Some(&coord), json!({"slug": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/document");
}

// ---------------------------------------------------------------------------------------------
// Interviewers and devices

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
        json!({"queued": 0, "drafts": 1, "app_version": "0.1.0"})
    );
}

// ---------------------------------------------------------------------------------------------
// Sync: questionnaires

#[tokio::test]
async fn the_sync_list_has_a_strong_etag_and_answers_304_when_it_matches() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let r = ctx.get("/api/v1/sync/questionnaires", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["questionnaires"][0]["slug"], "besoins-formation");
    assert_eq!(v["questionnaires"][0]["version"], 1);
    assert_eq!(
        v["questionnaires"][0]["title"],
        "Besoins de formation des conseillers citoyens"
    );
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));

    let r = ctx
        .raw(
            Method::GET,
            "/api/v1/sync/questionnaires",
            Some(&token),
            &[("if-none-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.bytes.is_empty());

    // A new version changes the tag.
    ctx.publish(&coord, "besoins-formation", besoins()).await;
    let r = ctx
        .raw(
            Method::GET,
            "/api/v1/sync/questionnaires",
            Some(&token),
            &[("if-none-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["questionnaires"][0]["version"], 2);
    assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
}

// ---------------------------------------------------------------------------------------------
// Sync: responses

fn results(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["results"].as_array().unwrap().clone()
}

async fn stored_count(ctx: &Ctx) -> i64 {
    sqlx::query_scalar("select count(*) from response")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_mixing_valid_and_invalid_items_stores_the_valid_ones() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let good1 = response(besoins_answers());
    let mut bad_time = response(besoins_answers());
    bad_time["started_at"] = json!("14/03/2025 18:30");
    let good2 = response(besoins_answers());
    let res = results(
        &ctx.push(&token, vec![good1.clone(), bad_time.clone(), good2.clone()])
            .await,
    );
    assert_eq!(res.len(), 3);
    assert_eq!(res[0]["status"], "accepted");
    assert_eq!(res[0]["id"], good1["id"]);
    assert_eq!(res[0]["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(res[1]["status"], "rejected");
    assert_eq!(res[1]["id"], bad_time["id"]);
    assert_eq!(res[1]["errors"][0]["path"], "/started_at");
    assert_eq!(res[1]["errors"][0]["code"], "format");
    assert!(res[1].get("content_hash").is_none());
    assert_eq!(res[2]["status"], "accepted");
    assert_eq!(stored_count(&ctx).await, 2);
}

#[tokio::test]
async fn answers_that_break_the_questionnaire_are_rejected_with_their_paths() {
    // Needs the real validator (client-core): fails while `validate` is a stub.
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut answers = besoins_answers();
    answers["annee_entree"] = json!("deux mille");
    answers.as_object_mut().unwrap().remove("conseil");
    let good = response(besoins_answers());
    let res = results(&ctx.push(&token, vec![response(answers), good]).await);
    assert_eq!(res[0]["status"], "rejected", "{:?}", res[0]);
    let paths: Vec<_> = res[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        paths.iter().any(|p| p.contains("annee_entree")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("conseil"))
            || res[0]["errors"].to_string().contains("conseil"),
        "{paths:?}"
    );
    assert_eq!(res[1]["status"], "accepted");
    assert_eq!(stored_count(&ctx).await, 1);
}

#[tokio::test]
async fn a_retried_batch_is_stored_once_and_answered_duplicate_with_the_same_hash() {
    let (ctx, _coord, device, token) = Ctx::with_device().await;
    let items = vec![response(besoins_answers()), response(besoins_answers())];
    let first = results(&ctx.push(&token, items.clone()).await);
    let again = results(&ctx.push(&token, items.clone()).await);
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a["status"], "accepted");
        assert_eq!(b["status"], "duplicate");
        assert_eq!(a["content_hash"], b["content_hash"]);
        assert_eq!(a["id"], b["id"]);
    }
    assert_eq!(stored_count(&ctx).await, 2);
    // The hash is client-core's, with the sending device as device_id.
    let wire: parole_client::api::WireResponse = serde_json::from_value(items[0].clone()).unwrap();
    let expected = wire.into_response(Some(device)).content_hash();
    assert_eq!(first[0]["content_hash"], expected.0);
}

#[tokio::test]
async fn changed_content_under_the_same_id_is_a_conflict_and_nothing_is_overwritten() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let original = response(besoins_answers());
    let first = results(&ctx.push(&token, vec![original.clone()]).await);
    let mut changed = original.clone();
    changed["answers"]["conseil"] = json!("malakoff");
    let res = results(&ctx.push(&token, vec![changed]).await);
    assert_eq!(res[0]["status"], "conflict");
    assert_eq!(
        res[0]["content_hash"], first[0]["content_hash"],
        "the stored hash"
    );
    let conseil: String = sqlx::query_scalar("select answers ->> 'conseil' from response")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(conseil, "dervallieres");
}

#[tokio::test]
async fn the_same_id_twice_in_one_batch_is_judged_against_the_first() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let a = response(besoins_answers());
    let mut a_changed = a.clone();
    a_changed["answers"]["role"] = json!("acteur_local");
    let res = results(
        &ctx.push(&token, vec![a.clone(), a.clone(), a_changed])
            .await,
    );
    assert_eq!(res[0]["status"], "accepted");
    assert_eq!(res[1]["status"], "duplicate");
    assert_eq!(res[2]["status"], "conflict");
    for r in &res {
        assert_eq!(r["content_hash"], res[0]["content_hash"]);
    }
    assert_eq!(stored_count(&ctx).await, 1);
}

#[tokio::test]
async fn an_unknown_questionnaire_or_version_is_rejected_with_its_code() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut unknown_q = response(besoins_answers());
    unknown_q["questionnaire"] = json!("inconnu");
    let mut unknown_v = response(besoins_answers());
    unknown_v["version"] = json!(7);
    let res = results(&ctx.push(&token, vec![unknown_q, unknown_v]).await);
    assert_eq!(res[0]["status"], "rejected");
    assert_eq!(res[0]["errors"][0]["code"], "unknown_questionnaire");
    assert_eq!(res[0]["errors"][0]["path"], "/questionnaire");
    assert_eq!(res[1]["status"], "rejected");
    assert_eq!(res[1]["errors"][0]["code"], "unknown_version");
    assert_eq!(res[1]["errors"][0]["path"], "/version");
    assert_eq!(stored_count(&ctx).await, 0);
}

#[tokio::test]
async fn a_wrongly_typed_item_is_rejected_naming_the_field_while_the_others_are_accepted() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut typed = response(besoins_answers());
    typed["version"] = json!("un");
    let mut no_id = response(besoins_answers());
    no_id.as_object_mut().unwrap().remove("id");
    let good = response(besoins_answers());
    let res = results(
        &ctx.push(&token, vec![typed.clone(), json!(42), no_id, good])
            .await,
    );
    assert_eq!(res[0]["status"], "rejected");
    assert_eq!(res[0]["id"], typed["id"]);
    assert_eq!(res[0]["errors"][0]["path"], "/version");
    assert_eq!(res[0]["errors"][0]["code"], "type");
    assert!(res[0]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("version"));
    assert_eq!(res[1]["status"], "rejected");
    assert!(res[1]["id"].is_null());
    assert_eq!(res[2]["status"], "rejected");
    assert_eq!(res[2]["errors"][0]["path"], "/id");
    assert_eq!(res[2]["errors"][0]["code"], "required");
    assert_eq!(res[3]["status"], "accepted");
    assert_eq!(stored_count(&ctx).await, 1);
}

#[tokio::test]
async fn a_rejected_item_whose_id_is_held_reports_the_held_hash() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let a = response(besoins_answers());
    let held = results(&ctx.push(&token, vec![a.clone()]).await)[0]["content_hash"].clone();
    let mut broken = a.clone();
    broken["completed_at"] = json!("hier");
    let res = results(&ctx.push(&token, vec![broken]).await);
    assert_eq!(res[0]["status"], "rejected");
    assert_eq!(res[0]["content_hash"], held);
}

#[tokio::test]
async fn malformed_json_is_400_naming_line_and_column() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let body = b"{\"responses\": [\n  {\"id\": }\n]}".to_vec();
    let r = ctx
        .raw(
            Method::POST,
            "/api/v1/sync/responses",
            Some(&token),
            &[],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("ligne 2") && msg.contains("colonne 10"),
        "{msg}"
    );
    assert!(msg.contains("line 2") && msg.contains("column 10"), "{msg}");

    // The same for every JSON endpoint.
    let r = ctx
        .raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            b"{\"username\":".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("ligne 1"));
}

#[tokio::test]
async fn a_batch_of_501_responses_is_413_with_the_limits() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let items: Vec<Value> = (0..=MAX_BATCH_RESPONSES)
        .map(|_| response(json!({})))
        .collect();
    let r = ctx.push(&token, items).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let v = r.json();
    assert_eq!(v["max_responses"], MAX_BATCH_RESPONSES);
    assert_eq!(v["max_bytes"], MAX_BATCH_BYTES);
    assert!(v["error"].as_str().unwrap().contains("500"));
    assert_eq!(stored_count(&ctx).await, 0);
}

#[tokio::test]
async fn a_body_over_8_mib_is_413_with_the_limits() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut a = response(besoins_answers());
    a["answers"]["remarques"] = json!("x".repeat(MAX_BATCH_BYTES));
    let r = ctx.push(&token, vec![a]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["max_bytes"], MAX_BATCH_BYTES);
}

#[tokio::test]
async fn a_full_batch_of_500_is_accepted() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let items: Vec<Value> = (0..MAX_BATCH_RESPONSES)
        .map(|_| response(besoins_answers()))
        .collect();
    let res = results(&ctx.push(&token, items).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"));
    assert_eq!(stored_count(&ctx).await, 500);
}

// ---------------------------------------------------------------------------------------------
// Retiring (revoking) a version

const REVOKE_V1: &str = "/api/v1/questionnaires/besoins-formation/versions/1/revoke";

async fn sync_list(ctx: &Ctx, token: &str) -> (Vec<(String, i64)>, String) {
    let r = ctx.get("/api/v1/sync/questionnaires", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json()["questionnaires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["slug"].as_str().unwrap().to_string(),
                q["version"].as_i64().unwrap(),
            )
        })
        .collect();
    (list, r.headers["etag"].to_str().unwrap().to_string())
}

#[tokio::test]
async fn retiring_a_version_takes_it_off_the_sync_list_with_a_new_etag() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    ctx.publish(
        &coord,
        "parole-habitants",
        serde_json::from_str(HABITANTS).unwrap(),
    )
    .await;
    let (list, etag) = sync_list(&ctx, &token).await;
    assert_eq!(
        list,
        [
            ("besoins-formation".into(), 1),
            ("parole-habitants".into(), 1)
        ]
    );

    let r = ctx
        .post(
            REVOKE_V1,
            Some(&coord),
            json!({"reason": "questions à revoir"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["slug"], "besoins-formation");
    assert_eq!(v["version"], 1);
    assert_eq!(v["revoked_reason"], "questions à revoir");
    assert!(v["revoked_at"].is_string());

    // The phones' conditional pull gets the new list, without it.
    let r = ctx
        .raw(
            Method::GET,
            "/api/v1/sync/questionnaires",
            Some(&token),
            &[("if-none-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
    let (list, _) = sync_list(&ctx, &token).await;
    assert_eq!(list, [("parole-habitants".into(), 1)]);

    // A new version is listed; retiring it brings back nothing retired.
    assert_eq!(ctx.publish(&coord, "besoins-formation", besoins()).await, 2);
    let (list, _) = sync_list(&ctx, &token).await;
    assert!(list.contains(&("besoins-formation".into(), 2)), "{list:?}");
    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/versions/2/revoke",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["revoked_reason"].is_null());
    let (list, _) = sync_list(&ctx, &token).await;
    assert_eq!(list, [("parole-habitants".into(), 1)]);

    // The coordinator still sees every version, with when it was retired.
    let q = ctx
        .get("/api/v1/questionnaires/besoins-formation", &coord)
        .await
        .json();
    let versions = q["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().all(|v| v["revoked_at"].is_string()), "{q}");
    assert_eq!(versions[0]["revoked_reason"], "questions à revoir");
    let v = ctx
        .get("/api/v1/questionnaires/parole-habitants", &coord)
        .await
        .json();
    assert!(v["versions"][0]["revoked_at"].is_null(), "{v}");
    let v1 = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/versions/1",
            &coord,
        )
        .await;
    assert_eq!(v1.status, StatusCode::OK);
    assert!(v1.json()["revoked_at"].is_string());
}

#[tokio::test]
async fn a_response_on_a_retired_version_is_rejected_while_one_on_a_live_version_is_accepted() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    // Version 1 is parsed and cached by a first push: the cache must not hide the retirement.
    let before = response(besoins_answers());
    assert_eq!(
        results(&ctx.push(&token, vec![before.clone()]).await)[0]["status"],
        "accepted"
    );
    assert_eq!(ctx.publish(&coord, "besoins-formation", besoins()).await, 2);
    let r = ctx
        .post(
            REVOKE_V1,
            Some(&coord),
            json!({"reason": "la question sur le rôle était ambiguë."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let on_v1 = response(besoins_answers());
    let mut on_v2 = response(besoins_answers());
    on_v2["version"] = json!(2);
    let res = results(&ctx.push(&token, vec![on_v1.clone(), on_v2.clone()]).await);
    assert_eq!(res[0]["status"], "rejected", "{:?}", res[0]);
    assert_eq!(res[0]["id"], on_v1["id"]);
    let errors = res[0]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "version_revoked");
    assert_eq!(errors[0]["path"], "/version");
    let fr = errors[0]["message"].as_str().unwrap();
    assert!(
        fr.starts_with(
            "La version 1 du questionnaire « besoins-formation » a été retirée par la \
             coordination : la question sur le rôle était ambiguë. "
        ),
        "{fr}"
    );
    let en = errors[0]["message_en"].as_str().unwrap();
    assert!(
        en.contains("Version 1 of questionnaire `besoins-formation` was retired")
            && en.contains("la question sur le rôle était ambiguë"),
        "{en}"
    );
    assert_eq!(res[1]["status"], "accepted", "{:?}", res[1]);

    // The response stored before the retirement stays, and is exported as before.
    let lines: Vec<Value> = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &coord,
        )
        .await
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<_> = lines.iter().map(|l| l["id"].clone()).collect();
    assert_eq!(ids, [before["id"].clone(), on_v2["id"].clone()]);
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(
        ctx.get(
            "/api/v1/questionnaires/besoins-formation/responses.csv?version=1",
            &coord
        )
        .await
        .status,
        StatusCode::OK
    );
    // A phone that lost the receipt of a response stored before the retirement resends it:
    // `duplicate` (it is held), not refused; changed content under its id is refused.
    let again = results(&ctx.push(&token, vec![before.clone()]).await);
    assert_eq!(again[0]["status"], "duplicate", "{:?}", again[0]);
    assert_eq!(again[0]["content_hash"], lines[0]["content_hash"]);
    let mut changed = before.clone();
    changed["answers"]["role"] = json!("acteur_local");
    let res = results(&ctx.push(&token, vec![changed]).await);
    assert_eq!(res[0]["status"], "rejected");
    assert_eq!(res[0]["errors"][0]["code"], "version_revoked");
    assert_eq!(stored_count(&ctx).await, 2);
}

#[tokio::test]
async fn only_a_coordinator_or_an_admin_may_retire_a_version() {
    let (ctx, coord, _device, device_token) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let interviewer = ctx.login_as(Role::Interviewer).await;
    let admin = ctx.login_as(Role::Admin).await;
    for t in [&analyst, &interviewer, &device_token] {
        let r = ctx.post(REVOKE_V1, Some(t), json!({"reason": "x"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }
    let r = ctx.call(Method::POST, REVOKE_V1, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (list, _) = sync_list(&ctx, &device_token).await;
    assert_eq!(list.len(), 1, "still listed");
    // No body at all is fine.
    let r = ctx.call(Method::POST, REVOKE_V1, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let _ = coord;
}

#[tokio::test]
async fn retiring_an_unknown_version_or_questionnaire_is_404() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    for uri in [
        "/api/v1/questionnaires/besoins-formation/versions/2/revoke",
        "/api/v1/questionnaires/besoins-formation/versions/0/revoke",
        "/api/v1/questionnaires/besoins-formation/versions/un/revoke",
        "/api/v1/questionnaires/inconnu/versions/1/revoke",
    ] {
        let r = ctx.post(uri, Some(&coord), json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
}

#[tokio::test]
async fn retiring_twice_is_idempotent_and_keeps_the_first_time_and_reason() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    let first = ctx
        .post(
            REVOKE_V1,
            Some(&coord),
            json!({"reason": "première raison"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let again = ctx
        .post(REVOKE_V1, Some(&coord), json!({"reason": "autre raison"}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(first.json(), again.json());
    let count: i64 = sqlx::query_scalar("select count(*) from questionnaire_version_revocation")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_retirement_reason_that_is_too_long_or_mistyped_is_422() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    let r = ctx
        .post(REVOKE_V1, Some(&coord), json!({"reason": "x".repeat(501)}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["path"], "/reason");
    let r = ctx
        .post(REVOKE_V1, Some(&coord), json!({"reason": 3}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["path"], "/reason");
    // Nothing was retired.
    let q = ctx
        .get("/api/v1/questionnaires/besoins-formation", &coord)
        .await
        .json();
    assert!(q["versions"][0]["revoked_at"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Exports

async fn one_stored(ctx: &Ctx, token: &str) -> Value {
    let mut r = response(besoins_answers());
    r["location"] = json!({"lat": 47.2, "lon": -1.55, "accuracy_m": 12.0});
    results(&ctx.push(token, vec![r.clone()]).await);
    r
}

#[tokio::test]
async fn the_ndjson_export_has_one_line_per_response_with_its_metadata() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    let sent = one_stored(&ctx, &token).await;
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &coord,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1);
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["id"], sent["id"]);
    assert!(v["seq"].as_i64().unwrap() > 0);
    assert_eq!(v["questionnaire"], "besoins-formation");
    assert_eq!(v["version"], 1);
    assert_eq!(v["device_id"], device.to_string());
    assert_eq!(v["started_at"], "2025-03-14T18:30:00+01:00");
    assert_eq!(v["completed_at"], "2025-03-14T18:42:10+01:00");
    assert!(v["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        v["location"],
        json!({"lat": 47.2, "lon": -1.55, "accuracy_m": 12.0})
    );
    assert_eq!(v["answers"], besoins_answers());
    assert_eq!(v["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["photos_missing"], json!([]));
    assert_eq!(
        ctx.get("/api/v1/questionnaires/inconnu/responses.ndjson", &coord)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_csv_export_has_the_exact_header_and_row() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    let sent = one_stored(&ctx, &token).await;
    let nd = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &coord,
        )
        .await;
    let meta: Value = serde_json::from_str(nd.text().lines().next().unwrap()).unwrap();
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.csv",
            &coord,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    let text = r.text();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,seq,questionnaire,version,device_id,started_at,completed_at,received_at,\
         location_lat,location_lon,location_accuracy_m,content_hash,photos_missing,\
         conseil,role,annee_entree,formations_suivies,themes,format_prefere,heures_par_mois,\
         prochaine_dispo,besoin_garde,remarques"
    );
    let repeat = serde_json::to_string(&besoins_answers()["formations_suivies"])
        .unwrap()
        .replace('"', "\"\"");
    let expected = format!(
        "{id},{seq},besoins-formation,1,{device},2025-03-14T18:30:00+01:00,2025-03-14T18:42:10+01:00,{received},\
         47.2,-1.55,12.0,{hash},,dervallieres,habitant,2021,\"{repeat}\",budget;prise_de_parole,atelier,4.5,\
         2025-02-01,true,",
        id = sent["id"].as_str().unwrap(),
        seq = meta["seq"],
        received = meta["received_at"].as_str().unwrap(),
        hash = meta["content_hash"].as_str().unwrap(),
    );
    assert_eq!(lines[1], expected);
    assert_eq!(lines[2], "");
    assert_eq!(lines.len(), 3);
}

#[tokio::test]
async fn the_csv_of_several_versions_has_the_union_of_their_columns() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    one_stored(&ctx, &token).await;
    let mut v2 = besoins();
    let props = v2["properties"].as_object_mut().unwrap();
    props.remove("remarques");
    props.insert(
        "nouvelle".into(),
        json!({"type": "string", "title": "Nouvelle"}),
    );
    ctx.publish(&coord, "besoins-formation", v2).await;
    let header = |t: String| t.split("\r\n").next().unwrap().to_string();
    let all = header(
        ctx.get(
            "/api/v1/questionnaires/besoins-formation/responses.csv",
            &coord,
        )
        .await
        .text(),
    );
    assert!(all.ends_with(",besoin_garde,remarques,nouvelle"), "{all}");
    let only2 = header(
        ctx.get(
            "/api/v1/questionnaires/besoins-formation/responses.csv?version=2",
            &coord,
        )
        .await
        .text(),
    );
    assert!(only2.ends_with(",besoin_garde,nouvelle"), "{only2}");
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.csv?version=9",
            &coord,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn after_and_version_filter_the_export() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    results(
        &ctx.push(
            &token,
            vec![response(besoins_answers()), response(besoins_answers())],
        )
        .await,
    );
    ctx.publish(&coord, "besoins-formation", besoins()).await;
    let mut v2 = response(besoins_answers());
    v2["version"] = json!(2);
    results(&ctx.push(&token, vec![v2.clone()]).await);

    let url = "/api/v1/questionnaires/besoins-formation/responses.ndjson";
    let lines = |r: Reply| -> Vec<Value> {
        r.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(ctx.get(url, &coord).await);
    assert_eq!(all.len(), 3);
    let seqs: Vec<i64> = all.iter().map(|v| v["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let after = lines(ctx.get(&format!("{url}?after={}", seqs[0]), &coord).await);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0]["seq"], seqs[1]);
    let none = lines(ctx.get(&format!("{url}?after={}", seqs[2]), &coord).await);
    assert!(none.is_empty());
    let only2 = lines(ctx.get(&format!("{url}?version=2"), &coord).await);
    assert_eq!(only2.len(), 1);
    assert_eq!(only2[0]["id"], v2["id"]);
    assert_eq!(
        ctx.get(&format!("{url}?after=x"), &coord).await.status,
        StatusCode::BAD_REQUEST
    );
}

// ---------------------------------------------------------------------------------------------
// Personal data in exports

const PERSONAL: [&str; 3] = ["prenom", "telephone", "email"];
const HABITANTS_NDJSON: &str = "/api/v1/questionnaires/parole-habitants/responses.ndjson";
const HABITANTS_CSV: &str = "/api/v1/questionnaires/parole-habitants/responses.csv";

/// The complete valid interview of `parole-habitants` (its cases file), with its contact
/// details.
fn habitants_answers() -> Value {
    let cases: Value =
        serde_json::from_str(include_str!("fixtures/parole-habitants.cases.json")).unwrap();
    let answers = cases["cases"][0]["answers"].clone();
    for k in PERSONAL {
        assert!(answers.get(k).is_some(), "the case lacks {k}");
    }
    answers
}

/// `parole-habitants` v1 with one stored complete interview: (ctx, coordinator, analyst,
/// device token).
async fn habitants_stored() -> (Ctx, String, String, String) {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let analyst = ctx.login_as(Role::Analyst).await;
    ctx.publish(
        &coord,
        "parole-habitants",
        serde_json::from_str(HABITANTS).unwrap(),
    )
    .await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    let mut r = response(habitants_answers());
    r["questionnaire"] = json!("parole-habitants");
    let pushed = results(&ctx.push(&token, vec![r]).await);
    assert_eq!(pushed[0]["status"], "accepted", "{pushed:?}");
    (ctx, coord, analyst, token)
}

fn ndjson_lines(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The CSV's header and first record, as cells.
fn csv_table(r: &Reply) -> (Vec<String>, Vec<String>) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut reader = csv::Reader::from_reader(r.bytes.as_slice());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let record = reader.records().next().unwrap().unwrap();
    (header, record.iter().map(String::from).collect())
}

fn without_personal(mut answers: Value) -> Value {
    for k in PERSONAL {
        answers.as_object_mut().unwrap().remove(k);
    }
    answers
}

#[tokio::test]
async fn the_coordinators_default_export_includes_personal_data() {
    let (ctx, coord, _analyst, _) = habitants_stored().await;
    let lines = ndjson_lines(&ctx.get(HABITANTS_NDJSON, &coord).await);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["personal_data"], "included");
    assert_eq!(lines[0]["answers"], habitants_answers());

    let (header, record) = csv_table(&ctx.get(HABITANTS_CSV, &coord).await);
    for (k, v) in [
        ("prenom", "Aïcha"),
        ("telephone", "06 12 34 56 78"),
        ("email", "aicha@example.org"),
    ] {
        let i = header
            .iter()
            .position(|h| h == k)
            .unwrap_or_else(|| panic!("no {k} in {header:?}"));
        assert_eq!(record[i], v);
    }
}

#[tokio::test]
async fn the_analysts_default_export_omits_personal_data_and_keeps_the_other_answers() {
    let (ctx, coord, analyst, _) = habitants_stored().await;
    let lines = ndjson_lines(&ctx.get(HABITANTS_NDJSON, &analyst).await);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["personal_data"], "omitted");
    assert_eq!(lines[0]["answers"], without_personal(habitants_answers()));

    let (header, record) = csv_table(&ctx.get(HABITANTS_CSV, &analyst).await);
    for k in PERSONAL {
        assert!(!header.iter().any(|h| h == k), "{k} in {header:?}");
    }
    assert_eq!(record.len(), header.len());
    // Every other column is there with the same content as in the coordinator's export.
    let (full_header, full_record) = csv_table(&ctx.get(HABITANTS_CSV, &coord).await);
    let expected: Vec<(&String, &String)> = full_header
        .iter()
        .zip(&full_record)
        .filter(|(h, _)| !PERSONAL.contains(&h.as_str()))
        .collect();
    let got: Vec<(&String, &String)> = header.iter().zip(&record).collect();
    assert_eq!(got, expected);
    assert!(
        header.iter().any(|h| h == "cadre_de_vie.logement"),
        "{header:?}"
    );
    let text = String::from_utf8(ctx.get(HABITANTS_CSV, &analyst).await.bytes).unwrap();
    for v in ["Aïcha", "06 12 34 56 78", "aicha@example.org"] {
        assert!(!text.contains(v), "{v} leaked: {text}");
    }
}

#[tokio::test]
async fn an_analyst_asking_for_personal_data_gets_403_saying_why() {
    let (ctx, _coord, analyst, _) = habitants_stored().await;
    for url in [HABITANTS_NDJSON, HABITANTS_CSV] {
        let r = ctx.get(&format!("{url}?personal=include"), &analyst).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.contains("données personnelles"), "{msg}");
        assert!(
            msg.contains("personal data") && msg.contains("personal=omit"),
            "{msg}"
        );
        assert!(!r.text().contains("Aïcha"));
        // Asking to omit is what the analyst gets anyway.
        let r = ctx.get(&format!("{url}?personal=omit"), &analyst).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(!r.text().contains("Aïcha"));
    }
}

#[tokio::test]
async fn a_coordinator_asking_to_omit_personal_data_gets_it_omitted() {
    let (ctx, coord, _analyst, _) = habitants_stored().await;
    let lines = ndjson_lines(
        &ctx.get(&format!("{HABITANTS_NDJSON}?personal=omit"), &coord)
            .await,
    );
    assert_eq!(lines[0]["personal_data"], "omitted");
    assert_eq!(lines[0]["answers"], without_personal(habitants_answers()));
    let (header, _) = csv_table(
        &ctx.get(&format!("{HABITANTS_CSV}?personal=omit"), &coord)
            .await,
    );
    for k in PERSONAL {
        assert!(!header.iter().any(|h| h == k), "{k} in {header:?}");
    }
    // And `include` is the coordinator's default, said explicitly.
    let lines = ndjson_lines(
        &ctx.get(&format!("{HABITANTS_NDJSON}?personal=include"), &coord)
            .await,
    );
    assert_eq!(lines[0]["answers"], habitants_answers());
}

#[tokio::test]
async fn a_bad_personal_value_is_400_naming_the_parameter_and_the_allowed_values() {
    let (ctx, coord, analyst, _) = habitants_stored().await;
    for (url, token) in [(HABITANTS_NDJSON, &coord), (HABITANTS_CSV, &analyst)] {
        for bad in ["yes", "", "OMIT"] {
            let r = ctx.get(&format!("{url}?personal={bad}"), token).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
            let msg = r.json()["error"].as_str().unwrap().to_string();
            assert!(
                msg.contains("personal") && msg.contains("omit, include"),
                "{msg}"
            );
        }
    }
}

#[tokio::test]
async fn what_is_personal_is_decided_by_each_responses_version() {
    let (ctx, coord, analyst, token) = habitants_stored().await;
    // Version 2 marks `commentaire` personal too and no longer `email`.
    let mut v2: Value = serde_json::from_str(HABITANTS).unwrap();
    v2["properties"]["commentaire"]["x-personal-data"] = json!(true);
    v2["properties"]["email"]
        .as_object_mut()
        .unwrap()
        .remove("x-personal-data");
    assert_eq!(ctx.publish(&coord, "parole-habitants", v2).await, 2);
    let mut r = response(habitants_answers());
    r["questionnaire"] = json!("parole-habitants");
    r["version"] = json!(2);
    let pushed = results(&ctx.push(&token, vec![r]).await);
    assert_eq!(pushed[0]["status"], "accepted", "{pushed:?}");

    let lines = ndjson_lines(&ctx.get(HABITANTS_NDJSON, &analyst).await);
    assert_eq!(lines.len(), 2);
    let v1 = lines[0]["answers"].as_object().unwrap();
    let v2 = lines[1]["answers"].as_object().unwrap();
    assert!(v1.contains_key("commentaire") && !v1.contains_key("email"));
    assert!(!v2.contains_key("commentaire") && v2.contains_key("email"));
    assert!(!v2.contains_key("prenom") && !v2.contains_key("telephone"));

    // The CSV keeps the columns personal in one version only, empty on that version's rows.
    let csv = ctx.get(HABITANTS_CSV, &analyst).await;
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let col = |k: &str| header.iter().position(|h| h == k);
    assert!(
        col("prenom").is_none() && col("telephone").is_none(),
        "{header:?}"
    );
    let (email, comment) = (col("email").unwrap(), col("commentaire").unwrap());
    assert_eq!(
        (rows[0][email].as_str(), rows[1][email].as_str()),
        ("", "aicha@example.org")
    );
    assert!(!rows[0][comment].is_empty());
    assert_eq!(rows[1][comment], "");
}

// ---------------------------------------------------------------------------------------------
// Health

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
