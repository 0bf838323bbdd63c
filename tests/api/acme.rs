//! `wafcert renew` end to end against Pebble. `scripts/acme-tests` starts Pebble and runs these
//! one at a time with `WAFCERT_PEBBLE_MODE` (`always-valid`, or `real` for real HTTP-01 and
//! DNS-01 validation), `WAFCERT_PEBBLE_DIRECTORY`, `WAFCERT_PEBBLE_CA`,
//! `WAFCERT_PEBBLE_HTTP_PORT` and `WAFCERT_PEBBLE_DNS_MANAGEMENT`; without them (a plain
//! `cargo test`) they say so and pass.
//!
//! The first "expiring" certificates are short-lived self-signed ones for the names; then the
//! always-valid run moves the server's certificate clock 80 days on (`POST /_wafcert/clock`,
//! test controls) so that the 90-day Pebble-issued certificate itself is due and renewed.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helpers::*;

/// The Pebble run's settings, when this mode is the one running.
struct Pebble {
    directory: String,
    ca: String,
    http_port: String,
    /// pebble-challtestsrv's management URL (real validation only).
    dns_management: String,
}

fn pebble(mode: &str) -> Option<Pebble> {
    let running = std::env::var("WAFCERT_PEBBLE_MODE").ok();
    if running.as_deref() != Some(mode) {
        eprintln!("skipped: Pebble {mode} run (scripts/acme-tests runs it)");
        return None;
    }
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set by scripts/acme-tests"));
    Some(Pebble {
        directory: var("WAFCERT_PEBBLE_DIRECTORY"),
        ca: var("WAFCERT_PEBBLE_CA"),
        http_port: var("WAFCERT_PEBBLE_HTTP_PORT"),
        dns_management: std::env::var("WAFCERT_PEBBLE_DNS_MANAGEMENT").unwrap_or_default(),
    })
}

/// A self-signed certificate for `names` expiring in `days`.
fn self_signed(alg: Alg, names: &[&str], days: i64) -> Fixture {
    let key = key_pair(alg);
    let mut p =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(days);
    let cert = p.self_signed(&key).unwrap();
    Fixture {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after_ms: 0,
    }
}

/// Uploads `fixture` as `name` and binds it to `hostnames`; returns its id.
async fn bound(app: &TestApp, name: &str, fixture: &Fixture, hostnames: &[&str]) -> String {
    let id = id_of(&app.create_cert(name, fixture).await);
    for h in hostnames {
        create_host(app, h, "HTTPS", Some((&id, name))).await;
    }
    id
}

/// Runs `wafcert renew` against the test server.
fn renew(app: &TestApp, p: &Pebble, account: &std::path::Path, extra: &[&str]) -> Output {
    let listen = format!("127.0.0.1:{}", p.http_port);
    Command::new(BIN)
        .args([
            "renew",
            "--acme-directory",
            &p.directory,
            "--acme-ca-file",
            &p.ca,
        ])
        .args(["--email", "ops@wafcert.test", "--http-01-listen", &listen])
        .arg("--account-file")
        .arg(account)
        .args(extra)
        .env("WAFCERT_ENDPOINT", &app.base)
        .env("WAFCERT_PROJECT", &app.project)
        .env("WAFCERT_TOKEN", &app.token)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of `out` about certificate `id`.
fn line_of<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{out}"))
}

/// The certificate bound to a hostname now.
async fn certificate_of(app: &TestApp, hostname: &str) -> String {
    let (_, list) = app
        .get(&format!("{HOSTS}?pagesize=-1&hostname={hostname}"))
        .await;
    let host = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == hostname)
        .unwrap();
    host["certificateid"].as_str().unwrap().to_owned()
}

/// The details of a certificate; asserts it is Pebble's with no error finding.
async fn assert_clean_pebble_chain(app: &TestApp, id: &str) -> Value {
    let (status, d) = app.get(&format!("wafcert/certificate/{id}/details")).await;
    assert_eq!(status, 200, "{d}");
    assert!(d["issuer"].as_str().unwrap().contains("Pebble"), "{d}");
    assert!(d["chain_length"].as_u64().unwrap() >= 2, "{d}");
    let errors: Vec<&Value> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(
        errors.is_empty(),
        "a Pebble-issued chain has no error finding: {d}"
    );
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_valid() {
    let Some(p) = pebble("always-valid") else {
        return;
    };
    // With test controls, so that the certificate clock can be moved at the end.
    let app = TestApp::spawn_with_controls(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("account.json");
    let hook_log = dir.path().join("hook.log");
    let shop = bound(
        &app,
        "shop",
        &self_signed(
            Alg::EcP256,
            &["shop.wafcert.test", "www.shop.wafcert.test"],
            10,
        ),
        &["shop.wafcert.test", "www.shop.wafcert.test"],
    )
    .await;
    let broken = bound(
        &app,
        "broken",
        &self_signed(Alg::EcP384, &["fail.wafcert.test"], 5),
        &["fail.wafcert.test"],
    )
    .await;
    let fresh = bound(
        &app,
        "fresh",
        &self_signed(Alg::EcP256, &["fresh.wafcert.test"], 200),
        &["fresh.wafcert.test"],
    )
    .await;
    let spare = id_of(
        &app.create_cert(
            "spare",
            &self_signed(Alg::EcP256, &["spare.wafcert.test"], 3),
        )
        .await,
    );

    // --dry-run lists and changes nothing (and needs no account yet).
    let out = renew(&app, &p, &account, &["--dry-run"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(line_of(&text, &shop).starts_with("shop ") && line_of(&text, &shop).contains(" due: "));
    assert!(line_of(&text, &fresh).contains(" skipped: "), "{text}");
    assert!(
        line_of(&text, &spare).contains(" skipped: not bound"),
        "{text}"
    );
    assert!(!account.exists(), "a dry run creates no account");

    // The hook answers every challenge and refuses fail.wafcert.test.
    let hook = format!(
        "echo \"$WAFCERT_ACME_ACTION $WAFCERT_ACME_TYPE $WAFCERT_ACME_DOMAIN\" >> {}; \
         [ -n \"$WAFCERT_ACME_TOKEN\" ] && [ -n \"$WAFCERT_ACME_KEY_AUTH\" ] || exit 3; \
         [ \"$WAFCERT_ACME_DOMAIN\" != fail.wafcert.test ] || [ \"$WAFCERT_ACME_ACTION\" != present ]",
        hook_log.display()
    );
    let out = renew(&app, &p, &account, &["--challenge-hook", &hook]);
    let text = stdout(&out);
    assert!(
        !out.status.success(),
        "one failure makes the exit code non-zero:\n{text}"
    );
    assert_eq!(text.lines().count(), 4, "one line per certificate:\n{text}");
    assert!(
        line_of(&text, &shop).starts_with("shop ") && line_of(&text, &shop).contains(" renewed"),
        "{text}"
    );
    assert!(line_of(&text, &broken).contains(" failed: "), "{text}");
    assert!(line_of(&text, &fresh).contains(" skipped: "), "{text}");
    assert!(
        line_of(&text, &spare).contains(" skipped: not bound"),
        "{text}"
    );
    let log = std::fs::read_to_string(&hook_log).unwrap();
    for action in ["present", "cleanup"] {
        for domain in ["shop.wafcert.test", "www.shop.wafcert.test"] {
            assert!(
                log.contains(&format!("{action} http-01 {domain}\n")),
                "{log}"
            );
        }
    }
    assert!(account.exists(), "the account is kept");

    // Both hosts moved to the Pebble-issued certificate, named as before; the failed one
    // keeps its hosts.
    let renewed = certificate_of(&app, "shop.wafcert.test").await;
    assert_ne!(renewed, shop);
    assert_eq!(certificate_of(&app, "www.shop.wafcert.test").await, renewed);
    assert_eq!(certificate_of(&app, "fail.wafcert.test").await, broken);
    let d = assert_clean_pebble_chain(&app, &renewed).await;
    assert_eq!(
        (
            d["name"].as_str(),
            d["key_type"].as_str(),
            d["key_bits"].as_u64()
        ),
        (Some("shop"), Some("EC"), Some(256))
    );
    assert_eq!(d["sans"].as_array().unwrap().len(), 2, "{d}");

    // Nothing is due now; the kept account is reused.
    let out = renew(&app, &p, &account, &["--challenge-hook", &hook]);
    let text = stdout(&out);
    assert!(!out.status.success(), "broken still fails:\n{text}");
    assert!(line_of(&text, &renewed).contains(" skipped: "), "{text}");

    // With the certificate clock 80 days on, the Pebble-issued certificate itself is due (by
    // the server's clock: this machine's says it has 89 days left).
    let (status, body) = app.control_post("clock", &json!({"advance": "P80D"})).await;
    assert_eq!(status, 200, "{body}");
    let out = renew(&app, &p, &account, &["--challenge-hook", &hook]);
    let text = stdout(&out);
    assert!(line_of(&text, &renewed).contains(" renewed"), "{text}");
    let again = certificate_of(&app, "shop.wafcert.test").await;
    assert_ne!(again, renewed);
    assert_clean_pebble_chain(&app, &again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01() {
    let Some(p) = pebble("real") else { return };
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("account.json");
    let old = bound(
        &app,
        "api",
        &self_signed(Alg::Rsa2048, &["api.wafcert.test"], 20),
        &["api.wafcert.test"],
    )
    .await;
    let out = renew(&app, &p, &account, &[]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(line_of(&text, &old).contains(" renewed"), "{text}");
    let renewed = certificate_of(&app, "api.wafcert.test").await;
    let d = assert_clean_pebble_chain(&app, &renewed).await;
    assert_eq!(
        (d["key_type"].as_str(), d["key_bits"].as_u64()),
        (Some("RSA"), Some(2048)),
        "RSA keeps its size"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_01_through_a_hook() {
    let Some(p) = pebble("real") else { return };
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("account.json");
    // A wildcard needs dns-01; EC P-384 stays P-384.
    let names = ["dns.wafcert.test", "*.dns.wafcert.test"];
    let old = bound(
        &app,
        "wild",
        &self_signed(Alg::EcP384, &names, 7),
        &["dns.wafcert.test", "www.dns.wafcert.test"],
    )
    .await;
    // The hook a DNS provider would supply, here pebble-challtestsrv's TXT records.
    let hook = format!(
        "[ \"$WAFCERT_ACME_TYPE\" = dns-01 ] || exit 4; \
         name=\"_acme-challenge.$WAFCERT_ACME_DOMAIN.\"; \
         case \"$WAFCERT_ACME_ACTION\" in \
           present) curl -sf -d \"{{\\\"host\\\":\\\"$name\\\",\\\"value\\\":\\\"$WAFCERT_ACME_DNS_VALUE\\\"}}\" {m}/set-txt ;; \
           cleanup) curl -sf -d \"{{\\\"host\\\":\\\"$name\\\"}}\" {m}/clear-txt ;; \
         esac",
        m = p.dns_management
    );
    let out = renew(
        &app,
        &p,
        &account,
        &["--challenge", "dns-01", "--challenge-hook", &hook],
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(line_of(&text, &old).contains(" renewed"), "{text}");
    let renewed = certificate_of(&app, "www.dns.wafcert.test").await;
    assert_eq!(certificate_of(&app, "dns.wafcert.test").await, renewed);
    let d = assert_clean_pebble_chain(&app, &renewed).await;
    assert_eq!(
        (d["key_type"].as_str(), d["key_bits"].as_u64()),
        (Some("EC"), Some(384))
    );
    let sans: Vec<&str> = d["sans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(sans.contains(&"*.dns.wafcert.test"), "{d}");
}
