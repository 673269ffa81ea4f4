//! The README's walk-through, command by command, with the real `parole` binary against a
//! real server: publish an example questionnaire, create an interviewer (code, link, QR
//! code), enrol, pull, fill (a valid and an invalid response), sync, export as CSV.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{ServerProcess, ADMIN_PASSWORD};

fn parole(server: &str, client_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parole"))
        .args(["--client-dir", client_dir.to_str().unwrap()])
        .args(args)
        .env("PAROLE_SERVER", server)
        .env("PAROLE_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run parole")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_newcomer_publishes_enrols_fills_syncs_and_exports_with_the_cli() {
    let db = parole_server::testing::test_db().await;
    let server = ServerProcess::start(&db.url).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("client");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/examples/besoins-formation.json"
    );

    let out = ok(parole(
        &url,
        &client,
        &[
            "questionnaire",
            "publish",
            "--slug",
            "besoins-formation",
            "--file",
            example,
        ],
    ));
    assert!(out.contains("besoins-formation version 1"), "{out}");
    let out = ok(parole(
        &url,
        &client,
        &["questionnaire", "changes", "besoins-formation"],
    ));
    assert!(
        out.contains("le brouillon est identique à la version 1"),
        "{out}"
    );

    let svg = dir.path().join("camille.svg");
    let out = ok(parole(
        &url,
        &client,
        &[
            "interviewer",
            "create",
            "--name",
            "Camille",
            "--qr-svg",
            svg.to_str().unwrap(),
        ],
    ));
    let link = out
        .lines()
        .find_map(|l| l.strip_prefix("lien : "))
        .unwrap_or_else(|| panic!("no link in {out}"));
    let code = link.split_once("#enrol=").unwrap().1;
    assert!(link.starts_with(&format!("{url}/app/#enrol=")), "{link}");
    assert!(
        out.contains('█'),
        "a QR code is drawn in the terminal: {out}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    ok(parole(
        &url,
        &client,
        &["enrol", "--server", &url, "--code", code],
    ));
    ok(parole(&url, &client, &["pull"]));

    let answers = dir.path().join("answers.json");
    std::fs::write(
        &answers,
        r#"{"conseil": "malakoff", "role": "habitant", "themes": ["budget"], "format_prefere": "atelier", "remarques": "Plutôt le samedi"}"#,
    )
    .unwrap();
    let out = ok(parole(
        &url,
        &client,
        &[
            "fill",
            "besoins-formation",
            "--answers",
            answers.to_str().unwrap(),
        ],
    ));
    assert!(out.starts_with("queued "), "{out}");

    // An invalid response is refused with every error, in French, and not queued.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"conseil": "atlantis"}"#).unwrap();
    let refused = parole(
        &url,
        &client,
        &[
            "fill",
            "besoins-formation",
            "--answers",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("/conseil") && stderr.contains("/role"),
        "{stderr}"
    );
    assert!(stderr.contains("obligatoire"), "{stderr}");

    let out = ok(parole(&url, &client, &["sync"]));
    assert!(out.contains("acceptées 1"), "{out}");
    let out = ok(parole(&url, &client, &["status"]));
    assert!(
        out.contains("en file 0") && out.contains("synchronisées 1"),
        "{out}"
    );

    // The coordinator sees the device, its last sync, and that nothing waits on it.
    let out = ok(parole(&url, &client, &["device", "list"]));
    let line = out
        .lines()
        .find(|l| l.contains("Camille"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(!line.contains("jamais"), "it has synced: {line}");
    assert!(
        line.contains("à envoyer 0") && line.contains("brouillons 0"),
        "{line}"
    );
    let device_id = line.split_whitespace().next().unwrap().to_string();

    let csv = dir.path().join("reponses.csv");
    ok(parole(
        &url,
        &client,
        &[
            "export",
            "besoins-formation",
            "--format",
            "csv",
            "-o",
            csv.to_str().unwrap(),
            "--server",
            &url,
            "--username",
            "admin",
        ],
    ));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let cell = |name: &str| &rows[0][header.iter().position(|h| h == name).unwrap()];
    assert_eq!(cell("conseil"), "malakoff");
    assert_eq!(cell("themes"), "budget");
    assert_eq!(cell("remarques"), "Plutôt le samedi");
    assert_eq!(cell("version"), "1");

    // Personal data can be left out on request (analysts never get it).
    let ndjson = dir.path().join("reponses.ndjson");
    ok(parole(
        &url,
        &client,
        &[
            "export",
            "besoins-formation",
            "--format",
            "ndjson",
            "-o",
            ndjson.to_str().unwrap(),
            "--server",
            &url,
            "--username",
            "admin",
            "--personal",
            "omit",
        ],
    ));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&ndjson).unwrap().trim()).unwrap();
    assert_eq!(line["personal_data"], "omitted");
    assert_eq!(line["answers"]["conseil"], "malakoff");

    // For Excel in French: `;`, labels, a BOM; a repeat's items in their own file; the map;
    // the photos.
    let export = |format: &str, file: &str, extra: &[&str]| {
        let path = dir.path().join(file);
        let mut args = vec![
            "export",
            "besoins-formation",
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
            "--server",
            &url,
            "--username",
            "admin",
        ];
        args.extend_from_slice(extra);
        ok(parole(&url, &client, &args));
        std::fs::read(&path).unwrap()
    };
    let bytes = export("csv", "fr.csv", &["--sep", ";", "--labels", "fr"]);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a BOM");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(body);
    let header = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let malakoff = doc["properties"]["conseil"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["const"] == "malakoff")
        .unwrap()["title"]
        .clone();
    let at = header.iter().position(|h| h == "conseil").unwrap();
    assert_eq!(row[at], *malakoff.as_str().unwrap());
    let at = header.iter().position(|h| h == "themes/budget").unwrap();
    assert_eq!(&row[at], "1");
    let bytes = export("csv", "formations.csv", &["--repeat", "formations_suivies"]);
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with("\u{feff}response_id,item_index,"),
        "{text}"
    );
    let map = export("geojson", "carte.geojson", &[]);
    let map: serde_json::Value = serde_json::from_slice(&map).unwrap();
    assert_eq!(map["type"], "FeatureCollection");
    let zip = export("photos", "photos.zip", &[]);
    // No photo: an empty archive is its end record alone.
    assert!(zip.starts_with(b"PK\x05\x06"), "{zip:?}");

    // A new code for Camille (another phone of hers): the interviewers are listed with their
    // ids, and the new code enrols.
    let list = ok(parole(&url, &client, &["interviewer", "list"]));
    let camille = list
        .lines()
        .find(|l| l.ends_with("  Camille"))
        .unwrap_or_else(|| panic!("no Camille in {list}"));
    let id = camille.split_whitespace().next().unwrap();
    let out = ok(parole(&url, &client, &["interviewer", "code", id]));
    let code = out
        .lines()
        .find_map(|l| l.strip_prefix("code d'enrôlement : "))
        .unwrap_or_else(|| panic!("no code in {out}"));
    let second = dir.path().join("second");
    ok(parole(
        &url,
        &second,
        &["enrol", "--server", &url, "--code", code],
    ));

    // A lost phone: the coordinator revokes it, and it can no longer sync.
    ok(parole(&url, &client, &["device", "revoke", &device_id]));
    let refused = parole(&url, &client, &["sync"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("autorisé"), "{stderr}");

    // Every staff command logged out when it was done: no staff session is left open.
    let open: i64 = sqlx::query_scalar(
        "select count(*) from token where user_id is not null and revoked_at is null",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "staff sessions left open by the CLI");
}
