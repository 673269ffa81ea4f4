//! A killed client loses nothing it reported as queued.
//!
//! `parole fill --ndjson` queues many responses and prints `queued <id>` after each one is
//! stored. We SIGKILL it at random moments, several times, then check that every id it
//! printed is in the store, queued, and intact (the answers of its line). No server needed:
//! the client dir is prepared with the library, exactly as `parole pull` stores it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use parole_client::api::SyncQuestionnaire;
use parole_client::native::FileStorage;
use parole_client::outbox::{Outbox, State};
use parole_client::sync::store_questionnaires;
use parole_client::ResponseId;
use rand::Rng;
use serde_json::{json, Value};

const LINES: usize = 3000;
const KILLS: usize = 6;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn prepare(dir: &Path) {
    let storage = FileStorage::open(dir).unwrap();
    let document = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Enquête de test",
        "type": "object",
        "properties": {
            "n": {"type": "integer", "title": "Numéro"},
            "note": {"type": "string", "title": "Une note"}
        },
        "required": ["n", "note"],
        "additionalProperties": false
    });
    parole_client::Questionnaire::parse(&document).expect("a valid test questionnaire");
    block_on(store_questionnaires(
        &storage,
        Some("\"test\""),
        &[SyncQuestionnaire {
            slug: "kill-test".into(),
            version: 3,
            title: "Enquête de test".into(),
            document,
        }],
    ))
    .unwrap();
}

fn line(n: usize) -> Value {
    json!({"n": n, "note": format!("réponse n° {n} — « données de terrain » {}", "x".repeat(n % 200))})
}

#[test]
fn a_killed_client_loses_nothing_it_reported_as_queued() {
    let dir = tempfile::tempdir().unwrap();
    let client_dir = dir.path().join("client");
    prepare(&client_dir);
    let ndjson = dir.path().join("answers.ndjson");
    let text: String = (0..LINES).map(|n| format!("{}\n", line(n))).collect();
    std::fs::write(&ndjson, text).unwrap();

    let mut rng = rand::thread_rng();
    let mut printed: Vec<ResponseId> = Vec::new();
    for run in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parole"))
            .arg("--client-dir")
            .arg(&client_dir)
            .args(["fill", "kill-test", "--ndjson"])
            .arg(&ndjson)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting parole");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..600)));
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix.
        let status = child.wait().unwrap();
        // Every line the child wrote before dying is in the pipe: read it to the end.
        let lines = reader.join().unwrap();
        let mut this_run = 0;
        for l in lines {
            // A kill can cut the last line short; a partial line proves nothing either way.
            let Some(id) = l.strip_prefix("queued ") else {
                continue;
            };
            let Ok(uuid) = id.trim().parse() else {
                continue;
            };
            if id.trim().len() != 36 {
                continue;
            }
            printed.push(ResponseId(uuid));
            this_run += 1;
        }
        eprintln!("run {run}: {this_run} reported queued, exit {status:?}");
    }
    assert!(
        !printed.is_empty(),
        "the client never got to queue anything"
    );

    let outbox = Outbox::new(FileStorage::open(&client_dir).unwrap());
    let records = block_on(outbox.list()).expect("every stored record is readable");
    let by_id: HashMap<_, _> = records.iter().map(|r| (r.response.id, r)).collect();
    for id in &printed {
        let rec = by_id
            .get(id)
            .unwrap_or_else(|| panic!("{id} was reported queued but is not in the store"));
        assert_eq!(rec.state, State::Queued, "{id}");
        assert_eq!(rec.response.questionnaire, "kill-test");
        assert_eq!(rec.response.version, 3);
        assert!(!rec.response.completed_at.is_empty());
        let n = rec.response.answers["n"].as_u64().expect("answers intact") as usize;
        assert_eq!(rec.response.answers, line(n), "{id}: answers intact");
    }
    // Whatever was stored (perhaps one more than reported, killed before printing) is whole.
    assert!(records.len() >= printed.len());
    eprintln!(
        "{} reported queued over {KILLS} kills, {} in the store",
        printed.len(),
        records.len()
    );
}
