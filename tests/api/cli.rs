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

/// Runs `wafcert ARGS` with `env` only (plus PATH and the config directory): no credentials
/// leak in from the caller's environment.
fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn creds(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("WAFCERT_ENDPOINT", app.base.clone()),
        ("WAFCERT_PROJECT", app.project.clone()),
        ("WAFCERT_TOKEN", app.token.clone()),
    ]
}

fn env_of<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_tables_for_people_json_for_programs() {
    let app = TestApp::spawn().await;
    let used = app.create_cert("web", &fixture(91)).await;
    let used_id = used["id"].as_str().unwrap();
    create_host(&app, "web.example.com", "HTTPS", Some((used_id, "web"))).await;
    app.create_cert("soon", &fixture(10)).await;
    app.create_cert("old", &fixture(-2)).await;
    let pairs = creds(&app);
    let env = env_of(&pairs);

    let (code, out, err) = run(&["cert", "list", "--output", "table"], &env, None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "ID", "EXPIRES", "DAYS", "LEFT", "STATUS", "HOSTS"]
    );
    let row = |name: &str| *lines.iter().find(|l| l.starts_with(name)).unwrap();
    assert!(row("web ").contains("(91 days)") && row("web ").contains("Valid"));
    assert!(row("web ").contains("web.example.com"));
    assert!(row("soon").contains("(10 days)") && row("soon").contains("Expiring"));
    assert!(row("old").contains("(expired 2 days ago)") && row("old").contains("Expired"));

    let (code, out, _) = run(&["cert", "show", used_id, "--output", "table"], &env, None);
    assert_eq!(code, 0);
    assert!(out.lines().nth(1).unwrap().starts_with("web "), "{out}");
    // Not a terminal: JSON.
    let (code, out, _) = run(&["cert", "show", used_id], &env, None);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["name"], "web");
    let (_, out, _) = run(&["cert", "list", "--output", "json"], &env, None);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["total"], 3);

    // Server errors: one sentence with the code, exit code 1.
    let (code, out, err) = run(&["cert", "delete", used_id], &env, None);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("WAF.00022003") && err.contains("web.example.com"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_commands_round_trip() {
    let app = TestApp::spawn().await;
    let cert = app.create_cert("edge", &fixture(60)).await;
    let cert_id = cert["id"].as_str().unwrap();
    let pairs = creds(&app);
    let env = env_of(&pairs);

    let (code, out, err) = run(
        &[
            "host",
            "create",
            "--hostname",
            "a.example.com",
            "--server",
            "HTTPS,HTTP,10.0.0.5,8080",
            "--server",
            "HTTPS,HTTP,10.0.0.6,8080",
            "--certificate-id",
            cert_id,
            "--protect-status",
            "0",
            "--output",
            "json",
        ],
        &env,
        None,
    );
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["certificatename"], "edge");
    assert_eq!(created["server"].as_array().unwrap().len(), 2);
    assert_eq!(created["protect_status"], 0);

    let (code, out, _) = run(&["host", "list", "--output", "table"], &env, None);
    assert_eq!(code, 0);
    assert!(out.starts_with("HOSTNAME"));
    assert!(
        out.contains("a.example.com") && out.contains("edge") && out.contains("paused"),
        "{out}"
    );
    let (code, out, _) = run(&["host", "show", &id], &env, None);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["hostname"],
        "a.example.com"
    );

    let (code, out, err) = run(
        &[
            "host",
            "update",
            &id,
            "--protect-status",
            "1",
            "--description",
            "front door",
        ],
        &env,
        None,
    );
    assert_eq!(code, 0, "{err}");
    let updated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["protect_status"], 1);
    assert_eq!(updated["description"], "front door");
    assert_eq!(updated["certificateid"], cert_id);

    // A bad flag is refused before any call; the server's refusals come back as sentences.
    let (code, _, err) = run(
        &[
            "host",
            "create",
            "--hostname",
            "b.example.com",
            "--server",
            "HTTPS",
        ],
        &env,
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("FRONT,BACK,ADDRESS,PORT"), "{err}");
    let (code, _, err) = run(
        &[
            "host",
            "create",
            "--hostname",
            "b.example.com",
            "--server",
            "HTTPS,HTTP,10.0.0.5,80",
        ],
        &env,
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("WAF.000"), "{err}");

    let (code, out, _) = run(&["host", "delete", &id, "--output", "table"], &env, None);
    assert_eq!(code, 0);
    assert!(out.contains("Deleted a.example.com"));
    let (code, _, err) = run(&["host", "show", &id], &env, None);
    assert_eq!(code, 1);
    assert!(err.contains("WAF.00022001") && err.contains("404"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_saves_a_private_profile_that_env_overrides() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    app.create_cert("from-profile", &fixture(30)).await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path().to_str().unwrap();
    let base = [("XDG_CONFIG_HOME", dir)];

    // Without a profile or variables, nothing to call.
    let (code, _, err) = run(&["cert", "list"], &base, None);
    assert_eq!(code, 1);
    assert!(err.contains("wafcert login"), "{err}");
    // A bad token is not saved.
    let (code, _, err) = run(
        &[
            "login",
            "--endpoint",
            &app.base,
            "--project-id",
            &app.project,
            "--token",
            "wafcert_bad",
        ],
        &base,
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("WAF.00012001"), "{err}");

    let (code, _, err) = run(
        &[
            "login",
            "--endpoint",
            &app.base,
            "--project-id",
            &app.project,
            "--token",
            &app.token,
        ],
        &base,
        None,
    );
    assert_eq!(code, 0, "{err}");
    let file = config.path().join("wafcert/profiles.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, out, err) = run(&["cert", "list", "--output", "table"], &base, None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from-profile"));

    // Environment variables win over the profile.
    let (code, _, err) = run(
        &["cert", "list"],
        &[("XDG_CONFIG_HOME", dir), ("WAFCERT_TOKEN", "wafcert_bad")],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("WAF.00012001"), "{err}");
    // A named profile that does not exist is an error; one that does is used.
    let (code, _, err) = run(&["cert", "list", "--profile", "prod"], &base, None);
    assert_eq!(code, 1);
    assert!(err.contains("no profile named prod"), "{err}");

    // A password login (password on stdin) saves the token it bought, under another name.
    let user = wafcert::storage::UserRecord {
        id: wafcert::domain::UserId::random(),
        name: "cli-user".to_owned(),
        domain: "Default".to_owned(),
        project: wafcert::domain::ProjectId::parse(&app.project).unwrap(),
        role: wafcert::domain::Role::ReadOnly,
        password_hash: wafcert::auth::hash_password("cli password").unwrap(),
    };
    app.store
        .insert_user(&user, wafcert::domain::now_ms())
        .await
        .unwrap();
    let (code, _, err) = run(
        &[
            "login",
            "--endpoint",
            &app.base,
            "--username",
            "cli-user",
            "--profile",
            "prod",
        ],
        &base,
        Some("wrong\n"),
    );
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(
        &[
            "login",
            "--endpoint",
            &app.base,
            "--username",
            "cli-user",
            "--profile",
            "prod",
        ],
        &base,
        Some("cli password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &["cert", "list", "--profile", "prod", "--output", "table"],
        &base,
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from-profile"));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(saved["profiles"]["default"]["token"].is_string());
    assert!(saved["profiles"]["prod"]["expires_at"].is_string());
}

#[test]
fn completions_for_three_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell], &[], None);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("wafcert") && out.contains("login") && out.contains("host"),
            "{shell}"
        );
    }
    let (code, _, _) = run(&["completions", "tcsh"], &[], None);
    assert_ne!(code, 0);
}
