//! The backup file (`parole-backup/1`): every response of a device not yet synced (drafts
//! included, each with its state) and every photo they name, so that nothing is lost even if
//! the phone's storage is wiped. The phone writes it in pieces ([`BackupWriter`]: never one
//! string of every photo) and can restore it ([`BackupView`]: photos decoded one at a time);
//! `parole import-backup FILE` reads it too, queues and sends its contents. Every response keeps
//! its id, device and content, so sending one that already arrived is a harmless duplicate.
//!
//! ```json
//! {"format": "parole-backup/1", "device_id": "…" | null, "created_at": "RFC 3339",
//!  "responses": [{"response": {…}, "state": "queued", "errors": [], "server_hash": null,
//!                 "updated_at": "…"}],
//!  "photos": [{"ref": "sha256:…", "mime": "image/jpeg", "base64": "…"}]}
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::i18n::Message;
use crate::outbox::{OutboxRecord, State};
use crate::response::hex;

/// The `format` of a backup file.
pub const BACKUP_FORMAT: &str = "parole-backup/1";

/// A backup file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub device_id: Option<Uuid>,
    pub created_at: String,
    pub responses: Vec<OutboxRecord>,
    pub photos: Vec<BackupPhoto>,
}

/// One photo of a backup, named by its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupPhoto {
    #[serde(rename = "ref")]
    pub reference: String,
    pub mime: String,
    pub base64: String,
}

/// Why a backup file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "ce fichier n'est pas une sauvegarde Parole lisible : {0} / not a readable Parole backup"
    )]
    Unreadable(String),
    #[error(
        "format de sauvegarde inconnu « {0} » (attendu {BACKUP_FORMAT}) / unknown backup format"
    )]
    Format(String),
    #[error("la photo {0} de la sauvegarde est abîmée (base64 ou empreinte) / photo damaged in the backup")]
    DamagedPhoto(String),
}

impl BackupError {
    /// The message in each language (its `Display` is both, joined).
    pub fn message(&self) -> Message {
        match self {
            BackupError::Unreadable(e) => Message::new(
                format!("ce fichier n'est pas une sauvegarde Parole lisible : {e}"),
                "not a readable Parole backup",
            ),
            BackupError::Format(format) => Message::new(
                format!("format de sauvegarde inconnu « {format} » (attendu {BACKUP_FORMAT})"),
                "unknown backup format",
            ),
            BackupError::DamagedPhoto(reference) => Message::new(
                format!("la photo {reference} de la sauvegarde est abîmée (base64 ou empreinte)"),
                "photo damaged in the backup",
            ),
        }
    }
}

impl Backup {
    /// A backup of `records`: the ones not yet synced, in id order, with the photos they
    /// name that `photo` can find (`(mime, bytes)` by reference).
    pub fn new(
        device_id: Option<Uuid>,
        created_at: String,
        records: Vec<OutboxRecord>,
        mut photo: impl FnMut(&str) -> Option<(String, Vec<u8>)>,
    ) -> Self {
        let (responses, refs) = unsynced(records);
        let photos = refs
            .into_iter()
            .filter_map(|reference| {
                photo(&reference).map(|(mime, bytes)| BackupPhoto {
                    base64: base64_encode(&bytes),
                    reference,
                    mime,
                })
            })
            .collect();
        Self {
            format: BACKUP_FORMAT.to_string(),
            device_id,
            created_at,
            responses,
            photos,
        }
    }

    /// Reads a backup file's text.
    pub fn parse(text: &str) -> Result<Self, BackupError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| BackupError::Unreadable(e.to_string()))?;
        match value.get("format").and_then(Value::as_str) {
            Some(BACKUP_FORMAT) => {}
            Some(other) => return Err(BackupError::Format(other.to_string())),
            None => return Err(BackupError::Unreadable("no `format`".into())),
        }
        serde_json::from_value(value).map_err(|e| BackupError::Unreadable(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a backup serialises")
    }
}

impl BackupPhoto {
    /// The photo's bytes, checked against its SHA-256 reference.
    pub fn bytes(&self) -> Result<Vec<u8>, BackupError> {
        let damaged = || BackupError::DamagedPhoto(self.reference.clone());
        let bytes = base64_decode(&self.base64).ok_or_else(damaged)?;
        if self.reference != photo_ref(&bytes) {
            return Err(damaged());
        }
        Ok(bytes)
    }
}

/// Writes a backup file **in pieces**, so that the phone never holds one string of every
/// photo: [`Self::head`], then one [`Self::response`] per record, then one [`Self::photo`]
/// per photo (each piece is written out before the next photo is read), then
/// [`Self::finish`]. The pieces joined are byte for byte [`Backup::to_json`] of the same
/// backup, so `parole import-backup` reads them as it always has.
#[derive(Debug, Default)]
pub struct BackupWriter {
    responses: usize,
    photos: usize,
    in_photos: bool,
}

impl BackupWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The file's start, up to the opening of `responses`.
    pub fn head(&self, device_id: Option<Uuid>, created_at: &str) -> String {
        format!(
            "{{\"format\":{},\"device_id\":{},\"created_at\":{},\"responses\":[",
            json_text(&BACKUP_FORMAT),
            json_text(&device_id),
            json_text(&created_at),
        )
    }

    /// One record (call every one before the first photo).
    pub fn response(&mut self, record: &OutboxRecord) -> String {
        assert!(!self.in_photos, "every response comes before the photos");
        let sep = if self.responses == 0 { "" } else { "," };
        self.responses += 1;
        format!("{sep}{}", json_text(record))
    }

    /// One photo, base64-encoded.
    pub fn photo(&mut self, reference: &str, mime: &str, bytes: &[u8]) -> String {
        let mut out = String::new();
        if !self.in_photos {
            self.in_photos = true;
            out.push_str("],\"photos\":[");
        }
        if self.photos > 0 {
            out.push(',');
        }
        self.photos += 1;
        out.push_str(&format!(
            "{{\"ref\":{},\"mime\":{},\"base64\":\"",
            json_text(&reference),
            json_text(&mime)
        ));
        out.push_str(&base64_encode(bytes));
        out.push_str("\"}");
        out
    }

    /// The file's end.
    pub fn finish(self) -> String {
        if self.in_photos {
            "]}"
        } else {
            "],\"photos\":[]}"
        }
        .to_string()
    }
}

fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("a backup's parts serialise")
}

/// A backup file read without copying its photos: each photo's base64 text borrows from the
/// file's bytes, and is decoded one photo at a time ([`BackupPhotoView::bytes`]). The
/// phone restores a backup with it; the whole file is then held once, not three times.
#[derive(Debug, Deserialize)]
pub struct BackupView<'a> {
    #[serde(borrow)]
    pub format: Cow<'a, str>,
    pub device_id: Option<Uuid>,
    pub created_at: String,
    pub responses: Vec<OutboxRecord>,
    #[serde(borrow)]
    pub photos: Vec<BackupPhotoView<'a>>,
}

/// One photo of a [`BackupView`].
#[derive(Debug, Deserialize)]
pub struct BackupPhotoView<'a> {
    #[serde(rename = "ref")]
    pub reference: String,
    pub mime: String,
    #[serde(borrow)]
    pub base64: Cow<'a, str>,
}

impl<'a> BackupView<'a> {
    /// Reads a backup file's bytes (checks its `format` first, as [`Backup::parse`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BackupError> {
        // Read as text, as every other JSON of the phone is: one copy of serde_json's reader
        // in the wasm module, not two.
        let text =
            std::str::from_utf8(bytes).map_err(|e| BackupError::Unreadable(e.to_string()))?;
        #[derive(Deserialize)]
        struct Format<'b> {
            #[serde(borrow)]
            format: Option<Cow<'b, str>>,
        }
        let format: Format =
            serde_json::from_str(text).map_err(|e| BackupError::Unreadable(e.to_string()))?;
        match format.format.as_deref() {
            Some(BACKUP_FORMAT) => {}
            Some(other) => return Err(BackupError::Format(other.to_string())),
            None => return Err(BackupError::Unreadable("no `format`".into())),
        }
        serde_json::from_str(text).map_err(|e| BackupError::Unreadable(e.to_string()))
    }
}

impl BackupPhotoView<'_> {
    /// The photo's bytes, checked against its SHA-256 reference.
    pub fn bytes(&self) -> Result<Vec<u8>, BackupError> {
        let damaged = || BackupError::DamagedPhoto(self.reference.clone());
        let bytes = base64_decode(&self.base64).ok_or_else(damaged)?;
        if self.reference != photo_ref(&bytes) {
            return Err(damaged());
        }
        Ok(bytes)
    }
}

/// A photo's reference: `sha256:` and the lowercase hex SHA-256 of its bytes.
pub fn photo_ref(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// The records a backup keeps (all but the synced ones), in id order, and the photo
/// references they name.
pub fn unsynced(records: Vec<OutboxRecord>) -> (Vec<OutboxRecord>, BTreeSet<String>) {
    let mut kept: Vec<_> = records
        .into_iter()
        .filter(|r| r.state != State::Synced)
        .collect();
    kept.sort_by_key(|r| r.response.id);
    let mut refs = BTreeSet::new();
    for r in &kept {
        photo_refs(&r.response.answers, &mut refs);
    }
    (kept, refs)
}

/// Every string of `value` shaped like a photo reference (`sha256:` + 64 hex digits), at any
/// depth: photos may sit in sections and repeat items.
pub fn photo_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if is_photo_ref(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| photo_refs(v, out)),
        Value::Object(map) => map.values().for_each(|v| photo_refs(v, out)),
        _ => {}
    }
}

/// True for a well-formed photo reference (`^sha256:[0-9a-f]{64}$`, the format's pattern).
pub fn is_photo_ref(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional, whitespace ignored); `None` when malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = BASE64.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors_both_ways() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), expected);
            assert_eq!(base64_decode(expected).unwrap(), input.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
        assert_eq!(base64_decode("Zm9v!"), None);
    }

    #[test]
    fn a_photo_whose_bytes_do_not_match_its_reference_is_refused() {
        let good = BackupPhoto {
            reference: photo_ref(b"jpeg"),
            mime: "image/jpeg".into(),
            base64: base64_encode(b"jpeg"),
        };
        assert_eq!(good.bytes().unwrap(), b"jpeg");
        let bad = BackupPhoto {
            base64: base64_encode(b"png"),
            ..good
        };
        assert!(matches!(bad.bytes(), Err(BackupError::DamagedPhoto(_))));
    }

    #[test]
    fn a_file_of_another_format_is_refused_with_its_name() {
        let err = Backup::parse(r#"{"format": "autre/2", "responses": []}"#).unwrap_err();
        assert!(err.to_string().contains("autre/2"), "{err}");
        assert!(Backup::parse("<html>").is_err());
    }

    #[test]
    fn each_message_is_its_display_in_one_language() {
        for e in [
            BackupError::Unreadable("EOF".into()),
            BackupError::Format("autre/2".into()),
            BackupError::DamagedPhoto(photo_ref(b"x")),
        ] {
            assert_eq!(e.to_string(), e.message().joined(), "{e:?}");
        }
    }

    fn record(state: State, answers: Value) -> OutboxRecord {
        OutboxRecord {
            response: crate::Response {
                id: crate::ResponseId::new(),
                questionnaire: "q".into(),
                version: 1,
                answers,
                started_at: "2025-03-14T18:30:00+01:00".into(),
                completed_at: String::new(),
                device_id: None,
                location: None,
            },
            state,
            errors: vec![],
            server_hash: None,
            updated_at: chrono::Utc::now(),
        }
    }

    /// Writes `backup` with a [`BackupWriter`], piece by piece.
    fn in_pieces(backup: &Backup) -> Vec<String> {
        let mut w = BackupWriter::new();
        let mut pieces = vec![w.head(backup.device_id, &backup.created_at)];
        for r in &backup.responses {
            pieces.push(w.response(r));
        }
        for p in &backup.photos {
            pieces.push(w.photo(&p.reference, &p.mime, &p.bytes().unwrap()));
        }
        pieces.push(w.finish());
        pieces
    }

    #[test]
    fn a_backup_written_in_pieces_is_byte_for_byte_the_whole_file() {
        let [p1, p2] = [b"jpeg-1".as_slice(), b"\"quoted\"\n"].map(photo_ref);
        let records = vec![
            record(State::Queued, json!({"photo": p1, "nom": "Zoé \"la\" <b>"})),
            record(State::Draft, json!({"lieux": [{"photo": p2}]})),
            record(State::Synced, json!({})),
        ];
        let bytes = |r: &str| {
            if r == p1 {
                Some(("image/jpeg".to_string(), b"jpeg-1".to_vec()))
            } else if r == p2 {
                Some(("image/png".to_string(), b"\"quoted\"\n".to_vec()))
            } else {
                None
            }
        };
        let device = Some(Uuid::now_v7());
        let backup = Backup::new(device, "2025-03-14T18:30:00+01:00".into(), records, bytes);
        assert_eq!((backup.responses.len(), backup.photos.len()), (2, 2));
        let pieces = in_pieces(&backup);
        assert_eq!(
            pieces.len(),
            1 + 2 + 2 + 1,
            "one piece per record and per photo"
        );
        assert_eq!(pieces.concat(), backup.to_json());
        // Nothing at all, too.
        let empty = Backup::new(None, "t".into(), vec![], |_| None);
        assert_eq!(in_pieces(&empty).concat(), empty.to_json());
        assert_eq!(Backup::parse(&in_pieces(&empty).concat()).unwrap(), empty);
    }

    #[test]
    fn a_backup_is_read_back_with_its_photos_borrowed_and_checked() {
        let p1 = photo_ref(b"jpeg-1");
        let records = vec![record(State::Queued, json!({"photo": p1}))];
        let backup = Backup::new(None, "t".into(), records, |_| {
            Some(("image/jpeg".to_string(), b"jpeg-1".to_vec()))
        });
        let text = backup.to_json();
        let view = BackupView::parse(text.as_bytes()).unwrap();
        assert_eq!(view.responses, backup.responses);
        assert!(
            matches!(view.photos[0].base64, Cow::Borrowed(_)),
            "not copied"
        );
        assert_eq!(view.photos[0].bytes().unwrap(), b"jpeg-1");
        let damaged = text.replace(&base64_encode(b"jpeg-1"), &base64_encode(b"jpeg-2"));
        let view = BackupView::parse(damaged.as_bytes()).unwrap();
        assert!(matches!(
            view.photos[0].bytes(),
            Err(BackupError::DamagedPhoto(_))
        ));
        let err = BackupView::parse(br#"{"format": "autre/2", "responses": []}"#).unwrap_err();
        assert!(err.to_string().contains("autre/2"), "{err}");
        assert!(BackupView::parse(b"<html>").is_err());
        assert!(
            BackupView::parse(b"{\"format\": \"\xff\"}").is_err(),
            "not UTF-8"
        );
        assert!(BackupView::parse(br#"{"responses": []}"#).is_err());
    }

    #[test]
    fn photo_references_are_found_at_any_depth() {
        let a = photo_ref(b"a");
        let b = photo_ref(b"b");
        let answers =
            serde_json::json!({"photo": a, "lieux": [{"cliche": b}], "note": "sha256:court"});
        let mut refs = BTreeSet::new();
        photo_refs(&answers, &mut refs);
        assert_eq!(refs, BTreeSet::from([a, b]));
    }
}
