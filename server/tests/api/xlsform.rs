//! `POST /api/v1/xlsform`: every permissive workbook of the corpus (`server/tests/xlsforms/`)
//! converts, and its document is created and published through the API; nothing is saved
//! by the conversion itself; a broken workbook is a 422 naming where; another content type
//! a 415; too large a 413; analysts and devices a 403.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use parole_client::api::{Role, XlsformRefusal, XlsformReport, MAX_XLSFORM_BYTES, XLSX_MEDIA_TYPE};

use crate::helpers::*;

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/xlsforms")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .collect();
    files.sort();
    files
}

async fn post_workbook(ctx: &Ctx, token: Option<&str>, body: Vec<u8>, content_type: &str) -> Reply {
    ctx.raw(
        Method::POST,
        "/api/v1/xlsform",
        token,
        &[("content-type", content_type)],
        body,
    )
    .await
}

#[tokio::test]
async fn every_permissive_workbook_converts_then_is_created_and_published_through_the_api() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let files = corpus("");
    assert_eq!(files.len(), 21);
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy();
        let r = post_workbook(
            &ctx,
            Some(&coord),
            std::fs::read(file).unwrap(),
            XLSX_MEDIA_TYPE,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
        let report: XlsformReport = serde_json::from_slice(&r.bytes).unwrap();
        for w in &report.warnings {
            assert!(!w.sheet.is_empty() && w.row.is_some(), "{name}: {w:?}");
        }
        // The suggested slug is one the API takes.
        let slug = report
            .slug
            .clone()
            .unwrap_or_else(|| format!("xlsform-{i}"));
        let version = ctx.publish(&coord, &slug, report.document).await;
        assert_eq!(version, 1, "{name}");
    }
    let list = ctx.get("/api/v1/questionnaires", &coord).await.json();
    assert_eq!(list["questionnaires"].as_array().unwrap().len(), 21);
}

#[tokio::test]
async fn converting_saves_nothing() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let file = &corpus("")[0];
    let r = post_workbook(
        &ctx,
        Some(&coord),
        std::fs::read(file).unwrap(),
        XLSX_MEDIA_TYPE,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = ctx.get("/api/v1/questionnaires", &coord).await.json();
    assert_eq!(list["questionnaires"], serde_json::json!([]));
}

#[tokio::test]
async fn a_broken_workbook_is_a_422_with_every_reason_by_sheet_row_and_column() {
    let ctx = Ctx::new().await;
    let admin = ctx.login_as(Role::Admin).await;
    let files = corpus("broken");
    assert_eq!(files.len(), 3);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let r = post_workbook(
            &ctx,
            Some(&admin),
            std::fs::read(file).unwrap(),
            XLSX_MEDIA_TYPE,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.text()
        );
        let refusal: XlsformRefusal = serde_json::from_slice(&r.bytes).unwrap();
        assert!(refusal.error.contains(" / "), "{name}: {refusal:?}");
        assert!(!refusal.errors.is_empty(), "{name}");
        for e in &refusal.errors {
            assert_eq!(e.sheet, "survey", "{name}: {e:?}");
            assert!(!e.message.fr.is_empty() && !e.message.en.is_empty());
        }
    }
    // Not a workbook at all: refused as a whole.
    let r = post_workbook(
        &ctx,
        Some(&admin),
        b"type,name\ntext,q\n".to_vec(),
        XLSX_MEDIA_TYPE,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.json()["errors"][0]["message_en"]
        .as_str()
        .unwrap()
        .contains("not an .xlsx"));
}

#[tokio::test]
async fn another_content_type_is_a_415_naming_the_one_expected() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let body = std::fs::read(&corpus("")[0]).unwrap();
    for content_type in ["application/json", "application/octet-stream", "text/csv"] {
        let r = post_workbook(&ctx, Some(&coord), body.clone(), content_type).await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let m = r.json();
        assert!(
            m["message_en"].as_str().unwrap().contains(XLSX_MEDIA_TYPE),
            "{m}"
        );
        assert!(m["message"].as_str().unwrap().contains(content_type), "{m}");
    }
    // Parameters and case do not matter.
    let typed = format!("{}; charset=binary", XLSX_MEDIA_TYPE.to_uppercase());
    let r = post_workbook(&ctx, Some(&coord), body, &typed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_workbook_over_10_mib_is_a_413_stating_the_limit() {
    let ctx = Ctx::new().await;
    let coord = ctx.login_as(Role::Coordinator).await;
    let r = post_workbook(
        &ctx,
        Some(&coord),
        vec![b'P'; MAX_XLSFORM_BYTES + 1],
        XLSX_MEDIA_TYPE,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let body = r.json();
    assert_eq!(body["max_bytes"], MAX_XLSFORM_BYTES);
    assert!(
        body["message_en"].as_str().unwrap().contains("10 MiB"),
        "{body}"
    );
}

#[tokio::test]
async fn analysts_and_devices_may_not_import_and_nobody_without_a_token() {
    let (ctx, _coord, _device, device) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let body = std::fs::read(&corpus("")[0]).unwrap();
    for token in [analyst.as_str(), device.as_str()] {
        let r = post_workbook(&ctx, Some(token), body.clone(), XLSX_MEDIA_TYPE).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = post_workbook(&ctx, None, body, XLSX_MEDIA_TYPE).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
