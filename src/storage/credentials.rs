//! Projects and the credentials that act in them: bearer tokens (stored as hashes), users
//! (argon2 password hashes) and access keys (secret sealed under the master key).

use sqlx::AssertSqlSafe;

use super::{Resource, Store, StoreError};
use crate::domain::{ClockSetting, Millis, Project, ProjectId, Role, UserId};

/// A stored bearer token, looked up by its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    /// The project the token acts in.
    #[sqlx(rename = "project_id")]
    pub project: ProjectId,
    /// What it may do there.
    pub role: Role,
    /// The user it was issued to, for Keystone tokens.
    pub user_id: Option<UserId>,
    /// Issue time, epoch ms.
    #[sqlx(rename = "created_at_ms")]
    pub created_at: Millis,
    /// Expiry, epoch ms; `None` never expires.
    #[sqlx(rename = "expires_at_ms")]
    pub expires_at: Option<Millis>,
    /// Non-zero once revoked.
    pub revoked: i64,
    /// The project's change counter, read in the same statement (see [`crate::api`]'s cache).
    pub project_version: i64,
    /// The shared test-controls clock offset, read in the same statement when the store shares
    /// the clock ([`Store::with_shared_clock`]).
    #[sqlx(default)]
    pub clock_offset_ms: Option<i64>,
    /// The shared clock's frozen instant, read with [`Self::clock_offset_ms`].
    #[sqlx(default)]
    pub clock_frozen_at_ms: Option<i64>,
}

/// A token to store.
#[derive(Debug)]
pub struct NewToken<'a> {
    /// Hex SHA-256 of the secret.
    pub token_hash: &'a str,
    /// The project it acts in.
    pub project: &'a ProjectId,
    /// What it may do.
    pub role: Role,
    /// The user it is issued to (Keystone tokens).
    pub user_id: Option<&'a UserId>,
    /// The hash of the token it was bought with (the Keystone `token` method): revoked with it.
    pub parent_hash: Option<&'a str>,
    /// Issue time, epoch ms.
    pub created_at: Millis,
    /// Expiry, epoch ms; `None` never expires.
    pub expires_at: Option<Millis>,
}

/// A token as listed by the admin command: never the secret, only its hash.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenListing {
    /// Hex SHA-256 of the secret.
    pub token_hash: String,
    /// What it may do.
    pub role: Role,
    /// Expiry, epoch ms; `None` never expires.
    #[sqlx(rename = "expires_at_ms")]
    pub expires_at: Option<i64>,
}

/// A user of the Keystone-style password login.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    /// User id.
    pub id: UserId,
    /// Login name.
    pub name: String,
    /// Domain name.
    pub domain: String,
    /// The project the user works in.
    #[sqlx(rename = "project_id")]
    pub project: ProjectId,
    /// What the user may do there.
    pub role: Role,
    /// PHC-format argon2 hash.
    pub password_hash: String,
}

/// A stored access key (AK/SK signing).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessKeyRecord {
    /// The project the key acts in.
    #[sqlx(rename = "project_id")]
    pub project: ProjectId,
    /// What it may do there.
    pub role: Role,
    /// The secret key, sealed with the access key as context.
    pub sealed_secret: Vec<u8>,
    /// The project's change counter, read in the same statement.
    pub project_version: i64,
    /// The shared test-controls clock offset, read in the same statement when the store shares
    /// the clock ([`Store::with_shared_clock`]).
    #[sqlx(default)]
    pub clock_offset_ms: Option<i64>,
    /// The shared clock's frozen instant, read with [`Self::clock_offset_ms`].
    #[sqlx(default)]
    pub clock_frozen_at_ms: Option<i64>,
}

/// The statement that reads a token by its hash, with its project's version (and the shared
/// clock's columns and join, when given): the credential check of every bearer request.
pub(super) fn token_statement((columns, join): (&str, &str)) -> String {
    format!(
        "SELECT t.project_id, t.role, t.user_id, t.created_at_ms, t.expires_at_ms, t.revoked, \
         p.version AS project_version{columns} \
         FROM tokens t JOIN projects p ON p.id = t.project_id{join} WHERE t.token_hash = $1"
    )
}

/// The statement that reads an access key, with its project's version (and the clock, as
/// [`token_statement`]): the credential check of every signed request.
pub(super) fn access_key_statement((columns, join): (&str, &str)) -> String {
    format!(
        "SELECT a.project_id, a.role, a.sealed_secret, p.version AS project_version{columns} \
         FROM access_keys a JOIN projects p ON p.id = a.project_id{join} \
         WHERE a.access_key = $1"
    )
}

/// The shared clock setting read with a credential, if the statement read it.
fn clock_of(offset_ms: Option<i64>, frozen_at: Option<i64>) -> Option<ClockSetting> {
    offset_ms.map(|offset_ms| ClockSetting {
        offset_ms,
        frozen_at,
    })
}

impl TokenRecord {
    /// The shared clock setting read with this token, when the store shares the clock.
    pub fn clock(&self) -> Option<ClockSetting> {
        clock_of(self.clock_offset_ms, self.clock_frozen_at_ms)
    }
}

impl AccessKeyRecord {
    /// The shared clock setting read with this key, when the store shares the clock.
    pub fn clock(&self) -> Option<ClockSetting> {
        clock_of(self.clock_offset_ms, self.clock_frozen_at_ms)
    }
}

impl Store {
    /// Creates the project if it does not exist (name defaults to the id, domain `Default`).
    pub async fn ensure_project(
        &self,
        id: &ProjectId,
        name: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.insert_project(id, name, "Default", now).await
    }

    /// Creates the project in `domain` named `name` (default: its id) unless it exists, and
    /// returns the stored project, which for an existing one may differ.
    pub async fn ensure_project_in(
        &self,
        id: &ProjectId,
        name: Option<&str>,
        domain: &str,
        now: Millis,
    ) -> Result<Project, StoreError> {
        self.insert_project(id, name, domain, now).await?;
        self.project_by_id(id.as_str())
            .await?
            .ok_or(StoreError::NotFound(Resource::Project))
    }

    /// Inserts the project unless one with its id exists (name defaults to the id).
    async fn insert_project(
        &self,
        id: &ProjectId,
        name: Option<&str>,
        domain: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO projects (id, name, domain, certificate_count, created_at_ms) \
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(name.unwrap_or(id.as_str()))
        .bind(domain)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Number of projects (used to decide whether to bootstrap one).
    pub async fn project_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM projects")
            .fetch_one(&self.pool)
            .await?)
    }

    /// A project by id (as a caller wrote it, so not necessarily well-formed).
    pub async fn project_by_id(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.project_where("id = $1", &[id]).await
    }

    /// A project by name within a domain.
    pub async fn project_by_name(
        &self,
        domain: &str,
        name: &str,
    ) -> Result<Option<Project>, StoreError> {
        self.project_where("domain = $1 AND name = $2", &[domain, name])
            .await
    }

    /// The project `condition` selects, its placeholders bound to `values` in order.
    async fn project_where(
        &self,
        condition: &'static str,
        values: &[&str],
    ) -> Result<Option<Project>, StoreError> {
        let sql = format!("SELECT id, name, domain FROM projects WHERE {condition}");
        let mut query = sqlx::query_as(AssertSqlSafe(sql));
        for value in values {
            query = query.bind(*value);
        }
        Ok(query.fetch_optional(&self.pool).await?)
    }

    /// Stores a token by its hash, with the token it was bought with, if any.
    pub async fn insert_token_record(&self, token: &NewToken<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (token_hash, project_id, role, user_id, parent_hash, \
             created_at_ms, expires_at_ms, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(token.token_hash)
        .bind(token.project.as_str())
        .bind(token.role.as_str())
        .bind(token.user_id.map(UserId::as_str))
        .bind(token.parent_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The project's tokens that are neither revoked nor expired at `now`, oldest first.
    pub async fn live_tokens(
        &self,
        project: &ProjectId,
        now: Millis,
    ) -> Result<Vec<TokenListing>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT token_hash, role, expires_at_ms FROM tokens \
             WHERE project_id = $1 AND revoked = 0 AND (expires_at_ms IS NULL OR expires_at_ms > $2) \
             ORDER BY created_at_ms, token_hash",
        )
        .bind(project.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The stored hashes of the tokens whose hash starts with `prefix` (a token id: hex, so
    /// no `LIKE` wildcard).
    pub async fn token_hashes_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        Ok(
            sqlx::query_scalar("SELECT token_hash FROM tokens WHERE token_hash LIKE $1")
                .bind(format!("{}%", prefix.to_ascii_lowercase()))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The token with this hash, if any (expired and revoked ones too: the caller decides).
    pub async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(pipeline) = &self.pipeline {
            return pipeline.token(token_hash).await;
        }
        let mut conn = self.reader().await?;
        let record = sqlx::query_as(AssertSqlSafe(token_statement(self.clock_sql())))
            .bind(token_hash)
            .fetch_optional(&mut *conn)
            .await?;
        conn.done();
        Ok(record)
    }

    /// Marks a token revoked, with every token bought with it (and so on, recursively);
    /// returns whether it existed.
    pub async fn revoke_token(&self, token_hash: &str) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = sqlx::query("UPDATE tokens SET revoked = 1 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE tokens SET revoked = 1 WHERE revoked = 0 AND token_hash IN ( \
             WITH RECURSIVE tree(h) AS ( \
               SELECT token_hash FROM tokens WHERE parent_hash = $1 \
               UNION SELECT t.token_hash FROM tokens t JOIN tree ON t.parent_hash = tree.h) \
             SELECT h FROM tree)",
        )
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The id of the user named `name` in `domain`, disabled or not.
    pub async fn user_id_by_name(
        &self,
        domain: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE domain = $1 AND name = $2")
                .bind(domain)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Disables a user (no more logins) and revokes every token issued to it.
    pub async fn disable_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.change_user(user_id, "UPDATE users SET disabled = 1 WHERE id = $1", None)
            .await
    }

    /// Replaces a user's password hash and revokes every token issued to it.
    pub async fn set_user_password(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.change_user(
            user_id,
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            Some(password_hash),
        )
        .await
    }

    /// Runs `update` on the user (with `$2` bound to `value` when given) and revokes the
    /// user's tokens, in one transaction.
    async fn change_user(
        &self,
        user_id: &str,
        update: &'static str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let mut q = sqlx::query(update).bind(user_id);
        if let Some(v) = value {
            q = q.bind(v);
        }
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound(Resource::User));
        }
        // Tokens bought with a user's token are the same user's, so this reaches them too.
        sqlx::query("UPDATE tokens SET revoked = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a user; a taken `(domain, name)` is [`StoreError::NameTaken`].
    pub async fn insert_user(&self, user: &UserRecord, now: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, name, domain, project_id, role, password_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id.as_str())
        .bind(&user.name)
        .bind(&user.domain)
        .bind(user.project.as_str())
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An enabled user by id, or by name within a domain (a disabled user is not found).
    pub async fn user(
        &self,
        id: Option<&str>,
        domain_and_name: Option<(&str, &str)>,
    ) -> Result<Option<UserRecord>, StoreError> {
        const COLUMNS: &str = "id, name, domain, project_id, role, password_hash";
        let row =
            match (id, domain_and_name) {
                (Some(id), _) => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLUMNS} FROM users WHERE id = $1 AND disabled = 0"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                }
                (None, Some((domain, name))) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM users WHERE domain = $1 AND name = $2 AND disabled = 0"
                )))
                .bind(domain)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
                (None, None) => None,
            };
        Ok(row)
    }

    /// Stores an access key with its sealed secret.
    pub async fn insert_access_key(
        &self,
        access_key: &str,
        project: &ProjectId,
        role: Role,
        sealed_secret: &[u8],
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_keys (access_key, project_id, role, sealed_secret, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(access_key)
        .bind(project.as_str())
        .bind(role.as_str())
        .bind(sealed_secret.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes an access key, so requests signed with it fail at once; returns whether it
    /// existed.
    pub async fn delete_access_key(&self, access_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM access_keys WHERE access_key = $1")
            .bind(access_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An access key by its public id.
    pub async fn access_key(
        &self,
        access_key: &str,
    ) -> Result<Option<AccessKeyRecord>, StoreError> {
        if let Some(pipeline) = &self.pipeline {
            return pipeline.access_key(access_key).await;
        }
        let mut conn = self.reader().await?;
        let record = sqlx::query_as(AssertSqlSafe(access_key_statement(self.clock_sql())))
            .bind(access_key)
            .fetch_optional(&mut *conn)
            .await?;
        conn.done();
        Ok(record)
    }
}
