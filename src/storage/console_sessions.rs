//! Sessions of the web console, stored so that any replica serves them. A row is found by the
//! SHA-256 of the cookie's secret, never by the secret itself, and carries the API token the
//! session acts with only sealed.

use super::{Store, StoreError};
use crate::domain::{Millis, Role};

/// A stored console session.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRecord {
    /// The project the session acts in.
    pub project_id: String,
    /// What the session may do: the token's role when the session began.
    pub role: Role,
    /// The API token, sealed with the row's `id_hash` as associated data.
    pub sealed_token: Vec<u8>,
    /// Non-zero when the console bought the token with a password (sign-out revokes it).
    pub owns_token: i64,
    /// Expiry, epoch ms (never later than the token's).
    pub expires_at_ms: i64,
}

/// A session to store.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// SHA-256 (hex) of the cookie's secret.
    pub id_hash: &'a str,
    /// The project the session acts in.
    pub project_id: &'a str,
    /// The token's role.
    pub role: Role,
    /// The sealed API token.
    pub sealed_token: &'a [u8],
    /// Whether sign-out revokes the token.
    pub owns_token: bool,
    /// Creation time, epoch ms.
    pub created_at_ms: Millis,
    /// Expiry, epoch ms.
    pub expires_at_ms: Millis,
}

impl Store {
    /// Stores a new session, first removing the sessions that have expired.
    pub async fn insert_session(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE expires_at_ms <= $1")
            .bind(session.created_at_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, project_id, role, sealed_token, owns_token, \
             created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id_hash)
        .bind(session.project_id)
        .bind(session.role.as_str())
        .bind(session.sealed_token.to_vec())
        .bind(i64::from(session.owns_token))
        .bind(session.created_at_ms)
        .bind(session.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session whose secret hashes to `id_hash`, if it exists and has not expired at `now`.
    pub async fn session(
        &self,
        id_hash: &str,
        now: Millis,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT project_id, role, sealed_token, owns_token, expires_at_ms \
             FROM console_sessions WHERE id_hash = $1 AND expires_at_ms > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends a session; returns whether it existed.
    pub async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
