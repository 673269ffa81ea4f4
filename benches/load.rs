//! Load benchmark (`cargo bench --bench load`): 2 000 simulated phones against one, then two
//! `parole serve` replicas on one PostgreSQL (default durability). Each phone, once per
//! period (default a minute), does what the app does at a sync: pulls the questionnaires
//! with its ETag (a 304 when nothing changed), uploads a photo, and pushes a few responses
//! naming it; its start within the period is random. Then a burst: every phone syncs at
//! the same instant (the network coming back at the end of a day in the field). Phones are
//! spread over the replicas (phone i → replica i mod n), as a load balancer would.
//!
//! Printed per configuration and phase: responses stored per second, the p50/p99 latency
//! of each kind of request, errors (any status but 2xx/304, any transport failure), and
//! each replica's peak RSS. The phones run in this process, on the same two cores as the
//! servers and PostgreSQL: the figures are a floor.
//!
//! `PAROLE_LOAD_PHONES` (2000), `PAROLE_LOAD_PERIOD_S` (60), `PAROLE_LOAD_RESPONSES` (3 per
//! sync) change the sizes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use support::setup::{example, Admin};
use support::ServerProcess;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Phone {
    token: String,
    etag: Mutex<Option<String>>,
}

/// Latencies and errors of one kind of request.
#[derive(Default)]
struct Kind {
    latencies: Vec<Duration>,
    errors: usize,
}

#[derive(Default)]
struct Stats {
    pull: Kind,
    photo: Kind,
    push: Kind,
    stored: usize,
}

impl Stats {
    fn record(kind: &mut Kind, started: Instant, ok: bool) {
        kind.latencies.push(started.elapsed());
        if !ok {
            kind.errors += 1;
        }
    }
}

fn ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// One sync of one phone: pull, a photo, `count` responses naming it.
async fn sync(
    http: &reqwest::Client,
    server: &str,
    phone: &Phone,
    answers: &Value,
    count: usize,
    seed: u64,
    stats: &Mutex<Stats>,
) {
    // Pull, with the ETag of the previous pull.
    let started = Instant::now();
    let etag = phone.etag.lock().unwrap().clone();
    let mut req = http
        .get(format!("{server}/api/v1/sync/questionnaires"))
        .bearer_auth(&phone.token);
    if let Some(e) = &etag {
        req = req.header("if-none-match", e);
    }
    let pulled = req.send().await;
    let ok = match pulled {
        Ok(r) if r.status().is_success() || r.status() == 304 => {
            if let Some(e) = r.headers().get("etag") {
                *phone.etag.lock().unwrap() = e.to_str().ok().map(str::to_string);
            }
            let _ = r.bytes().await;
            true
        }
        _ => false,
    };
    Stats::record(&mut stats.lock().unwrap().pull, started, ok);

    // A photo (about 40 KB, unique).
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let photo: Vec<u8> = (0..40_000).map(|_| rng.gen()).collect();
    let reference = parole_client::backup::photo_ref(&photo);
    let started = Instant::now();
    let put = http
        .put(format!("{server}/api/v1/attachments/{reference}"))
        .bearer_auth(&phone.token)
        .header("content-type", "image/jpeg")
        .body(photo)
        .send()
        .await;
    let ok = put.is_ok_and(|r| r.status().is_success());
    Stats::record(&mut stats.lock().unwrap().photo, started, ok);

    // The responses.
    let responses: Vec<Value> = (0..count)
        .map(|_| {
            let mut a = answers.clone();
            a["photo_lieu"] = json!(reference);
            json!({
                "id": uuid::Uuid::now_v7(),
                "questionnaire": "parole-habitants",
                "version": 1,
                "answers": a,
                "started_at": "2026-11-30T10:00:00+01:00",
                "completed_at": "2026-11-30T10:09:00+01:00",
            })
        })
        .collect();
    let started = Instant::now();
    let pushed = http
        .post(format!("{server}/api/v1/sync/responses"))
        .bearer_auth(&phone.token)
        .json(&json!({"responses": responses, "device_state": {"queued": 0, "drafts": 0, "app_version": "load"}}))
        .send()
        .await;
    let accepted = match pushed {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok().and_then(|b| {
            b["results"]
                .as_array()
                .map(|rs| rs.iter().filter(|r| r["status"] == "accepted").count())
        }),
        _ => None,
    };
    let mut s = stats.lock().unwrap();
    Stats::record(&mut s.push, started, accepted == Some(count));
    s.stored += accepted.unwrap_or(0);
}

/// Every phone syncs once, each at a random moment within `period` (or all at once when
/// `period` is zero); the stats and the elapsed time.
async fn phase(
    http: &reqwest::Client,
    servers: &[String],
    phones: &[Phone],
    answers: &Value,
    count: usize,
    period: Duration,
    seed: u64,
) -> (Stats, Duration) {
    let stats = Mutex::new(Stats::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let offsets: Vec<Duration> = phones
        .iter()
        .map(|_| period.mul_f64(rng.gen::<f64>()))
        .collect();
    let started = Instant::now();
    futures::future::join_all(phones.iter().enumerate().map(|(i, phone)| {
        let (stats, offset) = (&stats, offsets[i]);
        let server = &servers[i % servers.len()];
        async move {
            tokio::time::sleep(offset).await;
            sync(http, server, phone, answers, count, seed ^ i as u64, stats).await;
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let mut stats = stats.into_inner().unwrap();
    for kind in [&mut stats.pull, &mut stats.photo, &mut stats.push] {
        kind.latencies.sort();
    }
    (stats, elapsed)
}

fn report(replicas: &[ServerProcess], name: &str, stats: &Stats, elapsed: Duration) {
    let line = |label: &str, k: &Kind| {
        format!(
            "{label} p50 {:.1} ms p99 {:.1} ms ({} errors)",
            ms(&k.latencies, 0.5),
            ms(&k.latencies, 0.99),
            k.errors
        )
    };
    let rss: Vec<String> = replicas
        .iter()
        .map(|r| format!("{} MB", r.peak_rss_kib().unwrap_or(0) / 1024))
        .collect();
    println!(
        "{} replica(s), {name}: {} responses in {:.1} s = {:.0} responses/s; {}; {}; {}; peak RSS {}",
        replicas.len(),
        stats.stored,
        elapsed.as_secs_f64(),
        stats.stored as f64 / elapsed.as_secs_f64(),
        line("pull", &stats.pull),
        line("photo", &stats.photo),
        line("push", &stats.push),
        rss.join(" + ")
    );
}

#[tokio::main]
async fn main() {
    let phones_n = env("PAROLE_LOAD_PHONES", 2000);
    let period = Duration::from_secs(env("PAROLE_LOAD_PERIOD_S", 60) as u64);
    let count = env("PAROLE_LOAD_RESPONSES", 3);
    // The servers' slow-acquisition warnings during the burst would bury the figures.
    if std::env::var_os("PAROLE_SERVER_LOG").is_none() {
        std::env::set_var("PAROLE_SERVER_LOG", "error");
    }
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPg::start(dir.path(), PgOptions::default())
        .await
        .unwrap();
    parole_server::db::ensure_database(&pg.connection_url("postgres"), "parole")
        .await
        .unwrap();
    let url = pg.connection_url("parole");

    let first = ServerProcess::start(&url).await;
    let admin = Admin::login(&first.url(), support::ADMIN_PASSWORD).await;
    admin
        .publish("parole-habitants", &example("parole-habitants"))
        .await;
    // The phones: one interviewer each, enrolled 32 at a time.
    let http = reqwest::Client::new();
    let mut phones = Vec::with_capacity(phones_n);
    for chunk in (0..phones_n).collect::<Vec<_>>().chunks(32) {
        let enrolled = futures::future::join_all(chunk.iter().map(|i| {
            let (admin, server) = (&admin, first.url());
            async move {
                let code = admin.interviewer(&format!("Enquêteur {i}")).await;
                let enrolment = parole_client::native::ApiClient::new()
                    .unwrap()
                    .enrol(&server, &code, &format!("téléphone {i}"))
                    .await
                    .unwrap();
                Phone {
                    token: enrolment.token,
                    etag: Mutex::new(None),
                }
            }
        }))
        .await;
        phones.extend(enrolled);
    }
    drop(first);
    let answers = support::setup::valid_answers("parole-habitants");

    println!(
        "Parole load benchmark: {phones_n} phones, each syncing once per {} s (pull with ETag, a 40 KB photo, {count} responses), then all at once; default durability; phones, servers and PostgreSQL on this machine's {} cores",
        period.as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for n in [1, 2] {
        let mut replicas = Vec::new();
        for _ in 0..n {
            replicas.push(ServerProcess::start(&url).await);
        }
        let servers: Vec<String> = replicas.iter().map(|r| r.url()).collect();
        let (stats, elapsed) =
            phase(&http, &servers, &phones, &answers, count, period, n as u64).await;
        report(
            &replicas,
            "steady (one sync per phone per period)",
            &stats,
            elapsed,
        );
        let (stats, elapsed) = phase(
            &http,
            &servers,
            &phones,
            &answers,
            count,
            Duration::ZERO,
            10 + n as u64,
        )
        .await;
        report(&replicas, "burst (every phone at once)", &stats, elapsed);
    }
    pg.stop().await.unwrap();
}
