//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver) by
//! fantoccini. Signs in, reads the seeded certificates and their status, uploads one from PEM
//! files, renames it, tries to delete one in use and reads the message, signs out; a read-only
//! session sees no write controls. Screenshots go to `target/console-screenshots/`.
//!
//! `scripts/console-tests` installs Debian's `chromium` and `chromium-driver` and runs this;
//! without chromedriver the test says so and passes without a browser.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use wafcert::domain::Role;

use crate::helpers::*;

/// The chromedriver binary: `WAFCERT_CHROMEDRIVER`, or Debian's.
fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("WAFCERT_CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    path.exists().then_some(path)
}

/// A chromedriver process on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(binary: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile in `profile`.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut options = json!({ "args": args });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".to_owned(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn button(client: &Client, label: &str) -> fantoccini::elements::Element {
    let xpath = format!("//button[normalize-space()='{label}']");
    client.find(Locator::XPath(&xpath)).await.unwrap()
}

/// Waits (10 s at most) until the page's path satisfies `ok`: a click returns before the
/// navigation it starts has finished.
async fn wait_for_path(client: &Client, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        let ready = client
            .execute("return document.readyState", vec![])
            .await
            .unwrap();
        if ok(url.path()) && ready == json!("complete") {
            return url.path().to_owned();
        }
        assert!(Instant::now() < deadline, "still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (10 s at most) for an element matching `css` whose text contains `text`.
async fn wait_for_text(client: &Client, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(found) = element.text().await
            && found.contains(text)
        {
            return found;
        }
        assert!(Instant::now() < deadline, "no {css} with {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/console/")).await.unwrap();
    let field = client
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    let form = client
        .find(Locator::XPath("//form[.//input[@name='token']]"))
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(client, |p| p == "/console/certificates").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_browser() {
    let Some(binary) = chromedriver() else {
        eprintln!(
            "skipped: browser test (no chromedriver; scripts/console-tests installs chromium-driver)"
        );
        return;
    };
    let app = TestApp::spawn().await;
    let used = app.create_cert("shop-2026", &fixture(200)).await;
    let used_id = used["id"].as_str().unwrap().to_owned();
    create_host(
        &app,
        "shop.example.com",
        "HTTPS",
        Some((&used_id, "shop-2026")),
    )
    .await;
    app.create_cert("api-gateway", &fixture(12)).await;
    app.create_cert("legacy-intranet", &fixture(-4)).await;
    app.create_cert("billing", &fixture(45)).await;

    let driver = Driver::start(&binary);
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let base = app.base.clone();

    sign_in(&client, &base, &app.token).await;
    let page = client.source().await.unwrap();
    for word in [
        "shop-2026",
        "api-gateway",
        "legacy-intranet",
        "Valid",
        "Expiring",
        "Expired",
        "shop.example.com",
    ] {
        assert!(page.contains(word), "{word}");
    }
    screenshot(&client, "certificates").await;

    // Upload from PEM files.
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(80);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &f.cert_pem).unwrap();
    std::fs::write(&key, &f.key_pem).unwrap();
    let find = |css: &'static str| client.find(Locator::Css(css));
    find("#upload-name")
        .await
        .unwrap()
        .send_keys("uploaded-in-browser")
        .await
        .unwrap();
    find("#content_file")
        .await
        .unwrap()
        .send_keys(cert.to_str().unwrap())
        .await
        .unwrap();
    find("#key_file")
        .await
        .unwrap()
        .send_keys(key.to_str().unwrap())
        .await
        .unwrap();
    button(&client, "Upload").await.click().await.unwrap();
    wait_for_path(&client, |p| p.starts_with("/console/certificates/")).await;
    assert!(
        client
            .source()
            .await
            .unwrap()
            .contains("uploaded-in-browser")
    );

    // Rename it.
    let name = find("#new-name").await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("renamed-in-browser").await.unwrap();
    button(&client, "Rename").await.click().await.unwrap();
    wait_for_text(&client, "h1", "renamed-in-browser").await;
    screenshot(&client, "detail").await;

    // Deleting a certificate in use shows the API's sentence naming the host.
    client
        .goto(&format!("{base}/console/certificates/{used_id}"))
        .await
        .unwrap();
    button(&client, "Delete").await.click().await.unwrap();
    let alert = wait_for_text(&client, ".error", "WAF.00022003").await;
    assert!(alert.contains("shop.example.com"), "{alert}");
    screenshot(&client, "delete-in-use").await;

    client.goto(&format!("{base}/console/hosts")).await.unwrap();
    assert!(client.source().await.unwrap().contains("shop.example.com"));
    screenshot(&client, "hosts").await;

    // Sign out: back to the sign-in page, and the table is gone.
    button(&client, "Sign out").await.click().await.unwrap();
    wait_for_path(&client, |p| p == "/console/").await;
    client
        .goto(&format!("{base}/console/certificates"))
        .await
        .unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/console/");
    screenshot(&client, "sign-in").await;

    // A read-only session sees the table but no write controls.
    let readonly = app.token_for(&app.project, Role::ReadOnly, None).await;
    sign_in(&client, &base, &readonly).await;
    assert!(client.source().await.unwrap().contains("shop-2026"));
    client
        .goto(&format!("{base}/console/certificates/{used_id}"))
        .await
        .unwrap();
    for label in ["Upload", "Rename", "Delete", "Rotate"] {
        let xpath = format!("//button[normalize-space()='{label}']");
        assert!(
            client.find(Locator::XPath(&xpath)).await.is_err(),
            "{label}"
        );
    }
    client.close().await.unwrap();
}
