//! PostgreSQL for several replicas: concurrent migration, two server processes on one
//! database, index use of the list queries, and recovery from a database outage. Every test
//! here needs `WAFCERT_TEST_POSTGRES_URL` and is skipped (with a line saying so) without it.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use wafcert::app::{App, MasterKeySource};

use crate::helpers::*;

struct Client {
    http: reqwest::Client,
    project: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        r: &Replica,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}/v1/{}/{path}", r.base, self.project);
        let mut req = self
            .http
            .request(method, url)
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_migrate_once_at_the_same_moment() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Db::Postgres).await;
    let key = master_key_hex();
    let mut a = config_for(&db.url);
    a.master_key = MasterKeySource::Hex(key.clone());
    let b = a.clone();
    let (ra, rb) = tokio::join!(App::build(&a), App::build(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let store = ra.state().store.clone();
    let _ = sqlx_count(&db.url, "SELECT COUNT(*) FROM _sqlx_migrations").await;
    assert_eq!(
        sqlx_count(
            &db.url,
            "SELECT COUNT(*) FROM _sqlx_migrations WHERE success"
        )
        .await,
        sqlx_count(
            &db.url,
            "SELECT COUNT(DISTINCT version) FROM _sqlx_migrations"
        )
        .await,
    );
    assert_eq!(sqlx_count(&db.url, "SELECT COUNT(*) FROM meta").await, 1);
    // A replica with a different master key is refused.
    let mut c = a.clone();
    c.master_key = MasterKeySource::Hex(master_key_hex());
    let err = App::build(&c).await.unwrap_err();
    assert!(format!("{err:#}").contains("master key"), "{err:#}");
    drop((ra, rb));
    store.close().await;
}

async fn sqlx_count(url: &str, sql: &'static str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

/// Two `wafcert serve` processes on one fresh PostgreSQL database, and a client holding a
/// token minted by the admin command, as an operator would; `None` without PostgreSQL.
struct TwoReplicas {
    a: Replica,
    b: Replica,
    c: Client,
    url: String,
    _db: TestDb,
}

async fn two_replicas() -> Option<TwoReplicas> {
    postgres_url()?;
    let db = TestDb::new(Db::Postgres).await;
    let key = master_key_hex();
    let project = wafcert::domain::ProjectId::random().to_string();
    let (ok, token, err) = run_wafcert(
        &[
            "token",
            "create",
            "--database",
            &db.url,
            "--project-id",
            &project,
        ],
        &[("WAFCERT_MASTER_KEY", &key)],
        "",
    );
    assert!(ok, "{err}");
    let (a, b) = (Replica::start(&db.url, &key), Replica::start(&db.url, &key));
    Some(TwoReplicas {
        a,
        b,
        c: Client {
            http: reqwest::Client::new(),
            project,
            token: token.trim().to_owned(),
        },
        url: db.url.clone(),
        _db: db,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serve_each_others_writes() {
    let Some(r) = two_replicas().await else {
        return;
    };
    let (a, b, c) = (&r.a, &r.b, &r.c);
    let get = reqwest::Method::GET;
    // Created on A: listed, shown and deleted on B.
    let f = fixture(40);
    let (s, created) = c
        .call(
            a,
            reqwest::Method::POST,
            "waf/certificate",
            Some(&f.body("shared")),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, list) = c
        .call(b, get.clone(), "waf/certificate?name=shared", None)
        .await;
    assert_eq!(list["total"], 1);
    let (s, shown) = c
        .call(b, get.clone(), &format!("waf/certificate/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        shown["key"].as_str().unwrap(),
        f.key_pem.trim(),
        "B opens A's sealed key"
    );
    assert_eq!(
        c.call(
            b,
            reqwest::Method::DELETE,
            &format!("waf/certificate/{id}"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.call(a, get.clone(), &format!("waf/certificate/{id}"), None)
            .await
            .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_replica_makes_the_others_cache_stale() {
    let Some(r) = two_replicas().await else {
        return;
    };
    let (a, b, c) = (&r.a, &r.b, &r.c);
    let get = reqwest::Method::GET;
    let f = fixture(40);
    // Reads cached by B become stale the moment A writes (the project version is in the database).
    let (_, cert) = c
        .call(
            a,
            reqwest::Method::POST,
            "waf/certificate",
            Some(&f.body("cached")),
        )
        .await;
    let cert_path = format!("waf/certificate/{}", cert["id"].as_str().unwrap());
    for _ in 0..2 {
        assert_eq!(
            c.call(
                b,
                get.clone(),
                "waf/certificate?host=true&page=1&pagesize=10",
                None
            )
            .await
            .1["total"],
            1
        );
        assert_eq!(
            c.call(b, get.clone(), &cert_path, None).await.1["name"],
            "cached"
        );
    }
    let renamed = json!({"name": "renamed"});
    assert_eq!(
        c.call(a, reqwest::Method::PUT, &cert_path, Some(&renamed))
            .await
            .0,
        200
    );
    assert_eq!(
        c.call(b, get.clone(), &cert_path, None).await.1["name"],
        "renamed"
    );
    let (_, page) = c
        .call(
            b,
            get.clone(),
            "waf/certificate?host=true&page=1&pagesize=10",
            None,
        )
        .await;
    assert_eq!(page["items"][0]["name"], "renamed");
    assert_eq!(
        c.call(a, reqwest::Method::DELETE, &cert_path, None).await.0,
        200
    );
    assert_eq!(c.call(b, get.clone(), &cert_path, None).await.0, 404);
    assert_eq!(
        c.call(
            b,
            get.clone(),
            "waf/certificate?host=true&page=1&pagesize=10",
            None
        )
        .await
        .1["total"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_created_on_both_at_once_wins_once() {
    let Some(r) = two_replicas().await else {
        return;
    };
    let (a, b, c) = (&r.a, &r.b, &r.c);
    let get = reqwest::Method::GET;
    let f = fixture(40);
    // The same name created on both at once: exactly one wins, every round.
    for round in 0..10 {
        let body = f.body(&format!("race-{round}"));
        let (ra, rb) = tokio::join!(
            c.call(a, reqwest::Method::POST, "waf/certificate", Some(&body)),
            c.call(b, reqwest::Method::POST, "waf/certificate", Some(&body)),
        );
        let mut statuses = [ra.0, rb.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "round {round}: {ra:?} {rb:?}");
        let loser = if ra.0 == 400 { ra.1 } else { rb.1 };
        assert_eq!(loser["error_code"], "WAF.00011016");
    }
    let (_, list) = c
        .call(a, get.clone(), "waf/certificate?name=race-", None)
        .await;
    assert_eq!(list["total"], 10);
    assert_eq!(list["items"].as_array().unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_racing_a_delete_never_leaves_a_dangling_binding() {
    let Some(r) = two_replicas().await else {
        return;
    };
    let (a, b, c) = (&r.a, &r.b, &r.c);
    let get = reqwest::Method::GET;
    let f = fixture(40);
    // A bind on A racing a delete on B: one transaction decides, and no host ever points at a
    // deleted certificate.
    let (s, host) = c
        .call(
            a,
            reqwest::Method::POST,
            "premium-waf/host",
            Some(&host_body("race.example.com", "HTTP", None)),
        )
        .await;
    assert_eq!(s, 200, "{host}");
    let host_id = host["id"].as_str().unwrap().to_owned();
    let (mut binds, mut deletes) = (0, 0);
    for round in 0..20 {
        let (_, cert) = c
            .call(
                a,
                reqwest::Method::POST,
                "waf/certificate",
                Some(&f.body(&format!("bind-{round}"))),
            )
            .await;
        let cert_id = cert["id"].as_str().unwrap().to_owned();
        let bind = json!({"premium_host_ids": [host_id]});
        let (apply_path, cert_path) = (
            format!("waf/certificate/{cert_id}/apply-to-hosts"),
            format!("waf/certificate/{cert_id}"),
        );
        let (bound, deleted) = tokio::join!(
            c.call(a, reqwest::Method::POST, &apply_path, Some(&bind)),
            c.call(b, reqwest::Method::DELETE, &cert_path, None),
        );
        let (_, shown) = c
            .call(b, get.clone(), &format!("premium-waf/host/{host_id}"), None)
            .await;
        match shown["certificateid"].as_str() {
            Some(id) if id == cert_id => {
                binds += 1;
                assert_eq!(bound.0, 200, "{bound:?}");
                assert_eq!(deleted.0, 400, "{deleted:?}");
                assert_eq!(
                    c.call(a, get.clone(), &format!("waf/certificate/{cert_id}"), None)
                        .await
                        .0,
                    200
                );
            }
            _ => {
                deletes += 1;
                assert_eq!(
                    deleted.0, 200,
                    "round {round}: {deleted:?} {bound:?} {shown}"
                );
                assert_eq!(bound.0, 404, "{bound:?}");
            }
        }
        // Free the host for the next round (an HTTP host may be unbound).
        let unbind = json!({"certificateid": null, "certificatename": null});
        let _ = c
            .call(
                a,
                reqwest::Method::PUT,
                &format!("premium-waf/host/{host_id}"),
                Some(&unbind),
            )
            .await;
        let _ = c
            .call(
                a,
                reqwest::Method::DELETE,
                &format!("waf/certificate/{cert_id}"),
                None,
            )
            .await;
    }
    assert_eq!(binds + deletes, 20);
    println!("bind won {binds}, delete won {deletes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_both_replicas_at_once() {
    let Some(r) = two_replicas().await else {
        return;
    };
    let (a, b, c) = (&r.a, &r.b, &r.c);
    let get = reqwest::Method::GET;
    // A token revoked through one replica's database is refused by both at once.
    assert_eq!(c.call(a, get.clone(), "waf/certificate", None).await.0, 200);
    let (ok, _, err) = run_wafcert(
        &["token", "revoke", "--database", &r.url, &c.token],
        &[],
        "",
    );
    assert!(ok, "{err}");
    assert_eq!(c.call(a, get.clone(), "waf/certificate", None).await.0, 401);
    assert_eq!(c.call(b, get, "waf/certificate", None).await.0, 401);
}

/// The plans of the list queries at scale use the indexes meant for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_queries_use_their_indexes() {
    if postgres_url().is_none() {
        return;
    }
    use sqlx::Connection;
    let app = TestApp::spawn_on(Db::Postgres).await;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    // 50,000 rows in two projects, generated in SQL.
    sqlx::query(
        "INSERT INTO projects (id, name, domain, certificate_count, created_at_ms) \
         VALUES ('ffffffffffffffffffffffffffffffff', 'other', 'Default', 0, 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let seed = format!(
        "INSERT INTO certificates (id, project_id, name, name_lower, content, sealed_key, expire_time_ms, created_at_ms) \
         SELECT md5(g::text), CASE WHEN g % 2 = 0 THEN '{}' ELSE 'ffffffffffffffffffffffffffffffff' END, \
                'cert-' || g, 'cert-' || g, 'x', '\\x00'::bytea, 1700000000000 + g::bigint * 60000, 1600000000000 + g::bigint \
         FROM generate_series(1, 50000) g",
        app.project
    );
    sqlx::query(sqlx::AssertSqlSafe(seed))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("ANALYZE certificates")
        .execute(&mut conn)
        .await
        .unwrap();
    let plan = |sql: String| {
        let url = app.db.url.clone();
        async move {
            let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
            let rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            rows.join("\n")
        }
    };
    let p = &app.project;
    let page = plan(format!(
        "SELECT id, name, expire_time_ms, created_at_ms FROM certificates WHERE project_id = '{p}' \
         ORDER BY created_at_ms DESC, id DESC LIMIT 10 OFFSET 60"
    ))
    .await;
    assert!(
        page.contains("certificates_listing"),
        "newest-first page uses the listing index:\n{page}"
    );
    let name = plan(format!(
        "SELECT COUNT(*) FROM certificates WHERE project_id = '{p}' AND name_lower LIKE '%t-4242%' ESCAPE '\\'"
    ))
    .await;
    // The trigram index is per project (migration 0011): its condition names the project, so
    // other projects' names that share the trigrams are not fetched.
    assert!(
        name.lines().any(|l| l.contains("Index Cond")
            && l.contains("project_id")
            && l.contains("name_lower"))
            && name.contains("certificates_name_trgm"),
        "substring search uses the project's trigram index:\n{name}"
    );
    let expiry = plan(format!(
        "SELECT COUNT(*) FROM certificates WHERE project_id = '{p}' AND expire_time_ms > 1700000000000 AND expire_time_ms <= 1700060000000"
    ))
    .await;
    // Either expiry index serves the range: the per-project one, or the cross-project one the
    // expiry scheduler and /metrics read (migration 0007), which the planner may prefer when the
    // project holds a large share of all certificates, as here (half).
    assert!(
        expiry.contains("certificates_expiry") || expiry.contains("certificates_expire_time"),
        "exp_status ranges use an expiry index:\n{expiry}"
    );
    // The page of a search the count showed to match few rows orders by an expression no
    // index gives (`NameLookup::FewMatches`), so the trigram index drives it even when the
    // planner's guess of the matches is far too high: without a histogram it guesses 0.8% of
    // the rows for a 4-character pattern and would walk the project newest first, reading most
    // of it to find a handful of matches.
    sqlx::raw_sql(
        "ALTER TABLE certificates ALTER COLUMN name_lower SET STATISTICS 1; ANALYZE certificates",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let few = plan(format!(
        "SELECT id, name, expire_time_ms, created_at_ms FROM certificates \
         WHERE project_id = '{p}' AND name_lower LIKE '%4242%' ESCAPE '\\' \
         ORDER BY created_at_ms + 0 DESC, id DESC LIMIT 10 OFFSET 0"
    ))
    .await;
    assert!(
        few.contains("certificates_name_trgm") && !few.contains("certificates_listing"),
        "a page of few matches is read through the trigram index:\n{few}"
    );
    println!(
        "page plan:\n{page}\nname plan:\n{name}\nexpiry plan:\n{expiry}\nfew-matches page plan:\n{few}"
    );
}

/// A TCP relay in front of PostgreSQL that can be cut and restored, to simulate an outage.
struct Relay {
    addr: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = std::sync::Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = std::sync::Arc::new(tx);
        let (open2, gen2) = (open.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !open2.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown().await;
                    continue;
                }
                let mut cut = gen2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            open,
            generation,
        }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_and_recovers() {
    let Some(admin) = postgres_url() else { return };
    let db = TestDb::new(Db::Postgres).await;
    // Route the server's connections through the relay.
    let target: std::net::SocketAddr = {
        let host_port = admin
            .split('@')
            .nth(1)
            .unwrap_or(&admin)
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        tokio::net::lookup_host(host_port)
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let relay = Relay::start(target).await;
    let url = db
        .url
        .replace(&target.to_string(), &relay.addr.to_string())
        .replace(
            &format!("localhost:{}", target.port()),
            &relay.addr.to_string(),
        );
    assert!(url.contains(&relay.addr.to_string()), "{url}");
    let mut config = config_for(&url);
    config.pool.acquire_timeout = Duration::from_millis(500);
    let db = std::sync::Arc::new(db);
    let mut app = TestApp::start(config, db).await;
    let project = wafcert::domain::ProjectId::random();
    app.token = app
        .token_for(project.as_str(), wafcert::domain::Role::Admin, None)
        .await;
    app.project = project.to_string();
    assert_eq!(app.get("waf/certificate").await.0, 200);

    relay.cut();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let answer = app.get("waf/certificate").await;
        assert_error(&answer, 503, "WAF.00010002");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "fails fast: {:?}",
            started.elapsed()
        );
        assert!(
            !answer.1.to_string().contains("sqlx"),
            "no internals in the message"
        );
    }
    assert_error(
        &app.post("waf/certificate", &fixture(10).body("during-outage"))
            .await,
        503,
        "WAF.00010002",
    );
    let readyz = || app.send(app.client.get(format!("{}/readyz", app.base)));
    assert_error(&readyz().await, 503, "WAF.00010002");

    relay.restore();
    // The credential check and the pool reconnect on their own: each connection broken by the
    // cut fails one statement (a 503) and is replaced.
    let mut recovered = false;
    for _ in 0..40 {
        let list = app.get("waf/certificate").await.0 == 200;
        if list && readyz().await.1 == json!({"status": "ready"}) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server recovers by itself");
    assert_eq!(
        app.create_cert("after-outage", &fixture(10)).await["name"],
        json!("after-outage")
    );
    app.stop().await;
}
