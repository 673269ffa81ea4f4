//! The phone app's static files at `/app/`: caching, compression, media types, security
//! headers, redirects.

use std::io::Read;

use axum::http::{Method, StatusCode};
use parole_server::AppState;

use crate::helpers::*;

const INDEX: &str = "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
    <title>Parole</title><link rel=\"manifest\" href=\"manifest.webmanifest\">\
    <script type=\"module\" src=\"app.js\"></script></head><body><main id=\"app\">\
    Chargement de Parole, l'application des enquêteurs et enquêtrices…</main></body></html>";

/// A router serving a temporary web directory like `web/`.
async fn with_web_dir() -> (Ctx, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    std::fs::write(
        dir.path().join("sw.js"),
        "self.addEventListener('install', (e) => e.waitUntil(caches.open('parole-v1')));\n"
            .repeat(20),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.js"),
        "import init from './pkg/client_wasm.js';\nawait init();\n".repeat(50),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("manifest.webmanifest"),
        r#"{"name": "Parole", "start_url": "/app/", "display": "standalone", "icons": []}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(dir.path().join("pkg/client_wasm_bg.wasm"), wasm).unwrap();
    std::fs::create_dir(dir.path().join("console")).unwrap();
    std::fs::write(
        dir.path().join("console/index.html"),
        INDEX.replace("app.js", "console.js"),
    )
    .unwrap();
    std::fs::write(dir.path().join("console/console.js"), "export {};\n").unwrap();
    std::fs::write(dir.path().join("console/NOTES.md"), "not served").unwrap();
    std::fs::create_dir(dir.path().join("console/tests")).unwrap();
    std::fs::write(dir.path().join("console/tests/t.js"), "not served").unwrap();
    let db = parole_server::testing::test_db().await;
    let app = parole_server::router(AppState::new(db.pool.clone()).with_web_dir(dir.path()));
    (Ctx { db, app }, dir)
}

async fn get_app(ctx: &Ctx, path: &str, encoding: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = encoding
        .map(|e| vec![("accept-encoding", e)])
        .unwrap_or_default();
    ctx.raw(Method::GET, path, None, &headers, Vec::new()).await
}

fn decode(reply: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    match reply
        .headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap())
    {
        Some("br") => {
            brotli_decompressor::Decompressor::new(reply.bytes.as_slice(), 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(reply.bytes.as_slice())
                .read_to_end(&mut out)
                .unwrap();
        }
        None => out = reply.bytes.clone(),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    out
}

#[tokio::test]
async fn the_app_is_served_at_app_with_no_cache_and_compressed_when_asked() {
    let (ctx, _dir) = with_web_dir().await;
    for path in ["/app/", "/app/index.html"] {
        let r = get_app(&ctx, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers["cache-control"], "no-cache");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(r.text(), INDEX);
        assert!(r.headers.get("content-encoding").is_none());
    }
    for encoding in ["br", "gzip"] {
        let r = get_app(&ctx, "/app/", Some(encoding)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-encoding"], encoding);
        assert_eq!(r.headers["cache-control"], "no-cache");
        assert!(r.headers["vary"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("accept-encoding"));
        assert_eq!(decode(&r), INDEX.as_bytes());
    }
    // Brotli is preferred when both are accepted.
    let r = get_app(&ctx, "/app/", Some("gzip, deflate, br")).await;
    assert_eq!(r.headers["content-encoding"], "br");

    let r = get_app(&ctx, "/app/sw.js", Some("gzip")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-cache");
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(r.headers["content-encoding"], "gzip");
}

#[tokio::test]
async fn the_wasm_and_the_manifest_have_their_media_types_and_the_wasm_is_compressed() {
    let (ctx, dir) = with_web_dir().await;
    let r = get_app(&ctx, "/app/pkg/client_wasm_bg.wasm", Some("br")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/wasm");
    assert_eq!(r.headers["content-encoding"], "br");
    let wasm = std::fs::read(dir.path().join("pkg/client_wasm_bg.wasm")).unwrap();
    assert!(r.bytes.len() < wasm.len() / 4);
    assert_eq!(decode(&r), wasm);

    // A precompressed copy beside the file is sent when the browser accepts it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &wasm).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.path().join("pkg/client_wasm_bg.wasm.gz"), &gz).unwrap();
    let r = get_app(&ctx, "/app/pkg/client_wasm_bg.wasm", Some("gzip")).await;
    assert_eq!(r.headers["content-type"], "application/wasm");
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(r.bytes, gz);
    assert_eq!(decode(&r), wasm);

    let r = get_app(&ctx, "/app/manifest.webmanifest", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/manifest+json");
    assert_eq!(
        get_app(&ctx, "/app/absent.js", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_app_is_sent_with_security_headers_that_allow_its_wasm() {
    let (ctx, _dir) = with_web_dir().await;
    for path in ["/app/", "/app/app.js", "/app/pkg/client_wasm_bg.wasm"] {
        let r = get_app(&ctx, path, None).await;
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "img-src 'self' blob: data:",
            "connect-src 'self'",
            "style-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
}

#[tokio::test]
async fn the_root_leads_to_the_console_and_each_folder_without_its_slash_to_itself() {
    let (ctx, _dir) = with_web_dir().await;
    for (path, to) in [
        ("/", "/console/"),
        ("/console", "/console/"),
        ("/app", "/app/"),
    ] {
        let r = get_app(&ctx, path, None).await;
        assert!(r.status.is_redirection(), "{path}: {}", r.status);
        assert_eq!(r.headers["location"], to, "{path}");
    }
    // A directory without its slash: to the directory, under /app/.
    let r = get_app(&ctx, "/app/pkg", None).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    assert_eq!(r.headers["location"], "/app/pkg/");
    // The API is still the API.
    let r = ctx.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.text(), "ok");
    let r = ctx.call(Method::GET, "/nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_apps_own_files_are_served_not_its_tests_or_tools() {
    let (ctx, dir) = with_web_dir().await;
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/helpers.js"),
        "export const secret = 1;",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "# notes").unwrap();
    for path in ["/app/tests/helpers.js", "/app/README.md", "/app/tests/"] {
        let r = get_app(&ctx, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    for path in ["/app/", "/app/app.js", "/app/pkg/client_wasm_bg.wasm"] {
        assert_eq!(
            get_app(&ctx, path, None).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_console_serves_its_own_pages_and_scripts_with_the_same_headers_and_nothing_else() {
    let (ctx, _dir) = with_web_dir().await;
    for (path, media) in [
        ("/console/", "text/html"),
        ("/console/index.html", "text/html"),
        ("/console/console.js", "text/javascript"),
    ] {
        let r = get_app(&ctx, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let ct = r.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with(media), "{path}: {ct}");
        assert_eq!(r.headers["cache-control"], "no-cache", "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    }
    for path in [
        "/console/NOTES.md",
        "/console/tests/t.js",
        "/console/tests/",
    ] {
        let r = get_app(&ctx, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The app's folder does not serve the console's files, nor the reverse.
    let r = get_app(&ctx, "/app/console/console.js", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get_app(&ctx, "/console/app.js", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
