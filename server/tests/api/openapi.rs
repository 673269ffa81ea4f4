//! The OpenAPI document describes every route of the router, and only those.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::Ctx;

/// The router's source, read at run time: `src/http.rs` if it exists, and every `.rs` file
/// under `src/http/` if that folder exists (the router split into one module per resource);
/// without its comment lines, so that a comment quoting `.route(…)` is not taken for a route.
fn router_source() -> String {
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    if src.join("http.rs").is_file() {
        files.push(src.join("http.rs"));
    }
    if src.join("http").is_dir() {
        rust_files(&src.join("http"), &mut files);
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "neither {0}/http.rs nor {0}/http/ exists",
        src.display()
    );
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f)
                .unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
            text.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The routes declared in the router's source: `.route("PATH", METHOD(...).METHOD(...))`.
fn declared_routes() -> Vec<(String, Vec<String>)> {
    let src = router_source();
    let mut out = Vec::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        assert!(
            rest.trim_start().starts_with('"'),
            "a route whose path is not a string literal: .route({}",
            rest.chars().take(80).collect::<String>()
        );
        let start = rest.find('"').unwrap() + 1;
        let end = start + rest[start..].find('"').unwrap();
        let path = rest[start..end].to_string();
        // The handler expression runs to the matching close parenthesis.
        let mut depth = 1;
        let mut j = end;
        for (k, c) in rest[end..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        j = end + k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let handlers = &rest[end..j];
        let methods = ["get", "head", "post", "put", "delete", "patch"]
            .iter()
            .filter(|m| {
                handlers.contains(&format!(" {m}("))
                    || handlers.contains(&format!(".{m}("))
                    || handlers.contains(&format!("\n{m}("))
                    || handlers.contains(&format!(",{m}("))
            })
            .map(|m| m.to_string())
            .collect();
        out.push((path, methods));
    }
    out
}

#[tokio::test]
async fn every_route_of_the_router_appears_in_the_openapi_document() {
    let ctx = Ctx::new().await;
    let r = ctx.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc: Value = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();

    let routes = declared_routes();
    assert!(routes.len() >= 20, "{routes:?}");
    for (path, methods) in &routes {
        assert!(!methods.is_empty(), "no method found for {path}");
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing from openapi.json"));
        for m in methods {
            assert!(
                item.get(m).is_some(),
                "{m} {path} is missing from openapi.json"
            );
        }
    }
    // And the document describes no route the router lacks.
    for (path, item) in paths {
        let declared = routes
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is in openapi.json but not in the router"));
        for m in item.as_object().unwrap().keys() {
            assert!(
                declared.1.contains(m),
                "{m} {path} is in openapi.json but not in the router"
            );
        }
    }
    // The router really serves each documented path (not the 404 fallback).
    for (path, item) in paths {
        let concrete = path
            .replace("{slug}", "inconnu")
            .replace("{n}", "1")
            .replace("{name}", &format!("sha256:{}", "0".repeat(64)))
            .replace("{id}", "00000000-0000-7000-8000-000000000000");
        for m in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = ctx.call(method, &concrete, None, None).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            if r.status == StatusCode::NOT_FOUND {
                // Only a real handler's 404 (unknown slug) is acceptable, never for an
                // unauthenticated call: those get 401 first.
                panic!("{m} {path} reached the fallback");
            }
        }
    }
}
