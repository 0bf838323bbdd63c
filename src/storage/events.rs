//! The event log: rows written inside the transaction of the change they record (so a change
//! and its event commit or roll back together), the page the events endpoint reads, and the
//! outbox columns the webhook deliverer claims, retries and settles.
//!
//! Event ids are random, `time` is certificate time (the movable clock, passed in by the
//! caller), while the outbox's `next_attempt_ms` and leases follow real time.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, AssertSqlSafe};

use super::sql::{Bind, Page, PageWindow, ProjectRows, SqlArgs, fetch_page};
use super::{Store, StoreError};
use crate::domain::{CertificateFacts, EventId, EventType, Millis, ProjectId, now_ms};

/// Who caused a change and when, on the certificate clock.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The credential id (a token's id, an access key id) or `system`.
    pub actor: &'a str,
    /// Certificate time of the change, epoch ms.
    pub time: Millis,
}

/// The actor of time-driven events.
pub const SYSTEM_ACTOR: &str = "system";

/// A stored event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRecord {
    /// Event id (32 hex).
    pub id: String,
    /// Type name, e.g. `wafcert.certificate.created`.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Certificate time of the event, epoch ms.
    #[sqlx(rename = "time_ms")]
    pub time: i64,
    /// Owning project.
    pub project_id: String,
    /// The certificate or host id.
    pub subject: String,
    /// Who caused it.
    pub actor: String,
    /// JSON object text.
    pub data: String,
    /// `none`, `pending`, `delivered` or `failed`.
    pub delivery_state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// HTTP status of the last attempt (0: unreachable).
    pub last_status: Option<i64>,
    /// Real time of the next attempt, epoch ms.
    pub next_attempt_ms: Option<i64>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this type.
    pub kind: Option<EventType>,
    /// Only this subject (certificate or host id).
    pub subject: Option<String>,
    /// The page.
    pub window: PageWindow,
}

/// How a delivery attempt ended, as the outbox records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Every receiver answered 2xx.
    Delivered {
        /// The status of the last answer.
        status: i64,
    },
    /// Retry at `next_attempt_ms` (real time).
    Retry {
        /// The failing status (0: unreachable).
        status: i64,
        /// When to try again.
        next_attempt_ms: Millis,
    },
    /// The retry schedule is exhausted.
    GaveUp {
        /// The failing status (0: unreachable).
        status: i64,
    },
}

const EVENT_COLUMNS: &str = "id, type, time_ms, project_id, subject, actor, data, delivery_state, \
     attempts, last_status, next_attempt_ms";

/// `{"certificate_id", "name"}` plus `extra`: the data of every certificate event.
fn certificate_data(id: &str, name: &str, extra: Value) -> Value {
    with_extra(json!({"certificate_id": id, "name": name}), extra)
}

fn with_extra(mut base: Value, extra: Value) -> Value {
    if let (Some(map), Value::Object(more)) = (base.as_object_mut(), extra) {
        let more: Map<String, Value> = more;
        map.extend(more);
    }
    base
}

/// A host as host and binding events name it.
#[derive(Debug, Clone, Copy)]
pub(super) struct HostRef<'a> {
    /// The host's id.
    pub(super) id: &'a str,
    /// Its domain name.
    pub(super) hostname: &'a str,
}

/// The events of one write: whether webhooks deliver them, who made the change and when, and
/// the project. Each method writes one event on the write's transaction, so a change and its
/// events commit or roll back together.
#[derive(Debug, Clone, Copy)]
pub(super) struct EventLog<'a> {
    outbox: bool,
    origin: Origin<'a>,
    project: &'a str,
}

impl EventLog<'_> {
    /// An event about a certificate, given as `(id, name)`: `extra` merged into
    /// `{certificate_id, name}`.
    pub(super) async fn certificate(
        &self,
        conn: &mut AnyConnection,
        kind: EventType,
        (id, name): (&str, &str),
        extra: Value,
    ) -> Result<(), sqlx::Error> {
        let data = certificate_data(id, name, extra);
        self.record(conn, kind, id, &data).await
    }

    /// An event about a host: `extra` merged into `{host_id, hostname}`.
    pub(super) async fn host(
        &self,
        conn: &mut AnyConnection,
        kind: EventType,
        host: HostRef<'_>,
        extra: Value,
    ) -> Result<(), sqlx::Error> {
        let data = with_extra(
            json!({"host_id": host.id, "hostname": host.hostname}),
            extra,
        );
        self.record(conn, kind, host.id, &data).await
    }

    /// That `host` started using the certificate (read under its lock).
    pub(super) async fn bound(
        &self,
        conn: &mut AnyConnection,
        certificate: &CertificateFacts,
        host: HostRef<'_>,
    ) -> Result<(), sqlx::Error> {
        let certificate = (certificate.id.as_str(), certificate.name.as_str());
        self.binding(conn, EventType::CertificateBound, certificate, host)
            .await
    }

    /// That `host` stopped using a certificate, given as `(id, name)`.
    pub(super) async fn unbound(
        &self,
        conn: &mut AnyConnection,
        certificate: (&str, &str),
        host: HostRef<'_>,
    ) -> Result<(), sqlx::Error> {
        self.binding(conn, EventType::CertificateUnbound, certificate, host)
            .await
    }

    /// A `bound` or `unbound` event: the certificate's, naming the host.
    async fn binding(
        &self,
        conn: &mut AnyConnection,
        kind: EventType,
        certificate: (&str, &str),
        host: HostRef<'_>,
    ) -> Result<(), sqlx::Error> {
        let extra = json!({"host_id": host.id, "hostname": host.hostname});
        self.certificate(conn, kind, certificate, extra).await
    }

    /// Writes one event on `conn`: `pending` when webhooks will deliver it, else `none`.
    async fn record(
        &self,
        conn: &mut AnyConnection,
        kind: EventType,
        subject: &str,
        data: &Value,
    ) -> Result<(), sqlx::Error> {
        let (state, next) = delivery_start(self.outbox);
        sqlx::query(
            "INSERT INTO events (id, project_id, type, time_ms, subject, actor, data, \
             delivery_state, attempts, next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)",
        )
        .bind(EventId::random().as_str().to_owned())
        .bind(self.project)
        .bind(kind.as_str())
        .bind(self.origin.time)
        .bind(subject)
        .bind(self.origin.actor)
        .bind(data.to_string())
        .bind(state)
        .bind(next)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The delivery state a new event starts in, and when its first attempt is due: `pending` now
/// when webhooks will deliver it (`outbox`), else `none`.
fn delivery_start(outbox: bool) -> (&'static str, Option<Millis>) {
    if outbox {
        ("pending", Some(now_ms()))
    } else {
        ("none", None)
    }
}

/// Rows per multi-row `INSERT` of [`record_many_certificates`]: 450 bind parameters, as few as
/// the certificate rows' (binding on SQLite costs the square of a statement's parameters, see
/// `INSERT_CHUNK_ROWS` in `certificates.rs`).
const MANY_CHUNK_ROWS: usize = 50;

/// Writes certificate events of one type in multi-row statements on `conn` (bulk loads): each
/// row is `(project, (certificate id, name), extra, origin)`, as [`EventLog::certificate`]
/// takes them.
pub(super) async fn record_many_certificates(
    conn: &mut AnyConnection,
    outbox: bool,
    kind: EventType,
    rows: &[(&str, (&str, &str), Value, Origin<'_>)],
) -> Result<(), StoreError> {
    let (state, next) = delivery_start(outbox);
    for chunk in rows.chunks(MANY_CHUNK_ROWS) {
        let mut args = SqlArgs::new();
        let values = chunk
            .iter()
            .map(|(project, (id, name), extra, origin)| {
                let data = certificate_data(id, name, extra.clone());
                let row = [
                    Bind::from(EventId::random().as_str()),
                    Bind::from(*project),
                    Bind::from(kind.as_str()),
                    Bind::from(origin.time),
                    Bind::from(*id),
                    Bind::from(origin.actor),
                    Bind::from(data.to_string()),
                    Bind::from(state),
                    Bind::OptionalInt(next),
                ];
                format!("({}, 0)", args.list(row))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO events (id, project_id, type, time_ms, subject, actor, data, \
             delivery_state, next_attempt_ms, attempts) VALUES {values}"
        );
        sqlx::query_with(AssertSqlSafe(sql), args.arguments()?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The event log of a write made by `origin` in `project`.
    pub(super) fn event_log<'a>(&self, origin: Origin<'a>, project: &'a str) -> EventLog<'a> {
        EventLog {
            outbox: self.outbox,
            origin,
            project,
        }
    }

    /// A page of the project's events, newest first, and the number of all matches.
    pub async fn list_events(
        &self,
        project: &ProjectId,
        filter: &EventFilter,
    ) -> Result<Page<EventRecord>, StoreError> {
        let (args, predicate) = ProjectRows::new("project_id", project)
            .equal("type", filter.kind.map(EventType::as_str))
            .equal("subject", filter.subject.as_deref())
            .into_predicate();
        let count = format!("SELECT COUNT(*) FROM events WHERE {predicate}");
        let select =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE {predicate} ORDER BY seq DESC");
        fetch_page(&self.pool, count, select, args, filter.window).await
    }

    /// Events due for delivery at real time `now` and not leased by a replica, oldest due first.
    pub async fn due_deliveries(
        &self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE delivery_state = 'pending' \
             AND next_attempt_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             ORDER BY next_attempt_ms, seq LIMIT $2"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Claims an event for delivery until `lease_until` (real time); `false` when another
    /// replica claimed it first or it is no longer due. The conditional update is the whole
    /// protocol: only one replica's update matches.
    pub async fn claim_delivery(
        &self,
        id: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<bool, StoreError> {
        let claim = sqlx::query(
            "UPDATE events SET lease_until_ms = $3 WHERE id = $1 AND delivery_state = 'pending' \
             AND next_attempt_ms <= $2 AND (lease_until_ms IS NULL OR lease_until_ms <= $2)",
        );
        let claimed = self
            .write_statement(claim.bind(id).bind(now).bind(lease_until))
            .await?;
        Ok(claimed == 1)
    }

    /// Records the end of a delivery attempt and releases the lease.
    pub async fn settle_delivery(
        &self,
        id: &str,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let (state, status, next) = match outcome {
            DeliveryOutcome::Delivered { status } => ("delivered", status, None),
            DeliveryOutcome::Retry {
                status,
                next_attempt_ms,
            } => ("pending", status, Some(next_attempt_ms)),
            DeliveryOutcome::GaveUp { status } => ("failed", status, None),
        };
        let settle = sqlx::query(
            "UPDATE events SET delivery_state = $2, last_status = $3, next_attempt_ms = $4, \
             attempts = attempts + 1, lease_until_ms = NULL WHERE id = $1",
        );
        self.write_statement(settle.bind(id).bind(state).bind(status).bind(next))
            .await?;
        Ok(())
    }

    /// Events still waiting for delivery (the `wafcert_events_pending` gauge).
    pub async fn pending_event_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE delivery_state = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
