//! The admin commands that issue and cut off credentials: tokens (create with a default
//! lifetime, list by id, revoke by id or secret), users (disable, set password) and access
//! keys (revoke). Tokens are named by their id (see [`crate::crypto::token_id`]) so a secret
//! never needs to appear on a command line or in a listing.

use std::time::Duration;

use anyhow::{Context, bail};

use super::{DatabaseArgs, TokenCommand, UserName, read_password};
use crate::auth::hash_password;
use crate::crypto::{TOKEN_ID_LEN, new_token, token_hash, token_id_of_hash};
use crate::domain::{format_iso8601, now_ms};
use crate::storage::Store;

/// `wafcert token create|revoke|list`.
pub(super) async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            database,
            project_id: project,
            role,
            ttl,
        } => {
            let ttl = parse_ttl(&ttl)?;
            let store = database.open().await?;
            let now = now_ms();
            store.ensure_project(&project, None, now).await?;
            let token = new_token()?;
            let expires =
                ttl.map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
            store
                .insert_token(
                    &token_hash(&token),
                    &project,
                    role.as_str(),
                    None,
                    now,
                    expires,
                )
                .await?;
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
