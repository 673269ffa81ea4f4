//! Summaries: every figure the server gives is computed again here, independently, from the
//! answers the test pushed (over all responses, filtered, and per value of another question).

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::exports::{habitants_answers, PERSONAL};
use crate::helpers::*;

const SUMMARY: &str = "/api/v1/questionnaires/besoins-formation/summary";

/// What the test pushed of one response.
#[derive(Clone)]
struct Sent {
    id: String,
    version: i64,
    day: String,
    answers: Value,
    approved: bool,
}

/// `besoins-formation` version 2: one more preferred format.
fn besoins_v2() -> Value {
    let mut d = besoins();
    d["properties"]["format_prefere"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .push(json!({"const": "hybride", "title": "Hybride"}));
    d
}

const CONSEILS: [&str; 4] = ["malakoff", "bellevue", "dervallieres", "nantes_nord"];
const THEMES: [&str; 7] = [
    "contrat_de_ville",
    "renouvellement_urbain",
    "prise_de_parole",
    "animation",
    "budget",
    "numerique",
    "mobilisation",
];
const FORMATS: [&str; 4] = ["atelier", "journee", "en_ligne", "visite"];
const HOURS: [f64; 7] = [0.5, 2.25, 3.7, 12.1, 7.3, 19.9, 40.05];

/// Response `i`'s answers: every question answered by some and left out by others, a repeat
/// of zero to three items.
fn answers(i: usize, version: i64) -> Value {
    let mut a = json!({
        "conseil": CONSEILS[i % 4],
        "role": if i.is_multiple_of(3) { "acteur_local" } else { "habitant" },
        "themes": if i.is_multiple_of(2) { json!([THEMES[i % 7], THEMES[(i + 3) % 7]]) } else { json!([THEMES[i % 7]]) },
        "format_prefere": if version == 2 && i.is_multiple_of(2) { "hybride" } else { FORMATS[(i / 2) % 4] },
    });
    let o = a.as_object_mut().unwrap();
    if i % 5 != 4 {
        o.insert("annee_entree".into(), json!(2014 + (i * 7) % 12));
    }
    if i % 4 != 3 {
        o.insert("heures_par_mois".into(), json!(HOURS[i % 7]));
    }
    if i % 3 != 2 {
        o.insert(
            "prochaine_dispo".into(),
            json!(format!("2025-0{}-1{}", 1 + i % 3, i % 2)),
        );
    }
    if i % 6 != 5 {
        o.insert("besoin_garde".into(), json!(i.is_multiple_of(2)));
    }
    if i.is_multiple_of(5) {
        o.insert("remarques".into(), json!("Plutôt le samedi"));
    }
    let items: Vec<Value> = (0..i % 4)
        .map(|k| {
            let ok = (i + k).is_multiple_of(2);
            let mut item = json!({
                "intitule": format!("Formation {k}"),
                "utilite": 1 + (i + k) % 4,
                "a_recommander": ok,
            });
            if !ok {
                item["pourquoi_pas"] = json!("Trop long");
            }
            if k.is_multiple_of(2) {
                item["date"] = json!(format!("2024-0{}-15", 1 + k));
            }
            item
        })
        .collect();
    if i % 4 != 1 {
        o.insert("formations_suivies".into(), Value::Array(items));
    }
    a
}

/// Publishes versions 1 and 2, pushes 24 responses (the last 8 to version 2) over five
/// days, approves a few: what was sent.
async fn varied() -> (Ctx, String, String, Vec<Sent>) {
    let (ctx, coord, _device, token) = Ctx::with_device().await;
    ctx.publish(&coord, "besoins-formation", besoins_v2()).await;
    let mut sent = Vec::new();
    let mut batch = Vec::new();
    for i in 0..24 {
        let version = if i >= 16 { 2 } else { 1 };
        let day = format!("2025-03-{}", 10 + i % 5);
        let mut r = response(answers(i, version));
        r["version"] = json!(version);
        r["started_at"] = json!(format!("{day}T09:00:00+01:00"));
        r["completed_at"] = json!(format!("{day}T09:20:00+01:00"));
        sent.push(Sent {
            id: r["id"].as_str().unwrap().to_string(),
            version,
            day,
            answers: r["answers"].clone(),
            approved: i % 3 == 1,
        });
        batch.push(r);
    }
    let res = results(&ctx.push(&token, batch).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");
    for s in sent.iter().filter(|s| s.approved) {
        let r = ctx
            .call(
                Method::PUT,
                &format!("/api/v1/responses/{}/review", s.id),
                Some(&coord),
                Some(json!({"state": "approved"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    (ctx, coord, token, sent)
}

/// The text an answer is matched by: a string as is, anything else as JSON.
fn key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

fn answered(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
        && v != Some(&json!(""))
        && v != Some(&json!([]))
        && v != Some(&json!({}))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Checks every figure of `summary` against `sent` (already filtered as the request was);
/// `by`: the question it was broken down by. Returns how many questions were checked.
fn check(summary: &Value, sent: &[Sent], by: Option<&str>) -> usize {
    assert_eq!(summary["responses"], sent.len(), "{summary}");
    let questions = summary["questions"].as_array().unwrap();
    for q in questions {
        let pointer = q["pointer"].as_str().unwrap();
        let name = q["question"].as_str().unwrap();
        let groups = q["groups"].as_array().unwrap();
        if by.is_none() {
            assert_eq!(groups.len(), 1, "{name}");
        }
        for g in groups {
            let members: Vec<&Sent> = sent
                .iter()
                .filter(|s| match by {
                    None => true,
                    Some(b) => {
                        let v = s.answers.get(b).map(key);
                        v.as_deref() == g["by_value"].as_str()
                    }
                })
                .collect();
            // The units: the responses, or the items of the repeat the question is in.
            let (units, rel): (Vec<Value>, String) = match pointer.split_once("/-/") {
                None => (
                    members.iter().map(|s| s.answers.clone()).collect(),
                    pointer.to_string(),
                ),
                Some((repeat, rest)) => {
                    assert_eq!(q["unit"], "items", "{name}");
                    (
                        members
                            .iter()
                            .filter_map(|s| s.answers.pointer(repeat))
                            .flat_map(|a| a.as_array().cloned().unwrap_or_default())
                            .collect(),
                        format!("/{rest}"),
                    )
                }
            };
            let values: Vec<Option<&Value>> = units.iter().map(|u| u.pointer(&rel)).collect();
            let total = units.len();
            let n_answered = values.iter().filter(|v| answered(**v)).count();
            let at = format!("{name} in group {}", g["by_value"]);
            assert_eq!(g["total"], total, "{at}");
            assert_eq!(g["answered"], n_answered, "{at}");
            assert_eq!(g["no_answer"], total - n_answered, "{at}");
            assert_eq!(g["no_answer_pct"], pct(total - n_answered, total), "{at}");
            match q["kind"].as_str().unwrap() {
                "choices" => {
                    let mut in_choices = 0;
                    for c in g["choices"].as_array().unwrap() {
                        let value = c["value"].as_str().unwrap();
                        let n = values
                            .iter()
                            .flatten()
                            .filter(|v| match v {
                                Value::Array(items) => items.iter().any(|i| key(i) == value),
                                v => key(v) == value,
                            })
                            .count();
                        in_choices += n;
                        assert_eq!(c["count"], n, "{at}: {value}");
                        assert_eq!(c["pct"], pct(n, total), "{at}: {value}");
                    }
                    if q["question_kind"] != "multiple_choice" {
                        assert_eq!(g["other"], n_answered - in_choices, "{at}");
                    }
                }
                "numbers" => {
                    let mut xs: Vec<f64> =
                        values.iter().flatten().filter_map(|v| v.as_f64()).collect();
                    if xs.is_empty() {
                        assert!(g.get("numbers").is_none(), "{at}");
                        continue;
                    }
                    let n = &g["numbers"];
                    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    let len = xs.len();
                    let median = if len % 2 == 1 {
                        xs[len / 2]
                    } else {
                        (xs[len / 2 - 1] + xs[len / 2]) / 2.0
                    };
                    let mean = xs.iter().sum::<f64>() / len as f64;
                    assert_eq!(n["count"], len, "{at}");
                    assert_eq!(n["min"].as_f64().unwrap(), xs[0], "{at}");
                    assert_eq!(n["max"].as_f64().unwrap(), xs[len - 1], "{at}");
                    assert!(close(n["median"].as_f64().unwrap(), median), "{at}: {n}");
                    assert!(close(n["mean"].as_f64().unwrap(), mean), "{at}: {n}");
                    // Every answer in exactly one bin; the last bin includes its end.
                    let bins = n["histogram"].as_array().unwrap();
                    let last = bins.len() - 1;
                    for (k, b) in bins.iter().enumerate() {
                        let (from, to) = (b["from"].as_f64().unwrap(), b["to"].as_f64().unwrap());
                        let inside = xs
                            .iter()
                            .filter(|&&x| x >= from && (x < to || (k == last && x <= to)))
                            .count();
                        assert_eq!(b["count"], inside, "{at}: bin {k} {b}");
                    }
                    let binned: i64 = bins.iter().map(|b| b["count"].as_i64().unwrap()).sum();
                    assert_eq!(binned, len as i64, "{at}");
                }
                "dates" => {
                    let mut days: BTreeMap<String, usize> = BTreeMap::new();
                    for v in values.iter().flatten() {
                        if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                            *days.entry(s[..10].to_string()).or_default() += 1;
                        }
                    }
                    let got: BTreeMap<String, usize> = g["per_day"]
                        .as_array()
                        .map(|d| {
                            d.iter()
                                .map(|d| {
                                    (
                                        d["day"].as_str().unwrap().to_string(),
                                        d["count"].as_u64().unwrap() as usize,
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    assert_eq!(got, days, "{at}");
                }
                "answered" => {}
                other => panic!("unknown kind {other}"),
            }
        }
    }
    questions.len()
}

async fn summary(ctx: &Ctx, token: &str, query: &str) -> Value {
    let r = ctx.get(&format!("{SUMMARY}{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    r.json()
}

#[tokio::test]
async fn every_figure_of_the_summary_is_the_one_computed_from_the_pushed_answers() {
    let (ctx, coord, _token, sent) = varied().await;
    let s = summary(&ctx, &coord, "").await;
    assert_eq!(s["versions"], json!([1, 2]));
    let names: Vec<&str> = s["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "conseil",
            "role",
            "annee_entree",
            "formations_suivies.intitule",
            "formations_suivies.date",
            "formations_suivies.utilite",
            "formations_suivies.a_recommander",
            "formations_suivies.pourquoi_pas",
            "themes",
            "format_prefere",
            "heures_par_mois",
            "prochaine_dispo",
            "besoin_garde",
            "remarques"
        ]
    );
    let kinds: Vec<(&str, &str)> = s["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["kind"].as_str().unwrap(), q["unit"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds[0], ("choices", "responses"));
    assert_eq!(kinds[2], ("numbers", "responses"));
    assert_eq!(kinds[4], ("dates", "items"));
    assert_eq!(kinds[5], ("choices", "items"));
    assert_eq!(kinds[13], ("answered", "responses"));
    // The union of the versions' choices: version 2's "hybride" is there.
    let formats = &s["questions"][9]["groups"][0]["choices"];
    assert_eq!(formats[4]["value"], "hybride");
    assert_eq!(formats[4]["labels"]["fr"], "Hybride");
    assert_eq!(s["questions"][0]["labels"]["fr"], "Votre conseil citoyen");
    assert_eq!(
        s["questions"][12]["groups"][0]["choices"][0]["labels"]["fr"],
        "Oui"
    );
    // No text of any answer goes out.
    assert!(!s.to_string().contains("Plutôt le samedi"));
    assert!(!s.to_string().contains("Trop long"));
    assert_eq!(check(&s, &sent, None), 14);
    // Integers over a narrow range: one bin per value.
    let years = &s["questions"][2]["groups"][0]["numbers"];
    let (lo, hi) = (
        years["min"].as_f64().unwrap(),
        years["max"].as_f64().unwrap(),
    );
    assert_eq!(
        years["histogram"].as_array().unwrap().len() as f64,
        hi - lo + 1.0
    );
    // Decimals: ten bins from the minimum to the maximum.
    let hours = &s["questions"][10]["groups"][0]["numbers"]["histogram"];
    assert_eq!(hours.as_array().unwrap().len(), 10);
    assert_eq!(hours[0]["from"], 0.5);
    assert_eq!(hours[9]["to"], 40.05);
}

#[tokio::test]
async fn the_summary_follows_the_filters_of_the_responses_page() {
    let (ctx, coord, _token, sent) = varied().await;
    let only =
        |f: &dyn Fn(&Sent) -> bool| sent.iter().filter(|s| f(s)).cloned().collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<Sent>)> = vec![
        (
            "?where=conseil:malakoff",
            only(&|s| s.answers["conseil"] == "malakoff"),
        ),
        (
            "?where=conseil:malakoff&where=conseil:bellevue&where=themes:budget",
            only(&|s| {
                ["malakoff", "bellevue"].contains(&s.answers["conseil"].as_str().unwrap())
                    && s.answers["themes"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("budget"))
            }),
        ),
        (
            "?from=2025-03-11&to=2025-03-12",
            only(&|s| s.day.as_str() >= "2025-03-11" && s.day.as_str() <= "2025-03-12"),
        ),
        ("?version=2", only(&|s| s.version == 2)),
        (
            "?version=1&where=role:habitant",
            only(&|s| s.version == 1 && s.answers["role"] == "habitant"),
        ),
        ("?review=approved", only(&|s| s.approved)),
    ];
    for (query, subset) in &cases {
        assert!(!subset.is_empty() && subset.len() < sent.len(), "{query}");
        let s = summary(&ctx, &coord, query).await;
        check(&s, subset, None);
    }
    // Version 1 alone knows no "hybride".
    let v1 = summary(&ctx, &coord, "?version=1").await;
    assert_eq!(v1["versions"], json!([1]));
    assert_eq!(
        v1["questions"][9]["groups"][0]["choices"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let r = ctx.get(&format!("{SUMMARY}?version=9"), &coord).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = ctx
        .get(&format!("{SUMMARY}?where=inconnue:1"), &coord)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_side_by_side_view_gives_each_question_per_value_of_another() {
    let (ctx, coord, _token, sent) = varied().await;
    let s = summary(&ctx, &coord, "?by=conseil").await;
    assert_eq!(s["by"]["question"], "conseil");
    assert_eq!(s["by"]["labels"]["fr"], "Votre conseil citoyen");
    let groups = s["questions"][9]["groups"].as_array().unwrap();
    // Every choice of `conseil`, in order, answered or not (nobody lacks one here).
    assert_eq!(groups.len(), 9);
    assert_eq!(groups[0]["by_value"], "bellevue");
    assert_eq!(groups[0]["by_labels"]["fr"], "Bellevue");
    assert_eq!(groups[1]["total"], 0);
    check(&s, &sent, Some("conseil"));

    // Broken down by a question some did not answer, and filtered at the same time: a
    // last group for the responses without it.
    let s = summary(&ctx, &coord, "?by=besoin_garde&where=role:habitant").await;
    let subset: Vec<Sent> = sent
        .iter()
        .filter(|s| s.answers["role"] == "habitant")
        .cloned()
        .collect();
    let groups = s["questions"][0]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[2]["by_value"], Value::Null);
    assert!(groups[2]["total"].as_i64().unwrap() > 0);
    check(&s, &subset, Some("besoin_garde"));

    for bad in [
        "themes",
        "heures_par_mois",
        "formations_suivies.utilite",
        "inconnue",
    ] {
        let r = ctx.get(&format!("{SUMMARY}?by={bad}"), &coord).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn analysts_get_no_personal_question_and_only_the_approved_responses_when_so_set() {
    let (ctx, coord, _token, sent) = varied().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let url = "/api/v1/questionnaires/parole-habitants/summary";
    ctx.publish(
        &coord,
        "parole-habitants",
        serde_json::from_str(HABITANTS).unwrap(),
    )
    .await;
    let (_device, token) = ctx.enrol_device(&coord).await;
    let mut r = response(habitants_answers());
    r["questionnaire"] = json!("parole-habitants");
    results(&ctx.push(&token, vec![r]).await);
    let names = |s: &Value| -> Vec<String> {
        s["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["question"].as_str().unwrap().to_string())
            .collect()
    };
    let theirs = ctx.get(url, &coord).await.json();
    assert_eq!(theirs["personal_data"], "include");
    for p in PERSONAL {
        assert!(names(&theirs).contains(&p.to_string()), "{p}");
    }
    let r = ctx.get(url, &analyst).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["personal_data"], "omit");
    for p in PERSONAL {
        assert!(!names(&seen).contains(&p.to_string()), "{p}");
    }
    assert_eq!(names(&seen).len(), names(&theirs).len() - PERSONAL.len());
    assert!(names(&seen).contains(&"quartier".to_string()));
    // Nor may they filter on one.
    let r = ctx.get(&format!("{url}?where=prenom:A"), &analyst).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // approved_only: the analyst's figures are those of the approved responses alone.
    let r = ctx
        .call(
            Method::PUT,
            "/api/v1/questionnaires/besoins-formation/settings",
            Some(&coord),
            Some(json!({"approved_only": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let approved: Vec<Sent> = sent.iter().filter(|s| s.approved).cloned().collect();
    check(&summary(&ctx, &analyst, "").await, &approved, None);
    check(&summary(&ctx, &coord, "").await, &sent, None);
    // Interviewers' phones read no summary.
    let r = ctx.get(SUMMARY, &token).await;
    assert!(r.status == StatusCode::FORBIDDEN || r.status == StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn medians_and_histograms_are_the_same_from_value_counts_and_from_postgresql() {
    use parole_server::db::{self, Bins, Measure, SummaryQuestion, SummaryRepeat, SummarySpec};

    let (ctx, _coord, _token, _sent) = varied().await;
    let pool = &ctx.db.pool;
    let questionnaire_id: i64 =
        sqlx::query_scalar("select id from questionnaire where slug = 'besoins-formation'")
            .fetch_one(pool)
            .await
            .unwrap();
    let number = |name: &str| SummaryQuestion {
        path: vec![name.to_string()],
        measure: Measure::Number,
    };
    let spec = SummarySpec {
        by: Some(vec!["conseil".to_string()]),
        questions: vec![number("annee_entree"), number("heures_par_mois")],
        repeats: vec![SummaryRepeat {
            path: vec!["formations_suivies".to_string()],
            questions: vec![number("utilite")],
        }],
    };
    let filter = db::Filter::default();
    let bins = [
        Bins {
            q: 0,
            from: 2013.5,
            to: 2025.5,
            bins: 12,
        },
        Bins {
            q: 1,
            from: 0.5,
            to: 40.05,
            bins: 10,
        },
        Bins {
            q: 2,
            from: 0.5,
            to: 4.5,
            bins: 4,
        },
    ];
    let sorted = |mut v: Vec<db::NumberTally>| {
        v.sort_by(|a, b| (&a.g, a.q).cmp(&(&b.g, b.q)));
        v.into_iter()
            .map(|n| (n.g, n.q, n.median, n.bins))
            .collect::<Vec<_>>()
    };
    let mut figures = Vec::new();
    for keep in [db::MAX_DISTINCT_NUMBERS, 1] {
        let tallies = db::summary_tallies_keeping(pool, questionnaire_id, &filter, &spec, keep)
            .await
            .unwrap();
        let numbers = db::summary_numbers(pool, questionnaire_id, &filter, &spec, &bins, &tallies)
            .await
            .unwrap();
        figures.push(sorted(numbers));
    }
    // Each question in some group (the councils), no figure empty.
    for q in 0..3 {
        assert!(figures[0].iter().any(|f| f.1 == q), "{:?}", figures[0]);
    }
    assert!(figures[0]
        .iter()
        .all(|(_, _, median, bins)| median.is_some() && bins.iter().sum::<i64>() > 0));
    assert_eq!(figures[0], figures[1]);
}

/// Each tally of `t`, in a stable order, for comparing two ways of counting (the sums to
/// six decimals: adding the same numbers in another order may change the last bit).
fn tally_rows(t: &parole_server::db::Tallies) -> Vec<String> {
    let mut rows: Vec<String> = t
        .rows
        .iter()
        .map(|r| {
            let sum = r.sum.map(|x| format!("{x:.6}"));
            format!(
                "{:?} {} {:?} {} {:?} {:?} {sum:?}",
                r.g, r.q, r.k, r.n, r.min, r.max
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_rollup_counts_as_the_responses_do_through_folds_reviews_and_new_responses() {
    use parole_server::db;

    let (ctx, coord, token, mut sent) = varied().await;
    let pool = &ctx.db.pool;
    let cache = parole_server::sync::QuestionnaireCache::default();
    // Everything folded: the rollup counts all 24 (their reviews were set before).
    let folded = parole_server::rollup::fold_all(pool, &cache, 1)
        .await
        .unwrap();
    assert_eq!(folded, 24);
    assert_eq!(
        parole_server::rollup::fold_all(pool, &cache, 1)
            .await
            .unwrap(),
        0
    );
    let (questionnaire_id, max_seq): (i64, i64) = sqlx::query_as(
        "select q.id, (select max(seq) from response r where r.questionnaire_id = q.id)
         from questionnaire q where slug = 'besoins-formation'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let upto: i64 =
        sqlx::query_scalar("select upto from summary_folded where questionnaire_id = $1")
            .bind(questionnaire_id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(upto, max_seq);

    // Reviews after the fold move the folded responses' counts.
    let mut review = |i: usize, state: &str| {
        sent[i].approved = state == "approved";
        (sent[i].id.clone(), state.to_string())
    };
    let changes = [
        review(1, "rejected"),
        review(2, "approved"),
        review(5, "approved"),
        review(4, "has_issues"),
    ];
    for (id, state) in &changes {
        let r = ctx
            .call(
                Method::PUT,
                &format!("/api/v1/responses/{id}/review"),
                Some(&coord),
                Some(json!({"state": state})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // And new responses, past the rollup.
    let mut batch = Vec::new();
    for i in 24..30 {
        let day = format!("2025-03-{}", 10 + i % 5);
        let mut r = response(answers(i, 2));
        r["version"] = json!(2);
        r["completed_at"] = json!(format!("{day}T10:00:00+01:00"));
        sent.push(Sent {
            id: r["id"].as_str().unwrap().to_string(),
            version: 2,
            day,
            answers: r["answers"].clone(),
            approved: false,
        });
        batch.push(r);
    }
    let res = results(&ctx.push(&token, batch).await);
    assert!(res.iter().all(|r| r["status"] == "accepted"), "{res:?}");

    let only =
        |f: &dyn Fn(&Sent) -> bool| sent.iter().filter(|s| f(s)).cloned().collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<Sent>)> = vec![
        ("", sent.clone()),
        ("?review=approved", only(&|s| s.approved)),
        ("?version=2", only(&|s| s.version == 2)),
        (
            "?from=2025-03-11&to=2025-03-12&version=1",
            only(&|s| {
                s.version == 1 && s.day.as_str() >= "2025-03-11" && s.day.as_str() <= "2025-03-12"
            }),
        ),
    ];
    // The cube's: broken down by, or filtered on, a single-choice question.
    let cubed: Vec<(&str, Option<&str>, Vec<Sent>)> = vec![
        ("?by=conseil", Some("conseil"), sent.clone()),
        (
            "?by=besoin_garde&review=approved",
            Some("besoin_garde"),
            only(&|s| s.approved),
        ),
        (
            "?by=role&version=2",
            Some("role"),
            only(&|s| s.version == 2),
        ),
        (
            "?where=conseil:malakoff&where=conseil:bellevue",
            None,
            only(&|s| ["malakoff", "bellevue"].contains(&s.answers["conseil"].as_str().unwrap())),
        ),
        (
            "?where=besoin_garde:true&version=1",
            None,
            only(&|s| s.version == 1 && s.answers.get("besoin_garde") == Some(&json!(true))),
        ),
    ];
    // Part folded, part not; then all folded again.
    for round in 0..2 {
        for (query, subset) in &cases {
            let s = summary(&ctx, &coord, query).await;
            assert_eq!(s["responses"], subset.len(), "{query}, round {round}");
            check(&s, subset, None);
        }
        for (query, by, subset) in &cubed {
            let s = summary(&ctx, &coord, query).await;
            assert_eq!(s["responses"], subset.len(), "{query}, round {round}");
            check(&s, subset, *by);
        }
        if round == 0 {
            assert_eq!(
                parole_server::rollup::fold_all(pool, &cache, 1)
                    .await
                    .unwrap(),
                6
            );
        }
    }

    // The rollup's tallies are the responses' own, to the last number's sum.
    let parsed = cache
        .parsed(pool, "besoins-formation", [1, 2])
        .await
        .unwrap();
    // Version 2 only adds a choice: its questions are the union's.
    let union = parole_server::http::summary::version_spec(&parsed[&2]);
    let versions = [
        parole_server::http::summary::version_spec(&parsed[&1]),
        union.clone(),
    ];
    let conseil = vec!["conseil".to_string()];
    let by_conseil = db::SummarySpec {
        by: Some(conseil.clone()),
        ..union.clone()
    };
    let cases = [
        (db::Filter::default(), &union, db::Rolled::Days),
        (
            db::Filter {
                review: Some(parole_client::api::ReviewState::Approved),
                ..Default::default()
            },
            &union,
            db::Rolled::Days,
        ),
        (
            db::Filter::default(),
            &by_conseil,
            db::Rolled::Cube {
                path: conseil.clone(),
                values: None,
            },
        ),
        (
            db::Filter {
                answers: vec![db::AnswerIs {
                    path: conseil.clone(),
                    values: vec!["malakoff".into(), "nantes_nord".into()],
                }],
                ..Default::default()
            },
            &union,
            db::Rolled::Cube {
                path: conseil.clone(),
                values: Some(vec!["malakoff".into(), "nantes_nord".into()]),
            },
        ),
    ];
    for (filter, spec, how) in &cases {
        assert_eq!(
            db::rollup_serves(filter, spec, &versions).as_ref(),
            Some(how)
        );
        let rolled = db::rolled_up_tallies(pool, questionnaire_id, filter, spec, how)
            .await
            .unwrap();
        let read = db::summary_tallies(pool, questionnaire_id, filter, spec)
            .await
            .unwrap();
        assert!(!rolled.rows.is_empty());
        assert_eq!(tally_rows(&rolled), tally_rows(&read), "{how:?}");
    }
    // What the rollup cannot answer is read from the responses.
    let dated_by = db::Filter {
        from: chrono::NaiveDate::from_ymd_opt(2025, 3, 11),
        ..Default::default()
    };
    assert_eq!(db::rollup_serves(&dated_by, &by_conseil, &versions), None);
    let by_a_number = db::SummarySpec {
        by: Some(vec!["heures_par_mois".to_string()]),
        ..union.clone()
    };
    assert_eq!(
        db::rollup_serves(&db::Filter::default(), &by_a_number, &versions),
        None
    );
    // The rollup holds no count brought to zero by a review.
    let zero: i64 = sqlx::query_scalar(
        "select (select count(*) from summary_count where n = 0)
              + (select count(*) from summary_cube where n = 0)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(zero, 0);
}
