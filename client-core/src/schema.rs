//! The JSON Schema engine behind [`Questionnaire::validate`](crate::Questionnaire::validate):
//! the `jsonschema` crate (feature `jsonschema`: the server, the CLI, the console), or the
//! compact validator of [`compact`] (the phone's wasm, where `jsonschema` with its regex
//! engines and Unicode tables was two thirds of the module).
//!
//! Both report their errors as a [`SchemaError`], so `validate.rs` turns them into messages
//! with the same code either way. `client-core/tests/compact.rs` runs every shared case and
//! thousands of generated answers through both and compares the results.

use serde_json::Value;

pub(crate) mod compact;
pub(crate) mod format;

/// Which engine validates answers. The default is [`Engine::JsonSchema`] when the feature is
/// on, [`Engine::Compact`] otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The `jsonschema` crate (feature `jsonschema`).
    #[cfg(feature = "jsonschema")]
    JsonSchema,
    /// The compact validator: the subset of JSON Schema the questionnaire format uses.
    Compact,
}

impl Default for Engine {
    fn default() -> Self {
        #[cfg(feature = "jsonschema")]
        return Engine::JsonSchema;
        #[cfg(not(feature = "jsonschema"))]
        return Engine::Compact;
    }
}

/// A JSON type, in `jsonschema`'s order (the order a multiple `type` error lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ty {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Ty {
    pub(crate) fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "string" => Ty::String,
            "array" => Ty::Array,
            "object" => Ty::Object,
            _ => return None,
        })
    }
}

/// One failed keyword, as either engine reports it.
#[derive(Debug, Clone)]
pub(crate) struct SchemaError {
    /// A JSON pointer to the failing part of the answers.
    pub instance_path: String,
    /// A JSON pointer to the failing keyword in the schema.
    pub schema_path: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Required {
        property: String,
    },
    AdditionalProperties {
        unexpected: Vec<String>,
    },
    Type {
        types: Vec<Ty>,
    },
    /// `const`, `enum` or `oneOf`, with the value (shortened) that is none of the choices.
    Choice {
        value: String,
    },
    Minimum {
        limit: Value,
    },
    ExclusiveMinimum {
        limit: Value,
    },
    Maximum {
        limit: Value,
    },
    ExclusiveMaximum {
        limit: Value,
    },
    MinLength {
        limit: u64,
    },
    MaxLength {
        limit: u64,
    },
    Pattern {
        pattern: String,
    },
    Format {
        format: String,
    },
    MinItems {
        limit: u64,
    },
    MaxItems {
        limit: u64,
    },
    UniqueItems,
    /// `anyOf`, with each branch's errors.
    AnyOf {
        context: Vec<Vec<SchemaError>>,
        display: String,
    },
    /// Any other keyword (`not`, a `false` schema, …): its name and `jsonschema`'s English
    /// description of the error.
    Other {
        keyword: String,
        display: String,
    },
}

/// A value, as JSON, cut to a readable length.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// One compiled schema, of either engine.
pub(crate) enum Compiled {
    #[cfg(feature = "jsonschema")]
    JsonSchema(jsonschema::Validator),
    Compact(compact::Schema),
}

impl Compiled {
    /// Compiles `schema`; the error message when it cannot be, with the pointer (into
    /// `schema`) of what is wrong.
    pub(crate) fn new(engine: Engine, schema: &Value) -> Result<Compiled, (String, String)> {
        match engine {
            #[cfg(feature = "jsonschema")]
            Engine::JsonSchema => jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(schema)
                .map(Compiled::JsonSchema)
                .map_err(|e| (e.instance_path().as_str().to_string(), e.to_string())),
            Engine::Compact => compact::Schema::compile(schema).map(Compiled::Compact),
        }
    }

    pub(crate) fn is_valid(&self, instance: &Value) -> bool {
        match self {
            #[cfg(feature = "jsonschema")]
            Compiled::JsonSchema(v) => v.is_valid(instance),
            Compiled::Compact(s) => s.is_valid(instance),
        }
    }

    /// Every error, in the engine's order, until `f` returns `false`.
    pub(crate) fn each_error(&self, instance: &Value, f: &mut dyn FnMut(SchemaError) -> bool) {
        match self {
            #[cfg(feature = "jsonschema")]
            Compiled::JsonSchema(v) => {
                for e in v.iter_errors(instance) {
                    if !f(from_jsonschema(&e)) {
                        return;
                    }
                }
            }
            Compiled::Compact(s) => {
                let mut all = Vec::new();
                s.errors(instance, &mut all);
                for e in all {
                    if !f(e) {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(feature = "jsonschema")]
fn from_jsonschema(e: &jsonschema::ValidationError<'_>) -> SchemaError {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    use jsonschema::JsonType;
    let ty = |t: JsonType| match t {
        JsonType::Null => Ty::Null,
        JsonType::Boolean => Ty::Boolean,
        JsonType::Integer => Ty::Integer,
        JsonType::Number => Ty::Number,
        JsonType::String => Ty::String,
        JsonType::Array => Ty::Array,
        JsonType::Object => Ty::Object,
    };
    let kind = match e.kind() {
        K::Required { property } => Kind::Required {
            property: property.as_str().unwrap_or_default().to_string(),
        },
        K::AdditionalProperties { unexpected } => Kind::AdditionalProperties {
            unexpected: unexpected.clone(),
        },
        K::Type { kind } => Kind::Type {
            types: match kind {
                TypeKind::Single(t) => vec![ty(*t)],
                TypeKind::Multiple(set) => set.iter().map(ty).collect(),
            },
        },
        K::Constant { .. }
        | K::Enum { .. }
        | K::OneOfNotValid { .. }
        | K::OneOfMultipleValid { .. } => Kind::Choice {
            value: short(e.instance()),
        },
        K::Minimum { limit } => Kind::Minimum {
            limit: limit.clone(),
        },
        K::ExclusiveMinimum { limit } => Kind::ExclusiveMinimum {
            limit: limit.clone(),
        },
        K::Maximum { limit } => Kind::Maximum {
            limit: limit.clone(),
        },
        K::ExclusiveMaximum { limit } => Kind::ExclusiveMaximum {
            limit: limit.clone(),
        },
        K::MinLength { limit } => Kind::MinLength { limit: *limit },
        K::MaxLength { limit } => Kind::MaxLength { limit: *limit },
        K::Pattern { pattern } => Kind::Pattern {
            pattern: pattern.clone(),
        },
        K::Format { format } => Kind::Format {
            format: format.clone(),
        },
        K::MinItems { limit } => Kind::MinItems { limit: *limit },
        K::MaxItems { limit } => Kind::MaxItems { limit: *limit },
        K::UniqueItems => Kind::UniqueItems,
        K::AnyOf { context } => Kind::AnyOf {
            context: context
                .iter()
                .map(|branch| branch.iter().map(from_jsonschema).collect())
                .collect(),
            display: e.to_string(),
        },
        other => Kind::Other {
            keyword: other.keyword().to_string(),
            display: e.to_string(),
        },
    };
    SchemaError {
        instance_path: e.instance_path().as_str().to_string(),
        schema_path: e.schema_path().as_str().to_string(),
        kind,
    }
}
