//! `parole backup FILE` and `parole restore FILE`: the whole database (accounts, devices,
//! questionnaires, responses, reviews, photos) as one `pg_dump` archive, taken while the
//! server runs (`pg_dump` reads one consistent snapshot), and restored into a new
//! installation. With `--database-url`, the given PostgreSQL; else the embedded one of
//! `--data-dir` (reached through its socket when `parole serve` runs it, started for the
//! command otherwise).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::Args;
use parole_client::i18n::Lang;
use parole_server::embedded_pg::{self, EmbeddedPg, PgOptions};

/// The embedded cluster's database, as `parole serve` names it.
const EMBEDDED_DB: &str = "parole";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The archive to write (`pg_dump`'s custom format; written whole or not at all).
    file: PathBuf,
    /// The server's data directory (embedded PostgreSQL), as for `parole serve`.
    #[arg(long, env = "PAROLE_DATA_DIR", default_value = "./parole-data")]
    data_dir: PathBuf,
    /// An external PostgreSQL, as for `parole serve`.
    #[arg(long, env = "PAROLE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// An archive written by `parole backup`.
    file: PathBuf,
    /// The NEW installation's data directory (an embedded PostgreSQL is created there).
    #[arg(long, env = "PAROLE_DATA_DIR", default_value = "./parole-data")]
    data_dir: PathBuf,
    /// Restore into this (empty) external PostgreSQL database instead.
    #[arg(long, env = "PAROLE_DATABASE_URL")]
    database_url: Option<String>,
}

/// The database to work on, and the embedded PostgreSQL started for the command, if one was.
async fn database(
    data_dir: &Path,
    database_url: Option<String>,
) -> anyhow::Result<(String, Option<EmbeddedPg>)> {
    if let Some(url) = database_url.filter(|u| !u.is_empty()) {
        return Ok((url, None));
    }
    if let Some(url) = embedded_pg::running_url(data_dir, EMBEDDED_DB) {
        return Ok((url, None));
    }
    let pg = EmbeddedPg::start(data_dir, PgOptions::default())
        .await
        .with_context(|| format!("démarrage de PostgreSQL dans {}", data_dir.display()))?;
    Ok((pg.connection_url(EMBEDDED_DB), Some(pg)))
}

/// `pg_dump` or `pg_restore` beside the PostgreSQL binaries Parole runs.
fn tool(name: &str) -> anyhow::Result<Command> {
    let dir = embedded_pg::find_bindir().context("outils PostgreSQL / PostgreSQL tools")?;
    Ok(Command::new(dir.join(name)))
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("{what} n'a pas pu démarrer / could not start"))?;
    if !out.status.success() {
        bail!(
            "{what} : échec / failed ({}) : {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

async fn stop(pg: Option<EmbeddedPg>) {
    if let Some(pg) = pg {
        if let Err(e) = pg.stop().await {
            eprintln!("avertissement : arrêt de PostgreSQL / stopping PostgreSQL: {e}");
        }
    }
}

pub async fn backup(args: BackupArgs, lang: Lang) -> anyhow::Result<ExitCode> {
    let (url, pg) = database(&args.data_dir, args.database_url).await?;
    let partial = args.file.with_extension("partial");
    let mut cmd = tool("pg_dump")?;
    cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
        .arg(&partial)
        .arg(&url);
    let result = run(cmd, "pg_dump").and_then(|()| {
        std::fs::rename(&partial, &args.file)
            .with_context(|| format!("écriture de {}", args.file.display()))
    });
    stop(pg).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} {} ({size} {})",
        lang.pick("sauvegarde écrite :", "backup written:"),
        args.file.display(),
        lang.pick("octets", "bytes")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs, lang: Lang) -> anyhow::Result<ExitCode> {
    if !args.file.is_file() {
        bail!("pas de fichier {} / no such file", args.file.display());
    }
    let embedded = args.database_url.as_deref().is_none_or(str::is_empty);
    if embedded && embedded_pg::running_url(&args.data_dir, EMBEDDED_DB).is_some() {
        bail!(
            "un serveur Parole tourne sur {} : restaurez dans un nouveau répertoire (--data-dir) \
             / a Parole server runs on {}: restore into a new directory (--data-dir)",
            args.data_dir.display(),
            args.data_dir.display()
        );
    }
    let (url, pg) = database(&args.data_dir, args.database_url).await?;
    let result = async {
        if let Some(pg) = &pg {
            parole_server::db::ensure_database(&pg.connection_url("postgres"), EMBEDDED_DB).await?;
        }
        let pool = parole_server::db::connect(&url)
            .await
            .context("connexion à PostgreSQL")?;
        let tables = parole_server::db::table_count(&pool).await?;
        pool.close().await;
        if tables > 0 {
            bail!(
                "la base de destination n'est pas vide ({tables} tables) : restaurez dans une \
                 nouvelle installation / the target database is not empty ({tables} tables): \
                 restore into a new installation"
            );
        }
        let mut cmd = tool("pg_restore")?;
        cmd.args([
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--dbname",
        ])
        .arg(&url)
        .arg(&args.file);
        run(cmd, "pg_restore")
    }
    .await;
    stop(pg).await;
    result?;
    println!(
        "{} {}",
        lang.pick(
            "restauré ; démarrez `parole serve` sur",
            "restored; start `parole serve` on"
        ),
        args.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
