//! The storage layer's batch insert (used by bulk loads and the benchmark): rows readable through
//! the API with their sealed keys, the project's counter exact, the quota and name uniqueness
//! enforced for the whole batch. And the typed rows: a stored value that no longer reads as its
//! domain type is a schema error (500), not a client error.

use serde_json::json;
use wafcert::app::open_sealer;
use wafcert::domain::{CertificateId, CertificateName, NameLimit, ProjectId, Role, now_ms};
use wafcert::storage::{NewCertificate, PoolSettings, Store, StoreError};

use crate::helpers::*;

crate::on_both_backends!(
    batch_rows_are_listed_shown_and_counted,
    batch_is_all_or_nothing_under_quota_and_names,
    unreadable_stored_values_are_schema_errors,
    the_name_index_merges_and_answers_the_same,
    credential_checks_run_concurrently_and_outlive_a_lost_connection,
    rows_read_by_id_keep_to_their_project,
);

/// Many concurrent credential checks each get their own record: tokens of several projects
/// (each with its project's version), a revoked one, and hashes no token has, asked at once
/// (on PostgreSQL they share one pipelined connection). When that connection is killed,
/// requests answer 503 at worst and 200 again at once: the next check connects anew.
async fn credential_checks_run_concurrently_and_outlive_a_lost_connection(db: Db) {
    use sqlx::Connection;
    let app = TestApp::spawn_on(db).await;
    let projects: Vec<ProjectId> = (0..4).map(|_| ProjectId::random()).collect();
    let mut tokens = Vec::new();
    for (i, role) in [Role::Admin, Role::ReadOnly]
        .into_iter()
        .cycle()
        .take(16)
        .enumerate()
    {
        let project = &projects[i % projects.len()];
        let token = app.token_for(project.as_str(), role, None).await;
        tokens.push((
            wafcert::crypto::token_hash(&token),
            Some((project.clone(), role)),
        ));
    }
    // Each project's version differs, so a check answered with another key's row shows.
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let mut versions = std::collections::HashMap::new();
    for (i, project) in projects.iter().enumerate() {
        let version = 100 + i64::try_from(i).unwrap();
        sqlx::query("UPDATE projects SET version = $1 WHERE id = $2")
            .bind(version)
            .bind(project.as_str())
            .execute(&mut conn)
            .await
            .unwrap();
        versions.insert(project.clone(), version);
    }
    conn.close().await.unwrap();
    let revoked = tokens[0].0.clone();
    assert!(app.store.revoke_token(&revoked).await.unwrap());
    for unknown in 0..4 {
        tokens.push((format!("{unknown}").repeat(64), None));
    }
    let checks = tokens.iter().map(|(hash, expected)| {
        let store = app.store.clone();
        let (hash, expected) = (hash.clone(), expected.clone());
        let revoked = revoked == hash;
        let versions = versions.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                let record = store.token(&hash).await.unwrap();
                match (&expected, record) {
                    (None, None) => {}
                    (Some((project, role)), Some(record)) => {
                        assert_eq!(&record.project, project);
                        assert_eq!(record.role, *role);
                        assert_eq!(record.project_version, versions[project]);
                        assert_eq!(record.revoked != 0, revoked);
                    }
                    (expected, record) => panic!("{hash}: {expected:?} but {record:?}"),
                }
            }
        })
    });
    for check in checks.collect::<Vec<_>>() {
        check.await.unwrap();
    }
    assert!(
        app.store
            .token("0".repeat(64).as_str())
            .await
            .unwrap()
            .is_none()
    );

    if app.db.url.starts_with("postgres") {
        let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
        let killed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1) k",
        )
        .bind(wafcert::storage::CREDENTIALS_APPLICATION_NAME)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(killed, 1, "the checks ran on the one named connection");
        conn.close().await.unwrap();
    }
    let mut answers = Vec::new();
    for _ in 0..20 {
        let answer = app.get("waf/certificate").await;
        let ok = answer.0 == 200;
        if !ok {
            assert_error(&answer, 503, "WAF.00010002");
        }
        answers.push(answer.0.as_u16());
        if ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        answers.len() <= 2 && answers.last() == Some(&200),
        "at most the first request after the loss fails: {answers:?}"
    );
}

async fn unreadable_stored_values_are_schema_errors(db: Db) {
    use sqlx::Connection;
    let app = TestApp::spawn_on(db).await;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE tokens SET role = 'superuser'")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = app
        .store
        .token(&wafcert::crypto::token_hash(&app.token))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Schema(m) if m.contains("role")),
        "{err:?}"
    );
    let answer = app.get("waf/certificate").await;
    assert_error(&answer, 500, "WAF.00010001");
    conn.close().await.unwrap();
}

/// Owned rows for a batch: ids, names and sealed keys that `NewCertificate` borrows.
struct Rows {
    project: ProjectId,
    ids: Vec<CertificateId>,
    names: Vec<CertificateName>,
    sealed: Vec<Vec<u8>>,
    fixture: Fixture,
    created_at: i64,
}

impl Rows {
    async fn new(app: &TestApp, names: &[String], fixture: &Fixture) -> Self {
        let sealer = open_sealer(&app.store, &app.config.master_key, &app.config.database_url)
            .await
            .unwrap();
        let ids: Vec<CertificateId> = names.iter().map(|_| CertificateId::random()).collect();
        let sealed = ids
            .iter()
            .map(|id| {
                sealer
                    .seal(fixture.key_pem.as_bytes(), id.as_str())
                    .unwrap()
            })
            .collect();
        Self {
            project: ProjectId::parse(&app.project).unwrap(),
            names: names
                .iter()
                .map(|n| CertificateName::parse(n, NameLimit::Create).unwrap())
                .collect(),
            ids,
            sealed,
            fixture: fixture.clone(),
            created_at: now_ms() - 1_000_000,
        }
    }

    fn batch(&self) -> Vec<NewCertificate<'_>> {
        (0..self.ids.len())
            .map(|i| NewCertificate {
                id: &self.ids[i],
                project: &self.project,
                name: &self.names[i],
                content: &self.fixture.cert_pem,
                sealed_key: &self.sealed[i],
                expire_time: self.fixture.not_after_ms,
                created_at: self.created_at + i64::try_from(i).unwrap(),
                leaf_sha256: None,
                key_sha256: None,
            })
            .collect()
    }
}

/// The rows of a page answered from the in-memory name index, and the hosts bound to them,
/// are read by id alone (`storage::certificates::summaries_select` says why); a project
/// still sees only its own: ids of another project's certificates read as nothing.
async fn rows_read_by_id_keep_to_their_project(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let older = CertificateId::parse(&id_of(&app.create_cert("older", &f).await)).unwrap();
    let newer = CertificateId::parse(&id_of(&app.create_cert("newer", &f).await)).unwrap();
    for hostname in ["b.example.com", "a.example.com"] {
        create_host(&app, hostname, "HTTPS", Some((newer.as_str(), "newer"))).await;
    }
    let own = ProjectId::parse(&app.project).unwrap();
    let other = ProjectId::random();
    let ids = [&older, &newer];
    let names = |rows: Vec<wafcert::storage::CertificateSummary>| -> Vec<String> {
        rows.into_iter().map(|c| c.name).collect()
    };
    let found = app.store.certificate_summaries(&own, &ids).await.unwrap();
    assert_eq!(names(found), ["older", "newer"], "in the order asked");
    let found = app
        .store
        .certificate_summaries(&own, &[&newer, &older])
        .await
        .unwrap();
    assert_eq!(names(found), ["newer", "older"]);
    let found = app.store.certificate_summaries(&other, &ids).await.unwrap();
    assert!(found.is_empty(), "another project's rows: {found:?}");
    let hosts = app.store.bound_hosts(&own, &ids).await.unwrap();
    let hostnames: Vec<&str> = hosts.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(hostnames, ["a.example.com", "b.example.com"], "by hostname");
    assert!(hosts.iter().all(|h| h.certificate_id == newer));
    let hosts = app.store.bound_hosts(&other, &ids).await.unwrap();
    assert!(hosts.is_empty(), "another project's hosts: {hosts:?}");
}

async fn total(app: &TestApp) -> i64 {
    app.get("waf/certificate?pagesize=1").await.1["total"]
        .as_i64()
        .unwrap()
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

async fn batch_rows_are_listed_shown_and_counted(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    // More rows than one multi-row INSERT holds, so the chunking is exercised.
    let rows = Rows::new(&app, &names("bulk", 1_201), &f).await;
    app.store
        .insert_certificates(&rows.batch(), None)
        .await
        .unwrap();
    let (status, list) = app.get("waf/certificate?page=1&pagesize=3").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1_201);
    let newest = &list["items"][0];
    assert_eq!(newest["name"], "bulk-1200", "created_at orders the rows");
    assert_eq!(newest["id"], rows.ids[1_200].as_str());
    let (_, found) = app.get("waf/certificate?name=BULK-00").await;
    assert_eq!(found["total"], 100, "name_lower is filled for the search");
    // The key was sealed for its own row and opens through the API.
    let (status, shown) = app
        .get(&format!("waf/certificate/{}", rows.ids[7].as_str()))
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["key"].as_str().unwrap(), f.key_pem.as_str());
    assert_eq!(shown["name"], "bulk-0007");
    assert_eq!(shown["expire_time"], f.not_after_ms);
    // The counter the unfiltered list reports stays exact across API writes.
    app.create_cert("after-bulk", &f).await;
    assert_eq!(app.get("waf/certificate").await.1["total"], 1_202);
    let (status, _) = app
        .delete(&format!("waf/certificate/{}", rows.ids[0].as_str()))
        .await;
    assert_eq!(status, 200);
    let (_, list) = app.get("waf/certificate?pagesize=1").await;
    assert_eq!(list["total"], 1_201);
    // An empty batch is a no-op.
    app.store.insert_certificates(&[], Some(0)).await.unwrap();
}

/// SQLite's name index merged into one segment (`storage::run_name_index_upkeep`): rows
/// written one transaction each leave FTS5 segments behind; merging them takes steps, a
/// second merge finds nothing left, and searches asked after it answer as the rows say.
/// PostgreSQL's index has nothing to merge.
async fn the_name_index_merges_and_answers_the_same(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let loader = load_one_per_transaction(&app, |i| format!("seg{i:02}-name")).await;
    let steps = loader.merge_name_index().await.unwrap();
    match db {
        Db::Sqlite => assert!(steps >= 1, "40 transactions left segments to merge"),
        Db::Postgres => assert_eq!(steps, 0),
    }
    assert_eq!(
        loader.merge_name_index().await.unwrap(),
        0,
        "one segment left"
    );
    for (text, total) in [
        ("SEG1", 10),
        ("eg3", 10),
        ("-name", 40),
        ("seg07", 1),
        ("zzz", 0),
    ] {
        let (status, list) = app.get(&format!("waf/certificate?name={text}")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["total"], json!(total), "{text}");
    }
    loader.close().await;
}

/// The server merges SQLite's name index when it starts (`storage::run_name_index_upkeep`):
/// rows another process wrote one transaction each leave FTS5 segments, and within seconds of
/// the start nothing is left to merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_merges_a_loaded_name_index_when_it_starts() {
    let app = TestApp::spawn_on(Db::Sqlite).await;
    load_one_per_transaction(&app, |i| format!("start{i:02}"))
        .await
        .close()
        .await;
    assert!(merge_work_left(&app.db.url).await, "the load left segments");
    let app = app.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while merge_work_left(&app.db.url).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not merge the name index"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("waf/certificate?name=ART1").await.1["total"], 10);
}

/// 40 certificates named `name(i)` written into the app's project one transaction each,
/// through another store than the server's, so the server's upkeep, which follows its own
/// store's commits, does not merge them first; that store.
async fn load_one_per_transaction(app: &TestApp, name: impl Fn(usize) -> String) -> Store {
    let f = fixture(90);
    let loader = Store::open(&app.db.url, PoolSettings::default())
        .await
        .unwrap();
    for i in 0..40 {
        let rows = Rows::new(app, &[name(i)], &f).await;
        loader
            .insert_certificates(&rows.batch(), None)
            .await
            .unwrap();
    }
    loader
}

/// Whether merging the FTS5 name index would write anything: one merge step, rolled back.
async fn merge_work_left(url: &str) -> bool {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let changes = async |tx: &mut sqlx::Transaction<'_, sqlx::Any>| -> i64 {
        sqlx::query_scalar("SELECT total_changes()")
            .fetch_one(&mut **tx)
            .await
            .unwrap()
    };
    let before = changes(&mut tx).await;
    sqlx::query(
        "INSERT INTO certificates_name_fts (certificates_name_fts, rank) VALUES ('merge', -32)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let after = changes(&mut tx).await;
    tx.rollback().await.unwrap();
    conn.close().await.unwrap();
    after - before >= 2
}

async fn batch_is_all_or_nothing_under_quota_and_names(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10);
    let eleven = Rows::new(&app, &names("q", 11), &f).await;
    let err = app
        .store
        .insert_certificates(&eleven.batch(), Some(10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded), "{err:?}");
    assert_eq!(total(&app).await, 0, "nothing of a refused batch is stored");
    let batch = eleven.batch();
    app.store
        .insert_certificates(&batch[..10], Some(10))
        .await
        .unwrap();
    assert_eq!(total(&app).await, 10, "a batch may fill the quota exactly");
    let err = app
        .store
        .insert_certificates(&batch[10..], Some(10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded), "{err:?}");
    // A name taken by an existing row, or twice within the batch, fails the whole batch.
    let mut clash = names("fresh", 600);
    clash[599] = "q-0003".to_owned();
    let clash = Rows::new(&app, &clash, &f).await;
    let err = app
        .store
        .insert_certificates(&clash.batch(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NameTaken), "{err:?}");
    let twice = Rows::new(&app, &["dup".to_owned(), "dup".to_owned()], &f).await;
    let err = app
        .store
        .insert_certificates(&twice.batch(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NameTaken), "{err:?}");
    assert_eq!(total(&app).await, 10);
    let (_, found) = app.get("waf/certificate?name=fresh").await;
    assert_eq!(
        found["total"], 0,
        "the first chunk of a failed batch was rolled back"
    );
    // The counter is still exact: one more fits only without a quota.
    let one = Rows::new(&app, &names("one", 1), &f).await;
    app.store
        .insert_certificates(&one.batch(), Some(11))
        .await
        .unwrap();
    assert_eq!(total(&app).await, 11);
}

/// The change stamp (the `-shm` header the SQLite caches rest on) cross-checked against
/// SQLite's documented commit counter, `PRAGMA data_version` of a connection that never writes:
/// after every step, one moved exactly when the other did, and commits by this server, by
/// another pool and by another process all move both.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_stamp_moves_exactly_when_data_version_does() {
    use sqlx::Connection;
    let app = TestApp::spawn_on(Db::Sqlite).await;
    let mut watcher = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let mut observe = async || {
        let version: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        (
            app.store
                .change_stamp()
                .expect("SQLite file databases have a stamp"),
            version,
        )
    };
    let other = Store::open(&app.db.url, PoolSettings::default())
        .await
        .unwrap();
    let mut last = observe().await;
    let steps = [
        "read",
        "api write",
        "read",
        "other pool write",
        "other process write",
        "read",
    ];
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            "read" => {
                assert_eq!(app.get("waf/certificate").await.0, 200);
            }
            "api write" => {
                app.create_cert(&format!("stamp-{i}"), &fixture(30)).await;
            }
            "other pool write" => {
                other
                    .ensure_project(&ProjectId::random(), None, now_ms())
                    .await
                    .unwrap();
            }
            _ => {
                let project = ProjectId::random().to_string();
                let key = master_key_hex();
                let (ok, _, err) = run_wafcert(
                    &[
                        "token",
                        "create",
                        "--database",
                        &app.db.url,
                        "--project-id",
                        &project,
                    ],
                    &[("WAFCERT_MASTER_KEY", key.as_str())],
                    "",
                );
                assert!(ok, "{err}");
            }
        }
        let now = observe().await;
        let (stamp_moved, version_moved) = (now.0 != last.0, now.1 != last.1);
        assert_eq!(
            stamp_moved, version_moved,
            "after {step}: stamp moved {stamp_moved}, data_version moved {version_moved}"
        );
        assert_eq!(version_moved, step != "read", "after {step}");
        last = now;
    }
    other.close().await;
}
