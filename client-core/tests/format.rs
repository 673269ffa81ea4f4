//! Table tests for the questionnaire format: each broken document is refused with the
//! expected error, at the expected place in the document.

use parole_client::{Questionnaire, ValidationError};
use serde_json::{json, Value};

/// A small questionnaire using most of the format.
fn base() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Test",
        "type": "object",
        "x-languages": ["fr", "en"],
        "properties": {
            "intro": {"type": "null", "x-widget": "note", "title": "Bonjour"},
            "quartier": {
                "type": "string", "title": "Quartier ?", "x-widget": "select",
                "oneOf": [{"const": "a", "title": "A"}, {"const": "autre", "title": "Autre"}],
                "x-i18n": {"en": {"title": "Neighbourhood?", "choices": {"autre": "Other"}}}
            },
            "quartier_autre": {
                "type": "string", "title": "Lequel ?",
                "x-visible-if": {"properties": {"quartier": {"const": "autre"}}, "required": ["quartier"]}
            },
            "priorites": {
                "type": "array", "title": "Priorités", "uniqueItems": true,
                "items": {"oneOf": [{"const": "x", "title": "X"}, {"const": "y", "title": "Y"}]}
            },
            "cadre": {
                "type": "object", "x-widget": "section", "title": "Cadre",
                "additionalProperties": false,
                "properties": {
                    "logement": {"type": "integer", "x-widget": "likert", "title": "Logement",
                        "oneOf": [{"const": 1, "title": "Mal"}, {"const": 2, "title": "Bien"}]}
                },
                "required": ["logement"]
            },
            "formations": {
                "type": "array", "x-widget": "repeat", "title": "Formations",
                "items": {
                    "type": "object", "additionalProperties": false,
                    "properties": {"intitule": {"type": "string", "title": "Intitulé"}},
                    "required": ["intitule"]
                }
            }
        },
        "required": ["quartier", "quartier_autre", "cadre"],
        "additionalProperties": false
    })
}

fn with(f: impl FnOnce(&mut Value)) -> Value {
    let mut d = base();
    f(&mut d);
    d
}

fn refusal(document: &Value) -> Vec<ValidationError> {
    match Questionnaire::parse(document) {
        Ok(_) => panic!("accepted: {document:#}"),
        Err(errors) => errors,
    }
}

fn has(errors: &[ValidationError], path: &str, code: &str) -> bool {
    errors.iter().any(|e| e.path == path && e.code == code)
}

#[test]
fn the_base_document_is_accepted() {
    Questionnaire::parse(&base()).unwrap();
}

#[test]
fn each_broken_document_is_refused_at_the_right_place() {
    let table: Vec<(&str, Value, &str, &str)> = vec![
        ("not an object", json!([1, 2]), "", "not_an_object"),
        (
            "wrong $schema",
            with(|d| d["$schema"] = json!("http://json-schema.org/draft-07/schema#")),
            "/$schema",
            "schema_version",
        ),
        (
            "no $schema",
            with(|d| {
                d.as_object_mut().unwrap().remove("$schema");
            }),
            "/$schema",
            "schema_version",
        ),
        (
            "root type not object",
            with(|d| d["type"] = json!("array")),
            "/type",
            "root_type",
        ),
        (
            "root additionalProperties missing",
            with(|d| {
                d.as_object_mut().unwrap().remove("additionalProperties");
            }),
            "/additionalProperties",
            "additional_properties",
        ),
        (
            "root additionalProperties true",
            with(|d| d["additionalProperties"] = json!(true)),
            "/additionalProperties",
            "additional_properties",
        ),
        (
            "section additionalProperties missing",
            with(|d| {
                d["properties"]["cadre"]
                    .as_object_mut()
                    .unwrap()
                    .remove("additionalProperties");
            }),
            "/properties/cadre/additionalProperties",
            "additional_properties",
        ),
        (
            "repeat item additionalProperties true",
            with(|d| d["properties"]["formations"]["items"]["additionalProperties"] = json!(true)),
            "/properties/formations/items/additionalProperties",
            "additional_properties",
        ),
        (
            "bad question key",
            with(|d| {
                d["properties"]
                    .as_object_mut()
                    .unwrap()
                    .insert("Quartier-2".into(), json!({"type": "string", "title": "Q"}));
            }),
            "/properties/Quartier-2",
            "bad_key",
        ),
        (
            "bad key in a section",
            with(|d| {
                d["properties"]["cadre"]["properties"]
                    .as_object_mut()
                    .unwrap()
                    .insert("2bis".into(), json!({"type": "string", "title": "Q"}));
            }),
            "/properties/cadre/properties/2bis",
            "bad_key",
        ),
        (
            "unknown widget",
            with(|d| d["properties"]["quartier"]["x-widget"] = json!("dropdown")),
            "/properties/quartier/x-widget",
            "unknown_widget",
        ),
        (
            "likert on a string",
            with(|d| d["properties"]["quartier"]["x-widget"] = json!("likert")),
            "/properties/quartier/type",
            "widget_type",
        ),
        (
            "note that is not null",
            with(|d| d["properties"]["intro"]["type"] = json!("string")),
            "/properties/intro/type",
            "widget_type",
        ),
        (
            "null without note",
            with(|d| {
                d["properties"]["intro"]
                    .as_object_mut()
                    .unwrap()
                    .remove("x-widget");
            }),
            "/properties/intro/x-widget",
            "widget_type",
        ),
        (
            "required names a missing question",
            with(|d| d["required"] = json!(["quartier", "cadre", "age"])),
            "/required/2",
            "required_unknown",
        ),
        (
            "required names a note",
            with(|d| d["required"] = json!(["intro", "quartier"])),
            "/required/0",
            "required_note",
        ),
        (
            "section required names a missing question",
            with(|d| d["properties"]["cadre"]["required"] = json!(["logement", "bruit"])),
            "/properties/cadre/required/1",
            "required_unknown",
        ),
        (
            "visible-if not a schema",
            with(|d| {
                d["properties"]["quartier_autre"]["x-visible-if"] =
                    json!({"properties": {"quartier": {"type": "texte"}}})
            }),
            "/properties/quartier_autre/x-visible-if/properties/quartier/type",
            "invalid_visible_if",
        ),
        (
            "visible-if not an object",
            with(|d| {
                d["properties"]["quartier_autre"]["x-visible-if"] = json!("quartier == autre")
            }),
            "/properties/quartier_autre/x-visible-if",
            "invalid_visible_if",
        ),
        (
            "visible-if on an unknown question",
            with(|d| {
                d["properties"]["quartier_autre"]["x-visible-if"] =
                    json!({"properties": {"quarter": {"const": "autre"}}})
            }),
            "/properties/quartier_autre/x-visible-if/properties/quarter",
            "visible_if_unknown",
        ),
        (
            "x-languages not a list",
            with(|d| d["x-languages"] = json!("fr")),
            "/x-languages",
            "languages",
        ),
        (
            "x-languages with a bad code",
            with(|d| d["x-languages"] = json!(["fr", "English"])),
            "/x-languages/1",
            "languages",
        ),
        (
            "x-languages empty",
            with(|d| d["x-languages"] = json!([])),
            "/x-languages",
            "languages",
        ),
        (
            "x-i18n in an undeclared language",
            with(|d| d["properties"]["quartier"]["x-i18n"]["de"] = json!({"title": "Viertel?"})),
            "/properties/quartier/x-i18n/de",
            "i18n_language",
        ),
        (
            "x-i18n for a choice that does not exist",
            with(|d| d["properties"]["quartier"]["x-i18n"]["en"]["choices"]["b"] = json!("B")),
            "/properties/quartier/x-i18n/en/choices/b",
            "i18n_choice",
        ),
        (
            "a choice without const",
            with(|d| d["properties"]["quartier"]["oneOf"][1] = json!({"title": "Autre"})),
            "/properties/quartier/oneOf/1/const",
            "choice_const",
        ),
        (
            "a choice without title",
            with(|d| d["properties"]["quartier"]["oneOf"][0] = json!({"const": "a"})),
            "/properties/quartier/oneOf/0/title",
            "missing_title",
        ),
        (
            "two choices with one value",
            with(|d| d["properties"]["quartier"]["oneOf"][1]["const"] = json!("a")),
            "/properties/quartier/oneOf/1/const",
            "duplicate_choice",
        ),
        (
            "a likert choice that is a string",
            with(|d| {
                d["properties"]["cadre"]["properties"]["logement"]["oneOf"][0]["const"] = json!("1")
            }),
            "/properties/cadre/properties/logement/oneOf/0/const",
            "choice_type",
        ),
        (
            "a question without title",
            with(|d| {
                d["properties"]["quartier_autre"]
                    .as_object_mut()
                    .unwrap()
                    .remove("title");
            }),
            "/properties/quartier_autre/title",
            "missing_title",
        ),
        (
            "a question without type",
            with(|d| {
                d["properties"]["quartier_autre"]
                    .as_object_mut()
                    .unwrap()
                    .remove("type");
            }),
            "/properties/quartier_autre/type",
            "missing_type",
        ),
        (
            "a multiple choice without uniqueItems",
            with(|d| {
                d["properties"]["priorites"]
                    .as_object_mut()
                    .unwrap()
                    .remove("uniqueItems");
            }),
            "/properties/priorites/uniqueItems",
            "unique_items",
        ),
        (
            "a multiple choice with uniqueItems false",
            with(|d| d["properties"]["priorites"]["uniqueItems"] = json!(false)),
            "/properties/priorites/uniqueItems",
            "unique_items",
        ),
        (
            "a repeat without items",
            with(|d| {
                d["properties"]["formations"]
                    .as_object_mut()
                    .unwrap()
                    .remove("items");
            }),
            "/properties/formations/items",
            "repeat_item",
        ),
        (
            "an object that is neither section nor geopoint",
            with(|d| {
                d["properties"]["cadre"]
                    .as_object_mut()
                    .unwrap()
                    .remove("x-widget");
            }),
            "/properties/cadre/x-widget",
            "widget_type",
        ),
        (
            "x-personal-data not a boolean",
            with(|d| d["properties"]["quartier_autre"]["x-personal-data"] = json!("oui")),
            "/properties/quartier_autre/x-personal-data",
            "personal_data",
        ),
        (
            "a pattern that is not a regular expression",
            with(|d| d["properties"]["quartier_autre"]["pattern"] = json!("^(a")),
            "/properties/quartier_autre/pattern",
            "invalid_schema",
        ),
    ];
    let mut failures = Vec::new();
    for (name, document, path, code) in table {
        match Questionnaire::parse(&document) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(errors) => {
                if !has(&errors, path, code) {
                    failures.push(format!(
                        "{name}: expected {code} at {path}, got {errors:#?}"
                    ));
                }
                for e in &errors {
                    if e.message.fr.is_empty() || e.message.en.is_empty() {
                        failures.push(format!("{name}: empty message in {e:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_presentation_hints_are_accepted_and_checked() {
    let hinted = with(|d| {
        d["x-layout"] = json!("sections");
        d["properties"]["quartier_autre"]["x-error-message"] = json!("Donnez le nom du quartier.");
        d["properties"]["quartier_autre"]["x-i18n"] =
            json!({"en": {"title": "Which one?", "error_message": "Name the neighbourhood."}});
        d["properties"]["position"] = json!({
            "type": "object", "x-widget": "geopoint", "title": "Où ?", "x-accuracy-m": 25,
            "additionalProperties": false,
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            "required": ["lat", "lon"]
        });
    });
    assert!(
        Questionnaire::parse(&hinted).is_ok(),
        "{:?}",
        Questionnaire::parse(&hinted).err()
    );
    for (broken, path) in [
        (with(|d| d["x-layout"] = json!("carousel")), "/x-layout"),
        (
            with(|d| d["properties"]["quartier_autre"]["x-error-message"] = json!(12)),
            "/properties/quartier_autre/x-error-message",
        ),
        (
            with(|d| d["properties"]["quartier"]["x-accuracy-m"] = json!(-5)),
            "/properties/quartier/x-accuracy-m",
        ),
    ] {
        let errors = refusal(&broken);
        assert!(errors.iter().any(|e| e.path == path), "{path}: {errors:#?}");
    }
}

#[test]
fn a_document_with_several_faults_lists_them_all_in_document_order() {
    let document = with(|d| {
        d["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        d["properties"]["quartier"]["x-widget"] = json!("dropdown");
        d["properties"]["priorites"]["uniqueItems"] = json!(false);
        d["properties"]["cadre"]["additionalProperties"] = json!(true);
        d["properties"]["quartier_autre"]["x-visible-if"] = json!({"type": 12});
        d["required"] = json!(["quartier", "intro", "nope"]);
    });
    let errors = refusal(&document);
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("/$schema", "schema_version"),
            ("/properties/quartier/x-widget", "unknown_widget"),
            (
                "/properties/quartier_autre/x-visible-if/type",
                "invalid_visible_if"
            ),
            ("/properties/priorites/uniqueItems", "unique_items"),
            (
                "/properties/cadre/additionalProperties",
                "additional_properties"
            ),
            ("/required/1", "required_note"),
            ("/required/2", "required_unknown"),
        ],
        "{errors:#?}"
    );
}

#[test]
fn a_format_error_names_the_question_in_french_and_english() {
    let errors = refusal(&with(|d| {
        d["properties"]["quartier"]["x-widget"] = json!("dropdown")
    }));
    let e = &errors[0];
    assert!(
        e.message.fr.contains("« quartier »") && e.message.fr.contains("dropdown"),
        "{e:?}"
    );
    assert!(
        e.message.en.contains("“quartier”") && e.message.en.contains("dropdown"),
        "{e:?}"
    );
}

#[test]
fn the_meta_schema_is_itself_a_valid_json_schema() {
    let meta: Value = serde_json::from_str(include_str!(
        "../../schemas/questionnaire-format.schema.json"
    ))
    .unwrap();
    assert!(jsonschema::meta::is_valid(&meta));
    assert!(jsonschema::is_valid(&meta, &base()));
}
