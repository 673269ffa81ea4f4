//! Questionnaires: creating, editing the draft (with revisions), what publishing would
//! change, publishing numbered versions (never one that breaks earlier responses), and
//! retiring a version.

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::helpers::*;

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
    let lines: Vec<Value> = ndjson_export(&ctx, "besoins-formation", &coord).await;
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

#[tokio::test]
async fn retire_is_the_route_and_its_first_name_revoke_retires_the_same_version() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    let retire_v1 = REVOKE_V1.replace("/revoke", "/retire");
    let first = ctx
        .post(
            &retire_v1,
            Some(&coord),
            json!({"reason": "première raison"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["revoked_reason"], "première raison");
    // The old name reaches the same retirement: the first time and reason stand.
    let again = ctx
        .post(REVOKE_V1, Some(&coord), json!({"reason": "autre raison"}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(first.json(), again.json());
}

#[tokio::test]
async fn a_path_that_cannot_name_a_questionnaire_is_a_json_404_saying_why() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    for (uri, says) in [
        ("/api/v1/questionnaires/%00", "invalid slug"),
        ("/api/v1/questionnaires/Besoins", "invalid slug"),
        (
            "/api/v1/questionnaires/besoins-formation/versions/un",
            "no version `un`",
        ),
        (
            "/api/v1/questionnaires/besoins-formation/versions/99999999999",
            "no version",
        ),
    ] {
        let r = ctx.get(uri, &coord).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text());
        let body = r.json();
        let en = body["message_en"].as_str().unwrap();
        assert!(en.contains(says), "{uri}: {body}");
        assert!(body["message"].as_str().unwrap().len() > 5, "{body}");
        assert!(body["error"].as_str().unwrap().contains(en), "{body}");
    }
}

/// The first questionnaire of the list.
async fn listed(ctx: &Ctx, token: &str) -> Value {
    let list = ctx.get("/api/v1/questionnaires", token).await.json();
    list["questionnaires"][0].clone()
}

#[tokio::test]
async fn the_list_counts_responses_per_version_and_says_when_the_draft_holds_changes() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let q = listed(&ctx, &coord).await;
    assert_eq!(q["draft_changed"], false, "{q}");
    assert_eq!(q["responses"], json!([]));
    assert!(q["last_response_at"].is_null());

    let pushed = ctx
        .push(
            &token,
            vec![response(besoins_answers()), response(besoins_answers())],
        )
        .await;
    assert!(results(&pushed).iter().all(|r| r["status"] == "accepted"));
    // A changed draft, then version 2 and one response to it.
    let mut changed = besoins();
    changed["title"] = json!("Besoins de formation, deuxième vague");
    let r = ctx
        .call(
            Method::PUT,
            "/api/v1/questionnaires/besoins-formation/draft",
            Some(&coord),
            Some(json!({"document": changed})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(listed(&ctx, &coord).await["draft_changed"], true);
    ctx.publish(&coord, "besoins-formation", changed).await;
    let mut on_v2 = response(besoins_answers());
    on_v2["version"] = json!(2);
    assert_eq!(
        results(&ctx.push(&token, vec![on_v2]).await)[0]["status"],
        "accepted"
    );

    let q = listed(&ctx, &coord).await;
    assert_eq!(q["draft_changed"], false, "{q}");
    assert_eq!(q["latest_version"], 2);
    assert_eq!(
        q["responses"],
        json!([{"version": 1, "responses": 2}, {"version": 2, "responses": 1}])
    );
    let last: chrono::DateTime<chrono::Utc> =
        q["last_response_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (chrono::Utc::now() - last).num_seconds().abs() < 60,
        "{last}"
    );
}

#[tokio::test]
async fn the_collection_counts_responses_per_day_and_interviewer_with_the_median_duration() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let empty = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/collection",
            &coord,
        )
        .await
        .json();
    assert_eq!(empty["total"], 0);
    assert!(empty["median_duration_s"].is_null());

    // Three interviews of 5, 10 and 30 minutes, on two days; one names a photo not sent yet.
    let timed = |day: &str, minutes: u32| {
        let mut r = response(besoins_answers());
        r["started_at"] = json!(format!("{day}T10:00:00+01:00"));
        r["completed_at"] = json!(format!("{day}T10:{minutes:02}:00+01:00"));
        r
    };
    let pushed = ctx
        .push(
            &token,
            vec![
                timed("2026-11-28", 5),
                timed("2026-11-28", 10),
                timed("2026-11-29", 30),
            ],
        )
        .await;
    assert!(results(&pushed).iter().all(|r| r["status"] == "accepted"));
    sqlx::query(
        "insert into response_photo (response_id, sha256, pointer, personal)
         select id, repeat('a', 64), '/photo', false from response limit 1",
    )
    .execute(&ctx.db.pool)
    .await
    .unwrap();

    let c = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/collection",
            &coord,
        )
        .await
        .json();
    assert_eq!(c["total"], 3);
    assert_eq!(
        c["per_day"],
        json!([{"day": "2026-11-28", "responses": 2}, {"day": "2026-11-29", "responses": 1}])
    );
    assert_eq!(c["per_interviewer"].as_array().unwrap().len(), 1);
    assert_eq!(c["per_interviewer"][0]["name"], "Awa Diallo");
    assert_eq!(c["per_interviewer"][0]["responses"], 3);
    assert_eq!(c["median_duration_s"], 600.0);
    assert_eq!(c["waiting_for_photos"], 1);

    let analyst = ctx.login_as(Role::Analyst).await;
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/collection",
            &analyst,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = ctx
        .get("/api/v1/questionnaires/nulle-part/collection", &coord)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// What publishing changes, and what it refuses

const BESOINS_CHANGES: &str = "/api/v1/questionnaires/besoins-formation/changes";
const BESOINS_DRAFT: &str = "/api/v1/questionnaires/besoins-formation/draft";

/// Saves `document` as the draft of `besoins-formation`, from `base_revision` if given.
async fn save_draft(ctx: &Ctx, token: &str, document: &Value, base_revision: Option<i64>) -> Reply {
    let mut body = json!({"document": document});
    if let Some(base) = base_revision {
        body["base_revision"] = json!(base);
    }
    ctx.call(Method::PUT, BESOINS_DRAFT, Some(token), Some(body))
        .await
}

/// (kind, key) of each change in a list from the API.
fn kinds(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn the_changes_since_the_latest_version_are_listed_then_published_with_it() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let analyst = ctx.login_as(Role::Analyst).await;
    // Nothing published yet: no base, nothing listed.
    let r = ctx
        .post(
            "/api/v1/questionnaires",
            Some(&coord),
            json!({"slug": "besoins-formation", "document": besoins()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = ctx.get(BESOINS_CHANGES, &coord).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"base_version": null, "changes": [], "breaking": []})
    );
    let first = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json(), json!({"version": 1, "changes": []}));

    // A relabelled question, an added one, a removed choice.
    let mut draft = besoins();
    draft["properties"]["role"]["title"] = json!("Votre collège");
    draft["properties"]["conseil"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["const"] != "malakoff");
    draft["properties"]["age"] = json!({"type": "integer", "title": "Votre âge", "minimum": 16});
    let r = save_draft(&ctx, &coord, &draft, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let expected = owned(&[
        ("choice_removed", "conseil"),
        ("question_relabelled", "role"),
        ("question_added", "age"),
    ]);
    let r = ctx.get(BESOINS_CHANGES, &coord).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let listed = r.json();
    assert_eq!(listed["base_version"], 1);
    assert_eq!(kinds(&listed["changes"]), expected);
    assert_eq!(listed["breaking"], json!([]));
    let added = &listed["changes"][2];
    assert_eq!(added["path"], "/properties/age");
    assert_eq!(
        added["message"],
        "Question ajoutée : « Votre âge » (age, nombre entier)"
    );
    assert_eq!(
        added["message_en"],
        "Question added: “Votre âge” (age, whole number)"
    );
    // Analysts read questionnaires, but what publishing would change is the coordinators'.
    assert_eq!(
        ctx.get(BESOINS_CHANGES, &analyst).await.status,
        StatusCode::FORBIDDEN
    );

    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let published = r.json();
    assert_eq!(published["version"], 2);
    assert_eq!(kinds(&published["changes"]), expected);
    assert_eq!(published["changes"], listed["changes"]);
    // Published: the draft is now the same as the latest version.
    assert_eq!(
        ctx.get(BESOINS_CHANGES, &coord).await.json(),
        json!({"base_version": 2, "changes": [], "breaking": []})
    );
}

#[tokio::test]
async fn a_type_change_is_refused_with_409_naming_the_path_and_the_way_out() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    ctx.publish(&coord, "besoins-formation", besoins()).await;
    let mut draft = besoins();
    draft["properties"]["annee_entree"] =
        json!({"type": "string", "title": "Depuis quand êtes-vous au conseil ?"});
    let r = save_draft(&ctx, &coord, &draft, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let listed = ctx.get(BESOINS_CHANGES, &coord).await.json();
    assert_eq!(
        kinds(&listed["breaking"]),
        owned(&[("type_changed", "annee_entree")])
    );

    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], "breaking_change");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Publication refusée"),
        "{body}"
    );
    assert!(
        body["message_en"]
            .as_str()
            .unwrap()
            .starts_with("Not published"),
        "{body}"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], "/properties/annee_entree");
    assert_eq!(errors[0]["code"], "type_changed");
    let fr = errors[0]["message"].as_str().unwrap();
    assert!(fr.contains("passe de nombre entier à texte court"), "{fr}");
    assert!(
        fr.contains("ajoutez une nouvelle question (avec une autre clé)"),
        "{fr}"
    );
    let en = errors[0]["message_en"].as_str().unwrap();
    assert!(en.contains("add a new question (with another key)"), "{en}");
    // Nothing was published.
    let detail = ctx
        .get("/api/v1/questionnaires/besoins-formation", &coord)
        .await
        .json();
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1, "{detail}");

    // The way out: the new question under another key, the old one removed.
    let mut draft = besoins();
    let props = draft["properties"].as_object_mut().unwrap();
    props.shift_remove("annee_entree");
    props.insert(
        "depuis_quand".into(),
        json!({"type": "string", "title": "Depuis quand êtes-vous au conseil ?"}),
    );
    assert_eq!(
        save_draft(&ctx, &coord, &draft, None).await.status,
        StatusCode::OK
    );
    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    assert_eq!(
        kinds(&r.json()["changes"]),
        owned(&[
            ("question_added", "depuis_quand"),
            ("question_removed", "annee_entree")
        ])
    );

    // Reusing the removed key for answers of another shape is refused too: version 1's
    // answers under it are whole numbers.
    draft["properties"]["annee_entree"] = json!({"type": "boolean", "title": "Ancien·ne ?"});
    assert_eq!(
        save_draft(&ctx, &coord, &draft, None).await.status,
        StatusCode::OK
    );
    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&coord),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let error = &r.json()["errors"][0];
    assert_eq!(error["path"], "/properties/annee_entree");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("dans la version 1"),
        "{error}"
    );
}

#[tokio::test]
async fn two_editors_of_one_draft_never_silently_overwrite_each_other() {
    let ctx = Ctx::new().await;
    let alice = ctx.login_named("alice", Role::Coordinator).await;
    let bruno = ctx.login_named("bruno", Role::Coordinator).await;
    let r = ctx
        .post(
            "/api/v1/questionnaires",
            Some(&alice),
            json!({"slug": "besoins-formation", "document": besoins()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Both open the draft at revision 1.
    for token in [&alice, &bruno] {
        let detail = ctx
            .get("/api/v1/questionnaires/besoins-formation", token)
            .await
            .json();
        assert_eq!(detail["draft_revision"], 1, "{detail}");
        assert_eq!(detail["draft_updated_by"], "alice", "{detail}");
    }
    // Alice saves first.
    let mut hers = besoins();
    hers["title"] = json!("Version d'Alice");
    let r = save_draft(&ctx, &alice, &hers, Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"revision": 2}));
    // Bruno's save, from revision 1, is refused: he is told who changed it.
    let mut his = besoins();
    his["title"] = json!("Version de Bruno");
    let r = save_draft(&ctx, &bruno, &his, Some(1)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], "draft_conflict");
    assert_eq!(body["revision"], 2);
    assert_eq!(body["updated_by"], "alice");
    assert!(body["updated_at"].is_string(), "{body}");
    let fr = body["message"].as_str().unwrap();
    assert!(
        fr.starts_with("Ce brouillon a été modifié par alice le "),
        "{fr}"
    );
    assert!(fr.contains("Rechargez-le"), "{fr}");
    assert!(
        body["message_en"]
            .as_str()
            .unwrap()
            .contains("changed by alice"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], "/base_revision");
    // Alice's content stays.
    let detail = ctx
        .get("/api/v1/questionnaires/besoins-formation", &bruno)
        .await
        .json();
    assert_eq!(detail["draft"]["title"], "Version d'Alice");
    assert_eq!(detail["draft_revision"], 2);
    assert_eq!(detail["draft_updated_by"], "alice");

    // Bruno reloads and saves from revision 2.
    let r = save_draft(&ctx, &bruno, &his, Some(2)).await;
    assert_eq!(r.json(), json!({"revision": 3}));
    // Publishing leaves the revision alone; a save without a base revision (the CLI) wins.
    assert_eq!(
        ctx.publish(&alice, "besoins-formation", his.clone()).await,
        1
    );
    let detail = ctx
        .get("/api/v1/questionnaires/besoins-formation", &alice)
        .await
        .json();
    // `publish` created nothing (the questionnaire exists): it saved without a base.
    assert_eq!(detail["draft_revision"], 4);
    assert_eq!(detail["draft_updated_by"], "alice");
    let r = ctx
        .post(
            "/api/v1/questionnaires/besoins-formation/publish",
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        ctx.get("/api/v1/questionnaires/besoins-formation", &alice)
            .await
            .json()["draft_revision"],
        4
    );
    // A revision the draft never had is refused too.
    let r = save_draft(&ctx, &bruno, &his, Some(9)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("pas de révision 9"));
}
