//! The admin commands: they act on the database directly (no server needed) and print only
//! their result on stdout, so scripts can use them. `wafcert token create|revoke`,
//! `wafcert user create`, `wafcert access-key create`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::DatabaseArgs;
use crate::app::open_sealer;
use crate::auth::{TokenGrant, hash_password, mint_token};
use crate::crypto::{random_bytes, token_hash};
use crate::domain::{ProjectId, Role, UserId, now_ms};
use crate::storage::{StoreError, UserRecord};

/// Who a credential is for: the database, the project (created when missing) and the role.
#[derive(Debug, Args)]
pub struct GranteeArgs {
    /// Database location and master key.
    #[command(flatten)]
    database: DatabaseArgs,
    /// The project (32 lowercase hex).
    #[arg(long, value_parser = project_arg)]
    project_id: ProjectId,
    /// `admin` or `readonly`.
    #[arg(long, default_value = "admin", value_parser = role_arg)]
    role: Role,
}

/// `wafcert token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a project (created if missing) and print it.
    Create {
        /// Database, project and role.
        #[command(flatten)]
        grantee: GranteeArgs,
        /// Lifetime such as `24h`, `30m`, `7d` or `3600s` (never expires when absent).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Revoke a token.
    Revoke {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The token to revoke.
        token: String,
    },
}

/// `wafcert user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password comes from `WAFCERT_PASSWORD` or stdin. Prints the user id.
    Create {
        /// Database, the user's project (created in the user's domain if missing) and role.
        #[command(flatten)]
        grantee: GranteeArgs,
        /// Login name.
        #[arg(long)]
        name: String,
        /// Name of the project when it is created here (default: its id), for logins that
        /// scope by project name.
        #[arg(long)]
        project_name: Option<String>,
        /// Keystone domain name (its id is the name, or `default` for `Default`).
        #[arg(long, default_value = "Default")]
        domain: String,
    },
}

/// `wafcert access-key ...`.
#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key pair; prints `ACCESS_KEY SECRET_KEY`.
    Create {
        /// Database, project (created if missing) and role.
        #[command(flatten)]
        grantee: GranteeArgs,
    },
}

/// `wafcert token create|revoke`.
pub(super) async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { grantee, ttl } => create_token(grantee, ttl.as_deref()).await,
        TokenCommand::Revoke { database, token } => revoke_token(database, &token).await,
    }
}

/// `wafcert user create`.
pub(super) async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            grantee,
            name,
            project_name,
            domain,
        } => create_user(grantee, name, project_name, domain).await,
    }
}

/// `wafcert access-key create`.
pub(super) async fn access_key(command: AccessKeyCommand) -> anyhow::Result<()> {
    match command {
        AccessKeyCommand::Create { grantee } => create_access_key(grantee).await,
    }
}

/// Mints a token for the project (created if missing) and prints it.
async fn create_token(grantee: GranteeArgs, ttl: Option<&str>) -> anyhow::Result<()> {
    let ttl = ttl.map(parse_ttl).transpose()?;
    let store = grantee.database.open().await?;
    let now = now_ms();
    store.ensure_project(&grantee.project_id, None, now).await?;
    let expires_at =
        ttl.map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let grant = TokenGrant {
        project: &grantee.project_id,
        role: grantee.role,
        user: None,
        expires_at,
    };
    let token = mint_token(&store, &grant, now).await?;
    println!("{token}");
    Ok(())
}

/// Revokes a token; an unknown one is an error.
async fn revoke_token(database: DatabaseArgs, token: &str) -> anyhow::Result<()> {
    let store = database.open().await?;
    if !store.revoke_token(&token_hash(token.trim())).await? {
        bail!("no such token");
    }
    println!("revoked");
    Ok(())
}

/// Creates a user of the password login and prints its id.
async fn create_user(
    grantee: GranteeArgs,
    name: String,
    project_name: Option<String>,
    domain: String,
) -> anyhow::Result<()> {
    if name.trim().is_empty() || domain.trim().is_empty() {
        bail!("--name and --domain must not be empty");
    }
    let password = read_password()?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let store = grantee.database.open().await?;
    let now = now_ms();
    let project = grantee.project_id;
    let stored = store
        .ensure_project_in(&project, project_name.as_deref(), &domain, now)
        .await
        .map_err(|e| {
            name_taken_as(
                e,
                format!("another project in domain {domain} already has this name"),
            )
        })?;
    if let Some(wanted) = project_name
        && wanted != stored.name
    {
        bail!(
            "project {project} already exists with the name {}",
            stored.name
        );
    }
    let id = UserId::random();
    let user = UserRecord {
        id: id.clone(),
        name,
        domain,
        project,
        role: grantee.role,
        password_hash,
    };
    store.insert_user(&user, now).await.map_err(|e| {
        name_taken_as(
            e,
            "a user with this name already exists in the domain".to_owned(),
        )
    })?;
    println!("{id}");
    Ok(())
}

/// Creates an access key pair and prints `ACCESS_KEY SECRET_KEY`.
async fn create_access_key(grantee: GranteeArgs) -> anyhow::Result<()> {
    let database = &grantee.database;
    let store = database.open().await?;
    let sealer = open_sealer(
        &store,
        &database.master_key_source(),
        &database.database_url,
    )
    .await?;
    store
        .ensure_project(&grantee.project_id, None, now_ms())
        .await?;
    let access_key = random_text(20, ACCESS_KEY_ALPHABET)?;
    let secret = random_text(40, SECRET_KEY_ALPHABET)?;
    let sealed = sealer.seal(secret.as_bytes(), &access_key)?;
    store
        .insert_access_key(
            &access_key,
            &grantee.project_id,
            grantee.role,
            &sealed,
            now_ms(),
        )
        .await?;
    println!("{access_key} {secret}");
    Ok(())
}

/// A taken name explained in the command's terms; other failures as they are.
fn name_taken_as(e: StoreError, message: String) -> anyhow::Error {
    match e {
        StoreError::NameTaken => anyhow::anyhow!(message),
        other => other.into(),
    }
}

/// Characters of access keys (like the cloud's: upper case and digits).
const ACCESS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Characters of secret keys.
const SECRET_KEY_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Parses `--project-id` while clap reads the command line.
fn project_arg(text: &str) -> Result<ProjectId, String> {
    ProjectId::parse(text).ok_or_else(|| "must be 32 lowercase hex characters".to_owned())
}

/// Parses `--role` while clap reads the command line.
fn role_arg(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "must be admin or readonly".to_owned())
}

/// `30s`, `15m`, `24h`, `7d`, or plain seconds.
fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .context("--ttl must look like 30m, 24h or 7d")?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => bail!("--ttl unit must be s, m, h or d"),
    };
    if secs == 0 {
        bail!("--ttl must be positive");
    }
    Ok(Duration::from_secs(secs))
}

/// The password from `WAFCERT_PASSWORD`, or the first line of stdin (without its line end).
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("WAFCERT_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("give the password in WAFCERT_PASSWORD or on the first line of stdin");
    }
    Ok(password.to_owned())
}

/// Random text of `len` characters drawn uniformly from `alphabet` (at most 256 characters):
/// bytes that would favour the first characters are drawn again.
fn random_text(len: usize, alphabet: &[u8]) -> anyhow::Result<String> {
    if alphabet.is_empty() || alphabet.len() > 256 {
        bail!("the alphabet must have 1 to 256 characters");
    }
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut bytes)?;
        for b in bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
            if out.len() == len {
                break;
            }
            if let Some(c) = alphabet.get(b % alphabet.len()) {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_uses_only_the_alphabet() {
        let text = random_text(40, b"AB").unwrap();
        assert_eq!(text.len(), 40);
        assert!(text.bytes().all(|b| b == b'A' || b == b'B'));
        let keys = random_text(20, ACCESS_KEY_ALPHABET).unwrap();
        assert!(keys.bytes().all(|b| ACCESS_KEY_ALPHABET.contains(&b)));
        assert!(random_text(1, b"").is_err());
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
