//! Shared pieces of the workspace's end-to-end tests: the real `parole` server as a process
//! (so it can be killed), and a fault-injecting HTTP proxy to put between clients and it.
#![allow(dead_code)]

pub mod devices;
pub mod proxy;
pub mod setup;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin password the test servers start with.
pub const ADMIN_PASSWORD: &str = "mot-de-passe-de-test";

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local address")
        .port()
}

/// `parole serve` as a child process on a given database, which the test may kill.
pub struct ServerProcess {
    child: Option<Child>,
    /// Where it listens (loopback, unless started with [`ServerProcess::start_with`]).
    pub listen: SocketAddr,
    /// Where to reach it: `listen`, on loopback.
    pub addr: SocketAddr,
    database_url: String,
    args: Vec<String>,
}

impl ServerProcess {
    pub async fn start(database_url: &str) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_with(database_url, addr, &[]).await
    }

    /// `parole serve --listen LISTEN ARGS…`, reached through loopback.
    pub async fn start_with(database_url: &str, listen: SocketAddr, args: &[&str]) -> Self {
        let mut server = Self {
            child: None,
            listen,
            addr: SocketAddr::from(([127, 0, 0, 1], listen.port())),
            database_url: database_url.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.spawn().await;
        server
    }

    /// The process id (to read its memory in `/proc`), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_parole"))
            .args(["serve", "--listen", &self.listen.to_string()])
            .args(["--database-url", &self.database_url])
            .args(&self.args)
            .env("PAROLE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env(
                "PAROLE_LOG",
                std::env::var("PAROLE_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start `parole serve`");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.url())).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("`parole serve` exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "`parole serve` did not get ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, whatever was in flight is cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill the server");
            child.wait().expect("reap the server");
        }
    }

    /// Starts it again on the same address and database.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
