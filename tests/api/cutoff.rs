//! Credentials that can be cut off (issue 14, finding 2), through the admin commands against a
//! running server's database: access-key revoke, user disable, user set-password, token list
//! and revoke by id, Keystone tokens bought with a token revoked with it, and the default
//! lifetime of admin-command and bootstrap tokens.

use reqwest::StatusCode;
use serde_json::json;
use wafcert::app::MasterKeySource;
use wafcert::auth::{SignedRequest, format_basic_date, sign_request};
use wafcert::crypto::{token_hash, token_id};
use wafcert::domain::now_ms;

use crate::helpers::*;

const DAY_MS: i64 = 86_400_000;

crate::on_both_backends!(
    access_keys_can_be_revoked,
    users_can_be_disabled_and_given_a_new_password,
    tokens_are_listed_and_revoked_by_id,
    tokens_bought_with_a_token_are_revoked_with_it,
    admin_tokens_expire_by_default,
);

/// Runs the binary on the app's database; returns success, stdout, stderr.
fn cli(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    let MasterKeySource::Hex(key) = &app.config.master_key else {
        panic!("tests use a hex master key")
    };
    let (command, rest) = args.split_at(2);
    let mut full: Vec<&str> = command.to_vec();
    full.extend(["--database", app.db.url.as_str()]);
    full.extend(rest);
    run_wafcert(&full, &[("WAFCERT_MASTER_KEY", key.as_str())], stdin)
}

async fn signed_get(app: &TestApp, ak: &str, sk: &str) -> StatusCode {
    let path = format!("/v1/{}/waf/certificate", app.project);
    let host = app.base.trim_start_matches("http://");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    headers.insert("x-sdk-date", format_basic_date(now_ms()).parse().unwrap());
    let unsigned = SignedRequest {
        method: "GET",
        path: &path,
        query: "",
        headers: &headers,
        body: b"",
        authorization: "",
    };
    let authorization = sign_request(&unsigned, ak, sk.as_bytes()).unwrap();
    headers.insert("authorization", authorization.parse().unwrap());
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .headers(headers)
        .send()
        .await
        .unwrap();
    resp.status()
}

async fn access_keys_can_be_revoked(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let (ok, out, err) = cli(
        &app,
        &["access-key", "create", "--project-id", &app.project],
        "",
    );
    assert!(ok, "{err}");
    let (ak, sk) = out.trim().split_once(' ').unwrap();
    assert_eq!(signed_get(&app, ak, sk).await, StatusCode::OK);
    let (ok, _, err) = cli(&app, &["access-key", "revoke", ak], "");
    assert!(ok, "{err}");
    assert_eq!(signed_get(&app, ak, sk).await, StatusCode::UNAUTHORIZED);
    let (ok, _, err) = cli(&app, &["access-key", "revoke", ak], "");
    assert!(!ok && err.contains("no such access key"), "{err}");
}

async fn login(app: &TestApp, name: &str, password: &str) -> (StatusCode, Option<String>) {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"name": "Default"}, "password": password}}}}});
    let resp = app
        .client
        .post(format!("{}/v3/auth/tokens", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let token = resp
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), token)
}

async fn rescope(app: &TestApp, token: &str) -> String {
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}});
    let resp = app
        .client
        .post(format!("{}/v3/auth/tokens", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn create_user(app: &TestApp, name: &str, password: &str) {
    let (ok, _, err) = cli(
        app,
        &[
            "user",
            "create",
            "--name",
            name,
            "--project-id",
            &app.project,
        ],
        &format!("{password}\n"),
    );
    assert!(ok, "{err}");
}

async fn users_can_be_disabled_and_given_a_new_password(db: Db) {
    let app = TestApp::spawn_on(db).await;
    create_user(&app, "mia", "old-password");
    let (status, token) = login(&app, "mia", "old-password").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token.unwrap();
    let child = rescope(&app, &token).await;
    assert_eq!(app.get_as("waf/certificate", &token).await.0, 200);

    // A new password: the user's tokens stop working, only the new password logs in.
    let (ok, out, err) = cli(
        &app,
        &["user", "set-password", "--name", "mia"],
        "new-password\n",
    );
    assert!(ok && out.contains("password set"), "{err}");
    for t in [&token, &child] {
        assert_eq!(app.get_as("waf/certificate", t).await.0, 401);
    }
    assert_eq!(login(&app, "mia", "old-password").await.0, 401);
    let (status, token) = login(&app, "mia", "new-password").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token.unwrap();
    assert_eq!(app.get_as("waf/certificate", &token).await.0, 200);

    // Disabled: tokens revoked, no login, not even with a token.
    let (ok, _, err) = cli(&app, &["user", "disable", "--name", "mia"], "");
    assert!(ok, "{err}");
    assert_eq!(app.get_as("waf/certificate", &token).await.0, 401);
    assert_eq!(login(&app, "mia", "new-password").await.0, 401);
    let (ok, _, err) = cli(&app, &["user", "disable", "--name", "nobody"], "");
    assert!(!ok && err.contains("no user"), "{err}");
}

async fn tokens_are_listed_and_revoked_by_id(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let create = |extra: &[&str]| {
        let mut args = vec!["token", "create", "--project-id", app.project.as_str()];
        args.extend(extra);
        let (ok, out, err) = cli(&app, &args, "");
        assert!(ok, "{err}");
        out.trim().to_owned()
    };
    let forever = create(&["--ttl", "never", "--role", "readonly"]);
    let monthly = create(&[]);
    let (ok, listing, err) = cli(&app, &["token", "list", "--project-id", &app.project], "");
    assert!(ok, "{err}");
    assert!(!listing.contains(&forever) && !listing.contains(&monthly));
    let lines: Vec<Vec<&str>> = listing.lines().map(|l| l.split(' ').collect()).collect();
    // The app's own token, then the two made here.
    assert_eq!(lines.len(), 3, "{listing}");
    assert_eq!(lines[1], [token_id(&forever).as_str(), "readonly", "never"]);
    assert_eq!(lines[2][..2], [token_id(&monthly).as_str(), "admin"]);
    assert!(
        lines[2][2].ends_with('Z') && lines[2][2].contains('T'),
        "{listing}"
    );
    assert_eq!(token_id(&forever), token_hash(&forever)[..16]);

    let (ok, _, err) = cli(&app, &["token", "revoke", &token_id(&forever)], "");
    assert!(ok, "{err}");
    assert_eq!(app.get_as("waf/certificate", &forever).await.0, 401);
    assert_eq!(app.get_as("waf/certificate", &monthly).await.0, 200);
    let (_, listing, _) = cli(&app, &["token", "list", "--project-id", &app.project], "");
    assert_eq!(listing.lines().count(), 2, "{listing}");
    // The secret still works as the argument.
    let (ok, _, err) = cli(&app, &["token", "revoke", &monthly], "");
    assert!(ok, "{err}");
    assert_eq!(app.get_as("waf/certificate", &monthly).await.0, 401);
    let (ok, _, err) = cli(&app, &["token", "revoke", "0123456789abcdef"], "");
    assert!(!ok && err.contains("no token"), "{err}");
}

async fn tokens_bought_with_a_token_are_revoked_with_it(db: Db) {
    let app = TestApp::spawn_on(db).await;
    create_user(&app, "noa", "pw-noa-1");
    let (_, parent) = login(&app, "noa", "pw-noa-1").await;
    let parent = parent.unwrap();
    let child = rescope(&app, &parent).await;
    let grandchild = rescope(&app, &child).await;
    let (_, other) = login(&app, "noa", "pw-noa-1").await;
    let other = other.unwrap();
    for t in [&parent, &child, &grandchild] {
        assert_eq!(app.get_as("waf/certificate", t).await.0, 200);
    }
    let resp = app
        .client
        .delete(format!("{}/v3/auth/tokens", app.base))
        .header("X-Auth-Token", &other)
        .header("X-Subject-Token", &parent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for t in [&parent, &child, &grandchild] {
        assert_eq!(app.get_as("waf/certificate", t).await.0, 401);
    }
    assert_eq!(app.get_as("waf/certificate", &other).await.0, 200);
}

async fn admin_tokens_expire_by_default(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let (ok, out, err) = cli(&app, &["token", "create", "--project-id", &app.project], "");
    assert!(ok, "{err}");
    let record = app
        .store
        .token(&token_hash(out.trim()))
        .await
        .unwrap()
        .unwrap();
    let left = record.expires_at.unwrap() - now_ms();
    assert!((29 * DAY_MS..=30 * DAY_MS).contains(&left), "{left}");

    // The bootstrap token too.
    let fresh = TestDb::new(db).await;
    let mut config = config_for(&fresh.url);
    config.bootstrap = true;
    let mut server = wafcert::app::App::build(&config).await.unwrap();
    let first = server.take_bootstrap().unwrap();
    let record = server
        .state()
        .store
        .token(&token_hash(&first.token))
        .await
        .unwrap()
        .unwrap();
    let left = record.expires_at.unwrap() - now_ms();
    assert!((29 * DAY_MS..=30 * DAY_MS).contains(&left), "{left}");
    server.state().store.close().await;
}
