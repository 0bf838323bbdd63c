//! Expiry thresholds on the movable clock, and their Standard Webhooks delivery: each event
//! once (across clock moves back, restarts and replicas), signed, retried, delivered once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use serde_json::json;
use wafcert::domain::{format_rfc3339, now_ms};
use wafcert::notify::{WebhookConfig, WebhookSecret, parse_webhook_url};

use crate::events::{events, types};
use crate::helpers::*;
use crate::on_both_backends;
use crate::receiver::Receiver;

on_both_backends!(
    thresholds_fire_once_each_and_webhooks_verify,
    created_inside_a_threshold_gets_the_nearest_only,
    a_failing_receiver_gets_the_event_on_the_third_try,
    a_slow_receiver_never_slows_the_api,
    replacing_the_chain_restarts_its_thresholds,
    a_receiver_slower_than_10_s_times_out_and_is_retried,
    two_replicas_emit_and_deliver_each_event_once,
);

/// A server with test controls (the movable clock) delivering to `receiver`; returns it and
/// the secret text.
async fn spawn_with_webhook(db: Db, receiver: &Receiver) -> (TestApp, String) {
    let (secret, text) = WebhookSecret::generate().unwrap();
    let url = parse_webhook_url(&receiver.url).unwrap();
    let app = TestApp::spawn_with(db, |c| {
        c.test_controls = Some(Default::default());
        c.events.webhook = Some(WebhookConfig {
            urls: vec![url],
            secret,
        });
    })
    .await;
    (app, text)
}

/// Sets the certificate clock `days` ahead of real time through `POST /_wafcert/clock`.
async fn advance_days(app: &TestApp, days: i64) {
    let at = format_rfc3339(now_ms() + days_ms(days));
    let (status, body) = app.control_post("clock", &json!({"set": at})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Polls the event log until `done` holds; the events and how long it took.
async fn wait_events(
    app: &TestApp,
    secs: u64,
    done: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, Duration) {
    let start = Instant::now();
    loop {
        let log = events(app, "").await;
        if done(&log) || start.elapsed() > Duration::from_secs(secs) {
            return (log, start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `expiring` thresholds and `expired` count in a log, oldest first.
fn expiry_of(log: &[Value]) -> (Vec<i64>, usize) {
    let thresholds = log
        .iter()
        .rev()
        .filter(|e| e["type"] == "wafcert.certificate.expiring")
        .map(|e| e["data"]["threshold_days"].as_i64().unwrap())
        .collect();
    let expired = log
        .iter()
        .filter(|e| e["type"] == "wafcert.certificate.expired")
        .count();
    (thresholds, expired)
}

async fn thresholds_fire_once_each_and_webhooks_verify(db: Db) {
    let receiver = Receiver::start(0).await;
    let (app, secret) = spawn_with_webhook(db, &receiver).await;
    let cert = app.create_cert("forty", &fixture(40)).await;
    let cert_id = id_of(&cert);
    create_host(&app, "shop.example.com", "HTTPS", Some((&cert_id, "forty"))).await;
    let (log, _) = wait_events(&app, 2, |_| false).await;
    assert_eq!(
        types(&log),
        [
            "wafcert.certificate.bound",
            "wafcert.host.created",
            "wafcert.certificate.created"
        ]
    );

    let mut expected = Vec::new();
    for (day, threshold) in [(11, 30), (27, 14), (34, 7)] {
        advance_days(&app, day).await;
        expected.push(threshold);
        let (log, took) = wait_events(&app, 5, |l| expiry_of(l).0 == expected).await;
        assert_eq!(expiry_of(&log), (expected.clone(), 0), "after {day} days");
        assert!(
            took < Duration::from_millis(2_500),
            "evaluated {took:?} after the move"
        );
    }
    advance_days(&app, 40).await;
    let (log, took) = wait_events(&app, 5, |l| expiry_of(l).1 == 1).await;
    assert!(
        took < Duration::from_millis(2_500),
        "evaluated {took:?} after the move"
    );
    assert_eq!(expiry_of(&log), (vec![30, 14, 7, 1], 1));
    for e in log.iter().filter(|e| e["actor"] == "system") {
        let data = &e["data"];
        assert_eq!(data["certificate_id"], cert_id.as_str());
        assert_eq!(data["name"], "forty");
        assert_eq!(data["expire_time"], cert["expire_time"]);
        assert_eq!(data["hostnames"], serde_json::json!(["shop.example.com"]));
        assert!(
            data["days_left"].is_i64() && data["threshold_days"].is_i64(),
            "{e}"
        );
        assert_eq!(e["subject"], cert_id.as_str());
    }
    let expired = &log[0];
    assert_eq!(expired["type"], "wafcert.certificate.expired");
    assert_eq!(expired["data"]["threshold_days"], 0);
    // Event time is certificate time: 40 days ahead.
    assert!(expired["time"].as_i64().unwrap() >= now_ms() + days_ms(40) - 60_000);

    // Moving the clock back, or forward again, or restarting emits nothing more.
    advance_days(&app, 0).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    advance_days(&app, 45).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let app = app.restart().await;
    advance_days(&app, 45).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let log = events(&app, "").await;
    assert_eq!(expiry_of(&log), (vec![30, 14, 7, 1], 1));

    // Every event reached the receiver once, signed, with a real-time timestamp.
    let total = log.len();
    let (log, _) = wait_events(&app, 10, |l| {
        l.iter().all(|e| e["delivery"]["state"] == "delivered")
    })
    .await;
    let delivered = receiver.wait_for(5, |d| d.len() >= total).await;
    assert_eq!(delivered.len(), total);
    let real = now_ms() / 1000;
    for d in &delivered {
        assert!(d.verifies(&secret), "signature of {}", d.id);
        assert!(!d.verifies("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert!(
            (real - d.timestamp).abs() < 300,
            "webhook-timestamp is real time"
        );
        let event = log
            .iter()
            .find(|e| e["id"] == d.id.as_str())
            .expect("a logged event");
        let body = d.json();
        assert_eq!(body["type"], event["type"]);
        assert_eq!(body["data"], event["data"]);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(event["delivery"]["state"], "delivered", "{event}");
        assert_eq!(event["delivery"]["attempts"], 1);
    }
}

async fn created_inside_a_threshold_gets_the_nearest_only(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let soon = id_of(&app.create_cert("soon", &fixture(5)).await);
    let (s, past) = app.post("waf/certificate", &fixture(-1).body("past")).await;
    assert_eq!(s, StatusCode::OK, "{past}");
    let past = id_of(&past);
    let (log, took) = wait_events(&app, 5, |l| {
        let (t, e) = expiry_of(l);
        t.len() == 1 && e == 1
    })
    .await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let log2 = events(&app, "").await;
    assert_eq!(log.len(), log2.len(), "nothing more");
    let expiring: Vec<&Value> = log
        .iter()
        .filter(|e| e["type"] == "wafcert.certificate.expiring")
        .collect();
    assert_eq!(expiring[0]["subject"], soon.as_str());
    assert_eq!(expiring[0]["data"]["threshold_days"], 7);
    assert_eq!(expiring[0]["data"]["days_left"], 4);
    let expired: Vec<&Value> = log
        .iter()
        .filter(|e| e["type"] == "wafcert.certificate.expired")
        .collect();
    assert_eq!(expired[0]["subject"], past.as_str());
    assert_eq!(expired[0]["data"]["hostnames"], serde_json::json!([]));
}

async fn replacing_the_chain_restarts_its_thresholds(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("renewed", &fixture(5)).await;
    let id = id_of(&cert);
    wait_events(&app, 5, |l| expiry_of(l).0 == [7]).await;
    let renewed = fixture(20);
    let (s, body) = app
        .put(&format!("waf/certificate/{id}"), &renewed.body("renewed"))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (log, _) = wait_events(&app, 5, |l| expiry_of(l).0 == [7, 30]).await;
    assert_eq!(expiry_of(&log), (vec![7, 30], 0));
    let rotated = log
        .iter()
        .find(|e| e["type"] == "wafcert.certificate.rotated")
        .expect("a rotated event");
    assert_eq!(rotated["subject"], id.as_str());
    assert_eq!(rotated["data"]["previous_expire_time"], cert["expire_time"]);
    assert_eq!(rotated["data"]["expire_time"], renewed.not_after_ms);
    assert!(
        !log.iter()
            .any(|e| e["type"] == "wafcert.certificate.renamed"),
        "same name"
    );
}

async fn a_failing_receiver_gets_the_event_on_the_third_try(db: Db) {
    let receiver = Receiver::start(2).await;
    let (app, secret) = spawn_with_webhook(db, &receiver).await;
    app.create_cert("retried", &fixture(60)).await;
    let committed = Instant::now();
    let delivered = receiver.wait_for(20, |d| !d.is_empty()).await;
    assert_eq!(delivered.len(), 1);
    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 3);
    let first = attempts[0].at.duration_since(committed);
    assert!(
        first < Duration::from_secs(2),
        "first attempt {first:?} after the commit"
    );
    let gaps = (
        attempts[1].at - attempts[0].at,
        attempts[2].at - attempts[1].at,
    );
    assert!(
        gaps.0 >= Duration::from_millis(900) && gaps.1 >= Duration::from_millis(4_500),
        "{gaps:?}"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.id == delivered[0].id && a.verifies(&secret))
    );
    let (log, _) = wait_events(&app, 5, |l| l[0]["delivery"]["state"] == "delivered").await;
    let delivery = &log[0]["delivery"];
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status"], 200);
}

async fn a_slow_receiver_never_slows_the_api(db: Db) {
    let receiver = Receiver::start_slow(Duration::from_secs(4)).await;
    let (app, _) = spawn_with_webhook(db, &receiver).await;
    let started = Instant::now();
    for i in 0..12 {
        let one = Instant::now();
        app.create_cert(&format!("s{i}"), &fixture(60)).await;
        assert!(
            one.elapsed() < Duration::from_secs(2),
            "create {i} took {:?}",
            one.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // Deliveries run side by side: all 12 within two receiver delays, not twelve.
    let delivered = receiver.wait_for(15, |d| d.len() >= 12).await;
    assert_eq!(delivered.len(), 12);
    let spread = delivered[11].at.duration_since(delivered[0].at);
    assert!(spread < Duration::from_secs(6), "{spread:?}");
}

async fn a_receiver_slower_than_10_s_times_out_and_is_retried(db: Db) {
    let receiver = Receiver::start_slow(Duration::from_secs(13)).await;
    let (app, _) = spawn_with_webhook(db, &receiver).await;
    app.create_cert("patient", &fixture(60)).await;
    let started = Instant::now();
    let (log, took) = wait_events(&app, 16, |l| l[0]["delivery"]["attempts"] == 1).await;
    let delivery = &log[0]["delivery"];
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    assert_eq!(delivery["state"], "pending");
    assert_eq!(
        delivery["last_status"], 0,
        "a timeout counts as unreachable"
    );
    assert!(
        took >= Duration::from_secs(9) && started.elapsed() < Duration::from_secs(13),
        "{took:?}"
    );
    assert_eq!(receiver.attempts().len(), 1);
}

async fn two_replicas_emit_and_deliver_each_event_once(db: Db) {
    let receiver = Receiver::start(0).await;
    let (a, _) = spawn_with_webhook(db, &receiver).await;
    let mut b = TestApp::start(a.config.clone(), a.db.clone()).await;
    b.project = a.project.clone();
    b.token = a.token.clone();
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.create_cert(&format!("r{i}"), &fixture(35 + i)).await;
    }
    // Moved on one replica, the shared clock reaches the other within a second: both
    // evaluate, every certificate is due its 30-day event, and only one replica may emit each.
    advance_days(&a, 20).await;
    let (log, _) = wait_events(&a, 10, |l| expiry_of(l).0.len() >= 10).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let log2 = events(&a, "").await;
    assert_eq!(expiry_of(&log).0.len(), 10);
    assert_eq!(log2.len(), 20, "10 created and 10 expiring, none twice");
    let delivered = receiver.wait_for(15, |d| d.len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut ids: Vec<String> = receiver.attempts().into_iter().map(|d| d.id).collect();
    assert_eq!(delivered.len(), 20);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "no event delivered twice");
    b.stop().await;
}

#[test]
fn bad_webhook_flags_are_refused_at_startup() {
    let bin = env!("CARGO_BIN_EXE_wafcert");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/w.db", dir.path().display());
    let (_, good) = WebhookSecret::generate().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--webhook-url",
                "ftp://hooks.example",
                "--webhook-secret",
                &good,
            ],
            "--webhook-url",
        ),
        (
            &[
                "--webhook-url",
                "http://127.0.0.1:9/h",
                "--webhook-secret",
                "s3cret",
            ],
            "whsec_",
        ),
        (
            &["--webhook-url", "http://127.0.0.1:9/h"],
            "--webhook-secret",
        ),
        (&["--notify-days", "30,0"], "--notify-days"),
    ];
    for (args, expected) in cases {
        let out = std::process::Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains(&good[6..]), "the secret is never echoed");
        assert!(
            !stderr.contains("s3cretvalue"),
            "nor a malformed one: {stderr}"
        );
    }
    let out = std::process::Command::new(bin)
        .arg("webhook-secret")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(WebhookSecret::parse(text.trim()).is_ok(), "{text}");
}
