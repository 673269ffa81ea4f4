//! How validation time grows with the answers: `cargo bench --bench validate` prints the
//! time to refuse a multiple-choice answer of N unknown items, and to accept a response
//! with a repeat of N valid items, for growing N. Linear means the time per item stays flat.

use std::time::Instant;

use parole_client::Questionnaire;
use serde_json::{json, Value};

fn main() {
    let doc: Value = serde_json::from_str(include_str!(
        "../../schemas/examples/besoins-formation.json"
    ))
    .expect("the example parses");
    let mut doc_unbounded = doc.clone();
    // The repeat without its maximum, to time valid items at any count.
    doc_unbounded["properties"]["formations_suivies"]
        .as_object_mut()
        .expect("a repeat")
        .remove("maxItems");
    let q = Questionnaire::parse(&doc).expect("valid");
    let unbounded = Questionnaire::parse(&doc_unbounded).expect("valid");
    let base = json!({"conseil": "dervallieres", "role": "habitant", "themes": ["budget"], "format_prefere": "atelier"});
    println!(
        "{:>9}  {:>14}  {:>12}  {:>14}  {:>12}",
        "items", "refuse (ms)", "µs/item", "accept (ms)", "µs/item"
    );
    for n in [1_000usize, 16_000, 128_000, 1_000_000] {
        let mut bad = base.clone();
        bad["themes"] = Value::Array((0..n).map(|i| json!(format!("x{i}"))).collect());
        let t = Instant::now();
        let errors = q.validate(&bad);
        let refuse = t.elapsed();
        assert!(!errors.is_empty());
        let mut good = base.clone();
        let item = json!({"intitule": "Animer une réunion", "utilite": 3, "a_recommander": true});
        good["formations_suivies"] = Value::Array(vec![item; n]);
        let t = Instant::now();
        let errors = unbounded.validate(&good);
        let accept = t.elapsed();
        assert!(errors.is_empty(), "{errors:?}");
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{n:>9}  {:>14.1}  {:>12.3}  {:>14.1}  {:>12.3}",
            refuse.as_secs_f64() * 1e3,
            per(refuse),
            accept.as_secs_f64() * 1e3,
            per(accept)
        );
    }
}
