//! A response: one interview, identified by a UUID v7 made on the device when the interview
//! starts, so that every retry of its upload is recognisable.
//!
//! # Content hash
//!
//! The content hash is the SHA-256, in lowercase hex, of the **canonical JSON encoding** of
//! the object
//! `{"answers", "completed_at", "device_id", "id", "location"?, "questionnaire",
//! "started_at", "version"}`:
//!
//! - object keys sorted by their UTF-8 bytes, at every depth (answers included);
//! - no whitespace between tokens;
//! - strings and numbers exactly as `serde_json` writes them (so `1.50` is written `1.5`,
//!   non-ASCII characters are written as UTF-8, not escaped);
//! - `location` is left out when there is none; `device_id` is `null` when unknown;
//! - timestamps are the RFC 3339 strings as the device wrote them (never re-formatted).
//!
//! The phone (this crate in wasm), the CLI and the server all call [`Response::content_hash`],
//! so they agree by construction.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A response's id: a UUID v7 made when the interview starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResponseId(pub Uuid);

impl ResponseId {
    /// A new id, now (UUID v7: ids sort by creation time).
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for ResponseId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ResponseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the response was completed, from the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// One response, as the device made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: ResponseId,
    /// The questionnaire's slug.
    pub questionnaire: String,
    /// The published version it was filled against.
    pub version: i32,
    pub answers: Value,
    /// RFC 3339, device clock.
    pub started_at: String,
    /// RFC 3339, device clock. Empty while the response is a draft.
    #[serde(default)]
    pub completed_at: String,
    #[serde(default)]
    pub device_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A SHA-256 content hash, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Response {
    /// The canonical JSON encoding the content hash is taken over (see the module docs).
    pub fn canonical_json(&self) -> String {
        let mut fields = serde_json::Map::new();
        fields.insert("answers".into(), self.answers.clone());
        fields.insert(
            "completed_at".into(),
            Value::from(self.completed_at.clone()),
        );
        fields.insert(
            "device_id".into(),
            self.device_id
                .map_or(Value::Null, |d| Value::from(d.to_string())),
        );
        fields.insert("id".into(), Value::from(self.id.0.to_string()));
        if let Some(location) = &self.location {
            fields.insert(
                "location".into(),
                serde_json::to_value(location).expect("a location serialises"),
            );
        }
        fields.insert(
            "questionnaire".into(),
            Value::from(self.questionnaire.clone()),
        );
        fields.insert("started_at".into(), Value::from(self.started_at.clone()));
        fields.insert("version".into(), Value::from(self.version));
        let mut out = String::new();
        write_canonical(&Value::Object(fields), &mut out);
        out
    }

    /// The content hash: SHA-256 of [`Self::canonical_json`], lowercase hex.
    pub fn content_hash(&self) -> ContentHash {
        let digest = Sha256::digest(self.canonical_json().as_bytes());
        ContentHash(hex(&digest))
    }
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").expect("writing to a String cannot fail");
    }
    s
}

/// Writes `value` canonically: keys sorted by bytes at every depth, no whitespace.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string serialises"));
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).expect("a scalar serialises")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Response {
        Response {
            id: ResponseId(Uuid::parse_str("01936d2a-0000-7000-8000-000000000001").unwrap()),
            questionnaire: "parole-habitants".into(),
            version: 2,
            answers: json!({"quartier": "malakoff", "cadre_de_vie": {"logement": 4, "bruit": 1.50}, "é": "ü"}),
            started_at: "2025-03-14T18:30:00+01:00".into(),
            completed_at: "2025-03-14T18:42:10+01:00".into(),
            device_id: Some(Uuid::parse_str("01936d2a-0000-7000-8000-0000000000d1").unwrap()),
            location: None,
        }
    }

    #[test]
    fn the_canonical_encoding_sorts_keys_at_every_depth_and_has_no_whitespace() {
        assert_eq!(
            sample().canonical_json(),
            r#"{"answers":{"cadre_de_vie":{"bruit":1.5,"logement":4},"quartier":"malakoff","é":"ü"},"completed_at":"2025-03-14T18:42:10+01:00","device_id":"01936d2a-0000-7000-8000-0000000000d1","id":"01936d2a-0000-7000-8000-000000000001","questionnaire":"parole-habitants","started_at":"2025-03-14T18:30:00+01:00","version":2}"#
        );
    }

    #[test]
    fn the_hash_does_not_depend_on_key_order_or_whitespace() {
        let a = sample();
        let mut b = sample();
        b.answers = serde_json::from_str(
            r#"{ "é":"ü", "cadre_de_vie": { "logement": 4, "bruit": 1.5 }, "quartier": "malakoff" }"#,
        )
        .unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn the_hash_changes_with_any_field() {
        let base = sample().content_hash();
        let mut changed = sample();
        changed.answers["quartier"] = json!("bellevue");
        assert_ne!(changed.content_hash(), base);
        let mut changed = sample();
        changed.version = 3;
        assert_ne!(changed.content_hash(), base);
        let mut changed = sample();
        changed.location = Some(Location {
            lat: 47.2,
            lon: -1.55,
            accuracy_m: None,
        });
        assert_ne!(changed.content_hash(), base);
    }

    #[test]
    fn the_hash_is_sha256_of_the_canonical_encoding() {
        // Known SHA-256 of the empty string, to pin the digest and the hex encoding.
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let r = sample();
        assert_eq!(
            r.content_hash().0,
            hex(&Sha256::digest(r.canonical_json().as_bytes()))
        );
        assert_eq!(r.content_hash().0.len(), 64);
    }
}
