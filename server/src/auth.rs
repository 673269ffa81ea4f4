//! Accounts, passwords, tokens and enrolment codes.
//!
//! - Passwords: Argon2id (PHC strings), hashed and verified off the async threads.
//! - Tokens: 32 random bytes, hex; only their SHA-256 is stored, and every request looks the
//!   token up, so a revoked token (or a revoked device's) is refused at once.
//! - Enrolment codes: 12 characters from an alphabet without look-alikes (`ABCD-EFGH-JKMN`),
//!   typed by a person on a phone; one-time, expiring, stored as the SHA-256 of their
//!   normalised form.
//!
//! The HTTP layer's `Principal` extractor looks tokens up with [`sha256_hex`].

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parole_client::api::Role;
use parole_client::i18n::Message;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{self, DbError};

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The username of the account made on first start.
pub const ADMIN_USERNAME: &str = "admin";
/// A staff session ends after this long unused (a device's token never expires).
pub const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);
/// A staff session ends this long after its login, however busy.
pub const SESSION_MAX: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);
/// How long an enrolment code stays usable.
pub const ENROLMENT_CODE_TTL: chrono::Duration = chrono::Duration::days(7);
/// The enrolment codes' alphabet: no 0/O, 1/I/L, U.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";

/// Hashes a password with Argon2id (blocking: call from `spawn_blocking` in async code).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Checks a password against a PHC hash (blocking).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// At most this many Argon2 hashes at once (each takes ~19 MiB and a core for tens of
/// milliseconds): a flood of logins waits its turn instead of exhausting memory and the
/// blocking thread pool.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.max(2))
    })
}

/// Runs an Argon2 computation off the async threads, within [`argon2_permits`].
async fn with_argon2<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = argon2_permits().acquire().await?;
    Ok(tokio::task::spawn_blocking(f).await?)
}

async fn hash_password_async(password: String) -> anyhow::Result<String> {
    with_argon2(move || hash_password(&password)).await?
}

/// SHA-256, lowercase hex: how tokens and enrolment codes are stored.
pub fn sha256_hex(s: &str) -> String {
    parole_client::response::hex(&Sha256::digest(s.as_bytes()))
}

/// A new bearer token: 32 random bytes, lowercase hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    parole_client::response::hex(&bytes)
}

/// A new enrolment code, `XXXX-XXXX-XXXX` (about 59 bits).
pub fn new_enrolment_code() -> String {
    let mut rng = rand::thread_rng();
    let chars: Vec<char> = (0..12)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// An enrolment code as typed (any case, spaces or dashes, O for 0…) → its canonical form.
pub fn normalise_enrolment_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// A valid role name, or a clear message.
pub fn parse_role(s: &str) -> Result<Role, Message> {
    serde_json::from_value(serde_json::Value::from(s)).map_err(|_| {
        Message::new(
            format!("rôle inconnu « {s} » (admin, coordinator, analyst, interviewer)"),
            format!("unknown role `{s}` (admin, coordinator, analyst, interviewer)"),
        )
    })
}

/// What can go wrong creating a user.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("l'utilisateur « {0} » existe déjà / user `{0}` already exists")]
    Exists(String),
    #[error("nom d'utilisateur invalide (1 à 64 caractères parmi a-z 0-9 . _ -) / invalid username (1-64 of a-z 0-9 . _ -)")]
    BadUsername,
    #[error("mot de passe trop court (au moins 8 caractères) / password too short (at least 8 characters)")]
    WeakPassword,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl UserError {
    /// What is wrong, in both languages.
    pub fn message(&self) -> Message {
        match self {
            UserError::Exists(name) => Message::new(
                format!("l'utilisateur « {name} » existe déjà"),
                format!("user `{name}` already exists"),
            ),
            UserError::BadUsername => Message::new(
                "nom d'utilisateur invalide (1 à 64 caractères parmi a-z 0-9 . _ -)",
                "invalid username (1-64 of a-z 0-9 . _ -)",
            ),
            UserError::WeakPassword => Message::new(
                "mot de passe trop court (au moins 8 caractères)",
                "password too short (at least 8 characters)",
            ),
            UserError::Other(e) => Message::same(e.to_string()),
        }
    }
}

fn valid_username(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Creates a user (for the admin API and the CLI's admin subcommands). Returns its id.
pub async fn create_user(
    pool: &PgPool,
    username: &str,
    role: Role,
    password: &str,
) -> Result<Uuid, UserError> {
    if !valid_username(username) {
        return Err(UserError::BadUsername);
    }
    let hash = new_password_hash(password).await?;
    match db::insert_user(pool, username, role, &hash).await {
        Ok(id) => Ok(id),
        Err(DbError::Conflict(_)) => Err(UserError::Exists(username.to_string())),
        Err(e) => Err(UserError::Other(e.into())),
    }
}

/// The hash of a new password, once it passes the password rules.
pub async fn new_password_hash(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::WeakPassword);
    }
    Ok(hash_password_async(password.to_string()).await?)
}

/// Whether `password` matches `hash` (off the async threads, within the bound on
/// concurrent hashes).
pub async fn check_password(password: &str, hash: String) -> anyhow::Result<bool> {
    let password = password.to_string();
    with_argon2(move || verify_password(&password, &hash)).await
}

/// Sets a user's password (for the CLI).
pub async fn set_password(pool: &PgPool, username: &str, password: &str) -> anyhow::Result<()> {
    let hash = new_password_hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message().joined()))?;
    db::set_password(pool, username, &hash).await?;
    Ok(())
}

/// On first start (no `admin` user yet), creates `admin` with `password` (from
/// `PAROLE_ADMIN_PASSWORD`) or with a generated one, which it returns: the caller prints it
/// ONCE. Returns `None` when the admin existed or the password was given.
pub async fn ensure_admin(
    pool: &PgPool,
    password: Option<String>,
) -> anyhow::Result<Option<String>> {
    if db::user_by_name(pool, ADMIN_USERNAME).await?.is_some() {
        return Ok(None);
    }
    let (password, generated) = match password.filter(|p| !p.is_empty()) {
        Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => {
            anyhow::bail!(
                "PAROLE_ADMIN_PASSWORD : {} / {}",
                UserError::WeakPassword.message().fr,
                UserError::WeakPassword.message().en
            )
        }
        Some(p) => (p, false),
        None => (new_token()[..24].to_string(), true),
    };
    let hash = hash_password_async(password.clone()).await?;
    match db::insert_user(pool, ADMIN_USERNAME, Role::Admin, &hash).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another process made it first.
        Err(DbError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Checks a username and password; on success returns a new token and the role.
pub async fn login(
    pool: &PgPool,
    username: &str,
    password: &str,
) -> anyhow::Result<Option<(String, Role)>> {
    let user = db::user_by_name(pool, username).await?;
    // Verify against a dummy hash when the user is unknown, so timing does not tell.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => DUMMY
            .get_or_init(|| hash_password("dummy password").unwrap_or_default())
            .clone(),
    };
    let ok = check_password(password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Ok(None);
    };
    let token = new_token();
    db::insert_user_token(pool, user.id, &sha256_hex(&token)).await?;
    Ok(Some((token, user.role)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrolment_code_is_typable_and_normalises_back_to_itself() {
        let code = new_enrolment_code();
        assert_eq!(code.len(), 14);
        assert_eq!(normalise_enrolment_code(&code), code.replace('-', ""));
        assert_eq!(
            normalise_enrolment_code(&code.to_lowercase().replace('-', " ")),
            code.replace('-', "")
        );
    }

    #[test]
    fn look_alike_letters_normalise_to_digits() {
        assert_eq!(normalise_enrolment_code("o-iL"), "011");
    }

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
    }
}
