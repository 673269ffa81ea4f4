//! The exports as Excel, R and QGIS open them: CSV (BOM, `sep`, `labels`, 0/1 columns,
//! repeats in their own files, formula injection), GeoJSON, and `photos.zip`, each parsed
//! back and compared with the responses as they were pushed.

use std::collections::BTreeMap;
use std::io::Read;

use axum::http::StatusCode;
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::attachments::{name_of, photo, put};
use crate::exports::{habitants_answers, PERSONAL};
use crate::helpers::*;

const CSV: &str = "/api/v1/questionnaires/besoins-formation/responses.csv";
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// A CSV reply parsed with `sep`: its header and records. The reply must open with the BOM.
fn table(r: &Reply, sep: u8) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    let body = r
        .bytes
        .strip_prefix(BOM)
        .unwrap_or_else(|| panic!("no BOM: {:?}", &r.bytes[..r.bytes.len().min(8)]));
    let mut reader = csv::ReaderBuilder::new().delimiter(sep).from_reader(body);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{header:?} {row:?}");
    }
    (header, rows)
}

/// The records by the value of their first cell (`id` or `response_id`), each as
/// column → cell.
fn by_first(
    header: &[String],
    rows: &[Vec<String>],
) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for row in rows {
        out.entry(row[0].clone())
            .or_default()
            .push(header.iter().cloned().zip(row.iter().cloned()).collect());
    }
    out
}

/// What a spreadsheet cell must hold for text `s`: a `'` in front of what Excel would run.
fn safe_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The CSV cell of a plain answer (no labels).
fn plain(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => safe_text(s),
        Some(v) => v.to_string(),
    }
}

/// The choices (`const` → `title`) of `question` in `doc`: a single choice's or scale's
/// `oneOf`, or a multiple choice's `items.oneOf`.
fn choices(question: &Value) -> Vec<(Value, String)> {
    question
        .get("oneOf")
        .or_else(|| question["items"].get("oneOf"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| (c["const"].clone(), c["title"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn label_of(question: &Value, value: &Value) -> String {
    choices(question)
        .into_iter()
        .find(|(v, _)| v == value)
        .unwrap_or_else(|| panic!("no choice {value} in {question}"))
        .1
}

/// `besoins-formation` version 2: `remarques` removed; `commentaire` (text) and `solde` (a
/// number that may be negative) added; a new theme; `themes` no longer required.
fn besoins_v2() -> Value {
    let mut v2 = besoins();
    let props = v2["properties"].as_object_mut().unwrap();
    props.remove("remarques");
    props.insert(
        "commentaire".into(),
        json!({"type": "string", "x-widget": "textarea", "title": "Commentaire"}),
    );
    props.insert("solde".into(), json!({"type": "number", "title": "Solde"}));
    v2["properties"]["themes"]["items"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .push(json!({"const": "logement", "title": "Le logement"}));
    v2["required"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k != "themes");
    v2
}

/// Three responses over two versions, with French and Arabic text and text that looks like
/// formulas: (ctx, coordinator, the responses as pushed).
async fn two_versions_stored() -> (Ctx, String, Vec<Value>) {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let mut a = besoins_answers();
    a["remarques"] = json!("=1+1");
    a["formations_suivies"][0]["intitule"] = json!("@SUM(A1:A9)");
    a["formations_suivies"][1]["intitule"] = json!("مرحبا");
    a["formations_suivies"][1]["pourquoi_pas"] = json!("+33 6 12 ; « trop » long");
    let r1 = response(a);
    results(&ctx.push(&token, vec![r1.clone()]).await);
    assert_eq!(
        ctx.publish(&coord, "besoins-formation", besoins_v2()).await,
        2
    );
    let mut r2 = response(json!({
        "conseil": "malakoff",
        "role": "acteur_local",
        "formations_suivies": [{"intitule": "-2", "utilite": 3, "a_recommander": true}],
        "format_prefere": "en_ligne",
        "besoin_garde": false,
        "commentaire": "مرحبا, ça va ? « oui »\ndeuxième ligne",
        "solde": -2.5
    }));
    r2["version"] = json!(2);
    let mut r3 = response(json!({
        "conseil": "bellevue",
        "role": "habitant",
        "themes": ["logement", "budget"],
        "format_prefere": "visite",
        "commentaire": "-2",
        "solde": -7
    }));
    r3["version"] = json!(2);
    let res = results(&ctx.push(&token, vec![r2.clone(), r3.clone()]).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    (ctx, coord, vec![r1, r2, r3])
}

#[tokio::test]
async fn the_csv_opens_in_excel_with_a_bom_and_every_answer_as_pushed_across_two_versions() {
    let (ctx, coord, sent) = two_versions_stored().await;
    let (header, rows) = table(&ctx.get(CSV, &coord).await, b',');
    assert_eq!(rows.len(), sent.len());
    let rows = by_first(&header, &rows);
    // Every question of either version, once.
    let docs = [besoins(), besoins_v2()];
    let mut scalars: Vec<String> = Vec::new();
    for d in &docs {
        for (k, q) in d["properties"].as_object().unwrap() {
            if q["type"] != "array" && !scalars.contains(k) {
                scalars.push(k.clone());
            }
        }
    }
    assert!(scalars.contains(&"remarques".into()) && scalars.contains(&"solde".into()));
    // The union of the themes' choices over both versions.
    let mut themes: Vec<Value> = Vec::new();
    for d in &docs {
        for (v, _) in choices(&d["properties"]["themes"]) {
            if !themes.contains(&v) {
                themes.push(v);
            }
        }
    }
    for s in &sent {
        let id = s["id"].as_str().unwrap();
        let row = &rows[id][0];
        let answers = &s["answers"];
        assert_eq!(row["version"], s["version"].to_string());
        for k in &scalars {
            assert_eq!(row[k], plain(answers.get(k)), "{k} of {id}");
        }
        // A repeat is its number of items here; its items have their own CSV.
        assert_eq!(
            row["formations_suivies"],
            answers
                .get("formations_suivies")
                .map(|f| f.as_array().unwrap().len().to_string())
                .unwrap_or_default()
        );
        let chosen = answers.get("themes").and_then(Value::as_array);
        assert_eq!(
            row["themes"],
            chosen
                .map(|t| t
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(";"))
                .unwrap_or_default()
        );
        for t in &themes {
            let col = format!("themes/{}", t.as_str().unwrap());
            let want = match chosen {
                Some(c) => if c.contains(t) { "1" } else { "0" }.to_string(),
                None => String::new(),
            };
            assert_eq!(row[&col], want, "{col} of {id}");
        }
    }
    // What a spreadsheet would have run is text; a negative number stays a number.
    let r2 = &rows[sent[1]["id"].as_str().unwrap()][0];
    assert_eq!(r2["solde"], "-2.5");
    let r3 = &rows[sent[2]["id"].as_str().unwrap()][0];
    assert_eq!(r3["commentaire"], "'-2");
    assert_eq!(r3["solde"], "-7");
    let r1 = &rows[sent[0]["id"].as_str().unwrap()][0];
    assert_eq!(r1["remarques"], "'=1+1");
}

#[tokio::test]
async fn sep_semicolon_gives_the_same_table_with_semicolons() {
    let (ctx, coord, _sent) = two_versions_stored().await;
    let comma = ctx.get(CSV, &coord).await;
    let semi = ctx.get(&format!("{CSV}?sep=%3B"), &coord).await;
    assert!(semi.bytes.starts_with(BOM));
    let first_line = String::from_utf8(semi.bytes[3..].to_vec()).unwrap();
    let first_line = first_line.split("\r\n").next().unwrap().to_string();
    assert!(first_line.starts_with("id;seq;"), "{first_line}");
    assert!(!first_line.contains(','), "{first_line}");
    assert_eq!(table(&semi, b';'), table(&comma, b','));
    // `,` said explicitly is the default.
    assert_eq!(
        ctx.get(&format!("{CSV}?sep=%2C"), &coord).await.bytes,
        comma.bytes
    );
    for bad in ["%09", "x", "%3B%3B"] {
        let r = ctx.get(&format!("{CSV}?sep={bad}"), &coord).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.text().contains("sep"), "{}", r.text());
    }
}

#[tokio::test]
async fn labels_fr_writes_the_questionnaires_french_labels_for_choices_and_yes_no() {
    let (ctx, coord, sent) = two_versions_stored().await;
    let (h, values) = table(&ctx.get(CSV, &coord).await, b',');
    let (hl, labelled) = table(&ctx.get(&format!("{CSV}?labels=fr"), &coord).await, b',');
    assert_eq!(h, hl);
    let values = by_first(&h, &values);
    let labelled = by_first(&hl, &labelled);
    let doc = besoins_v2();
    let q = |k: &str| doc["properties"][k].clone();
    for s in &sent {
        let id = s["id"].as_str().unwrap();
        let (plain_row, row) = (&values[id][0], &labelled[id][0]);
        let a = &s["answers"];
        for k in ["conseil", "role", "format_prefere"] {
            assert_eq!(row[k], safe_text(&label_of(&q(k), &a[k])), "{k}");
        }
        if let Some(t) = a.get("themes").and_then(Value::as_array) {
            let labels: Vec<String> = t.iter().map(|v| label_of(&q("themes"), v)).collect();
            assert_eq!(row["themes"], labels.join(";"));
        }
        let yes_no = |v: Option<&Value>| match v {
            Some(Value::Bool(true)) => "oui",
            Some(Value::Bool(false)) => "non",
            _ => "",
        };
        assert_eq!(row["besoin_garde"], yes_no(a.get("besoin_garde")));
        // Everything else, the 0/1 columns included, is as without labels.
        for (col, cell) in plain_row {
            if ![
                "conseil",
                "role",
                "format_prefere",
                "themes",
                "besoin_garde",
            ]
            .contains(&col.as_str())
            {
                assert_eq!(&row[col], cell, "{col}");
            }
        }
    }
}

#[tokio::test]
async fn a_repeat_has_its_own_csv_keyed_by_response_and_item_index() {
    let (ctx, coord, sent) = two_versions_stored().await;
    for labels in [false, true] {
        let url = format!(
            "{CSV}?repeat=formations_suivies{}",
            if labels { "&labels=fr" } else { "" }
        );
        let r = ctx.get(&url, &coord).await;
        assert!(
            r.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("formations_suivies"),
            "{:?}",
            r.headers
        );
        let (header, rows) = table(&r, b',');
        assert_eq!(header[..2], ["response_id", "item_index"]);
        let items_schema = &besoins()["properties"]["formations_suivies"]["items"];
        let keys: Vec<&String> = items_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(header[2..].iter().collect::<Vec<_>>(), keys);
        let total: usize = sent
            .iter()
            .map(|s| {
                s["answers"]
                    .get("formations_suivies")
                    .map_or(0, |f| f.as_array().unwrap().len())
            })
            .sum();
        assert_eq!(rows.len(), total);
        let rows = by_first(&header, &rows);
        for s in &sent {
            let id = s["id"].as_str().unwrap();
            let Some(items) = s["answers"].get("formations_suivies") else {
                assert!(!rows.contains_key(id));
                continue;
            };
            let got = &rows[id];
            assert_eq!(got.len(), items.as_array().unwrap().len());
            for (i, (item, row)) in items.as_array().unwrap().iter().zip(got).enumerate() {
                assert_eq!(row["item_index"], (i + 1).to_string());
                for k in &keys {
                    let want = match (labels, item.get(k.as_str())) {
                        (true, Some(Value::Bool(b))) => if *b { "oui" } else { "non" }.to_string(),
                        (true, Some(v)) if k.as_str() == "utilite" => {
                            label_of(&items_schema["properties"]["utilite"], v)
                        }
                        (_, v) => plain(v),
                    };
                    assert_eq!(row[k.as_str()], want, "{k} of item {i} of {id}");
                }
            }
        }
    }
    // The Arabic and the formula-looking text of the items.
    let (header, rows) = table(
        &ctx.get(&format!("{CSV}?repeat=formations_suivies"), &coord)
            .await,
        b',',
    );
    let col = header.iter().position(|h| h == "intitule").unwrap();
    let titles: Vec<&str> = rows.iter().map(|r| r[col].as_str()).collect();
    assert!(
        titles.contains(&"مرحبا") && titles.contains(&"'@SUM(A1:A9)") && titles.contains(&"'-2"),
        "{titles:?}"
    );
}

#[tokio::test]
async fn an_unknown_repeat_or_label_language_is_400_naming_it() {
    let (ctx, coord, _sent) = two_versions_stored().await;
    for (query, named) in [
        ("repeat=inconnue", "inconnue"),
        ("repeat=themes", "themes"),
        ("labels=de", "de"),
    ] {
        let r = ctx.get(&format!("{CSV}?{query}"), &coord).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        let body = r.json();
        for m in ["error", "message_en"] {
            let msg = body[m].as_str().unwrap_or_default();
            assert!(msg.contains(named), "{query}: {body}");
        }
    }
    // The repeats that exist are named in the answer.
    let r = ctx.get(&format!("{CSV}?repeat=inconnue"), &coord).await;
    assert!(r.text().contains("formations_suivies"), "{}", r.text());
}

// ---------------------------------------------------------------------------------------------
// parole-habitants: English labels, personal data, GeoJSON, photos

const HABITANTS_CSV: &str = "/api/v1/questionnaires/parole-habitants/responses.csv";
const HABITANTS_GEOJSON: &str = "/api/v1/questionnaires/parole-habitants/responses.geojson";
const HABITANTS_PHOTOS: &str = "/api/v1/questionnaires/parole-habitants/photos.zip";

fn habitants() -> Value {
    serde_json::from_str(HABITANTS).unwrap()
}

/// `parole-habitants` v1, a coordinator, an analyst and a device's token.
async fn habitants_ctx() -> (Ctx, String, String, String) {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let analyst = ctx.login_as(Role::Analyst).await;
    ctx.publish(&coord, "parole-habitants", habitants()).await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    (ctx, coord, analyst, token)
}

fn habitants_response(answers: Value, version: i32) -> Value {
    let mut r = response(answers);
    r["questionnaire"] = json!("parole-habitants");
    r["version"] = json!(version);
    r
}

#[tokio::test]
async fn labels_en_gives_the_english_labels_and_the_default_where_there_is_none() {
    let (ctx, coord, _analyst, token) = habitants_ctx().await;
    let sent = habitants_response(habitants_answers(), 1);
    results(&ctx.push(&token, vec![sent.clone()]).await);
    let (header, rows) = table(
        &ctx.get(&format!("{HABITANTS_CSV}?labels=en"), &coord).await,
        b',',
    );
    let row: BTreeMap<&str, &str> = header
        .iter()
        .map(String::as_str)
        .zip(rows[0].iter().map(String::as_str))
        .collect();
    let doc = habitants();
    let a = &sent["answers"];
    // The English label where the document has one, else the default (French) one.
    let english = |q: &Value, v: &Value| {
        q["x-i18n"]["en"]["choices"]
            .get(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| label_of(q, v))
    };
    for k in ["quartier", "anciennete", "genre"] {
        let q = &doc["properties"][k];
        assert_eq!(row[k], english(q, &a[k]), "{k}");
    }
    let logement = &doc["properties"]["cadre_de_vie"]["properties"]["logement"];
    assert_eq!(
        row["cadre_de_vie.logement"],
        english(logement, &a["cadre_de_vie"]["logement"])
    );
    assert_eq!(row["connait_conseil"], "no");
    assert_eq!(row["recontact"], "yes");
    let p = &doc["properties"]["priorites"];
    let want: Vec<String> = a["priorites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| english(p, v))
        .collect();
    assert_eq!(row["priorites"], want.join(";"));
}

#[tokio::test]
async fn personal_answers_in_the_csv_and_its_repeats_follow_the_role() {
    // A repeat whose item has a personal question.
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let mut doc = besoins();
    doc["properties"]["formations_suivies"]["items"]["properties"]["intitule"]["x-personal-data"] =
        json!(true);
    ctx.publish(&coord, "besoins-formation", doc).await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    let sent = response(besoins_answers());
    results(&ctx.push(&token, vec![sent.clone()]).await);
    let url = format!("{CSV}?repeat=formations_suivies");
    let (ch, crows) = table(&ctx.get(&url, &coord).await, b',');
    let (ah, arows) = table(&ctx.get(&url, &analyst).await, b',');
    assert!(ch.contains(&"intitule".to_string()));
    assert!(!ah.contains(&"intitule".to_string()), "{ah:?}");
    let items = sent["answers"]["formations_suivies"].as_array().unwrap();
    assert_eq!((crows.len(), arows.len()), (items.len(), items.len()));
    let col = ch.iter().position(|h| h == "intitule").unwrap();
    for (row, item) in crows.iter().zip(items) {
        assert_eq!(row[col], item["intitule"].as_str().unwrap());
    }
    let text = String::from_utf8(ctx.get(&url, &analyst).await.bytes).unwrap();
    for item in items {
        assert!(!text.contains(item["intitule"].as_str().unwrap()), "{text}");
    }
    // The main CSV as analyst has the other answers of the item's repeat: its count.
    let (h, rows) = table(&ctx.get(CSV, &analyst).await, b',');
    let i = h.iter().position(|c| c == "formations_suivies").unwrap();
    assert_eq!(rows[0][i], items.len().to_string());
}

/// Checks that `v` is a GeoJSON FeatureCollection of Points; returns its features by id.
fn features(r: &Reply) -> BTreeMap<String, Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/geo+json");
    let v = r.json();
    assert_eq!(v["type"], "FeatureCollection");
    let mut out = BTreeMap::new();
    for f in v["features"].as_array().unwrap() {
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["geometry"]["type"], "Point");
        let c = f["geometry"]["coordinates"].as_array().unwrap();
        assert_eq!(c.len(), 2);
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat));
        assert!(f["properties"].is_object());
        out.insert(
            f["properties"]["id"].as_str().unwrap().to_string(),
            f.clone(),
        );
    }
    out
}

#[tokio::test]
async fn the_geojson_has_a_point_per_located_response_lon_first_and_personal_data_by_role() {
    let (ctx, coord, analyst, token) = habitants_ctx().await;
    let here = json!({"lat": 47.218_371, "lon": -1.553_621, "accuracy_m": 8.0});
    // Located by its answer (and its own location); by its own location only; not at all.
    let mut by_answer = habitants_response(habitants_answers(), 1);
    by_answer["location"] = here.clone();
    let mut answers = habitants_answers();
    answers.as_object_mut().unwrap().remove("position");
    let mut by_device = habitants_response(answers.clone(), 1);
    by_device["location"] = here.clone();
    let nowhere = habitants_response(answers, 1);
    let res = results(
        &ctx.push(
            &token,
            vec![by_answer.clone(), by_device.clone(), nowhere.clone()],
        )
        .await,
    );
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    let id = |r: &Value| r["id"].as_str().unwrap().to_string();

    let coord_f = features(&ctx.get(HABITANTS_GEOJSON, &coord).await);
    assert_eq!(coord_f.len(), 2);
    assert!(!coord_f.contains_key(&id(&nowhere)));
    let pos = &by_answer["answers"]["position"];
    let f = &coord_f[&id(&by_answer)];
    assert_eq!(
        f["geometry"]["coordinates"],
        json!([pos["lon"], pos["lat"]])
    );
    assert_eq!(f["properties"]["location_source"], "position");
    let f = &coord_f[&id(&by_device)];
    assert_eq!(
        f["geometry"]["coordinates"],
        json!([here["lon"], here["lat"]])
    );
    assert_eq!(f["properties"]["location_source"], "response");
    for f in coord_f.values() {
        let p = &f["properties"];
        let a = &by_answer["answers"];
        assert_eq!(p["quartier"], a["quartier"]);
        assert_eq!(p["cadre_de_vie.logement"], a["cadre_de_vie"]["logement"]);
        assert_eq!(p["recontact"], a["recontact"]);
        assert_eq!(p["commentaire"], a["commentaire"]);
        for k in PERSONAL {
            assert_eq!(p[k], a[k], "{k}");
        }
    }

    let analyst_f = features(&ctx.get(HABITANTS_GEOJSON, &analyst).await);
    assert_eq!(analyst_f.len(), 2);
    // The answer's position is not personal; the device's own is coarsened.
    assert_eq!(
        analyst_f[&id(&by_answer)]["geometry"],
        coord_f[&id(&by_answer)]["geometry"]
    );
    let coarse = |x: &Value| (x.as_f64().unwrap() * 1000.0).round() / 1000.0;
    assert_eq!(
        analyst_f[&id(&by_device)]["geometry"]["coordinates"],
        json!([coarse(&here["lon"]), coarse(&here["lat"])])
    );
    for f in analyst_f.values() {
        for k in PERSONAL {
            assert!(f["properties"].get(k).is_none(), "{k} in {f}");
        }
    }
    let text = ctx.get(HABITANTS_GEOJSON, &analyst).await.text();
    assert!(
        !text.contains("Aïcha") && !text.contains("47.218371"),
        "{text}"
    );
    // Filters apply: none completed after the pushed day.
    let r = ctx
        .get(&format!("{HABITANTS_GEOJSON}?from=2030-01-01"), &coord)
        .await;
    assert!(features(&r).is_empty());
}

/// The entries of a zip: name → bytes.
fn unzip(r: &Reply) -> BTreeMap<String, Vec<u8>> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/zip");
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(r.bytes.clone())).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn photos_zip_holds_each_photo_by_response_and_question_following_the_role() {
    let (ctx, coord, analyst, token) = habitants_ctx().await;
    // Version 2 makes the photo of a place personal.
    let mut v2 = habitants();
    v2["properties"]["photo_lieu"]["x-personal-data"] = json!(true);
    ctx.publish(&coord, "parole-habitants", v2).await;
    let (open, personal, never_sent) = (photo(1, 150_000), photo(2, 3_000), photo(3, 10));
    let mut pushed = Vec::new();
    for (version, bytes) in [(1, &open), (2, &personal), (1, &never_sent)] {
        let mut answers = habitants_answers();
        answers["photo_lieu"] = json!(name_of(bytes));
        pushed.push(habitants_response(answers, version));
    }
    let res = results(&ctx.push(&token, pushed.clone()).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    for bytes in [&open, &personal] {
        let r = put(&ctx, &token, &name_of(bytes), bytes.to_vec()).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let entry = |r: &Value| format!("{}/photo_lieu.jpg", r["id"].as_str().unwrap());

    let all = unzip(&ctx.get(HABITANTS_PHOTOS, &coord).await);
    let want: BTreeMap<String, Vec<u8>> = [
        (entry(&pushed[0]), open.clone()),
        (entry(&pushed[1]), personal.clone()),
    ]
    .into();
    assert_eq!(all, want);
    let analysts = unzip(&ctx.get(HABITANTS_PHOTOS, &analyst).await);
    assert_eq!(analysts, [(entry(&pushed[0]), open.clone())].into());
    // The filters apply; a coordinator may leave personal photos out.
    let v2_only = unzip(
        &ctx.get(&format!("{HABITANTS_PHOTOS}?version=2"), &coord)
            .await,
    );
    assert_eq!(v2_only, [(entry(&pushed[1]), personal.clone())].into());
    let omitted = unzip(
        &ctx.get(&format!("{HABITANTS_PHOTOS}?personal=omit"), &coord)
            .await,
    );
    assert_eq!(omitted, analysts);
    let r = ctx
        .get(&format!("{HABITANTS_PHOTOS}?personal=include"), &analyst)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No photo: an empty archive, still a valid one.
    let none = unzip(
        &ctx.get(&format!("{HABITANTS_PHOTOS}?from=2030-01-01"), &coord)
            .await,
    );
    assert!(none.is_empty());
}
