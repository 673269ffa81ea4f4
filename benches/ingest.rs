//! Ingest benchmark (`cargo bench --bench ingest`): responses per second delivered end to end
//! through the real HTTP API into PostgreSQL (batches of 100, from 1 and from 8 concurrent
//! devices), the p50/p99 latency of a one-response batch, and, in the same run on the same
//! PostgreSQL, a raw batched insert of the same rows (`insert … select from unnest`, 100 rows
//! per statement, 4 connections) as the physical limit, with the ratio.
//!
//! PostgreSQL runs with its default durability (fsync on, synchronous commit): the server
//! commits before it acknowledges, as `parole serve` does. Sizes can be set with
//! `PAROLE_BENCH_RESPONSES` (per device, default 2000).

#[path = "../tests/support/setup.rs"]
#[allow(dead_code)]
mod setup;

use std::time::{Duration, Instant};

use parole_client::api::{PushRequest, PushResponse, WireResponse};
use parole_client::{Response, ResponseId};
use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const PASSWORD: &str = "banc-d-essai";
const BATCH: usize = 100;

fn answers(n: usize) -> Value {
    // About 1.5 KB of JSON, like a real interview with a free-text remark.
    json!({
        "conseil": "malakoff",
        "role": "habitant",
        "annee_entree": 2015 + (n % 10) as i64,
        "formations_suivies": [
            {"intitule": "Comprendre le contrat de ville", "date": "2024-03-09", "utilite": 4, "a_recommander": true},
            {"intitule": "Animer une réunion", "utilite": 2, "a_recommander": false, "pourquoi_pas": "Trop théorique"}
        ],
        "themes": ["budget", "prise_de_parole", "numerique"],
        "format_prefere": "atelier",
        "heures_par_mois": 4.5,
        "prochaine_dispo": "2025-02-01",
        "besoin_garde": n.is_multiple_of(2),
        "remarques": format!("{n} — {}", "Nous voudrions des formations le samedi matin, près du quartier, avec une garde d'enfants. ".repeat(9)),
    })
}

fn response(device: Uuid, version: i32, n: usize) -> Response {
    Response {
        id: ResponseId::new(),
        questionnaire: "besoins-formation".into(),
        version,
        answers: answers(n),
        started_at: "2026-11-28T10:00:00+01:00".into(),
        completed_at: "2026-11-28T10:05:00+01:00".into(),
        device_id: Some(device),
        location: None,
    }
}

struct Device {
    id: Uuid,
    token: String,
}

/// A request body, serialised ahead of time: the devices are other machines, so their
/// serialising is not the server's work.
fn body(batch: &[Response]) -> Vec<u8> {
    serde_json::to_vec(&PushRequest {
        responses: batch.iter().map(WireResponse::from).collect(),
        device_state: None,
    })
    .unwrap()
}

async fn push(http: &reqwest::Client, server: &str, device: &Device, body: Vec<u8>) {
    let response: PushResponse = http
        .post(format!("{server}/api/v1/sync/responses"))
        .bearer_auth(&device.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    for result in &response.results {
        assert_eq!(
            result.status,
            parole_client::api::ItemStatus::Accepted,
            "{result:?}"
        );
    }
}

/// Pushes `per_device` responses from each device concurrently; responses per second.
async fn ingest(
    http: &reqwest::Client,
    server: &str,
    devices: &[Device],
    version: i32,
    per_device: usize,
) -> f64 {
    let work: Vec<Vec<Vec<u8>>> = devices
        .iter()
        .map(|d| {
            let responses: Vec<Response> = (0..per_device)
                .map(|n| response(d.id, version, n))
                .collect();
            responses.chunks(BATCH).map(body).collect()
        })
        .collect();
    let started = Instant::now();
    futures::future::join_all(devices.iter().zip(work).map(|(device, bodies)| async move {
        for body in bodies {
            push(http, server, device, body).await;
        }
    }))
    .await;
    (devices.len() * per_device) as f64 / started.elapsed().as_secs_f64()
}

/// The same rows inserted directly, 100 per statement over 4 connections.
async fn raw_insert(
    pool: &PgPool,
    questionnaire_id: i64,
    version: i32,
    device: Uuid,
    total: usize,
) -> f64 {
    sqlx::query("create table bench_raw (like response including all)")
        .execute(pool)
        .await
        .unwrap();
    let rows: Vec<Response> = (0..total).map(|n| response(device, version, n)).collect();
    let chunks: Vec<&[Response]> = rows.chunks(BATCH).collect();
    let per_conn = chunks.len().div_ceil(4);
    let started = Instant::now();
    futures::future::join_all(chunks.chunks(per_conn).map(|mine| async move {
        let mut conn = pool.acquire().await.unwrap();
        for batch in mine {
            let ids: Vec<Uuid> = batch.iter().map(|r| r.id.0).collect();
            let answers: Vec<Value> = batch.iter().map(|r| r.answers.clone()).collect();
            let started_at: Vec<String> = batch.iter().map(|r| r.started_at.clone()).collect();
            let completed_at: Vec<String> = batch.iter().map(|r| r.completed_at.clone()).collect();
            let hashes: Vec<String> = batch.iter().map(|r| r.content_hash().0).collect();
            let devices: Vec<Uuid> = batch.iter().map(|_| device).collect();
            sqlx::query(
                "insert into bench_raw (id, questionnaire_id, version, answers, started_at, \
                 started_at_ts, completed_at, completed_at_ts, device_id, sender_device_id, \
                 content_hash) \
                 select id, $2, $3, a, s, s::timestamptz, c, c::timestamptz, d, d, h \
                 from unnest($1::uuid[], $4::jsonb[], $5::text[], $6::text[], $7::uuid[], $8::text[]) \
                 as t(id, a, s, c, d, h)",
            )
            .bind(&ids)
            .bind(questionnaire_id)
            .bind(version)
            .bind(&answers)
            .bind(&started_at)
            .bind(&completed_at)
            .bind(&devices)
            .bind(&hashes)
            .execute(&mut *conn)
            .await
            .unwrap();
        }
    }))
    .await;
    total as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let per_device: usize = std::env::var("PAROLE_BENCH_RESPONSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    // Default durability: what `parole serve` runs with.
    let pg = EmbeddedPg::start(dir.path(), PgOptions::default())
        .await
        .unwrap();
    parole_server::db::ensure_database(&pg.connection_url("postgres"), "parole")
        .await
        .unwrap();
    let pool = parole_server::db::connect(&pg.connection_url("parole"))
        .await
        .unwrap();
    parole_server::db::migrate(&pool).await.unwrap();
    parole_server::ensure_admin(&pool, Some(PASSWORD.into()))
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(parole_server::serve(listener, pool.clone(), async {
        let _ = stopped.await;
    }));

    let admin = setup::Admin::login(&server, PASSWORD).await;
    let version = admin
        .publish("besoins-formation", &setup::example("besoins-formation"))
        .await;
    let http = reqwest::Client::new();
    let mut devices = Vec::new();
    for i in 0..8 {
        let code = admin.interviewer(&format!("banc {i}")).await;
        let enrolment: Value = http
            .post(format!("{server}/api/v1/enrol"))
            .json(&json!({"code": code, "device_name": format!("banc {i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        devices.push(Device {
            id: enrolment["device_id"].as_str().unwrap().parse().unwrap(),
            token: enrolment["token"].as_str().unwrap().to_string(),
        });
    }
    let row_bytes =
        serde_json::to_string(&WireResponse::from(&response(devices[0].id, version, 0)))
            .unwrap()
            .len();

    // Warm-up (connections, the questionnaire cache).
    ingest(&http, &server, &devices[..1], version, 200).await;

    let one = ingest(&http, &server, &devices[..1], version, per_device).await;
    let eight = ingest(&http, &server, &devices, version, per_device).await;

    let mut latencies = Vec::new();
    for n in 0..300 {
        let one = body(&[response(devices[0].id, version, n)]);
        let started = Instant::now();
        push(&http, &server, &devices[0], one).await;
        latencies.push(started.elapsed());
    }
    latencies.sort();

    let questionnaire_id: i64 =
        sqlx::query_scalar("select id from questionnaire where slug = 'besoins-formation'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let raw = raw_insert(
        &pool,
        questionnaire_id,
        version,
        devices[0].id,
        8 * per_device,
    )
    .await;

    println!("Parole ingest benchmark ({} responses of ~{row_bytes} bytes per device, batches of {BATCH}, default durability)", per_device);
    println!("end to end, 1 device:          {one:>9.0} responses/s");
    println!("end to end, 8 devices:         {eight:>9.0} responses/s");
    println!(
        "one-response batch latency:    p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!("raw insert (unnest, 100/stmt, 4 connections): {raw:>9.0} rows/s");
    println!(
        "ratio end to end (8 devices) / raw: {:.0} %  (goal ≥ 50 %)",
        100.0 * eight / raw
    );

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    pool.close().await;
    pg.stop().await.unwrap();
}
