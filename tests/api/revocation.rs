//! Revocation and deletion take effect on the next request, also after the server's database
//! connections have all been closed for idleness (issue 14, finding 1): the SQLite commit
//! detector must keep watching the live `-shm` file.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use wafcert::auth::hash_password;
use wafcert::domain::Role;
use wafcert::domain::{ProjectId, UserId, now_ms};
use wafcert::storage::UserRecord;

use crate::helpers::*;

const PASSWORD: &str = "idle-test-password";

crate::on_both_backends!(revocation_holds_after_the_pool_went_idle);

/// Sleeps past the idle timeout so the pool closes every connection.
async fn let_the_pool_go_idle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

async fn keystone_token(app: &TestApp) -> String {
    let project = ProjectId::parse(&app.project).unwrap();
    let user = UserRecord {
        id: UserId::random(),
        name: "idle".to_owned(),
        domain: "Default".to_owned(),
        project,
        role: Role::ReadOnly,
        password_hash: hash_password(PASSWORD).unwrap(),
    };
    app.store.insert_user(&user, now_ms()).await.unwrap();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "idle", "domain": {"name": "Default"}, "password": PASSWORD}}}}});
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

async fn revocation_holds_after_the_pool_went_idle(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.pool.idle_timeout = Duration::from_millis(100)).await;
    let reader = app.token_for(&app.project, Role::ReadOnly, None).await;
    let doomed = app.token_for(&app.project, Role::Admin, None).await;
    let keystone = keystone_token(&app).await;
    let id = app.create_cert("idle", &fixture(30)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Verified and cached: every credential, the page and the certificate.
    for token in [&reader, &doomed, &keystone] {
        assert_eq!(app.get_as("waf/certificate", token).await.0, StatusCode::OK);
        assert_eq!(
            app.get_as(&format!("waf/certificate/{id}"), token).await.0,
            StatusCode::OK
        );
    }

    // An admin command in another process revokes a token.
    let_the_pool_go_idle().await;
    let out = Command::new(BIN)
        .args([
            "token",
            "revoke",
            "--database",
            &app.config.database_url,
            &doomed,
        ])
        .env("WAFCERT_MASTER_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_error(
        &app.get_as("waf/certificate", &doomed).await,
        401,
        "WAF.00012001",
    );

    // A Keystone token deleted through the server.
    let_the_pool_go_idle().await;
    let resp = app
        .client
        .delete(format!("{}/v3/auth/tokens", app.base))
        .header("X-Auth-Token", &keystone)
        .header("X-Subject-Token", &keystone)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as("waf/certificate", &keystone).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A certificate deleted with one token is gone for another whose reads were cached.
    let_the_pool_go_idle().await;
    assert_eq!(
        app.delete(&format!("waf/certificate/{id}")).await.0,
        StatusCode::OK
    );
    assert_error(
        &app.get_as(&format!("waf/certificate/{id}"), &reader).await,
        404,
        "WAF.00022001",
    );
    let (status, list) = app.get_as("waf/certificate", &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 0, "{list}");
}
