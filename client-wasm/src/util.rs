//! Pure helpers of the browser side, kept out of the `wasm32`-only modules so that they are
//! compiled and tested natively too.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// The largest photo the server takes (`PUT /api/v1/attachments/…`), in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

pub use parole_client::backup::{is_photo_ref, photo_ref, photo_refs as collect_photo_refs};

/// At most 300 characters of a body, trimmed, for an error message (as the native transport).
pub fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
