//! Several `parole serve` processes on one PostgreSQL behave as one server: a load balancer
//! (the fault-injecting proxy, taking the replicas in turn, a duplicated request going to
//! both) sends the phones' pushes to either while one replica is SIGKILLed mid-run; every
//! response is stored exactly once and every outbox ends empty. What one replica publishes
//! or revokes holds on the other at once.

mod support;

use std::time::Duration;

use parole_client::native::ApiClient;
use parole_client::Questionnaire;
use support::devices::{assert_each_stored_once, phones, push_until_empty, stored};
use support::proxy::{Faults, Proxy};
use support::setup::{example, Admin};
use support::{ServerProcess, ADMIN_PASSWORD};

const DEVICES: usize = 3;
const RESPONSES_PER_DEVICE: usize = 40;

async fn status(url: String, token: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_store_every_response_once_when_one_is_killed() {
    let db = parole_server::testing::test_db().await;
    let one = ServerProcess::start(&db.url).await;
    let mut two = ServerProcess::start(&db.url).await;
    let admin = Admin::login(&one.url(), ADMIN_PASSWORD).await;

    // Published through one, served by the other at once.
    let document = example("besoins-formation");
    let version = admin.publish("besoins-formation", &document).await;
    let code = admin.interviewer("Enquêtrice témoin").await;
    let witness = ApiClient::new()
        .unwrap()
        .enrol(&two.url(), &code, "téléphone témoin")
        .await
        .unwrap();
    let pulled: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/sync/questionnaires", two.url()))
        .bearer_auth(&witness.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pulled["questionnaires"][0]["slug"], "besoins-formation");
    assert_eq!(pulled["questionnaires"][0]["version"], version);
    // Revoked through the other, refused by both.
    let revoked = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/devices/{}",
            two.url(),
            witness.device_id
        ))
        .bearer_auth(Admin::login(&two.url(), ADMIN_PASSWORD).await.token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    for server in [&one, &two] {
        let url = format!("{}/api/v1/sync/questionnaires", server.url());
        assert_eq!(
            status(url, &witness.token).await,
            reqwest::StatusCode::UNAUTHORIZED
        );
    }

    // Phones behind a balancing, faulty proxy.
    let questionnaire = Questionnaire::parse(&document).unwrap();
    let proxy = Proxy::balancing(
        vec![one.url(), two.url()],
        Faults::nasty(),
        11,
        Duration::from_secs(3),
    )
    .await;
    let devices = phones(
        &proxy.url(),
        &admin,
        &questionnaire,
        version,
        DEVICES,
        RESPONSES_PER_DEVICE,
    )
    .await;
    let total = (DEVICES * RESPONSES_PER_DEVICE) as i64;
    let pushes = futures::future::join_all(devices.iter().map(push_until_empty));
    let kill = async {
        loop {
            let stored = stored(&db.pool).await;
            if stored >= total / 2 {
                two.kill();
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (_, stored_at_kill) = tokio::join!(pushes, kill);
    assert!(
        stored_at_kill < total,
        "killed mid-run: {stored_at_kill} of {total}"
    );

    assert_each_stored_once(&db.pool, &devices, RESPONSES_PER_DEVICE).await;
    use std::sync::atomic::Ordering::Relaxed;
    assert!(proxy.counters.duplicated.load(Relaxed) > 0);
    assert!(
        proxy.counters.upstream_down.load(Relaxed) > 0,
        "requests reached the killed replica"
    );
}
