//! The authorisation matrix: every route of the API × every kind of caller, with the
//! expected answer in one table. A route the OpenAPI document lists (and the OpenAPI test
//! holds it equal to the router) without a row here fails the test, and so does a row for a
//! route that does not exist.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::helpers::*;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    /// Anyone, without a token.
    Public,
    /// Any valid token: a staff session or a device.
    AnyToken,
    /// These roles (admin always passes where a staff role does), and/or devices.
    Only(&'static [Caller]),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Admin,
    Coordinator,
    Analyst,
    Device,
}

use Caller::*;

const READERS: &[Caller] = &[Admin, Coordinator, Analyst];
const COORDINATORS: &[Caller] = &[Admin, Coordinator];

/// The table: `(method, path as in openapi.json, who may call it)`.
const MATRIX: &[(&str, &str, Who)] = &[
    ("get", "/", Who::Public),
    ("get", "/app", Who::Public),
    ("get", "/console", Who::Public),
    ("get", "/healthz", Who::Public),
    ("get", "/readyz", Who::Public),
    ("get", "/metrics", Who::Only(READERS)),
    ("get", "/api/openapi.json", Who::Public),
    ("post", "/api/v1/auth/login", Who::Public),
    ("post", "/api/v1/auth/logout", Who::AnyToken),
    ("get", "/api/v1/auth/me", Who::Only(READERS)),
    ("put", "/api/v1/auth/password", Who::Only(READERS)),
    ("post", "/api/v1/users", Who::Only(&[Admin])),
    ("get", "/api/v1/users", Who::Only(&[Admin])),
    ("patch", "/api/v1/users/{id}", Who::Only(&[Admin])),
    ("get", "/api/v1/questionnaires", Who::Only(READERS)),
    ("post", "/api/v1/questionnaires", Who::Only(COORDINATORS)),
    ("get", "/api/v1/questionnaires/{slug}", Who::Only(READERS)),
    (
        "put",
        "/api/v1/questionnaires/{slug}/draft",
        Who::Only(COORDINATORS),
    ),
    (
        "post",
        "/api/v1/questionnaires/{slug}/publish",
        Who::Only(COORDINATORS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/changes",
        Who::Only(COORDINATORS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/versions/{n}",
        Who::Only(READERS),
    ),
    (
        "post",
        "/api/v1/questionnaires/{slug}/versions/{n}/retire",
        Who::Only(COORDINATORS),
    ),
    (
        "post",
        "/api/v1/questionnaires/{slug}/versions/{n}/revoke",
        Who::Only(COORDINATORS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/responses.ndjson",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/responses.csv",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/responses.xlsx",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/responses.geojson",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/photos.zip",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/collection",
        Who::Only(COORDINATORS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/responses",
        Who::Only(READERS),
    ),
    (
        "get",
        "/api/v1/questionnaires/{slug}/summary",
        Who::Only(READERS),
    ),
    (
        "put",
        "/api/v1/questionnaires/{slug}/settings",
        Who::Only(COORDINATORS),
    ),
    ("get", "/api/v1/responses/{id}", Who::Only(READERS)),
    (
        "put",
        "/api/v1/responses/{id}/review",
        Who::Only(COORDINATORS),
    ),
    ("get", "/api/v1/interviewers", Who::Only(COORDINATORS)),
    ("post", "/api/v1/interviewers", Who::Only(COORDINATORS)),
    (
        "post",
        "/api/v1/interviewers/{id}/enrolment-code",
        Who::Only(COORDINATORS),
    ),
    ("post", "/api/v1/enrol", Who::Public),
    ("post", "/api/v1/qr", Who::Only(COORDINATORS)),
    ("get", "/api/v1/devices", Who::Only(COORDINATORS)),
    ("delete", "/api/v1/devices/{id}", Who::Only(COORDINATORS)),
    ("get", "/api/v1/sync/questionnaires", Who::Only(&[Device])),
    ("post", "/api/v1/sync/responses", Who::Only(&[Device])),
    ("get", "/api/v1/attachments/{name}", Who::Only(READERS)),
    (
        "head",
        "/api/v1/attachments/{name}",
        Who::Only(&[Admin, Coordinator, Analyst, Device]),
    ),
    ("put", "/api/v1/attachments/{name}", Who::Only(&[Device])),
    ("post", "/api/v1/xlsform", Who::Only(COORDINATORS)),
];

fn concrete(path: &str) -> String {
    path.replace("{slug}", "besoins-formation")
        .replace("{n}", "1")
        .replace("{name}", &format!("sha256:{}", "0".repeat(64)))
        .replace("{id}", "00000000-0000-7000-8000-000000000000")
}

/// Tokens that must all be refused with 401 on a route that needs one.
struct Refused {
    malformed: &'static str,
    unknown: String,
    expired: String,
    logged_out: String,
    revoked_device: String,
    disabled_account: String,
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_matrix_says() {
    let (ctx, coord, _device, device) = Ctx::with_device().await;
    let admin = ctx.login_as(Role::Admin).await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let login = |username: &'static str| {
        let ctx = &ctx;
        async move {
            let r = ctx
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"username": username, "password": "mot-de-passe-solide"}),
                )
                .await;
            r.json()["token"].as_str().unwrap().to_string()
        }
    };

    // The tokens that no longer open anything.
    let logged_out = login("analyst").await;
    assert_eq!(
        ctx.post("/api/v1/auth/logout", Some(&logged_out), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let expired = login("analyst").await;
    sqlx::query("update token set created_at = now() - interval '1 day' where token_hash = $1")
        .bind(parole_server::auth::sha256_hex(&expired))
        .execute(&ctx.db.pool)
        .await
        .unwrap();
    let (lost, revoked_device) = ctx.enrol_device(&coord).await;
    let r = ctx
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{lost}"),
            Some(&coord),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    parole_server::create_user(
        &ctx.db.pool,
        "partie",
        Role::Coordinator,
        "mot-de-passe-solide",
    )
    .await
    .unwrap();
    let disabled_account = login("partie").await;
    let users = ctx.get("/api/v1/users", &admin).await.json();
    let partie = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "partie")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ctx
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{partie}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let refused = Refused {
        malformed: "pas un jeton",
        unknown: "0".repeat(64),
        expired,
        logged_out,
        revoked_device,
        disabled_account,
    };
    assert_eq!(
        ctx.get("/api/v1/questionnaires", &refused.expired)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the expired session is expired"
    );

    // The table covers exactly the documented routes.
    let doc: Value = ctx
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .json();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let rows: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(rows.len(), MATRIX.len(), "a route has two rows");
    let missing: Vec<_> = documented.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "no row in the authorisation matrix for {missing:?}"
    );
    let extra: Vec<_> = rows.difference(&documented).collect();
    assert!(
        extra.is_empty(),
        "in the matrix but not in the API: {extra:?}"
    );

    let callers = [
        (Admin, admin.as_str()),
        (Coordinator, coord.as_str()),
        (Analyst, analyst.as_str()),
        (Device, device.as_str()),
    ];
    for &(method, path, who) in MATRIX {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let uri = concrete(path);
        let call = |token: Option<String>| {
            let (ctx, method, uri) = (&ctx, method.clone(), uri.clone());
            async move {
                ctx.call(method, &uri, token.as_deref(), Some(json!({})))
                    .await
                    .status
            }
        };
        let what = format!("{method} {path}");
        if who == Who::Public {
            let status = call(None).await;
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} without a token: {status}"
            );
            continue;
        }
        // No token, or one that opens nothing: 401.
        let dead = [
            None,
            Some(refused.malformed.to_string()),
            Some(refused.unknown.clone()),
            Some(refused.expired.clone()),
            Some(refused.logged_out.clone()),
            Some(refused.revoked_device.clone()),
            Some(refused.disabled_account.clone()),
        ];
        for token in dead {
            let shown = format!("{token:?}");
            assert_eq!(
                call(token).await,
                StatusCode::UNAUTHORIZED,
                "{what} with {shown}"
            );
        }
        for (caller, token) in callers {
            // Logging out ends the session: each caller logs out a fresh one of its own.
            let token = if path == "/api/v1/auth/logout" {
                match caller {
                    Device => ctx.enrol_device(&coord).await.1,
                    Admin => login("admin").await,
                    Coordinator => login("coordinator").await,
                    Analyst => login("analyst").await,
                }
            } else {
                token.to_string()
            };
            let allowed = match who {
                Who::AnyToken => true,
                Who::Only(list) => list.contains(&caller),
                Who::Public => unreachable!(),
            };
            let status = call(Some(token)).await;
            if allowed {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what} as {caller:?}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {caller:?}");
            }
        }
    }
}
