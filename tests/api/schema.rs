//! The SQLite and PostgreSQL migrations build the same tables with the same columns.

use std::collections::BTreeSet;

use sqlx::Connection;
use wafcert::storage::{PoolSettings, Store};

use crate::helpers::*;

/// `table.column` of every application table after all migrations.
async fn columns(db: Db) -> BTreeSet<String> {
    let test_db = TestDb::new(db).await;
    let store = Store::open(&test_db.url, PoolSettings::default())
        .await
        .unwrap();
    store.close().await;
    let sql = match db {
        Db::Sqlite => {
            "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
             AND m.name NOT LIKE 'certificates_name_fts%'"
        }
        Db::Postgres => {
            "SELECT CAST(table_name || '.' || column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'"
        }
    };
    let mut conn = sqlx::AnyConnection::connect(&test_db.url).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_columns() {
    let sqlite = columns(Db::Sqlite).await;
    assert!(sqlite.contains("certificates.key_sha256"), "{sqlite:?}");
    if postgres_url().is_some() {
        assert_eq!(sqlite, columns(Db::Postgres).await);
    }
}
