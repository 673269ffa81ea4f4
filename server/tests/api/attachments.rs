//! Attachments (photos): upload, HEAD, download, and the photos responses name, against a
//! real PostgreSQL.

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use parole_server::attachment::{AttachmentName, MAX_ATTACHMENT_BYTES};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

pub fn name_of(bytes: &[u8]) -> String {
    AttachmentName::of_bytes(bytes).to_string()
}

pub fn url(name: &str) -> String {
    format!("/api/v1/attachments/{name}")
}

/// A fake JPEG of `n` bytes, different for each `seed`.
pub fn photo(seed: u8, n: usize) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0, seed];
    bytes.extend((0..n.saturating_sub(5)).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    bytes
}

pub async fn put(ctx: &Ctx, token: &str, name: &str, bytes: Vec<u8>) -> Reply {
    ctx.raw(
        Method::PUT,
        &url(name),
        Some(token),
        &[("content-type", "image/jpeg")],
        bytes,
    )
    .await
}

pub async fn head(ctx: &Ctx, token: &str, name: &str) -> StatusCode {
    ctx.raw(Method::HEAD, &url(name), Some(token), &[], Vec::new())
        .await
        .status
}

// ---------------------------------------------------------------------------------------------
// Upload, HEAD, download

#[tokio::test]
async fn a_photo_is_stored_on_its_first_upload_and_a_second_upload_is_a_no_op() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let bytes = photo(1, 50_000);
    let name = name_of(&bytes);
    assert_eq!(head(&ctx, &token, &name).await, StatusCode::NOT_FOUND);

    let r = put(&ctx, &token, &name, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"name": name, "size": 50_000, "created": true})
    );
    let r = put(&ctx, &token, &name, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["created"], false);

    // HEAD: the device and the readers may ask.
    let r = ctx
        .raw(Method::HEAD, &url(&name), Some(&token), &[], Vec::new())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-length"], "50000");
    assert_eq!(r.headers["content-type"], "image/jpeg");
    let analyst = ctx.login_as(Role::Analyst).await;
    assert_eq!(head(&ctx, &coord, &name).await, StatusCode::OK);
    // Analysts get a photo only once a response names it, as the answer to a question
    // that is not personal (see the exports' personal-data tests): until then it is unknown
    // to them.
    assert_eq!(head(&ctx, &analyst, &name).await, StatusCode::NOT_FOUND);
    assert_eq!(
        ctx.get(&url(&name), &analyst).await.status,
        StatusCode::NOT_FOUND
    );

    // GET: the bytes with their media type, for coordinators.
    for reader in [&coord] {
        let r = ctx.get(&url(&name), reader).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-type"], "image/jpeg");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert!(r.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox"));
        assert_eq!(r.bytes, bytes);
    }
    // Only one row, whatever the number of uploads.
    let n: i64 = sqlx::query_scalar("select count(*) from attachment")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // An unknown photo is 404 for GET too.
    let other = name_of(b"autre");
    assert_eq!(
        ctx.get(&url(&other), &coord).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_media_type_defaults_to_octet_stream_and_a_percent_encoded_colon_is_accepted() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let bytes = b"des octets quelconques".to_vec();
    let name = name_of(&bytes);
    let encoded = url(&name).replace("sha256:", "sha256%3A");
    // No Content-Type at all (`Ctx::raw` would say JSON).
    let req = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(&encoded)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(bytes.clone()))
        .unwrap();
    let status = tower::ServiceExt::oneshot(ctx.app.clone(), req)
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CREATED);
    let r = ctx.get(&url(&name), &coord).await;
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert_eq!(r.bytes, bytes);
}

#[tokio::test]
async fn a_file_that_does_not_match_its_name_is_refused_naming_both_hashes() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let claimed = name_of(b"la photo annoncee");
    let sent = photo(2, 1000);
    let r = put(&ctx, &token, &claimed, sent.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let v = r.json();
    let error = v["error"].as_str().unwrap();
    assert!(error.contains(&claimed), "{error}");
    assert!(error.contains(&name_of(&sent)), "{error}");
    assert_eq!(v["errors"][0]["code"], "hash_mismatch");
    assert_eq!(head(&ctx, &token, &claimed).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_malformed_attachment_name_is_a_clear_400() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let hex = "ab".repeat(32);
    for bad in [
        hex.clone(),
        format!("sha256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[2..]),
        format!("md5:{hex}"),
    ] {
        let r = put(&ctx, &token, &bad, b"x".to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            r.json()["error"].as_str().unwrap().contains("64"),
            "{}",
            r.text()
        );
        assert_eq!(head(&ctx, &token, &bad).await, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_file_of_10_mib_is_accepted_and_one_byte_more_is_413_stating_the_limit() {
    let (ctx, _coord, _device, token) = Ctx::with_device().await;
    let max = photo(3, MAX_ATTACHMENT_BYTES);
    let r = put(&ctx, &token, &name_of(&max), max).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let over = photo(4, MAX_ATTACHMENT_BYTES + 1);
    let name = name_of(&over);
    // Without Content-Length (read through the limit), then with it (refused at once).
    let r = put(&ctx, &token, &name, over.clone()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let v = r.json();
    assert_eq!(v["max_bytes"], 10 * 1024 * 1024);
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("10485760") && error.contains("10 MiB"),
        "{error}"
    );
    let r = ctx
        .raw(
            Method::PUT,
            &url(&name),
            Some(&token),
            &[("content-length", &over.len().to_string())],
            over,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["max_bytes"], 10 * 1024 * 1024);
    assert_eq!(head(&ctx, &token, &name).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_devices_upload_and_only_coordinators_and_analysts_download() {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let bytes = photo(5, 100);
    let name = name_of(&bytes);
    // No token, a bad token: 401.
    let r = ctx
        .raw(Method::PUT, &url(&name), None, &[], bytes.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        put(&ctx, "pas-un-jeton", &name, bytes.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ctx.raw(Method::HEAD, &url(&name), None, &[], Vec::new())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A user is not a device: 403, whatever the role.
    let admin = ctx.login_as(Role::Admin).await;
    for user in [&coord, &admin] {
        let r = put(&ctx, user, &name, bytes.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // A device may not download; an interviewer's user account may neither ask nor download.
    assert_eq!(
        put(&ctx, &token, &name, bytes).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        ctx.get(&url(&name), &token).await.status,
        StatusCode::FORBIDDEN
    );
    let interviewer = ctx.login_as(Role::Interviewer).await;
    assert_eq!(head(&ctx, &interviewer, &name).await, StatusCode::FORBIDDEN);
    assert_eq!(
        ctx.get(&url(&name), &interviewer).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(ctx.get(&url(&name), &admin).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Responses naming photos

/// A questionnaire with a photo at the root, in a section and in a repeat.
fn releve() -> Value {
    let photo = |title: &str| {
        json!({"type": "string", "x-widget": "photo", "title": title,
               "pattern": "^sha256:[0-9a-f]{64}$"})
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Relevé de lieux",
        "type": "object",
        "properties": {
            "facade": photo("Façade"),
            "commentaire": {"type": "string", "title": "Commentaire"},
            "rue": {"type": "object", "x-widget": "section", "title": "La rue",
                    "additionalProperties": false,
                    "properties": {"vue": photo("Vue de la rue")}},
            "lieux": {"type": "array", "x-widget": "repeat", "title": "Lieux",
                      "items": {"type": "object", "additionalProperties": false,
                                "properties": {"nom": {"type": "string", "title": "Nom"},
                                               "cliche": photo("Cliché")}}}
        },
        "required": ["facade"],
        "additionalProperties": false
    })
}

fn releve_response(answers: Value) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "questionnaire": "releve",
        "version": 1,
        "answers": answers,
        "started_at": "2025-03-14T18:30:00+01:00",
        "completed_at": "2025-03-14T18:42:10+01:00",
    })
}

async fn ndjson(ctx: &Ctx, token: &str) -> Vec<Value> {
    let r = ctx
        .get("/api/v1/questionnaires/releve/responses.ndjson", token)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The CSV's `photos_missing` cells, by response id.
async fn csv_missing(ctx: &Ctx, token: &str) -> Vec<(String, String)> {
    let r = ctx
        .get("/api/v1/questionnaires/releve/responses.csv", token)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(r.bytes.as_slice());
    let header = reader.headers().unwrap().clone();
    let names: Vec<&str> = header.iter().collect();
    // (`sender_device_id` came in after `device_id`: the columns after it moved by one.)
    assert_eq!(
        &names[11..15],
        [
            "location_accuracy_m",
            "content_hash",
            "photos_missing",
            "facade"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[13].to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_response_is_stored_before_its_photos_and_exported_as_missing_them_until_they_arrive() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    ctx.publish(&coord, "releve", releve()).await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    let (a, b, c) = (photo(10, 2000), photo(11, 3000), photo(12, 4000));
    let (na, nb, nc) = (name_of(&a), name_of(&b), name_of(&c));
    // `a` twice (the façade and a repeat item), `b` in the section, `c` in a repeat item.
    let with_photos = releve_response(json!({
        "facade": na, "rue": {"vue": nb},
        "lieux": [{"nom": "marché", "cliche": nc}, {"nom": "parc"}, {"cliche": na}]
    }));
    let r = ctx.push(&token, vec![with_photos.clone()]).await;
    assert_eq!(r.json()["results"][0]["status"], "accepted", "{}", r.text());
    // Sending it again is a duplicate, and records nothing twice.
    let r = ctx.push(&token, vec![with_photos.clone()]).await;
    assert_eq!(
        r.json()["results"][0]["status"],
        "duplicate",
        "{}",
        r.text()
    );
    let id = with_photos["id"].as_str().unwrap().to_string();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select sha256, pointer from response_photo where response_id = $1 order by pointer",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_all(&ctx.db.pool)
    .await
    .unwrap();
    let hex = |n: &str| n.trim_start_matches("sha256:").to_string();
    assert_eq!(
        rows,
        [
            (hex(&na), "/facade".to_string()),
            (hex(&nc), "/lieux/0/cliche".to_string()),
            (hex(&na), "/lieux/2/cliche".to_string()),
            (hex(&nb), "/rue/vue".to_string()),
        ]
    );

    let mut missing = vec![na.clone(), nb.clone(), nc.clone()];
    missing.sort();
    let lines = ndjson(&ctx, &coord).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["photos_missing"], json!(missing));
    assert_eq!(
        csv_missing(&ctx, &coord).await,
        [(id.clone(), missing.join(";"))]
    );

    // Two photos arrive: one is still missing.
    assert_eq!(put(&ctx, &token, &na, a).await.status, StatusCode::CREATED);
    assert_eq!(put(&ctx, &token, &nc, c).await.status, StatusCode::CREATED);
    let lines = ndjson(&ctx, &coord).await;
    assert_eq!(lines[0]["photos_missing"], json!([nb]));
    assert_eq!(csv_missing(&ctx, &coord).await, [(id.clone(), nb.clone())]);

    // The last one: the response is complete.
    assert_eq!(put(&ctx, &token, &nb, b).await.status, StatusCode::CREATED);
    let lines = ndjson(&ctx, &coord).await;
    assert_eq!(lines[0]["photos_missing"], json!([]));
    assert_eq!(lines[0]["answers"]["rue"]["vue"], nb);
    assert_eq!(csv_missing(&ctx, &coord).await, [(id, String::new())]);
}

#[tokio::test]
async fn a_response_naming_no_photo_is_complete_and_a_held_photo_is_never_missing() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    ctx.publish(&coord, "releve", releve()).await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    let held = photo(20, 500);
    let name = name_of(&held);
    assert_eq!(
        put(&ctx, &token, &name, held).await.status,
        StatusCode::CREATED
    );
    let r = ctx
        .push(
            &token,
            vec![
                releve_response(json!({"facade": name})),
                releve_response(json!({"facade": name, "commentaire": "rien d'autre"})),
            ],
        )
        .await;
    for res in r.json()["results"].as_array().unwrap() {
        assert_eq!(res["status"], "accepted", "{}", r.text());
    }
    for line in ndjson(&ctx, &coord).await {
        assert_eq!(line["photos_missing"], json!([]));
    }
    // besoins-formation has no photo question: nothing is recorded.
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let r = ctx.push(&token, vec![response(besoins_answers())]).await;
    assert_eq!(r.json()["results"][0]["status"], "accepted");
    let n: i64 = sqlx::query_scalar("select count(*) from response_photo")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &coord,
        )
        .await;
    let v: Value = serde_json::from_str(r.text().lines().next().unwrap()).unwrap();
    assert_eq!(v["photos_missing"], json!([]));
}

#[tokio::test]
async fn a_device_has_a_quota_of_photos_no_response_names_and_old_ones_are_removed() {
    use parole_server::attachment::{MAX_UNNAMED_PHOTOS, UNNAMED_GRACE};
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    ctx.publish(&coord, "releve", releve()).await;
    let photos: Vec<Vec<u8>> = (0..=MAX_UNNAMED_PHOTOS)
        .map(|i| format!("photo {i}").into_bytes())
        .collect();
    for bytes in &photos[..MAX_UNNAMED_PHOTOS as usize] {
        let r = put(&ctx, &token, &name_of(bytes), bytes.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // One more is held back until responses name some of them.
    let last = photos.last().unwrap();
    let r = put(&ctx, &token, &name_of(last), last.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.json()["message_en"]
        .as_str()
        .unwrap()
        .contains("send the responses first"));
    // Sending one already held changes nothing and costs nothing.
    let r = put(&ctx, &token, &name_of(&photos[0]), photos[0].clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    // A response names the first photo: room for one more.
    let pushed = results(
        &ctx.push(
            &token,
            vec![releve_response(json!({"facade": name_of(&photos[0])}))],
        )
        .await,
    );
    assert_eq!(pushed[0]["status"], "accepted");
    let r = put(&ctx, &token, &name_of(last), last.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // A month on, the photos no response names are removed; the named one stays.
    sqlx::query("update attachment set created_at = now() - interval '31 days'")
        .execute(&ctx.db.pool)
        .await
        .unwrap();
    let removed = parole_server::db::delete_unnamed_older_than(&ctx.db.pool, UNNAMED_GRACE)
        .await
        .unwrap();
    assert_eq!(removed, MAX_UNNAMED_PHOTOS as u64);
    assert_eq!(
        head(&ctx, &coord, &name_of(&photos[0])).await,
        StatusCode::OK
    );
    assert_eq!(
        head(&ctx, &coord, &name_of(last)).await,
        StatusCode::NOT_FOUND
    );
}
