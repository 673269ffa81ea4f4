//! The compact validator (the phone's, without `jsonschema`) against `jsonschema` (the
//! server's): every shared conformance case, then thousands of generated answers per
//! questionnaire, valid and invalid, through both. The error lists (paths, codes, messages,
//! order) and the visible questions must be identical.
//!
//! Patterns run natively here through `jsonschema`'s own ECMA-262 translation; the browser's
//! RegExp, which the phone uses, is exercised by `web/tests/phone-validation.test.js`.
#![cfg(feature = "jsonschema")]

use std::path::{Path, PathBuf};

use parole_client::questionnaire::{Question, QuestionKind};
use parole_client::{Engine, Questionnaire};
use serde_json::{json, Map, Value};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/examples")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The questionnaire parsed for each engine.
fn both(document: &Value) -> (Questionnaire, Questionnaire) {
    let full = Questionnaire::parse_with(document, Engine::JsonSchema).unwrap();
    let compact = Questionnaire::parse_with(document, Engine::Compact)
        .unwrap_or_else(|e| panic!("the compact validator refuses the questionnaire: {e:#?}"));
    (full, compact)
}

/// Compares both engines on one set of answers; the description of a difference, if any.
fn differs(full: &Questionnaire, compact: &Questionnaire, answers: &Value) -> Option<String> {
    let (a, b) = (full.validate(answers), compact.validate(answers));
    if a != b {
        let brief = |v: &[parole_client::ValidationError]| {
            v.iter()
                .map(|e| format!("{} {}", e.path, e.code))
                .collect::<Vec<_>>()
        };
        let first = a.iter().zip(&b).find(|(x, y)| x != y);
        return Some(format!(
            "answers {answers}\n jsonschema: {:?}\n compact:    {:?}\n first difference: {first:#?}",
            brief(&a),
            brief(&b)
        ));
    }
    let (a, b) = (full.visible(answers), compact.visible(answers));
    (a != b).then(|| format!("answers {answers}\n visible: {a:?}\n compact: {b:?}"))
}

/// Every example questionnaire, with its conformance cases' answers when it has some.
fn questionnaires() -> Vec<(String, Value, Vec<Value>)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".cases.json")
        })
        .collect();
    names.sort();
    for path in names {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let cases = examples().join(format!("{name}.cases.json"));
        let answers = if cases.exists() {
            read(&cases)["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["answers"].clone())
                .collect()
        } else {
            Vec::new()
        };
        out.push((name, read(&path), answers));
    }
    out.push(("keywords".into(), keywords(), Vec::new()));
    out
}

/// A questionnaire using every keyword the compact validator knows, in rules, conditions
/// and questions (the examples use only some).
fn keywords() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Mots-clés",
        "type": "object",
        "properties": {
            "code": {"type": "string", "title": "Code", "pattern": "^\\d{3}-\\w+$", "minLength": 5, "maxLength": 12},
            "mail": {"type": "string", "title": "Mail", "format": "email"},
            "quand": {"type": "string", "title": "Quand", "format": "date-time"},
            "jour": {"type": "string", "title": "Jour", "format": "date"},
            "taux": {"type": "number", "title": "Taux", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
            "age": {"type": "integer", "title": "Âge", "minimum": 16, "maximum": 99},
            "niveau": {"type": "string", "title": "Niveau", "enum": ["a", "b", "c"]},
            "fixe": {"type": "boolean", "title": "Fixe", "const": true},
            "choix": {"type": "array", "title": "Choix", "uniqueItems": true, "minItems": 1,
                "items": {"oneOf": [{"const": "a", "title": "A"}, {"const": "b", "title": "B"}, {"const": "c", "title": "C"}]}},
            "suite": {
                "type": "integer", "title": "Suite",
                "x-visible-if": {"properties": {"choix": {"contains": {"const": "b"}}}, "required": ["choix"]}
            },
            "motif": {
                "type": "string", "title": "Motif",
                "x-visible-if": {"anyOf": [
                    {"properties": {"age": {"minimum": 60}}, "required": ["age"]},
                    {"properties": {"niveau": {"enum": ["c"]}}, "required": ["niveau"]}
                ]}
            },
            "autre": {
                "type": "string", "title": "Autre",
                "x-visible-if": {"not": {"required": ["mail"]}}
            }
        },
        "required": ["code", "motif"],
        "additionalProperties": false,
        "allOf": [
            {"title": "Âge et taux", "if": {"properties": {"age": {"maximum": 17}}, "required": ["age"]},
             "then": {"properties": {"taux": {"maximum": 0.5}}}, "else": {"required": ["jour"]}},
            {"description": "Un contact", "anyOf": [{"required": ["mail"]}, {"required": ["code", "quand"]}]},
            {"dependentRequired": {"quand": ["jour"]}},
            {"not": {"properties": {"niveau": {"const": "b"}, "fixe": {"const": true}}, "required": ["niveau", "fixe"]}},
            {"properties": {"code": {"not": {"pattern": "^000"}}}},
            {"title": "Pas de c sans a", "properties": {"choix": {"if": {"contains": {"const": "c"}}, "then": {"contains": {"const": "a"}}}}},
            {"properties": {"mail": false}, "anyOf": [{"required": ["age"]}, {"type": "object", "properties": {"age": {"type": "integer"}}}]}
        ]
    })
}

#[test]
fn the_compact_validator_agrees_on_every_conformance_case() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, document, cases) in questionnaires() {
        if name == "keywords" {
            continue;
        }
        let (full, compact) = both(&document);
        for answers in &cases {
            count += 1;
            if let Some(d) = differs(&full, &compact, answers) {
                failures.push(format!("{name}: {d}"));
            }
        }
    }
    assert!(count > 20, "only {count} cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_compact_validator_agrees_on_generated_answers() {
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (name, document, cases) in questionnaires() {
        let (full, compact) = both(&document);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        for n in 0..3000 {
            let answers = if n % 3 == 0 && !cases.is_empty() {
                // A conformance case, with one answer changed.
                let mut a = cases[rng.below(cases.len())].clone();
                if let Some(map) = a.as_object_mut() {
                    let q = &full.questions[rng.below(full.questions.len())];
                    map.insert(q.key.clone(), answer(&mut rng, q, 0));
                }
                a
            } else if n % 3 == 1 {
                Value::Object(answers(&mut rng, &full.questions, 0))
            } else {
                let first = answers(&mut rng, &full.questions, 0);
                repaired(&mut rng, &full, first)
            };
            match full.validate(&answers).is_empty() {
                true => valid += 1,
                false => invalid += 1,
            }
            if let Some(d) = differs(&full, &compact, &answers) {
                failures.push(format!("{name}: {d}"));
                if failures.len() > 5 {
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("{valid} valid and {invalid} invalid generated answers: the same errors");
    // The generator must reach both verdicts, often.
    assert!(
        valid > 300 && invalid > 3000,
        "{valid} valid, {invalid} invalid"
    );
}

/// Random answers, whose wrong answers are drawn again (or dropped) a few times: mostly
/// valid ones, and invalid ones close to valid.
fn repaired(rng: &mut Rng, q: &Questionnaire, mut answers: Map<String, Value>) -> Value {
    for _ in 0..rng.below(10) {
        let errors = q.validate(&Value::Object(answers.clone()));
        if errors.is_empty() {
            break;
        }
        for e in errors {
            let key = e
                .path
                .split('/')
                .nth(1)
                .unwrap_or_default()
                .replace("~1", "/")
                .replace("~0", "~");
            match q.questions.iter().find(|x| x.key == key) {
                Some(question)
                    if !matches!(e.code.as_str(), "hidden" | "note") && rng.below(4) > 0 =>
                {
                    answers.insert(key, answer(rng, question, 0));
                }
                _ => {
                    answers.remove(&key);
                }
            }
        }
    }
    Value::Object(answers)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True once in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// Answers to `questions`: mostly plausible, some wrong, some missing, now and then an
/// unknown key.
fn answers(rng: &mut Rng, questions: &[Question], depth: usize) -> Map<String, Value> {
    let mut map = Map::new();
    for q in questions {
        let skip = match q.kind {
            QuestionKind::Note => !rng.one_in(8),
            _ => rng.one_in(if q.required { 12 } else { 3 }),
        };
        if !skip {
            map.insert(q.key.clone(), answer(rng, q, depth));
        }
    }
    if rng.one_in(20) {
        map.insert(
            rng.pick(&["inconnue", "x", "a/b", "~0"]).to_string(),
            json!(1),
        );
    }
    map
}

/// A value of the wrong type for any question.
fn wrong(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(null),
        json!(true),
        json!(3),
        json!(-2.5),
        json!("texte"),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"lat": 1}),
    ])
}

/// One answer to `q`: one time in twelve of a wrong type.
fn answer(rng: &mut Rng, q: &Question, depth: usize) -> Value {
    if rng.one_in(12) {
        return wrong(rng);
    }
    let choices: Vec<Value> = q.choices.iter().map(|c| c.value.clone()).collect();
    match q.kind {
        QuestionKind::ShortText | QuestionKind::LongText => {
            let long = "é".repeat(rng.below(300) + 1);
            rng.pick(&[
                json!(""),
                json!("Bonjour"),
                json!("06 12 34 56 78"),
                json!("0612345678"),
                json!("+33612345678"),
                json!("06123"),
                json!("123-abc"),
                json!("000-x"),
                json!("12-ab"),
                json!("١٢٣-abc"),
                json!("123-é"),
                json!("44000"),
                json!("4400"),
                json!("nom@exemple.fr"),
                json!("nom@exemple"),
                json!("nom@@exemple.fr"),
                json!("nom@xn--bcher-kva.fr"),
                json!("nom@ab--cd.fr"),
                json!("\"\"@exemple.fr"),
                json!("nöm@exemple.fr"),
                json!("2025-03-14T18:30:00+01:00"),
                json!("2025-03-14"),
                json!("a"),
                json!("ab"),
                json!("c"),
                Value::String(long),
                json!("texte\u{0}nul"),
                json!("😀😀😀😀😀"),
            ])
        }
        QuestionKind::Integer | QuestionKind::Number => rng.pick(&[
            json!(0),
            json!(1),
            json!(16),
            json!(15),
            json!(17),
            json!(60),
            json!(99),
            json!(100),
            json!(120),
            json!(-1),
            json!(1.0),
            json!(0.5),
            json!(1.5),
            json!(1.49),
            json!(2.5),
            json!(1e20),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("3"),
        ]),
        QuestionKind::Boolean => rng.pick(&[json!(true), json!(false), json!("true"), json!(0)]),
        QuestionKind::SingleChoice | QuestionKind::Likert => {
            if rng.one_in(5) {
                rng.pick(&[
                    json!("aucun"),
                    json!(0),
                    json!(11),
                    json!(4.0),
                    json!(""),
                    json!("A"),
                ])
            } else {
                rng.pick(&choices)
            }
        }
        QuestionKind::MultipleChoice => {
            let mut picked: Vec<Value> = (0..rng.below(choices.len() + 2))
                .map(|_| rng.pick(&choices))
                .collect();
            if rng.one_in(6) {
                picked.push(rng.pick(&[json!("aucun"), json!(1), json!(null)]));
            }
            if rng.one_in(4) {
                picked.dedup();
            }
            Value::Array(picked)
        }
        QuestionKind::Date => rng.pick(&[
            json!("2025-03-14"),
            json!("2024-02-29"),
            json!("2023-02-29"),
            json!("2025-13-01"),
            json!("2025-04-31"),
            json!("14/03/2025"),
            json!("2025-3-14"),
            json!("２０２５-03-14"),
        ]),
        QuestionKind::Time => rng.pick(&[
            json!("18:30"),
            json!("00:00"),
            json!("23:59"),
            json!("24:00"),
            json!("8:30"),
            json!("18:30:00"),
            json!("18h30"),
        ]),
        QuestionKind::DateTime => rng.pick(&[
            json!("2025-03-14T18:30:00+01:00"),
            json!("2025-03-14T18:30:00Z"),
            json!("2025-03-14t18:30:00.123z"),
            json!("2025-03-14T18:30:00"),
            json!("2025-03-14 18:30:00+01:00"),
            json!("2016-12-31T23:59:60Z"),
            json!("2016-12-31T23:59:60+01:00"),
            json!("2025-03-14T25:00:00Z"),
            json!("2025-02-30T10:00:00Z"),
        ]),
        QuestionKind::Geopoint => rng.pick(&[
            json!({"lat": 47.2, "lon": -1.6, "accuracy_m": 12}),
            json!({"lat": 47.2, "lon": -1.6}),
            json!({"lat": 91, "lon": 0}),
            json!({"lat": -90, "lon": 180}),
            json!({"lat": 0, "lon": -180.5}),
            json!({"lat": 1}),
            json!({"lat": 1, "lon": 2, "accuracy_m": -1}),
            json!({"lat": 1, "lon": 2, "altitude": 3}),
            json!({"lat": "47", "lon": 2}),
        ]),
        QuestionKind::Photo => rng.pick(&[
            Value::String(format!("sha256:{}", "ab".repeat(32))),
            Value::String(format!("sha256:{}", "AB".repeat(32))),
            json!("sha256:abc"),
            json!("photo.jpg"),
        ]),
        QuestionKind::Note => rng.pick(&[json!(null), json!("vu")]),
        QuestionKind::Section => Value::Object(answers(rng, &q.children, depth + 1)),
        QuestionKind::Repeat => {
            let n = if depth > 1 { 0 } else { rng.below(5) };
            Value::Array(
                (0..n)
                    .map(|_| match rng.one_in(15) {
                        true => wrong(rng),
                        false => Value::Object(answers(rng, &q.children, depth + 1)),
                    })
                    .collect(),
            )
        }
    }
}
