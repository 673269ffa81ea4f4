//! The answer validator: any answers, against each example questionnaire, get a bounded
//! list of errors, never a panic. libFuzzer's `-timeout` (set by `cargo xtask fuzz`) turns a
//! validation slower than linear into a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parole_client::validate::MAX_ERRORS;

mod examples;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    let Ok(answers) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let questionnaires = examples::parsed();
    let (_, _, q) = &questionnaires[pick as usize % questionnaires.len()];
    let errors = q.validate(&answers);
    assert!(errors.len() <= MAX_ERRORS + 1, "{} errors", errors.len());
});
