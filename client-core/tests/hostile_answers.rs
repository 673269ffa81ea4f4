//! Answers a clumsy user or an attacker could send: nothing PostgreSQL cannot store gets
//! through, a refusal stays short and says what to fix, and validation does not blow up
//! with the size of the answers (its speed is measured by `cargo bench --bench validate`).

use parole_client::validate::MAX_ERRORS;
use parole_client::Questionnaire;
use serde_json::{json, Value};

fn besoins() -> Questionnaire {
    let doc: Value = serde_json::from_str(include_str!(
        "../../schemas/examples/besoins-formation.json"
    ))
    .unwrap();
    Questionnaire::parse(&doc).unwrap()
}

fn valid() -> Value {
    json!({
        "conseil": "dervallieres",
        "role": "habitant",
        "themes": ["budget"],
        "format_prefere": "atelier"
    })
}

#[test]
fn the_base_answers_are_valid() {
    assert_eq!(besoins().validate(&valid()), vec![]);
}

#[test]
fn a_nul_character_in_an_answer_or_a_key_is_refused_where_it_is() {
    let q = besoins();
    let mut answers = valid();
    answers["formations_suivies"] = json!([
        {"intitule": "Budget\u{0}participatif", "utilite": 3, "a_recommander": true}
    ]);
    let errors = q.validate(&answers);
    let nul: Vec<_> = errors
        .iter()
        .filter(|e| e.code == "nul_character")
        .collect();
    assert_eq!(nul.len(), 1, "{errors:#?}");
    assert_eq!(nul[0].path, "/formations_suivies/0/intitule");
    assert!(nul[0].message.fr.contains("caractère nul"), "{:?}", nul[0]);
    assert!(nul[0].message.en.contains("NUL character"), "{:?}", nul[0]);

    let mut answers = valid();
    answers["a\u{0}b"] = json!("x");
    let errors = q.validate(&answers);
    let nul = errors.iter().find(|e| e.code == "nul_character").unwrap();
    // The path shows where, without carrying the NUL itself.
    assert_eq!(nul.path, "/a\u{fffd}b");
}

#[test]
fn a_multiple_choice_holds_no_more_ticks_than_it_has_choices() {
    let q = besoins();
    let mut answers = valid();
    let many: Vec<Value> = (0..100_000).map(|i| json!(format!("x{i}"))).collect();
    answers["themes"] = Value::Array(many);
    let errors = q.validate(&answers);
    let max = errors
        .iter()
        .find(|e| e.code == "max_items")
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert_eq!(max.path, "/themes");
    assert!(max.message.en.contains("at most 7"), "{max:?}");
    // A handful of errors, not one per item.
    assert!(errors.len() < 20, "{}", errors.len());
}

#[test]
fn a_refusal_lists_at_most_fifty_errors_then_counts_the_rest() {
    let q = besoins();
    let mut answers = valid();
    // 20 items (the repeat's maximum), each with three wrongly typed answers: 60 errors.
    let item = json!({"intitule": 5, "utilite": "très", "a_recommander": "oui"});
    answers["formations_suivies"] = Value::Array(vec![item; 20]);
    let errors = q.validate(&answers);
    assert_eq!(errors.len(), MAX_ERRORS + 1, "{errors:#?}");
    let last = errors.last().unwrap();
    assert_eq!(last.code, "too_many_errors");
    assert_eq!(
        last.message.en,
        "And 10 more errors, not detailed: correct these first."
    );
    assert!(last.message.fr.starts_with("Et 10 autres erreurs"));
    // The fifty shown are the first ones in document order.
    assert_eq!(errors[0].path, "/formations_suivies/0/intitule");
    assert!(errors[..MAX_ERRORS]
        .iter()
        .all(|e| e.path.starts_with("/formations_suivies/")));
}
