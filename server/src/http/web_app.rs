//! The phone app's static files at `/app/` ([`web_app`]: compressed, with security
//! headers, revalidated on every load so that a new version is picked up; the service
//! worker keeps the app offline), the coordinators' console at `/console/` (`web/console/`,
//! served the same way, [`console`]), `/` leading to the console (whose sign-in page links
//! to the phone app), the health checks and the OpenAPI document.

use std::path::Path as FsPath;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::db;
use crate::AppState;

/// The OpenAPI 3.1 description of every route.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub(super) fn routes(web_dir: &FsPath) -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/app", get(to_app))
        .route("/console", get(to_console))
        .nest_service("/app/", web_app(web_dir))
        .nest_service("/console/", console(&web_dir.join("console")))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi))
}

async fn healthz() -> &'static str {
    "ok"
}

/// `ok` when the database answers (with the embedded PostgreSQL's restarts, if any), else
/// 503 (saying since when it is being restarted, if it is).
async fn readyz(State(state): State<AppState>) -> Response {
    let health = &state.database;
    let restarts = match health.restarts() {
        0 => String::new(),
        n => format!(" (PostgreSQL redémarré {n} fois / restarted {n} times)"),
    };
    match tokio::time::timeout(Duration::from_secs(3), db::ping(&state.pool)).await {
        Ok(Ok(())) => (StatusCode::OK, format!("ok{restarts}")).into_response(),
        _ => {
            let down = health
                .down_since()
                .map(|t| {
                    let t = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    format!(" (PostgreSQL arrêté depuis {t}, redémarrage en cours / down since {t}, restarting)")
                })
                .unwrap_or_default();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("database unavailable{down}{restarts}"),
            )
                .into_response()
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// `/`: to the console (a temporary redirect: the root may serve something else one day).
/// Interviewers arrive by their enrolment link, at `/app/`; the console's sign-in page
/// links to the app for those who land here.
async fn root() -> Redirect {
    Redirect::temporary("/console/")
}

/// `/console`: to `/console/`, for good.
async fn to_console() -> Redirect {
    Redirect::permanent("/console/")
}

/// `/app`: to `/app/`, for good (the app's relative links need the trailing slash).
async fn to_app() -> Redirect {
    Redirect::permanent("/app/")
}

/// The Content-Security-Policy of the app's pages: its own scripts and the WebAssembly
/// client (`'wasm-unsafe-eval'`), photos shown from `blob:`/`data:` URLs, requests to this
/// server only, no inline script or style, no framing.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; \
    manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// The console's: the app's, and the OpenStreetMap tiles of the responses' map (images from
/// one tile server; the map's own code, Leaflet, is served from `web/console/vendor/`).
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' blob: data: https://tile.openstreetmap.org; \
    connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The phone app's static files, from `dir`: media types by extension (`.wasm` is
/// `application/wasm`, `.webmanifest` `application/manifest+json`), compressed (br or gzip,
/// as the browser asks; the wasm and the scripts included; a precompressed `FILE.br` or
/// `FILE.gz` beside a file is sent instead when present), with security headers and
/// `Cache-Control: no-cache`.
///
/// Why `no-cache` on every file, not only `index.html` and `sw.js`: the file names carry no
/// content hash, and the wasm-bindgen glue (`pkg/*.js`) must match its `.wasm` exactly, so a
/// cached old half with a new other half would break the app. `no-cache` still lets the
/// browser keep the files and revalidate them (`Last-Modified` → 304), and once the service
/// worker is installed it answers from its own cache without asking the network at all.
pub fn web_app(dir: &FsPath) -> StaticDir {
    static_dir(dir, "/app", is_app_file)
}

/// The console's static files, from `dir` (`web/console/`), as [`web_app`] serves the app's:
/// only its own top-level pages, scripts and styles. It loads the phone app's shared modules
/// from `/app/` (same origin), so they exist once.
pub fn console(dir: &FsPath) -> StaticDir {
    static_dir(dir, "/console", is_console_file)
}

/// What [`web_app`] and [`console`] return.
pub type StaticDir = axum::routing::Router;

/// The files of `dir` mounted at `prefix`, those `allowed` passes (others: 404).
fn static_dir(dir: &FsPath, prefix: &'static str, allowed: fn(&str) -> bool) -> StaticDir {
    let service = tower::ServiceBuilder::new()
        .map_response(move |res| static_headers(res, prefix))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                if allowed(request.uri().path()) {
                    next.run(request).await
                } else {
                    crate::error::AppError::not_found().into_response()
                }
            },
        ))
        // The default predicate compresses everything but images (SVG excepted), gRPC,
        // server-sent events and bodies under 32 bytes: `application/wasm` is compressed.
        .layer(CompressionLayer::new().br(true).gzip(true))
        // A file built with a `.br` / `.gz` beside it (compressed once, at the highest
        // level, by the build) is sent as is; any other is compressed on the fly.
        .service(ServeDir::new(dir).precompressed_br().precompressed_gzip());
    axum::routing::Router::new().fallback_service(service)
}

/// Whether `path` (below `/console`) is one of the console's files: its pages, scripts and
/// styles at the top of `web/console/`, and the scripts, styles and images of the libraries
/// vendored one folder deep in `vendor/` (Leaflet).
pub fn is_console_file(path: &str) -> bool {
    let name = path.trim_start_matches('/');
    let code = |n: &str| n.ends_with(".html") || n.ends_with(".js") || n.ends_with(".css");
    if let Some(rest) = name.strip_prefix("vendor/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let (lib, file) = match parts.as_slice() {
            [lib, file] => (*lib, *file),
            [lib, "images", file] => (*lib, *file),
            _ => return false,
        };
        return !lib.is_empty()
            && !lib.starts_with('.')
            && !file.starts_with('.')
            && !file.ends_with(".html")
            && (code(file) || file.ends_with(".png"));
    }
    name.is_empty() || (!name.contains('/') && code(name))
}

/// Whether `path` (below `/app`) is one of the app's own files: the pages, scripts and styles
/// at the top, its icons, and the WebAssembly client in `pkg/` (not its type declarations).
/// Nothing else of the folder (its tests, tools, README) is served.
pub fn is_app_file(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    let top_level = |p: &str| {
        !p.contains('/')
            && (p.ends_with(".html")
                || p.ends_with(".js")
                || p.ends_with(".css")
                || p == "manifest.webmanifest")
    };
    let (dir, name) = path.split_once('/').unwrap_or(("", path));
    match dir {
        // `pkg` and `icons` themselves: ServeDir redirects them to their folder.
        "" => name.is_empty() || top_level(name) || name == "pkg" || name == "icons",
        "icons" => !name.contains('/'),
        "pkg" => !name.contains('/') && !name.ends_with(".d.ts"),
        _ => false,
    }
}

/// The headers of every static file; `prefix` is where the directory is mounted.
fn static_headers<B>(mut res: axum::http::Response<B>, prefix: &str) -> axum::http::Response<B> {
    let h = res.headers_mut();
    // ServeDir redirects a directory to its path with a slash, but it sees the path below
    // the prefix: put the prefix back.
    if let Some(location) = h.get(header::LOCATION).and_then(|l| l.to_str().ok()) {
        if location.starts_with('/') && !location.starts_with("//") {
            if let Ok(v) = HeaderValue::from_str(&format!("{prefix}{location}")) {
                h.insert(header::LOCATION, v);
            }
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if prefix == "/console" {
            CONSOLE_CSP
        } else {
            APP_CSP
        }),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::{is_app_file, is_console_file};

    #[test]
    fn only_the_consoles_own_files_and_its_vendored_libraries_are_served() {
        for ok in [
            "/",
            "/index.html",
            "/console.js",
            "/console.css",
            "/vendor/leaflet/leaflet.js",
            "/vendor/leaflet/leaflet.css",
            "/vendor/leaflet/images/marker-icon.png",
            "/vendor/leaflet.markercluster/MarkerCluster.css",
        ] {
            assert!(is_console_file(ok), "{ok}");
        }
        for no in [
            "/README.md",
            "/vendor/",
            "/vendor/leaflet",
            "/vendor/leaflet/LICENSE",
            "/vendor/leaflet/package.json",
            "/vendor/leaflet/a/b.js",
            "/vendor/leaflet/images/x/y.png",
            "/vendor/.git/config",
            "/vendor/leaflet/.hidden.js",
            "/vendor/leaflet/page.html",
            "/tests/x.js",
        ] {
            assert!(!is_console_file(no), "{no}");
        }
    }

    #[test]
    fn only_the_apps_own_files_are_served() {
        for ok in [
            "/",
            "/index.html",
            "/app.js",
            "/style.css",
            "/sw.js",
            "/manifest.webmanifest",
            "/icons/icon-192.png",
            "/pkg/parole_wasm_bg.wasm",
            "/pkg/parole_wasm.js",
        ] {
            assert!(is_app_file(ok), "{ok}");
        }
        for no in [
            "/tests/helpers.js",
            "/tests/",
            "/tools/make-icons.mjs",
            "/README.md",
            "/pkg/parole_wasm.d.ts",
            "/icons/a/b.png",
            "/node_modules/x.js",
            "/.git/config",
        ] {
            assert!(!is_app_file(no), "{no}");
        }
    }
}
