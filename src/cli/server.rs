//! The server-side commands: `serve`, `admin …`, and the staff `export`.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use parole_client::api::{CsvSeparator, ExportParams, PersonalData, ReviewState, Where};
use parole_client::native::{ApiClient, ExportFormat, ExportQuery};

use super::Lang;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAROLE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the embedded PostgreSQL keeps its data (unused with --database-url).
    #[arg(long, env = "PAROLE_DATA_DIR", default_value = "./parole-data")]
    data_dir: PathBuf,
    /// An external PostgreSQL; without it an embedded one runs in --data-dir.
    #[arg(long, env = "PAROLE_DATABASE_URL")]
    database_url: Option<String>,
    /// Parole sits behind a reverse proxy that terminates TLS (Caddy, nginx): needed to
    /// listen on anything but a loopback address.
    #[arg(long, env = "PAROLE_BEHIND_PROXY", value_parser = clap::builder::FalseyValueParser::new())]
    behind_proxy: bool,
    /// A streaming replica of the database: exports and summaries read it once it has
    /// caught up with the primary (else they read the primary).
    #[arg(long, env = "PAROLE_READ_DATABASE_URL")]
    read_database_url: Option<String>,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    parole_server::run(parole_server::ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url.filter(|s| !s.is_empty()),
        behind_proxy: args.behind_proxy,
        read_database_url: args.read_database_url.filter(|s| !s.is_empty()),
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account.
    CreateUser(CreateUserArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StaffRole {
    Coordinator,
    Analyst,
    Admin,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    username: String,
    #[arg(long, value_enum)]
    role: StaffRole,
    /// Read the password from the first line of stdin (otherwise: PAROLE_PASSWORD, or a prompt).
    #[arg(long)]
    password_stdin: bool,
    /// The server's data directory (embedded PostgreSQL), as for `parole serve`.
    #[arg(long, env = "PAROLE_DATA_DIR", default_value = "./parole-data")]
    data_dir: PathBuf,
    /// An external PostgreSQL, as for `parole serve`.
    #[arg(long, env = "PAROLE_DATABASE_URL")]
    database_url: Option<String>,
}

/// The embedded cluster's database, as `parole serve` names it.
const EMBEDDED_DB: &str = "parole";

pub async fn admin(cmd: AdminCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::CreateUser(args) => {
            let password = if args.password_stdin {
                read_line_stdin()?
            } else {
                password(lang)?
            };
            let role = match args.role {
                StaffRole::Coordinator => parole_client::api::Role::Coordinator,
                StaffRole::Analyst => parole_client::api::Role::Analyst,
                StaffRole::Admin => parole_client::api::Role::Admin,
            };
            let mut embedded = None;
            let url = match args.database_url.filter(|s| !s.is_empty()) {
                Some(url) => url,
                None => {
                    let pg = parole_server::embedded_pg::EmbeddedPg::start(
                        &args.data_dir,
                        parole_server::embedded_pg::PgOptions::default(),
                    )
                    .await
                    .with_context(|| {
                        format!(
                            "démarrage de PostgreSQL dans {} (le serveur est-il déjà lancé ? arrêtez-le, ou passez --database-url)",
                            args.data_dir.display()
                        )
                    })?;
                    let url = pg.connection_url(EMBEDDED_DB);
                    embedded = Some(pg);
                    url
                }
            };
            let result = async {
                let pool = parole_server::db::connect(&url)
                    .await
                    .context("connexion à PostgreSQL (lancez `parole serve` une première fois)")?;
                parole_server::db::migrate(&pool)
                    .await
                    .context("migrations")?;
                let id = parole_server::create_user(&pool, &args.username, role, &password).await?;
                pool.close().await;
                anyhow::Ok(id)
            }
            .await;
            if let Some(pg) = embedded {
                if let Err(e) = pg.stop().await {
                    // The account is created (or not) either way: say so, do not fail on it.
                    eprintln!("avertissement : arrêt de PostgreSQL / stopping PostgreSQL: {e}");
                }
            }
            let id = result?;
            println!(
                "{} {} ({id})",
                lang.pick("compte créé :", "account created:"),
                args.username
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(super) fn read_line_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("lecture du mot de passe sur l'entrée standard")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("mot de passe vide / empty password");
    }
    Ok(p)
}

/// PAROLE_PASSWORD, or a prompt on stdin (echo off on a terminal).
pub(super) fn password(lang: Lang) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PAROLE_PASSWORD") {
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let tty = std::io::stdin().is_terminal();
    eprint!("{}", lang.pick("Mot de passe : ", "Password: "));
    std::io::stderr().flush().ok();
    let stty = |arg: &str| {
        let _ = std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    if tty {
        stty("-echo");
    }
    let result = read_line_stdin();
    if tty {
        stty("echo");
        eprintln!();
    }
    result
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Ndjson,
    Xlsx,
    Geojson,
    /// The photos, as a zip.
    Photos,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Sep {
    /// `,` (RFC 4180)
    #[value(name = ",", alias = "comma")]
    Comma,
    /// `;` (Excel in French)
    #[value(name = ";", alias = "semicolon")]
    Semicolon,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The questionnaire's slug.
    questionnaire: String,
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write (written whole or not at all).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Only this published version.
    #[arg(long)]
    version: Option<i32>,
    /// Only the responses after this sequence number (incremental exports).
    #[arg(long)]
    after: Option<i64>,
    /// The server's URL.
    #[arg(long, env = "PAROLE_SERVER")]
    server: String,
    /// A staff account (password from PAROLE_PASSWORD, or prompted).
    #[arg(long, env = "PAROLE_USERNAME")]
    username: String,
    /// Leave out (`omit`) or keep (`include`) the answers to personal-data questions.
    /// Default: kept for coordinators, left out for analysts (who cannot ask for them).
    #[arg(long, value_enum)]
    personal: Option<Personal>,
    /// Only the responses completed on or after this day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Only the responses completed on or before this day (YYYY-MM-DD).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// Only this interviewer's responses (their id, from `parole interviewer list`).
    #[arg(long)]
    interviewer: Option<uuid::Uuid>,
    /// Only the responses in this review state: received, approved, has_issues, rejected.
    #[arg(long, value_parser = parse_review)]
    review: Option<ReviewState>,
    /// Only the responses with this answer, as question:value (repeatable; several values
    /// of one question are alternatives).
    #[arg(long = "where", value_parser = parse_where)]
    where_: Vec<Where>,
    /// CSV: the separator, `,` (default) or `;` (Excel in French).
    #[arg(long, value_enum)]
    sep: Option<Sep>,
    /// CSV, GeoJSON: choice and yes/no labels in this language (fr, en…) instead of values.
    #[arg(long)]
    labels: Option<String>,
    /// CSV: the items of this repeat, one row each (keyed by response_id and item_index).
    #[arg(long)]
    repeat: Option<String>,
}

fn parse_review(s: &str) -> Result<ReviewState, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "received, approved, has_issues or rejected".to_string())
}

fn parse_where(s: &str) -> Result<Where, String> {
    Where::try_from(s.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Personal {
    Omit,
    Include,
}

impl From<Personal> for PersonalData {
    fn from(p: Personal) -> Self {
        match p {
            Personal::Omit => PersonalData::Omit,
            Personal::Include => PersonalData::Include,
        }
    }
}

pub async fn export(args: ExportArgs, lang: Lang) -> anyhow::Result<ExitCode> {
    let password = password(lang)?;
    let api = ApiClient::new()?;
    let login = api
        .login(&args.server, &args.username, &password)
        .await
        .with_context(|| format!("connexion de {} à {}", args.username, args.server))?;
    let format = match args.format {
        Format::Csv => ExportFormat::Csv,
        Format::Ndjson => ExportFormat::Ndjson,
        Format::Xlsx => ExportFormat::Xlsx,
        Format::Geojson => ExportFormat::Geojson,
        Format::Photos => ExportFormat::Photos,
    };
    let pb = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {bytes} {msg}").expect("a valid template"),
    );
    pb.set_message(lang.pick("téléchargement", "downloading").to_string());
    let bytes = api
        .export(
            &args.server,
            &login.token,
            &args.questionnaire,
            &ExportQuery {
                format,
                params: ExportParams {
                    version: args.version,
                    after: args.after,
                    personal: args.personal.map(Into::into),
                    from: args.from,
                    to: args.to,
                    interviewer: args.interviewer,
                    review: args.review,
                    where_: args.where_,
                    sep: args.sep.map(|s| match s {
                        Sep::Comma => CsvSeparator::Comma,
                        Sep::Semicolon => CsvSeparator::Semicolon,
                    }),
                    labels: args.labels,
                    repeat: args.repeat,
                },
            },
            &args.output,
            |n| pb.set_position(n),
        )
        .await;
    // The session ends with the command, whether the export worked or not.
    let _ = api.staff(&args.server, &login.token).logout().await;
    let bytes = bytes.with_context(|| format!("export de {}", args.questionnaire))?;
    pb.finish_and_clear();
    println!(
        "{} {} ({bytes} {})",
        lang.pick("écrit :", "written:"),
        args.output.display(),
        lang.pick("octets", "bytes")
    );
    Ok(ExitCode::SUCCESS)
}
