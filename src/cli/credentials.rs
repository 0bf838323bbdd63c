//! The admin commands that issue and cut off credentials: tokens (create with a default
//! lifetime, list by id, revoke by id or secret), users (disable, set password) and access
//! keys (revoke). Tokens are named by their id (see [`crate::crypto::token_id`]) so a secret
//! never needs to appear on a command line or in a listing.

use std::time::Duration;

use anyhow::{Context, bail};

use super::{
    ACCESS_KEY_ALPHABET, DatabaseArgs, GrantArgs, SECRET_KEY_ALPHABET, TokenCommand, UserName,
    random_text, read_password,
};
use crate::app::open_sealer;
use crate::auth::{hash_password, project_token};
use crate::crypto::{TOKEN_ID_LEN, token_hash, token_id_of_hash};
use crate::domain::{ProjectId, Role, UserId, format_iso8601, now_ms};
use crate::storage::{Store, StoreError, UserRecord};

/// `wafcert token create|revoke|list`.
pub(super) async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            database,
            grant,
            ttl,
        } => {
            let ttl = parse_ttl(&ttl)?;
            let store = database.open().await?;
            let now = now_ms();
            let expires_at =
                ttl.map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
            let token =
                project_token(&store, &grant.project_id, grant.role, expires_at, now).await?;
            println!("{token}");
        }
        TokenCommand::Revoke { database, token } => {
            let store = database.open().await?;
            let hash = stored_hash(&store, token.trim()).await?;
            if !store.revoke_token(&hash).await? {
                bail!("no such token");
            }
            println!("revoked");
        }
        TokenCommand::List {
            database,
            project_id,
        } => {
            let store = database.open().await?;
            for t in store.live_tokens(&project_id, now_ms()).await? {
                let expiry = t
                    .expires_at
                    .map_or_else(|| "never".to_owned(), format_iso8601);
                println!("{} {} {expiry}", token_id_of_hash(&t.token_hash), t.role);
            }
        }
    }
    Ok(())
}

/// The stored hash of a token given by id (16 hex characters) or as the secret itself.
async fn stored_hash(store: &Store, token: &str) -> anyhow::Result<String> {
    if token.len() != TOKEN_ID_LEN || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(token_hash(token));
    }
    let mut found = store.token_hashes_with_prefix(token).await?;
    match found.len() {
        0 => bail!("no token has the id {token}"),
        1 => Ok(found.remove(0)),
        _ => bail!("several tokens have the id {token}: revoke with the token itself"),
    }
}

/// A user to create, as `wafcert user create` names it.
#[derive(Debug)]
pub(super) struct NewUser {
    /// Login name.
    pub(super) name: String,
    /// The user's project (created in the user's domain if missing).
    pub(super) project: ProjectId,
    /// The project's name when it is created here.
    pub(super) project_name: Option<String>,
    /// What the user may do.
    pub(super) role: Role,
    /// Keystone domain name.
    pub(super) domain: String,
}

/// `wafcert user create`: the password from `WAFCERT_PASSWORD` or stdin; prints the user id.
pub(super) async fn create_user(database: &DatabaseArgs, new: NewUser) -> anyhow::Result<()> {
    let NewUser {
        name,
        project,
        project_name,
        role,
        domain,
    } = new;
    if name.trim().is_empty() || domain.trim().is_empty() {
        bail!("--name and --domain must not be empty");
    }
    let password = read_password()?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let store = database.open().await?;
    let now = now_ms();
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
        role,
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

/// `wafcert access-key create`: prints `ACCESS_KEY SECRET_KEY`.
pub(super) async fn create_access_key(
    database: &DatabaseArgs,
    grant: &GrantArgs,
) -> anyhow::Result<()> {
    let (project, role) = (&grant.project_id, grant.role);
    let store = database.open().await?;
    let sealer = open_sealer(
        &store,
        &database.master_key_source(),
        &database.database_url,
    )
    .await?;
    store.ensure_project(project, None, now_ms()).await?;
    let access_key = random_text(20, ACCESS_KEY_ALPHABET)?;
    let secret = random_text(40, SECRET_KEY_ALPHABET)?;
    let sealed = sealer.seal(secret.as_bytes(), &access_key)?;
    store
        .insert_access_key(&access_key, project, role, &sealed, now_ms())
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

/// `wafcert user disable`.
pub(super) async fn disable_user(database: &DatabaseArgs, user: &UserName) -> anyhow::Result<()> {
    let store = database.open().await?;
    let id = user_id(&store, user).await?;
    store.disable_user(&id).await?;
    println!("disabled");
    Ok(())
}

/// `wafcert user set-password`.
pub(super) async fn set_password(database: &DatabaseArgs, user: &UserName) -> anyhow::Result<()> {
    let password = read_password()?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let store = database.open().await?;
    let id = user_id(&store, user).await?;
    store.set_user_password(&id, &hash).await?;
    println!("password set");
    Ok(())
}

async fn user_id(store: &Store, user: &UserName) -> anyhow::Result<String> {
    store
        .user_id_by_name(&user.domain, &user.name)
        .await?
        .with_context(|| format!("no user {} in domain {}", user.name, user.domain))
}

/// `wafcert access-key revoke`.
pub(super) async fn revoke_access_key(
    database: &DatabaseArgs,
    access_key: &str,
) -> anyhow::Result<()> {
    let store = database.open().await?;
    if !store.delete_access_key(access_key.trim()).await? {
        bail!("no such access key");
    }
    println!("revoked");
    Ok(())
}

/// `never`, or a lifetime: `30s`, `15m`, `24h`, `7d`, or plain seconds.
fn parse_ttl(text: &str) -> anyhow::Result<Option<Duration>> {
    let text = text.trim();
    if text == "never" {
        return Ok(None);
    }
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .context("--ttl must look like 30m, 24h or 7d, or be never")?;
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
    Ok(Some(Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ADMIN_TOKEN_LIFETIME_MS;

    #[test]
    fn ttl_units() {
        let secs = |t: &str| parse_ttl(t).unwrap().map(|d| d.as_secs());
        assert_eq!(secs("24h"), Some(86_400));
        assert_eq!(secs("30m"), Some(1800));
        assert_eq!(secs("7d"), Some(604_800));
        assert_eq!(secs("90"), Some(90));
        assert_eq!(secs("never"), None);
        // The default `--ttl` is the bootstrap token's lifetime.
        assert_eq!(
            secs("30d").map(|s| s * 1000),
            Some(u64::try_from(ADMIN_TOKEN_LIFETIME_MS).unwrap())
        );
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
