//! Sync: the questionnaire list phones pull, and the batches of responses they push.

use axum::http::{Method, StatusCode};
use parole_client::api::{MAX_BATCH_BYTES, MAX_BATCH_RESPONSES};
use serde_json::{json, Value};

use crate::helpers::*;

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

/// The device `id` as the coordinator's list shows it.
async fn listed_device(ctx: &Ctx, coordinator: &str, id: uuid::Uuid) -> Value {
    let devices = ctx.get("/api/v1/devices", coordinator).await.json();
    devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == json!(id))
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_nul_character_refuses_its_own_item_only_and_the_rest_of_the_batch_is_stored() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    let good = response(besoins_answers());
    let mut nul_answer = besoins_answers();
    nul_answer["formations_suivies"][0]["intitule"] = json!("Comprendre\u{0} le contrat");
    let nul_answer = response(nul_answer);
    let mut nul_slug = response(besoins_answers());
    nul_slug["questionnaire"] = json!("besoins\u{0}formation");
    let r = ctx
        .post(
            "/api/v1/sync/responses",
            Some(&token),
            json!({
                "responses": [nul_answer, good, nul_slug],
                "device_state": {"queued": 3, "drafts": 0, "app_version": "0.1\u{0}"},
            }),
        )
        .await;
    let res = results(&r);
    assert_eq!(res[0]["status"], "rejected");
    let e = &res[0]["errors"][0];
    assert_eq!(e["code"], "nul_character", "{e}");
    assert_eq!(e["path"], "/answers/formations_suivies/0/intitule");
    assert!(
        e["message"].as_str().unwrap().contains("caractère nul"),
        "{e}"
    );
    assert_eq!(res[1]["status"], "accepted");
    assert_eq!(res[2]["status"], "rejected");
    assert_eq!(res[2]["errors"][0]["path"], "/questionnaire");
    assert_eq!(stored_count(&ctx).await, 1);
    // The device's report reached the coordinator, its NUL replaced.
    let d = listed_device(&ctx, &coord, device).await;
    assert_eq!(d["device_state"]["app_version"], "0.1\u{fffd}");
}

#[tokio::test]
async fn a_lone_surrogate_refuses_its_own_item_only_and_the_rest_of_the_batch_is_stored() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    // JSON text as a hand-made client could send it: `\ud800` alone is valid JSON syntax
    // but no text; an escaped pair (an emoji) and an escaped backslash before a `u` are fine.
    let mut lone = besoins_answers();
    lone["formations_suivies"][0]["intitule"] = json!("LONE");
    let lone = response(lone);
    let mut paired = besoins_answers();
    paired["formations_suivies"][0]["intitule"] = json!("PAIR");
    let paired = response(paired);
    let body = json!({
        "responses": [paired, lone],
        "device_state": {"queued": 2, "drafts": 0, "app_version": "LONE"},
    })
    .to_string()
    .replace("\"PAIR\"", r#""Bien \\ud800 \ud83d\ude00""#)
    .replace("\"LONE\"", r#""Comprendre \ud800 le contrat""#);
    let r = ctx
        .raw(
            Method::POST,
            "/api/v1/sync/responses",
            Some(&token),
            &[("content-type", "application/json")],
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let res = results(&r);
    assert_eq!(res[0]["status"], "accepted", "{}", res[0]);
    assert_eq!(res[1]["status"], "rejected");
    assert_eq!(res[1]["id"], lone["id"], "the receipt names the item");
    let e = &res[1]["errors"][0];
    assert_eq!(e["code"], "lone_surrogate", "{e}");
    assert_eq!(e["path"], "/answers/formations_suivies/0/intitule");
    assert!(
        e["message_en"].as_str().unwrap().contains("surrogate"),
        "{e}"
    );
    assert_eq!(stored_count(&ctx).await, 1);
    let stored: String =
        sqlx::query_scalar("select answers #>> '{formations_suivies,0,intitule}' from response")
            .fetch_one(&ctx.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, "Bien \\ud800 \u{1f600}");
    // The device's report reached the coordinator, the surrogate replaced.
    let d = listed_device(&ctx, &coord, device).await;
    assert_eq!(
        d["device_state"]["app_version"],
        "Comprendre \u{fffd} le contrat"
    );
}

#[tokio::test]
async fn a_device_sends_its_own_responses_or_its_interviewers_never_another_interviewers() {
    let (ctx, coord, device, token) = Ctx::with_device().await;
    // Another phone of the same interviewer (a new code for them), and another interviewer's.
    let devices = ctx.get("/api/v1/devices", &coord).await.json();
    let interviewer = devices["devices"][0]["interviewer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = ctx
        .post(
            &format!("/api/v1/interviewers/{interviewer}/enrolment-code"),
            Some(&coord),
            json!({}),
        )
        .await
        .json()["enrolment_code"]
        .clone();
    let sibling = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": code, "device_name": "ancien téléphone"}),
        )
        .await
        .json()["device_id"]
        .clone();
    let (stranger, _) = ctx.enrol_device(&coord).await;
    let made_on = |d: Value| {
        let mut r = response(besoins_answers());
        r["device_id"] = d;
        r
    };
    let batch = vec![
        made_on(json!(device)),
        made_on(sibling.clone()),
        made_on(json!(stranger)),
        made_on(json!(uuid::Uuid::now_v7())),
    ];
    let res = results(&ctx.push(&token, batch).await);
    assert_eq!(res[0]["status"], "accepted", "{res:?}");
    assert_eq!(res[1]["status"], "accepted", "{res:?}");
    for r in &res[2..] {
        assert_eq!(r["status"], "rejected", "{r}");
        assert_eq!(r["errors"][0]["code"], "foreign_device", "{r}");
        assert_eq!(r["errors"][0]["path"], "/device_id", "{r}");
    }
    // The export says who made each response and which device sent it.
    let lines: Vec<Value> = ndjson_export(&ctx, "besoins-formation", &coord).await;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["device_id"], sibling);
    assert_eq!(lines[1]["sender_device_id"], json!(device));
}

#[tokio::test]
async fn a_push_that_never_finishes_arriving_is_cut_off_with_a_503_and_retry_after() {
    use futures::StreamExt;
    use tower::ServiceExt;
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut state = parole_server::AppState::new(ctx.db.pool.clone());
    state.time_limits.upload = std::time::Duration::from_millis(300);
    let app = parole_server::router(state);
    // A body that starts and then never sends another byte (a phone in a lift).
    let body = axum::body::Body::from_stream(
        futures::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"responses\": ["))
        })
        .chain(futures::stream::pending()),
    );
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/sync/responses")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let r = app.oneshot(request).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let bytes = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        v["message_en"].as_str().unwrap().contains("try again"),
        "{v}"
    );
    assert_eq!(stored_count(&ctx).await, 0);
}

#[tokio::test]
async fn any_batch_gets_one_result_per_item_in_order_and_stores_exactly_the_valid_ones() {
    use rand::{Rng, SeedableRng};
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let mut held: std::collections::HashMap<String, String> = Default::default();
    for seed in 0..12u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut items: Vec<Value> = Vec::new();
        let mut expect_valid: Vec<bool> = Vec::new();
        for _ in 0..rng.gen_range(1..40) {
            let mut item = response(besoins_answers());
            let valid = match rng.gen_range(0..9) {
                0 => {
                    item["answers"]["conseil"] = json!("atlantis");
                    false
                }
                1 => {
                    item["answers"]["remarques"] = json!("fin\u{0}");
                    false
                }
                2 => {
                    item["questionnaire"] = json!("inconnu");
                    false
                }
                3 => {
                    item["version"] = json!("un");
                    false
                }
                4 => {
                    item = json!(rng.gen::<u32>());
                    false
                }
                5 if !items.is_empty() => {
                    // The same response again in the batch (a retry).
                    let i = rng.gen_range(0..items.len());
                    item = items[i].clone();
                    expect_valid[i]
                }
                _ => true,
            };
            items.push(item);
            expect_valid.push(valid);
        }
        let before = stored_count(&ctx).await;
        let res = results(&ctx.push(&token, items.clone()).await);
        assert_eq!(res.len(), items.len(), "seed {seed}: one result per item");
        let mut new_ids = std::collections::HashSet::new();
        for (i, (item, r)) in items.iter().zip(&res).enumerate() {
            let status = r["status"].as_str().unwrap();
            if let Some(id) = item.get("id") {
                assert_eq!(
                    &r["id"], id,
                    "seed {seed}, item {i}: results in request order"
                );
            }
            if expect_valid[i] {
                assert!(
                    status == "accepted" || status == "duplicate",
                    "seed {seed}, item {i}: {r}"
                );
                let id = item["id"].as_str().unwrap().to_string();
                let hash = r["content_hash"].as_str().unwrap().to_string();
                if status == "accepted" {
                    assert!(new_ids.insert(id.clone()), "seed {seed}: accepted twice");
                }
                assert_eq!(held.entry(id).or_insert(hash.clone()), &hash);
            } else {
                assert_eq!(status, "rejected", "seed {seed}, item {i}: {r}");
                assert!(!r["errors"].as_array().unwrap().is_empty());
            }
        }
        assert_eq!(
            stored_count(&ctx).await - before,
            new_ids.len() as i64,
            "seed {seed}: exactly the new valid responses are stored"
        );
    }
    assert_eq!(stored_count(&ctx).await, held.len() as i64);
}
