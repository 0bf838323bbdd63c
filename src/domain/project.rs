//! A project: the unit of tenancy. Every certificate, host and credential belongs to one, and
//! Keystone logins name it by id or by name within a domain.

use super::ProjectId;

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Its id (32 hex).
    pub id: ProjectId,
    /// Its name, unique within its domain (the id unless given).
    pub name: String,
    /// The Keystone domain it belongs to (a name; `Default` unless given).
    pub domain: String,
}
