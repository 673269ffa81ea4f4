//! The sync engine's decisions, driven by a scripted transport.
//!
//! The `Scripted` transport below is a fake, on purpose and only here: these tests pin the
//! engine's decisions (when a response becomes synced, what is resent, how failures are
//! retried) for answers a real server cannot easily be made to give (a wrong hash, a missing
//! receipt, a captive portal, a 413). The real transport is exercised end to end elsewhere.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use parole_client::api::{ItemStatus, PushRequest, PushResponse, PushResult, SyncQuestionnaire};
use parole_client::outbox::{MemoryStorage, Outbox, State};
use parole_client::sync::{
    latest_questionnaire, Pulled, SyncConfig, SyncEngine, SyncError, Transport, TransportError,
};
use parole_client::{ContentHash, Questionnaire, Response, ResponseId, ValidationError};
use serde_json::json;

type Step = Box<dyn FnMut(&PushRequest) -> Result<PushResponse, TransportError>>;

/// A transport that answers pushes from a script (the last step repeats) and records all.
#[derive(Default)]
struct Scripted {
    steps: RefCell<VecDeque<Step>>,
    pulls: RefCell<VecDeque<Result<Pulled, TransportError>>>,
    requests: RefCell<Vec<PushRequest>>,
    pull_etags: RefCell<Vec<Option<String>>>,
    sleeps: RefCell<Vec<Duration>>,
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Self {
        Self {
            steps: RefCell::new(steps.into()),
            ..Default::default()
        }
    }
    fn sent_ids(&self) -> Vec<Vec<ResponseId>> {
        self.requests
            .borrow()
            .iter()
            .map(|r| r.responses.iter().map(|w| w.id).collect())
            .collect()
    }
}

impl Transport for Scripted {
    async fn pull_questionnaires(&self, etag: Option<&str>) -> Result<Pulled, TransportError> {
        self.pull_etags.borrow_mut().push(etag.map(String::from));
        self.pulls
            .borrow_mut()
            .pop_front()
            .expect("a scripted pull")
    }
    async fn push_responses(&self, req: &PushRequest) -> Result<PushResponse, TransportError> {
        self.requests.borrow_mut().push(req.clone());
        let mut steps = self.steps.borrow_mut();
        if steps.len() > 1 {
            let mut step = steps.pop_front().unwrap();
            step(req)
        } else {
            (steps.front_mut().expect("a scripted push"))(req)
        }
    }
    async fn sleep(&self, d: Duration) {
        self.sleeps.borrow_mut().push(d);
    }
}

/// The honest server: every response accepted with its own hash.
fn accept_all() -> Step {
    Box::new(|req| Ok(receipts(req, |_| (ItemStatus::Accepted, None))))
}

fn receipts(
    req: &PushRequest,
    mut f: impl FnMut(usize) -> (ItemStatus, Option<ContentHash>),
) -> PushResponse {
    PushResponse {
        results: req
            .responses
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (status, hash) = f(i);
                let own = w.clone().into_response(None).content_hash();
                PushResult {
                    id: Some(w.id),
                    status,
                    content_hash: hash.or(Some(own)),
                    errors: if status == ItemStatus::Rejected {
                        vec![err()]
                    } else {
                        vec![]
                    },
                }
            })
            .collect(),
    }
}

fn err() -> ValidationError {
    ValidationError {
        path: "/age".into(),
        code: "minimum".into(),
        message: parole_client::i18n::Message::new(
            "L'âge doit être positif",
            "Age must be positive",
        ),
    }
}

fn fail(e: TransportError) -> Step {
    Box::new(move |_| Err(e.clone()))
}

fn questionnaire() -> Questionnaire {
    Questionnaire::parse(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Exemple",
        "type": "object",
        "properties": {"age": {"type": "integer", "title": "Votre âge ?"}},
        "required": ["age"],
        "additionalProperties": false
    }))
    .unwrap()
}

fn config() -> SyncConfig {
    SyncConfig {
        batch_size: 100,
        max_attempts: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        app_version: "test".into(),
        seed: Some(42),
    }
}

async fn engine_with(
    n: usize,
    transport: Scripted,
    config: SyncConfig,
) -> SyncEngine<MemoryStorage, Scripted> {
    let outbox = Outbox::new(MemoryStorage::default());
    for i in 0..n {
        let r = Response {
            id: ResponseId::new(),
            questionnaire: "exemple".into(),
            version: 1,
            answers: json!({"age": i}),
            started_at: "2025-03-14T18:30:00+01:00".into(),
            completed_at: String::new(),
            device_id: None,
            location: None,
        };
        outbox.queue(r, &questionnaire()).await.unwrap();
    }
    SyncEngine::new(outbox, transport, config)
}

async fn states(e: &SyncEngine<MemoryStorage, Scripted>) -> Vec<State> {
    e.outbox()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.state)
        .collect()
}

#[tokio::test]
async fn responses_are_synced_when_the_receipt_carries_the_same_hash() {
    let e = engine_with(3, Scripted::new(vec![accept_all()]), config()).await;
    let report = e.push().await.unwrap();
    assert_eq!(
        (report.sent, report.accepted, report.still_queued),
        (3, 3, 0)
    );
    assert_eq!(states(&e).await, vec![State::Synced; 3]);
    // device_state went along.
    let ds = e.transport().requests.borrow()[0]
        .device_state
        .clone()
        .unwrap();
    assert_eq!(
        (ds.queued, ds.drafts, ds.app_version.as_str()),
        (3, 0, "test")
    );
    // Nothing left to send.
    let again = e.push().await.unwrap();
    assert_eq!((again.sent, again.requests), (0, 0));
}

#[tokio::test]
async fn a_duplicate_receipt_with_the_same_hash_also_syncs() {
    let t = Scripted::new(vec![Box::new(|req| {
        Ok(receipts(req, |_| (ItemStatus::Duplicate, None)))
    })]);
    let e = engine_with(2, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!(report.duplicate, 2);
    assert_eq!(states(&e).await, vec![State::Synced; 2]);
}

#[tokio::test]
async fn a_receipt_with_another_hash_leaves_the_response_queued() {
    let t = Scripted::new(vec![Box::new(|req| {
        Ok(receipts(req, |i| {
            if i == 0 {
                (ItemStatus::Accepted, Some(ContentHash("ab".repeat(32))))
            } else {
                (ItemStatus::Accepted, None)
            }
        }))
    })]);
    let e = engine_with(2, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!(
        (report.accepted, report.hash_mismatch, report.still_queued),
        (1, 1, 1)
    );
    assert_eq!(states(&e).await, vec![State::Queued, State::Synced]);
}

#[tokio::test]
async fn a_response_without_a_receipt_is_resent_on_the_next_push() {
    let t = Scripted::new(vec![
        // The first answer only has a receipt for the first response.
        Box::new(|req| {
            let mut r = receipts(req, |_| (ItemStatus::Accepted, None));
            r.results.truncate(1);
            Ok(r)
        }),
        accept_all(),
    ]);
    let e = engine_with(3, t, config()).await;
    let first = e.push().await.unwrap();
    assert_eq!(
        (first.accepted, first.missing_receipt, first.still_queued),
        (1, 2, 2)
    );
    let second = e.push().await.unwrap();
    assert_eq!(
        (second.sent, second.accepted, second.still_queued),
        (2, 2, 0)
    );
    let sent = e.transport().sent_ids();
    assert_eq!(sent[1], sent[0][1..].to_vec());
    assert_eq!(states(&e).await, vec![State::Synced; 3]);
}

#[tokio::test]
async fn a_rejected_response_is_kept_with_its_errors_and_not_resent() {
    let t = Scripted::new(vec![Box::new(|req| {
        Ok(receipts(req, |i| {
            if i == 1 {
                (ItemStatus::Rejected, None)
            } else {
                (ItemStatus::Accepted, None)
            }
        }))
    })]);
    let e = engine_with(3, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (2, 1));
    let rejected = e.outbox().in_state(State::Rejected).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].errors, vec![err()]);
    let again = e.push().await.unwrap();
    assert_eq!(again.sent, 0, "a rejected response is never resent as is");
}

#[tokio::test]
async fn a_conflict_is_kept_and_not_resent() {
    let t = Scripted::new(vec![Box::new(|req| {
        Ok(receipts(req, |_| {
            (ItemStatus::Conflict, Some(ContentHash("cd".repeat(32))))
        }))
    })]);
    let e = engine_with(1, t, config()).await;
    assert_eq!(e.push().await.unwrap().conflict, 1);
    let rec = &e.outbox().list().await.unwrap()[0];
    assert_eq!(rec.state, State::Conflict);
    assert_eq!(rec.server_hash, Some(ContentHash("cd".repeat(32))));
    assert_eq!(e.push().await.unwrap().sent, 0);
}

#[tokio::test]
async fn a_413_splits_the_batch_in_halves() {
    let t = Scripted::new(vec![Box::new(|req| {
        if req.responses.len() > 2 {
            Err(TransportError::Status {
                status: 413,
                body: "too large".into(),
            })
        } else {
            Ok(receipts(req, |_| (ItemStatus::Accepted, None)))
        }
    })]);
    let e = engine_with(8, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!((report.accepted, report.still_queued), (8, 0));
    let sizes: Vec<_> = e.transport().sent_ids().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![8, 4, 2, 2, 4, 2, 2]);
    assert!(
        e.transport().sleeps.borrow().is_empty(),
        "a split is not a retry"
    );
}

#[tokio::test]
async fn a_lone_response_still_too_large_stays_queued() {
    let t = Scripted::new(vec![fail(TransportError::Status {
        status: 413,
        body: String::new(),
    })]);
    let e = engine_with(2, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!((report.too_large, report.still_queued), (2, 2));
}

#[tokio::test]
async fn a_401_stops_at_once_and_says_why() {
    let t = Scripted::new(vec![fail(TransportError::Status {
        status: 401,
        body: "{}".into(),
    })]);
    let e = engine_with(250, t, config()).await;
    let err = e.push().await.unwrap_err();
    assert!(matches!(err, SyncError::Unauthorized { status: 401, .. }));
    assert!(err.to_string().contains(
        "Cet appareil n'est plus autorisé : demandez un nouveau code d'enrôlement au coordinateur."
    ));
    assert!(err.message().en.contains("no longer authorised"));
    assert_eq!(e.transport().requests.borrow().len(), 1);
    assert_eq!(e.outbox().queued().await.unwrap().len(), 250);
}

#[tokio::test]
async fn a_403_on_pull_stops_too() {
    let t = Scripted::default();
    t.pulls.borrow_mut().push_back(Err(TransportError::Status {
        status: 403,
        body: String::new(),
    }));
    let e = engine_with(0, t, config()).await;
    assert!(matches!(
        e.pull().await,
        Err(SyncError::Unauthorized { status: 403, .. })
    ));
}

#[tokio::test]
async fn a_captive_portal_page_leaves_everything_queued() {
    let t = Scripted::new(vec![fail(TransportError::BadBody(
        "<html><title>Wi-Fi gratuit</title>".into(),
    ))]);
    let e = engine_with(3, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!(report.still_queued, 3);
    assert!(report
        .gave_up
        .as_ref()
        .unwrap()
        .fr
        .contains("portail captif"));
    assert_eq!(e.transport().requests.borrow().len(), 3, "max_attempts");
    assert_eq!(states(&e).await, vec![State::Queued; 3]);
}

#[tokio::test]
async fn transient_failures_are_retried_then_succeed() {
    let t = Scripted::new(vec![
        fail(TransportError::Status {
            status: 503,
            body: String::new(),
        }),
        fail(TransportError::Network("connection reset".into())),
        accept_all(),
    ]);
    let e = engine_with(2, t, config()).await;
    let report = e.push().await.unwrap();
    assert_eq!(
        (report.accepted, report.retries, report.requests),
        (2, 2, 3)
    );
    assert_eq!(e.transport().sleeps.borrow().len(), 2);
}

#[tokio::test]
async fn backoff_is_exponential_jittered_and_bounded() {
    let cfg = SyncConfig {
        max_attempts: 8,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
        ..config()
    };
    let e = engine_with(1, Scripted::new(vec![fail(TransportError::Timeout)]), cfg).await;
    let report = e.push().await.unwrap();
    assert_eq!(report.still_queued, 1);
    assert_eq!(report.requests, 8);
    let sleeps = e.transport().sleeps.borrow().clone();
    assert_eq!(
        sleeps.len(),
        7,
        "one sleep between attempts, none after the last"
    );
    for (i, d) in sleeps.iter().enumerate() {
        let cap = (100u64 << i).min(1000);
        let ms = d.as_millis() as u64;
        assert!(
            ms >= cap / 2 && ms <= cap,
            "sleep {i}: {ms} ms not in [{}, {cap}]",
            cap / 2
        );
    }
    let total: Duration = sleeps.iter().sum();
    assert!(total <= Duration::from_millis(7 * 1000));
}

#[tokio::test]
async fn a_permanent_refusal_stops_without_retrying() {
    let t = Scripted::new(vec![fail(TransportError::Status {
        status: 400,
        body: "bad".into(),
    })]);
    let e = engine_with(2, t, config()).await;
    assert!(matches!(e.push().await, Err(SyncError::Refused { .. })));
    assert_eq!(e.transport().requests.borrow().len(), 1);
    assert_eq!(e.outbox().queued().await.unwrap().len(), 2);
}

#[tokio::test]
async fn pushes_go_in_batches_in_id_order_with_progress() {
    let e = engine_with(250, Scripted::new(vec![accept_all()]), config()).await;
    let mut seen = Vec::new();
    let report = e
        .push_with_progress(|p| seen.push((p.done, p.total)))
        .await
        .unwrap();
    assert_eq!(report.accepted, 250);
    let sent = e.transport().sent_ids();
    assert_eq!(
        sent.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    let flat: Vec<_> = sent.concat();
    let mut sorted = flat.clone();
    sorted.sort();
    assert_eq!(flat, sorted);
    assert_eq!(seen, vec![(0, 250), (100, 250), (200, 250), (250, 250)]);
}

#[tokio::test]
async fn the_pull_is_conditional_and_keeps_the_documents() {
    let doc = json!({"title": "Exemple", "type": "object"});
    let t = Scripted::default();
    t.pulls.borrow_mut().extend([
        Ok(Pulled::Fresh {
            etag: Some("\"v1\"".into()),
            questionnaires: vec![
                SyncQuestionnaire {
                    slug: "exemple".into(),
                    version: 1,
                    title: "Exemple".into(),
                    document: doc.clone(),
                },
                SyncQuestionnaire {
                    slug: "exemple".into(),
                    version: 2,
                    title: "Exemple".into(),
                    document: doc.clone(),
                },
            ],
        }),
        Ok(Pulled::NotModified),
    ]);
    let e = engine_with(0, t, config()).await;
    let first = e.pull().await.unwrap();
    assert!(!first.not_modified);
    let second = e.pull().await.unwrap();
    assert!(second.not_modified);
    assert_eq!(second.questionnaires, 2);
    assert_eq!(
        *e.transport().pull_etags.borrow(),
        vec![None, Some("\"v1\"".to_string())]
    );
    let latest = latest_questionnaire(e.outbox().storage(), "exemple")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, 2);
}
