//! The command line: argument parsing and dispatch. Each command is a few lines over the
//! libraries (`parole_server`, `parole_client`).

mod backup;
mod client;
mod server;
mod staff;
mod xlsform;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
pub use parole_client::i18n::Lang;

/// Parole: offline-first field surveys.
#[derive(Debug, Parser)]
#[command(name = "parole", version, about)]
pub struct Cli {
    /// Language of the messages.
    #[arg(long, global = true, env = "PAROLE_LANG", value_parser = parse_lang, default_value = "fr")]
    pub lang: Lang,

    /// The client's data directory (outbox, enrolment, pulled questionnaires).
    /// Default: `$XDG_DATA_HOME/parole-client` or `~/.local/share/parole-client`.
    #[arg(long, global = true, env = "PAROLE_CLIENT_DIR")]
    pub client_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// `fr` or `en`: the language the CLI picks from each [`parole_client::i18n::Message`].
fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "fr" => Ok(Lang::Fr),
        "en" => Ok(Lang::En),
        _ => Err(format!("« {s} » : fr ou en / `{s}`: fr or en")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(server::ServeArgs),
    /// Administration on the server's database.
    #[command(subcommand)]
    Admin(server::AdminCommand),
    /// Back up everything (accounts, devices, questionnaires, responses, photos) into one
    /// file, while the server runs.
    Backup(backup::BackupArgs),
    /// Restore a backup into a new installation.
    Restore(backup::RestoreArgs),
    /// Enrol this device with an enrolment code from the coordinator.
    Enrol(client::EnrolArgs),
    /// Fetch the questionnaires this device may fill.
    Pull,
    /// Fill a questionnaire from a JSON answers file (or many from an NDJSON file) and queue it.
    Fill(client::FillArgs),
    /// Show the outbox: how many responses in each state, and the rejected ones' errors.
    Status,
    /// Pull the questionnaires, then deliver the queued responses.
    Sync,
    /// Take in a phone's backup file (its unsent responses and photos) and send it.
    ImportBackup(client::ImportBackupArgs),
    /// Export a questionnaire's responses (CSV or NDJSON) with a staff account.
    Export(server::ExportArgs),
    /// Questionnaires: publish a JSON file as a new version (with what changed), see what
    /// publishing the draft would change, list (with a staff account);
    /// convert an XLSForm workbook (on this machine).
    #[command(subcommand)]
    Questionnaire(staff::QuestionnaireCommand),
    /// Interviewers, with a staff account: create one and get its enrolment code.
    #[command(subcommand)]
    Interviewer(staff::InterviewerCommand),
    /// Devices, with a staff account: who synced when, what is still on each phone; revoke.
    #[command(subcommand)]
    Device(staff::DeviceCommand),
    /// Staff accounts, with the admin account.
    #[command(subcommand)]
    User(staff::UserCommand),
}

/// Exit code for "the command did what it could, but something needs attention"
/// (invalid answers, a sync that could not finish).
pub const EXIT_ATTENTION: u8 = 1;

/// Logs to stderr, filtered by `PAROLE_LOG` (default `info`); as JSON lines when
/// `PAROLE_LOG_FORMAT=json`, for a log collector.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAROLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("PAROLE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("erreur : impossible de démarrer le runtime / cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lang = cli.lang;
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}{e:#}", lang.pick("erreur : ", "error: "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = client::Ctx::new(cli.lang, cli.client_dir);
    match cli.command {
        Command::Serve(args) => server::serve(args).await,
        Command::Admin(cmd) => server::admin(cmd, cli.lang).await,
        Command::Backup(args) => backup::backup(args, cli.lang).await,
        Command::Restore(args) => backup::restore(args, cli.lang).await,
        Command::Enrol(args) => client::enrol(&ctx, args).await,
        Command::Pull => client::pull(&ctx).await,
        Command::Fill(args) => client::fill(&ctx, args).await,
        Command::Status => client::status(&ctx).await,
        Command::Sync => client::sync(&ctx).await,
        Command::ImportBackup(args) => client::import_backup(&ctx, args).await,
        Command::Export(args) => server::export(args, cli.lang).await,
        Command::Questionnaire(cmd) => staff::questionnaire(cmd, cli.lang).await,
        Command::Interviewer(cmd) => staff::interviewer(cmd, cli.lang).await,
        Command::Device(cmd) => staff::device(cmd, cli.lang).await,
        Command::User(cmd) => staff::user(cmd, cli.lang).await,
    }
}
