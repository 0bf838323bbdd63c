//! The `wafcert cert ...` client commands against a running server.

use std::process::Command;

use serde_json::Value;

use crate::helpers::*;

fn cli(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(BIN)
        .arg("cert")
        .args(args)
        .env("WAFCERT_ENDPOINT", &app.base)
        .env("WAFCERT_PROJECT", &app.project)
        .env("WAFCERT_TOKEN", &app.token)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        value,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_commands_round_trip() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(20);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &f.cert_pem).unwrap();
    std::fs::write(&key, &f.key_pem).unwrap();
    let (ok, created, err) = cli(
        &app,
        &[
            "create",
            "--name",
            "from-cli",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["exp_status"], 2);

    let (ok, list, _) = cli(
        &app,
        &[
            "list",
            "--name",
            "CLI",
            "--host",
            "--page",
            "1",
            "--pagesize",
            "10",
        ],
    );
    assert!(ok);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["bind_host"], serde_json::json!([]));
    let (ok, list, _) = cli(&app, &["list", "--pagesize", "-1", "--exp-status", "1"]);
    assert!(ok);
    assert_eq!(list["total"], 0);

    let (ok, shown, _) = cli(&app, &["show", &id]);
    assert!(ok);
    assert_eq!(shown["key"].as_str().unwrap(), f.key_pem.trim());
    let (ok, renamed, _) = cli(&app, &["rename", &id, "--name", "renamed"]);
    assert!(ok);
    assert_eq!(renamed["name"], "renamed");
    let (ok, deleted, _) = cli(&app, &["delete", &id]);
    assert!(ok);
    assert_eq!(deleted["id"], id.as_str());

    let (ok, _, err) = cli(&app, &["show", &id]);
    assert!(!ok);
    assert!(err.contains("WAF.00022001") && err.contains("404"), "{err}");
    let (ok, _, err) = cli(&app, &["list", "--pagesize", "101"]);
    assert!(!ok && err.contains("WAF.00011011"), "{err}");
}
