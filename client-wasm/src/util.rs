//! Pure helpers of the browser side, kept out of the `wasm32`-only modules so that they are
//! compiled and tested natively too.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The prefix of a photo reference (`sha256:<64 lowercase hex>`).
pub const PHOTO_REF_PREFIX: &str = "sha256:";

/// The largest photo the server takes (`PUT /api/v1/attachments/…`), in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// The reference of a photo: `sha256:` and the SHA-256 of its bytes in lowercase hex.
pub fn photo_ref(bytes: &[u8]) -> String {
    format!(
        "{PHOTO_REF_PREFIX}{}",
        parole_client::response::hex(&Sha256::digest(bytes))
    )
}

/// True for a well-formed photo reference, as the questionnaire format's `pattern` says
/// (`^sha256:[0-9a-f]{64}$`).
pub fn is_photo_ref(s: &str) -> bool {
    s.strip_prefix(PHOTO_REF_PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Every photo reference found in `value` (strings anywhere in the answers, repeats
/// included), added to `out`.
pub fn collect_photo_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if is_photo_ref(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| collect_photo_refs(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_photo_refs(v, out)),
        _ => {}
    }
}

/// At most 300 characters of a body, trimmed, for an error message (as the native transport).
pub fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Splits a bilingual message `"français / English"` at its last ` / `; a message with no
/// separator is the same in both languages.
pub fn split_bilingual(s: &str) -> (String, String) {
    match s.rsplit_once(" / ") {
        Some((fr, en)) => (fr.trim().to_string(), en.trim().to_string()),
        None => (s.to_string(), s.to_string()),
    }
}

/// `at` as RFC 3339 in the device's local offset (`offset_minutes_east` from UTC, as the
/// interviewer's clock shows it), to the second: `2025-03-14T18:30:00+01:00`.
pub fn rfc3339_local(at: DateTime<Utc>, offset_minutes_east: i32) -> String {
    match FixedOffset::east_opt(offset_minutes_east * 60) {
        Some(offset) => at
            .with_timezone(&offset)
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        None => at.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// Standard base64 (RFC 4648, with padding), for the photos of a backup file.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn a_photo_ref_is_the_sha256_of_its_bytes() {
        let r = photo_ref(b"");
        assert_eq!(
            r,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_photo_ref(&r));
        assert!(!is_photo_ref("sha256:E3B0"));
        assert!(!is_photo_ref(&r.to_uppercase()));
        assert!(!is_photo_ref(&format!("{r}0")));
    }

    #[test]
    fn photo_refs_are_found_at_every_depth_and_only_there() {
        let a = photo_ref(b"a");
        let b = photo_ref(b"b");
        let answers = json!({
            "photo": a,
            "note": "sha256:pas une photo",
            "repetition": [{"photo": b}, {"photo": a}],
            "section": {"n": 3}
        });
        let mut refs = BTreeSet::new();
        collect_photo_refs(&answers, &mut refs);
        assert_eq!(refs, BTreeSet::from([a, b]));
    }

    #[test]
    fn bilingual_messages_split_at_the_last_separator() {
        assert_eq!(
            split_bilingual("code inconnu : demandez-en un / unknown code"),
            (
                "code inconnu : demandez-en un".into(),
                "unknown code".into()
            )
        );
        assert_eq!(
            split_bilingual("sans traduction"),
            ("sans traduction".into(), "sans traduction".into())
        );
    }

    #[test]
    fn local_timestamps_carry_the_device_offset() {
        let at = DateTime::parse_from_rfc3339("2025-03-14T17:30:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339_local(at, 60), "2025-03-14T18:30:00+01:00");
        assert_eq!(rfc3339_local(at, 0), "2025-03-14T17:30:00+00:00");
        assert_eq!(rfc3339_local(at, -300), "2025-03-14T12:30:00-05:00");
    }

    #[test]
    fn snippets_are_trimmed_and_cut() {
        assert_eq!(snippet(b"  <html>  "), "<html>");
        let long = "é".repeat(400);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), 301);
        assert!(s.ends_with('…'));
    }
}
