//! The interviewer's commands: enrol, pull, fill, status, sync. All work on the client data
//! directory (a [`FileStorage`]): nothing is reported as queued before the store returned.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parole_client::native::{ApiClient, FileStorage, HttpTransport};
use parole_client::outbox::{Outbox, OutboxError, State, Storage};
use parole_client::sync::{self, SyncConfig, SyncEngine, SyncError};
use parole_client::{Questionnaire, Response, ResponseId, ValidationError};
use serde_json::Value;

use super::{Lang, EXIT_ATTENTION};

/// Meta keys of the enrolment.
const META_SERVER: &str = "server";
const META_DEVICE_ID: &str = "device_id";
const META_DEVICE_NAME: &str = "device_name";
const META_TOKEN: &str = "token";

/// What every client command needs.
pub struct Ctx {
    pub lang: Lang,
    pub dir: Option<PathBuf>,
}

impl Ctx {
    pub fn new(lang: Lang, dir: Option<PathBuf>) -> Self {
        Self { lang, dir }
    }

    fn dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|s| !s.is_empty()) {
            return Ok(PathBuf::from(x).join("parole-client"));
        }
        let home = std::env::var_os("HOME")
            .filter(|s| !s.is_empty())
            .context("ni --client-dir, ni XDG_DATA_HOME, ni HOME / no client directory")?;
        Ok(PathBuf::from(home).join(".local/share/parole-client"))
    }

    fn storage(&self) -> anyhow::Result<FileStorage> {
        let dir = self.dir()?;
        FileStorage::open(&dir)
            .with_context(|| format!("ouverture du dossier client {}", dir.display()))
    }

    fn t<'a>(&self, fr: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(fr, en)
    }

    fn msg<'a>(&self, e: &'a ValidationError) -> &'a str {
        e.message.pick(self.lang)
    }

    fn print_errors(&self, prefix: &str, errors: &[ValidationError]) {
        for e in errors {
            let path = if e.path.is_empty() { "/" } else { &e.path };
            eprintln!("{prefix}  {path} : {} [{}]", self.msg(e), e.code);
        }
    }
}

async fn meta_str(s: &FileStorage, key: &str) -> anyhow::Result<Option<String>> {
    Ok(s.get_meta(key)
        .await?
        .and_then(|v| v.as_str().map(String::from)))
}

/// The server URL and device token, or a message telling to enrol.
async fn enrolment(ctx: &Ctx, s: &FileStorage) -> anyhow::Result<(String, String)> {
    match (
        meta_str(s, META_SERVER).await?,
        meta_str(s, META_TOKEN).await?,
    ) {
        (Some(server), Some(token)) => Ok((server, token)),
        _ => bail!(
            "{}",
            ctx.t(
                "cet appareil n'est pas enrôlé : lancez `parole enrol --server URL --code CODE`",
                "this device is not enrolled: run `parole enrol --server URL --code CODE`"
            )
        ),
    }
}

#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// The server's URL, e.g. https://parole.example.org
    #[arg(long)]
    server: String,
    /// The enrolment code given by the coordinator.
    #[arg(long)]
    code: String,
    /// This device's name, as the coordinator will see it (default: the host name).
    #[arg(long)]
    device_name: Option<String>,
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "parole-cli".to_string())
}

pub async fn enrol(ctx: &Ctx, args: EnrolArgs) -> anyhow::Result<ExitCode> {
    let storage = ctx.storage()?;
    let name = args.device_name.unwrap_or_else(host_name);
    let api = ApiClient::new()?;
    let enrolled = api
        .enrol(&args.server, args.code.trim(), &name)
        .await
        .with_context(|| format!("enrôlement auprès de {}", args.server))?;
    storage
        .put_meta(META_SERVER, &Value::from(args.server.trim_end_matches('/')))
        .await?;
    storage
        .put_meta(META_DEVICE_ID, &Value::from(enrolled.device_id.to_string()))
        .await?;
    storage
        .put_meta(META_DEVICE_NAME, &Value::from(name.clone()))
        .await?;
    // Written 0600, like every file of the client store.
    storage
        .put_meta(META_TOKEN, &Value::from(enrolled.token))
        .await
        .context("enregistrement du jeton")?;
    println!(
        "{} {} ({name})",
        ctx.t("appareil enrôlé :", "device enrolled:"),
        enrolled.device_id
    );
    Ok(ExitCode::SUCCESS)
}

fn engine(
    storage: FileStorage,
    server: &str,
    token: &str,
) -> anyhow::Result<SyncEngine<FileStorage, HttpTransport>> {
    let transport = HttpTransport::new(server, token)?;
    Ok(SyncEngine::new(
        Outbox::new(storage),
        transport,
        SyncConfig::default(),
    ))
}

fn sync_error(ctx: &Ctx, e: SyncError) -> anyhow::Error {
    let m = e.message();
    anyhow::anyhow!("{}", ctx.t(&m.fr, &m.en))
}

pub async fn pull(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let storage = ctx.storage()?;
    let (server, token) = enrolment(ctx, &storage).await?;
    let engine = engine(storage, &server, &token)?;
    let report = engine.pull().await.map_err(|e| sync_error(ctx, e))?;
    print_questionnaires(ctx, engine.outbox().storage(), report.not_modified).await?;
    Ok(ExitCode::SUCCESS)
}

async fn print_questionnaires(
    ctx: &Ctx,
    storage: &FileStorage,
    not_modified: bool,
) -> anyhow::Result<()> {
    let qs = sync::stored_questionnaires(storage).await?;
    if not_modified {
        println!(
            "{}",
            ctx.t("questionnaires à jour", "questionnaires up to date")
        );
    } else {
        println!(
            "{} {}",
            qs.len(),
            ctx.t(
                "version(s) de questionnaire reçue(s)",
                "questionnaire version(s) received"
            )
        );
    }
    for q in qs {
        println!("  {} v{} — {}", q.slug, q.version, q.title);
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["answers", "ndjson"])))]
pub struct FillArgs {
    /// The questionnaire's slug (its latest pulled version is used).
    questionnaire: String,
    /// A JSON file with one answers object.
    #[arg(long)]
    answers: Option<PathBuf>,
    /// An NDJSON file with one answers object per line.
    #[arg(long)]
    ndjson: Option<PathBuf>,
}

fn print_queued(pb: Option<&ProgressBar>, id: ResponseId) -> anyhow::Result<()> {
    let out = || -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "queued {id}")?;
        stdout.flush()
    };
    match pb {
        Some(pb) => pb.suspend(out),
        None => out(),
    }
    .context("écriture sur la sortie standard")
}

pub async fn fill(ctx: &Ctx, args: FillArgs) -> anyhow::Result<ExitCode> {
    let storage = ctx.storage()?;
    let pulled = sync::latest_questionnaire(&storage, &args.questionnaire)
        .await?
        .with_context(|| {
            format!(
                "{} « {} » ; {}",
                ctx.t(
                    "questionnaire inconnu sur cet appareil",
                    "questionnaire not on this device"
                ),
                args.questionnaire,
                ctx.t("lancez `parole pull`", "run `parole pull`")
            )
        })?;
    let questionnaire = match Questionnaire::parse(&pulled.document) {
        Ok(q) => q,
        Err(errors) => {
            ctx.print_errors("", &errors);
            bail!(
                "{} {} v{}",
                ctx.t("questionnaire illisible :", "unreadable questionnaire:"),
                pulled.slug,
                pulled.version
            );
        }
    };
    let device_id = meta_str(&storage, META_DEVICE_ID)
        .await?
        .and_then(|s| s.parse().ok());
    let outbox = Outbox::new(storage);
    let new_response = |answers: Value| Response {
        id: ResponseId::new(),
        questionnaire: pulled.slug.clone(),
        version: pulled.version,
        answers,
        started_at: chrono::Utc::now().to_rfc3339(),
        completed_at: String::new(),
        device_id,
        location: None,
    };

    if let Some(path) = args.answers {
        let answers = read_json(&path)?;
        return match outbox.queue(new_response(answers), &questionnaire).await {
            Ok(rec) => {
                print_queued(None, rec.response.id)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(OutboxError::Invalid(errors)) => {
                eprintln!(
                    "{}",
                    ctx.t(
                        "réponse invalide, non enregistrée :",
                        "invalid response, not saved:"
                    )
                );
                ctx.print_errors("", &errors);
                Ok(ExitCode::from(EXIT_ATTENTION))
            }
            Err(e) => Err(e).context(ctx.t("enregistrement de la réponse", "saving the response")),
        };
    }

    let path = args.ndjson.expect("clap: one of --answers, --ndjson");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("lecture de {}", path.display()))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let pb = ProgressBar::new(lines.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({eta})")
            .expect("a valid template"),
    );
    let (mut queued, mut invalid) = (0usize, 0usize);
    for (n, line) in lines {
        let prefix = format!("{} {n} :", ctx.t("ligne", "line"));
        match serde_json::from_str::<Value>(line) {
            Err(e) => {
                invalid += 1;
                pb.suspend(|| {
                    eprintln!(
                        "{prefix} {} ({e})",
                        ctx.t("JSON illisible", "unreadable JSON")
                    )
                });
            }
            Ok(answers) => match outbox.queue(new_response(answers), &questionnaire).await {
                Ok(rec) => {
                    queued += 1;
                    print_queued(Some(&pb), rec.response.id)?;
                }
                Err(OutboxError::Invalid(errors)) => {
                    invalid += 1;
                    pb.suspend(|| {
                        eprintln!(
                            "{prefix} {}",
                            ctx.t(
                                "réponse invalide, non enregistrée",
                                "invalid response, not saved"
                            )
                        );
                        ctx.print_errors("", &errors);
                    });
                }
                Err(e) => {
                    pb.abandon();
                    return Err(e).with_context(|| format!("{prefix} enregistrement"));
                }
            },
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    eprintln!(
        "{queued} {}, {invalid} {}",
        ctx.t("en file", "queued"),
        ctx.t("invalide(s)", "invalid")
    );
    Ok(if invalid > 0 {
        ExitCode::from(EXIT_ATTENTION)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("lecture de {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("JSON illisible : {}", path.display()))
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let storage = ctx.storage()?;
    let server = meta_str(&storage, META_SERVER).await?;
    let outbox = Outbox::new(storage);
    let records = outbox.list().await?;
    let c = outbox.counts().await?;
    match server {
        Some(s) => println!("{} {s}", ctx.t("serveur :", "server:")),
        None => println!("{}", ctx.t("appareil non enrôlé", "device not enrolled")),
    }
    println!(
        "{} {}  {} {}  {} {}  {} {}  {} {}",
        ctx.t("brouillons", "drafts"),
        c.drafts,
        ctx.t("en file", "queued"),
        c.queued,
        ctx.t("synchronisées", "synced"),
        c.synced,
        ctx.t("refusées", "rejected"),
        c.rejected,
        ctx.t("en conflit", "conflict"),
        c.conflict
    );
    for r in records.iter().filter(|r| r.state == State::Rejected) {
        println!(
            "{} {} ({} v{}) :",
            ctx.t("refusée", "rejected"),
            r.response.id,
            r.response.questionnaire,
            r.response.version
        );
        for e in &r.errors {
            let path = if e.path.is_empty() { "/" } else { &e.path };
            println!("    {path} : {} [{}]", ctx.msg(e), e.code);
        }
    }
    for r in records.iter().filter(|r| r.state == State::Conflict) {
        println!(
            "{} {} ({} v{}) : {}",
            ctx.t("en conflit", "conflict"),
            r.response.id,
            r.response.questionnaire,
            r.response.version,
            ctx.t(
                "le serveur a un autre contenu pour cet identifiant ; signalez-le au coordinateur",
                "the server holds other content for this id; tell the coordinator"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sync(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let storage = ctx.storage()?;
    let (server, token) = enrolment(ctx, &storage).await?;
    let engine = engine(storage, &server, &token)?;
    match engine.pull().await {
        Ok(report) => {
            print_questionnaires(ctx, engine.outbox().storage(), report.not_modified).await?
        }
        Err(e @ SyncError::Unauthorized { .. }) => return Err(sync_error(ctx, e)),
        // The responses matter more than the questionnaire list: push anyway.
        Err(e) => eprintln!(
            "{} {}",
            ctx.t(
                "questionnaires non mis à jour :",
                "questionnaires not updated:"
            ),
            sync_error(ctx, e)
        ),
    }
    let pb = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("a valid template"),
    );
    pb.set_message(ctx.t("envoi", "sending").to_string());
    let result = engine
        .push_with_progress(|p| {
            pb.set_length(p.total as u64);
            pb.set_position(p.done as u64);
        })
        .await;
    pb.finish_and_clear();
    let report = result.map_err(|e| sync_error(ctx, e))?;
    println!(
        "{} {}  {} {}  {} {}  {} {}  {} {}  {} {}",
        ctx.t("envoyées", "sent"),
        report.sent,
        ctx.t("acceptées", "accepted"),
        report.accepted,
        ctx.t("déjà reçues", "duplicate"),
        report.duplicate,
        ctx.t("refusées", "rejected"),
        report.rejected,
        ctx.t("en conflit", "conflict"),
        report.conflict,
        ctx.t("encore en file", "still queued"),
        report.still_queued,
    );
    if report.rejected > 0 || report.conflict > 0 {
        println!(
            "{}",
            ctx.t(
                "voir `parole status` pour les réponses refusées ou en conflit",
                "see `parole status` for rejected or conflicting responses"
            )
        );
    }
    if let Some(why) = report.gave_up {
        eprintln!(
            "{} ({})",
            ctx.t(
                "serveur injoignable : rien n'est perdu, les réponses restent en file ; réessayez plus tard",
                "server unreachable: nothing is lost, the responses stay queued; try again later"
            ),
            why.pick(ctx.lang)
        );
        return Ok(ExitCode::from(EXIT_ATTENTION));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ImportBackupArgs {
    /// The backup file saved by the phone app (`parole-sauvegarde-….json`).
    file: PathBuf,
}

/// Takes in a phone's backup file (its unsent responses and their photos), uploads the
/// photos the server lacks, then sends the responses. Importing twice, or a backup whose
/// responses already arrived, changes nothing: each response keeps its id and content.
pub async fn import_backup(ctx: &Ctx, args: ImportBackupArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("lecture de {}", args.file.display()))?;
    let backup = parole_client::backup::Backup::parse(&text)?;
    let storage = ctx.storage()?;
    let (server, token) = enrolment(ctx, &storage).await?;
    let engine = engine(storage, &server, &token)?;

    let (mut taken, mut held, mut drafts) = (0, 0, 0);
    for record in backup.responses {
        let draft = record.state == State::Draft;
        if engine.outbox().import(record).await? {
            taken += 1;
            drafts += usize::from(draft);
        } else {
            held += 1;
        }
    }
    println!(
        "{} {taken}  {} {held}  {} {drafts}",
        ctx.t("réponses reprises", "responses taken in"),
        ctx.t("déjà présentes", "already here"),
        ctx.t(
            "dont brouillons (non envoyés)",
            "of which drafts (not sent)"
        ),
    );

    // Photos first, so that the responses naming them arrive complete.
    let pb = ProgressBar::new(backup.photos.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("a valid template"),
    );
    pb.set_message(ctx.t("photos", "photos").to_string());
    let (mut uploaded, mut present) = (0, 0);
    for photo in &backup.photos {
        let bytes = photo.bytes()?;
        let transport = engine.transport();
        if transport
            .has_attachment(&photo.reference)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            present += 1;
        } else {
            transport
                .put_attachment(&photo.reference, &photo.mime, bytes)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("envoi de la photo {}", photo.reference))?;
            uploaded += 1;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!(
        "{} {uploaded}  {} {present}",
        ctx.t("photos envoyées", "photos uploaded"),
        ctx.t("déjà sur le serveur", "already on the server"),
    );
    sync(ctx).await
}
