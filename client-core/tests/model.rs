//! The questionnaire model: kinds, labels, lookup, export columns and live skip logic.

use std::path::Path;

use parole_client::questionnaire::QuestionKind;
use parole_client::Questionnaire;
use serde_json::{json, Value};

fn example(name: &str) -> Questionnaire {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/examples")
        .join(name);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Questionnaire::parse(&document).unwrap()
}

#[test]
fn questions_keep_the_order_they_are_written_in() {
    let q = example("parole-habitants.json");
    let keys: Vec<&str> = q.questions.iter().map(|q| q.key.as_str()).collect();
    assert_eq!(
        &keys[..4],
        ["intro", "quartier", "quartier_autre", "anciennete"]
    );
    assert_eq!(keys.last(), Some(&"email"));
    assert_eq!(q.languages, ["fr", "en"]);
    assert_eq!(q.title_in("en"), "Residents' voices — your neighbourhood");
}

#[test]
fn each_question_gets_its_kind() {
    let q = example("parole-habitants.json");
    let kind = |p: &str| q.get(p).unwrap_or_else(|| panic!("{p}")).kind;
    assert_eq!(kind("/intro"), QuestionKind::Note);
    assert_eq!(kind("/quartier"), QuestionKind::SingleChoice);
    assert_eq!(kind("/quartier_autre"), QuestionKind::ShortText);
    assert_eq!(kind("/cadre_de_vie"), QuestionKind::Section);
    assert_eq!(kind("/cadre_de_vie/logement"), QuestionKind::Likert);
    assert_eq!(kind("/priorites"), QuestionKind::MultipleChoice);
    assert_eq!(kind("/connait_conseil"), QuestionKind::Boolean);
    assert_eq!(kind("/commentaire"), QuestionKind::LongText);
    assert_eq!(kind("/photo_lieu"), QuestionKind::Photo);
    assert_eq!(kind("/position"), QuestionKind::Geopoint);
    let f = example("besoins-formation.json");
    let kind = |p: &str| f.get(p).unwrap_or_else(|| panic!("{p}")).kind;
    assert_eq!(kind("/annee_entree"), QuestionKind::Integer);
    assert_eq!(kind("/heures_par_mois"), QuestionKind::Number);
    assert_eq!(kind("/prochaine_dispo"), QuestionKind::Date);
    assert_eq!(kind("/formations_suivies"), QuestionKind::Repeat);
    assert_eq!(kind("/formations_suivies/0/date"), QuestionKind::Date);
    assert_eq!(
        kind("/formations_suivies/-/pourquoi_pas"),
        QuestionKind::LongText
    );
}

#[test]
fn a_question_inside_a_repeat_has_a_template_pointer() {
    let f = example("besoins-formation.json");
    let q = f.get("/formations_suivies/3/utilite").unwrap();
    assert_eq!(q.pointer, "/formations_suivies/-/utilite");
    assert!(q.required);
    assert_eq!(q.choices.len(), 4);
    assert!(f.get("/formations_suivies/x/utilite").is_none());
    assert!(f.get("/nope").is_none());
}

#[test]
fn labels_fall_back_to_the_default_language() {
    let q = example("parole-habitants.json");
    let quartier = q.get("/quartier").unwrap();
    assert_eq!(quartier.label("fr"), "Dans quel quartier habitez-vous ?");
    assert_eq!(quartier.label("en"), "Which neighbourhood do you live in?");
    assert_eq!(quartier.label("de"), "Dans quel quartier habitez-vous ?");
    let autre = quartier.choice(&json!("autre")).unwrap();
    assert_eq!(autre.label("en"), "Another neighbourhood");
    assert_eq!(
        quartier.choice(&json!("malakoff")).unwrap().label("en"),
        "Malakoff"
    );
    let logement = q.get("/cadre_de_vie/logement").unwrap();
    assert_eq!(
        logement.choice(&json!(5)).unwrap().label("en"),
        "Very satisfied"
    );
}

#[test]
fn personal_data_and_required_are_read() {
    let q = example("parole-habitants.json");
    assert!(q.get("/prenom").unwrap().personal_data);
    assert!(!q.get("/quartier").unwrap().personal_data);
    assert!(q.get("/prenom").unwrap().required);
    assert!(!q.get("/telephone").unwrap().required);
    assert!(q.get("/cadre_de_vie/securite").unwrap().required);
    assert!(!q.get("/cadre_de_vie/espaces_verts").unwrap().required);
}

#[test]
fn columns_flatten_sections_keep_a_repeat_whole_and_leave_notes_out() {
    let q = example("parole-habitants.json");
    let names: Vec<String> = q.columns().into_iter().map(|c| c.name).collect();
    assert_eq!(names[0], "quartier");
    assert!(!names.contains(&"intro".to_string()));
    assert!(!names.contains(&"cadre_de_vie".to_string()));
    let i = names
        .iter()
        .position(|n| n == "cadre_de_vie.logement")
        .unwrap();
    assert_eq!(
        &names[i..i + 6],
        [
            "cadre_de_vie.logement",
            "cadre_de_vie.transports",
            "cadre_de_vie.commerces",
            "cadre_de_vie.securite",
            "cadre_de_vie.espaces_verts",
            "cadre_de_vie.services_publics"
        ]
    );
    assert_eq!(names[i - 1], "genre");
    assert_eq!(names.len(), 5 + 6 + 12);
    let columns = q.columns();
    let email = columns.iter().find(|c| c.name == "email").unwrap();
    assert!(email.personal_data);
    assert_eq!(email.pointer, "/email");
    let logement = columns
        .iter()
        .find(|c| c.name == "cadre_de_vie.logement")
        .unwrap();
    assert_eq!(logement.pointer, "/cadre_de_vie/logement");
    assert_eq!(logement.kind, QuestionKind::Likert);

    let f = example("besoins-formation.json");
    let names: Vec<String> = f.columns().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "conseil",
            "role",
            "annee_entree",
            "formations_suivies",
            "themes",
            "format_prefere",
            "heures_par_mois",
            "prochaine_dispo",
            "besoin_garde",
            "remarques"
        ]
    );
    assert_eq!(f.columns()[3].kind, QuestionKind::Repeat);
}

#[test]
fn visible_follows_the_answers() {
    let q = example("parole-habitants.json");
    let shown = q.visible(&json!({}));
    assert!(shown.contains(&"/quartier".to_string()));
    assert!(shown.contains(&"/intro".to_string()));
    assert!(shown.contains(&"/cadre_de_vie/logement".to_string()));
    assert!(!shown.contains(&"/quartier_autre".to_string()));
    assert!(!shown.contains(&"/prenom".to_string()));

    let shown =
        q.visible(&json!({"quartier": "autre", "recontact": true, "souhaite_participer": "non"}));
    for p in [
        "/quartier_autre",
        "/prenom",
        "/telephone",
        "/email",
        "/frein_participation",
    ] {
        assert!(
            shown.contains(&p.to_string()),
            "{p} should be shown: {shown:?}"
        );
    }
    assert!(!shown.contains(&"/disponibilites".to_string()));
}

#[test]
fn visible_inside_a_repeat_is_per_item() {
    let f = example("besoins-formation.json");
    let shown = f.visible(&json!({
        "formations_suivies": [
            {"intitule": "A", "a_recommander": true},
            {"intitule": "B", "a_recommander": false}
        ]
    }));
    assert!(shown.contains(&"/formations_suivies".to_string()));
    assert!(shown.contains(&"/formations_suivies/0/intitule".to_string()));
    assert!(!shown.contains(&"/formations_suivies/0/pourquoi_pas".to_string()));
    assert!(shown.contains(&"/formations_suivies/1/pourquoi_pas".to_string()));
    let i = shown
        .iter()
        .position(|p| p == "/formations_suivies/1/intitule")
        .unwrap();
    assert!(
        shown
            .iter()
            .position(|p| p == "/formations_suivies/0/date")
            .unwrap()
            < i
    );
}

#[test]
fn a_hidden_answer_is_refused() {
    let q = example("parole-habitants.json");
    let errors = q.validate(&json!({"quartier": "bellevue", "quartier_autre": "x"}));
    let e = errors.iter().find(|e| e.code == "hidden").unwrap();
    assert_eq!(e.path, "/quartier_autre");
    assert!(e.message.fr.contains("« Lequel ? »"), "{}", e.message.fr);
    assert!(e.message.en.contains("“Which one?”"), "{}", e.message.en);
}

#[test]
fn a_missing_answer_names_the_question_by_its_title() {
    let q = example("parole-habitants.json");
    let errors = q.validate(&json!({"quartier": "autre"}));
    let e = errors.iter().find(|e| e.path == "/quartier_autre").unwrap();
    assert_eq!(e.code, "required");
    assert_eq!(e.message.fr, "La réponse à « Lequel ? » est obligatoire.");
    assert_eq!(e.message.en, "The answer to “Which one?” is required.");
}

#[test]
fn an_answer_to_a_note_is_refused_even_when_null() {
    let q = example("parole-habitants.json");
    let errors = q.validate(&json!({"intro": null}));
    assert!(
        errors
            .iter()
            .any(|e| e.path == "/intro" && e.code == "note"),
        "{errors:#?}"
    );
}

#[test]
fn answers_that_are_not_an_object_give_one_error() {
    let q = example("parole-habitants.json");
    let errors = q.validate(&json!([1]));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "");
    assert_eq!(errors[0].code, "not_an_object");
}

#[test]
fn errors_come_in_document_order() {
    let q = example("parole-habitants.json");
    let errors = q.validate(&json!({
        "zzz": 1,
        "recontact": "oui",
        "cadre_de_vie": {"bruit": 2},
        "quartier": 3
    }));
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    let pos = |p: &str| {
        paths
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("{p}: {paths:?}"))
    };
    assert!(pos("/quartier") < pos("/anciennete"));
    assert!(pos("/anciennete") < pos("/cadre_de_vie/logement"));
    assert!(pos("/cadre_de_vie/logement") < pos("/cadre_de_vie/bruit"));
    assert!(pos("/cadre_de_vie/bruit") < pos("/recontact"));
    assert!(pos("/recontact") < pos("/zzz"));
    assert_eq!(
        errors,
        q.validate(
            &json!({"zzz": 1, "recontact": "oui", "cadre_de_vie": {"bruit": 2}, "quartier": 3})
        )
    );
}

#[test]
fn a_repeat_item_error_names_its_item() {
    let f = example("besoins-formation.json");
    let errors = f.validate(&json!({
        "conseil": "bellevue", "role": "habitant", "themes": ["budget"], "format_prefere": "atelier",
        "formations_suivies": [{"intitule": "A", "utilite": 2, "a_recommander": false}]
    }));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, "/formations_suivies/0/pourquoi_pas");
    assert_eq!(errors[0].code, "required");
    assert!(
        errors[0]
            .message
            .fr
            .contains("élément n° 1 de « Formations déjà suivies »"),
        "{}",
        errors[0].message.fr
    );
}

#[test]
fn formats_are_asserted() {
    let f = example("besoins-formation.json");
    let base = json!({"conseil": "bellevue", "role": "habitant", "themes": ["budget"], "format_prefere": "atelier"});
    assert!(f.validate(&base).is_empty());
    let mut bad = base.clone();
    bad["prochaine_dispo"] = json!("2025-02-30");
    let errors = f.validate(&bad);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].path.as_str(), errors[0].code.as_str()),
        ("/prochaine_dispo", "format")
    );
}

#[test]
fn the_model_serializes_for_the_phone() {
    let q = example("parole-habitants.json");
    let v = serde_json::to_value(&q).unwrap();
    assert_eq!(v["questions"][1]["key"], "quartier");
    assert_eq!(v["questions"][1]["kind"], "single_choice");
    assert_eq!(
        v["questions"][1]["choices"][11]["i18n"]["en"],
        "Another neighbourhood"
    );
    assert_eq!(
        v["questions"][6]["children"][0]["pointer"],
        "/cadre_de_vie/logement"
    );
    assert!(v.get("document").is_none());
}
