//! Stored columns decoded straight into domain types, once for every query: records derive
//! `sqlx::FromRow` with domain-typed fields, and the domain types the storage layer cannot
//! derive for (they know nothing of SQL) get their `FromRow` here. A column change is then made
//! in one place.
//!
//! The database only holds what this service wrote, so a value that does not parse is a
//! damaged or foreign database: a schema error (500), never a client error.

use sqlx::any::{AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, FromRow, Row, Type};

use super::host_settings;
use crate::domain::{
    CertificateFacts, CertificateId, HostId, HostSettings, HostState, PolicyId, Project, ProjectId,
    Role, UserId,
};

/// Text columns holding a domain value: `parse` turns the text into the value or says why not.
macro_rules! decoded_from_text {
    ($($ty:ty => $parse:expr),* $(,)?) => {$(
        impl Type<Any> for $ty {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $ty {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, Any>>::decode(value)?;
                let parse: fn(&str) -> Result<$ty, String> = $parse;
                parse(&text).map_err(Into::into)
            }
        }
    )*};
}

/// The error of a stored value that does not parse.
fn malformed(what: &str) -> String {
    format!("stored {what} is malformed")
}

decoded_from_text!(
    ProjectId => |t| ProjectId::parse(t).ok_or_else(|| malformed("project id")),
    CertificateId => |t| CertificateId::parse(t).ok_or_else(|| malformed("certificate id")),
    HostId => |t| HostId::parse(t).ok_or_else(|| malformed("host id")),
    PolicyId => |t| PolicyId::parse(t).ok_or_else(|| malformed("policy id")),
    UserId => |t| UserId::parse(t).ok_or_else(|| malformed("user id")),
    Role => |t| Role::parse(t).ok_or_else(|| malformed("role")),
    HostSettings => |t| host_settings::decode(t).map_err(|e| e.to_string()),
);

/// `FromRow` for a domain type (which cannot derive it: the domain knows nothing of SQL), each
/// field read from the named column.
macro_rules! from_row {
    ($ty:ident { $($field:ident: $column:literal),* $(,)? }) => {
        impl<'r> FromRow<'r, AnyRow> for $ty {
            fn from_row(row: &'r AnyRow) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get($column)?),*
                })
            }
        }
    };
}

from_row!(Project {
    id: "id",
    name: "name",
    domain: "domain",
});
from_row!(CertificateFacts {
    id: "id",
    name: "name",
    expire_time: "expire_time_ms",
});
from_row!(HostState {
    hostname: "hostname",
    certificate_id: "certificate_id",
    settings: "settings",
});
