//! `parole questionnaire import-xlsform FILE [-o FILE.json]`, with the real binary: a
//! workbook of the corpus converts locally (no server) to a document that parses, its
//! warnings on stderr as `sheet:row:column: message` in the CLI's language; a workbook that
//! cannot become a questionnaire exits non-zero with its errors listed.

use std::process::{Command, Output};

use parole_client::Questionnaire;
use serde_json::Value;

fn workbook(name: &str) -> String {
    format!(
        "{}/server/tests/xlsforms/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn parole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parole"))
        .args(args)
        .env_remove("PAROLE_LANG")
        .output()
        .expect("run parole")
}

const FAV_COLOR: &str = "getodk__pyodk__examples__fav_color.xlsx";

#[test]
fn a_workbook_converts_to_a_file_with_its_warnings_row_by_row_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fav_color.json");
    let o = parole(&[
        "questionnaire",
        "import-xlsform",
        &workbook(FAV_COLOR),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(o.stdout.is_empty());
    let document: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let q = Questionnaire::parse(&document).unwrap();
    assert_eq!(q.languages, ["en", "fr"]);
    // French by default: the audit row, named by sheet, row and column.
    assert!(
        stderr.contains("survey:7:type: métadonnée « audit » non convertie"),
        "{stderr}"
    );
    assert!(stderr.contains("--slug fav-color"), "{stderr}");
}

#[test]
fn without_an_output_file_the_document_goes_to_stdout_and_english_is_asked_for() {
    let o = parole(&[
        "--lang",
        "en",
        "questionnaire",
        "import-xlsform",
        &workbook(FAV_COLOR),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let document: Value = serde_json::from_slice(&o.stdout).unwrap();
    Questionnaire::parse(&document).unwrap();
    assert!(
        stderr.contains("survey:7:type: metadata `audit` not converted"),
        "{stderr}"
    );
}

#[test]
fn a_broken_workbook_exits_non_zero_with_its_errors_listed() {
    let broken = workbook("broken/getodk__xlsform-offline__test__pyxform-error.xlsx");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.json");
    let o = parole(&[
        "questionnaire",
        "import-xlsform",
        &broken,
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("survey:2:type: type de question inconnu « textX »"),
        "{stderr}"
    );
    assert!(!out.exists());
}
