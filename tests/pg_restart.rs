//! The embedded PostgreSQL is supervised: killed under a running `parole serve`, it is
//! restarted, `/readyz` says so, and the server works again without being restarted itself.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, ADMIN_PASSWORD};

async fn readyz(http: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = http.get(format!("{url}/readyz")).send().await.ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

/// Polls `/readyz` until `done` says so, for at most `limit`.
async fn until(
    http: &reqwest::Client,
    url: &str,
    limit: Duration,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let start = Instant::now();
    let mut last = (0, String::new());
    while start.elapsed() < limit {
        if let Some((status, body)) = readyz(http, url).await {
            if done(status, &body) {
                return (status, body);
            }
            last = (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not get there in {limit:?}: last {last:?}");
}

/// Kills the server if the test ends early (a failed assertion).
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_killed_embedded_postgresql_is_restarted_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{addr}");
    let _server = Guard(
        Command::new(env!("CARGO_BIN_EXE_parole"))
            .args(["serve", "--listen", &addr, "--data-dir"])
            .arg(dir.path())
            .env("PAROLE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PAROLE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let login = || {
        http.post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
    };
    let (_, body) = until(&http, &url, Duration::from_secs(120), |s, _| s == 200).await;
    assert_eq!(body, "ok");
    assert!(login().await.unwrap().status().is_success());

    // PostgreSQL dies under it (the postmaster's pid is the first line of postmaster.pid).
    let pidfile = std::fs::read_to_string(dir.path().join("pg/postmaster.pid")).unwrap();
    let pid: i32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // It comes back on its own; /readyz says it was restarted.
    let (_, body) = until(&http, &url, Duration::from_secs(90), |s, b| {
        s == 200 && b.contains("restarted 1 times")
    })
    .await;
    assert!(body.starts_with("ok"), "{body}");
    // And the server works again: the pool reconnects.
    let start = Instant::now();
    loop {
        match login().await {
            Ok(r) if r.status().is_success() => break,
            other => {
                assert!(start.elapsed() < Duration::from_secs(30), "{other:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
