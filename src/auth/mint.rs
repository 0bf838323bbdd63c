//! The one way bearer tokens come into being: a fresh random secret with wafcert's prefix,
//! stored only as its hash with the project, role, user and expiry it grants. Used by the
//! bootstrap of an empty database, `wafcert token create`, the Keystone-style login, the
//! benchmark and the test harness alike.

use crate::crypto::{CryptoError, new_token, token_hash};
use crate::domain::{Millis, ProjectId, Role, UserId};
use crate::storage::{NewToken, Store, StoreError};

/// What a token grants.
#[derive(Debug, Clone, Copy)]
pub struct TokenGrant<'a> {
    /// The project it acts in (which must exist).
    pub project: &'a ProjectId,
    /// What it may do there.
    pub role: Role,
    /// The user it is issued to (Keystone tokens); `None` for admin-made tokens.
    pub user: Option<&'a UserId>,
    /// The hash of the token it was bought with (the Keystone `token` method): it is revoked
    /// with that one.
    pub parent: Option<&'a str>,
    /// Expiry, epoch ms; `None` never expires.
    pub expires_at: Option<Millis>,
}

/// Why no token was minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The system random generator failed.
    #[error("token generation failed: {0}")]
    Random(#[from] CryptoError),
    /// The token could not be stored.
    #[error("storing the token failed: {0}")]
    Store(#[from] StoreError),
}

/// Makes sure `project` exists and mints a token of `role` in it that no user holds (the
/// bootstrap of an empty database, `wafcert token create`, the benchmark's seeding); returns
/// the secret.
pub async fn project_token(
    store: &Store,
    project: &ProjectId,
    role: Role,
    expires_at: Option<Millis>,
    now: Millis,
) -> Result<String, MintError> {
    store.ensure_project(project, None, now).await?;
    let grant = TokenGrant {
        project,
        role,
        user: None,
        parent: None,
        expires_at,
    };
    mint_token(store, &grant, now).await
}

/// Mints a token for `grant`, issued at `now`, and returns the secret (shown once; only its
/// hash is stored).
pub async fn mint_token(
    store: &Store,
    grant: &TokenGrant<'_>,
    now: Millis,
) -> Result<String, MintError> {
    let token = new_token()?;
    store
        .insert_token_record(&NewToken {
            token_hash: &token_hash(&token),
            project: grant.project,
            role: grant.role,
            user_id: grant.user,
            parent_hash: grant.parent,
            created_at: now,
            expires_at: grant.expires_at,
        })
        .await?;
    Ok(token)
}
