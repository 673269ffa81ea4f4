//! The skip-logic builder's model: a condition picked in the console becomes the
//! `x-visible-if` the format defines, reads back as the same picks, and shows or hides the
//! question as the picks say when the questionnaire is filled.

use parole_client::condition::{Clause, Condition, Join, Op};
use parole_client::Questionnaire;
use serde_json::{json, Value};

fn clause(question: &[&str], op: Op, value: Option<Value>) -> Clause {
    Clause {
        question: question.iter().map(|k| k.to_string()).collect(),
        op,
        value,
    }
}

fn example(name: &str) -> Value {
    let path = format!(
        "{}/../schemas/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every `x-visible-if` in `value`.
fn conditions(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(o) => {
            if let Some(c) = o.get("x-visible-if") {
                out.push(c.clone());
            }
            o.values().for_each(|v| conditions(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| conditions(v, out)),
        _ => {}
    }
}

#[test]
fn every_kind_of_pick_makes_a_schema_that_reads_back_as_the_same_picks() {
    let picks = [
        clause(&["souhaite_participer"], Op::Is, Some(json!("oui"))),
        clause(&["souhaite_participer"], Op::IsNot, Some(json!("non"))),
        clause(
            &["souhaite_participer"],
            Op::IsOneOf,
            Some(json!(["oui", "peut_etre"])),
        ),
        clause(&["themes"], Op::Includes, Some(json!("budget"))),
        clause(&["themes"], Op::NotIncludes, Some(json!("budget"))),
        clause(&["age"], Op::Gt, Some(json!(17))),
        clause(&["age"], Op::Ge, Some(json!(18))),
        clause(&["age"], Op::Lt, Some(json!(25))),
        clause(&["age"], Op::Le, Some(json!(24.5))),
        clause(&["recontact"], Op::Is, Some(json!(true))),
        clause(&["telephone"], Op::Answered, None),
        clause(&["cadre_de_vie", "logement"], Op::Le, Some(json!(2))),
    ];
    for pick in &picks {
        let condition = Condition {
            join: Join::All,
            clauses: vec![pick.clone()],
        };
        let schema = condition.to_schema().unwrap();
        assert_eq!(Condition::from_schema(&schema), Some(condition), "{schema}");
    }
    for join in [Join::All, Join::Any] {
        let condition = Condition {
            join,
            clauses: picks.to_vec(),
        };
        let schema = condition.to_schema().unwrap();
        let key = if join == Join::All { "allOf" } else { "anyOf" };
        assert_eq!(schema[key].as_array().unwrap().len(), picks.len());
        assert_eq!(Condition::from_schema(&schema), Some(condition));
    }
    // No clause: no condition (the question is always shown).
    let none = Condition {
        join: Join::All,
        clauses: vec![],
    };
    assert_eq!(none.to_schema(), None);
}

#[test]
fn the_examples_conditions_read_back_as_picks_and_are_written_the_same() {
    let mut found = Vec::new();
    for name in ["parole-habitants", "besoins-formation", "tous-les-types"] {
        conditions(&example(name), &mut found);
    }
    assert!(found.len() >= 7, "{found:?}");
    for schema in found {
        let condition =
            Condition::from_schema(&schema).unwrap_or_else(|| panic!("{schema} reads as picks"));
        assert_eq!(condition.to_schema(), Some(schema));
    }
}

#[test]
fn schemas_of_other_shapes_are_not_read_as_picks() {
    for other in [
        json!({"properties": {"a": {"const": 1}}}),
        json!({"properties": {"a": {"const": 1}}, "required": ["b"]}),
        json!({"properties": {"a": {"const": 1, "minimum": 0}}, "required": ["a"]}),
        json!({"not": {"properties": {"a": {"minimum": 1}}, "required": ["a"]}}),
        json!({"properties": {"a": {"pattern": "^x"}}, "required": ["a"]}),
        json!({"allOf": [{"required": ["a"]}]}),
        json!({"allOf": []}),
        json!(true),
        json!({"if": {}, "then": {}}),
    ] {
        assert_eq!(Condition::from_schema(&other), None, "{other}");
    }
}

#[test]
fn a_picked_condition_shows_and_hides_the_question_as_it_says() {
    let condition = Condition {
        join: Join::Any,
        clauses: vec![
            clause(&["age"], Op::Ge, Some(json!(18))),
            clause(&["themes"], Op::Includes, Some(json!("budget"))),
        ],
    };
    let document = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": "Essai",
        "additionalProperties": false,
        "properties": {
            "age": {"type": "integer", "title": "Âge"},
            "themes": {"type": "array", "title": "Thèmes", "uniqueItems": true,
                       "items": {"oneOf": [{"const": "budget", "title": "Budget"},
                                           {"const": "sante", "title": "Santé"}]}},
            "suite": {"type": "string", "title": "Suite",
                      "x-visible-if": condition.to_schema().unwrap()}
        }
    });
    let q = Questionnaire::parse(&document).expect("the condition is valid in a document");
    let shown = |answers: Value| q.visible(&answers).contains(&"/suite".to_string());
    assert!(shown(json!({"age": 18})));
    assert!(shown(json!({"age": 15, "themes": ["budget"]})));
    assert!(!shown(json!({"age": 15, "themes": ["sante"]})));
    assert!(!shown(json!({})));
}
