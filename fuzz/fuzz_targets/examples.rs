//! The project's example questionnaires, parsed once, shared by the targets.

use std::sync::{Arc, OnceLock};

use parole_client::Questionnaire;

pub const EXAMPLES: [(&str, &str); 3] = [
    (
        "besoins-formation",
        include_str!("../../schemas/examples/besoins-formation.json"),
    ),
    (
        "parole-habitants",
        include_str!("../../schemas/examples/parole-habitants.json"),
    ),
    (
        "tous-les-types",
        include_str!("../../schemas/examples/tous-les-types.json"),
    ),
];

/// Each example as `(slug, version 1, parsed)`.
pub fn parsed() -> &'static [(&'static str, i32, Arc<Questionnaire>)] {
    static PARSED: OnceLock<Vec<(&str, i32, Arc<Questionnaire>)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        EXAMPLES
            .iter()
            .map(|(slug, text)| {
                let document = serde_json::from_str(text).expect("an example is JSON");
                let q = Questionnaire::parse(&document).expect("an example parses");
                (*slug, 1, Arc::new(q))
            })
            .collect()
    })
}
