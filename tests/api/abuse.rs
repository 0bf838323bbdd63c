//! Abuse of the unauthenticated paths (issue 14, finding 3): login throttling per user and
//! address, oversized passwords and `/v3` bodies, the bounded argon2 queue, and slow clients
//! that send half a header.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wafcert::auth::hash_password;
use wafcert::domain::Role;
use wafcert::domain::{ProjectId, UserId, now_ms};
use wafcert::storage::UserRecord;

use crate::helpers::*;

crate::on_both_backends!(failed_logins_are_throttled_per_user_and_address);

async fn add_user(app: &TestApp, name: &str, password: &str) -> String {
    let id = UserId::random();
    let user = UserRecord {
        id: id.clone(),
        name: name.to_owned(),
        domain: "Default".to_owned(),
        project: ProjectId::parse(&app.project).unwrap(),
        role: Role::ReadOnly,
        password_hash: hash_password(password).unwrap(),
    };
    app.store.insert_user(&user, now_ms()).await.unwrap();
    id.to_string()
}

fn login_body(name: &str, password: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"name": "Default"}, "password": password}}}}})
}

async fn login_with(
    client: &reqwest::Client,
    app: &TestApp,
    body: &Value,
) -> (StatusCode, Option<String>) {
    let resp = client
        .post(format!("{}/v3/auth/tokens", app.base))
        .json(body)
        .send()
        .await
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), retry)
}

async fn failed_logins_are_throttled_per_user_and_address(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let ola = add_user(&app, "ola", "right-ola").await;
    add_user(&app, "pia", "right-pia").await;
    for i in 0..10 {
        let (status, _) = login_with(&app.client, &app, &login_body("ola", "wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, retry) = login_with(&app.client, &app, &login_body("ola", "right-ola")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password too"
    );
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=300).contains(&secs), "{secs}");
    // The same user named by id, or by domain id, is the same user.
    let by_id = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": ola, "password": "right-ola"}}}}});
    assert_eq!(
        login_with(&app.client, &app, &by_id).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let by_domain_id = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "ola", "domain": {"id": "default"}, "password": "right-ola"}}}}});
    assert_eq!(
        login_with(&app.client, &app, &by_domain_id).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another user from the same address, and the same user from another address.
    let (status, _) = login_with(&app.client, &app, &login_body("pia", "right-pia")).await;
    assert_eq!(status, StatusCode::CREATED);
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let (status, _) = login_with(&elsewhere, &app, &login_body("ola", "right-ola")).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_passwords_and_bodies_are_refused_at_once() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let (status, _) = login_with(&app.client, &app, &login_body("x", &"p".repeat(1025))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut body = login_body("x", "p");
    body["padding"] = json!("z".repeat(17 * 1024));
    let (status, _) = login_with(&app.client, &app, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = login_with(&app.client, &app, &login_body("x", &"p".repeat(1024))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "1 KiB is still accepted");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_password_queue_answers_503_with_retry_after() {
    let app = TestApp::spawn().await;
    let logins = (0..100).map(|i| {
        let client = app.client.clone();
        let url = format!("{}/v3/auth/tokens", app.base);
        let body = login_body(&format!("nobody-{i}"), "wrong");
        tokio::spawn(async move {
            let resp = client.post(url).json(&body).send().await.unwrap();
            (resp.status(), resp.headers().contains_key("retry-after"))
        })
    });
    let mut busy = 0;
    for login in logins.collect::<Vec<_>>() {
        let (status, retry_after) = login.await.unwrap();
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after);
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "100 parallel logins must overflow the queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_headers_neither_block_others_nor_stay_open() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.connections.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let (status, _) = app.get("waf/certificate").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The server closes every one of them within 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    for mut stream in slow {
        let mut buf = [0u8; 512];
        let left = deadline.saturating_duration_since(Instant::now());
        loop {
            match tokio::time::timeout(left, stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => panic!("a half-header connection is still open after 30 s"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.connections.max_connections = 2;
        c.connections.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A third client waits until the header-read timeout frees a slot, then is served.
    let started = Instant::now();
    let (status, _) = app.get("waf/certificate").await;
    assert_eq!(status, StatusCode::OK);
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(1000) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}
