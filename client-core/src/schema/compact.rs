//! The compact validator: the JSON Schema (draft 2020-12) keywords a questionnaire uses, and
//! nothing else, for the phone's wasm build (see `schema.rs` for why).
//!
//! Supported: `type`, `const`, `enum`, `properties`, `required`, `additionalProperties`,
//! `items`, `contains`, `minItems`, `maxItems`, `uniqueItems`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `minLength`, `maxLength`, `pattern`, `format` (`date`, `date-time`,
//! `time`, `email`), `oneOf`, `anyOf`, `allOf`, `not`, `if` / `then` / `else`,
//! `dependentRequired`; annotations (`title`, `description`, `x-…`, `$schema`, …) are ignored.
//! Any other keyword is refused when the schema is compiled (the questionnaire then cannot
//! be opened on the phone, with a message naming the keyword) rather than silently ignored:
//! the phone never accepts what the server would refuse because of a keyword it skipped.
//!
//! Each keyword reports its errors as `jsonschema` 0.61 does (kind, instance path, schema
//! path, in the order it runs the keywords: cheap ones first), so `validate.rs` words them the same way.
//! `pattern` is the browser's own `RegExp` with the `u` flag in wasm (ECMA-262, the dialect
//! JSON Schema specifies), and natively `jsonschema`'s translation to `fancy-regex`.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::{format, short, Kind, SchemaError, Ty};
use crate::questionnaire::push_token;

/// A compiled schema.
pub(crate) struct Schema {
    root: Node,
}

enum Node {
    Bool(bool),
    /// The keywords, in the order written, each with its name.
    Keywords(Vec<(&'static str, Keyword)>),
}

enum Keyword {
    Type(Vec<Ty>),
    Const(Value),
    Enum(Vec<Value>),
    Properties(Vec<(String, Node)>),
    Required(Vec<String>),
    /// The schema for other keys, and the keys `properties` names beside it.
    AdditionalProperties(Box<Node>, Vec<String>),
    Items(Box<Node>),
    Contains(Box<Node>),
    MinItems(u64),
    MaxItems(u64),
    UniqueItems,
    Minimum(Number),
    Maximum(Number),
    ExclusiveMinimum(Number),
    ExclusiveMaximum(Number),
    MinLength(u64),
    MaxLength(u64),
    Pattern(String, Regex),
    Format(&'static str),
    OneOf(Vec<Node>),
    AnyOf(Vec<Node>),
    AllOf(Vec<Node>),
    Not(Box<Node>, Value),
    If(Box<Node>, Option<Box<Node>>, Option<Box<Node>>),
    DependentRequired(Vec<(String, Vec<String>)>),
}

/// Keywords that only annotate (or that another keyword reads: `then`, `else`).
const IGNORED: [&str; 16] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "then",
    "else",
    "contentEncoding",
    "contentMediaType",
    "$anchor",
    "$vocabulary",
];

/// An error while compiling: the pointer into the schema, and the message.
type CompileError = (String, String);

impl Schema {
    pub(crate) fn compile(schema: &Value) -> Result<Schema, CompileError> {
        Ok(Schema {
            root: compile(schema, "")?,
        })
    }

    pub(crate) fn is_valid(&self, instance: &Value) -> bool {
        valid(&self.root, instance)
    }

    pub(crate) fn errors(&self, instance: &Value, out: &mut Vec<SchemaError>) {
        errors(&self.root, instance, "", "", out);
    }
}

fn unsupported(at: &str, what: &str) -> CompileError {
    (
        at.to_string(),
        format!("{what} is not supported by the phone's validator"),
    )
}

fn compile(schema: &Value, at: &str) -> Result<Node, CompileError> {
    let map = match schema {
        Value::Bool(b) => return Ok(Node::Bool(*b)),
        Value::Object(map) => map,
        _ => {
            return Err((
                at.to_string(),
                format!("{schema} is not of types \"boolean\", \"object\""),
            ))
        }
    };
    let mut out = Vec::new();
    for (keyword, value) in map {
        let here = push_token(at, keyword);
        let bad = || {
            (
                here.clone(),
                format!("{value} is not a valid value for {keyword}"),
            )
        };
        let (name, kw): (&'static str, Keyword) = match keyword.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    v => vec![v],
                };
                let mut types = Vec::new();
                for n in names {
                    types.push(n.as_str().and_then(Ty::parse).ok_or_else(bad)?);
                }
                if value.is_array() && types.len() > 1 {
                    types.sort();
                    types.dedup();
                }
                ("type", Keyword::Type(types))
            }
            "const" => ("const", Keyword::Const(value.clone())),
            "enum" => (
                "enum",
                Keyword::Enum(value.as_array().ok_or_else(bad)?.clone()),
            ),
            "properties" => {
                let props = value.as_object().ok_or_else(bad)?;
                let mut compiled = Vec::new();
                for (k, s) in props {
                    compiled.push((k.clone(), compile(s, &push_token(&here, k))?));
                }
                ("properties", Keyword::Properties(compiled))
            }
            "required" => {
                let names = value.as_array().ok_or_else(bad)?;
                let names: Option<Vec<String>> =
                    names.iter().map(|n| n.as_str().map(String::from)).collect();
                ("required", Keyword::Required(names.ok_or_else(bad)?))
            }
            "additionalProperties" => {
                if map.contains_key("patternProperties") {
                    return Err(unsupported(at, "patternProperties"));
                }
                let known = map
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                (
                    "additionalProperties",
                    Keyword::AdditionalProperties(Box::new(compile(value, &here)?), known),
                )
            }
            "items" => ("items", Keyword::Items(Box::new(compile(value, &here)?))),
            "contains" => {
                if map.contains_key("minContains") || map.contains_key("maxContains") {
                    return Err(unsupported(at, "minContains / maxContains"));
                }
                (
                    "contains",
                    Keyword::Contains(Box::new(compile(value, &here)?)),
                )
            }
            "minItems" => (
                "minItems",
                Keyword::MinItems(value.as_u64().ok_or_else(bad)?),
            ),
            "maxItems" => (
                "maxItems",
                Keyword::MaxItems(value.as_u64().ok_or_else(bad)?),
            ),
            "uniqueItems" => match value {
                Value::Bool(true) => ("uniqueItems", Keyword::UniqueItems),
                Value::Bool(false) => continue,
                _ => return Err(bad()),
            },
            "minimum" => ("minimum", Keyword::Minimum(number(value).ok_or_else(bad)?)),
            "maximum" => ("maximum", Keyword::Maximum(number(value).ok_or_else(bad)?)),
            "exclusiveMinimum" => (
                "exclusiveMinimum",
                Keyword::ExclusiveMinimum(number(value).ok_or_else(bad)?),
            ),
            "exclusiveMaximum" => (
                "exclusiveMaximum",
                Keyword::ExclusiveMaximum(number(value).ok_or_else(bad)?),
            ),
            "minLength" => (
                "minLength",
                Keyword::MinLength(value.as_u64().ok_or_else(bad)?),
            ),
            "maxLength" => (
                "maxLength",
                Keyword::MaxLength(value.as_u64().ok_or_else(bad)?),
            ),
            "pattern" => {
                let pattern = value.as_str().ok_or_else(bad)?;
                let regex = Regex::new(pattern)
                    .ok_or_else(|| (here.clone(), format!("{value} is not a \"regex\"")))?;
                ("pattern", Keyword::Pattern(pattern.to_string(), regex))
            }
            "format" => match value.as_str() {
                Some("date") => ("format", Keyword::Format("date")),
                Some("date-time") => ("format", Keyword::Format("date-time")),
                Some("time") => ("format", Keyword::Format("time")),
                Some("email") => ("format", Keyword::Format("email")),
                Some(other) => return Err(unsupported(&here, &format!("format \"{other}\""))),
                None => return Err(bad()),
            },
            "oneOf" | "anyOf" | "allOf" => {
                let list = value.as_array().filter(|l| !l.is_empty()).ok_or_else(bad)?;
                let mut nodes = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    nodes.push(compile(s, &format!("{here}/{i}"))?);
                }
                match keyword.as_str() {
                    "oneOf" => ("oneOf", Keyword::OneOf(nodes)),
                    "anyOf" => ("anyOf", Keyword::AnyOf(nodes)),
                    _ => ("allOf", Keyword::AllOf(nodes)),
                }
            }
            "not" => (
                "not",
                Keyword::Not(Box::new(compile(value, &here)?), value.clone()),
            ),
            "if" => {
                let branch = |k: &str| {
                    map.get(k)
                        .map(|s| compile(s, &push_token(at, k)).map(Box::new))
                        .transpose()
                };
                let (then, otherwise) = (branch("then")?, branch("else")?);
                if then.is_none() && otherwise.is_none() {
                    continue;
                }
                (
                    "if",
                    Keyword::If(Box::new(compile(value, &here)?), then, otherwise),
                )
            }
            "dependentRequired" => {
                let deps = value.as_object().ok_or_else(bad)?;
                let mut list = Vec::new();
                for (k, names) in deps {
                    let names: Option<Vec<String>> = names
                        .as_array()
                        .and_then(|n| n.iter().map(|n| n.as_str().map(String::from)).collect());
                    list.push((k.clone(), names.ok_or_else(bad)?));
                }
                ("dependentRequired", Keyword::DependentRequired(list))
            }
            k if IGNORED.contains(&k) || k.starts_with("x-") || k == "$defs" => continue,
            other => return Err(unsupported(&here, &format!("the keyword \"{other}\""))),
        };
        out.push((name, kw));
    }
    // The order `jsonschema` runs them in (cheap ones first), so that errors come in its order.
    out.sort_by_key(|(name, _)| priority(name));
    Ok(Node::Keywords(out))
}

/// `jsonschema` 0.61's `keyword_priority`, for the keywords known here.
fn priority(keyword: &str) -> u8 {
    match keyword {
        "type" => 1,
        "const" => 5,
        "enum" => 6,
        "minimum" => 10,
        "maximum" => 11,
        "exclusiveMinimum" => 12,
        "exclusiveMaximum" => 13,
        "minLength" => 20,
        "maxLength" => 21,
        "minItems" => 22,
        "maxItems" => 23,
        "required" => 26,
        "dependentRequired" => 27,
        "pattern" => 30,
        "format" => 31,
        "uniqueItems" => 35,
        "properties" => 40,
        "additionalProperties" => 42,
        "items" => 44,
        "contains" => 47,
        "allOf" => 50,
        "anyOf" => 51,
        "oneOf" => 52,
        "not" => 53,
        "if" => 54,
        _ => 100,
    }
}

fn number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        _ => None,
    }
}

fn is_type(ty: Ty, v: &Value) -> bool {
    match (ty, v) {
        (Ty::Null, Value::Null)
        | (Ty::Boolean, Value::Bool(_))
        | (Ty::Number, Value::Number(_))
        | (Ty::String, Value::String(_))
        | (Ty::Array, Value::Array(_))
        | (Ty::Object, Value::Object(_)) => true,
        (Ty::Integer, Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Numbers compared by value, whatever their representation.
fn compare(a: &Number, b: &Number) -> Ordering {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

/// JSON equality, numbers by value (`1` equals `1.0`).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn valid(node: &Node, instance: &Value) -> bool {
    let mut out = Vec::new();
    errors(node, instance, "", "", &mut out);
    out.is_empty()
}

fn push(out: &mut Vec<SchemaError>, at: &str, schema_at: &str, kind: Kind) {
    out.push(SchemaError {
        instance_path: at.to_string(),
        schema_path: schema_at.to_string(),
        kind,
    });
}

fn errors(node: &Node, instance: &Value, at: &str, schema_at: &str, out: &mut Vec<SchemaError>) {
    let keywords = match node {
        Node::Bool(true) => return,
        Node::Bool(false) => {
            return push(
                out,
                at,
                schema_at,
                Kind::Other {
                    keyword: "falseSchema".into(),
                    display: format!("False schema does not allow {instance}"),
                },
            )
        }
        Node::Keywords(k) => k,
    };
    for (name, keyword) in keywords {
        let here = format!("{schema_at}/{name}");
        let s = instance.as_str();
        let n = match instance {
            Value::Number(n) => Some(n),
            _ => None,
        };
        let a = instance.as_array();
        let o = instance.as_object();
        match keyword {
            Keyword::Type(types) => {
                if !types.iter().any(|t| is_type(*t, instance)) {
                    push(
                        out,
                        at,
                        &here,
                        Kind::Type {
                            types: types.clone(),
                        },
                    );
                }
            }
            Keyword::Const(v) => {
                if !equal(v, instance) {
                    push(
                        out,
                        at,
                        &here,
                        Kind::Choice {
                            value: short(instance),
                        },
                    );
                }
            }
            Keyword::Enum(vs) => {
                if !vs.iter().any(|v| equal(v, instance)) {
                    push(
                        out,
                        at,
                        &here,
                        Kind::Choice {
                            value: short(instance),
                        },
                    );
                }
            }
            Keyword::Properties(props) => {
                if let Some(o) = o {
                    for (k, s) in props {
                        if let Some(v) = o.get(k) {
                            errors(s, v, &push_token(at, k), &push_token(&here, k), out);
                        }
                    }
                }
            }
            Keyword::Required(names) => {
                if let Some(o) = o {
                    for k in names.iter().filter(|k| !o.contains_key(*k)) {
                        push(
                            out,
                            at,
                            &here,
                            Kind::Required {
                                property: k.clone(),
                            },
                        );
                    }
                }
            }
            Keyword::AdditionalProperties(schema, known) => {
                if let Some(o) = o {
                    additional(schema, known, o, at, &here, out);
                }
            }
            Keyword::Items(schema) => {
                for (i, item) in a.into_iter().flatten().enumerate() {
                    errors(schema, item, &format!("{at}/{i}"), &here, out);
                }
            }
            Keyword::Contains(schema) => {
                if a.is_some_and(|a| !a.iter().any(|item| valid(schema, item))) {
                    let display = format!("None of {instance} are valid under the given schema");
                    let keyword = "contains".into();
                    push(out, at, &here, Kind::Other { keyword, display });
                }
            }
            Keyword::MinItems(limit) => {
                if a.is_some_and(|a| (a.len() as u64) < *limit) {
                    push(out, at, &here, Kind::MinItems { limit: *limit });
                }
            }
            Keyword::MaxItems(limit) => {
                if a.is_some_and(|a| (a.len() as u64) > *limit) {
                    push(out, at, &here, Kind::MaxItems { limit: *limit });
                }
            }
            Keyword::UniqueItems => {
                let repeated = a.is_some_and(|a| {
                    a.iter()
                        .enumerate()
                        .any(|(i, x)| a[..i].iter().any(|y| equal(x, y)))
                });
                if repeated {
                    push(out, at, &here, Kind::UniqueItems);
                }
            }
            Keyword::Minimum(limit) => {
                if n.is_some_and(|n| compare(n, limit) == Ordering::Less) {
                    let limit = Value::Number(limit.clone());
                    push(out, at, &here, Kind::Minimum { limit });
                }
            }
            Keyword::Maximum(limit) => {
                if n.is_some_and(|n| compare(n, limit) == Ordering::Greater) {
                    let limit = Value::Number(limit.clone());
                    push(out, at, &here, Kind::Maximum { limit });
                }
            }
            Keyword::ExclusiveMinimum(limit) => {
                if n.is_some_and(|n| compare(n, limit) != Ordering::Greater) {
                    let limit = Value::Number(limit.clone());
                    push(out, at, &here, Kind::ExclusiveMinimum { limit });
                }
            }
            Keyword::ExclusiveMaximum(limit) => {
                if n.is_some_and(|n| compare(n, limit) != Ordering::Less) {
                    let limit = Value::Number(limit.clone());
                    push(out, at, &here, Kind::ExclusiveMaximum { limit });
                }
            }
            Keyword::MinLength(limit) => {
                if s.is_some_and(|s| (s.chars().count() as u64) < *limit) {
                    push(out, at, &here, Kind::MinLength { limit: *limit });
                }
            }
            Keyword::MaxLength(limit) => {
                if s.is_some_and(|s| (s.chars().count() as u64) > *limit) {
                    push(out, at, &here, Kind::MaxLength { limit: *limit });
                }
            }
            Keyword::Pattern(pattern, regex) => {
                if s.is_some_and(|s| !regex.is_match(s)) {
                    let pattern = pattern.clone();
                    push(out, at, &here, Kind::Pattern { pattern });
                }
            }
            Keyword::Format(f) => {
                let ok = |s: &str| match *f {
                    "date" => format::is_valid_date(s),
                    "date-time" => format::is_valid_datetime(s),
                    "time" => format::is_valid_time(s),
                    _ => format::is_valid_email(s),
                };
                if s.is_some_and(|s| !ok(s)) {
                    let format = f.to_string();
                    push(out, at, &here, Kind::Format { format });
                }
            }
            Keyword::OneOf(branches) => {
                let matching = branches
                    .iter()
                    .filter(|b| valid(b, instance))
                    .take(2)
                    .count();
                if matching != 1 {
                    push(
                        out,
                        at,
                        &here,
                        Kind::Choice {
                            value: short(instance),
                        },
                    );
                }
            }
            Keyword::AnyOf(branches) => {
                let mut context = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let mut branch = Vec::new();
                    errors(b, instance, at, &format!("{here}/{i}"), &mut branch);
                    if branch.is_empty() {
                        context.clear();
                        break;
                    }
                    context.push(branch);
                }
                if !context.is_empty() {
                    let display = format!(
                        "{instance} is not valid under any of the schemas listed in the 'anyOf' keyword"
                    );
                    push(out, at, &here, Kind::AnyOf { context, display });
                }
            }
            Keyword::AllOf(branches) => {
                for (i, b) in branches.iter().enumerate() {
                    errors(b, instance, at, &format!("{here}/{i}"), out);
                }
            }
            Keyword::Not(schema, written) => {
                if valid(schema, instance) {
                    let display = format!("{written} is not allowed for {instance}");
                    let keyword = "not".into();
                    push(out, at, &here, Kind::Other { keyword, display });
                }
            }
            Keyword::If(condition, then, otherwise) => {
                let (branch, name) = if valid(condition, instance) {
                    (then, "then")
                } else {
                    (otherwise, "else")
                };
                if let Some(b) = branch {
                    errors(b, instance, at, &format!("{schema_at}/{name}"), out);
                }
            }
            Keyword::DependentRequired(deps) => {
                if let Some(o) = o {
                    for (k, names) in deps.iter().filter(|(k, _)| o.contains_key(k)) {
                        let dep_at = push_token(&here, k);
                        for name in names.iter().filter(|n| !o.contains_key(*n)) {
                            push(
                                out,
                                at,
                                &dep_at,
                                Kind::Required {
                                    property: name.clone(),
                                },
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `additionalProperties`: `false` is one error listing every unexpected key; a schema
/// validates each of them.
fn additional(
    schema: &Node,
    known: &[String],
    o: &Map<String, Value>,
    at: &str,
    here: &str,
    out: &mut Vec<SchemaError>,
) {
    let mut extra = o.iter().filter(|(k, _)| !known.contains(k));
    match schema {
        Node::Bool(true) => {}
        Node::Bool(false) => {
            let unexpected: Vec<String> = extra.map(|(k, _)| k.clone()).collect();
            if !unexpected.is_empty() {
                push(out, at, here, Kind::AdditionalProperties { unexpected });
            }
        }
        schema => {
            for (k, v) in extra.by_ref() {
                errors(schema, v, &push_token(at, k), here, out);
            }
        }
    }
}

/// A regular expression with ECMA-262 semantics.
#[cfg(target_arch = "wasm32")]
struct Regex(js_sys::RegExp);

#[cfg(target_arch = "wasm32")]
impl Regex {
    fn new(pattern: &str) -> Option<Regex> {
        use wasm_bindgen::prelude::*;
        #[wasm_bindgen]
        extern "C" {
            /// `new RegExp(pattern, flags)`, which throws on a pattern it cannot read.
            #[wasm_bindgen(catch, js_namespace = globalThis, js_name = RegExp)]
            fn make_regexp(pattern: &str, flags: &str) -> Result<js_sys::RegExp, JsValue>;
        }
        make_regexp(pattern, "u").ok().map(Regex)
    }

    fn is_match(&self, text: &str) -> bool {
        self.0.test(text)
    }
}

/// A regular expression with ECMA-262 semantics: natively, `jsonschema`'s own translation
/// to `fancy-regex` (the browser's RegExp is tested in `web/tests/phone-validation.test.js`).
#[cfg(not(target_arch = "wasm32"))]
struct Regex(fancy_regex::Regex);

#[cfg(not(target_arch = "wasm32"))]
impl Regex {
    fn new(pattern: &str) -> Option<Regex> {
        let translated = jsonschema_regex::to_rust_regex(pattern).ok()?;
        fancy_regex::Regex::new(&translated).ok().map(Regex)
    }

    fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text).unwrap_or(false)
    }
}
