//! The sync request decoder: any body gets either one result per item or a refusal the
//! client is told about (400, 413, 422), never a panic or a server error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parole_server::sync::{check_offline, PushError};

mod examples;

fuzz_target!(|body: &[u8]| {
    let sender = uuid::Uuid::from_u128(7);
    match check_offline(body, sender, examples::parsed()) {
        Ok(results) => {
            // One result per item, in order: as many as the body's array holds.
            let items = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("responses")?.as_array().map(Vec::len));
            if let Some(n) = items {
                assert_eq!(results.len(), n);
            }
        }
        Err(PushError::Malformed(_) | PushError::Invalid(_) | PushError::TooManyResponses) => {}
        Err(e @ (PushError::Db(_) | PushError::Internal(_))) => {
            panic!("a body became a server error: {e:?}")
        }
    }
});
