//! The coordinator's commands, over the HTTP API with a staff account: publish a
//! questionnaire, create an interviewer (and its enrolment code), create a staff account.
//! The password comes from `PAROLE_PASSWORD` or a prompt, never from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use parole_client::api::{
    CreateInterviewerRequest, CreateQuestionnaireRequest, CreateUserRequest, ErrorBody,
    PutDraftRequest, Role,
};
use parole_client::changes::Change;
use parole_client::native::{ApiClient, ApiError, StaffSession};
use parole_client::sync::TransportError;
use serde_json::Value;

use super::server::password;
use super::Lang;

/// Where and as whom: a staff account on a server.
#[derive(Debug, Args)]
pub struct Staff {
    /// The server's URL.
    #[arg(long, env = "PAROLE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A staff account (password from PAROLE_PASSWORD, or prompted).
    #[arg(long, env = "PAROLE_USERNAME", default_value = "admin")]
    username: String,
}

#[derive(Debug, Subcommand)]
pub enum QuestionnaireCommand {
    /// Create (or update the draft of) a questionnaire from a JSON file, then publish it as
    /// a new immutable version, and print what changed since the version before. Refused,
    /// with the reasons, when a change would make the responses already received
    /// unreadable (a question's type changed).
    Publish {
        /// The questionnaire's slug (`[a-z0-9-]`), used in URLs and exports.
        #[arg(long)]
        slug: String,
        /// The questionnaire document (JSON).
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        staff: Staff,
    },
    /// What publishing the draft would change since the latest published version, and what
    /// would make publishing it refused.
    Changes {
        /// The questionnaire's slug.
        slug: String,
        #[command(flatten)]
        staff: Staff,
    },
    /// List the questionnaires and their latest published version.
    List {
        #[command(flatten)]
        staff: Staff,
    },
    /// Convert an XLSForm workbook (.xlsx) to a questionnaire document, on this machine (no
    /// server, no account): the document as JSON, what was not converted on stderr, row by
    /// row.
    ImportXlsform {
        /// The XLSForm workbook (.xlsx).
        file: PathBuf,
        /// Write the document to this file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InterviewerCommand {
    /// Create an interviewer and print its one-time enrolment code, link and QR code (the
    /// interviewer scans it with the phone's camera, which opens the app and enrols).
    Create {
        #[arg(long)]
        name: String,
        /// Also write the QR code as an SVG file, to print.
        #[arg(long)]
        qr_svg: Option<PathBuf>,
        #[command(flatten)]
        staff: Staff,
    },
    /// A new one-time enrolment code (link, QR code) for an interviewer: a new phone, or the
    /// coordinator's machine that imports a phone's backup (`parole import-backup`), which
    /// may only send the work of its own interviewer. The codes not yet used stop working.
    Code {
        /// The interviewer's id (from `parole interviewer list`).
        id: uuid::Uuid,
        /// Also write the QR code as an SVG file, to print.
        #[arg(long)]
        qr_svg: Option<PathBuf>,
        #[command(flatten)]
        staff: Staff,
    },
    /// The interviewers, with their ids.
    List {
        #[command(flatten)]
        staff: Staff,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// The enrolled devices: whose, when each last synced, and what it still holds
    /// (responses waiting to be sent, drafts), as it said at its last sync.
    List {
        #[command(flatten)]
        staff: Staff,
    },
    /// Revoke a device (a lost phone): its token stops working at once.
    Revoke {
        /// The device's id (from `parole device list`).
        id: String,
        #[command(flatten)]
        staff: Staff,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRole {
    Coordinator,
    Analyst,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account (admin only). Its password: PAROLE_NEW_PASSWORD, or prompted.
    Create {
        #[arg(long)]
        new_username: String,
        #[arg(long, value_enum)]
        role: StaffRole,
        #[command(flatten)]
        staff: Staff,
    },
}

/// Logs in as `staff` (the password from `PAROLE_PASSWORD` or a prompt).
async fn open_session(staff: &Staff, lang: Lang) -> anyhow::Result<StaffSession> {
    let password = password(lang)?;
    let api = ApiClient::new()?;
    let login = api
        .login(&staff.server, &staff.username, &password)
        .await
        .with_context(|| format!("connexion de {} à {}", staff.username, staff.server))?;
    Ok(api.staff(&staff.server, &login.token))
}

/// A failed call, in `lang`: the server's status and message, then each error by path.
fn describe(e: ApiError, lang: Lang) -> anyhow::Error {
    let ApiError::Transport(TransportError::Status { status, body }) = &e else {
        return e.into();
    };
    let Ok(body) = serde_json::from_str::<ErrorBody>(body) else {
        return e.into();
    };
    let mut out = format!(
        "{} {status} : {}",
        lang.pick("le serveur a répondu", "the server answered"),
        body.text().pick(lang)
    );
    for e in &body.errors {
        out.push_str(&format!("\n  {} : {}", e.path, e.message.pick(lang)));
    }
    anyhow::anyhow!(out)
}

pub async fn questionnaire(cmd: QuestionnaireCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        QuestionnaireCommand::Publish { slug, file, staff } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("lecture de {}", file.display()))?;
            let document: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} n'est pas du JSON valide", file.display()))?;
            let session = open_session(&staff, lang).await?;
            let created = session
                .create_questionnaire(&CreateQuestionnaireRequest {
                    slug: slug.clone(),
                    document: document.clone(),
                })
                .await;
            match created {
                Ok(_) => {}
                // It exists: the file becomes its new draft (the file wins: no base revision).
                Err(e) if e.status() == Some(409) => {
                    session
                        .put_draft(
                            &slug,
                            &PutDraftRequest {
                                document,
                                base_revision: None,
                            },
                        )
                        .await
                        .map_err(|e| describe(e, lang))?;
                }
                Err(e) => return Err(describe(e, lang)),
            }
            let published = session
                .publish(&slug)
                .await
                .map_err(|e| describe(e, lang))?;
            println!(
                "{} {slug} version {}",
                lang.pick("publié :", "published:"),
                published.version
            );
            if published.version > 1 {
                if published.changes.is_empty() {
                    println!(
                        "{}",
                        lang.pick(
                            "aucun changement depuis la version précédente",
                            "no change since the previous version"
                        )
                    );
                } else {
                    println!(
                        "{}",
                        lang.pick(
                            "changements depuis la version précédente :",
                            "changes since the previous version:"
                        )
                    );
                    print_changes(&published.changes, lang);
                }
            }
            end(session).await;
            Ok(ExitCode::SUCCESS)
        }
        QuestionnaireCommand::Changes { slug, staff } => {
            let session = open_session(&staff, lang).await?;
            let changes = session.changes(&slug).await.map_err(|e| describe(e, lang));
            end(session).await;
            let changes = changes?;
            let Some(base) = changes.base_version else {
                println!(
                    "{}",
                    lang.pick(
                        "rien n'est encore publié : la première publication sera la version 1",
                        "nothing is published yet: the first publication will be version 1"
                    )
                );
                return Ok(ExitCode::SUCCESS);
            };
            if changes.changes.is_empty() && changes.breaking.is_empty() {
                println!(
                    "{} {base}",
                    lang.pick(
                        "le brouillon est identique à la version",
                        "the draft is the same as version"
                    )
                );
            } else if !changes.changes.is_empty() {
                println!(
                    "{} {base} :",
                    lang.pick("changements depuis la version", "changes since version")
                );
                print_changes(&changes.changes, lang);
            }
            if !changes.breaking.is_empty() {
                println!(
                    "{}",
                    lang.pick(
                        "refusés à la publication (ils rendraient illisibles les réponses déjà \
                         reçues) :",
                        "refused on publishing (they would make the responses already received \
                         unreadable):"
                    )
                );
                for c in &changes.breaking {
                    println!("  {} : {}", c.path, c.message.pick(lang));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        QuestionnaireCommand::ImportXlsform { file, output } => {
            super::xlsform::import(&file, output.as_deref(), lang)
        }
        QuestionnaireCommand::List { staff } => {
            let session = open_session(&staff, lang).await?;
            let list = session
                .questionnaires()
                .await
                .map_err(|e| describe(e, lang))?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            end(session).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One line per change, in `lang`.
fn print_changes(changes: &[Change], lang: Lang) {
    for c in changes {
        println!("  - {}", c.message.pick(lang));
    }
}

/// Logs the session out (the token stops working); a failure only costs a token that
/// expires with its session.
async fn end(session: StaffSession) {
    let _ = session.logout().await;
}

pub async fn interviewer(cmd: InterviewerCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        InterviewerCommand::Create {
            name,
            qr_svg,
            staff,
        } => {
            let session = open_session(&staff, lang).await?;
            let created = session
                .create_interviewer(&CreateInterviewerRequest { name: name.clone() })
                .await
                .map_err(|e| describe(e, lang))?;
            end(session.clone()).await;
            println!(
                "{} {name} (\"{}\")",
                lang.pick("enquêteur·rice :", "interviewer:"),
                created.id
            );
            print_code(&session, &created.enrolment_code, qr_svg, lang)?;
            Ok(ExitCode::SUCCESS)
        }
        InterviewerCommand::Code { id, qr_svg, staff } => {
            let session = open_session(&staff, lang).await?;
            let code = session
                .new_enrolment_code(id)
                .await
                .map_err(|e| describe(e, lang))?;
            end(session.clone()).await;
            print_code(&session, &code.enrolment_code, qr_svg, lang)?;
            Ok(ExitCode::SUCCESS)
        }
        InterviewerCommand::List { staff } => {
            let session = open_session(&staff, lang).await?;
            let list = session
                .interviewers()
                .await
                .map_err(|e| describe(e, lang))?;
            end(session).await;
            for i in list.interviewers {
                println!("{}  {}", i.id, i.name);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints an enrolment code, its link and its QR code (and writes the QR code as SVG).
fn print_code(
    session: &StaffSession,
    code: &str,
    qr_svg: Option<PathBuf>,
    lang: Lang,
) -> anyhow::Result<()> {
    println!(
        "{} {code}",
        lang.pick("code d'enrôlement :", "enrolment code:")
    );
    let link = format!("{}/app/#enrol={code}", session.server());
    println!("{} {link}", lang.pick("lien :", "link:"));
    let qr = qrcode::QrCode::new(link.as_bytes()).context("QR code")?;
    println!(
        "{}",
        qr.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build()
    );
    if let Some(path) = qr_svg {
        let svg = qr
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(400, 400)
            .build();
        std::fs::write(&path, svg).with_context(|| format!("écriture de {}", path.display()))?;
        println!("{} {}", lang.pick("QR code :", "QR code:"), path.display());
    }
    Ok(())
}

pub async fn user(cmd: UserCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Create {
            new_username,
            role,
            staff,
        } => {
            let new_password = match std::env::var("PAROLE_NEW_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!(
                        "{}",
                        lang.pick(
                            "Mot de passe du nouveau compte :",
                            "The new account's password:"
                        )
                    );
                    super::server::read_line_stdin()?
                }
            };
            let session = open_session(&staff, lang).await?;
            let role = match role {
                StaffRole::Coordinator => Role::Coordinator,
                StaffRole::Analyst => Role::Analyst,
                StaffRole::Admin => Role::Admin,
            };
            let created = session
                .create_user(&CreateUserRequest {
                    username: new_username.clone(),
                    password: new_password,
                    role,
                })
                .await
                .map_err(|e| describe(e, lang))?;
            end(session).await;
            println!(
                "{} {new_username} ({})",
                lang.pick("compte créé :", "account created:"),
                serde_json::to_value(created.role)?
                    .as_str()
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn device(cmd: DeviceCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        DeviceCommand::List { staff } => {
            let session = open_session(&staff, lang).await?;
            let list = session.devices().await.map_err(|e| describe(e, lang))?;
            end(session).await;
            let never = lang.pick("jamais", "never");
            for d in list.devices {
                let held = match &d.device_state {
                    Some(state) => format!(
                        "{} {}  {} {}",
                        lang.pick("à envoyer", "to send"),
                        state.queued,
                        lang.pick("brouillons", "drafts"),
                        state.drafts
                    ),
                    None => String::new(),
                };
                let revoked = if d.revoked_at.is_some() {
                    lang.pick("  (révoqué)", "  (revoked)")
                } else {
                    ""
                };
                let last_sync = d
                    .last_sync_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_else(|| never.to_string());
                println!(
                    "{}  {} — {}  {} {last_sync}  {held}{revoked}",
                    d.id,
                    d.interviewer_name,
                    d.name,
                    lang.pick("dernière synchro", "last sync"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Revoke { id, staff } => {
            let session = open_session(&staff, lang).await?;
            let revoked = session.revoke_device(&id).await;
            end(session).await;
            revoked.map_err(|e| describe(e, lang))?;
            println!(
                "{} {id}",
                lang.pick("appareil révoqué :", "device revoked:")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
