//! Skip logic as a coordinator builds it by picking: "show when *Souhaite participer* is
//! *Oui*", "when *Âge* ≥ 18", "when *Thèmes* includes *Budget*", joined by "all of" or
//! "any of". A [`Condition`] becomes the `x-visible-if` JSON Schema the format defines
//! ([`Condition::to_schema`]), and a schema of those shapes reads back into the same
//! condition ([`Condition::from_schema`]), so the console's builder can show a rule it
//! wrote, or one the XLSForm import wrote, as the picks that make it. A schema of any other
//! shape reads as `None`: the builder then leaves it as it is (editable in the JSON view).
//!
//! The shapes, for a question at `path` (keys from the condition's scope: the root, or the
//! repeat item for a question inside a repeat; a question inside a section is reached
//! through the section's key):
//!
//! | op | schema of the clause |
//! | --- | --- |
//! | `is` | `on(path, {"const": v})` |
//! | `is_not` | `{"not": on(path, {"const": v})}` (also true while unanswered) |
//! | `is_one_of` | `on(path, {"enum": [v, …]})` |
//! | `includes` | `on(path, {"contains": {"const": v}})` |
//! | `not_includes` | `{"not": on(path, {"contains": {"const": v}})}` |
//! | `gt`, `ge`, `lt`, `le` | `on(path, {"exclusiveMinimum" / "minimum" / "exclusiveMaximum" / "maximum": n})` |
//! | `answered` | `on(path, true)` |
//!
//! where `on([a], s)` is `{"properties": {"a": s}, "required": ["a"]}` and `on([s, a…], x)`
//! is `on([s], on([a…], x))`. Several clauses are an `allOf` (all) or an `anyOf` (any).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Clauses joined by [`Join`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub join: Join,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    /// Every clause holds.
    All,
    /// At least one clause holds.
    Any,
}

/// One comparison of one question's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    /// The question's keys from the condition's scope (`["cadre_de_vie", "logement"]`).
    pub question: Vec<String>,
    pub op: Op,
    /// The value compared with (a choice's value, a number, `true`/`false`); none for
    /// `answered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Is,
    IsNot,
    /// The value is an array of the accepted values.
    IsOneOf,
    Includes,
    NotIncludes,
    Gt,
    Ge,
    Lt,
    Le,
    Answered,
}

impl Op {
    /// The number keyword of a comparison.
    fn keyword(self) -> Option<&'static str> {
        match self {
            Op::Gt => Some("exclusiveMinimum"),
            Op::Ge => Some("minimum"),
            Op::Lt => Some("exclusiveMaximum"),
            Op::Le => Some("maximum"),
            _ => None,
        }
    }
}

const COMPARISONS: [Op; 4] = [Op::Gt, Op::Ge, Op::Lt, Op::Le];

impl Condition {
    /// The `x-visible-if` schema; `None` when there is no clause (always shown).
    pub fn to_schema(&self) -> Option<Value> {
        let mut clauses: Vec<Value> = self.clauses.iter().filter_map(Clause::to_schema).collect();
        match clauses.len() {
            0 => None,
            1 => clauses.pop(),
            _ => Some(match self.join {
                Join::All => json!({ "allOf": clauses }),
                Join::Any => json!({ "anyOf": clauses }),
            }),
        }
    }

    /// The condition a schema of the shapes above stands for; `None` for any other schema.
    pub fn from_schema(schema: &Value) -> Option<Condition> {
        let only = |key: &str| {
            schema
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get(key))
                .and_then(Value::as_array)
        };
        let (join, parts) = match (only("allOf"), only("anyOf")) {
            (Some(parts), _) => (Join::All, parts.iter().collect::<Vec<_>>()),
            (_, Some(parts)) => (Join::Any, parts.iter().collect()),
            _ => (Join::All, vec![schema]),
        };
        let clauses = parts
            .into_iter()
            .map(Clause::from_schema)
            .collect::<Option<Vec<_>>>()?;
        (!clauses.is_empty()).then_some(Condition { join, clauses })
    }
}

impl Clause {
    fn to_schema(&self) -> Option<Value> {
        if self.question.is_empty() {
            return None;
        }
        let value = || self.value.clone().unwrap_or(Value::Null);
        let test = match self.op {
            Op::Is | Op::IsNot => json!({ "const": value() }),
            Op::IsOneOf => json!({ "enum": value() }),
            Op::Includes | Op::NotIncludes => json!({ "contains": { "const": value() } }),
            Op::Answered => Value::Bool(true),
            op => json!({ op.keyword()?: value() }),
        };
        let on = on(&self.question, test);
        Some(match self.op {
            Op::IsNot | Op::NotIncludes => json!({ "not": on }),
            _ => on,
        })
    }

    fn from_schema(schema: &Value) -> Option<Clause> {
        let negated = schema
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("not"));
        let (question, test) = off(negated.unwrap_or(schema))?;
        let single = |key: &str| {
            test.as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get(key))
        };
        let (op, value) = if test == &Value::Bool(true) {
            (Op::Answered, None)
        } else if let Some(v) = single("const") {
            (if negated.is_some() { Op::IsNot } else { Op::Is }, Some(v))
        } else if let Some(v) = single("enum").filter(|v| v.is_array()) {
            (Op::IsOneOf, Some(v))
        } else if let Some(v) = single("contains").and_then(|c| {
            c.as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("const"))
        }) {
            let op = if negated.is_some() {
                Op::NotIncludes
            } else {
                Op::Includes
            };
            (op, Some(v))
        } else {
            let op = COMPARISONS.into_iter().find(|op| {
                single(op.keyword().unwrap_or_default()).is_some_and(Value::is_number)
            })?;
            (op, single(op.keyword()?))
        };
        // A negation reads back only as `is_not` or `not_includes`.
        if negated.is_some() && !matches!(op, Op::IsNot | Op::NotIncludes) {
            return None;
        }
        Some(Clause {
            question,
            op,
            value: value.cloned(),
        })
    }
}

/// `{"properties": {k: …}, "required": [k]}`, nested along `path`, `test` innermost.
fn on(path: &[String], test: Value) -> Value {
    path.iter().rev().fold(test, |inner, key| {
        let mut properties = Map::new();
        properties.insert(key.clone(), inner);
        json!({ "properties": properties, "required": [key] })
    })
}

/// The path and innermost test of an [`on`] shape: the nesting is followed while the inner
/// schema is itself exactly an `on` shape, so a test of an `on` shape cannot be told from a
/// deeper question (no answer is an object but a section's, so this never matters).
fn off(schema: &Value) -> Option<(Vec<String>, &Value)> {
    let mut path = Vec::new();
    let mut at = schema;
    while let Some((key, inner)) = one_property(at) {
        path.push(key.clone());
        at = inner;
    }
    (!path.is_empty()).then_some((path, at))
}

/// `(k, s)` when `schema` is exactly `{"properties": {k: s}, "required": [k]}`.
fn one_property(schema: &Value) -> Option<(&String, &Value)> {
    let o = schema.as_object().filter(|o| o.len() == 2)?;
    let properties = o.get("properties")?.as_object().filter(|p| p.len() == 1)?;
    let (key, inner) = properties.iter().next()?;
    let required = o.get("required")?.as_array()?;
    (required.len() == 1 && required[0].as_str() == Some(key)).then_some((key, inner))
}
