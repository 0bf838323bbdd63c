//! The Keystone-style login: a password (user by id, or by name within a domain) or an existing
//! token buys a new bearer token scoped to the user's project. Tokens are stored hashed in the
//! same table as the admin command's, so the WAF API accepts both alike.
//!
//! Every failure to authenticate says the same thing, whether the user is unknown, the password
//! wrong or the project someone else's, and an unknown user costs the same argon2 run as a
//! known one: the answer tells an attacker nothing.

use std::net::IpAddr;
use std::sync::OnceLock;

use super::identity::{IssuedToken, LoginMethod, ProjectRef, TokenInfo, UserInfo, UserRef};
use super::mint::{MintError, TokenGrant, mint_token};
use super::{AuthError, Authenticator, hash_password};
use crate::crypto::token_hash;
use crate::domain::{Millis, Project, UserId};
use crate::storage::{Resource, StoreError, TokenRecord, UserRecord};

/// Lifetime of a token issued by the login: 24 hours, as Keystone's default.
pub const TOKEN_LIFETIME_MS: Millis = 24 * 60 * 60 * 1000;

/// Why a login or token lookup failed. Messages name no secret.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong password, unknown user, token not valid, or no access to the project.
    #[error("the request you have made requires authentication")]
    Unauthorized,
    /// The scope asks for something else than a project (domain, system, trust, unscoped).
    #[error("only project-scoped tokens are issued: scope the request to a project")]
    UnsupportedScope,
    /// A method other than `password` and `token`.
    #[error("unsupported authentication method: use password or token")]
    UnsupportedMethod,
    /// The subject token of a validation is not a valid token of this login.
    #[error("could not find token")]
    TokenNotFound,
    /// The credential store failed.
    #[error("credential lookup failed")]
    Store(#[from] StoreError),
    /// Too many failed logins for this user from this address: wait this many seconds.
    #[error("too many failed logins for this user from this address; retry later")]
    Throttled(u64),
    /// Too many password checks are already waiting for a turn.
    #[error("the server is busy checking passwords; retry shortly")]
    Busy,
    /// Hashing failed (the system RNG or the password hasher).
    #[error("internal error")]
    Internal(String),
}

impl From<AuthError> for LoginError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(inner) => Self::Store(inner),
            AuthError::Missing
            | AuthError::Unknown
            | AuthError::Expired
            | AuthError::Revoked
            | AuthError::BadSignature(_)
            | AuthError::WrongProject
            | AuthError::Forbidden => Self::Unauthorized,
        }
    }
}

impl Authenticator {
    /// Issues a token for `method`, scoped to `scope` (the user's own project when `None`).
    /// `client` is the caller's address, for login throttling.
    pub async fn login(
        &self,
        method: LoginMethod,
        scope: Option<&ProjectRef>,
        now: Millis,
        client: IpAddr,
    ) -> Result<IssuedToken, LoginError> {
        let method_name = method.name();
        let (user, expires_at, parent) = match method {
            LoginMethod::Password { user, password } => (
                self.password_user(&user, password, now, client).await?,
                now.saturating_add(TOKEN_LIFETIME_MS),
                None,
            ),
            LoginMethod::Token { token } => {
                let (user, old) = self.token_user(&token, now).await?;
                // A token bought with a token never outlives the first one (as Keystone), and
                // is revoked with it.
                let limit = now.saturating_add(TOKEN_LIFETIME_MS);
                (
                    user,
                    old.expires_at.map_or(limit, |at| at.min(limit)),
                    Some(token_hash(&token)),
                )
            }
        };
        // The user's role now, not the old token's: a downgrade takes effect at once.
        let role = user.role;
        let project = self.user_project(&user, scope).await?;
        let grant = TokenGrant {
            project: &project.id,
            role,
            user: Some(&user.id),
            parent: parent.as_deref(),
            expires_at: Some(expires_at),
        };
        let token = mint_token(&self.store, &grant, now)
            .await
            .map_err(|e| match e {
                MintError::Store(e) => LoginError::Store(e),
                MintError::Random(e) => LoginError::Internal(e.to_string()),
            })?;
        let hash = token_hash(&token);
        Ok(IssuedToken {
            token,
            info: TokenInfo {
                user: user_info(&user),
                project,
                role,
                methods: vec![method_name],
                issued_at: now,
                expires_at,
                audit_id: audit_id(&hash),
            },
        })
    }

    /// Describes a valid token issued by the login; anything else is
    /// [`LoginError::TokenNotFound`].
    pub async fn describe_token(&self, token: &str, now: Millis) -> Result<TokenInfo, LoginError> {
        let (user, record) = self.token_user(token, now).await.map_err(|e| match e {
            LoginError::Unauthorized => LoginError::TokenNotFound,
            other => other,
        })?;
        let project = self
            .store
            .project_by_id(record.project.as_str())
            .await?
            .ok_or(StoreError::NotFound(Resource::Project))?;
        Ok(TokenInfo {
            user: user_info(&user),
            project,
            role: record.role,
            methods: vec!["password"],
            issued_at: record.created_at,
            expires_at: record.expires_at.unwrap_or(i64::MAX),
            audit_id: audit_id(&token_hash(token)),
        })
    }

    /// Revokes a token; `false` when it was not a valid token.
    pub async fn revoke(&self, token: &str, now: Millis) -> Result<bool, LoginError> {
        match self.token_record(token, now).await {
            Ok(_) => Ok(self.store.revoke_token(&token_hash(token)).await?),
            Err(AuthError::Store(e)) => Err(e.into()),
            Err(_) => Ok(false),
        }
    }

    /// The user whose password this is; refused while the user and address are throttled,
    /// and counting failures. An existing user is throttled by its id, however it is named
    /// (by id, or by name in a domain given by name or id); an unknown one by the name given.
    async fn password_user(
        &self,
        user: &UserRef,
        password: String,
        now: Millis,
        client: IpAddr,
    ) -> Result<UserRecord, LoginError> {
        let record = match user {
            UserRef::Id(id) => self.store.user(Some(id), None).await?,
            UserRef::Name { name, domain } => {
                self.store.user(None, Some((domain.name(), name))).await?
            }
        };
        let key = match (&record, user) {
            (Some(r), _) => format!("id:{}", r.id),
            (None, UserRef::Id(id)) => format!("id:{id}"),
            (None, UserRef::Name { name, domain }) => format!("name:{}/{name}", domain.name()),
        };
        self.throttle
            .check(&key, client, now)
            .map_err(LoginError::Throttled)?;
        // An unknown user still costs one argon2 verification, so timing does not tell.
        let stored = record.as_ref().map(|r| r.password_hash.clone());
        let matches = self
            .password_checkers
            .verify(password, stored, dummy_hash)
            .await
            .map_err(|_| LoginError::Busy)?;
        match record {
            Some(record) if matches => {
                self.throttle.succeeded(&key, client);
                Ok(record)
            }
            _ => {
                self.throttle.failed(&key, client, now);
                Err(LoginError::Unauthorized)
            }
        }
    }

    /// The user and stored record of a valid token issued by the login.
    async fn token_user(
        &self,
        token: &str,
        now: Millis,
    ) -> Result<(UserRecord, TokenRecord), LoginError> {
        let record = self.token_record(token, now).await?;
        let Some(user_id) = record.user_id.as_ref().map(UserId::as_str) else {
            // Admin-command tokens belong to no user: they are not Keystone tokens.
            return Err(LoginError::Unauthorized);
        };
        let user = self
            .store
            .user(Some(user_id), None)
            .await?
            .ok_or(LoginError::Unauthorized)?;
        Ok((user, record))
    }

    /// The user's project, checked against the requested scope.
    async fn user_project(
        &self,
        user: &UserRecord,
        scope: Option<&ProjectRef>,
    ) -> Result<Project, LoginError> {
        let found = match scope {
            None => self.store.project_by_id(user.project.as_str()).await?,
            Some(ProjectRef::Id(id)) => self.store.project_by_id(id).await?,
            Some(ProjectRef::Name { name, domain }) => {
                self.store.project_by_name(domain.name(), name).await?
            }
        };
        match found {
            Some(project) if project.id == user.project => Ok(project),
            _ => Err(LoginError::Unauthorized),
        }
    }
}

fn user_info(user: &UserRecord) -> UserInfo {
    UserInfo {
        id: user.id.to_string(),
        name: user.name.clone(),
        domain: user.domain.clone(),
    }
}

/// A non-secret id for a token: 22 characters of a hash of its hash.
fn audit_id(token_hash_hex: &str) -> String {
    let mut id = token_hash(token_hash_hex);
    id.truncate(22);
    id
}

/// A hash to verify against when the user does not exist.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("wafcert-no-such-user").ok())
        .as_deref()
}
