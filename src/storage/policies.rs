//! Protection policies and which hosts use them.
//!
//! A host points at its policy through a foreign key, so no host ever uses a missing policy.
//! Writes that depend on a policy existing (binding hosts to it, creating a host on it) first
//! lock its row with a no-op `UPDATE ... RETURNING`, as certificate binds do; a delete takes
//! the same lock, so it is ordered wholly before or after them. Lock order: certificate, then
//! policy, then host.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AssertSqlSafe};

use super::binding::WriteError;
use super::sql::{Page, PageWindow, SqlArgs, like_contains};
use super::{Resource, Store, StoreError};
use crate::domain::{HostId, PolicyId, PolicyName, PolicySettings, ProjectId, Rules};

/// A stored policy with the hosts that use it.
#[derive(Debug, Clone)]
pub struct PolicyRecord {
    /// Policy id.
    pub id: PolicyId,
    /// Name.
    pub name: String,
    /// Level, detection mode and switches.
    pub settings: PolicySettings,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Hosts using the policy, by hostname then id.
    pub hosts: Vec<PolicyHost>,
}

/// A host using a policy.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyHost {
    /// The policy the host uses.
    pub policy_id: PolicyId,
    /// Host id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
}

/// A policy to insert.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    /// Fresh id.
    pub id: PolicyId,
    /// Checked name.
    pub name: PolicyName,
    /// Settings.
    pub settings: PolicySettings,
}

/// Which policies to list.
#[derive(Debug, Clone, Default)]
pub struct PolicyListFilter {
    /// Case-insensitive name substring.
    pub name_contains: Option<String>,
    /// The page.
    pub window: PageWindow,
}

/// The stored form of [`PolicySettings`]: fixed field names, whatever the wire calls them.
#[derive(Debug, Serialize, Deserialize)]
struct SettingsJson {
    level: i64,
    full_detection: bool,
    robot_action: Rules,
    action: Rules,
    options: Rules,
    modulex_options: Rules,
}

fn encode(s: &PolicySettings) -> Result<String, StoreError> {
    serde_json::to_string(&SettingsJson {
        level: s.level,
        full_detection: s.full_detection,
        robot_action: s.robot_action.clone(),
        action: s.action.clone(),
        options: s.options.clone(),
        modulex_options: s.modulex_options.clone(),
    })
    .map_err(|e| corrupt(&e))
}

fn decode(text: &str) -> Result<PolicySettings, StoreError> {
    let j: SettingsJson = serde_json::from_str(text).map_err(|e| corrupt(&e))?;
    Ok(PolicySettings {
        level: j.level,
        full_detection: j.full_detection,
        robot_action: j.robot_action,
        action: j.action,
        options: j.options,
        modulex_options: j.modulex_options,
    })
}

fn corrupt(what: &dyn std::fmt::Display) -> StoreError {
    StoreError::Schema(format!("a policy's stored settings are unreadable: {what}"))
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: PolicyId,
    name: String,
    settings: String,
    created_at_ms: i64,
}

impl PolicyRow {
    fn into_record(self, hosts: Vec<PolicyHost>) -> Result<PolicyRecord, StoreError> {
        Ok(PolicyRecord {
            settings: decode(&self.settings)?,
            id: self.id,
            name: self.name,
            created_at: self.created_at_ms,
            hosts,
        })
    }
}

impl Store {
    /// Inserts a policy.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn insert_policy(
        &self,
        project: &ProjectId,
        policy: &NewPolicy,
        now: i64,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        insert_policy(&mut tx, project, policy, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One policy of the project with its hosts; missing is a not-found policy.
    pub async fn policy(
        &self,
        project: &ProjectId,
        id: &PolicyId,
    ) -> Result<PolicyRecord, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_policy(&mut conn, project, id).await
    }

    /// A page of the project's policies, newest first (then id descending), with the number of
    /// all matches.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn list_policies(
        &self,
        project: &ProjectId,
        filter: &PolicyListFilter,
    ) -> Result<Page<PolicyRecord>, StoreError> {
        let mut args = SqlArgs::new();
        let mut predicate = format!("project_id = {}", args.push(project.as_str()));
        if let Some(text) = &filter.name_contains {
            let pattern = args.push(like_contains(&text.to_lowercase()));
            predicate.push_str(&format!(" AND LOWER(name) LIKE {pattern} ESCAPE '\\'"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM policies WHERE {predicate}");
        let total: i64 = sqlx::query_scalar_with(AssertSqlSafe(count_sql), args.arguments()?)
            .fetch_one(&self.pool)
            .await?;
        let PageWindow { limit, offset } = filter.window;
        if total <= offset {
            return Ok(Page::empty(total));
        }
        let limit = args.push(limit.unwrap_or(i64::MAX));
        let offset = args.push(offset);
        let sql = format!(
            "SELECT id, name, settings, created_at_ms FROM policies WHERE {predicate} \
             ORDER BY created_at_ms DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows: Vec<PolicyRow> = sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
            .fetch_all(&self.pool)
            .await?;
        let ids: Vec<&PolicyId> = rows.iter().map(|r| &r.id).collect();
        let mut hosts = {
            let mut conn = self.pool.acquire().await?;
            hosts_of(&mut conn, project, &ids).await?
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    hosts.drain(..).partition(|h| h.policy_id == row.id);
                hosts = rest;
                row.into_record(mine)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { total, items })
    }

    /// Changes a policy in one transaction under its lock: moves the listed hosts of the
    /// project onto it (all or nothing; a missing host is a not-found host), then hands
    /// the record to `decide`, which returns the name and settings to write (`None` leaves
    /// them) or refuses. A missing policy is a not-found policy.
    #[tracing::instrument(skip_all, fields(project = %project, policy = %id))]
    pub async fn update_policy<E>(
        &self,
        project: &ProjectId,
        id: &PolicyId,
        hosts: &[HostId],
        decide: impl FnOnce(&PolicyRecord) -> Result<Option<(String, PolicySettings)>, E>,
    ) -> Result<PolicyRecord, WriteError<E>> {
        let (_turn, mut tx) = self.begin_write().await?;
        lock_policy(&mut tx, project, id).await?;
        move_hosts(&mut tx, project, id, hosts).await?;
        let current = read_policy(&mut tx, project, id).await?;
        let Some((name, settings)) = decide(&current).map_err(WriteError::Refused)? else {
            tx.commit().await?;
            return Ok(current);
        };
        sqlx::query(
            "UPDATE policies SET name = $3, settings = $4 WHERE id = $1 AND project_id = $2",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .bind(&name)
        .bind(encode(&settings)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PolicyRecord {
            name,
            settings,
            ..current
        })
    }

    /// Deletes a policy no host uses; one in use is [`StoreError::PolicyInUse`] with the
    /// hostnames, a missing one a not-found policy.
    #[tracing::instrument(skip_all, fields(project = %project, policy = %id))]
    pub async fn delete_policy(
        &self,
        project: &ProjectId,
        id: &PolicyId,
    ) -> Result<PolicyRecord, StoreError> {
        let (_turn, mut tx) = self.begin_delete().await?;
        lock_policy(&mut tx, project, id).await?;
        let record = read_policy(&mut tx, project, id).await?;
        if !record.hosts.is_empty() {
            return Err(StoreError::PolicyInUse(
                record.hosts.into_iter().map(|h| h.hostname).collect(),
            ));
        }
        sqlx::query("DELETE FROM policies WHERE id = $1 AND project_id = $2")
            .bind(id.as_str())
            .bind(project.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| match e {
                // A host bound meanwhile (only possible without the lock, kept as backstop).
                sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
                    StoreError::PolicyInUse(Vec::new())
                }
                other => other.into(),
            })?;
        tx.commit().await?;
        Ok(record)
    }
}

/// Inserts a policy inside a caller's transaction.
pub(super) async fn insert_policy(
    conn: &mut AnyConnection,
    project: &ProjectId,
    policy: &NewPolicy,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO policies (id, project_id, name, settings, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(policy.id.as_str())
    .bind(project.as_str())
    .bind(policy.name.as_str())
    .bind(encode(&policy.settings)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Points the listed hosts of the project at the (locked) policy, all or nothing; a missing
/// host is a not-found host.
async fn move_hosts(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &PolicyId,
    hosts: &[HostId],
) -> Result<(), StoreError> {
    let mut hosts: Vec<&HostId> = hosts.iter().collect();
    hosts.sort();
    hosts.dedup();
    if hosts.is_empty() {
        return Ok(());
    }
    let mut args = SqlArgs::new();
    let policy = args.push(id.as_str());
    let owner = args.push(project.as_str());
    let list = args.list(hosts.iter().map(|h| h.as_str()));
    let sql = format!(
        "UPDATE hosts SET policy_id = {policy} WHERE project_id = {owner} AND id IN ({list})"
    );
    let done = sqlx::query_with(AssertSqlSafe(sql), args.arguments()?)
        .execute(conn)
        .await?;
    if usize::try_from(done.rows_affected()).ok() == Some(hosts.len()) {
        Ok(())
    } else {
        Err(StoreError::NotFound(Resource::Host))
    }
}

/// Locks the policy row; missing is a not-found policy.
pub(super) async fn lock_policy(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &PolicyId,
) -> Result<(), StoreError> {
    let found: Option<PolicyId> = sqlx::query_scalar(
        "UPDATE policies SET name = name WHERE id = $1 AND project_id = $2 RETURNING id",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .fetch_optional(conn)
    .await?;
    found
        .map(|_| ())
        .ok_or(StoreError::NotFound(Resource::Policy))
}

/// Deletes the policy when no host uses it any more (a host delete with `keepPolicy=false`).
pub(super) async fn delete_if_unused(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &PolicyId,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM policies WHERE id = $1 AND project_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM hosts WHERE policy_id = $1)",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

async fn read_policy(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &PolicyId,
) -> Result<PolicyRecord, StoreError> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT id, name, settings, created_at_ms FROM policies WHERE id = $1 AND project_id = $2",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or(StoreError::NotFound(Resource::Policy))?;
    let hosts = hosts_of(conn, project, &[id]).await?;
    row.into_record(hosts)
}

/// The project's hosts using any of the policies, by hostname then id.
async fn hosts_of(
    conn: &mut AnyConnection,
    project: &ProjectId,
    policies: &[&PolicyId],
) -> Result<Vec<PolicyHost>, StoreError> {
    if policies.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = SqlArgs::new();
    let owner = args.push(project.as_str());
    let list = args.list(policies.iter().map(|p| p.as_str()));
    let sql = format!(
        "SELECT policy_id, id, hostname FROM hosts WHERE project_id = {owner} \
         AND policy_id IN ({list}) ORDER BY hostname, id"
    );
    Ok(sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
        .fetch_all(conn)
        .await?)
}
