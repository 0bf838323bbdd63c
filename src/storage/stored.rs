//! Stored columns back into domain types. The database only holds what this service wrote, so
//! a value that does not parse is a damaged or foreign database: a schema error (500), never a
//! client error.

use super::StoreError;
use crate::domain::CertificateId;

/// A schema error naming the column that did not parse.
fn malformed(what: &str) -> StoreError {
    StoreError::Schema(format!("stored {what} is malformed"))
}

/// A stored certificate id.
pub(super) fn certificate_id(text: &str) -> Result<CertificateId, StoreError> {
    CertificateId::parse(text).ok_or_else(|| malformed("certificate id"))
}
