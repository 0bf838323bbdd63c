//! Database outages: PostgreSQL stopped under a running, loaded server (a throw-away cluster
//! the test starts itself) and a full SQLite database. Requests and `/readyz` answer 503
//! `WAF.00010002` within the acquire timeout, nothing acknowledged is lost, and the server
//! recovers by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::helpers::*;
use crate::pg_cluster::PgCluster;

const ACQUIRE: Duration = Duration::from_millis(500);
/// What "within the acquire timeout" allows on top of it (a loaded 2-core machine).
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_is_503_and_recovers() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let url = cluster.create_db("wafcert").await;
    let db = Arc::new(TestDb::external(&url));
    let mut config = config_for(&url);
    config.pool.acquire_timeout = ACQUIRE;
    let mut app = TestApp::start(config, db).await;
    let project = wafcert::domain::ProjectId::random();
    app.token = app
        .token_for(project.as_str(), wafcert::domain::Role::Admin, None)
        .await;
    app.project = project.to_string();
    let app = Arc::new(app);

    // Writers keep creating while the database goes away and comes back.
    let acknowledged = Arc::new(Mutex::new(Vec::<Value>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let key = fixture(30);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (app, acknowledged, stop, key) =
            (app.clone(), acknowledged.clone(), stop.clone(), key.clone());
        writers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let answer = app
                    .post("waf/certificate", &key.body(&format!("w{w}-{i}")))
                    .await;
                match answer.0.as_u16() {
                    200 => acknowledged.lock().await.push(answer.1),
                    503 => assert_eq!(answer.1["error_code"], "WAF.00010002", "{}", answer.1),
                    other => panic!("a write during the outage answered {other}: {}", answer.1),
                }
                statuses.push(answer.0.as_u16());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.get("waf/certificate").await.0, 200);

    cluster.down();
    for _ in 0..3 {
        let started = Instant::now();
        let answer = app.get("waf/certificate?page=1&pagesize=10").await;
        assert_error(&answer, 503, "WAF.00010002");
        assert!(
            started.elapsed() < ACQUIRE + SLACK,
            "a list fails fast: {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let ready = app
            .send(app.client.get(format!("{}/readyz", app.base)))
            .await;
        assert_error(&ready, 503, "WAF.00010002");
        assert!(
            started.elapsed() < ACQUIRE + SLACK,
            "/readyz fails fast: {:?}",
            started.elapsed()
        );
    }

    cluster.up();
    let back = Instant::now();
    let mut recovered = false;
    while back.elapsed() < Duration::from_secs(10) {
        let list = app.get("waf/certificate").await.0 == 200;
        let ready = app
            .send(app.client.get(format!("{}/readyz", app.base)))
            .await
            .0
            == 200;
        if list && ready {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the server recovers by itself within 10 s of the database's return"
    );
    println!("recovered {:?} after PostgreSQL came back", back.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut unavailable = 0;
    for w in writers {
        unavailable += w.await.unwrap().iter().filter(|s| **s == 503).count();
    }
    assert!(unavailable > 0, "the writers met the outage");

    // Nothing acknowledged is lost, and the total counts the rows.
    let acknowledged = acknowledged.lock().await;
    let (status, list) = app.get("waf/certificate?page=1&pagesize=-1").await;
    assert_eq!(status, 200, "{list}");
    let stored: std::collections::HashSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for cert in acknowledged.iter() {
        assert!(
            stored.contains(cert["id"].as_str().unwrap()),
            "acknowledged write lost: {cert}"
        );
    }
    assert_eq!(list["total"], json!(stored.len()));
    drop(acknowledged);
    Arc::into_inner(app).unwrap().stop().await;
}

/// Mints an admin token for a fresh project through the admin command (which also migrates).
pub(crate) fn mint_token(url: &str, master_key: &str) -> (String, String) {
    let project = wafcert::domain::ProjectId::random().to_string();
    let out = std::process::Command::new(BIN)
        .args([
            "token",
            "create",
            "--database",
            url,
            "--project-id",
            &project,
        ])
        .env("WAFCERT_MASTER_KEY", master_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        project,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

/// A full database refuses new data with 503 and a log line saying so, still takes deletes (on
/// the reserve past `max_page_count`, each with its event), and takes new data again once
/// deletes freed space, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_database_is_503_with_a_clear_log_line_and_recovers() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/wafcert.db", dir.path().display());
    let key = master_key_hex();
    let (project, token) = mint_token(&url, &key);
    let pages: i64 = {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let capped = format!("{url}?max_page_count={}", pages + 12);
    let server = Replica::start_with(&capped, &key, &[]);
    let http = reqwest::Client::new();
    let certs = format!("{}/v1/{project}/waf/certificate", server.base);
    let create = |name: String| {
        let body = fixture(30).body(&name);
        http.post(&certs)
            .header("X-Auth-Token", &token)
            .json(&body)
            .send()
    };

    let mut created = Vec::new();
    let full = loop {
        assert!(created.len() < 200, "the database never filled up");
        let resp = create(format!("c{}", created.len())).await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        if status != 200 {
            break (status, body);
        }
        created.push(body["id"].as_str().unwrap().to_owned());
    };
    assert!(!created.is_empty(), "some certificates fit");
    assert_eq!(full.0, 503, "{}", full.1);
    assert_eq!(full.1["error_code"], "WAF.00010002");
    let logged = server.logged("database full");
    let lines = server.logs.lock().unwrap().clone();
    assert!(logged, "a log line says the database is full: {lines:?}");
    // Reads still work, and the refused write left nothing behind.
    let list: Value = http
        .get(&certs)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], json!(created.len()));

    // Deletes work on the full database, and freeing space is enough: no restart.
    let deleted: Vec<String> = created.drain(..created.len() / 2).collect();
    for id in &deleted {
        let resp = http
            .delete(format!("{certs}/{id}"))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let resp = create("after-full".to_owned()).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Each delete committed with its event, and the file kept within cap plus reserve.
    let events: Value = http
        .get(format!(
            "{}/v1/{project}/wafcert/events?type=wafcert.certificate.deleted&pagesize=100",
            server.base
        ))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["total"], json!(deleted.len()), "{events}");
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let now: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let reserve = i64::from(wafcert::storage::DELETE_RESERVE_PAGES);
    assert!(now <= pages + 12 + reserve, "{now} pages");
    println!(
        "cap {} pages; after {} deletes and a create: {now} pages, {free} free",
        pages + 12,
        deleted.len()
    );
}
