//! Test controls (`serve --test-controls`): the movable certificate clock, reset, seeded ids,
//! the request journal, injected faults, the start flags and the CLI, plus `/readyz`. Every
//! storage-touching test runs on SQLite and PostgreSQL; the shared clock is shown with two
//! server processes on one PostgreSQL database.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::app::{MasterKeySource, TestControlsConfig};
use wafcert::crypto::token_id;
use wafcert::domain::Role;
use wafcert::domain::{SeededRandom, now_ms, parse_rfc3339};

use crate::helpers::*;

const DAY: i64 = 86_400_000;

crate::on_both_backends!(
    controls_are_off_unless_asked_for,
    the_clock_moves_certificate_time_but_not_credentials,
    set_freeze_and_reset_the_clock,
    bad_input_is_refused_and_changes_nothing,
    reset_empties_projects_and_keeps_credentials,
    seeded_ids_repeat_exactly,
    counted_faults_fail_exactly_count_requests,
    latency_faults_only_delay,
    the_journal_records_calls_without_bodies,
    start_flags_move_the_clock_and_seed_ids,
    only_a_shared_clock_store_reads_the_clock_with_credentials,
);

async fn clock(app: &TestApp) -> Value {
    let (status, body) = app.control_get("clock").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn move_clock(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.control_post("clock", &body).await;
    assert_eq!(status, StatusCode::OK, "{body} -> {answer}");
    answer
}

async fn controls_are_off_unless_asked_for(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for path in ["clock", "requests", "faults"] {
        assert_error(&app.control_get(path).await, 404, "WAF.00014009");
    }
    assert_error(
        &app.control_post("reset", &json!({})).await,
        404,
        "WAF.00014009",
    );
    let (status, body) = app
        .send(app.client.get(format!("{}/readyz", app.base)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ready"}));
}

async fn the_clock_moves_certificate_time_but_not_credentials(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let readonly = app
        .token_for(&app.project, Role::ReadOnly, Some(now_ms() + 3_600_000))
        .await;
    let cert = app.create_cert("renew-me", &fixture(40)).await;
    let id = id_of(&cert);
    assert_eq!(cert["exp_status"], 0);
    let host = create_host(&app, "www.example.com", "HTTP", None).await;

    let moved = move_clock(&app, json!({"advance": "P20D"})).await;
    let offset = moved["offset_ms"].as_i64().unwrap();
    assert!((20 * DAY - 1000..=20 * DAY).contains(&offset), "{moved}");
    assert_eq!(moved["frozen"], false);
    assert!(moved["now_iso"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        parse_rfc3339(moved["now_iso"].as_str().unwrap()).unwrap(),
        moved["now"].as_i64().unwrap()
    );
    // Expiring within 30 days now: in show, in the list and in its filter.
    assert_eq!(
        app.get(&format!("waf/certificate/{id}")).await.1["exp_status"],
        2
    );
    let (_, list) = app.get("waf/certificate?exp_status=2&host=true").await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["exp_status"], 2);
    // New rows are stamped with certificate time.
    let newer = app.create_cert("stamped", &fixture(400)).await;
    let ts = newer["timestamp"].as_i64().unwrap();
    assert!((ts - now_ms() - 20 * DAY).abs() < 60_000, "timestamp {ts}");

    move_clock(&app, json!({"advance": "P21D"})).await;
    assert_eq!(
        app.get(&format!("waf/certificate/{id}")).await.1["exp_status"],
        1
    );
    assert_error(
        &app.post(
            &format!("waf/certificate/{id}/apply-to-hosts"),
            &json!({"premium_host_ids": [id_of(&host)]}),
        )
        .await,
        400,
        "WAF.00021013",
    );
    // Credentials keep real time: a token with an hour left still works 41 days later.
    let (status, _) = app.get_as("waf/certificate", &readonly).await;
    assert_eq!(status, StatusCode::OK);

    move_clock(&app, json!({"reset": true})).await;
    assert_eq!(
        app.get(&format!("waf/certificate/{id}")).await.1["exp_status"],
        0
    );
}

async fn set_freeze_and_reset_the_clock(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let real = clock(&app).await;
    assert_eq!(real["frozen"], false);
    assert!(real["offset_ms"].as_i64().unwrap().abs() < 1000, "{real}");

    let target = parse_rfc3339("2031-05-06T07:08:09.250+02:00").unwrap();
    let set = move_clock(
        &app,
        json!({"set": "2031-05-06T07:08:09.250+02:00", "freeze": true}),
    )
    .await;
    assert_eq!(set["now"], target);
    assert_eq!(set["now_iso"], "2031-05-06T05:08:09.250Z");
    assert_eq!(set["frozen"], true);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        clock(&app).await["now"],
        target,
        "a frozen clock stands still"
    );
    let advanced = move_clock(&app, json!({"advance": "PT1H"})).await;
    assert_eq!(advanced["now"], target + 3_600_000);
    assert_eq!(advanced["frozen"], true);
    let cert = app.create_cert("frozen", &fixture(5000)).await;
    assert_eq!(cert["timestamp"], target + 3_600_000);

    let running = move_clock(&app, json!({"freeze": false})).await;
    assert_eq!(running["frozen"], false);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let later = clock(&app).await["now"].as_i64().unwrap();
    assert!(later >= target + 3_600_000 + 30, "runs on at real speed");
    assert!(later < target + 3_600_000 + 60_000);

    let reset = move_clock(&app, json!({"reset": true})).await;
    assert_eq!(reset["frozen"], false);
    assert!(reset["offset_ms"].as_i64().unwrap().abs() < 1000, "{reset}");
}

async fn bad_input_is_refused_and_changes_nothing(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    move_clock(&app, json!({"advance": "P3D"})).await;
    let before = clock(&app).await["offset_ms"].as_i64().unwrap();
    for body in [
        json!({}),
        json!({"set": "yesterday"}),
        json!({"set": "2026-02-30T00:00:00Z"}),
        json!({"advance": "P1M"}),
        json!({"advance": "P1Y"}),
        json!({"advance": "31 days"}),
        json!({"advance": "P1D", "set": "nope"}),
        json!({"freeze": "yes"}),
        json!({"speed": 2}),
    ] {
        assert_error(&app.control_post("clock", &body).await, 400, "WAF.00011003");
    }
    let after = clock(&app).await["offset_ms"].as_i64().unwrap();
    assert!((after - before).abs() < 1000, "the clock did not move");

    for body in [
        json!({"operation": "ListCertificate", "status": 500}),
        json!({"operation": "ListCertificates", "status": 500, "count": -1}),
        json!({"operation": "ListCertificates", "status": 200}),
        json!({"operation": "ListCertificates", "status": 500, "probability": 2}),
    ] {
        assert_error(
            &app.control_post("faults", &body).await,
            400,
            "WAF.00011003",
        );
    }
    assert_eq!(app.control_get("faults").await.1, json!({"items": []}));
    for body in [json!({"seed": -1}), json!({"seed": "x"})] {
        assert_error(&app.control_post("seed", &body).await, 400, "WAF.00011003");
    }
    assert_error(
        &app.control_post("reset", &json!({"project_id": "nope"}))
            .await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.control_get("requests?operation=Nope").await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.control_get("requests?limit=0").await,
        400,
        "WAF.00011003",
    );
}

async fn reset_empties_projects_and_keeps_credentials(db: Db) {
    let mut app = TestApp::spawn_with_controls(db).await;
    let (project_a, token_a) = (app.project.clone(), app.token.clone());
    app.create_cert("a-cert", &fixture(90)).await;
    create_host(&app, "a.example.com", "HTTP", None).await;
    let project_b = wafcert::domain::ProjectId::random().to_string();
    let token_b = app.token_for(&project_b, Role::Admin, None).await;
    app.project = project_b.clone();
    app.token = token_b.clone();
    app.create_cert("b-cert", &fixture(90)).await;
    create_host(&app, "b.example.com", "HTTP", None).await;
    app.control_post(
        "faults",
        &json!({"operation": "ShowCertificate", "latency_ms": 1}),
    )
    .await;

    // Scoped: project A is emptied, B keeps everything.
    let (status, answer) = app
        .control_post("reset", &json!({"project_id": project_a}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A's certificate, host and the policy the host got.
    assert_eq!(answer["deleted"], 3);
    assert_eq!(app.control_get("faults").await.1, json!({"items": []}));
    assert_eq!(app.get("waf/certificate").await.1["total"], 1);
    assert_eq!(app.get("premium-waf/host").await.1["total"], 1);
    let journal = app.control_get("requests").await.1;
    assert!(
        journal["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["project_id"] == json!(project_b))
    );
    app.project = project_a.clone();
    app.token = token_a.clone();
    let (status, list) = app.get("waf/certificate").await;
    assert_eq!(
        (status, &list["total"]),
        (StatusCode::OK, &json!(0)),
        "A's token still works"
    );
    assert_eq!(app.get("premium-waf/host").await.1["total"], 0);
    // The name is free again (the quota counter was reset with the rows).
    app.create_cert("a-cert", &fixture(90)).await;

    // Everything.
    let (_, answer) = app.control_post("reset", &json!({})).await;
    assert_eq!(answer["deleted"], 4);
    assert_eq!(app.get("waf/certificate").await.1["total"], 0);
    app.project = project_b;
    app.token = token_b;
    assert_eq!(app.get("waf/certificate").await.1["total"], 0);
    assert_eq!(app.get("premium-waf/host").await.1["total"], 0);
    let journal = app.control_get("requests").await.1;
    assert_eq!(
        journal["items"].as_array().unwrap().len(),
        3,
        "only the calls since"
    );
    assert_eq!(
        app.get("waf/policy").await.1["total"],
        0,
        "policies went too"
    );
}

async fn seeded_ids_repeat_exactly(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let f = fixture(90);
    let run = || async {
        app.control_post("reset", &json!({})).await;
        let (status, seed) = app.control_post("seed", &json!({"seed": 42})).await;
        assert_eq!((status, seed), (StatusCode::OK, json!({"seed": 42})));
        let cert = app.create_cert("seeded", &f).await;
        let host = create_host(&app, "seeded.example.com", "HTTP", None).await;
        (id_of(&cert), id_of(&host))
    };
    let first = run().await;
    let second = run().await;
    assert_eq!(first, second);
    // The same ids on every backend: the stream of seed 42.
    let stream = SeededRandom::default();
    stream.reseed(Some(42));
    assert_eq!(first, (stream.next_id_hex(), stream.next_id_hex()));
    // Unseeded, ids are random again.
    app.control_post("seed", &json!({"seed": null})).await;
    app.control_post("reset", &json!({})).await;
    let cert = app.create_cert("seeded", &f).await;
    assert_ne!(id_of(&cert), first.0);
}

async fn counted_faults_fail_exactly_count_requests(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let fault = json!({"operation": "ListCertificates", "status": 500,
        "error_code": "WAF.00010001", "error_msg": "injected", "count": 2,
        "probability": 1.0, "latency_ms": 0});
    let (status, stored) = app.control_post("faults", &fault).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["remaining"], 2);
    assert_eq!(stored["operation"], "ListCertificates");
    // Another operation is not affected.
    app.create_cert("c", &fixture(90)).await;
    let first = app.get("waf/certificate").await;
    assert_error(&first, 500, "WAF.00010001");
    assert_eq!(first.1["error_msg"], "injected");
    assert_eq!(
        app.control_get("faults").await.1["items"][0]["remaining"],
        1
    );
    assert_error(&app.get("waf/certificate").await, 500, "WAF.00010001");
    let (status, list) = app.get("waf/certificate").await;
    assert_eq!((status, &list["total"]), (StatusCode::OK, &json!(1)));
    assert_eq!(app.control_get("faults").await.1, json!({"items": []}));
    // Faulted requests are journaled with their code; a faulted request touches no store,
    // so even a bad token gets the injected answer.
    let journal = app
        .control_get("requests?operation=ListCertificates")
        .await
        .1;
    let codes: Vec<&Value> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["error_code"])
        .collect();
    assert_eq!(
        codes,
        [&Value::Null, &json!("WAF.00010001"), &json!("WAF.00010001")]
    );
    app.control_post(
        "faults",
        &json!({"operation": "ShowCertificate", "status": 503, "error_code": "WAF.00010002"}),
    )
    .await;
    assert_error(
        &app.get_as("waf/certificate/x", "not-a-token").await,
        503,
        "WAF.00010002",
    );
    assert_error(&app.get("waf/certificate/y").await, 503, "WAF.00010002");
    let (status, cleared) = app.control_delete("faults").await;
    assert_eq!((status, cleared), (StatusCode::OK, json!({"items": []})));
    assert_error(&app.get("waf/certificate/y").await, 404, "WAF.00022001");
}

async fn latency_faults_only_delay(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    app.control_post(
        "faults",
        &json!({"operation": "ListCertificates", "latency_ms": 300, "count": 1}),
    )
    .await;
    let started = Instant::now();
    let (status, _) = app.get("waf/certificate").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    app.get("waf/certificate").await;
    assert!(started.elapsed() < Duration::from_millis(300), "used up");
}

async fn the_journal_records_calls_without_bodies(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let cert = app.create_cert("journaled", &fixture(90)).await;
    let id = id_of(&cert);
    assert!(
        app.get(&format!("waf/certificate/{id}")).await.1["key"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    app.get_as("waf/certificate", "wafcert_unknown").await;
    let (status, journal) = app.control_get("requests").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!journal.to_string().contains("PRIVATE KEY"));
    assert!(
        !journal.to_string().contains(&app.token),
        "no token in the journal"
    );
    let items = journal["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let (failed, show, create) = (&items[0], &items[1], &items[2]);
    assert_eq!(create["operation"], "CreateCertificate");
    assert_eq!(create["method"], "POST");
    assert_eq!(
        create["path"],
        format!("/v1/{}/waf/certificate", app.project)
    );
    assert_eq!(create["project_id"], app.project);
    assert_eq!(create["credential"], token_id(&app.token));
    assert_eq!(create["status"], 200);
    assert_eq!(create["error_code"], Value::Null);
    assert!(create["duration_ms"].as_u64().is_some());
    assert!(parse_rfc3339(create["time"].as_str().unwrap()).is_ok());
    assert_eq!(show["operation"], "ShowCertificate");
    assert_eq!(failed["status"], 401);
    assert_eq!(failed["error_code"], "WAF.00012001");
    assert_eq!(failed["credential"], token_id("wafcert_unknown"));

    let (_, filtered) = app
        .control_get(&format!(
            "requests?operation=ShowCertificate&project_id={}",
            app.project
        ))
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (_, limited) = app.control_get("requests?limit=1").await;
    assert_eq!(limited["items"][0], items[0]);
    let (status, cleared) = app.control_delete("requests").await;
    assert_eq!((status, cleared), (StatusCode::OK, json!({"items": []})));
    assert_eq!(
        app.control_get("requests").await.1,
        json!({"items": []}),
        "control calls are not journaled"
    );
}

async fn start_flags_move_the_clock_and_seed_ids(db: Db) {
    let start = parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.test_controls = Some(TestControlsConfig {
            clock_start: Some(start),
            clock_frozen: true,
            id_seed: Some(7),
        });
    })
    .await;
    assert_eq!(clock(&app).await["now"], start);
    let cert = app.create_cert("flags", &fixture(90)).await;
    let stream = SeededRandom::default();
    stream.reseed(Some(7));
    assert_eq!(id_of(&cert), stream.next_id_hex());
    assert_eq!(cert["timestamp"], start);
    // The certificate expires in 90 real days, long before 2030.
    assert_eq!(cert["exp_status"], 1);
    // A restart without the flags keeps the stored clock; without test controls it is real.
    let app = app.restart().await;
    assert_eq!(clock(&app).await["now"], start);
    let mut config = app.config.clone();
    config.test_controls = None;
    let (project, token, db) = (app.project.clone(), app.token.clone(), app.db.clone());
    app.stop().await;
    let mut plain = TestApp::start(config, db).await;
    plain.project = project;
    plain.token = token;
    let (_, shown) = plain
        .get(&format!("waf/certificate/{}", id_of(&cert)))
        .await;
    assert_eq!(shown["exp_status"], 0, "real time without test controls");
}

async fn only_a_shared_clock_store_reads_the_clock_with_credentials(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let hash = wafcert::crypto::token_hash(&app.token);
    let plain = app.store.token(&hash).await.unwrap().unwrap();
    assert_eq!(
        plain.clock(),
        None,
        "no clock columns without test controls"
    );
    let shared = app.store.clone().with_shared_clock();
    let advanced = wafcert::domain::ClockSetting {
        offset_ms: 5 * DAY,
        frozen_at: None,
    };
    shared.store_clock_setting(advanced).await.unwrap();
    let record = shared.token(&hash).await.unwrap().unwrap();
    assert_eq!(record.clock(), Some(advanced));
    assert_eq!(record.project.as_str(), app.project);
    // The server without test controls keeps real time although the table says otherwise.
    let cert = app.create_cert("real-time", &fixture(33)).await;
    assert_eq!(cert["exp_status"], 0);
}

/// Two server processes on one PostgreSQL database: a move on A is seen on B at once, read
/// with B's credential check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_moved_on_one_replica_is_seen_on_the_other() {
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::spawn_on(Db::Postgres).await;
    let MasterKeySource::Hex(key) = app.config.master_key.clone() else {
        unreachable!()
    };
    let a = Replica::start_with(&app.db.url, &key, &["--test-controls"]);
    let b = Replica::start_with(&app.db.url, &key, &["--test-controls"]);
    let http = reqwest::Client::new();
    let certs = |r: &Replica| format!("{}/v1/{}/waf/certificate", r.base, app.project);
    let created: Value = http
        .post(certs(&a))
        .header("X-Auth-Token", &app.token)
        .json(&fixture(20).body("shared"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["exp_status"], 2, "{created}");
    let status_on_b = || async {
        let list: Value = http
            .get(certs(&b))
            .header("X-Auth-Token", &app.token)
            .query(&[("host", "true")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["items"][0]["exp_status"].clone()
    };
    assert_eq!(status_on_b().await, 2);
    let moved: Value = http
        .post(format!("{}/_wafcert/clock", a.base))
        .json(&json!({"advance": "P21D"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["frozen"], false);
    assert_eq!(
        status_on_b().await,
        1,
        "B sees A's move on its next request"
    );
    let on_b: Value = http
        .get(format!("{}/_wafcert/clock", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        (on_b["offset_ms"].as_i64().unwrap() - 21 * DAY).abs() < 5000,
        "{on_b}"
    );
    app.stop().await;
}

/// `wafcert clock ...` and `wafcert reset` against a server started with
/// `WAFCERT_TEST_CONTROLS=1`, which says at start that test controls are on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_moves_the_clock_and_resets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-bootstrap",
            "--database",
            &url,
        ])
        .env("WAFCERT_TEST_CONTROLS", "1")
        .env("WAFCERT_MASTER_KEY", master_key_hex())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut warned = false;
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        warned |= line.contains("test controls are on");
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    assert!(warned, "the server says test controls are on");
    let endpoint = format!("http://{addr}");
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("WAFCERT_ENDPOINT", &endpoint)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let shown = cli(&["clock", "show"]);
    assert_eq!(shown["frozen"], false);
    let advanced = cli(&["clock", "advance", "P2D"]);
    assert!((advanced["offset_ms"].as_i64().unwrap() - 2 * DAY).abs() < 5000);
    let back = cli(&["clock", "advance", "-P1D"]);
    assert!((back["offset_ms"].as_i64().unwrap() - DAY).abs() < 5000);
    assert_eq!(cli(&["clock", "freeze"])["frozen"], true);
    assert_eq!(cli(&["clock", "unfreeze"])["frozen"], false);
    assert_eq!(
        cli(&["clock", "set", "2030-01-01T00:00:00Z"])["now_iso"]
            .as_str()
            .unwrap()[..10],
        *"2030-01-01"
    );
    assert!(
        cli(&["clock", "reset"])["offset_ms"]
            .as_i64()
            .unwrap()
            .abs()
            < 5000
    );
    assert_eq!(cli(&["reset"])["deleted"], 0);
    let project = wafcert::domain::ProjectId::random();
    assert_eq!(
        cli(&["reset", "--project-id", project.as_str()])["project_id"],
        project.as_str()
    );
    let bad = Command::new(BIN)
        .args(["clock", "advance", "P1M"])
        .env("WAFCERT_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("WAF.00011003"));
    let _ = child.kill();
    let _ = child.wait();
}
