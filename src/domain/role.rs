//! The roles a credential can have in its project. Stored with every token, user and access
//! key, checked by `auth`, and named in Keystone answers.

use std::fmt;

/// What a credential may do within its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including reading private keys.
    Admin,
    /// List and show, never private keys.
    ReadOnly,
}

impl Role {
    /// Parses `admin` or `readonly`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "readonly" => Some(Self::ReadOnly),
            _ => None,
        }
    }

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ReadOnly => "readonly",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
