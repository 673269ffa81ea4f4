//! What changed between two versions of a questionnaire, and the version-compatibility check:
//! the example questionnaires (`schemas/examples/`), mutated.

use std::path::Path;

use parole_client::changes::{changes, changes_since, Change, ChangeKind, Changes};
use parole_client::Questionnaire;
use serde_json::{json, Value};

use ChangeKind::*;

fn example(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/examples")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn besoins() -> Value {
    example("besoins-formation")
}

fn habitants() -> Value {
    example("parole-habitants")
}

fn parse(document: &Value) -> Questionnaire {
    Questionnaire::parse(document).unwrap_or_else(|e| panic!("{e:?}"))
}

fn diff(old: &Value, new: &Value) -> Changes {
    changes(&parse(old), &parse(new))
}

/// `old` changed by `edit`.
fn edited(old: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut new = old.clone();
    edit(&mut new);
    new
}

/// (kind, key) of each change.
fn listed(changes: &[Change]) -> Vec<(ChangeKind, &str)> {
    changes.iter().map(|c| (c.kind, c.key.as_str())).collect()
}

fn remove_required(container: &mut Value, key: &str) {
    container["required"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k != key);
}

#[test]
fn the_same_document_has_no_changes() {
    for doc in [besoins(), habitants(), example("tous-les-types")] {
        assert!(diff(&doc, &doc).is_empty());
    }
}

#[test]
fn an_added_question_is_listed_with_its_label_key_and_kind_in_both_languages() {
    let old = besoins();
    let new = edited(&old, |d| {
        d["properties"]["age"] = json!({"type": "integer", "title": "Âge", "minimum": 0});
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(QuestionAdded, "age")]);
    assert!(c.breaking.is_empty());
    let added = &c.changes[0];
    assert_eq!(added.path, "/properties/age");
    assert_eq!(
        added.message.fr,
        "Question ajoutée : « Âge » (age, nombre entier)"
    );
    assert_eq!(
        added.message.en,
        "Question added: “Âge” (age, whole number)"
    );
}

#[test]
fn a_question_added_inside_a_section_or_a_repeat_is_located_there() {
    let old = habitants();
    let new = edited(&old, |d| {
        d["properties"]["cadre_de_vie"]["properties"]["bruit"] =
            json!({"type": "string", "title": "Le bruit"});
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(QuestionAdded, "cadre_de_vie.bruit")]);
    assert_eq!(
        c.changes[0].path,
        "/properties/cadre_de_vie/properties/bruit"
    );

    let old = besoins();
    let new = edited(&old, |d| {
        d["properties"]["formations_suivies"]["items"]["properties"]["duree"] =
            json!({"type": "number", "title": "Durée (heures)"});
    });
    let c = diff(&old, &new);
    assert_eq!(
        listed(&c.changes),
        [(QuestionAdded, "formations_suivies.duree")]
    );
    assert_eq!(
        c.changes[0].path,
        "/properties/formations_suivies/items/properties/duree"
    );
}

#[test]
fn a_removed_question_is_listed_at_its_old_place_and_is_not_breaking() {
    let old = habitants();
    let new = edited(&old, |d| {
        let section = &mut d["properties"]["cadre_de_vie"];
        section["properties"]
            .as_object_mut()
            .unwrap()
            .shift_remove("securite");
        remove_required(section, "securite");
    });
    let c = diff(&old, &new);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
    assert_eq!(
        listed(&c.changes),
        [(QuestionRemoved, "cadre_de_vie.securite")]
    );
    assert_eq!(
        c.changes[0].path,
        "/properties/cadre_de_vie/properties/securite"
    );
    assert!(
        c.changes[0].message.fr.starts_with("Question retirée : « "),
        "{:?}",
        c.changes[0].message
    );
}

#[test]
fn a_new_title_help_or_translation_is_a_relabelling_and_a_choice_translation_is_the_choices() {
    let old = habitants();
    let new = edited(&old, |d| {
        d["properties"]["genre"]["title"] = json!("Votre genre");
        d["properties"]["commentaire"]["x-i18n"]["en"]["title"] = json!("Anything else?");
        d["properties"]["recontact"]["description"] =
            json!("Nous ne vous appellerons qu'une fois.");
    });
    let c = diff(&old, &new);
    assert_eq!(
        listed(&c.changes),
        [
            (QuestionRelabelled, "genre"),
            (QuestionRelabelled, "commentaire"),
            (QuestionRelabelled, "recontact"),
        ]
    );
    assert!(
        c.changes[0].message.fr.contains("devient « Votre genre »"),
        "{:?}",
        c.changes[0].message
    );

    // A choice's translation is the choice's own change, not the question's.
    let quartier = &old["properties"]["quartier"];
    let value = quartier["oneOf"][0]["const"].as_str().unwrap().to_string();
    let new = edited(&old, |d| {
        d["properties"]["quartier"]["x-i18n"]["en"]["choices"][&value] = json!("Somewhere");
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(ChoiceRelabelled, "quartier")]);
}

#[test]
fn choices_added_removed_and_relabelled_are_listed_one_by_one_and_are_not_breaking() {
    let old = besoins();
    let new = edited(&old, |d| {
        let p = &mut d["properties"];
        // A select: one choice more, one fewer.
        let conseil = p["conseil"]["oneOf"].as_array_mut().unwrap();
        conseil.retain(|c| c["const"] != "malakoff");
        conseil.push(json!({"const": "clos_toreau", "title": "Clos Toreau"}));
        // A multiple choice (`items.oneOf`): one relabelled.
        p["themes"]["items"]["oneOf"][0]["title"] = json!("Le nouveau contrat de ville");
        // A scale inside a repeat.
        p["formations_suivies"]["items"]["properties"]["utilite"]["oneOf"]
            .as_array_mut()
            .unwrap()
            .push(json!({"const": 5, "title": "Indispensable"}));
    });
    let c = diff(&old, &new);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
    assert_eq!(
        listed(&c.changes),
        [
            (ChoiceAdded, "conseil"),
            (ChoiceRemoved, "conseil"),
            (ChoiceAdded, "formations_suivies.utilite"),
            (ChoiceRelabelled, "themes"),
        ]
    );
    let removed = &c.changes[1].message;
    assert!(
        removed.fr.contains("« Malakoff » (malakoff)"),
        "{removed:?}"
    );
    assert!(removed.en.contains("no longer be offered"), "{removed:?}");
    assert!(
        c.changes[2].message.fr.contains("(5)"),
        "{:?}",
        c.changes[2]
    );
    assert_eq!(
        c.changes[2].path,
        "/properties/formations_suivies/items/properties/utilite"
    );
}

#[test]
fn required_limits_rules_and_personal_data_are_each_their_own_change() {
    let old = habitants();
    let new = edited(&old, |d| {
        remove_required(d, "quartier");
        d["properties"]["commentaire"]["maxLength"] = json!(3000);
        d["properties"]["priorites"]["maxItems"] = json!(2);
        d["properties"]["position"]["x-accuracy-m"] = json!(10);
        d["properties"]["frein_participation"]
            .as_object_mut()
            .unwrap()
            .remove("x-visible-if");
        d["properties"]["prenom"]["x-personal-data"] = json!(false);
        d["allOf"][0]["description"] = json!("Un moyen de vous recontacter");
    });
    let c = diff(&old, &new);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
    assert_eq!(
        listed(&c.changes),
        [
            (RequiredChanged, "quartier"),
            (LimitsChanged, "priorites"),
            (RuleChanged, "frein_participation"),
            (LimitsChanged, "commentaire"),
            (LimitsChanged, "position"),
            (PersonalDataChanged, "prenom"),
            (RuleChanged, ""),
        ]
    );
    assert!(c.changes[0].message.fr.contains("n'est plus obligatoire"));
    assert!(c.changes[1].message.en.ends_with(": maxItems"));
    assert!(c.changes[2].message.fr.contains("toujours posée"));
    assert!(c.changes[4].message.en.ends_with(": x-accuracy-m"));
    assert_eq!(c.changes[6].path, "/allOf");
}

#[test]
fn limits_inside_a_repeat_and_on_a_repeat_name_what_changed() {
    let old = besoins();
    let new = edited(&old, |d| {
        let repeat = &mut d["properties"]["formations_suivies"];
        repeat["maxItems"] = json!(10);
        repeat["items"]["properties"]["intitule"]["maxLength"] = json!(100);
        remove_required(&mut repeat["items"], "intitule");
        repeat["items"]["properties"]["pourquoi_pas"]["x-visible-if"]["properties"]
            ["a_recommander"]["const"] = json!(true);
        d["properties"]["themes"]["items"]["maxLength"] = json!(40);
    });
    let c = diff(&old, &new);
    assert_eq!(
        listed(&c.changes),
        [
            (LimitsChanged, "formations_suivies"),
            (RequiredChanged, "formations_suivies.intitule"),
            (LimitsChanged, "formations_suivies.intitule"),
            (RuleChanged, "formations_suivies.pourquoi_pas"),
            (LimitsChanged, "themes"),
        ]
    );
    assert!(c.changes[0].message.fr.ends_with(": maxItems"));
    assert!(c.changes[4].message.fr.ends_with(": items.maxLength"));
}

#[test]
fn a_moved_question_is_the_one_listed_not_every_question_it_passed() {
    let old = besoins();
    let new = edited(&old, |d| {
        let props = d["properties"].as_object_mut().unwrap();
        let conseil = props.shift_remove("conseil").unwrap();
        props.insert("conseil".into(), conseil);
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(QuestionMoved, "conseil")]);
}

#[test]
fn the_questionnaires_own_title_languages_and_translations_are_title_changes() {
    let old = habitants();
    let new = edited(&old, |d| {
        d["title"] = json!("Parole d'habitants 2027");
        d["x-i18n"]["en"]["title"] = json!("Residents' voices 2027");
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(TitleChanged, ""), (TitleChanged, "")]);
    assert_eq!(c.changes[0].path, "/title");
    assert!(c.changes[0]
        .message
        .fr
        .ends_with("devient « Parole d'habitants 2027 »"));
    assert_eq!(c.changes[1].path, "/x-i18n");

    let old = besoins();
    let new = edited(&old, |d| {
        d["x-languages"] = json!(["fr", "en"]);
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.changes), [(TitleChanged, "")]);
    assert_eq!(
        c.changes[0].message.en,
        "Questionnaire languages: fr, en (before: fr)"
    );
}

#[test]
fn a_question_whose_answers_change_shape_is_breaking_with_the_reason_and_the_way_out() {
    let old = besoins();
    let new = edited(&old, |d| {
        d["properties"]["annee_entree"] = json!({"type": "string", "title": "Année d'entrée"});
    });
    let c = diff(&old, &new);
    // The relabelling and the dropped limits are moot: only the type change is listed.
    assert!(c.changes.is_empty(), "{:?}", c.changes);
    assert_eq!(listed(&c.breaking), [(TypeChanged, "annee_entree")]);
    let b = &c.breaking[0];
    assert_eq!(b.path, "/properties/annee_entree");
    assert_eq!(
        b.message.fr,
        "La question « Année d'entrée » (annee_entree) passe de nombre entier à texte court : \
         les réponses déjà reçues ne pourraient plus être lues avec elle. Gardez-la telle \
         quelle et ajoutez une nouvelle question (avec une autre clé), ou retirez l'ancienne."
    );
    assert!(b
        .message
        .en
        .contains("changes from whole number to short text"));
    assert!(b
        .message
        .en
        .contains("add a new question (with another key)"));
}

#[test]
fn single_to_multiple_choice_section_to_repeat_and_a_change_inside_a_repeat_are_breaking() {
    let old = besoins();
    let new = edited(&old, |d| {
        let p = &mut d["properties"];
        let choices = p["format_prefere"]["oneOf"].clone();
        p["format_prefere"] = json!({
            "type": "array", "title": "Quels formats préférez-vous ?", "uniqueItems": true,
            "items": {"oneOf": choices}
        });
        p["formations_suivies"]["items"]["properties"]["date"] =
            json!({"type": "integer", "title": "Année"});
    });
    let c = diff(&old, &new);
    assert_eq!(
        listed(&c.breaking),
        [
            (TypeChanged, "formations_suivies.date"),
            (TypeChanged, "format_prefere"),
        ]
    );
    assert_eq!(
        c.breaking[0].path,
        "/properties/formations_suivies/items/properties/date"
    );
    assert!(c.breaking[1]
        .message
        .fr
        .contains("passe de choix unique à choix multiple"));

    let old = habitants();
    let new = edited(&old, |d| {
        let section = d["properties"]["cadre_de_vie"].clone();
        d["properties"]["cadre_de_vie"] = json!({
            "type": "array", "x-widget": "repeat", "title": section["title"],
            "items": {"type": "object", "additionalProperties": false,
                      "properties": section["properties"], "required": section["required"]}
        });
    });
    let c = diff(&old, &new);
    assert_eq!(listed(&c.breaking), [(TypeChanged, "cadre_de_vie")]);
    assert!(c.breaking[0]
        .message
        .en
        .contains("from section to repeated group"));
}

#[test]
fn changes_that_keep_the_answers_shape_and_meaning_are_not_breaking() {
    let old = besoins();
    let new = edited(&old, |d| {
        let p = &mut d["properties"];
        // Long text to short text, a whole number to a number.
        p["remarques"].as_object_mut().unwrap().remove("x-widget");
        p["annee_entree"]["type"] = json!("number");
    });
    let c = diff(&old, &new);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
    assert_eq!(
        listed(&c.changes),
        [(TypeChanged, "annee_entree"), (TypeChanged, "remarques")]
    );
    assert!(c.changes[0].message.fr.contains("restent lisibles"));

    // A note becomes a question, a question becomes a note: no answer was at stake.
    let old = habitants();
    let new = edited(&old, |d| {
        d["properties"]["intro"] = json!({"type": "boolean", "title": "Consentez-vous ?"});
        d["properties"]["commentaire"] =
            json!({"type": "null", "x-widget": "note", "title": "Merci !"});
    });
    let c = diff(&old, &new);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
}

#[test]
fn a_number_becoming_a_whole_number_is_breaking() {
    let old = besoins();
    let new = edited(&old, |d| {
        d["properties"]["heures_par_mois"]["type"] = json!("integer");
    });
    assert_eq!(
        listed(&diff(&old, &new).breaking),
        [(TypeChanged, "heures_par_mois")]
    );
}

/// `besoins-formation` without `annee_entree`.
fn without_annee(d: &Value) -> Value {
    edited(d, |d| {
        d["properties"]
            .as_object_mut()
            .unwrap()
            .shift_remove("annee_entree");
    })
}

#[test]
fn a_key_reused_with_another_shape_is_breaking_against_the_version_that_had_it() {
    let v1 = besoins();
    let v2 = without_annee(&v1);
    let draft = edited(&v2, |d| {
        d["properties"]["annee_entree"] = json!({"type": "string", "title": "Depuis quand ?"});
    });
    let (v1, v2, draft) = (parse(&v1), parse(&v2), parse(&draft));
    // Against the latest version alone, it is a new question…
    assert!(changes(&v2, &draft).breaking.is_empty());
    // …but version 1's answers under that key are whole numbers.
    let c = changes_since(&[(1, &v1), (2, &v2)], &draft);
    assert_eq!(listed(&c.changes), [(QuestionAdded, "annee_entree")]);
    assert_eq!(listed(&c.breaking), [(TypeChanged, "annee_entree")]);
    let m = &c.breaking[0].message;
    assert!(m.fr.contains("dans la version 1"), "{m:?}");
    assert!(m.fr.contains("Donnez-lui une autre clé"), "{m:?}");
    assert!(m.en.contains("of type whole number in version 1"), "{m:?}");

    // Re-added with its old shape, it is only an addition.
    let again = parse(&besoins());
    assert!(changes_since(&[(1, &v1), (2, &v2)], &again)
        .breaking
        .is_empty());
}

#[test]
fn a_key_kept_as_a_note_in_between_is_still_checked_against_the_version_that_had_answers() {
    let v1 = besoins();
    let v2 = edited(&v1, |d| {
        d["properties"]["annee_entree"] =
            json!({"type": "null", "x-widget": "note", "title": "Merci"});
    });
    let draft = edited(&v1, |d| {
        d["properties"]["annee_entree"] = json!({"type": "boolean", "title": "Ancien·ne ?"});
    });
    let (v1, v2, draft) = (parse(&v1), parse(&v2), parse(&draft));
    let c = changes_since(&[(1, &v1), (2, &v2)], &draft);
    assert_eq!(listed(&c.breaking), [(TypeChanged, "annee_entree")]);
}

#[test]
fn an_inconsistency_already_published_does_not_block_the_next_version() {
    // Versions 1 and 2 disagree (published before the check existed); a draft that keeps
    // version 2's type is judged against version 2 only.
    let v1 = besoins();
    let v2 = edited(&v1, |d| {
        d["properties"]["annee_entree"] = json!({"type": "string", "title": "Année"});
    });
    let draft = edited(&v2, |d| d["title"] = json!("Troisième vague"));
    let (v1, v2, draft) = (parse(&v1), parse(&v2), parse(&draft));
    let c = changes_since(&[(1, &v1), (2, &v2)], &draft);
    assert!(c.breaking.is_empty(), "{:?}", c.breaking);
    assert_eq!(listed(&c.changes), [(TitleChanged, "")]);
}

#[test]
fn nothing_published_means_no_changes() {
    assert!(changes_since(&[], &parse(&besoins())).is_empty());
}

#[test]
fn a_change_travels_as_kind_path_key_and_both_messages() {
    let old = besoins();
    let new = without_annee(&old);
    let c = diff(&old, &new);
    let v = serde_json::to_value(&c.changes[0]).unwrap();
    assert_eq!(v["kind"], "question_removed");
    assert_eq!(v["path"], "/properties/annee_entree");
    assert_eq!(v["key"], "annee_entree");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("Question retirée"));
    assert!(v["message_en"]
        .as_str()
        .unwrap()
        .starts_with("Question removed"));
    let back: Change = serde_json::from_value(v).unwrap();
    assert_eq!(back, c.changes[0]);
}
