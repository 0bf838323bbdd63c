//! The IAM lookups SDKs make before their first WAF call (issue 15): `GET /v3/projects?name=`
//! (huaweicloudsdkcore's `BasicCredentials` without a project id, and Certimate's
//! `getSdkProjectId`), `GET /v3/projects/{id}`, `GET /v3/auth/projects` and
//! `GET /v3/auth/domains` (the Go SDK's global credentials), for every kind of credential.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::domain::Role;

use crate::helpers::*;
use crate::keystone::{add_user, assert_keystone_error, login_ok};

crate::on_both_backends!(
    every_credential_finds_its_own_project,
    lookups_answer_only_the_callers_project,
);

/// `GET {base}{path_query}` with an `X-Auth-Token`.
async fn get_v3(app: &TestApp, path_query: &str, token: &str) -> (StatusCode, Value) {
    app.send(
        app.client
            .get(format!("{}{path_query}", app.base))
            .header("X-Auth-Token", token),
    )
    .await
}

fn project_ids(body: &Value) -> Vec<String> {
    body["projects"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_credential_finds_its_own_project(db: Db) {
    let app = TestApp::spawn_on(db).await;
    add_user(&app, "iam-user", "Default", &app.project, Role::Admin).await;
    let (keystone_token, _) = login_ok(&app, "iam-user").await;
    let readonly = app.token_for(&app.project, Role::ReadOnly, None).await;
    // The admin-command token, a Keystone token and a readonly token.
    for token in [&app.token, &keystone_token, &readonly] {
        let (status, body) = get_v3(&app, "/v3/projects?name=eu-de", token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(project_ids(&body), vec![app.project.clone()]);
        let project = &body["projects"][0];
        assert_eq!(
            project["name"],
            app.project.as_str(),
            "named by its id by default"
        );
        assert_eq!(project["enabled"], true);
        assert_eq!(project["domain_id"], "default");
        assert!(
            body["links"]["self"]
                .as_str()
                .unwrap()
                .ends_with("/v3/projects?name=eu-de")
        );
        assert_eq!(body["links"]["next"], Value::Null);
        assert_eq!(body["links"]["previous"], Value::Null);
    }
    // An AK/SK signature, as huaweicloudsdkcore signs the lookup (no X-Project-Id yet).
    let key = app.access_key(Role::Admin).await;
    let (status, body) = app
        .send(app.signed("GET", "/v3/projects?name=eu-de", &Value::Null, &key, &[]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(project_ids(&body), vec![app.project.clone()]);
    // The Go SDK's global credentials ask for the domain first, then send X-Domain-Id.
    let (status, domains) = app
        .send(app.signed("GET", "/v3/auth/domains", &Value::Null, &key, &[]))
        .await;
    assert_eq!(status, 200, "{domains}");
    assert_eq!(domains["domains"][0]["id"], "default");
    assert_eq!(domains["domains"][0]["name"], "Default");
    let (status, body) = app
        .send(app.signed(
            "GET",
            "/v3/projects?name=eu-de",
            &Value::Null,
            &key,
            &[("x-domain-id", "default")],
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(project_ids(&body), vec![app.project.clone()]);
    // A wrong secret is 401 in Keystone's shape.
    let wrong = AccessKey {
        ak: key.ak.clone(),
        sk: "not-the-secret".to_owned(),
    };
    let (status, body) = app
        .send(app.signed("GET", "/v3/projects?name=eu-de", &Value::Null, &wrong, &[]))
        .await;
    assert_keystone_error(status, &body, 401);
}

async fn lookups_answer_only_the_callers_project(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let token = app.token.clone();
    // By the project's own name, by the region, unfiltered: the caller's project; any other
    // name: none.
    for (query, expected) in [
        (format!("?name={}", app.project), 1),
        ("?name=eu-de".to_owned(), 1),
        (String::new(), 1),
        ("?name=eu-nl".to_owned(), 0),
        ("?name=".to_owned(), 0),
    ] {
        let (status, body) = get_v3(&app, &format!("/v3/projects{query}"), &token).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(project_ids(&body).len(), expected, "{query}");
    }
    // Another project's token sees only its own project.
    let other = wafcert::domain::ProjectId::random().to_string();
    let other_token = app.token_for(&other, Role::Admin, None).await;
    let (_, body) = get_v3(&app, "/v3/projects?name=eu-de", &other_token).await;
    assert_eq!(project_ids(&body), vec![other.clone()]);
    // One project by id.
    let (status, body) = get_v3(&app, &format!("/v3/projects/{}", app.project), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["project"]["id"], app.project.as_str());
    let (status, body) = get_v3(&app, &format!("/v3/projects/{other}"), &token).await;
    assert_keystone_error(status, &body, 404);
    // The projects the caller may scope to.
    let (status, body) = get_v3(&app, "/v3/auth/projects", &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(project_ids(&body), vec![app.project.clone()]);
    // No or bad credentials: 401 with Keystone's challenge; wrong method: 405.
    for path in ["/v3/projects", "/v3/auth/projects", "/v3/auth/domains"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("www-authenticate"), "{path}");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_keystone_error(status, &body, 401);
        let (status, body) = get_v3(&app, path, "wafcert_not-a-token").await;
        assert_keystone_error(status, &body, 401);
    }
    let (status, body) = app
        .send(
            app.client
                .post(format!("{}/v3/projects", app.base))
                .header("X-Auth-Token", &token)
                .json(&json!({})),
        )
        .await;
    assert_keystone_error(status, &body, 405);
}
