//! The format's conformance cases: every case of `schemas/examples/*.cases.json` against the
//! project's example questionnaires beside them.

use std::path::{Path, PathBuf};

use parole_client::{Questionnaire, ValidationError};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn examples() -> PathBuf {
    root().join("schemas/examples")
}

fn example(name: &str) -> Questionnaire {
    let document = read(&examples().join(name));
    Questionnaire::parse(&document)
        .unwrap_or_else(|errors| panic!("{name} is refused: {errors:#?}"))
}

/// Runs every case of one file; returns the failures, described.
fn run_cases(file: &str) -> Vec<String> {
    let cases = read(&examples().join(file));
    let q = example(cases["questionnaire"].as_str().unwrap());
    let mut failures = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let errors = q.validate(&case["answers"]);
        let valid = case["valid"].as_bool().unwrap();
        if valid && !errors.is_empty() {
            failures.push(format!("{file}: «{name}» should be valid, got {errors:#?}"));
        }
        if !valid && errors.is_empty() {
            failures.push(format!("{file}: «{name}» should be refused"));
        }
        for mention in case["mention"].as_array().into_iter().flatten() {
            let mention = mention.as_str().unwrap();
            if !errors.iter().any(|e| last_segment(e) == mention) {
                failures.push(format!(
                    "{file}: «{name}» should mention {mention}, got {errors:#?}"
                ));
            }
        }
        for e in &errors {
            if e.message.fr.is_empty() || e.message.en.is_empty() || e.code.is_empty() {
                failures.push(format!("{file}: «{name}»: incomplete error {e:?}"));
            }
        }
    }
    failures
}

fn last_segment(e: &ValidationError) -> &str {
    e.path.rsplit('/').next().unwrap_or_default()
}

#[test]
fn every_parole_habitants_case_passes() {
    let failures = run_cases("parole-habitants.cases.json");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_besoins_formation_case_passes() {
    let failures = run_cases("besoins-formation.cases.json");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_example_questionnaire_is_accepted() {
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        // The conformance cases live beside the questionnaires: not questionnaires themselves.
        if name.ends_with(".json") && !name.ends_with(".cases.json") {
            let document = read(&path);
            if let Err(errors) = Questionnaire::parse(&document) {
                panic!("{} is refused: {errors:#?}", path.display());
            }
        }
    }
}

#[test]
fn every_case_error_message_is_printed_for_review() {
    // Not an assertion: `cargo test -- --nocapture` shows the messages an interviewer sees.
    let cases = read(&examples().join("parole-habitants.cases.json"));
    let q = example("parole-habitants.json");
    for case in cases["cases"].as_array().unwrap() {
        for e in q.validate(&case["answers"]) {
            println!(
                "{} [{}] {}\n    {}",
                e.path, e.code, e.message.fr, e.message.en
            );
        }
    }
}
