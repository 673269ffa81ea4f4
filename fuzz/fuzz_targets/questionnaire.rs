//! The questionnaire parser: any JSON document is a questionnaire or a list of errors by
//! path, never a panic; one that parses validates an empty response without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parole_client::Questionnaire;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match Questionnaire::parse(&document) {
        Ok(q) => {
            let _ = q.validate(&serde_json::json!({}));
        }
        Err(errors) => assert!(!errors.is_empty(), "a refusal names what is wrong"),
    }
});
