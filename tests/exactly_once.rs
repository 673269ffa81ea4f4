//! Exactly once under faults: several devices push through a proxy that drops requests,
//! drops responses after the server committed, duplicates and delays requests and answers
//! with captive-portal pages, while the server process is killed and restarted mid-run. At
//! the end every response is stored exactly once, with the content its device made, and
//! every outbox is empty.

mod support;

use std::time::Duration;

use parole_client::Questionnaire;
use support::devices::{assert_each_stored_once, phones, push_until_empty, stored};
use support::proxy::{Faults, Proxy};
use support::setup::{example, Admin};
use support::{ServerProcess, ADMIN_PASSWORD};

const DEVICES: usize = 4;
const RESPONSES_PER_DEVICE: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_is_stored_exactly_once_despite_faults_and_server_restarts() {
    let db = parole_server::testing::test_db().await;
    let mut server = ServerProcess::start(&db.url).await;
    let admin = Admin::login(&server.url(), ADMIN_PASSWORD).await;
    let document = example("besoins-formation");
    let version = admin.publish("besoins-formation", &document).await;
    let questionnaire = Questionnaire::parse(&document).unwrap();

    let proxy = Proxy::start(server.url(), Faults::nasty(), 2026, Duration::from_secs(3)).await;
    let devices = phones(
        &proxy.url(),
        &admin,
        &questionnaire,
        version,
        DEVICES,
        RESPONSES_PER_DEVICE,
    )
    .await;

    // The devices push concurrently while the server is killed (SIGKILL) and restarted
    // twice: once a third of the responses are stored, and again at two thirds.
    let total = (DEVICES * RESPONSES_PER_DEVICE) as i64;
    let pushes = futures::future::join_all(devices.iter().map(push_until_empty));
    let restarts = async {
        let mut stored_at_kill = Vec::new();
        for threshold in [total / 3, 2 * total / 3] {
            loop {
                let stored = stored(&db.pool).await;
                if stored >= threshold {
                    stored_at_kill.push(stored);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            server.kill();
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.restart().await;
        }
        stored_at_kill
    };
    let (rounds, stored_at_kill) = tokio::join!(pushes, restarts);
    assert!(
        stored_at_kill.iter().all(|&n| n < total),
        "the server was killed mid-run: {stored_at_kill:?} of {total}"
    );
    eprintln!(
        "push rounds per device: {rounds:?}; stored at each kill: {stored_at_kill:?}; proxy: {:?}",
        proxy.counters
    );

    // Every outbox is empty and the server holds each response exactly once, with the
    // content its device made.
    assert_each_stored_once(&db.pool, &devices, RESPONSES_PER_DEVICE).await;
    // The export agrees: one line per response.
    let ndjson = admin.export("besoins-formation", "ndjson").await;
    assert_eq!(ndjson.lines().count(), DEVICES * RESPONSES_PER_DEVICE);
    // The faults really happened.
    use std::sync::atomic::Ordering::Relaxed;
    assert!(proxy.counters.dropped_responses.load(Relaxed) > 0);
    assert!(proxy.counters.duplicated.load(Relaxed) > 0);
}
