//! The XLSX export, read back with calamine and compared with what was stored: two versions
//! (a question removed, one added), a repeat's sheet, the codebook, French and Arabic text,
//! formula-looking text, typed cells, personal data by role.

use std::io::Cursor;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx};
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::helpers::*;

const URL: &str = "/api/v1/questionnaires/besoins-formation/responses.xlsx";
const ARABIC: &str = "نحتاج إلى تدريب في المساء — شكراً";

/// Excel's serial number of a date-time written `YYYY-MM-DD HH:MM:SS` (days since
/// 1899-12-30), computed here independently of the server's code.
fn serial(at: &str) -> f64 {
    let t = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    (t - epoch).num_seconds() as f64 / 86_400.0
}

/// Version 2 of `besoins-formation`: in French and Arabic, `remarques` removed, `nouvelle`
/// (labelled in both languages) and a personal `telephone` added.
fn version_2() -> Value {
    let mut v2 = besoins();
    v2["x-languages"] = json!(["fr", "ar"]);
    let props = v2["properties"].as_object_mut().unwrap();
    props.remove("remarques");
    props.insert(
        "nouvelle".into(),
        json!({"type": "string", "title": "Une idée de formation ?",
               "x-i18n": {"ar": {"title": "فكرة تدريب؟"}}}),
    );
    props.insert(
        "telephone".into(),
        json!({"type": "string", "title": "Téléphone", "x-personal-data": true}),
    );
    props["conseil"]["x-i18n"] = json!({"ar": {"choices": {"malakoff": "مالاكوف"}}});
    v2
}

/// Two responses: one to version 1 (formula-looking remark and training title, a precise
/// location), one to version 2 (Arabic text, a phone number): (ctx, coordinator, analyst,
/// the two answers as sent, the two ids).
async fn stored() -> (Ctx, String, String, [Value; 2], [String; 2]) {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let mut a1 = besoins_answers();
    a1["remarques"] = json!("=HYPERLINK(\"http://exemple.test\",\"cliquez\")");
    a1["formations_suivies"][0]["intitule"] = json!("+33 : formation au téléphone");
    let mut r1 = response(a1.clone());
    r1["location"] = json!({"lat": 47.212345, "lon": -1.554321, "accuracy_m": 8.0});
    results(&ctx.push(&token, vec![r1.clone()]).await);
    assert_eq!(
        ctx.publish(&coord, "besoins-formation", version_2()).await,
        2
    );
    let mut a2 = besoins_answers();
    a2["conseil"] = json!("malakoff");
    a2["nouvelle"] = json!(ARABIC);
    a2["telephone"] = json!("06 12 34 56 78");
    a2["formations_suivies"] = json!([
        {"intitule": "@atelier", "utilite": 3, "a_recommander": true, "date": "2023-11-30"}
    ]);
    let mut r2 = response(a2.clone());
    r2["version"] = json!(2);
    let pushed = results(&ctx.push(&token, vec![r2.clone()]).await);
    assert_eq!(pushed[0]["status"], "accepted", "{pushed:?}");
    let ids = [
        r1["id"].as_str().unwrap().to_string(),
        r2["id"].as_str().unwrap().to_string(),
    ];
    (ctx, coord, analyst, [a1, a2], ids)
}

struct Book {
    xlsx: Xlsx<Cursor<Vec<u8>>>,
}

impl Book {
    async fn get(ctx: &Ctx, token: &str) -> Book {
        let r = ctx.get(URL, token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            r.headers["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(
            r.headers["content-disposition"],
            "attachment; filename=\"besoins-formation.xlsx\""
        );
        Book {
            xlsx: Xlsx::new(Cursor::new(r.bytes)).unwrap(),
        }
    }

    /// A sheet as rows of cells, its header first.
    fn sheet(&mut self, name: &str) -> Vec<Vec<Data>> {
        let range = self.xlsx.worksheet_range(name).unwrap();
        range.rows().map(|r| r.to_vec()).collect()
    }

    /// A sheet's rows as maps from header to cell (empty cells left out).
    fn records(&mut self, name: &str) -> Vec<Vec<(String, Data)>> {
        let rows = self.sheet(name);
        let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
        rows[1..]
            .iter()
            .map(|r| {
                header
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .filter(|(_, c)| *c != Data::Empty)
                    .collect()
            })
            .collect()
    }
}

fn cell<'a>(record: &'a [(String, Data)], column: &str) -> Option<&'a Data> {
    record.iter().find(|(h, _)| h == column).map(|(_, c)| c)
}

fn text(s: &str) -> Data {
    Data::String(s.to_string())
}

fn date(record: &[(String, Data)], column: &str) -> f64 {
    match cell(record, column) {
        Some(Data::DateTime(d)) => d.as_f64(),
        other => panic!("{column}: not a date: {other:?}"),
    }
}

#[tokio::test]
async fn the_xlsx_export_has_typed_cells_every_version_a_repeat_sheet_and_a_codebook() {
    let (ctx, coord, _analyst, [a1, a2], [id1, id2]) = stored().await;
    let mut book = Book::get(&ctx, &coord).await;
    assert_eq!(
        book.xlsx.sheet_names(),
        ["Réponses", "formations_suivies", "Codebook"]
    );

    // The responses: the metadata, then the union of both versions' columns.
    let rows = book.sheet("Réponses");
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(
        header,
        [
            "id",
            "seq",
            "questionnaire",
            "version",
            "device_id",
            "sender_device_id",
            "started_at",
            "completed_at",
            "received_at",
            "location_lat",
            "location_lon",
            "location_accuracy_m",
            "content_hash",
            "photos_missing",
            "conseil",
            "role",
            "annee_entree",
            "formations_suivies",
            "themes",
            "format_prefere",
            "heures_par_mois",
            "prochaine_dispo",
            "besoin_garde",
            "remarques",
            "nouvelle",
            "telephone"
        ]
    );
    let records = book.records("Réponses");
    assert_eq!(records.len(), 2);
    let (r1, r2) = (&records[0], &records[1]);
    assert_eq!(cell(r1, "id"), Some(&text(&id1)));
    assert_eq!(cell(r2, "id"), Some(&text(&id2)));
    assert_eq!(cell(r1, "version"), Some(&Data::Float(1.0)));
    assert_eq!(cell(r2, "version"), Some(&Data::Float(2.0)));
    assert!(matches!(cell(r1, "seq"), Some(Data::Float(s)) if *s >= 1.0));
    assert_eq!(date(r1, "started_at"), serial("2025-03-14 18:30:00"));
    assert_eq!(date(r1, "completed_at"), serial("2025-03-14 18:42:10"));
    let received = date(r1, "received_at");
    let now = serial(&chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
    assert!((now - received).abs() < 1.0 / 24.0, "{received} vs {now}");
    assert_eq!(cell(r1, "location_lat"), Some(&Data::Float(47.212345)));
    assert_eq!(cell(r1, "location_accuracy_m"), Some(&Data::Float(8.0)));
    assert_eq!(cell(r2, "location_lat"), None);
    // Answers: numbers as numbers, booleans as booleans, dates as dates.
    for (r, a) in [(r1, &a1), (r2, &a2)] {
        assert_eq!(
            cell(r, "conseil"),
            Some(&text(a["conseil"].as_str().unwrap()))
        );
        assert_eq!(cell(r, "annee_entree"), Some(&Data::Float(2021.0)));
        assert_eq!(cell(r, "heures_par_mois"), Some(&Data::Float(4.5)));
        assert_eq!(cell(r, "besoin_garde"), Some(&Data::Bool(true)));
        assert_eq!(cell(r, "themes"), Some(&text("budget;prise_de_parole")));
        assert_eq!(date(r, "prochaine_dispo"), serial("2025-02-01 00:00:00"));
        let items = a["formations_suivies"].as_array().unwrap().len() as f64;
        assert_eq!(cell(r, "formations_suivies"), Some(&Data::Float(items)));
    }
    // Formula-looking text stays text, behind a quote; Arabic text as it was sent.
    assert_eq!(
        cell(r1, "remarques"),
        Some(&text(&format!("'{}", a1["remarques"].as_str().unwrap())))
    );
    assert_eq!(cell(r2, "remarques"), None);
    assert_eq!(cell(r1, "nouvelle"), None);
    assert_eq!(cell(r2, "nouvelle"), Some(&text(ARABIC)));
    assert_eq!(cell(r2, "telephone"), Some(&text("06 12 34 56 78")));
    let formulas = book.xlsx.worksheet_formula("Réponses").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));

    // The repeat: one row per item, keyed by the response id and the item's 1-based index.
    let items = book.records("formations_suivies");
    let keys: Vec<(Option<&Data>, Option<&Data>)> = items
        .iter()
        .map(|i| (cell(i, "response_id"), cell(i, "item")))
        .collect();
    assert_eq!(
        keys,
        [
            (Some(&text(&id1)), Some(&Data::Float(1.0))),
            (Some(&text(&id1)), Some(&Data::Float(2.0))),
            (Some(&text(&id2)), Some(&Data::Float(1.0))),
        ]
    );
    assert_eq!(
        cell(&items[0], "intitule"),
        Some(&text("'+33 : formation au téléphone"))
    );
    assert_eq!(date(&items[0], "date"), serial("2024-03-09 00:00:00"));
    assert_eq!(cell(&items[0], "utilite"), Some(&Data::Float(4.0)));
    assert_eq!(cell(&items[0], "a_recommander"), Some(&Data::Bool(true)));
    assert_eq!(cell(&items[1], "date"), None);
    assert_eq!(
        cell(&items[1], "pourquoi_pas"),
        Some(&text("Trop théorique"))
    );
    assert_eq!(cell(&items[1], "a_recommander"), Some(&Data::Bool(false)));
    assert_eq!(cell(&items[2], "intitule"), Some(&text("'@atelier")));
    assert_eq!(date(&items[2], "date"), serial("2023-11-30 00:00:00"));

    // The codebook: every column, its labels in both languages, its choices, its versions.
    let rows = book.sheet("Codebook");
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(
        header,
        [
            "column",
            "sheet",
            "type",
            "label_fr",
            "label_ar",
            "choices_fr",
            "choices_ar",
            "personal_data",
            "versions"
        ]
    );
    let code = book.records("Codebook");
    let line = |sheet: &str, column: &str| {
        code.iter()
            .find(|l| {
                cell(l, "column") == Some(&text(column)) && cell(l, "sheet") == Some(&text(sheet))
            })
            .unwrap_or_else(|| panic!("no codebook line for {sheet}/{column}"))
            .clone()
    };
    let columns: Vec<String> = code
        .iter()
        .map(|l| {
            format!(
                "{}/{}",
                cell(l, "sheet").unwrap(),
                cell(l, "column").unwrap()
            )
        })
        .collect();
    assert_eq!(columns.len(), 12 + 5, "{columns:?}");
    let remarques = line("Réponses", "remarques");
    assert_eq!(cell(&remarques, "versions"), Some(&text("1")));
    assert_eq!(cell(&remarques, "type"), Some(&text("long_text")));
    assert_eq!(cell(&remarques, "label_fr"), Some(&text("Remarques")));
    let nouvelle = line("Réponses", "nouvelle");
    assert_eq!(cell(&nouvelle, "versions"), Some(&text("2")));
    assert_eq!(cell(&nouvelle, "label_ar"), Some(&text("فكرة تدريب؟")));
    assert_eq!(cell(&nouvelle, "personal_data"), Some(&Data::Bool(false)));
    let conseil = line("Réponses", "conseil");
    assert_eq!(cell(&conseil, "versions"), Some(&text("1, 2")));
    assert_eq!(cell(&conseil, "type"), Some(&text("single_choice")));
    let choices_fr = cell(&conseil, "choices_fr").unwrap().to_string();
    assert!(
        choices_fr.starts_with("bellevue = Bellevue\n"),
        "{choices_fr}"
    );
    let choices_ar = cell(&conseil, "choices_ar").unwrap().to_string();
    assert!(choices_ar.contains("malakoff = مالاكوف"), "{choices_ar}");
    assert_eq!(
        cell(&line("Réponses", "telephone"), "personal_data"),
        Some(&Data::Bool(true))
    );
    assert_eq!(
        cell(&line("Réponses", "formations_suivies"), "type"),
        Some(&text("repeat"))
    );
    let item_date = line("formations_suivies", "date");
    assert_eq!(cell(&item_date, "type"), Some(&text("date")));
    assert_eq!(cell(&item_date, "versions"), Some(&text("1, 2")));
    assert_eq!(
        cell(&line("formations_suivies", "utilite"), "choices_fr")
            .unwrap()
            .to_string(),
        "1 = Pas utile\n2 = Peu utile\n3 = Utile\n4 = Très utile"
    );
}

#[tokio::test]
async fn the_xlsx_export_follows_the_role_for_personal_data() {
    let (ctx, coord, analyst, _answers, _ids) = stored().await;
    // The analyst: no `telephone` column, nor in the codebook; a coarse location.
    let mut book = Book::get(&ctx, &analyst).await;
    let header: Vec<String> = book.sheet("Réponses")[0]
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(!header.contains(&"telephone".to_string()), "{header:?}");
    assert!(header.contains(&"nouvelle".to_string()), "{header:?}");
    let records = book.records("Réponses");
    assert_eq!(records.len(), 2);
    assert_eq!(
        cell(&records[0], "location_lat"),
        Some(&Data::Float(47.212))
    );
    assert_eq!(cell(&records[1], "nouvelle"), Some(&text(ARABIC)));
    assert!(records
        .iter()
        .flat_map(|r| r.iter())
        .all(|(_, c)| *c != text("06 12 34 56 78")));
    let code = book.records("Codebook");
    assert!(code
        .iter()
        .all(|l| cell(l, "column") != Some(&text("telephone"))));
    assert_eq!(book.records("formations_suivies").len(), 3);

    // Asking for it is refused; a coordinator gets it.
    let r = ctx.get(&format!("{URL}?personal=include"), &analyst).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut book = Book::get(&ctx, &coord).await;
    let records = book.records("Réponses");
    assert_eq!(
        cell(&records[1], "telephone"),
        Some(&text("06 12 34 56 78"))
    );
    assert_eq!(
        cell(&records[0], "location_lat"),
        Some(&Data::Float(47.212345))
    );
}

#[tokio::test]
async fn the_xlsx_export_takes_the_filters() {
    let (ctx, coord, _analyst, _answers, [_id1, id2]) = stored().await;
    let r = ctx.get(&format!("{URL}?version=2"), &coord).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut book = Book {
        xlsx: Xlsx::new(Cursor::new(r.bytes)).unwrap(),
    };
    let records = book.records("Réponses");
    assert_eq!(records.len(), 1);
    assert_eq!(cell(&records[0], "id"), Some(&text(&id2)));
    let header: Vec<String> = book.sheet("Réponses")[0]
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(!header.contains(&"remarques".to_string()), "{header:?}");
    let r = ctx
        .get(&format!("{URL}?where=conseil:dervallieres"), &coord)
        .await;
    let mut book = Book {
        xlsx: Xlsx::new(Cursor::new(r.bytes)).unwrap(),
    };
    assert_eq!(book.records("Réponses").len(), 1);
    assert_eq!(book.records("formations_suivies").len(), 2);
}
