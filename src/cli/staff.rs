//! The coordinator's commands, over the HTTP API with a staff account: publish a
//! questionnaire, create an interviewer (and its enrolment code), create a staff account.
//! The password comes from `PAROLE_PASSWORD` or a prompt, never from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use parole_client::native::ApiClient;
use serde_json::{json, Value};

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
    /// a new immutable version.
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
    /// List the questionnaires and their latest published version.
    List {
        #[command(flatten)]
        staff: Staff,
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

/// A logged-in staff session.
struct Session {
    http: reqwest::Client,
    server: String,
    token: String,
}

impl Session {
    async fn open(staff: &Staff, lang: Lang) -> anyhow::Result<Self> {
        let password = password(lang)?;
        let login = ApiClient::new()?
            .login(&staff.server, &staff.username, &password)
            .await
            .with_context(|| format!("connexion de {} à {}", staff.username, staff.server))?;
        Ok(Self {
            http: reqwest::Client::new(),
            server: staff.server.trim_end_matches('/').to_string(),
            token: login.token,
        })
    }

    /// Sends a request; returns the status and the JSON body (`null` when empty).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("requête vers {}", self.server))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, value))
    }
}

/// The server's error body, as lines: the message, then each error by path.
fn describe(status: u16, body: &Value, lang: Lang) -> String {
    let mut out = format!(
        "{} {status} : {}",
        lang.pick("le serveur a répondu", "the server answered"),
        body["error"].as_str().unwrap_or("")
    );
    for e in body["errors"].as_array().into_iter().flatten() {
        let message = match lang {
            Lang::Fr => &e["message"],
            Lang::En => &e["message_en"],
        };
        out.push_str(&format!(
            "\n  {} : {}",
            e["path"].as_str().unwrap_or(""),
            message.as_str().unwrap_or("")
        ));
    }
    out
}

pub async fn questionnaire(cmd: QuestionnaireCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        QuestionnaireCommand::Publish { slug, file, staff } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("lecture de {}", file.display()))?;
            let document: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} n'est pas du JSON valide", file.display()))?;
            let session = Session::open(&staff, lang).await?;
            let (status, body) = session
                .call(
                    reqwest::Method::POST,
                    "/api/v1/questionnaires",
                    Some(json!({"slug": slug, "document": document})),
                )
                .await?;
            if status == 409 {
                // It exists: the file becomes its new draft.
                let (status, body) = session
                    .call(
                        reqwest::Method::PUT,
                        &format!("/api/v1/questionnaires/{slug}/draft"),
                        Some(json!({"document": document})),
                    )
                    .await?;
                if !(200..300).contains(&status) {
                    bail!("{}", describe(status, &body, lang));
                }
            } else if !(200..300).contains(&status) {
                bail!("{}", describe(status, &body, lang));
            }
            let (status, body) = session
                .call(
                    reqwest::Method::POST,
                    &format!("/api/v1/questionnaires/{slug}/publish"),
                    None,
                )
                .await?;
            if !(200..300).contains(&status) {
                bail!("{}", describe(status, &body, lang));
            }
            println!(
                "{} {slug} version {}",
                lang.pick("publié :", "published:"),
                body["version"]
            );
            Ok(ExitCode::SUCCESS)
        }
        QuestionnaireCommand::List { staff } => {
            let session = Session::open(&staff, lang).await?;
            let (status, body) = session
                .call(reqwest::Method::GET, "/api/v1/questionnaires", None)
                .await?;
            if status != 200 {
                bail!("{}", describe(status, &body, lang));
            }
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn interviewer(cmd: InterviewerCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        InterviewerCommand::Create {
            name,
            qr_svg,
            staff,
        } => {
            let session = Session::open(&staff, lang).await?;
            let (status, body) = session
                .call(
                    reqwest::Method::POST,
                    "/api/v1/interviewers",
                    Some(json!({"name": name})),
                )
                .await?;
            if status != 201 {
                bail!("{}", describe(status, &body, lang));
            }
            let code = body["enrolment_code"].as_str().unwrap_or_default();
            println!(
                "{} {name} ({})",
                lang.pick("enquêteur·rice :", "interviewer:"),
                body["id"]
            );
            println!(
                "{} {code}",
                lang.pick("code d'enrôlement :", "enrolment code:")
            );
            let link = format!("{}/app/#enrol={code}", session.server);
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
                std::fs::write(&path, svg)
                    .with_context(|| format!("écriture de {}", path.display()))?;
                println!("{} {}", lang.pick("QR code :", "QR code:"), path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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
            let session = Session::open(&staff, lang).await?;
            let role = match role {
                StaffRole::Coordinator => "coordinator",
                StaffRole::Analyst => "analyst",
                StaffRole::Admin => "admin",
            };
            let (status, body) = session
                .call(
                    reqwest::Method::POST,
                    "/api/v1/users",
                    Some(json!({"username": new_username, "password": new_password, "role": role})),
                )
                .await?;
            if status != 201 {
                bail!("{}", describe(status, &body, lang));
            }
            println!(
                "{} {new_username} ({role})",
                lang.pick("compte créé :", "account created:")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn device(cmd: DeviceCommand, lang: Lang) -> anyhow::Result<ExitCode> {
    match cmd {
        DeviceCommand::List { staff } => {
            let session = Session::open(&staff, lang).await?;
            let (status, body) = session
                .call(reqwest::Method::GET, "/api/v1/devices", None)
                .await?;
            if status != 200 {
                bail!("{}", describe(status, &body, lang));
            }
            let never = lang.pick("jamais", "never");
            for d in body["devices"].as_array().into_iter().flatten() {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                let state = &d["device_state"];
                let held = if state.is_object() {
                    format!(
                        "{} {}  {} {}",
                        lang.pick("à envoyer", "to send"),
                        state["queued"],
                        lang.pick("brouillons", "drafts"),
                        state["drafts"]
                    )
                } else {
                    String::new()
                };
                let revoked = if d["revoked_at"].is_string() {
                    lang.pick("  (révoqué)", "  (revoked)")
                } else {
                    ""
                };
                println!(
                    "{}  {} — {}  {} {}  {held}{revoked}",
                    text(&d["id"]),
                    text(&d["interviewer_name"]),
                    text(&d["name"]),
                    lang.pick("dernière synchro", "last sync"),
                    d["last_sync_at"].as_str().unwrap_or(never),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Revoke { id, staff } => {
            let session = Session::open(&staff, lang).await?;
            let (status, body) = session
                .call(
                    reqwest::Method::DELETE,
                    &format!("/api/v1/devices/{id}"),
                    None,
                )
                .await?;
            if !(200..300).contains(&status) {
                bail!("{}", describe(status, &body, lang));
            }
            println!(
                "{} {id}",
                lang.pick("appareil révoqué :", "device revoked:")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
