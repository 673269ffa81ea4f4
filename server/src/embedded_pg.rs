//! An embedded PostgreSQL cluster: `parole serve` with no `PAROLE_DATABASE_URL` runs its own
//! PostgreSQL as a child process, listening on a Unix socket only.
//!
//! Why a child process and not `pg_ctl`: the child is tied to us with `PR_SET_PDEATHSIG`
//! (SIGINT, PostgreSQL's "fast shutdown"), so a parent killed with SIGKILL never leaves an
//! orphan PostgreSQL behind. The death signal fires when the *thread* that spawned the child
//! exits, so the child is spawned from a dedicated thread that lives exactly as long as it
//! (a tokio worker or a test thread may end long before the cluster should).
//!
//! As root, `initdb` and `postgres` run as the `postgres` system user (PostgreSQL refuses to
//! run as root); the directories are chowned to it first.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use parole_server::embedded_pg::{EmbeddedPg, PgOptions};
//! let pg = EmbeddedPg::start("./parole-data".as_ref(), PgOptions::default()).await?;
//! let url = pg.connection_url("postgres");
//! // … use it …
//! pg.stop().await?;
//! # Ok(()) }
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use tokio::sync::oneshot;

/// The port number PostgreSQL puts in its socket's name (`.s.PGSQL.5432`); no TCP is opened.
pub const PORT: u16 = 5432;
/// The longest Unix socket path (`sun_path` is 108 bytes with its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// What can go wrong starting or stopping the embedded PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error(
        "serveur PostgreSQL introuvable (initdb, postgres) : installez PostgreSQL ou donnez \
         PAROLE_DATABASE_URL / PostgreSQL server binaries not found: install PostgreSQL or set \
         PAROLE_DATABASE_URL"
    )]
    BinariesNotFound,
    #[error("l'utilisateur système « postgres » est introuvable alors que Parole tourne en root / the `postgres` system user is missing while running as root")]
    NoPostgresUser,
    #[error("{what} a échoué / failed: {detail}")]
    Command { what: &'static str, detail: String },
    #[error("PostgreSQL n'accepte pas de connexions après {0:?} / did not accept connections in time: {1}")]
    Timeout(Duration, String),
    #[error("entrée/sortie / I/O ({context}): {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedPgError {
    let context = context.into();
    move |source| EmbeddedPgError::Io { context, source }
}

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// `fsync=off, synchronous_commit=off, full_page_writes=off`: for tests only, NEVER for
    /// `parole serve` (a crash may then lose or corrupt data).
    pub unsafe_fast: bool,
    /// More `-c name=value` settings.
    pub settings: Vec<(String, String)>,
}

impl PgOptions {
    /// The fast, unsafe settings for tests.
    pub fn for_tests() -> Self {
        Self {
            unsafe_fast: true,
            settings: Vec::new(),
        }
    }
}

/// A running PostgreSQL child process.
#[derive(Debug)]
pub struct EmbeddedPg {
    pid: Pid,
    socket_dir: PathBuf,
    /// The temporary socket directory, when the data dir's path was too long.
    _tmp_socket_dir: Option<tempfile::TempDir>,
    exited: Mutex<Option<oneshot::Receiver<io::Result<ExitStatus>>>>,
}

/// A `postgres://` URL for database `db`, as user `postgres`, over the Unix socket in
/// `socket_dir`.
pub fn socket_url(socket_dir: &Path, db: &str) -> String {
    socket_url_on(socket_dir, PORT, db)
}

/// [`socket_url`] for a socket of another port number (PgBouncer's, in the tests).
pub(crate) fn socket_url_on(socket_dir: &Path, port: u16, db: &str) -> String {
    let host: String = socket_dir
        .to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("postgres://postgres@{host}:{port}/{db}")
}

/// The URL of the embedded PostgreSQL of `data_dir` when a `parole serve` runs it now (its
/// socket is there), for a command to work beside the server.
pub fn running_url(data_dir: &Path, db: &str) -> Option<String> {
    let socket_dir = data_dir.join("run");
    let running = data_dir.join("pg/postmaster.pid").is_file()
        && socket_dir.join(format!(".s.PGSQL.{PORT}")).exists();
    running.then(|| socket_url(&socket_dir, db))
}

/// The directory holding `initdb` and `postgres`: `pg_config --bindir`, then `PATH`, then
/// `/usr/lib/postgresql/*/bin`, newest first.
pub fn find_bindir() -> Result<PathBuf, EmbeddedPgError> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_both(&dir) {
                return Ok(dir);
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_both(&dir) {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .ok_or(EmbeddedPgError::BinariesNotFound)
}

/// The uid/gid to run PostgreSQL as: `postgres` when we are root, else ourselves (None).
pub(crate) fn run_as() -> Result<Option<(u32, u32)>, EmbeddedPgError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = User::from_name("postgres")
        .ok()
        .flatten()
        .ok_or(EmbeddedPgError::NoPostgresUser)?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

fn chown_dir(dir: &Path, owner: Option<(u32, u32)>, mode: u32) -> Result<(), EmbeddedPgError> {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(io_err(format!("chown {}", dir.display())))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .map_err(io_err(format!("chmod {}", dir.display())))
}

/// Creates `data_dir` if needed, traversable by `owner` (the `postgres` user must reach
/// `pg/` and `run/` inside, not read the rest); its canonical path.
fn prepare_data_dir(
    data_dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<PathBuf, EmbeddedPgError> {
    fs::create_dir_all(data_dir).map_err(io_err(format!("mkdir {}", data_dir.display())))?;
    let data_dir = data_dir
        .canonicalize()
        .map_err(io_err(format!("canonicalize {}", data_dir.display())))?;
    if owner.is_some() {
        let meta = fs::metadata(&data_dir).map_err(io_err("stat data dir"))?;
        if meta.mode() & 0o001 == 0 {
            let mode = (meta.mode() & 0o7777) | 0o011;
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod data dir"))?;
        }
    }
    Ok(data_dir)
}

/// Prepares a command to run as `owner`, dying with SIGINT when its parent thread dies.
pub(crate) fn command(bin: PathBuf, owner: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
        // std drops root's supplementary groups itself when uid is set.
    }
    let parent = std::process::id() as i32;
    // SAFETY: prctl and getppid are async-signal-safe; called between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGINT) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody will signal us.
            if nix::libc::getppid() != parent {
                return Err(io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
    // Its own process group: a Ctrl-C in the terminal reaches us, and we stop PostgreSQL
    // after the requests in flight, not before.
    cmd.process_group(0);
    cmd.current_dir("/").env_remove("PGDATA").env("LC_ALL", "C");
    cmd
}

impl EmbeddedPg {
    /// Starts PostgreSQL on `<data_dir>/pg` (running `initdb` on first start) and waits until
    /// it accepts connections.
    pub async fn start(data_dir: &Path, options: PgOptions) -> Result<EmbeddedPg, EmbeddedPgError> {
        let data_dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::start_blocking(&data_dir, options))
            .await
            .map_err(|e| EmbeddedPgError::Command {
                what: "start",
                detail: e.to_string(),
            })?
    }

    /// [`Self::start`], blocking the calling thread.
    pub fn start_blocking(
        data_dir: &Path,
        options: PgOptions,
    ) -> Result<EmbeddedPg, EmbeddedPgError> {
        let bindir = find_bindir()?;
        let owner = run_as()?;
        let data_dir = prepare_data_dir(data_dir, owner)?;
        let pgdata = data_dir.join("pg");
        if !pgdata.join("PG_VERSION").is_file() {
            fs::create_dir_all(&pgdata).map_err(io_err(format!("mkdir {}", pgdata.display())))?;
            chown_dir(&pgdata, owner, 0o700)?;
            let out = command(bindir.join("initdb"), owner)
                .arg("-D")
                .arg(&pgdata)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
                .args(if options.unsafe_fast {
                    &["--no-sync"][..]
                } else {
                    &[][..]
                })
                .stdin(Stdio::null())
                .output()
                .map_err(io_err("initdb"))?;
            if !out.status.success() {
                return Err(EmbeddedPgError::Command {
                    what: "initdb",
                    detail: format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                });
            }
        }

        let mut socket_dir = data_dir.join("run");
        let mut tmp_socket_dir = None;
        if socket_dir.as_os_str().len() + "/.s.PGSQL.5432".len() > MAX_SOCKET_PATH {
            let tmp = tempfile::Builder::new()
                .prefix("parole-pg-")
                .tempdir()
                .map_err(io_err("socket dir under /tmp"))?;
            socket_dir = tmp.path().to_path_buf();
            tmp_socket_dir = Some(tmp);
        } else {
            fs::create_dir_all(&socket_dir).map_err(io_err("mkdir socket dir"))?;
        }
        chown_dir(&socket_dir, owner, 0o700)?;

        let mut cmd = command(bindir.join("postgres"), owner);
        cmd.arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&socket_dir)
            .args(["-c", "listen_addresses=", "-p", &PORT.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if options.unsafe_fast {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        for (k, v) in &options.settings {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }

        // Spawn from a thread that lives as long as the child (see the module docs).
        let (spawned_tx, spawned_rx) = std::sync::mpsc::channel();
        let (exit_tx, exit_rx) = oneshot::channel();
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let log_w = log.clone();
        std::thread::Builder::new()
            .name("parole-postgres".into())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = spawned_tx.send(Err(e));
                        return;
                    }
                };
                let _ = spawned_tx.send(Ok(child.id()));
                // Forward PostgreSQL's log to ours, keeping the tail for error messages.
                if let Some(stderr) = child.stderr.take() {
                    use io::BufRead;
                    let _ = std::thread::Builder::new()
                        .name("parole-postgres-log".into())
                        .spawn(move || {
                            for line in io::BufReader::new(stderr).lines().map_while(Result::ok) {
                                tracing::debug!(target: "postgres", "{line}");
                                let mut log = log_w.lock().unwrap_or_else(|e| e.into_inner());
                                if log.len() > 8192 {
                                    log.clear();
                                }
                                log.push_str(&line);
                                log.push('\n');
                            }
                        });
                }
                let _ = exit_tx.send(child.wait());
            })
            .map_err(io_err("spawn thread"))?;
        let pid = spawned_rx
            .recv()
            .map_err(|_| EmbeddedPgError::Command {
                what: "postgres",
                detail: "spawning thread vanished".into(),
            })?
            .map_err(io_err("postgres"))?;

        let pg = EmbeddedPg {
            pid: Pid::from_raw(pid as i32),
            socket_dir,
            _tmp_socket_dir: tmp_socket_dir,
            exited: Mutex::new(Some(exit_rx)),
        };
        pg.wait_ready(Duration::from_secs(60), &log)?;
        Ok(pg)
    }

    fn wait_ready(&self, timeout: Duration, log: &Mutex<String>) -> Result<(), EmbeddedPgError> {
        let start = Instant::now();
        let socket = self.socket_dir.join(format!(".s.PGSQL.{PORT}"));
        let tail = || log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        loop {
            if let Some(rx) = self
                .exited
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                if let Ok(status) = rx.try_recv() {
                    return Err(EmbeddedPgError::Command {
                        what: "postgres",
                        detail: format!("exited at start-up ({status:?}): {}", tail()),
                    });
                }
            }
            if socket.exists() && self.probe() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(EmbeddedPgError::Timeout(timeout, tail()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends a startup packet and checks that the server does not refuse it as starting up.
    fn probe(&self) -> bool {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let Ok(mut s) = UnixStream::connect(self.socket_dir.join(format!(".s.PGSQL.{PORT}")))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut body = Vec::new();
        body.extend_from_slice(&196608i32.to_be_bytes()); // protocol 3.0
        for kv in ["user", "postgres", "database", "postgres"] {
            body.extend_from_slice(kv.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        if s.write_all(&msg).is_err() {
            return false;
        }
        let mut tag = [0u8; 1];
        // 'R' = authentication request (ok with trust); 'E' = error (e.g. "starting up").
        matches!(s.read_exact(&mut tag), Ok(()) if tag[0] == b'R')
    }

    /// The Unix socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// A streaming replica of this cluster in `data_dir` (`pg_basebackup -R`, WAL streamed
    /// during the copy): [`EmbeddedPg::start`] on `data_dir` then runs it as a hot standby
    /// following this one.
    pub fn base_backup(&self, data_dir: &Path) -> Result<(), EmbeddedPgError> {
        let bindir = find_bindir()?;
        let owner = run_as()?;
        let data_dir = prepare_data_dir(data_dir, owner)?;
        let pgdata = data_dir.join("pg");
        fs::create_dir_all(&pgdata).map_err(io_err(format!("mkdir {}", pgdata.display())))?;
        chown_dir(&pgdata, owner, 0o700)?;
        let out = command(bindir.join("pg_basebackup"), owner)
            .arg("-D")
            .arg(&pgdata)
            .arg("-h")
            .arg(&self.socket_dir)
            .args([
                "-p",
                &PORT.to_string(),
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
            ])
            // An immediate checkpoint to start from, not a spread one (minutes when idle).
            .arg("--checkpoint=fast")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("pg_basebackup"))?;
        if !out.status.success() {
            return Err(EmbeddedPgError::Command {
                what: "pg_basebackup",
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }

    /// A `postgres://` URL for database `db`, as user `postgres`, over the Unix socket.
    pub fn connection_url(&self, db: &str) -> String {
        socket_url(&self.socket_dir, db)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Waits until PostgreSQL exits on its own (a crash, a kill): its exit status, or the
    /// error waiting for it. Cancel-safe: dropping the future keeps the process watched, and
    /// [`Self::stop`] still works.
    pub async fn wait_exit(&mut self) -> io::Result<ExitStatus> {
        let slot = self.exited.get_mut().unwrap_or_else(|e| e.into_inner());
        let Some(rx) = slot.as_mut() else {
            return Err(io::Error::other("already exited"));
        };
        let status = rx.await;
        *slot = None;
        status.unwrap_or_else(|_| Err(io::Error::other("the watching thread vanished")))
    }

    /// Stops PostgreSQL (fast shutdown: SIGINT) and waits for it to exit.
    pub async fn stop(self) -> Result<(), EmbeddedPgError> {
        let rx = self.exited.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(rx) = rx else { return Ok(()) };
        let _ = kill(self.pid, Signal::SIGINT);
        let status = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(status)) => status.map_err(io_err("wait postgres"))?,
            Ok(Err(_)) => return Ok(()),
            Err(_) => {
                let _ = kill(self.pid, Signal::SIGQUIT);
                return Err(EmbeddedPgError::Command {
                    what: "stop",
                    detail: "PostgreSQL did not stop within 30 s (sent SIGQUIT)".into(),
                });
            }
        };
        if status.success() || status.signal().is_some() {
            Ok(())
        } else {
            Err(EmbeddedPgError::Command {
                what: "postgres",
                detail: format!("exited with {status}"),
            })
        }
    }
}

impl Drop for EmbeddedPg {
    /// Dropping without [`EmbeddedPg::stop`] still asks PostgreSQL to shut down (without
    /// waiting).
    fn drop(&mut self) {
        let pending = self.exited.get_mut().map(|rx| rx.is_some()).unwrap_or(true);
        if pending {
            let _ = kill(self.pid, Signal::SIGINT);
        }
    }
}
