//! client-core's [`Transport`] over the browser's `fetch`, and the other HTTP calls of the app
//! (enrolment, photo uploads).
//!
//! Errors are mapped exactly as the native reqwest transport does (`client-core/src/native.rs`):
//! a non-2xx answer is [`TransportError::Status`] with a snippet of the body; a `fetch` that
//! rejects (DNS, refused, offline, CORS) is [`TransportError::Network`]; a 2xx whose body is not
//! the expected JSON (a captive portal's page) or that breaks off is
//! [`TransportError::BadBody`]; the request timeout (an `AbortController` fired by a
//! `setTimeout`, covering the body too) is [`TransportError::Timeout`].
//!
//! Requests use `cache: "no-store"`, so the HTTP cache never answers for the server (a
//! conditional pull sends its own `If-None-Match` and gets the 304 itself).

use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use parole_client::api::{PushRequest, PushResponse, SyncQuestionnaires};
use parole_client::sync::{Pulled, Transport, TransportError};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestCache, RequestInit};

use crate::idb_storage::js_message;
use crate::util::snippet;

/// Timeout of one API request (body included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one photo upload (up to 10 MiB on a slow mobile network).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(180);

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (a window's or a worker's).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Resolves after `duration` (a `setTimeout` promise).
pub async fn sleep(duration: Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// Aborts its controller after a delay, unless dropped first.
struct Deadline {
    id: JsValue,
    _abort: Closure<dyn FnMut()>,
}

impl Deadline {
    fn start(controller: &AbortController, timeout: Duration) -> Self {
        let controller = controller.clone();
        let abort = Closure::<dyn FnMut()>::new(move || controller.abort());
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let id = set_timeout(abort.as_ref().unchecked_ref(), ms);
        Self { id, _abort: abort }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

fn is_abort(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .is_some_and(|n| n == "AbortError")
}

/// A request body.
pub enum Body<'a> {
    Json(String),
    Bytes(&'a Uint8Array),
}

/// An HTTP answer, its body read (unless it was a `HEAD`).
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// As the native transport: a non-2xx is a `Status` error with a snippet of the body.
    pub fn status_error(&self) -> TransportError {
        TransportError::Status {
            status: self.status,
            body: snippet(&self.body),
        }
    }

    /// The body as JSON, or `BadBody` with a snippet.
    pub fn json<D: serde::de::DeserializeOwned>(&self) -> Result<D, TransportError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| TransportError::BadBody(format!("{e}: {}", snippet(&self.body))))
    }
}

/// One request: `method url`, with the bearer `token` when given, extra headers, a body, and
/// a timeout covering the answer's body.
pub async fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    extra_headers: &[(&str, &str)],
    body: Option<Body<'_>>,
    timeout: Duration,
) -> Result<Answer, TransportError> {
    let js_err = |e: JsValue| TransportError::Network(js_message(&e));
    let headers = Headers::new().map_err(js_err)?;
    if let Some(token) = token {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(js_err)?;
    }
    for (name, value) in extra_headers {
        headers.set(name, value).map_err(js_err)?;
    }
    let controller = AbortController::new().map_err(js_err)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&controller.signal()));
    match &body {
        Some(Body::Json(text)) => {
            headers
                .set("Content-Type", "application/json")
                .map_err(js_err)?;
            init.set_body(&JsValue::from_str(text));
        }
        Some(Body::Bytes(bytes)) => init.set_body(bytes),
        None => {}
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(url, &init).map_err(js_err)?;

    let _deadline = Deadline::start(&controller, timeout);
    let response: web_sys::Response = match JsFuture::from(global_fetch(&request)).await {
        Ok(r) => r.unchecked_into(),
        Err(e) if is_abort(&e) => return Err(TransportError::Timeout),
        Err(e) => return Err(TransportError::Network(js_message(&e))),
    };
    let status = response.status();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        let read = async {
            let buffer = JsFuture::from(response.array_buffer()?).await?;
            Ok::<_, JsValue>(Uint8Array::new(&buffer).to_vec())
        };
        match read.await {
            Ok(b) => b,
            Err(e) if is_abort(&e) => return Err(TransportError::Timeout),
            // As reqwest: a body that breaks off is `BadBody` on a success, and an empty
            // snippet on an error status.
            Err(_) if !(200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(TransportError::BadBody(js_message(&e))),
        }
    };
    Ok(Answer {
        status,
        headers: response.headers(),
        body,
    })
}

/// The base URL without its trailing slashes.
pub fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The sync [`Transport`] over `fetch`, authenticated with the device token.
#[derive(Clone)]
pub struct FetchTransport {
    base_url: String,
    token: String,
    timeout: Duration,
}

impl std::fmt::Debug for FetchTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchTransport")
            .field("base_url", &self.base_url)
            .field("token", &"<hidden>")
            .finish()
    }
}

impl FetchTransport {
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            base_url: base(base_url),
            token: token.to_string(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Transport for FetchTransport {
    async fn pull_questionnaires(&self, etag: Option<&str>) -> Result<Pulled, TransportError> {
        let url = format!("{}/api/v1/sync/questionnaires", self.base_url);
        let headers: Vec<(&str, &str)> = etag.map(|e| ("If-None-Match", e)).into_iter().collect();
        let answer = request("GET", &url, Some(&self.token), &headers, None, self.timeout).await?;
        if answer.status == 304 {
            return Ok(Pulled::NotModified);
        }
        if !answer.is_success() {
            return Err(answer.status_error());
        }
        let etag = answer.headers.get("ETag").ok().flatten();
        let body: SyncQuestionnaires = answer.json()?;
        Ok(Pulled::Fresh {
            etag,
            questionnaires: body.questionnaires,
        })
    }

    async fn push_responses(&self, req: &PushRequest) -> Result<PushResponse, TransportError> {
        let url = format!("{}/api/v1/sync/responses", self.base_url);
        let body =
            serde_json::to_string(req).map_err(|e| TransportError::Network(e.to_string()))?;
        let answer = request(
            "POST",
            &url,
            Some(&self.token),
            &[],
            Some(Body::Json(body)),
            self.timeout,
        )
        .await?;
        if !answer.is_success() {
            return Err(answer.status_error());
        }
        answer.json()
    }

    async fn sleep(&self, duration: Duration) {
        sleep(duration).await
    }
}
