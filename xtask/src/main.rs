//! Developer tasks, so that a fresh machine needs nothing done by hand.
//!
//! - `cargo xtask test`: installs what the tests need (the wasm32 target, PostgreSQL's server
//!   binaries when missing), checks that client-core builds for `wasm32-unknown-unknown`,
//!   builds the phone app's wasm (`build-web`, which the browser tests load), then runs every
//!   test of the workspace, then the sync, export and summary tests a second time through
//!   PgBouncer in transaction mode (built once from Debian's source: [`pgbouncer`]), then
//!   the browser tests. The tests start their own PostgreSQL (and PgBouncer).
//! - `cargo xtask build-web`: builds `client-wasm` for `wasm32-unknown-unknown` (profile
//!   `release-wasm`) twice: the phone's module (`parole_wasm`, the compact validator) and the
//!   console's (`parole_wasm_full`, feature `jsonschema`: the questionnaire builder checks
//!   documents against the format's meta-schema), generates the JS bindings into `web/pkg/`
//!   with `wasm-bindgen-cli-support` (the exact version of the `wasm-bindgen` crate: no CLI
//!   to install), shrinks the modules with `wasm-opt -Oz` when available, prints the sizes
//!   (raw, gzip, brotli), and **fails when the phone's first visit is over its budget**
//!   ([`FIRST_VISIT_BUDGET`], brotli, over the files `web/sw.js` precaches: see
//!   [`check_first_visit`]).
//! - `cargo xtask run [-- SERVE ARGS]`: `build-web`, then `cargo run --release -- serve ARGS`.
//! - `cargo xtask setup`: installs what the others need.
//! - `cargo xtask pgbouncer`: builds PgBouncer for the tests (once) and prints its path, to
//!   run tests through it by hand: `PAROLE_TEST_PGBOUNCER=$(cargo xtask pgbouncer) cargo
//!   test -p parole-server --test api -- sync::`.
//! - `cargo xtask fuzz [SECONDS]`: runs each fuzz target of `fuzz/` for SECONDS (default 60)
//!   with cargo-fuzz on nightly Rust (installing both when missing), seeded from
//!   `schemas/examples/`. Not part of the test suite: a finding is written under
//!   `fuzz/artifacts/TARGET/` and becomes a regression test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("setup") => setup(),
        Some("build-web") => build_web(),
        Some("run") => run_server(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("pgbouncer") => {
            println!("{}", pgbouncer()?.display());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask test [-- CARGO TEST ARGS]\n       \
                 cargo xtask build-web\n       \
                 cargo xtask run [-- SERVE ARGS]\n       \
                 cargo xtask fuzz [SECONDS]\n       \
                 cargo xtask pgbouncer\n       \
                 cargo xtask setup"
            );
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs what the tests need and that a fresh machine may lack.
fn setup() -> Result<()> {
    setup_wasm_tools()?;
    setup_postgres()?;
    // Headless Chromium and Node.js, for the phone app's browser tests.
    if !Path::new(CHROMIUM).exists() {
        apt_install(&["chromium"], "the browser tests need Chromium")?;
    }
    if !succeeds(Command::new("npm").arg("--version")) {
        apt_install(&["nodejs", "npm"], "the browser tests need Node.js and npm")?;
    }
    Ok(())
}

/// PostgreSQL's server binaries (initdb, postgres), which `parole serve` and the tests start
/// themselves.
fn setup_postgres() -> Result<()> {
    if !postgres_installed() {
        apt_install(
            &["postgresql"],
            "PostgreSQL's server binaries were not found",
        )?;
    }
    Ok(())
}

fn postgres_installed() -> bool {
    if succeeds(Command::new("pg_config").arg("--bindir")) {
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if Path::new(&dir).join("initdb").exists() {
                return true;
            }
        }
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/initdb").exists()))
        .unwrap_or(false)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// The whole test suite.
fn test(extra: &[String]) -> Result<()> {
    setup()?;
    run(cargo().args([
        "build",
        "--package",
        "parole-client-core",
        "--no-default-features",
        "--target",
        "wasm32-unknown-unknown",
    ]))
    .context("client-core must build for wasm32-unknown-unknown")?;
    build_web_only().context("the phone app's wasm (web/pkg) must build")?;
    run(cargo().args(["test", "--workspace"]).args(extra))?;
    // The sync, export and summary tests again, through PgBouncer in transaction mode.
    let bouncer = pgbouncer().context("PgBouncer, for the tests through it")?;
    run(cargo()
        .args(["test", "--package", "parole-server", "--test", "api", "--"])
        .args(BOUNCED_TESTS)
        .env("PAROLE_TEST_PGBOUNCER", &bouncer))
    .context("the tests through PgBouncer")?;
    // The phone app in a real browser, against the `parole` binary the tests just built.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    run(Command::new("sh")
        .arg(root().join("web/tests/run.sh"))
        .env("PAROLE_BIN", target_dir.join("debug/parole"))
        .env("CHROMIUM_BIN", CHROMIUM))
    .context("the phone app's browser tests")?;
    Ok(())
}

/// The tests run a second time through PgBouncer (module filters of the `api` test).
const BOUNCED_TESTS: [&str; 6] = [
    "sync::",
    "exports::",
    "export_formats::",
    "export_xlsx::",
    "summary::",
    "pgbouncer::",
];

/// The PgBouncer built for the tests: Debian 13's source (1.24), since Debian 12's package
/// (1.18) cannot serve sqlx's named prepared statements in transaction mode (1.21 can:
/// `max_prepared_statements`).
const PGBOUNCER: &str = "pgbouncer-1.24.1";
const PGBOUNCER_URL: &str =
    "http://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_1.24.1.orig.tar.gz";
const PGBOUNCER_SHA256: &str = "da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0";

/// PgBouncer's binary: `$PAROLE_PGBOUNCER` when set, else built once from Debian's source
/// package (downloaded from deb.debian.org, its SHA-256 checked) under
/// `target/xtask-tools/`, with libevent from Debian's packages.
fn pgbouncer() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PAROLE_PGBOUNCER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let tools = root().join("target").join("xtask-tools");
    let prefix = tools.join(PGBOUNCER);
    let bin = prefix.join("bin/pgbouncer");
    if bin.exists() {
        return Ok(bin);
    }
    if !succeeds(Command::new("pkg-config").args(["--exists", "libevent"])) {
        apt_install(
            &["libevent-dev", "pkg-config", "make", "gcc"],
            "building PgBouncer needs libevent and a C compiler",
        )?;
    }
    if !succeeds(Command::new("curl").arg("--version")) {
        apt_install(&["curl"], "downloading PgBouncer's source needs curl")?;
    }
    std::fs::create_dir_all(&tools)?;
    let tarball = tools.join(format!("{PGBOUNCER}.tar.gz"));
    run(Command::new("curl")
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--retry",
            "3",
            "-o",
        ])
        .arg(&tarball)
        .arg(PGBOUNCER_URL))?;
    let out = Command::new("sha256sum").arg(&tarball).output()?;
    let sum = String::from_utf8_lossy(&out.stdout);
    if sum.split_whitespace().next() != Some(PGBOUNCER_SHA256) {
        bail!("{PGBOUNCER_URL}: SHA-256 {sum} is not the expected {PGBOUNCER_SHA256}");
    }
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&tools))?;
    let src = tools.join(PGBOUNCER);
    let src_dir = tools.join(format!("{PGBOUNCER}-src"));
    let _ = std::fs::remove_dir_all(&src_dir);
    std::fs::rename(&src, &src_dir)?;
    // Their output on stderr: `cargo xtask pgbouncer` prints only the path on stdout.
    run(Command::new("./configure")
        .arg(format!("--prefix={}", prefix.display()))
        .args([
            "--without-openssl",
            "--without-cares",
            "--without-systemd",
            "--without-pam",
            "--without-ldap",
        ])
        .current_dir(&src_dir)
        .stdout(std::io::stderr()))?;
    run(Command::new("make")
        .args(["-j2"])
        .current_dir(&src_dir)
        .stdout(std::io::stderr()))?;
    run(Command::new("make")
        .arg("install")
        .current_dir(&src_dir)
        .stdout(std::io::stderr()))?;
    Ok(bin)
}

/// The fuzz targets of `fuzz/`, what each is fed first, and each one's time.
const FUZZ_TARGETS: [&str; 3] = ["push", "questionnaire", "answers"];

/// Runs every fuzz target for `SECONDS` each (default 60), stopping at the first finding.
fn fuzz(args: &[String]) -> Result<()> {
    let seconds: u64 = match args.first() {
        Some(s) => s
            .parse()
            .with_context(|| format!("SECONDS must be a number, got {s:?}"))?,
        None => 60,
    };
    let nightly = || {
        let mut cmd = Command::new("rustup");
        cmd.args(["run", "nightly"])
            .current_dir(root().join("fuzz"));
        cmd
    };
    if !succeeds(nightly().args(["cargo", "--version"])) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if !succeeds(nightly().args(["cargo", "fuzz", "--version"])) {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    seed_fuzz_corpora()?;
    for target in FUZZ_TARGETS {
        run(nightly()
            .args(["cargo", "fuzz", "run", target, "--"])
            .args([
                format!("-max_total_time={seconds}"),
                // A validation slower than linear shows as a slow input.
                "-timeout=2".to_string(),
                "-max_len=65536".to_string(),
                "-rss_limit_mb=4096".to_string(),
            ]))
        .with_context(|| format!("fuzz target {target}: see fuzz/artifacts/{target}/"))?;
    }
    eprintln!("xtask: no finding in {seconds} s per target");
    Ok(())
}

/// Each target's corpus starts from the examples: the questionnaires, their cases' answers
/// (after a byte choosing the questionnaire), and push bodies made of those answers.
fn seed_fuzz_corpora() -> Result<()> {
    let examples = root().join("schemas/examples");
    let corpus = |target: &str| root().join("fuzz/corpus").join(target);
    for target in FUZZ_TARGETS {
        std::fs::create_dir_all(corpus(target))?;
    }
    let slugs = ["besoins-formation", "parole-habitants", "tous-les-types"];
    for (pick, slug) in slugs.iter().enumerate() {
        let document = std::fs::read(examples.join(format!("{slug}.json")))?;
        std::fs::write(
            corpus("questionnaire").join(format!("seed-{slug}")),
            &document,
        )?;
        let Ok(cases) = std::fs::read_to_string(examples.join(format!("{slug}.cases.json"))) else {
            continue;
        };
        let cases: serde_json::Value = serde_json::from_str(&cases)?;
        let answers: Vec<&serde_json::Value> = cases["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| &c["answers"])
            .collect();
        for (n, a) in answers.iter().enumerate() {
            let mut bytes = vec![pick as u8];
            bytes.extend(serde_json::to_vec(a)?);
            std::fs::write(corpus("answers").join(format!("seed-{slug}-{n}")), bytes)?;
        }
        let responses: Vec<serde_json::Value> = answers
            .iter()
            .enumerate()
            .map(|(n, a)| {
                serde_json::json!({
                    "id": format!("0190a1b2-c3d4-7e5f-8a9b-{n:012x}"),
                    "questionnaire": slug,
                    "version": 1,
                    "answers": a,
                    "started_at": "2026-11-30T10:00:00+01:00",
                    "completed_at": "2026-11-30T10:05:00+01:00",
                })
            })
            .collect();
        let body = serde_json::json!({
            "responses": responses,
            "device_state": {"queued": 3, "drafts": 1, "app_version": "0.1.0"},
        });
        std::fs::write(
            corpus("push").join(format!("seed-{slug}")),
            serde_json::to_vec(&body)?,
        )?;
    }
    Ok(())
}

/// The crate compiled to wasm for the phone app, and where its bindings go.
const WASM_CRATE: &str = "parole-wasm";
const WASM_FILE: &str = "parole_wasm.wasm";
const WASM_PROFILE: &str = "release-wasm";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn build_web() -> Result<()> {
    setup_wasm_tools()?;
    build_web_only()
}

/// The wasm32 target (client-core's wasm check, the phone app). `wasm-opt` is found or
/// installed by [`wasm_opt`] when `build-web` needs it (Debian 12's binaryen is too old).
fn setup_wasm_tools() -> Result<()> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match targets {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains(WASM_TARGET) => {}
        Ok(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?,
        Err(_) => eprintln!("xtask: no rustup; assuming the wasm32 target is installed"),
    }
    Ok(())
}

/// Installs Debian packages when root with apt-get; otherwise says what is missing.
fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    if !(is_root() && succeeds(Command::new("apt-get").arg("--version"))) {
        bail!(
            "{why}: install {} (Debian: apt-get install {0})",
            packages.join(" ")
        );
    }
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(packages))
    };
    install().or_else(|_| {
        run(Command::new("apt-get").arg("update").arg("-q"))?;
        install()
    })
}

/// The browser the web app's tests drive.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The oldest binaryen whose `wasm-opt` keeps wasm-bindgen's externref table right (108,
/// Debian 12's, exports the function table in its place: the module then fails to start).
const MIN_BINARYEN: u32 = 116;
/// The binaryen taken from npm when the system has no recent enough one.
const NPM_BINARYEN: &str = "binaryen@132.0.0";

/// `wasm-opt`'s version number (`wasm-opt version 108 (…)` → 108).
fn binaryen_version(cmd: &mut Command) -> Option<u32> {
    let out = cmd.arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|w| w.parse().ok())
}

/// A `wasm-opt` to run: `$PAROLE_WASM_OPT` (a path, or `0` to skip), else the system's when
/// recent enough, else npm's `binaryen` installed under `target/xtask-tools/`.
fn wasm_opt() -> Option<Command> {
    match std::env::var("PAROLE_WASM_OPT") {
        Ok(v) if v == "0" || v == "off" => return None,
        Ok(path) if !path.is_empty() => return Some(Command::new(path)),
        _ => {}
    }
    match binaryen_version(&mut Command::new("wasm-opt")) {
        Some(v) if v >= MIN_BINARYEN => return Some(Command::new("wasm-opt")),
        Some(v) => {
            eprintln!("xtask: the system's wasm-opt is binaryen {v} (< {MIN_BINARYEN}): not used")
        }
        None => {}
    }
    let tools = root().join("target").join("xtask-tools");
    let npm_opt = tools.join("node_modules/binaryen/bin/wasm-opt");
    let usable =
        |p: &Path| binaryen_version(&mut Command::new(p)).is_some_and(|v| v >= MIN_BINARYEN);
    if !usable(&npm_opt) && succeeds(Command::new("npm").arg("--version")) {
        let _ = std::fs::create_dir_all(&tools);
        let installed = run(Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&tools)
            .arg(NPM_BINARYEN));
        if let Err(e) = installed {
            eprintln!("xtask: warning: could not install {NPM_BINARYEN} from npm: {e:#}");
        }
    }
    usable(&npm_opt).then(|| Command::new(npm_opt))
}

/// `client-wasm` → `web/pkg/` (see the module docs). Needs the wasm32 target.
fn build_web_only() -> Result<()> {
    let out_dir = root().join("web").join("pkg");
    // Start clean, so no stale file of an older build is served.
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir)
            .with_context(|| format!("could not empty {}", out_dir.display()))?;
    }
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    // The console's first (the phone's is the one left in the target directory).
    build_module(&out_dir, "parole_wasm_full", &["--features", "jsonschema"])?;
    build_module(&out_dir, "parole_wasm", &[])?;
    print_sizes(&out_dir)?;
    check_first_visit(&root().join("web"))
}

/// One build of `client-wasm` (with `features`), bound as `web/pkg/NAME.js` and
/// `NAME_bg.wasm`, then shrunk by `wasm-opt`.
fn build_module(out_dir: &Path, name: &str, features: &[&str]) -> Result<()> {
    run(cargo()
        .args([
            "build",
            "--profile",
            WASM_PROFILE,
            "--target",
            WASM_TARGET,
            "--package",
            WASM_CRATE,
        ])
        .args(features))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let input = target_dir
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join(WASM_FILE);
    eprintln!(
        "xtask: wasm-bindgen {} → {}",
        input.display(),
        out_dir.display()
    );
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .web(true)?
        // Without it, the generated `init()` has no default URL for the module.
        .omit_default_module_path(false)
        .typescript(true)
        .out_name(name)
        .generate(out_dir)
        .context("wasm-bindgen failed")?;

    let wasm = out_dir.join(format!("{name}_bg.wasm"));
    match wasm_opt() {
        Some(mut cmd) => {
            let optimised = out_dir.join(format!("{name}_bg.opt.wasm"));
            run(cmd
                .arg("-Oz")
                // The features rustc enables by default for wasm32 (bulk memory, sign
                // extension, non-trapping float-to-int, multi-value, reference types).
                .arg("--enable-bulk-memory")
                .arg("--enable-sign-ext")
                .arg("--enable-nontrapping-float-to-int")
                .arg("--enable-multivalue")
                .arg("--enable-reference-types")
                .arg(&wasm)
                .arg("-o")
                .arg(&optimised))?;
            std::fs::rename(&optimised, &wasm)?;
        }
        None => eprintln!(
            "xtask: warning: no usable wasm-opt (binaryen ≥ {MIN_BINARYEN}: Debian's binaryen, or \
             npm's, which `cargo xtask build-web` installs under target/ when npm is there): \
             web/pkg is not size-optimised"
        ),
    }
    Ok(())
}

/// The most the phone app's first visit may cost, brotli-compressed (issue 10: "first visit
/// ≤ 300 KB with brotli"; Enketo's costs 0.99 MB).
const FIRST_VISIT_BUDGET: usize = 300 * 1024;

/// Fails when the phone app's first visit, brotli-compressed (quality 11, as the build
/// precompresses), costs more than [`FIRST_VISIT_BUDGET`]. The files a first visit fetches
/// are listed in one place: the service worker's `SHELL` (the app precaches exactly what it
/// needs to start offline, so a file the first screen loads is in it), plus `sw.js` itself.
fn check_first_visit(web: &Path) -> Result<()> {
    let sw = std::fs::read_to_string(web.join("sw.js")).context("reading web/sw.js")?;
    let files = first_visit_files(&sw)?;
    let mut total = 0;
    for file in &files {
        let path = web.join(file);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("web/{file}, which web/sw.js precaches"))?;
        // `pkg/`'s precompressed copy, made above, else compressed here the same way.
        let br = match std::fs::read(format!("{}.br", path.display())) {
            Ok(br) => br.len(),
            Err(_) => brotli(&bytes)?.len(),
        };
        eprintln!("xtask: first visit {file:<28} {br:>10}");
        total += br;
    }
    eprintln!(
        "xtask: first visit total (brotli 11)      {total:>10} bytes ({} KB; budget {} KB)",
        total / 1024,
        FIRST_VISIT_BUDGET / 1024
    );
    if total > FIRST_VISIT_BUDGET {
        bail!(
            "the phone app's first visit costs {total} bytes with brotli, over its budget of \
             {FIRST_VISIT_BUDGET} (issue 10): see the sizes above"
        );
    }
    Ok(())
}

/// The files of `sw.js`'s `SHELL` list (without `./`, the same file as `index.html`), and
/// `sw.js`.
fn first_visit_files(sw: &str) -> Result<Vec<String>> {
    let list = sw
        .split_once("const SHELL = [")
        .and_then(|(_, rest)| rest.split_once("];"))
        .map(|(list, _)| list)
        .context("web/sw.js has no `const SHELL = [ … ];` list")?;
    let mut files: Vec<String> = list
        .split(',')
        .map(|item| item.trim().trim_matches('\'').to_string())
        .filter(|item| !item.is_empty() && item != "./")
        .collect();
    files.push("sw.js".into());
    Ok(files)
}

/// `bytes` compressed with brotli at its best (quality 11), as the server sends them.
fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut br = Vec::new();
    brotli::BrotliCompress(
        &mut &bytes[..],
        &mut br,
        &brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        },
    )?;
    Ok(br)
}

/// Writes `F.gz` (gzip -9) and `F.br` (brotli q11) beside each `.wasm` and `.js` of `dir`
/// (the server serves them precompressed: better ratios than compressing on the fly), and
/// prints each file with its raw, gzip and brotli sizes.
fn print_sizes(dir: &Path) -> Result<()> {
    use std::io::Write;
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && !matches!(p.extension(), Some(e) if e == "gz" || e == "br"))
        .collect();
    files.sort();
    let (mut raw_total, mut gz_total, mut br_total) = (0, 0, 0);
    eprintln!(
        "xtask: {:<28} {:>10} {:>10} {:>10}",
        "web/pkg", "raw", "gzip -9", "brotli 11"
    );
    for path in files {
        let bytes = std::fs::read(&path)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        let gz = gz.finish()?.len();
        let br = brotli(&bytes)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".wasm") || name.ends_with(".js") {
            let mut gz_file = flate2::write::GzEncoder::new(
                std::fs::File::create(dir.join(format!("{name}.gz")))?,
                flate2::Compression::best(),
            );
            gz_file.write_all(&bytes)?;
            gz_file.finish()?;
            std::fs::write(dir.join(format!("{name}.br")), &br)?;
        }
        eprintln!(
            "xtask: {:<28} {:>10} {:>10} {:>10}",
            name,
            bytes.len(),
            gz,
            br.len()
        );
        if !name.ends_with(".d.ts") {
            raw_total += bytes.len();
            gz_total += gz;
            br_total += br.len();
        }
    }
    eprintln!(
        "xtask: {:<28} {:>10} {:>10} {:>10}",
        "total (without .d.ts)", raw_total, gz_total, br_total
    );
    Ok(())
}

/// `build-web`, then the server.
fn run_server(extra: &[String]) -> Result<()> {
    let extra = match extra.first().map(String::as_str) {
        Some("--") => &extra[1..],
        _ => extra,
    };
    setup_postgres()?;
    build_web()?;
    run(cargo()
        .args(["run", "--release", "--package", "parole", "--", "serve"])
        .args(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget is computed over `web/sw.js`'s `SHELL`: the list must still be read, and
    /// hold the module and the page.
    #[test]
    fn the_first_visit_is_read_from_the_service_worker() {
        let sw = std::fs::read_to_string(root().join("web/sw.js")).unwrap();
        let files = first_visit_files(&sw).unwrap();
        for needed in ["index.html", "app.js", "pkg/parole_wasm_bg.wasm", "sw.js"] {
            assert!(
                files.iter().any(|f| f == needed),
                "{needed} missing: {files:?}"
            );
        }
        assert!(!files
            .iter()
            .any(|f| f.contains('\'') || f.contains(' ') || f == "./"));
        assert!(first_visit_files("const OTHER = [];").is_err());
    }
}
