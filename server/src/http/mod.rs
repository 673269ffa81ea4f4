//! The HTTP API v1: one module per resource, each with its own `routes()`, merged here by
//! [`router`]. Handlers check the caller's role with the extractors below (before reading the
//! body, so a wrong role is a 403 whatever the body), read typed paths, queries and bodies
//! ([`ApiPath`], [`ApiQuery`], [`ApiJson`]: their rejections are [`AppError`]s in the API's
//! error shape), call the domain and storage layers, and answer with `parole_client::api`
//! types. The routes are described in `server/openapi.json` (served at
//! `/api/openapi.json`; a test checks both directions against the `.route(…)` calls of
//! this folder).
//!
//! - [`accounts`]: login, logout, staff accounts.
//! - [`questionnaires`]: drafts, publishing, versions, retiring a version.
//! - [`exports`]: the responses of a questionnaire, NDJSON and CSV.
//! - [`responses`]: responses a page at a time and one by one, their review, and the
//!   questionnaire setting that shows analysts the approved ones only.
//! - [`summary`]: the figures of every question (counts, percentages, numbers, days),
//!   filtered, optionally per value of another question; computed by PostgreSQL.
//! - [`devices`]: interviewers, enrolment codes, enrolment, devices.
//! - [`sync`]: what devices pull and push.
//! - [`attachments`]: photos, by their SHA-256.
//! - [`xlsform`]: an XLSForm workbook converted to a questionnaire document (nothing saved).
//! - [`web_app`]: the phone app's static files at `/app/`, health and the OpenAPI document.

mod accounts;
mod attachments;
mod collection;
mod devices;
mod exports;
mod filters;
mod qr;
mod questionnaires;
mod responses;
pub mod summary;
mod sync;
mod web_app;
mod xlsform;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parole_client::api::Role;
use parole_client::i18n::{shown, Message};
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::auth;
use crate::db::{self, TokenOwner};
use crate::domain::Slug;
use crate::error::{from_value_with_path, json_syntax_error, refuse_nul_characters, AppError};
use crate::AppState;

pub use web_app::{web_app, APP_CSP, OPENAPI_JSON};

/// The API's router: every resource's routes, each kind within its time limit, a JSON 404
/// for the rest.
pub fn router(state: AppState) -> Router {
    let limits = state.time_limits;
    // Uploads read their bodies (up to 8 or 10 MiB) into memory: past UPLOADS_AT_ONCE they
    // wait their turn, their bodies still in the network's buffers, so a burst of phones
    // coming back online costs time, not memory.
    let uploads = Router::new()
        .merge(sync::routes())
        .merge(attachments::routes())
        .merge(xlsform::routes())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            UPLOADS_AT_ONCE,
        ));
    let api = Router::new()
        .merge(accounts::routes())
        .merge(questionnaires::routes())
        .merge(exports::routes())
        .merge(responses::routes())
        .merge(summary::routes())
        .merge(devices::routes())
        .merge(qr::routes())
        .merge(collection::routes());
    Router::new()
        .merge(web_app::routes(&state.web_dir))
        .merge(within(api, limits.api))
        .merge(within(uploads, limits.upload))
        .route("/metrics", get(metrics))
        .fallback(|| async { AppError::not_found() })
        .layer(axum::middleware::from_fn(crate::metrics::track))
        // Logs method, path and status only: no headers (tokens), no bodies (answers).
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: Prometheus' text format, for a staff account or the scraper's token
/// (`PAROLE_METRICS_TOKEN`, sent as `Authorization: Bearer …`); never public, never to a
/// phone.
async fn metrics(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    let mut parts = parts;
    let scraper = state.metrics_token_hash.as_ref().is_some_and(|hash| {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| auth::sha256_hex(t.trim()) == *hash)
    });
    if !scraper {
        let Reader(..) = Reader::from_request_parts(&mut parts, &state).await?;
    }
    let body = crate::metrics::METRICS.render(&state.pool, state.database.restarts());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// How many uploads (sync pushes, photos, workbooks) are read at once; the others wait.
pub const UPLOADS_AT_ONCE: usize = 32;

/// How long a request may take before it is answered 503 (a phone retries; nothing is
/// stored half: a push's transaction rolls back). An export's time is the time to start
/// streaming; a stalled reader is cut by [`crate::export::IDLE_STREAM`].
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    /// Every route but the uploads.
    pub api: Duration,
    /// Pushes, photo and workbook uploads: up to 8 or 10 MiB, from a phone on a poor
    /// network.
    pub upload: Duration,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self {
            api: Duration::from_secs(30),
            upload: Duration::from_secs(300),
        }
    }
}

fn within(routes: Router<AppState>, limit: Duration) -> Router<AppState> {
    routes.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                move |_: axum::BoxError| async move { timed_out(limit) },
            ))
            .timeout(limit),
    )
}

fn timed_out(limit: Duration) -> AppError {
    AppError::Busy {
        message: Message::new(
            format!(
                "la requête a dépassé {} s : réessayez (rien n'a été enregistré à moitié)",
                limit.as_secs_f64()
            ),
            format!(
                "the request took over {} s: try again (nothing was stored halfway)",
                limit.as_secs_f64()
            ),
        ),
        retry_after: Duration::from_secs(5),
    }
}

// ---------------------------------------------------------------------------------------------
// Who is calling

/// Who is calling: a user (with a role) or an enrolled device. Extracting it answers 401
/// when the `Authorization: Bearer` token is missing, unknown or revoked.
#[derive(Debug, Clone)]
pub struct Principal {
    pub owner: TokenOwner,
    pub token_hash: String,
}

impl Principal {
    /// The caller's user id when they are a user with one of `roles` (admin always passes);
    /// 403 otherwise.
    pub fn user(&self, roles: &[Role]) -> Result<Uuid, AppError> {
        match &self.owner {
            TokenOwner::User { id, role, .. } if *role == Role::Admin || roles.contains(role) => {
                Ok(*id)
            }
            _ => Err(AppError::Forbidden),
        }
    }

    /// The device id when the caller is a device; 403 otherwise.
    pub fn device(&self) -> Result<Uuid, AppError> {
        match &self.owner {
            TokenOwner::Device { id, .. } => Ok(*id),
            _ => Err(AppError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let unauthorized = |fr: &str, en: &str| AppError::Unauthorized(Message::new(fr, en));
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                unauthorized(
                    "authentification requise (Authorization: Bearer …)",
                    "authentication required (Authorization: Bearer …)",
                )
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthorized(
                    "en-tête Authorization invalide : attendu « Bearer <jeton> »",
                    "invalid Authorization header: expected `Bearer <token>`",
                )
            })?;
        let token_hash = auth::sha256_hex(token);
        let lookup = db::token_owner(
            &state.pool,
            &token_hash,
            auth::SESSION_IDLE,
            auth::SESSION_MAX,
        )
        .await?;
        match lookup {
            Some(db::TokenLookup::Live(owner)) => Ok(Principal { owner, token_hash }),
            Some(db::TokenLookup::Expired) => Err(unauthorized(
                "session expirée : reconnectez-vous",
                "session expired: sign in again",
            )),
            None => Err(unauthorized(
                "jeton inconnu ou révoqué",
                "unknown or revoked token",
            )),
        }
    }
}

/// A user with the `admin` role.
pub struct Admin(pub Uuid);
/// A coordinator (or admin).
pub struct Coordinator(pub Uuid);
/// A coordinator or analyst (or admin): may read questionnaires and export responses. With
/// the role, on which what an export includes depends.
pub struct Reader(pub Uuid, pub Role);
/// An enrolled, unrevoked device.
pub struct Device(pub Uuid);

macro_rules! role_extractor {
    ($name:ident, |$p:ident| $check:expr) => {
        impl FromRequestParts<AppState> for $name {
            type Rejection = AppError;
            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, AppError> {
                let $p = Principal::from_request_parts(parts, state).await?;
                Ok($name($check?))
            }
        }
    };
}
role_extractor!(Admin, |p| p.user(&[]));
role_extractor!(Coordinator, |p| p.user(&[Role::Coordinator]));
role_extractor!(Device, |p| p.device());

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let p = Principal::from_request_parts(parts, state).await?;
        let id = p.user(&[Role::Coordinator, Role::Analyst])?;
        match p.owner {
            db::TokenOwner::User { role, .. } => Ok(Reader(id, role)),
            db::TokenOwner::Device { .. } => Err(AppError::Forbidden),
        }
    }
}

/// The client's address, for the lock-outs on guessing: the TCP peer (`unknown` when the
/// server was not started with it, as in the router tests) or, behind a TLS proxy
/// (`--behind-proxy`), the last address in `X-Forwarded-For` — the one the proxy appended
/// (earlier ones come from the client and may be forged). Without a proxy the header is
/// ignored: anyone could send one.
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .behind_proxy
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        let address = forwarded.unwrap_or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into())
        });
        Ok(ClientAddress(address))
    }
}

/// The last address of the (last) `X-Forwarded-For` header, if it is one.
fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let ip: std::net::IpAddr = last
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(ip.to_string())
}

/// `Err(429)` while `key` is locked out in `throttle`.
fn not_locked_out(throttle: &crate::throttle::Throttle, key: &str) -> Result<(), AppError> {
    throttle
        .check(key)
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })
}

// ---------------------------------------------------------------------------------------------
// Typed request parts

/// `Json<T>` with the API's own rejection: malformed JSON → 400 naming line and column;
/// well-formed JSON of the wrong shape, or holding a NUL character PostgreSQL cannot store,
/// → 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| unreadable_body(&e))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| json_syntax_error(&e))?;
        refuse_nul_characters(&value)?;
        from_value_with_path(value)
            .map(ApiJson)
            .map_err(AppError::one_invalid)
    }
}

fn unreadable_body(e: &dyn std::fmt::Display) -> AppError {
    AppError::bad_request(
        format!("corps illisible : {e}"),
        format!("unreadable body: {e}"),
    )
}

/// What a path's parameters parse into: each type reads its raw segments (percent-decoded,
/// in order) and says what an invalid one answers, by default a 404 naming what was wrong
/// (no resource can have that name).
pub trait PathParams: Sized + Send {
    fn from_params(params: Vec<String>) -> Result<Self, AppError>;
}

/// The `N` segments of a route with `N` parameters.
fn exactly<const N: usize>(params: Vec<String>) -> Result<[String; N], AppError> {
    params.try_into().map_err(|p: Vec<String>| {
        AppError::Internal(anyhow::anyhow!("{} path parameters, not {N}", p.len()))
    })
}

fn uuid_param(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| {
        let shown = shown(s);
        AppError::NotFound(Message::new(
            format!("identifiant invalide « {shown} » : attendu un UUID"),
            format!("invalid id `{shown}`: expected a UUID"),
        ))
    })
}

fn version_param(s: &str) -> Result<i32, AppError> {
    s.parse().map_err(|_| {
        let shown = shown(s);
        AppError::NotFound(Message::new(
            format!("pas de version « {shown} » : une version est un nombre entier"),
            format!("no version `{shown}`: a version is a whole number"),
        ))
    })
}

impl PathParams for Uuid {
    fn from_params(params: Vec<String>) -> Result<Self, AppError> {
        let [id] = exactly::<1>(params)?;
        uuid_param(&id)
    }
}

impl PathParams for Slug {
    fn from_params(params: Vec<String>) -> Result<Self, AppError> {
        let [slug] = exactly::<1>(params)?;
        Slug::parse(&slug).map_err(AppError::NotFound)
    }
}

/// `{slug}/versions/{n}`.
impl PathParams for (Slug, i32) {
    fn from_params(params: Vec<String>) -> Result<Self, AppError> {
        let [slug, n] = exactly::<2>(params)?;
        Ok((
            Slug::parse(&slug).map_err(AppError::NotFound)?,
            version_param(&n)?,
        ))
    }
}

/// `Path<T>` with the API's own rejection (see [`PathParams`]): handlers take
/// `ApiPath<Slug>`, `ApiPath<Uuid>`, `ApiPath<(Slug, i32)>`…
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: PathParams,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| match e {
                // Percent-encoded bytes that are not UTF-8: no resource has such a name.
                PathRejection::FailedToDeserializePathParams(e) => {
                    let detail = e.into_kind().to_string();
                    AppError::NotFound(Message::new(
                        format!("adresse invalide : {detail}"),
                        format!("invalid address: {detail}"),
                    ))
                }
                e => AppError::Internal(anyhow::anyhow!("path parameters: {e}")),
            })?;
        T::from_params(params.into_iter().map(|(_, v)| v).collect()).map(ApiPath)
    }
}

/// `Query<T>` with the API's own rejection: a parameter that does not parse is a 400 naming
/// the parameter, the value and why. Unknown parameters are ignored.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        parse_query(query).map(ApiQuery)
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_html_form::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner().to_string();
        let value = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| shown(&v))
            .unwrap_or_default();
        AppError::bad_request(
            format!("paramètre {key} invalide « {value} » ({inner})"),
            format!("invalid {key} parameter `{value}` ({inner})"),
        )
    })
}

/// Reads a body of at most `limit` bytes: refused at once when its `Content-Length` says
/// more, else read through a limit (a chunked body may lie by omission).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: impl Fn() -> AppError,
) -> Result<bytes::Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            too_large()
        } else {
            unreadable_body(&e)
        }
    })
}

/// Whether `If-None-Match` names `etag` (or `*`), weak tags included.
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"y\""),
        );
        assert!(etag_matches(&h, "\"y\""));
        assert!(etag_matches(&h, "\"x\""));
        assert!(!etag_matches(&h, "\"z\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(etag_matches(&h, "\"z\""));
    }

    #[derive(Debug, Deserialize)]
    struct Q {
        version: Option<i32>,
        #[serde(default)]
        after: i64,
    }

    #[test]
    fn a_query_parameter_that_does_not_parse_is_named_with_its_value() {
        let q: Q = parse_query("version=2&other=x").unwrap();
        assert_eq!((q.version, q.after), (Some(2), 0));
        let e = parse_query::<Q>("after=douze").unwrap_err();
        assert_eq!(e.status_code(), axum::http::StatusCode::BAD_REQUEST);
        let m = e.message();
        assert!(
            m.fr.contains("after") && m.fr.contains("« douze »"),
            "{m:?}"
        );
        assert!(m.en.contains("invalid after parameter `douze`"), "{m:?}");
    }

    #[test]
    fn a_bad_personal_value_is_a_400_naming_the_parameter_and_the_allowed_values() {
        use parole_client::api::{ExportParams, PersonalData};
        let q: ExportParams = parse_query("personal=omit&version=2").unwrap();
        assert_eq!(q.personal, Some(PersonalData::Omit));
        assert_eq!(q.version, Some(2));
        for bad in ["Omit", "yes", "exclude"] {
            let e = parse_query::<ExportParams>(&format!("personal={bad}")).unwrap_err();
            assert_eq!(e.status_code(), axum::http::StatusCode::BAD_REQUEST);
            let msg = e.to_string();
            assert!(
                msg.contains("personal") && msg.contains("omit, include"),
                "{msg}"
            );
        }
    }

    #[test]
    fn the_forwarded_address_is_the_one_the_proxy_appended() {
        let headers = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        assert_eq!(
            forwarded_for(&headers(&["203.0.113.9, 198.51.100.7"])).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            forwarded_for(&headers(&["1.2.3.4", "2001:db8::1"])).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(forwarded_for(&headers(&["1.2.3.4, pas-une-adresse"])), None);
        assert_eq!(forwarded_for(&headers(&[])), None);
    }

    #[test]
    fn where_filters_repeat_and_the_client_writes_what_the_server_reads() {
        use parole_client::api::{query_pairs, ExportParams, ReviewState, Where};
        let q: ExportParams = parse_query(
            "where=quartier:malakoff&where=quartier:bottiere&where=age:15%3A24&review=approved",
        )
        .unwrap();
        let w = |q: &str, v: &str| Where {
            question: q.into(),
            value: v.into(),
        };
        assert_eq!(
            q.where_,
            [
                w("quartier", "malakoff"),
                w("quartier", "bottiere"),
                w("age", "15:24")
            ]
        );
        assert_eq!(q.review, Some(ReviewState::Approved));
        let written = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query_pairs(&q))
            .finish();
        assert_eq!(parse_query::<ExportParams>(&written).unwrap(), q);
        for bad in ["where=quartier", "where=:malakoff"] {
            let e = parse_query::<ExportParams>(bad).unwrap_err();
            assert_eq!(e.status_code(), axum::http::StatusCode::BAD_REQUEST);
            assert!(e.to_string().contains("question:value"), "{e}");
        }
    }

    #[test]
    fn path_parameters_that_cannot_name_a_resource_are_404s_saying_why() {
        let e = <(Slug, i32)>::from_params(vec!["besoins".into(), "un".into()]).unwrap_err();
        assert_eq!(e.status_code(), axum::http::StatusCode::NOT_FOUND);
        assert!(e.message().en.contains("no version `un`"), "{e}");
        let e = Slug::from_params(vec!["a\0".into()]).unwrap_err();
        assert_eq!(e.status_code(), axum::http::StatusCode::NOT_FOUND);
        let e = Uuid::from_params(vec!["42".into()]).unwrap_err();
        assert!(e.message().fr.contains("UUID"), "{e}");
        let id = Uuid::now_v7();
        assert_eq!(Uuid::from_params(vec![id.to_string()]).unwrap(), id);
    }
}
