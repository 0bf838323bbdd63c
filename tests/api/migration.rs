//! Migration 0006 (policies, and the hosts' `policy_id` and `protect_status` columns): a
//! database with hosts made before it keeps each host's protection status in the new filter
//! column, and both dialects end up with the same tables and columns.

use std::collections::BTreeSet;

use sqlx::Connection;
use wafcert::domain::{ProjectId, now_ms};
use wafcert::storage::{HostListFilter, PoolSettings, Store};

use crate::helpers::*;

crate::on_both_backends!(hosts_made_before_policies_keep_their_protect_status);

fn dialect(db: Db) -> &'static str {
    match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

async fn hosts_made_before_policies_keep_their_protect_status(db: Db) {
    let test_db = TestDb::new(db).await;
    // The schema as it was before 0006: only the first migration.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("migrations/{}/0001_init.sql", dialect(db)),
        dir.path().join("0001_init.sql"),
    )
    .unwrap();
    let mut conn = connect(&test_db.url).await;
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    let project = ProjectId::random();
    let settings = |status: i64| {
        format!(
            r#"{{"servers":[{{"front_protocol":"HTTP","back_protocol":"HTTP","address":"10.0.0.1","port":80,"kind":"ipv4"}}],"proxy":false,"description":"","protect_status":{status},"tls":"TLS v1.2","cipher":"cipher_default"}}"#
        )
    };
    sqlx::query(
        "INSERT INTO projects (id, name, domain, certificate_count, created_at_ms) \
         VALUES ($1, $1, 'Default', 0, 0)",
    )
    .bind(project.as_str())
    .execute(&mut conn)
    .await
    .unwrap();
    for (i, status) in [-1_i64, 0, 1, 0].into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO hosts (id, project_id, hostname, certificate_id, settings, created_at_ms) \
             VALUES ($1, $2, $3, NULL, $4, $5)",
        )
        .bind(ProjectId::random().as_str())
        .bind(project.as_str())
        .bind(format!("www{i}.example.com"))
        .bind(settings(status))
        .bind(now_ms() + i64::try_from(i).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
    // Opening the store runs the later migrations.
    let store = Store::open(&test_db.url, PoolSettings::default())
        .await
        .unwrap();
    for (status, count) in [(-1, 1), (0, 2), (1, 1)] {
        let filter = HostListFilter {
            protect_status: Some(status),
            ..HostListFilter::default()
        };
        let page = store.list_hosts(&project, &filter).await.unwrap();
        assert_eq!(page.total, count, "protect_status {status}");
        assert!(page.items.iter().all(|h| h.policy_id.is_none()));
        assert!(
            page.items
                .iter()
                .all(|h| i64::from(h.settings.protect_status.code()) == status)
        );
    }
    store.close().await;
}

/// `(table, column)` of every table but sqlx's own.
async fn columns(url: &str) -> BTreeSet<(String, String)> {
    let mut conn = connect(url).await;
    let sql = if url.starts_with("sqlite:") {
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
         AND m.name NOT LIKE 'sqlite%' \
         AND m.name NOT LIKE 'certificates_name_fts%'"
    } else {
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_dialects_have_the_same_tables_and_columns() {
    let sqlite = TestDb::new(Db::Sqlite).await;
    Store::open(&sqlite.url, PoolSettings::default())
        .await
        .unwrap()
        .close()
        .await;
    let lite = columns(&sqlite.url).await;
    assert!(lite.contains(&("policies".to_owned(), "settings".to_owned())));
    assert!(lite.contains(&("hosts".to_owned(), "policy_id".to_owned())));
    assert!(lite.contains(&("hosts".to_owned(), "protect_status".to_owned())));
    if postgres_url().is_none() {
        return;
    }
    let pg = TestDb::new(Db::Postgres).await;
    Store::open(&pg.url, PoolSettings::default())
        .await
        .unwrap()
        .close()
        .await;
    assert_eq!(lite, columns(&pg.url).await);
}
