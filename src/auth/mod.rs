//! Who is calling and what they may do. A request carries one credential: a bearer token
//! (`X-Auth-Token`, minted by the admin command or the Keystone-style login) or an AK/SK
//! signature (`Authorization: SDK-HMAC-SHA256 ...`). Either resolves to a [`Principal`]: a
//! project and a role.

mod checkers;
mod identity;
mod login;
mod mint;
mod password;
mod signature;
mod throttle;
mod verified;

use std::sync::Arc;

use crate::crypto::{Sealer, token_hash, token_id_of_hash};
use crate::domain::{ClockSetting, Millis, ProjectId, Role};
use crate::storage::{Origin, Store, StoreError, TokenRecord};

pub use identity::{
    DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, DomainRef, IssuedToken, LoginMethod, ProjectRef,
    TokenInfo, UserInfo, UserRef, domain_id,
};
pub use login::{LoginError, TOKEN_LIFETIME_MS};
pub use mint::{MintError, TokenGrant, mint_token, project_token};
pub use password::hash_password;
pub use signature::{SignedRequest, access_key_of, format_basic_date, sign_request};

/// Logins that may wait per password-checking thread (a login waits at most about this many
/// argon2 runs).
const PASSWORD_QUEUE_PER_THREAD: usize = 8;

/// Default lifetime of tokens made by the admin commands and the bootstrap: 30 days
/// (`--ttl never` opts out explicitly).
pub const ADMIN_TOKEN_LIFETIME_MS: Millis = 30 * 24 * 60 * 60 * 1000;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The only project the caller may act in.
    pub project: ProjectId,
    /// What the caller may do there.
    pub role: Role,
    /// The project's change counter when the credential was checked: cached reads tagged with
    /// the same version are current.
    pub project_version: i64,
    /// The credential's non-secret id, the `actor` of the events it causes: a token's
    /// [`token_id`](crate::crypto::token_id), or the access key id.
    pub credential: String,
    /// The shared test-controls clock, when the credential lookup read it (servers with test
    /// controls only); the API applies it so a move on another replica takes effect here.
    pub clock: Option<ClockSetting>,
}

impl Principal {
    /// Refuses callers acting on another project than their own.
    pub fn require_project(&self, path_project: &str) -> Result<(), AuthError> {
        if self.project.as_str() == path_project {
            Ok(())
        } else {
            Err(AuthError::WrongProject)
        }
    }

    /// Who caused a change at certificate time `time`, for the event log.
    pub fn origin(&self, time: Millis) -> Origin<'_> {
        Origin {
            actor: &self.credential,
            time,
        }
    }

    /// Refuses read-only callers.
    pub fn require_admin(&self) -> Result<(), AuthError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }
}

/// Why a request was not authenticated or not authorised. Messages name no secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential on the request.
    #[error(
        "authentication required: send X-Auth-Token or an SDK-HMAC-SHA256 Authorization header"
    )]
    Missing,
    /// The token or access key is not known.
    #[error("the token or access key is not valid")]
    Unknown,
    /// The token has expired.
    #[error("the token has expired; request a new one")]
    Expired,
    /// The token was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// The AK/SK signature does not verify.
    #[error("request signature rejected: {0}")]
    BadSignature(&'static str),
    /// The credential belongs to another project than the path names.
    #[error("the credentials do not belong to the project in the URL")]
    WrongProject,
    /// The role does not allow the operation.
    #[error("permission denied: this operation needs the admin role")]
    Forbidden,
    /// The credential store failed.
    #[error("credential lookup failed")]
    Store(#[from] StoreError),
}

/// Resolves credentials against the store.
#[derive(Debug, Clone)]
pub struct Authenticator {
    store: Store,
    /// Verifies passwords on a few threads: each argon2 run takes ~19 MiB and a core, so a
    /// flood of logins queues there (boundedly; beyond it 503) instead of exhausting memory.
    password_checkers: Arc<checkers::PasswordCheckers>,
    /// Failed logins by user and address.
    throttle: Arc<throttle::LoginThrottle>,
    /// Tokens verified since the database last changed (SQLite only, where a commit by any
    /// process is detectable without a query).
    verified: Arc<verified::VerifiedTokens>,
}

impl Authenticator {
    /// An authenticator over `store`.
    pub fn new(store: Store) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let threads = cores.max(2);
        Self {
            store,
            password_checkers: Arc::new(checkers::PasswordCheckers::start(
                threads,
                threads * PASSWORD_QUEUE_PER_THREAD,
            )),
            throttle: Arc::default(),
            verified: Arc::default(),
        }
    }

    /// The principal of a bearer token, refusing unknown, expired and revoked ones.
    pub async fn token(&self, token: &str, now: Millis) -> Result<Principal, AuthError> {
        let hash = token_hash(token);
        // Read before the database, so a commit racing the lookup invalidates what is cached.
        let stamp = self.store.change_stamp();
        if let Some(p) = stamp
            .as_ref()
            .and_then(|s| self.verified.get(&hash, s, now))
        {
            return Ok(p);
        }
        let record = self.record_by_hash(&hash, now).await?;
        let clock = record.clock();
        let p = Principal {
            project: record.project,
            role: record.role,
            project_version: record.project_version,
            credential: token_id_of_hash(&hash).to_owned(),
            clock,
        };
        if let Some(stamp) = stamp {
            self.verified.put(hash, stamp, p.clone(), record.expires_at);
        }
        Ok(p)
    }

    /// The stored record of a valid bearer token (not unknown, expired or revoked).
    pub async fn token_record(&self, token: &str, now: Millis) -> Result<TokenRecord, AuthError> {
        self.record_by_hash(&token_hash(token), now).await
    }

    async fn record_by_hash(&self, hash: &str, now: Millis) -> Result<TokenRecord, AuthError> {
        let record = self.store.token(hash).await?.ok_or(AuthError::Unknown)?;
        if record.revoked != 0 {
            return Err(AuthError::Revoked);
        }
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Expired);
        }
        Ok(record)
    }

    /// The principal of an AK/SK-signed request, refusing bad signatures and stale dates.
    pub async fn signature(
        &self,
        request: &SignedRequest<'_>,
        sealer: &Sealer,
        now: Millis,
    ) -> Result<Principal, AuthError> {
        let parsed = signature::parse_authorization(request.authorization)?;
        let record = self
            .store
            .access_key(parsed.access_key)
            .await?
            .ok_or(AuthError::Unknown)?;
        let secret = sealer
            .open(&record.sealed_secret, parsed.access_key)
            .map_err(|_| {
                AuthError::Store(StoreError::Schema(
                    "access key secret unreadable".to_owned(),
                ))
            })?;
        signature::verify(request, &parsed, &secret, now)?;
        if request
            .header("x-project-id")
            .is_some_and(|p| p != record.project.as_str())
        {
            return Err(AuthError::WrongProject);
        }
        let clock = record.clock();
        Ok(Principal {
            project: record.project,
            role: record.role,
            project_version: record.project_version,
            credential: parsed.access_key.to_owned(),
            clock,
        })
    }
}
