//! Responses for the people who read them: the page by cursor and its filters, one
//! response, its review, and the `approved_only` setting (list, single view, exports).

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use parole_client::api::{ResponseDetail, ResponsePage, Review, ReviewState, Role};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::exports::{habitants_answers, PERSONAL};
use crate::helpers::*;

const LIST: &str = "/api/v1/questionnaires/besoins-formation/responses";

async fn review(ctx: &Ctx, token: &str, id: &str, body: Value) -> Reply {
    ctx.call(
        Method::PUT,
        &format!("/api/v1/responses/{id}/review"),
        Some(token),
        Some(body),
    )
    .await
}

/// Pushes `n` responses to `besoins-formation` v1 completed on `day`; their ids.
async fn push_on(ctx: &Ctx, token: &str, n: usize, day: &str) -> Vec<String> {
    let batch: Vec<Value> = (0..n)
        .map(|_| {
            let mut r = response(besoins_answers());
            r["started_at"] = json!(format!("{day}T09:00:00+01:00"));
            r["completed_at"] = json!(format!("{day}T09:12:30+01:00"));
            r
        })
        .collect();
    let res = results(&ctx.push(token, batch.clone()).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    batch
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_review_sets_the_state_and_keeps_the_history_newest_first() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let id = push_on(&ctx, &token, 1, "2025-03-14").await.remove(0);

    let r = ctx.get(&format!("/api/v1/responses/{id}"), &coord).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["review"],
        json!({"state": "received", "history": []})
    );

    let r = review(
        &ctx,
        &coord,
        &id,
        json!({"state": "has_issues", "comment": "Âge manquant"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = review(&ctx, &coord, &id, json!({"state": "approved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["state"], "approved");
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["state"], "approved");
    assert_eq!(history[0]["comment"], Value::Null);
    assert_eq!(history[0]["by"], "coordinator");
    assert_eq!(history[1]["state"], "has_issues");
    assert_eq!(history[1]["comment"], "Âge manquant");

    // The wire types read it.
    let typed: Review = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(typed.state, ReviewState::Approved);
    assert_eq!(typed.history[1].comment.as_deref(), Some("Âge manquant"));
    assert!(typed.history[0].at >= typed.history[1].at);

    // The single view carries the same review, and who made the response.
    let one = ctx
        .get(&format!("/api/v1/responses/{id}"), &coord)
        .await
        .json();
    let typed: ResponseDetail = serde_json::from_value(one.clone()).unwrap();
    assert_eq!(typed.id.to_string(), id);
    assert_eq!(typed.review.state, ReviewState::Approved);
    assert_eq!(one["review"], v);
    assert_eq!(one["questionnaire"], "besoins-formation");
    assert_eq!(one["interviewer_name"], "Awa Diallo");
    assert_eq!(one["device_name"], "Téléphone 1");
    assert_eq!(one["duration_s"], 750.0);
    assert_eq!(one["answers"], besoins_answers());
}

#[tokio::test]
async fn a_review_with_an_unknown_state_is_a_422_and_an_unknown_response_a_404() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let id = push_on(&ctx, &token, 1, "2025-03-14").await.remove(0);
    let r = review(&ctx, &coord, &id, json!({"state": "parfait"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["path"], "/state", "{}", r.text());
    let stored: String = sqlx::query_scalar("select review_state from response")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, "received");

    let r = review(
        &ctx,
        &coord,
        &id,
        json!({"state": "rejected", "comment": "x".repeat(2001)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["path"], "/comment", "{}", r.text());

    let unknown = Uuid::now_v7();
    let r = review(
        &ctx,
        &coord,
        &unknown.to_string(),
        json!({"state": "approved"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = ctx
        .get(&format!("/api/v1/responses/{unknown}"), &coord)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
}

#[tokio::test]
async fn the_cursor_walks_every_response_once_newest_first() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let mut pushed = Vec::new();
    for day in ["2025-03-10", "2025-03-11", "2025-03-12"] {
        pushed.extend(push_on(&ctx, &token, 5, day).await);
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &next {
            Some(c) => format!("{LIST}?limit=4&after={c}"),
            None => format!("{LIST}?limit=4"),
        };
        let r = ctx.get(&uri, &coord).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let page = r.json();
        let typed: ResponsePage = serde_json::from_value(page.clone()).unwrap();
        assert_eq!(typed.responses.len(), ids_of(&page).len());
        let ids = ids_of(&page);
        assert!(ids.len() <= 4);
        seen.extend(ids);
        pages += 1;
        match page["next"].as_str() {
            Some(c) => next = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 15);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 15, "a row twice");
    // Newest received first: the pushes in reverse.
    pushed.reverse();
    assert_eq!(seen, pushed);

    // A page that holds exactly every row has no next one.
    let r = ctx.get(&format!("{LIST}?limit=15"), &coord).await.json();
    assert_eq!(ids_of(&r).len(), 15);
    assert_eq!(r["next"], Value::Null);

    // Limits beyond the bounds and made-up cursors are 400s naming the parameter.
    for (query, name) in [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("after=42", "after"),
        ("from=14/03/2025", "from"),
        ("review=parfait", "review"),
    ] {
        let r = ctx.get(&format!("{LIST}?{query}"), &coord).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        assert!(
            r.json()["message_en"].as_str().unwrap().contains(name),
            "{}",
            r.text()
        );
    }
}

#[tokio::test]
async fn the_list_filters_by_version_dates_interviewer_and_review() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let early = push_on(&ctx, &token, 2, "2025-03-10").await;
    let late = push_on(&ctx, &token, 3, "2025-03-20").await;
    // Another interviewer's phone.
    let r = ctx
        .post(
            "/api/v1/interviewers",
            Some(&coord),
            json!({"name": "Brice Kone"}),
        )
        .await;
    let brice = r.json()["id"].as_str().unwrap().to_string();
    let code = r.json()["enrolment_code"].as_str().unwrap().to_string();
    let other = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": code, "device_name": "Téléphone 2"}),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = push_on(&ctx, &other, 1, "2025-03-15").await;
    review(&ctx, &coord, &late[0], json!({"state": "rejected"})).await;

    let ids = |q: &'static str| {
        let ctx = &ctx;
        let coord = &coord;
        async move {
            let r = ctx.get(&format!("{LIST}?{q}"), coord).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            ids_of(&r.json()).into_iter().collect::<HashSet<_>>()
        }
    };
    let set = |v: &[String]| v.iter().cloned().collect::<HashSet<_>>();
    assert_eq!(ids("to=2025-03-10").await, set(&early));
    assert_eq!(ids("from=2025-03-11&to=2025-03-19").await, set(&theirs));
    assert_eq!(ids("from=2025-03-20").await, set(&late));
    let brice_only = ctx
        .get(&format!("{LIST}?interviewer={brice}"), &coord)
        .await
        .json();
    assert_eq!(set(&ids_of(&brice_only)), set(&theirs));
    assert_eq!(brice_only["responses"][0]["interviewer_name"], "Brice Kone");
    assert_eq!(ids("review=rejected").await, set(&late[..1]));
    assert_eq!(ids("review=received").await.len(), 5);
    assert_eq!(ids("version=1").await.len(), 6);
    let r = ctx.get(&format!("{LIST}?version=2"), &coord).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let one = ctx
        .get(&format!("{LIST}?review=rejected"), &coord)
        .await
        .json();
    assert_eq!(one["responses"][0]["review_state"], "rejected");
    assert_eq!(
        one["responses"][0]["completed_at"],
        "2025-03-20T09:12:30+01:00"
    );
}

#[tokio::test]
async fn the_list_and_the_exports_filter_on_answers() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    // (conseil, themes, besoin_garde, annee_entree) of each response.
    let rows = [
        ("malakoff", json!(["budget"]), true, 2020),
        ("malakoff", json!(["prise_de_parole"]), false, 2021),
        ("bellevue", json!(["budget", "prise_de_parole"]), true, 2021),
        ("dervallieres", json!(["budget"]), false, 2022),
    ];
    let batch: Vec<Value> = rows
        .iter()
        .map(|(conseil, themes, garde, annee)| {
            let mut a = besoins_answers();
            a["conseil"] = json!(conseil);
            a["themes"] = themes.clone();
            a["besoin_garde"] = json!(garde);
            a["annee_entree"] = json!(annee);
            response(a)
        })
        .collect();
    let res = results(&ctx.push(&token, batch.clone()).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    let id = |i: usize| batch[i]["id"].as_str().unwrap().to_string();
    let ids = |q: &'static str| {
        let (ctx, coord) = (&ctx, &coord);
        async move {
            let r = ctx.get(&format!("{LIST}?{q}"), coord).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
            ids_of(&r.json()).into_iter().collect::<HashSet<_>>()
        }
    };
    let set = |v: &[usize]| v.iter().map(|i| id(*i)).collect::<HashSet<_>>();
    assert_eq!(ids("where=conseil:malakoff").await, set(&[0, 1]));
    // Two values of one question: either; two questions: both.
    assert_eq!(
        ids("where=conseil:malakoff&where=conseil:bellevue").await,
        set(&[0, 1, 2])
    );
    assert_eq!(
        ids("where=conseil:malakoff&where=besoin_garde:true").await,
        set(&[0])
    );
    // A multiple choice holding the value; a number as its text.
    assert_eq!(ids("where=themes:budget").await, set(&[0, 2, 3]));
    assert_eq!(ids("where=annee_entree:2021").await, set(&[1, 2]));
    assert_eq!(ids("where=conseil:nantes_nord").await, set(&[]));

    // The same filter on an export.
    let csv = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.csv?where=themes:prise_de_parole",
            &coord,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let exported: HashSet<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(exported, set(&[1, 2]));

    // What cannot be filtered on is named.
    for (q, named) in [
        ("where=quartier:malakoff", "quartier"),
        ("where=formations_suivies:x", "formations_suivies"),
        ("where=conseil", "question:value"),
    ] {
        let r = ctx.get(&format!("{LIST}?{q}"), &coord).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text());
        assert!(r.text().contains(named), "{q}: {}", r.text());
    }
}

#[tokio::test]
async fn an_analyst_reading_responses_gets_no_personal_answer_and_a_coarse_location() {
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
    r["location"] = json!({"lat": 47.218_371, "lon": -1.553_621, "accuracy_m": 8.0});
    let id = r["id"].as_str().unwrap().to_string();
    let res = results(&ctx.push(&token, vec![r]).await);
    assert_eq!(res[0]["status"], "accepted", "{res:?}");

    let url = format!("/api/v1/responses/{id}");
    let theirs = ctx.get(&url, &coord).await.json();
    assert_eq!(theirs["answers"], habitants_answers());
    assert_eq!(theirs["location"]["lat"], 47.218_371);

    let r = ctx.get(&url, &analyst).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let seen = r.json();
    let mut expected = habitants_answers();
    for k in PERSONAL {
        expected.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(seen["answers"], expected);
    assert_eq!(
        seen["location"],
        json!({"lat": 47.218, "lon": -1.554, "accuracy_m": 56.0})
    );
    // The same as the analyst's export of it.
    let line = ndjson_export(&ctx, "parole-habitants", &analyst)
        .await
        .remove(0);
    assert_eq!(line["answers"], seen["answers"]);
    assert_eq!(line["location"], seen["location"]);
    // And the same in the page of responses (which carries the answers for the table).
    let list = "/api/v1/questionnaires/parole-habitants/responses";
    let page = ctx.get(list, &analyst).await.json();
    assert_eq!(page["responses"][0]["answers"], seen["answers"]);
    assert_eq!(page["responses"][0]["location"], seen["location"]);
    let page = ctx.get(list, &coord).await.json();
    assert_eq!(page["responses"][0]["answers"], habitants_answers());
    assert_eq!(page["responses"][0]["location"]["lat"], 47.218_371);

    // Nor can an analyst find someone by a personal answer; a coordinator can.
    let by_name = "/api/v1/questionnaires/parole-habitants/responses?where=prenom:A%C3%AFcha";
    let r = ctx.get(by_name, &analyst).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("prenom"), "{}", r.text());
    let r = ctx.get(by_name, &coord).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(ids_of(&r.json()), [id]);
}

#[tokio::test]
async fn approved_only_hides_the_rest_from_analysts_everywhere_and_from_no_coordinator() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let ids = push_on(&ctx, &token, 3, "2025-03-14").await;
    review(&ctx, &coord, &ids[1], json!({"state": "approved"})).await;
    review(&ctx, &coord, &ids[2], json!({"state": "has_issues"})).await;
    let settings = "/api/v1/questionnaires/besoins-formation/settings";
    let detail = "/api/v1/questionnaires/besoins-formation";

    // Off by default: analysts see every response.
    assert_eq!(
        ctx.get(detail, &analyst).await.json()["approved_only"],
        false
    );
    assert_eq!(ids_of(&ctx.get(LIST, &analyst).await.json()).len(), 3);
    assert_eq!(
        ndjson_export(&ctx, "besoins-formation", &analyst)
            .await
            .len(),
        3
    );

    let r = ctx
        .call(
            Method::PUT,
            settings,
            Some(&coord),
            Some(json!({"approved_only": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"approved_only": true}));
    assert_eq!(
        ctx.get(detail, &analyst).await.json()["approved_only"],
        true
    );

    // The analyst: the approved one only, in the list, one by one and in both exports.
    assert_eq!(
        ids_of(&ctx.get(LIST, &analyst).await.json()),
        vec![ids[1].clone()]
    );
    for (i, id) in ids.iter().enumerate() {
        let r = ctx.get(&format!("/api/v1/responses/{id}"), &analyst).await;
        let expected = if i == 1 {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(r.status, expected, "{i}: {}", r.text());
    }
    let lines = ndjson_export(&ctx, "besoins-formation", &analyst).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], ids[1].as_str());
    let csv = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.csv",
            &analyst,
        )
        .await
        .text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(&ids[1]) && !csv.contains(&ids[0]) && !csv.contains(&ids[2]));

    // The coordinator still sees all of them.
    assert_eq!(ids_of(&ctx.get(LIST, &coord).await.json()).len(), 3);
    for id in &ids {
        let r = ctx.get(&format!("/api/v1/responses/{id}"), &coord).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        ndjson_export(&ctx, "besoins-formation", &coord).await.len(),
        3
    );

    // Only coordinators change the setting.
    let r = ctx
        .call(
            Method::PUT,
            settings,
            Some(&analyst),
            Some(json!({"approved_only": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
