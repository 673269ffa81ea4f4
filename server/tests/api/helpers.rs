//! Helpers for the router tests: a fresh database per test, the router driven with
//! `tower::ServiceExt::oneshot`, and shortcuts for the usual set-up.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use parole_client::api::Role;
use parole_server::testing::{test_db, TestDb};
use parole_server::AppState;
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

pub const BESOINS: &str = include_str!("../../../schemas/examples/besoins-formation.json");
pub const HABITANTS: &str = include_str!("../../../schemas/examples/parole-habitants.json");

pub fn besoins() -> Value {
    serde_json::from_str(BESOINS).unwrap()
}

/// A complete valid interview for `besoins-formation` (from its cases file).
pub fn besoins_answers() -> Value {
    json!({
        "conseil": "dervallieres",
        "role": "habitant",
        "annee_entree": 2021,
        "formations_suivies": [
            {"intitule": "Comprendre le contrat de ville", "date": "2024-03-09", "utilite": 4, "a_recommander": true},
            {"intitule": "Animer une réunion", "utilite": 2, "a_recommander": false, "pourquoi_pas": "Trop théorique"}
        ],
        "themes": ["budget", "prise_de_parole"],
        "format_prefere": "atelier",
        "heures_par_mois": 4.5,
        "prochaine_dispo": "2025-02-01",
        "besoin_garde": true
    })
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).unwrap()
    }
}

pub struct Ctx {
    pub db: TestDb,
    pub app: Router,
}

impl Ctx {
    pub async fn new() -> Ctx {
        let db = test_db().await;
        let app = parole_server::router(AppState::new(db.pool.clone()));
        Ctx { db, app }
    }

    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let typed = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if !body.is_empty() && !typed {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        self.raw(method, uri, token, &[], body).await
    }

    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    /// A user with `role` (created directly), logged in: their token.
    pub async fn login_as(&self, role: Role) -> String {
        self.login_named(&format!("{role:?}").to_lowercase(), role)
            .await
    }

    /// A user named `username` with `role` (created directly), logged in: their token.
    pub async fn login_named(&self, username: &str, role: Role) -> String {
        parole_server::create_user(&self.db.pool, username, role, "mot-de-passe-solide")
            .await
            .unwrap();
        let r = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": "mot-de-passe-solide"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_string()
    }

    /// Creates and publishes a questionnaire; returns the version.
    pub async fn publish(&self, coordinator: &str, slug: &str, document: Value) -> i64 {
        let exists = self
            .get(&format!("/api/v1/questionnaires/{slug}"), coordinator)
            .await;
        if exists.status == StatusCode::NOT_FOUND {
            let r = self
                .post(
                    "/api/v1/questionnaires",
                    Some(coordinator),
                    json!({"slug": slug, "document": document}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        } else {
            let r = self
                .call(
                    Method::PUT,
                    &format!("/api/v1/questionnaires/{slug}/draft"),
                    Some(coordinator),
                    Some(json!({"document": document})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        }
        let r = self
            .post(
                &format!("/api/v1/questionnaires/{slug}/publish"),
                Some(coordinator),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["version"].as_i64().unwrap()
    }

    /// An interviewer with an enrolled device: (device id, device token).
    pub async fn enrol_device(&self, coordinator: &str) -> (Uuid, String) {
        let r = self
            .post(
                "/api/v1/interviewers",
                Some(coordinator),
                json!({"name": "Awa Diallo"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let code = r.json()["enrolment_code"].as_str().unwrap().to_string();
        let r = self
            .post(
                "/api/v1/enrol",
                None,
                json!({"code": code, "device_name": "Téléphone 1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let v = r.json();
        (
            Uuid::parse_str(v["device_id"].as_str().unwrap()).unwrap(),
            v["token"].as_str().unwrap().to_string(),
        )
    }

    /// The usual set-up: a coordinator, `besoins-formation` version 1, an enrolled device.
    pub async fn with_device() -> (Ctx, String, Uuid, String) {
        let ctx = Ctx::new().await;
        let coord = ctx.login_as(Role::Coordinator).await;
        ctx.publish(&coord, "besoins-formation", besoins()).await;
        let (device, token) = ctx.enrol_device(&coord).await;
        (ctx, coord, device, token)
    }

    pub async fn push(&self, device_token: &str, responses: Vec<Value>) -> Reply {
        self.post(
            "/api/v1/sync/responses",
            Some(device_token),
            json!({"responses": responses, "device_state": {"queued": 0, "drafts": 1, "app_version": "0.1.0"}}),
        )
        .await
    }
}

/// A response to `besoins-formation` v1 with a fresh id.
pub fn response(answers: Value) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "questionnaire": "besoins-formation",
        "version": 1,
        "answers": answers,
        "started_at": "2025-03-14T18:30:00+01:00",
        "completed_at": "2025-03-14T18:42:10+01:00",
    })
}

/// The per-item results of a push answered 200.
pub fn results(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["results"].as_array().unwrap().clone()
}

/// The NDJSON export of `slug`, as `token` gets it, one value per line.
pub async fn ndjson_export(ctx: &Ctx, slug: &str, token: &str) -> Vec<Value> {
    ctx.get(
        &format!("/api/v1/questionnaires/{slug}/responses.ndjson"),
        token,
    )
    .await
    .text()
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

/// How many responses the database holds.
pub async fn stored_count(ctx: &Ctx) -> i64 {
    sqlx::query_scalar("select count(*) from response")
        .fetch_one(&ctx.db.pool)
        .await
        .unwrap()
}
