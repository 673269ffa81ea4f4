//! Exports: NDJSON and CSV, their filters, and personal data by role and version.

use axum::http::StatusCode;
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::helpers::*;

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
    assert_eq!(v["sender_device_id"], device.to_string());
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
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let lines: Vec<&str> = text.split("\r\n").collect();
    // One 0/1 column per theme, after the themes' own column.
    let themes: Vec<String> = besoins()["properties"]["themes"]["items"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["const"].as_str().unwrap().to_string())
        .collect();
    let theme_columns: String = themes.iter().map(|t| format!(",themes/{t}")).collect();
    let chosen = &besoins_answers()["themes"];
    let theme_cells: String = themes
        .iter()
        .map(|t| {
            format!(
                ",{}",
                u8::from(chosen.as_array().unwrap().contains(&json!(t)))
            )
        })
        .collect();
    assert_eq!(
        lines[0],
        format!(
            "id,seq,questionnaire,version,device_id,sender_device_id,started_at,completed_at,received_at,\
             location_lat,location_lon,location_accuracy_m,content_hash,photos_missing,\
             conseil,role,annee_entree,formations_suivies,themes{theme_columns},format_prefere,\
             heures_par_mois,prochaine_dispo,besoin_garde,remarques"
        )
    );
    // The repeat: its number of items (its items have their own CSV, `repeat=`).
    let repeat = besoins_answers()["formations_suivies"]
        .as_array()
        .unwrap()
        .len();
    let expected = format!(
        "{id},{seq},besoins-formation,1,{device},{device},2025-03-14T18:30:00+01:00,2025-03-14T18:42:10+01:00,{received},\
         47.2,-1.55,12.0,{hash},,dervallieres,habitant,2021,{repeat},budget;prise_de_parole{theme_cells},atelier,4.5,\
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
    assert!(all.starts_with("\u{feff}id,"), "{all}");
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

pub(crate) const PERSONAL: [&str; 3] = ["prenom", "telephone", "email"];
const HABITANTS_NDJSON: &str = "/api/v1/questionnaires/parole-habitants/responses.ndjson";
const HABITANTS_CSV: &str = "/api/v1/questionnaires/parole-habitants/responses.csv";

/// The complete valid interview of `parole-habitants` (its cases file), with its contact
/// details.
pub(crate) fn habitants_answers() -> Value {
    let cases: Value = serde_json::from_str(include_str!(
        "../../../schemas/examples/parole-habitants.cases.json"
    ))
    .unwrap();
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
        // (`personal=` with nothing is no choice, as an empty form field: the default.)
        for bad in ["yes", "OMIT"] {
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

#[tokio::test]
async fn analysts_get_a_coarse_location_and_never_a_personal_photo_or_its_hash() {
    use crate::attachments::{head, name_of, photo, put, url};
    let (ctx, coord, analyst, token) = habitants_stored().await;
    // Version 2 makes the photo of a place personal (a coordinator saw faces in some).
    let mut v2: Value = serde_json::from_str(HABITANTS).unwrap();
    v2["properties"]["photo_lieu"]["x-personal-data"] = json!(true);
    ctx.publish(&coord, "parole-habitants", v2).await;
    let (open_photo, personal_photo) = (photo(1, 2_000), photo(2, 2_000));
    let mut pushed = Vec::new();
    for (version, bytes) in [(1, &open_photo), (2, &personal_photo)] {
        let mut answers = habitants_answers();
        answers["photo_lieu"] = json!(name_of(bytes));
        let mut r = response(answers);
        r["questionnaire"] = json!("parole-habitants");
        r["version"] = json!(version);
        r["location"] = json!({"lat": 47.218_371, "lon": -1.553_621, "accuracy_m": 8.0});
        pushed.push(r);
    }
    let res = results(&ctx.push(&token, pushed).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");

    // Neither photo has arrived: the coordinator is told both are missing, the analyst only
    // the one that is not personal.
    let url_v = |v: i32| format!("{HABITANTS_NDJSON}?version={v}");
    let line = |r: &Reply| ndjson_lines(r).pop().unwrap();
    let coord_v2 = line(&ctx.get(&url_v(2), &coord).await);
    assert_eq!(
        coord_v2["photos_missing"],
        json!([name_of(&personal_photo)])
    );
    assert_eq!(coord_v2["location"]["lat"], 47.218_371);
    let analyst_v1 = line(&ctx.get(&url_v(1), &analyst).await);
    assert_eq!(analyst_v1["photos_missing"], json!([name_of(&open_photo)]));
    let analyst_v2 = line(&ctx.get(&url_v(2), &analyst).await);
    assert_eq!(analyst_v2["photos_missing"], json!([]));
    assert!(
        analyst_v2["answers"].get("photo_lieu").is_none(),
        "{analyst_v2}"
    );
    // The response's own position, about 100 m coarse for analysts.
    assert_eq!(
        analyst_v2["location"],
        json!({"lat": 47.218, "lon": -1.554, "accuracy_m": 56.0})
    );
    let csv = ctx.get(HABITANTS_CSV, &analyst).await.text();
    assert!(
        !csv.contains("47.218371") && csv.contains("47.218"),
        "{csv}"
    );
    assert!(!csv.contains(&name_of(&personal_photo)[7..]), "{csv}");

    // Once uploaded: the analyst may have the open photo, never the personal one.
    for bytes in [&open_photo, &personal_photo] {
        assert_eq!(
            put(&ctx, &token, &name_of(bytes), bytes.to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        ctx.get(&url(&name_of(&open_photo)), &analyst).await.status,
        StatusCode::OK
    );
    let personal = name_of(&personal_photo);
    assert_eq!(
        ctx.get(&url(&personal), &analyst).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(head(&ctx, &analyst, &personal).await, StatusCode::NOT_FOUND);
    assert_eq!(
        ctx.get(&url(&personal), &coord).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn exports_that_nobody_reads_cannot_starve_sync_and_one_too_many_is_a_503() {
    use tower::ServiceExt;
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    // Enough rows that an unread export fills its buffers and keeps its cursor open.
    for _ in 0..3 {
        let batch = (0..500).map(|_| response(besoins_answers())).collect();
        let res = results(&ctx.push(&token, batch).await);
        assert!(res.iter().all(|r| r["status"] == "accepted"));
    }
    let url = "/api/v1/questionnaires/besoins-formation/responses.ndjson";
    let start = || {
        let request = axum::http::Request::builder()
            .uri(url)
            .header("authorization", format!("Bearer {coord}"))
            .body(axum::body::Body::empty())
            .unwrap();
        ctx.app.clone().oneshot(request)
    };
    // The test pool has 8 connections: exports get a quarter, 2. Two clients start an
    // export and stop reading.
    let mut held = Vec::new();
    for _ in 0..2 {
        let r = start().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        held.push(r);
    }
    let r = ctx.get(url, &coord).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.json()["message_en"]
        .as_str()
        .unwrap()
        .contains("too many exports"));
    // Phones still sync.
    let res = results(&ctx.push(&token, vec![response(besoins_answers())]).await);
    assert_eq!(res[0]["status"], "accepted");
    // One reader goes away: its share comes back.
    drop(held.pop());
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = ctx.get(url, &coord).await.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_incremental_export_polled_during_concurrent_pushes_misses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let done = AtomicBool::new(false);
    let pusher = || async {
        for _ in 0..10 {
            let batch = (0..20).map(|_| response(besoins_answers())).collect();
            let res = results(&ctx.push(&token, batch).await);
            assert!(res.iter().all(|r| r["status"] == "accepted"));
        }
    };
    let pushers = async {
        futures::future::join_all((0..4).map(|_| pusher())).await;
        done.store(true, Ordering::SeqCst);
    };
    // A client polling `after=` the last `seq` it got, as the pushes go on.
    let poller = async {
        let (mut after, mut seen) = (0i64, Vec::new());
        loop {
            let finished = done.load(Ordering::SeqCst);
            let url =
                format!("/api/v1/questionnaires/besoins-formation/responses.ndjson?after={after}");
            let r = ctx.get(&url, &coord).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            for line in r.text().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                assert!(v["seq"].as_i64().unwrap() > after);
                after = v["seq"].as_i64().unwrap();
                seen.push(v["id"].as_str().unwrap().to_string());
            }
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = tokio::join!(pushers, poller);
    let full: Vec<String> = ndjson_export(&ctx, "besoins-formation", &coord)
        .await
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(full.len(), 800);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "an id was handed out twice");
    let skipped = full.iter().filter(|id| !seen.contains(id)).count();
    assert_eq!(skipped, 0, "responses the polls skipped for good");
    assert!(
        seen == full,
        "the polls, end to end, are the full export in order"
    );
}
