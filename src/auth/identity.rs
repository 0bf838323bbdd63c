//! The vocabulary of the Keystone-style login: how users, domains and projects are named in a
//! request, how the caller authenticates, and what an issued token stands for. Secrets (the
//! password, the token) never show in `Debug`.

use std::fmt;

use crate::domain::{Millis, Project, Role};

/// The name of Keystone's default domain, whose id is [`DEFAULT_DOMAIN_ID`].
pub const DEFAULT_DOMAIN_NAME: &str = "Default";
/// The id of Keystone's default domain.
pub const DEFAULT_DOMAIN_ID: &str = "default";

/// A domain named by id or by name. wafcert's domains are names; a domain's id is its name,
/// except that the `Default` domain has Keystone's id `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    /// `{"id": ...}`.
    Id(String),
    /// `{"name": ...}`.
    Name(String),
}

impl DomainRef {
    /// The domain name this reference designates.
    pub fn name(&self) -> &str {
        match self {
            Self::Id(id) if id == DEFAULT_DOMAIN_ID => DEFAULT_DOMAIN_NAME,
            Self::Id(id) => id,
            Self::Name(name) => name,
        }
    }
}

/// The id Keystone clients see for a domain name.
pub fn domain_id(name: &str) -> &str {
    if name == DEFAULT_DOMAIN_NAME {
        DEFAULT_DOMAIN_ID
    } else {
        name
    }
}

/// The user of a password login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// By user id.
    Id(String),
    /// By name within a domain.
    Name {
        /// Login name.
        name: String,
        /// The user's domain.
        domain: DomainRef,
    },
}

/// The project a token is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// By project id.
    Id(String),
    /// By name within a domain.
    Name {
        /// Project name.
        name: String,
        /// The project's domain.
        domain: DomainRef,
    },
}

/// How the caller proves who they are.
pub enum LoginMethod {
    /// A user and their password.
    Password {
        /// Who.
        user: UserRef,
        /// The password (never logged).
        password: String,
    },
    /// A valid token issued by this login.
    Token {
        /// The token (never logged).
        token: String,
    },
}

impl fmt::Debug for LoginMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
            Self::Token { .. } => f.write_str("Token(<redacted>)"),
        }
    }
}

impl LoginMethod {
    /// The Keystone method name (`password` or `token`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Password { .. } => "password",
            Self::Token { .. } => "token",
        }
    }
}

/// A user as tokens describe it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User id.
    pub id: String,
    /// Login name.
    pub name: String,
    /// Domain name.
    pub domain: String,
}

/// What a Keystone token stands for.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// The user it was issued to.
    pub user: UserInfo,
    /// The project it acts in.
    pub project: Project,
    /// What it may do there.
    pub role: Role,
    /// The methods that obtained it.
    pub methods: Vec<&'static str>,
    /// Issue time, epoch ms.
    pub issued_at: Millis,
    /// Expiry, epoch ms.
    pub expires_at: Millis,
    /// A non-secret id of the token (Keystone's audit id).
    pub audit_id: String,
}

/// A freshly issued token: the secret (shown once) and what it stands for.
pub struct IssuedToken {
    /// The bearer token; stored only as its hash.
    pub token: String,
    /// Its description.
    pub info: TokenInfo,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_domain_has_keystone_id() {
        assert_eq!(DomainRef::Id("default".to_owned()).name(), "Default");
        assert_eq!(DomainRef::Id("acme".to_owned()).name(), "acme");
        assert_eq!(DomainRef::Name("Default".to_owned()).name(), "Default");
        assert_eq!(domain_id("Default"), "default");
        assert_eq!(domain_id("acme"), "acme");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let method = LoginMethod::Password {
            user: UserRef::Id("u".to_owned()),
            password: "hunter2".to_owned(),
        };
        assert!(!format!("{method:?}").contains("hunter2"));
        let token = LoginMethod::Token {
            token: "wafcert_abc".to_owned(),
        };
        assert!(!format!("{token:?}").contains("wafcert_abc"));
    }
}
