//! The Keystone-style identity routes: login by password (user name + domain, or user id) and
//! by token, project scope by id or by name, the token body and catalog, validation and
//! revocation with `X-Subject-Token`, and Keystone's error shape.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::auth::hash_password;
use wafcert::domain::Role;
use wafcert::domain::{ProjectId, UserId, now_ms};
use wafcert::storage::UserRecord;

use crate::helpers::*;

crate::on_both_backends!(
    password_login_by_name_and_domain,
    password_login_by_user_id_scoped_by_project_name,
    token_method_rescopes_without_extending,
    bad_credentials_are_401_in_keystone_shape,
    tokens_are_validated_and_revoked,
    readonly_users_get_readonly_tokens,
    only_allowed_callers_see_a_token,
);

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A user of `project` (created if missing) in `domain`; returns the user id.
pub(crate) async fn add_user(
    app: &TestApp,
    name: &str,
    domain: &str,
    project: &str,
    role: Role,
) -> String {
    let project = ProjectId::parse(project).unwrap();
    app.store
        .ensure_project(&project, None, now_ms())
        .await
        .unwrap();
    let id = UserId::random();
    let user = UserRecord {
        id: id.clone(),
        name: name.to_owned(),
        domain: domain.to_owned(),
        project,
        role,
        password_hash: hash_password(PASSWORD).unwrap(),
    };
    app.store.insert_user(&user, now_ms()).await.unwrap();
    id.to_string()
}

pub(crate) fn password_body(user: Value, password: &str, scope: Option<Value>) -> Value {
    let mut user = user;
    user["password"] = json!(password);
    let mut body =
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}});
    if let Some(scope) = scope {
        body["auth"]["scope"] = scope;
    }
    body
}

/// POSTs a token request; returns status, `X-Subject-Token`, body and `WWW-Authenticate`.
pub(crate) async fn login(
    app: &TestApp,
    body: &Value,
) -> (StatusCode, Option<String>, Value, Option<String>) {
    let resp = app
        .client
        .post(format!("{}/v3/auth/tokens", app.base))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (token, challenge) = (header("x-subject-token"), header("www-authenticate"));
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, token, body, challenge)
}

/// Logs in by name in `Default`, scoped to the app's project by id; returns token and body.
pub(crate) async fn login_ok(app: &TestApp, name: &str) -> (String, Value) {
    let body = password_body(
        json!({"name": name, "domain": {"name": "Default"}}),
        PASSWORD,
        Some(json!({"project": {"id": app.project}})),
    );
    let (status, token, body, _) = login(app, &body).await;
    assert_eq!(status, 201, "{body}");
    (token.expect("X-Subject-Token"), body)
}

#[track_caller]
pub(crate) fn assert_keystone_error(status: StatusCode, body: &Value, code: u16) {
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 5),
        "{body}"
    );
}

/// Parses Keystone's `2026-01-01T12:00:00.000000Z` into epoch ms.
fn iso_ms(text: &str) -> i64 {
    assert_eq!(text.len(), 27, "{text}");
    assert!(text.ends_with('Z'), "{text}");
    let num = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    wafcert::domain::UtcDateTime {
        year: num(0..4),
        month: num(5..7),
        day: num(8..10),
        hour: num(11..13),
        minute: num(14..16),
        second: num(17..19),
        milli: num(20..23),
    }
    .to_millis()
}

async fn password_login_by_name_and_domain(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let user_id = add_user(&app, "alice", "Default", &app.project, Role::Admin).await;
    let before = now_ms();
    let (token, body) = login_ok(&app, "alice").await;
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["id"], user_id);
    assert_eq!(t["user"]["name"], "alice");
    assert_eq!(
        t["user"]["domain"],
        json!({"id": "default", "name": "Default"})
    );
    assert_eq!(t["project"]["id"], app.project);
    assert_eq!(t["project"]["domain"]["id"], "default");
    assert_eq!(t["roles"][0]["name"], "admin");
    let issued = iso_ms(t["issued_at"].as_str().unwrap());
    let expires = iso_ms(t["expires_at"].as_str().unwrap());
    assert!((before - 1000..=now_ms() + 1000).contains(&issued), "{t}");
    assert_eq!(expires - issued, 24 * 3600 * 1000, "24-hour lifetime");
    // The catalog: premium-waf ends in /v1/{project}, waf is the server root, in eu-de.
    let catalog = t["catalog"].as_array().unwrap();
    let endpoint = |kind: &str| {
        let service = catalog
            .iter()
            .find(|s| s["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {t}"));
        assert!(service["id"].is_string() && service["name"].is_string());
        service["endpoints"][0].clone()
    };
    assert_eq!(
        endpoint("premium-waf")["url"],
        format!("{}/v1/{}", app.base, app.project)
    );
    assert_eq!(endpoint("waf")["url"], app.base);
    assert_eq!(endpoint("identity")["url"], format!("{}/v3", app.base));
    for kind in ["premium-waf", "waf", "identity"] {
        let e = endpoint(kind);
        assert_eq!(e["interface"], "public");
        assert_eq!(e["region"], "eu-de");
        assert_eq!(e["region_id"], "eu-de");
        assert!(e["id"].is_string());
    }
    // The token works on the WAF API and never appears in the body.
    assert!(!body.to_string().contains(&token));
    assert_eq!(app.get_as("waf/certificate", &token).await.0, 200);
    // Passwords are stored as argon2 hashes.
    let stored = app.store.user(Some(&user_id), None).await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "slow hash");
    assert!(!stored.password_hash.contains(PASSWORD));
}

async fn password_login_by_user_id_scoped_by_project_name(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.region = "eu-ch2".to_owned();
        c.public_url = Some("https://waf.example.test/".to_owned());
    })
    .await;
    // A project with a name of its own, in another domain.
    let project = ProjectId::random();
    app.store
        .ensure_project_in(&project, Some("eu-ch2_shop"), "acme", now_ms())
        .await
        .unwrap();
    let user_id = add_user(&app, "bob", "acme", project.as_str(), Role::Admin).await;
    for scope in [
        json!({"project": {"name": "eu-ch2_shop", "domain": {"name": "acme"}}}),
        json!({"project": {"name": "eu-ch2_shop", "domain": {"id": "acme"}}}),
        json!({"project": {"id": project.as_str()}}),
    ] {
        let (status, token, body, _) = login(
            &app,
            &password_body(json!({"id": user_id}), PASSWORD, Some(scope)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let t = &body["token"];
        assert_eq!(
            t["project"],
            json!({"id": project.as_str(), "name": "eu-ch2_shop", "domain": {"id": "acme", "name": "acme"}})
        );
        assert_eq!(t["user"]["domain"]["name"], "acme");
        // Region and public URL come from the configuration.
        let waf = t["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == "premium-waf")
            .unwrap()
            .clone();
        assert_eq!(
            waf["endpoints"][0]["url"],
            format!("https://waf.example.test/v1/{project}")
        );
        assert_eq!(waf["endpoints"][0]["region_id"], "eu-ch2");
        let answer = app
            .send(
                app.client
                    .get(format!("{}/v1/{project}/waf/certificate", app.base))
                    .header("X-Auth-Token", token.unwrap()),
            )
            .await;
        assert_eq!(answer.0, 200);
    }
    // By name in the domain `acme`; without a scope the token acts in the user's project.
    let (status, _, body, _) = login(
        &app,
        &password_body(
            json!({"name": "bob", "domain": {"id": "acme"}}),
            PASSWORD,
            None,
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["token"]["project"]["id"], project.as_str());
    // The same name in the default domain is another (unknown) user.
    let (status, _, body, _) = login(
        &app,
        &password_body(
            json!({"name": "bob", "domain": {"id": "default"}}),
            PASSWORD,
            None,
        ),
    )
    .await;
    assert_keystone_error(status, &body, 401);
    // The version documents name the public URL.
    let version: Value = app
        .client
        .get(format!("{}/v3", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version["version"]["id"], "v3.14");
    assert_eq!(version["version"]["status"], "stable");
    assert_eq!(
        version["version"]["links"][0]["href"],
        "https://waf.example.test/v3/"
    );
    let root = app.client.get(&app.base).send().await.unwrap();
    assert_eq!(root.status(), 300);
    let root: Value = root.json().await.unwrap();
    assert_eq!(root["versions"]["values"][0]["id"], "v3.14");
}

async fn token_method_rescopes_without_extending(db: Db) {
    let app = TestApp::spawn_on(db).await;
    add_user(&app, "carol", "Default", &app.project, Role::Admin).await;
    let (first, first_body) = login_ok(&app, "carol").await;
    let token_body = |id: &str, scope: Value| json!({"auth": {"identity": {"methods": ["token"], "token": {"id": id}}, "scope": scope}});
    let (status, second, body, _) = login(
        &app,
        &token_body(
            &first,
            json!({"project": {"name": app.project, "domain": {"name": "Default"}}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let second = second.unwrap();
    assert_ne!(second, first);
    assert_eq!(body["token"]["methods"], json!(["token"]));
    assert_eq!(body["token"]["user"], first_body["token"]["user"]);
    assert!(
        iso_ms(body["token"]["expires_at"].as_str().unwrap())
            <= iso_ms(first_body["token"]["expires_at"].as_str().unwrap())
    );
    assert!(
        body["token"]["catalog"]
            .as_array()
            .is_some_and(|c| c.len() == 3)
    );
    assert_eq!(app.get_as("waf/certificate", &second).await.0, 200);
    // Unknown or revoked tokens, and tokens of the admin command (no user), buy nothing.
    let (status, token, body, _) = login(
        &app,
        &token_body("wafcert_nope", json!({"project": {"id": app.project}})),
    )
    .await;
    assert_keystone_error(status, &body, 401);
    assert!(token.is_none());
    let (status, _, body, _) = login(
        &app,
        &token_body(&app.token, json!({"project": {"id": app.project}})),
    )
    .await;
    assert_keystone_error(status, &body, 401);
    assert!(
        app.store
            .revoke_token(&wafcert::crypto::token_hash(&first))
            .await
            .unwrap()
    );
    let (status, _, body, _) = login(
        &app,
        &token_body(&first, json!({"project": {"id": app.project}})),
    )
    .await;
    assert_keystone_error(status, &body, 401);
}

async fn bad_credentials_are_401_in_keystone_shape(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let user_id = add_user(&app, "dave", "Default", &app.project, Role::Admin).await;
    let other_project = ProjectId::random();
    app.store
        .ensure_project(&other_project, None, now_ms())
        .await
        .unwrap();
    let by_name = json!({"name": "dave", "domain": {"name": "Default"}});
    let scope = Some(json!({"project": {"id": app.project}}));
    let cases = [
        (
            "wrong password",
            password_body(by_name.clone(), "wrong", scope.clone()),
        ),
        (
            "unknown user",
            password_body(
                json!({"name": "nobody", "domain": {"name": "Default"}}),
                PASSWORD,
                scope.clone(),
            ),
        ),
        (
            "unknown user id",
            password_body(
                json!({"id": ProjectId::random().as_str()}),
                PASSWORD,
                scope.clone(),
            ),
        ),
        (
            "wrong domain",
            password_body(
                json!({"name": "dave", "domain": {"name": "Other"}}),
                PASSWORD,
                scope.clone(),
            ),
        ),
        (
            "unknown project",
            password_body(
                by_name.clone(),
                PASSWORD,
                Some(json!({"project": {"id": ProjectId::random().as_str()}})),
            ),
        ),
        (
            "unknown project name",
            password_body(
                json!({"id": user_id}),
                PASSWORD,
                Some(json!({"project": {"name": "nope", "domain": {"name": "Default"}}})),
            ),
        ),
        (
            "another project",
            password_body(
                by_name.clone(),
                PASSWORD,
                Some(json!({"project": {"id": other_project.as_str()}})),
            ),
        ),
        (
            "domain scope",
            password_body(
                by_name.clone(),
                PASSWORD,
                Some(json!({"domain": {"id": "default"}})),
            ),
        ),
    ];
    let mut messages = Vec::new();
    for (what, body) in cases {
        let (status, token, answer, challenge) = login(&app, &body).await;
        assert_eq!(status, 401, "{what}: {answer}");
        assert_keystone_error(status, &answer, 401);
        assert_eq!(answer["error"]["title"], "Unauthorized");
        assert!(token.is_none(), "{what}");
        assert_eq!(
            challenge.as_deref(),
            Some(format!("Keystone uri=\"{}/v3\"", app.base).as_str()),
            "{what}"
        );
        assert!(
            !answer.to_string().contains(PASSWORD) && !answer.to_string().contains("wrong"),
            "{what}"
        );
        if what != "domain scope" {
            messages.push(answer["error"]["message"].clone());
        }
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "the message does not tell which part was wrong: {messages:?}"
    );
    // Malformed requests are 400 in the same shape.
    for body in [
        json!({}),
        json!({"auth": {"identity": {"methods": ["password"]}}}),
        password_body(json!({"name": "dave"}), PASSWORD, None),
    ] {
        let (status, _, answer, _) = login(&app, &body).await;
        assert_keystone_error(status, &answer, 400);
    }
    let resp = app
        .client
        .post(format!("{}/v3/auth/tokens", app.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let answer: Value = resp.json().await.unwrap();
    assert_keystone_error(StatusCode::BAD_REQUEST, &answer, 400);
    // Unknown identity routes and methods answer in Keystone's shape too.
    let resp = app
        .client
        .get(format!("{}/v3/users?name=alice", app.base))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_keystone_error(status, &resp.json().await.unwrap(), 404);
    let resp = app
        .client
        .put(format!("{}/v3/auth/tokens", app.base))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_keystone_error(status, &resp.json().await.unwrap(), 405);
}

/// GET/HEAD/DELETE `/v3/auth/tokens` with the caller's and the subject's tokens.
async fn subject(
    app: &TestApp,
    method: reqwest::Method,
    caller: Option<&str>,
    subject: &str,
    query: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app
        .client
        .request(method, format!("{}/v3/auth/tokens{query}", app.base))
        .header("X-Subject-Token", subject);
    if let Some(caller) = caller {
        req = req.header("X-Auth-Token", caller);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let echoed = resp
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    (
        status,
        echoed,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn tokens_are_validated_and_revoked(db: Db) {
    use reqwest::Method;
    let app = TestApp::spawn_on(db).await;
    add_user(&app, "erin", "Default", &app.project, Role::Admin).await;
    let (token, issued) = login_ok(&app, "erin").await;
    // Validate: the same description, the token echoed.
    let (status, echoed, body) = subject(&app, Method::GET, Some(&token), &token, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echoed.as_deref(), Some(token.as_str()));
    for field in [
        "user",
        "project",
        "roles",
        "catalog",
        "expires_at",
        "issued_at",
    ] {
        assert_eq!(body["token"][field], issued["token"][field], "{field}");
    }
    let (status, _, body) = subject(&app, Method::GET, Some(&token), &token, "?nocatalog").await;
    assert_eq!(status, 200);
    assert!(body["token"].get("catalog").is_none());
    assert_eq!(
        subject(&app, Method::HEAD, Some(&token), &token, "")
            .await
            .0,
        200
    );
    // The caller must authenticate; an unknown subject is 404.
    let (status, _, body) = subject(&app, Method::GET, None, &token, "").await;
    assert_keystone_error(status, &body, 401);
    let (status, _, body) = subject(&app, Method::GET, Some("wafcert_nope"), &token, "").await;
    assert_keystone_error(status, &body, 401);
    let (status, _, body) = subject(&app, Method::GET, Some(&token), "wafcert_nope", "").await;
    assert_keystone_error(status, &body, 404);
    // Admin-command tokens are not Keystone tokens, but an admin of the project may look.
    let (status, _, body) = subject(&app, Method::GET, Some(&token), &app.token, "").await;
    assert_keystone_error(status, &body, 404);
    assert_eq!(
        subject(&app, Method::GET, Some(&app.token), &token, "")
            .await
            .0,
        200
    );
    // Revoke: 204, then the token is dead everywhere.
    let (status, _, _) = subject(&app, Method::DELETE, Some(&token), &token, "").await;
    assert_eq!(status, 204);
    assert_error(
        &app.get_as("waf/certificate", &token).await,
        401,
        "WAF.00012001",
    );
    let (status, _, body) = subject(&app, Method::GET, Some(&app.token), &token, "").await;
    assert_keystone_error(status, &body, 404);
    let (status, _, body) = subject(&app, Method::DELETE, Some(&app.token), &token, "").await;
    assert_keystone_error(status, &body, 404);
    // An expired token is gone as well.
    let (expired, _) = login_ok(&app, "erin").await;
    let pool_sql = format!(
        "UPDATE tokens SET expires_at_ms = {} WHERE token_hash = '{}'",
        now_ms() - 1,
        wafcert::crypto::token_hash(&expired)
    );
    sql(&app, &pool_sql).await;
    let (status, _, body) = subject(&app, Method::GET, Some(&app.token), &expired, "").await;
    assert_keystone_error(status, &body, 404);
}

async fn readonly_users_get_readonly_tokens(db: Db) {
    let app = TestApp::spawn_on(db).await;
    add_user(&app, "frank", "Default", &app.project, Role::ReadOnly).await;
    let (token, body) = login_ok(&app, "frank").await;
    assert_eq!(
        body["token"]["roles"],
        json!([{"id": "readonly", "name": "readonly"}])
    );
    let id = app.create_cert("ro-visible", &fixture(40)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get_as("waf/certificate", &token).await.1["total"], 1);
    let (status, shown) = app.get_as(&format!("waf/certificate/{id}"), &token).await;
    assert_eq!(status, 200);
    assert!(shown.get("key").is_none(), "readonly never sees keys");
    let answer = app
        .send(
            app.client
                .post(app.url("waf/certificate"))
                .header("X-Auth-Token", &token)
                .json(&fixture(40).body("nope")),
        )
        .await;
    assert_error(&answer, 401, "WAF.00012003");
    // Rescoping a readonly token keeps it readonly.
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token}}, "scope": {"project": {"id": app.project}}}});
    let (status, _, body, _) = login(&app, &rescope).await;
    assert_eq!(status, 201);
    assert_eq!(body["token"]["roles"][0]["name"], "readonly");
}

async fn only_allowed_callers_see_a_token(db: Db) {
    use reqwest::Method;
    let app = TestApp::spawn_on(db).await;
    add_user(&app, "gina", "Default", &app.project, Role::Admin).await;
    add_user(&app, "hank", "Default", &app.project, Role::ReadOnly).await;
    let (gina, _) = login_ok(&app, "gina").await;
    let (hank, _) = login_ok(&app, "hank").await;
    let (hank_again, _) = login_ok(&app, "hank").await;
    // Same user: yes. A readonly colleague: no. An admin of another project: no.
    assert_eq!(
        subject(&app, Method::GET, Some(&hank_again), &hank, "")
            .await
            .0,
        200
    );
    let (status, _, body) = subject(&app, Method::GET, Some(&hank), &gina, "").await;
    assert_keystone_error(status, &body, 403);
    let (status, _, body) = subject(&app, Method::DELETE, Some(&hank), &gina, "").await;
    assert_keystone_error(status, &body, 403);
    let stranger = app
        .token_for(ProjectId::random().as_str(), Role::Admin, None)
        .await;
    let (status, _, body) = subject(&app, Method::GET, Some(&stranger), &gina, "").await;
    assert_keystone_error(status, &body, 403);
    // An admin of the project revokes a colleague's token.
    assert_eq!(
        subject(&app, Method::DELETE, Some(&gina), &hank, "")
            .await
            .0,
        204
    );
    assert_eq!(app.get_as("waf/certificate", &hank).await.0, 401);
    assert_eq!(
        app.get_as("waf/certificate", &hank_again).await.0,
        200,
        "only that token"
    );
}

/// Runs one SQL statement on the test database.
async fn sql(app: &TestApp, statement: &str) {
    use sqlx::Connection;
    let url = if app.db.url.starts_with("sqlite:") {
        format!("{}?mode=rw", app.db.url)
    } else {
        app.db.url.clone()
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
}
