//! Summaries benchmark (`cargo bench -p parole-server --bench summary`): how long
//! `GET /api/v1/questionnaires/besoins-formation/summary` takes over real HTTP on N responses
//! (`PAROLE_BENCH_N`, default 1 000 000), the goal being ≤ 1 s at 1 M.
//!
//! The responses are written straight into PostgreSQL by one `insert … select from
//! generate_series` per 100 000 (varied answers: nine neighbourhoods, a repeat of zero to
//! three items, numbers, dates, a remark of a few hundred characters; the numbers and the
//! dates answered drawn by `hashint8`, independent of the day of the response, so that the
//! rollup holds as many rows as real answers would make; the responses spread over 300 days
//! in the order they arrive, as a real collection's), then `vacuum
//! analyze`d, as a live table would be. The request is then timed `PAROLE_BENCH_RUNS` times
//! (default 5, after one warm-up): once before the rollup is built (every response read),
//! then the fold into the rollup is timed, then plain, filtered on review state, dates and
//! version (read from the rollup's days), broken down by neighbourhood (`by=conseil`) and
//! filtered on one (`where=conseil:malakoff`) (read from its cube), and the same with dates
//! or on two questions, which read every selected response.
//!
//! Self-contained: its own embedded PostgreSQL (default settings), its own server on
//! 127.0.0.1, HTTP/1.1 by hand over a `TcpStream` (no client crate).

use std::time::{Duration, Instant};

use parole_client::api::Role;
use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "banc-d-essai-resume";
const CHUNK: i64 = 100_000;

/// One HTTP/1.1 request (`Connection: close`): the status and the body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = &body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some(b) = &body {
        stream.write_all(b).await.unwrap();
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status: u16 = headers[9..12].parse().unwrap();
    let mut rest = &raw[split + 4..];
    if !headers.contains("transfer-encoding: chunked") {
        return (status, rest.to_vec());
    }
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return (status, out);
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
}

async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let (status, bytes) = request(addr, method, path, token, body.as_ref()).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// `n` responses of `besoins-formation`, inserted by PostgreSQL itself.
async fn insert(pool: &sqlx::PgPool, questionnaire_id: i64, version: i32, n: i64) {
    let mut done = 0;
    while done < n {
        let upto = (done + CHUNK).min(n);
        sqlx::query(
            "insert into response (id, questionnaire_id, version, answers, started_at, \
             started_at_ts, completed_at, completed_at_ts, content_hash, review_state)
             select gen_random_uuid(), $1, $2, a, d || 'T09:00:00+01:00', \
                    (d || 'T09:00:00+01:00')::timestamptz, d || 'T09:25:00+01:00', \
                    (d || 'T09:25:00+01:00')::timestamptz, md5(g::text), \
                    case when g % 5 = 0 then 'approved' else 'received' end
             from generate_series($3::int8, $4::int8) g
             cross join lateral (select to_char(date '2025-01-01' + ((g - 1) * 300 / $5)::int, 'YYYY-MM-DD') as d) day
             cross join lateral (select jsonb_strip_nulls(jsonb_build_object(
                 'conseil', (array['bellevue', 'bottiere_pin_sec', 'breil_malville', 'dervallieres',
                    'malakoff', 'nantes_nord', 'chateau_reze', 'plaisance_orvault',
                    'sillon_de_bretagne'])[1 + (g * 7) % 9],
                 'role', case when g % 3 = 0 then 'acteur_local' else 'habitant' end,
                 'annee_entree', case when g % 10 <> 0 then 2014 + abs(hashint8(g + 1)) % 12 end,
                 'formations_suivies', (select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'intitule', 'Formation ' || k,
                        'date', case when k % 2 = 1 then to_char(date '2024-01-01' + ((g + k) % 200)::int, 'YYYY-MM-DD') end,
                        'utilite', 1 + (g + k) % 4,
                        'a_recommander', (g + k) % 3 <> 0,
                        'pourquoi_pas', case when (g + k) % 3 = 0 then 'Trop théorique' end))), '[]'::jsonb)
                     from generate_series(1, (g % 4)::int) k),
                 'themes', jsonb_build_array((array['contrat_de_ville', 'renouvellement_urbain',
                    'prise_de_parole', 'animation', 'budget', 'numerique', 'mobilisation'])[1 + g % 7],
                    (array['budget', 'numerique', 'mobilisation'])[1 + (g / 7) % 3]),
                 'format_prefere', (array['atelier', 'journee', 'en_ligne', 'visite'])[1 + (g / 3) % 4],
                 'heures_par_mois', case when g % 8 <> 0 then (abs(hashint8(g)) % 600) / 10.0 end,
                 'prochaine_dispo', case when g % 6 <> 0 then to_char(date '2025-02-01' + (abs(hashint8(g + 2)) % 120)::int, 'YYYY-MM-DD') end,
                 'besoin_garde', case when g % 7 <> 0 then g % 2 = 0 end,
                 'remarques', case when g % 4 = 0 then 'Réponse ' || g || ' : ' || repeat('des formations le samedi matin, près du quartier. ', 6) end
             )) as a) answers",
        )
        .bind(questionnaire_id)
        .bind(version)
        .bind(done + 1)
        .bind(upto)
        .bind(n)
        .execute(pool)
        .await
        .unwrap();
        done = upto;
        eprintln!("  {done} / {n} inserted");
    }
}

async fn time(addr: &str, token: &str, path: &str, n: usize) -> (Duration, Duration, Value) {
    // Warm-up: the cache of the parsed questionnaire, the pages of the table.
    let mut last = call(addr, "GET", path, Some(token), None).await;
    let mut runs = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        last = call(addr, "GET", path, Some(token), None).await;
        runs.push(started.elapsed());
    }
    runs.sort();
    (runs[0], runs[runs.len() / 2], last)
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("PAROLE_BENCH_N")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("PAROLE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let dir = tempfile::tempdir().unwrap();
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
    parole_server::create_user(&pool, "banc", Role::Coordinator, PASSWORD)
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(parole_server::serve(listener, pool.clone(), async {
        let _ = stopped.await;
    }));

    let login = call(
        &addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "banc", "password": PASSWORD})),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_string();
    let document: Value = serde_json::from_str(include_str!(
        "../../schemas/examples/besoins-formation.json"
    ))
    .unwrap();
    call(
        &addr,
        "POST",
        "/api/v1/questionnaires",
        Some(&token),
        Some(json!({"slug": "besoins-formation", "document": document})),
    )
    .await;
    let published = call(
        &addr,
        "POST",
        "/api/v1/questionnaires/besoins-formation/publish",
        Some(&token),
        Some(json!({})),
    )
    .await;
    let version = published["version"].as_i64().unwrap() as i32;
    let questionnaire_id: i64 =
        sqlx::query_scalar("select id from questionnaire where slug = 'besoins-formation'")
            .fetch_one(&pool)
            .await
            .unwrap();

    eprintln!("inserting {n} responses…");
    let started = Instant::now();
    insert(&pool, questionnaire_id, version, n).await;
    sqlx::query("vacuum analyze response")
        .execute(&pool)
        .await
        .unwrap();
    let inserted = started.elapsed();
    let size: i64 = sqlx::query_scalar("select pg_total_relation_size('response')")
        .fetch_one(&pool)
        .await
        .unwrap();

    println!(
        "Parole summaries benchmark: {n} responses of besoins-formation ({:.0} MB on disk, inserted and vacuumed in {:.1} s)",
        size as f64 / 1e6,
        inserted.as_secs_f64()
    );
    let base = "/api/v1/questionnaires/besoins-formation/summary";
    let path = format!("{base}?review=approved");
    let (unfolded, _, _) = time(&addr, &token, &path, 1).await;
    println!(
        "summary review=approved, nothing folded yet: {:.0} ms (every response read)",
        unfolded.as_secs_f64() * 1e3
    );
    // What the server does every few seconds in the background (`parole serve`), here at
    // once and timed: counting every response into the rollup.
    let started = Instant::now();
    let cache = parole_server::sync::QuestionnaireCache::default();
    let folded = parole_server::rollup::fold_all(&pool, &cache, 1)
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(folded, n);
    let (rows, cube): (i64, i64) = sqlx::query_as(
        "select (select count(*) from summary_count), (select count(*) from summary_cube)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "fold: {folded} responses into {rows} rollup rows and {cube} cube rows in {:.1} s ({:.0} responses/s)",
        took.as_secs_f64(),
        folded as f64 / took.as_secs_f64()
    );
    for (name, query) in [
        ("plain", ""),
        ("review=approved", "?review=approved"),
        ("from=2025-06-01&version=1", "?from=2025-06-01&version=1"),
        ("by=conseil", "?by=conseil"),
        ("where=conseil:malakoff", "?where=conseil:malakoff"),
        ("by=conseil&from=2025-06-01", "?by=conseil&from=2025-06-01"),
        (
            "where=conseil:malakoff&where=role:habitant",
            "?where=conseil:malakoff&where=role:habitant",
        ),
    ] {
        let (best, median, summary) = time(&addr, &token, &format!("{base}{query}"), runs).await;
        println!(
            "summary {name:<44} best {:>7.0} ms, median of {runs} {:>7.0} ms  ({} responses, {} questions)  goal ≤ 1000 ms at 1 M",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            summary["responses"],
            summary["questions"].as_array().map_or(0, Vec::len)
        );
        if query.is_empty() {
            assert_eq!(summary["responses"], n);
        }
    }

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    pool.close().await;
    pg.stop().await.unwrap();
}
