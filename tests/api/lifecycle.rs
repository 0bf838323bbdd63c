//! The server as an operator sees it: restarts keep everything, keys are encrypted on disk,
//! shutdown is graceful, and the binary's bootstrap and admin commands work as documented.

use std::process::{Command, Stdio};

use crate::helpers::*;

crate::on_both_backends!(
    restart_keeps_everything,
    wrong_master_key_is_refused,
    newer_schema_is_refused
);

async fn restart_keeps_everything(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(20);
    let id = app.create_cert("durable", &f).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = app.restart().await;
    let (status, shown) = app.get(&format!("waf/certificate/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["key"].as_str().unwrap(), f.key_pem.trim());
    assert_eq!(app.get("waf/certificate").await.1["total"], 1);
}

async fn wrong_master_key_is_refused(db: Db) {
    let app = TestApp::spawn_on(db).await;
    app.create_cert("k", &fixture(20)).await;
    let mut config = app.config.clone();
    let dbh = app.db.clone();
    app.stop().await;
    config.master_key = wafcert::app::MasterKeySource::Hex(master_key_hex());
    let err = wafcert::app::App::build(&config).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("master key does not match"),
        "{err:#}"
    );
    drop(dbh);
}

async fn newer_schema_is_refused(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let config = app.config.clone();
    let dbh = app.db.clone();
    app.stop().await;
    // Pretend a newer release migrated this database.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&format!(
            "{}{}",
            config.database_url,
            if db == Db::Sqlite { "?mode=rw" } else { "" }
        ))
        .await
        .unwrap();
        let checksum = if db == Db::Sqlite {
            "x'00'"
        } else {
            "'\\x00'::bytea"
        };
        let sql = format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'future', TRUE, {checksum}, 1)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = wafcert::app::App::build(&config).await.unwrap_err();
    assert!(format!("{err:#}").contains("newer release"), "{err:#}");
    drop(dbh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_are_encrypted_on_disk() {
    let app = TestApp::spawn().await;
    let f = fixture(20);
    app.create_cert("secret", &f).await;
    let dir = app
        .db
        .url
        .trim_start_matches("sqlite://")
        .trim_end_matches("wafcert.db")
        .to_owned();
    let keep_db = app.db.clone();
    let app = app.restart().await; // checkpoints the WAL into the main file on close
    app.stop().await;
    let key_body: String = f
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let needle = &key_body[10..40];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        // The last connection's close may still be removing -wal/-shm: a file gone is not read.
        let bytes = match std::fs::read(entry.unwrap().path()) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{e}"),
        };
        seen += bytes.len();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("PRIVATE KEY"),
            "no PEM key in the database files"
        );
        assert!(
            !text.contains(needle),
            "no key material in the database files"
        );
    }
    assert!(seen > 0);
    drop(keep_db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let app = TestApp::spawn().await;
    let f = fixture(20);
    let client = app.client.clone();
    let url = app.url("waf/certificate");
    let token = app.token.clone();
    let mut pending = Vec::new();
    for i in 0..8 {
        let req = client
            .post(&url)
            .header("X-Auth-Token", &token)
            .json(&f.body(&format!("inflight-{i}")));
        pending.push(tokio::spawn(async move {
            req.send().await.map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let app = app.restart().await;
    let mut acknowledged = 0;
    for p in pending {
        if let Ok(Ok(200)) = p.await {
            acknowledged += 1;
        }
    }
    let (_, list) = app.get("waf/certificate").await;
    assert!(
        list["total"].as_i64().unwrap() >= acknowledged,
        "every acknowledged create survives: {list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_and_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/admin.db", dir.path().display());
    let project = "0123456789abcdef0123456789abcdef";
    let (ok, token, err) = run_wafcert(
        &[
            "token",
            "create",
            "--database",
            &url,
            "--project-id",
            project,
            "--role",
            "readonly",
            "--ttl",
            "1h",
        ],
        &[],
        "",
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("wafcert_") && !token.contains(' ') && !token.contains('\n'));
    assert!(!err.contains(&token), "the token is not logged");
    // The server started on the same database does not bootstrap (a project exists) and honours the token.
    let mut config = config_for(&url);
    config.master_key = wafcert::app::MasterKeySource::BesideDatabase;
    config.bootstrap = true;
    let mut server = wafcert::app::App::build(&config).await.unwrap();
    assert!(server.take_bootstrap().is_none());
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let get = |t: String| {
        client
            .get(format!("http://{addr}/v1/{project}/waf/certificate"))
            .header("X-Auth-Token", t)
            .send()
    };
    assert_eq!(get(token.clone()).await.unwrap().status(), 200);
    let (ok, out, err) = run_wafcert(&["token", "revoke", "--database", &url, &token], &[], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "revoked");
    assert_eq!(
        get(token.clone()).await.unwrap().status(),
        401,
        "revocation is immediate"
    );
    let (ok, _, err) = run_wafcert(
        &["token", "revoke", "--database", &url, "wafcert_nope"],
        &[],
        "",
    );
    assert!(!ok && err.contains("no such token"));
    let (ok, _, err) = run_wafcert(
        &[
            "token",
            "create",
            "--database",
            &url,
            "--project-id",
            "NOT-HEX",
        ],
        &[],
        "",
    );
    assert!(!ok && err.contains("32 lowercase hex"));
    let _ = tx.send(());
    handle.await.unwrap().unwrap();
    // The master key file was created beside the database, private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("admin.db.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bootstraps_once_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/boot.db", dir.path().display());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &listen, "--database", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("Created project "), "{first}");
    let project = lines
        .next()
        .unwrap()
        .unwrap()
        .trim()
        .trim_start_matches("export WAFCERT_PROJECT=")
        .to_owned();
    let token = lines
        .next()
        .unwrap()
        .unwrap()
        .trim()
        .trim_start_matches("export WAFCERT_TOKEN=")
        .to_owned();
    let client = reqwest::Client::new();
    let mut status = 0;
    for _ in 0..50 {
        if let Ok(r) = client
            .get(format!("http://{listen}/v1/{project}/waf/certificate"))
            .header("X-Auth-Token", &token)
            .send()
            .await
        {
            status = r.status().as_u16();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains(&token), "the token is not in the logs");
    assert!(stderr.contains("wafcert stopped"));
    // A second start on the same database does not bootstrap again.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = err_lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("wafcert listening")));
    assert!(listening.is_some());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(out.is_empty(), "no second bootstrap: {out}");
}
