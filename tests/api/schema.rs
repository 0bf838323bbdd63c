//! The invariants the read caches rest on, tested on the schemas themselves: the two dialects'
//! migrations make the same tables and columns, and every INSERT, UPDATE and DELETE on a table
//! whose rows the caches serve bumps its project's `version` (six SQLite triggers, one
//! PostgreSQL function). A new table with a `project_id` must be listed here as tracked (with
//! triggers in both dialects) or as not served from the caches. The columns later migrations
//! add (rotation's fingerprints, policies) are checked to exist on both.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, Connection};
use wafcert::domain::{CertificateId, HostId, ProjectId, now_ms};
use wafcert::storage::{PoolSettings, Store};

use crate::helpers::*;

/// Tables whose every write must bump `projects.version`: the read caches serve their rows.
const TRACKED: [&str; 2] = ["certificates", "hosts"];
/// Tables with a `project_id` whose rows no cache serves (credentials are checked on every
/// request, or through the change stamp; policies are read from the database each time).
const NOT_CACHED: [&str; 6] = [
    "users",
    "tokens",
    "access_keys",
    "policies",
    "events",
    "console_sessions",
];

crate::on_both_backends!(every_write_to_a_tracked_table_bumps_the_version);

/// Table name to column names, as the database reports them.
async fn columns(conn: &mut AnyConnection, db: Db) -> BTreeMap<String, BTreeSet<String>> {
    let sql = match db {
        Db::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name NOT LIKE 'certificates_name_fts%'"
        }
        Db::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(conn).await.unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (table, column) in rows {
        if table != "_sqlx_migrations" {
            tables.entry(table).or_default().insert(column);
        }
    }
    tables
}

/// A migrated database of `db`'s kind and a plain connection to it.
async fn migrated(db: Db) -> (TestDb, AnyConnection) {
    let test_db = TestDb::new(db).await;
    let store = Store::open(&test_db.url, PoolSettings::default())
        .await
        .unwrap();
    store.close().await;
    let conn = AnyConnection::connect(&test_db.url).await.unwrap();
    (test_db, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_dialects_have_the_same_tables_and_columns() {
    let (_sqlite_db, mut sqlite) = migrated(Db::Sqlite).await;
    let on_sqlite = columns(&mut sqlite, Db::Sqlite).await;
    for table in TRACKED.iter().chain(&NOT_CACHED) {
        assert!(
            on_sqlite
                .get(*table)
                .is_some_and(|c| c.contains("project_id")),
            "{table}"
        );
    }
    let with_project: Vec<&String> = on_sqlite
        .iter()
        .filter(|(_, c)| c.contains("project_id"))
        .map(|(t, _)| t)
        .collect();
    for table in with_project {
        assert!(
            TRACKED.contains(&table.as_str()) || NOT_CACHED.contains(&table.as_str()),
            "table {table} has a project_id: if the read caches serve its rows, give it \
             version triggers in both dialects and list it in TRACKED, else in NOT_CACHED"
        );
    }
    // Columns later migrations added, so a migration left out of one dialect shows here too.
    let has = |table: &str, column: &str| on_sqlite.get(table).is_some_and(|c| c.contains(column));
    for (table, column) in [
        ("certificates", "key_sha256"),
        ("certificates", "leaf_sha256"),
        ("certificates", "expiry_stage"),
        ("hosts", "policy_id"),
        ("hosts", "protect_status"),
        ("events", "delivery_state"),
    ] {
        assert!(has(table, column), "{table}.{column}: {on_sqlite:?}");
    }
    if postgres_url().is_none() {
        return;
    }
    let (_pg_db, mut postgres) = migrated(Db::Postgres).await;
    let on_postgres = columns(&mut postgres, Db::Postgres).await;
    assert_eq!(
        on_sqlite, on_postgres,
        "migrations/sqlite and migrations/postgres must make the same tables and columns"
    );
}

async fn version(conn: &mut AnyConnection, project: &ProjectId) -> i64 {
    sqlx::query_scalar("SELECT version FROM projects WHERE id = $1")
        .bind(project.as_str())
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn every_write_to_a_tracked_table_bumps_the_version(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let project = ProjectId::parse(&app.project).unwrap();
    let other = ProjectId::random();
    app.store
        .ensure_project(&other, None, now_ms())
        .await
        .unwrap();
    let mut conn = AnyConnection::connect(&app.db.url).await.unwrap();
    let (cert, host) = (CertificateId::random(), HostId::random());
    let writes: [(&str, &str, Vec<&str>); 6] = [
        (
            "certificates",
            "INSERT INTO certificates (id, project_id, name, name_lower, content, sealed_key, \
             expire_time_ms, created_at_ms) VALUES ($1, $2, 'v', 'v', 'pem', $3, 0, 0)",
            vec![cert.as_str(), project.as_str(), "sealed"],
        ),
        (
            "certificates",
            "UPDATE certificates SET name = 'w', name_lower = 'w' WHERE id = $1",
            vec![cert.as_str()],
        ),
        (
            "hosts",
            "INSERT INTO hosts (id, project_id, hostname, certificate_id, settings, created_at_ms) \
             VALUES ($1, $2, 'www.example.com', $3, '{}', 0)",
            vec![host.as_str(), project.as_str(), cert.as_str()],
        ),
        (
            "hosts",
            "UPDATE hosts SET certificate_id = NULL WHERE id = $1",
            vec![host.as_str()],
        ),
        (
            "hosts",
            "DELETE FROM hosts WHERE id = $1",
            vec![host.as_str()],
        ),
        (
            "certificates",
            "DELETE FROM certificates WHERE id = $1",
            vec![cert.as_str()],
        ),
    ];
    let mut exercised = BTreeSet::new();
    for (table, sql, binds) in writes {
        let (before, other_before) = (
            version(&mut conn, &project).await,
            version(&mut conn, &other).await,
        );
        let mut q = sqlx::query(sql);
        for b in binds {
            // The one value that is not text is the sealed key, a blob.
            q = if b == "sealed" {
                q.bind(b.as_bytes().to_vec())
            } else {
                q.bind(b)
            };
        }
        let done = q.execute(&mut conn).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
        assert!(
            version(&mut conn, &project).await > before,
            "no version bump after: {sql}"
        );
        assert_eq!(
            version(&mut conn, &other).await,
            other_before,
            "another project's version moved: {sql}"
        );
        exercised.insert(table);
    }
    assert_eq!(exercised, TRACKED.into_iter().collect());
    conn.close().await.unwrap();
}
