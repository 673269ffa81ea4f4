//! Attachments (the interviewers' photos): named by the SHA-256 of their bytes, sent on their
//! own before or after the responses that name them.
//!
//! A photo answer is the string `"sha256:<64 lowercase hex>"`. The phone uploads the file to
//! `PUT /api/v1/attachments/sha256:<hex>`; the server recomputes the hash and refuses a
//! mismatch, so a stored attachment is always the file its name says. Uploading the same
//! file twice changes nothing, which makes retries (and several phones sending the same
//! photo) harmless. A response is stored whether or not its photos have arrived:
//! [`photo_refs`] lists the photos it names (walking the questionnaire's photo questions,
//! inside sections and in every repeat item), ingest records them in `response_photo`, and
//! the exports say which are still missing.
//!
//! ```
//! use parole_server::attachment::AttachmentName;
//!
//! let name = AttachmentName::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
//! assert_eq!(name.hex(), "ab".repeat(32));
//! assert!(AttachmentName::parse("sha256:AB").is_err());
//! ```

use parole_client::i18n::{shown, Message};
use parole_client::questionnaire::{Question, QuestionKind};
use parole_client::Questionnaire;
use serde_json::Value;

/// The largest attachment accepted: 10 MiB (a phone's photo, downscaled, is far smaller).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// The media type stored when the upload names none.
pub const DEFAULT_MEDIA_TYPE: &str = "application/octet-stream";

/// An attachment's name, `sha256:<64 lowercase hex>`. Parse, don't validate: holding one
/// means the name is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttachmentName(String);

impl AttachmentName {
    /// Parses `sha256:<64 lowercase hex>`; what is expected otherwise.
    pub fn parse(s: &str) -> Result<AttachmentName, Message> {
        match s.strip_prefix("sha256:") {
            Some(hex) if is_sha256_hex(hex) => Ok(AttachmentName(hex.to_string())),
            _ => {
                let shown = shown(s);
                Err(Message::new(
                    format!(
                        "nom de pièce jointe invalide « {shown} » : attendu « sha256: » suivi \
                         de 64 chiffres hexadécimaux en minuscules"
                    ),
                    format!(
                        "invalid attachment name `{shown}`: expected `sha256:` followed by 64 \
                         lowercase hexadecimal digits"
                    ),
                ))
            }
        }
    }

    /// From the hex digest of some bytes.
    pub fn of_bytes(bytes: &[u8]) -> AttachmentName {
        use sha2::{Digest, Sha256};
        AttachmentName(parole_client::response::hex(&Sha256::digest(bytes)))
    }

    /// The 64 hex digits (the key in the `attachment` table).
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AttachmentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// The most photos a device may have sent that no response names yet, and their bytes.
/// Past it an upload is 429: the phone then pushes its responses (which name its photos,
/// so they no longer count) and sends the rest at its next sync.
pub const MAX_UNNAMED_PHOTOS: i64 = 200;
pub const MAX_UNNAMED_BYTES: i64 = 500 * 1024 * 1024;

/// How long a photo no response names is kept: its response may still be on a phone with
/// no network.
pub const UNNAMED_GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// Removes, every hour, the photos no response has named for [`UNNAMED_GRACE`]; runs until
/// the process ends.
pub async fn clean_up_unnamed(pool: sqlx::PgPool) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
    loop {
        every.tick().await;
        match crate::db::delete_unnamed_older_than(&pool, UNNAMED_GRACE).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "photos no response named, removed"),
            Err(e) => tracing::warn!(error = %e, "cleaning up unnamed photos"),
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The media type of an upload, from its `Content-Type`: `type/subtype` with optional
/// parameters, in visible ASCII, at most 200 characters; [`DEFAULT_MEDIA_TYPE`] when absent.
pub fn media_type(header: Option<&axum::http::HeaderValue>) -> Result<String, Message> {
    let Some(value) = header else {
        return Ok(DEFAULT_MEDIA_TYPE.to_string());
    };
    let bad = || {
        Message::new(
            "Content-Type invalide : attendu un type de média comme image/jpeg",
            "invalid Content-Type: expected a media type such as image/jpeg",
        )
    };
    let s = value.to_str().map_err(|_| bad())?.trim();
    if s.is_empty() {
        return Ok(DEFAULT_MEDIA_TYPE.to_string());
    }
    let essence = s.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let well_formed = s.len() <= 200
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, sub)| token(t) && token(sub));
    if well_formed {
        Ok(s.to_string())
    } else {
        Err(bad())
    }
}

/// One photo a response names: the attachment and the answer's JSON pointer (with the
/// repeat item's index: `/enfants/0/photo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRef {
    pub name: AttachmentName,
    pub pointer: String,
    /// It answers an `x-personal-data` question, or one inside a personal section or repeat:
    /// never served to analysts.
    pub personal: bool,
}

/// The photos named by `answers` (already validated against `questionnaire`), in question
/// order: the answers to its photo questions, at the root, inside sections and in each
/// repeat item. Answers that are not photo references are ignored.
pub fn photo_refs(questionnaire: &Questionnaire, answers: &Value) -> Vec<PhotoRef> {
    let mut out = Vec::new();
    if questionnaire_has_photos(&questionnaire.questions) {
        walk(&questionnaire.questions, answers, "", false, &mut out);
    }
    out
}

fn questionnaire_has_photos(questions: &[Question]) -> bool {
    questions
        .iter()
        .any(|q| q.kind == QuestionKind::Photo || questionnaire_has_photos(&q.children))
}

fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

fn walk(
    questions: &[Question],
    answers: &Value,
    pointer: &str,
    personal: bool,
    out: &mut Vec<PhotoRef>,
) {
    let Some(object) = answers.as_object() else {
        return;
    };
    for q in questions {
        let Some(answer) = object.get(&q.key) else {
            continue;
        };
        let here = push_token(pointer, &q.key);
        let personal = personal || q.personal_data;
        match q.kind {
            QuestionKind::Photo => {
                if let Some(name) = answer.as_str().and_then(|s| AttachmentName::parse(s).ok()) {
                    out.push(PhotoRef {
                        name,
                        pointer: here,
                        personal,
                    });
                }
            }
            QuestionKind::Section => walk(&q.children, answer, &here, personal, out),
            QuestionKind::Repeat => {
                for (i, item) in answer.as_array().into_iter().flatten().enumerate() {
                    walk(&q.children, item, &format!("{here}/{i}"), personal, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    #[test]
    fn attachment_names_are_sha256_and_64_lowercase_hex_digits() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            AttachmentName::parse(&format!("sha256:{hex}"))
                .unwrap()
                .to_string(),
            format!("sha256:{hex}")
        );
        for bad in [
            hex.clone(),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha512:{hex}"),
            format!("sha256:{}g", &hex[1..]),
            String::new(),
        ] {
            assert!(AttachmentName::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            AttachmentName::of_bytes(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_media_type_is_kept_and_defaults_to_octet_stream() {
        assert_eq!(media_type(None).unwrap(), DEFAULT_MEDIA_TYPE);
        for ok in ["image/jpeg", "image/webp", "text/plain; charset=utf-8"] {
            assert_eq!(media_type(Some(&HeaderValue::from_static(ok))).unwrap(), ok);
        }
        for bad in ["jpeg", "image/", "/jpeg", "image jpeg/x"] {
            assert!(
                media_type(Some(&HeaderValue::from_static(bad))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn photos_are_found_at_the_root_in_sections_and_in_each_repeat_item() {
        let q = Questionnaire::parse(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Photos",
            "type": "object",
            "properties": {
                "facade": {"type": "string", "x-widget": "photo", "title": "Façade",
                           "pattern": "^sha256:[0-9a-f]{64}$"},
                "nom": {"type": "string", "title": "Nom"},
                "lieu": {"type": "object", "x-widget": "section", "title": "Lieu",
                         "additionalProperties": false,
                         "properties": {"vue": {"type": "string", "x-widget": "photo",
                             "title": "Vue", "pattern": "^sha256:[0-9a-f]{64}$"}}},
                "pieces": {"type": "array", "x-widget": "repeat", "title": "Pièces",
                           "items": {"type": "object", "additionalProperties": false,
                               "properties": {"cliche": {"type": "string", "x-widget": "photo",
                                   "title": "Cliché", "pattern": "^sha256:[0-9a-f]{64}$"}}}}
            },
            "additionalProperties": false
        }))
        .unwrap();
        let h = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let answers = json!({
            "facade": h('a'), "nom": h('f'), "lieu": {"vue": h('b')},
            "pieces": [{"cliche": h('c')}, {}, {"cliche": h('a')}]
        });
        let found: Vec<(String, String)> = photo_refs(&q, &answers)
            .into_iter()
            .map(|p| (p.name.to_string(), p.pointer))
            .collect();
        assert_eq!(
            found,
            [
                (h('a'), "/facade".to_string()),
                (h('b'), "/lieu/vue".to_string()),
                (h('c'), "/pieces/0/cliche".to_string()),
                (h('a'), "/pieces/2/cliche".to_string()),
            ]
        );
        assert!(photo_refs(&q, &json!({"nom": "x"})).is_empty());
    }
}
