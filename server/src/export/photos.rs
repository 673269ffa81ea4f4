//! `photos.zip`: the photos of the responses an export selects, as a zip archive streamed
//! in constant memory, one photo read from PostgreSQL at a time.
//!
//! The zip is written here, not with the `zip` crate (whose writer needs `Seek` to go back
//! and fill in each entry's sizes): every photo is whole in memory when its entry starts
//! (≤ 10 MiB, the attachments' limit), so its CRC-32 and size go straight into its local
//! header, and no data descriptor is needed. Entries are stored, not deflated (JPEGs do not
//! shrink). What is kept until the end is the central directory: per photo its name, CRC,
//! size and offset (about 100 bytes), not its bytes. Past 4 GiB or 65 535 entries the
//! archive is Zip64 (the central directory's offsets and the end record), as every current
//! unzip reads.
//!
//! Names: `{response_id}/{question}.{ext}`, the question as its CSV column
//! (`section.question`; in a repeat `repeat.2.question`, items from 1), the extension from
//! the photo's media type.

use bytes::Bytes;
use futures::StreamExt;
use parole_client::api::PersonalData;

use super::Sender;
use crate::db;

/// Which photos to put in the archive.
#[derive(Debug, Clone)]
pub struct PhotoPlan {
    pub questionnaire_id: i64,
    pub filter: db::Filter,
    pub after: i64,
    pub until: i64,
    /// With [`PersonalData::Omit`], no photo that answers a personal question anywhere.
    pub personal: PersonalData,
}

/// The archive's name for the photo at `pointer` of response `response_id`.
pub fn entry_name(response_id: &uuid::Uuid, pointer: &str, media_type: &str) -> String {
    let column: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| {
            let t = t.replace("~1", "/").replace("~0", "~");
            match t.parse::<u64>() {
                // An item's index in a repeat, counted from 1 as in `repeat=` CSVs.
                Ok(i) => (i + 1).to_string(),
                Err(_) => t.replace(['/', '\\'], "_"),
            }
        })
        .collect();
    let column = column.join(".");
    let column = column.trim_start_matches('.');
    format!("{response_id}/{column}.{}", extension(media_type))
}

fn extension(media_type: &str) -> &'static str {
    match media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/heic" => "heic",
        "image/avif" => "avif",
        _ => "bin",
    }
}

/// One entry of the central directory.
struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u64,
    time: (u16, u16),
}

/// A zip archive written front to back (stored entries, sizes known up front).
#[derive(Default)]
pub struct ZipOut {
    entries: Vec<Entry>,
    /// Bytes written so far.
    offset: u64,
}

const U16_MAX: u64 = 0xFFFF;
const U32_MAX: u64 = 0xFFFF_FFFF;

impl ZipOut {
    /// The local header of a file of `data`, to write just before `data` itself.
    /// `time`: its modification time (UTC).
    pub fn file(
        &mut self,
        name: &str,
        time: chrono::DateTime<chrono::Utc>,
        data: &[u8],
    ) -> Vec<u8> {
        let crc = crc32fast::hash(data);
        let size = u32::try_from(data.len()).expect("an attachment is at most 10 MiB");
        let time = dos_time(time);
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
        h.extend_from_slice(&0x0800u16.to_le_bytes()); // the name is UTF-8
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&time.0.to_le_bytes());
        h.extend_from_slice(&time.1.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        self.entries.push(Entry {
            name: name.to_string(),
            crc,
            size,
            offset: self.offset,
            time,
        });
        self.offset += h.len() as u64 + u64::from(size);
        h
    }

    /// The central directory and the end records: the archive's last bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        let cd_offset = self.offset;
        for e in &self.entries {
            let zip64 = e.offset >= U32_MAX;
            out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            let version: u16 = if zip64 { 45 } else { 20 };
            out.extend_from_slice(&(0x0300 | version).to_le_bytes()); // made by: Unix
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&0x0800u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&e.time.0.to_le_bytes());
            out.extend_from_slice(&e.time.1.to_le_bytes());
            out.extend_from_slice(&e.crc.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&(if zip64 { 12u16 } else { 0 }).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // comment
            out.extend_from_slice(&0u16.to_le_bytes()); // disk
            out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            out.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // rw-r--r--
            out.extend_from_slice(&(e.offset.min(U32_MAX) as u32).to_le_bytes());
            out.extend_from_slice(e.name.as_bytes());
            if zip64 {
                out.extend_from_slice(&1u16.to_le_bytes()); // Zip64 extended information
                out.extend_from_slice(&8u16.to_le_bytes());
                out.extend_from_slice(&e.offset.to_le_bytes());
            }
        }
        let cd_size = out.len() as u64;
        let count = self.entries.len() as u64;
        if count >= U16_MAX || cd_size >= U32_MAX || cd_offset >= U32_MAX {
            let eocd64 = cd_offset + cd_size;
            out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&(0x0300u16 | 45).to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&cd_size.to_le_bytes());
            out.extend_from_slice(&cd_offset.to_le_bytes());
            out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&eocd64.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(count.min(U16_MAX) as u16).to_le_bytes());
        out.extend_from_slice(&(count.min(U16_MAX) as u16).to_le_bytes());
        out.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
        out.extend_from_slice(&(cd_offset.min(U32_MAX) as u32).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }
}

/// MS-DOS time and date (2-second precision, from 1980).
fn dos_time(t: chrono::DateTime<chrono::Utc>) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    if t.year() < 1980 {
        return (0, (1 << 5) | 1);
    }
    let time = (t.hour() << 11) | (t.minute() << 5) | (t.second() / 2);
    let date = ((t.year().min(2107) as u32 - 1980) << 9) | (t.month() << 5) | t.day();
    (time as u16, date as u16)
}

/// Streams `photos.zip` as body chunks, as [`super::stream`] does the other exports: rows
/// read in a task, a bounded channel, each photo sent in slices of 64 KiB, an error
/// mid-stream ending the body with an error (a truncated archive, never a short one that
/// looks whole), a reader idle for [`super::IDLE_STREAM`] cut.
pub fn stream(
    pool: sqlx::PgPool,
    plan: PhotoPlan,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let _permit = permit;
        let mut tx = Sender(tx);
        let mut query = db::export_photos_query(
            plan.questionnaire_id,
            &plan.filter,
            plan.after,
            plan.until,
            plan.personal == PersonalData::Include,
        );
        let mut rows = db::export_photos(&pool, &mut query);
        let mut zip = ZipOut::default();
        while let Some(row) = rows.next().await {
            let photo = match row {
                Ok(photo) => photo,
                Err(e) => {
                    tracing::error!(error = %e, "photos export interrupted");
                    let _ = tx
                        .send(Err(std::io::Error::other("export interrupted")))
                        .await;
                    return;
                }
            };
            let name = entry_name(&photo.response_id, &photo.pointer, &photo.media_type);
            let header = zip.file(&name, photo.received_at, &photo.content);
            if tx.send(Ok(Bytes::from(header))).await.is_err() {
                return;
            }
            let content = Bytes::from(photo.content);
            let mut at = 0;
            while at < content.len() {
                let end = (at + 64 * 1024).min(content.len());
                if tx.send(Ok(content.slice(at..end))).await.is_err() {
                    return;
                }
                at = end;
            }
        }
        let _ = tx.send(Ok(Bytes::from(zip.finish()))).await;
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn build(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut zip = ZipOut::default();
        let mut out = Vec::new();
        let t = chrono::DateTime::parse_from_rfc3339("2025-03-14T18:42:10Z")
            .unwrap()
            .to_utc();
        for (name, data) in files {
            out.extend(zip.file(name, t, data));
            out.extend_from_slice(data);
        }
        out.extend(zip.finish());
        out
    }

    fn read(archive: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                (f.name().unwrap().to_string(), data)
            })
            .collect()
    }

    #[test]
    fn a_zip_reader_reads_back_every_file_with_its_name_and_bytes() {
        let files: Vec<(String, Vec<u8>)> = vec![
            (
                "a/photo.jpg".into(),
                (0..=255u8).cycle().take(70_000).collect(),
            ),
            ("b/enfants.2.photo.png".into(), b"\x89PNG".to_vec()),
            ("c/vide.jpg".into(), Vec::new()),
            ("d/مرحبا.jpg".into(), b"x".to_vec()),
        ];
        assert_eq!(read(build(&files)), files);
    }

    #[test]
    fn more_than_65535_entries_make_a_zip64_archive_that_reads_back() {
        let files: Vec<(String, Vec<u8>)> = (0..70_000u32)
            .map(|i| (format!("{i}.jpg"), i.to_le_bytes().to_vec()))
            .collect();
        let back = read(build(&files));
        assert_eq!(back.len(), files.len());
        assert_eq!(back[69_999], files[69_999]);
    }

    #[test]
    fn names_are_the_response_and_the_questions_column_with_items_from_one() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            entry_name(&id, "/photo_lieu", "image/jpeg"),
            format!("{id}/photo_lieu.jpg")
        );
        assert_eq!(
            entry_name(&id, "/enfants/0/photo", "image/png"),
            format!("{id}/enfants.1.photo.png")
        );
        assert_eq!(
            entry_name(&id, "/s/a~1b", "application/octet-stream"),
            format!("{id}/s.a_b.bin")
        );
    }
}
