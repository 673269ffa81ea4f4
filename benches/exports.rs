//! Exports benchmark (`cargo bench --bench exports`): N responses of the example
//! questionnaire `besoins-formation` (default 1 000 000, `PAROLE_BENCH_N` to change it),
//! exported as CSV, NDJSON and XLSX over real HTTP from a real `parole serve` child process,
//! beside PostgreSQL's own `COPY (select …the CSV's columns…) TO STDOUT (format csv)` on the
//! same database in the same run: rows/s, the ratio to COPY, and the server's peak RSS.
//!
//! The rows are generated here and loaded with `COPY … FROM STDIN` straight into `response`
//! (pushing a million responses through the API would measure ingest, which
//! `benches/ingest.rs` does), then `vacuum (freeze, analyze)` so that no run pays for setting
//! hint bits on freshly loaded rows.
//!
//! Peak RSS: the kernel's high-water mark (`VmHWM` in `/proc/PID/status`) of the server
//! process. It only ever grows, so the server is restarted before each format and the mark is
//! read once its export has been read to the end; it is reset (`clear_refs`) after the
//! login, whose Argon2 hash takes 19 MiB, so each figure is one format's peak (the resident
//! size before the export is printed too).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use futures::StreamExt;
use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolCopyExt;
use sqlx::PgPool;
use support::{ServerProcess, ADMIN_PASSWORD};
use uuid::Uuid;

const SLUG: &str = "besoins-formation";
const CONSEILS: &[&str] = &[
    "bellevue",
    "bottiere_pin_sec",
    "breil_malville",
    "dervallieres",
    "malakoff",
    "nantes_nord",
];
const THEMES: &[&str] = &["budget", "prise_de_parole", "numerique", "animation"];

/// One interview's answers (about 700 bytes of JSON: a repeat of two trainings and a remark).
fn answers(n: usize) -> Value {
    json!({
        "conseil": CONSEILS[n % CONSEILS.len()],
        "role": if n.is_multiple_of(3) { "acteur_local" } else { "habitant" },
        "annee_entree": 2015 + (n % 10) as i64,
        "formations_suivies": [
            {"intitule": "Comprendre le contrat de ville", "date": "2024-03-09", "utilite": 1 + (n % 4) as i64, "a_recommander": true},
            {"intitule": "Animer une réunion", "utilite": 2, "a_recommander": false, "pourquoi_pas": "Trop théorique"}
        ],
        "themes": [THEMES[n % THEMES.len()], THEMES[(n + 1) % THEMES.len()]],
        "format_prefere": "atelier",
        "heures_par_mois": (n % 20) as f64 / 2.0,
        "prochaine_dispo": "2025-02-01",
        "besoin_garde": n.is_multiple_of(2),
        "remarques": format!("{n} — Nous voudrions des formations le samedi matin, près du quartier, avec une garde d'enfants."),
    })
}

/// Loads `n` responses with `COPY … FROM STDIN (format csv)`, 20 000 rows a chunk.
async fn load(pool: &PgPool, questionnaire_id: i64, version: i32, n: usize) {
    let device = Uuid::now_v7();
    let mut copy = pool
        .copy_in_raw(
            "copy response (id, questionnaire_id, version, answers, started_at, started_at_ts, \
             completed_at, completed_at_ts, device_id, sender_device_id, content_hash, location) \
             from stdin (format csv)",
        )
        .await
        .unwrap();
    let mut done = 0;
    while done < n {
        let mut w = csv::Writer::from_writer(Vec::with_capacity(16 << 20));
        for i in done..(done + 20_000).min(n) {
            let minute = i % 60;
            let started = format!("2026-11-28T10:{minute:02}:00+01:00");
            let completed = format!("2026-11-28T10:{minute:02}:30+01:00");
            let location = if i % 2 == 0 {
                json!({"lat": 47.2 + (i % 1000) as f64 / 1e5, "lon": -1.55, "accuracy_m": 10.0})
                    .to_string()
            } else {
                String::new()
            };
            w.write_record([
                Uuid::now_v7().to_string(),
                questionnaire_id.to_string(),
                version.to_string(),
                answers(i).to_string(),
                started.clone(),
                started,
                completed.clone(),
                completed,
                device.to_string(),
                device.to_string(),
                format!("{i:064x}"),
                location,
            ])
            .unwrap();
        }
        copy.send(w.into_inner().unwrap()).await.unwrap();
        done = (done + 20_000).min(n);
    }
    copy.finish().await.unwrap();
    sqlx::query("vacuum (freeze, analyze) response")
        .execute(pool)
        .await
        .unwrap();
}

/// The CSV export's columns, as PostgreSQL computes them (the same query shape as the
/// export: the missing photos by a sub-select per row).
fn copy_query(questionnaire_id: i64) -> String {
    format!(
        "copy (select r.id, r.seq, '{SLUG}', r.version, r.device_id, r.sender_device_id, \
         r.started_at, r.completed_at, r.received_at, r.location->>'lat', r.location->>'lon', \
         r.location->>'accuracy_m', r.content_hash, \
         array_to_string(array(select distinct 'sha256:' || p.sha256 from response_photo p \
           left join attachment a on a.sha256 = p.sha256 \
           where p.response_id = r.id and a.sha256 is null order by 1), ';'), \
         r.answers->>'conseil', r.answers->>'role', r.answers->>'annee_entree', \
         r.answers->'formations_suivies', \
         array_to_string(array(select jsonb_array_elements_text(r.answers->'themes')), ';'), \
         r.answers->>'format_prefere', r.answers->>'heures_par_mois', \
         r.answers->>'prochaine_dispo', r.answers->>'besoin_garde', r.answers->>'remarques' \
         from response r where r.questionnaire_id = {questionnaire_id} order by r.seq) \
         to stdout (format csv, header)"
    )
}

/// COPY's rows per second and bytes.
async fn copy_out(pool: &PgPool, questionnaire_id: i64, n: usize) -> (f64, u64) {
    let started = Instant::now();
    let mut stream = pool
        .copy_out_raw(copy_query(questionnaire_id).as_str())
        .await
        .unwrap();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len() as u64;
    }
    (n as f64 / started.elapsed().as_secs_f64(), bytes)
}

/// The peak resident set size of process `pid`, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// CPU seconds process `pid` has used (user + system; `/proc` counts in 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

struct Figure {
    format: &'static str,
    rows_per_s: f64,
    bytes: u64,
    idle_mib: f64,
    peak_mib: f64,
    /// The server's CPU seconds for the export.
    cpu_s: f64,
}

/// Exports `format` from a fresh server process: rows/s, bytes, idle and peak RSS.
async fn export(database_url: &str, format: &'static str, n: usize) -> Figure {
    let server = ServerProcess::start(database_url).await;
    let pid = server.pid().unwrap();
    let admin = support::setup::Admin::login(&server.url(), ADMIN_PASSWORD).await;
    // Logging in hashes a password with Argon2 (19 MiB): its peak is not the export's.
    // Writing 5 to `clear_refs` resets `VmHWM` to the current RSS.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let idle_mib = peak_rss_mib(pid);
    let http = reqwest::Client::new();
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let mut response = http
        .get(format!(
            "{}/api/v1/questionnaires/{SLUG}/responses.{format}",
            server.url()
        ))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    let rows_per_s = n as f64 / started.elapsed().as_secs_f64();
    Figure {
        format,
        rows_per_s,
        bytes,
        idle_mib,
        peak_mib: peak_rss_mib(pid),
        cpu_s: cpu_seconds(pid) - cpu_before,
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PAROLE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    // Reads only: the loading may skip durability.
    let pg = EmbeddedPg::start(dir.path(), PgOptions::for_tests())
        .await
        .unwrap();
    parole_server::db::ensure_database(&pg.connection_url("postgres"), "parole")
        .await
        .unwrap();
    let database_url = pg.connection_url("parole");
    let pool = parole_server::db::connect(&database_url).await.unwrap();
    parole_server::db::migrate(&pool).await.unwrap();

    // The questionnaire, published through the API of a first server process.
    let version = {
        let server = ServerProcess::start(&database_url).await;
        let admin = support::setup::Admin::login(&server.url(), ADMIN_PASSWORD).await;
        admin.publish(SLUG, &support::setup::example(SLUG)).await
    };
    let questionnaire_id: i64 = sqlx::query_scalar("select id from questionnaire where slug = $1")
        .bind(SLUG)
        .fetch_one(&pool)
        .await
        .unwrap();
    let started = Instant::now();
    load(&pool, questionnaire_id, version, n).await;
    let loaded = started.elapsed();
    let table: String =
        sqlx::query_scalar("select pg_size_pretty(pg_total_relation_size('response'))")
            .fetch_one(&pool)
            .await
            .unwrap();

    // COPY first (it also brings the table into the page cache for everyone), then each
    // format from a fresh server, then COPY again: the better of the two is the reference.
    let (copy1, copy_bytes) = copy_out(&pool, questionnaire_id, n).await;
    let mut figures = Vec::new();
    for format in ["csv", "ndjson", "xlsx"] {
        figures.push(export(&database_url, format, n).await);
    }
    let (copy2, _) = copy_out(&pool, questionnaire_id, n).await;
    let copy = copy1.max(copy2);

    println!(
        "Parole exports benchmark: {n} responses of {SLUG} (table {table}, loaded in {:.0} s)",
        loaded.as_secs_f64()
    );
    println!(
        "COPY (select …) TO STDOUT (format csv): {copy:>9.0} rows/s  ({:.0} MB; runs {copy1:.0} and {copy2:.0})",
        copy_bytes as f64 / 1e6
    );
    for f in &figures {
        println!(
            "{:<7} over HTTP: {:>9.0} rows/s  {:>5.0} % of COPY  {:>7.0} MB  peak RSS {:>5.1} MiB (before {:.1} MiB)  server CPU {:.1} s ({:.0} rows per CPU-second)",
            f.format,
            f.rows_per_s,
            100.0 * f.rows_per_s / copy,
            f.bytes as f64 / 1e6,
            f.peak_mib,
            f.idle_mib,
            f.cpu_s,
            n as f64 / f.cpu_s
        );
    }
    println!(
        "goals at 1 M rows: CSV and NDJSON ≥ 75 % of COPY, XLSX ≥ 25 000 rows/s, peak RSS ≤ 64 MB"
    );

    pool.close().await;
    pg.stop().await.unwrap();
}
