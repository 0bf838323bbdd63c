//! Authentication and authorisation: tokens (missing, unknown, expired, revoked, other
//! project), roles, withheld keys, and AK/SK signatures.

use serde_json::json;
use wafcert::auth::{SignedRequest, format_basic_date, sign_request};
use wafcert::domain::Role;
use wafcert::domain::now_ms;

use crate::helpers::*;

crate::on_both_backends!(
    tokens_are_checked,
    readonly_lists_and_shows_without_keys,
    withheld_keys_are_never_returned,
    signed_requests_are_verified,
);

async fn tokens_are_checked(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let list = app.url("waf/certificate");
    assert_error(&app.send(app.client.get(&list)).await, 401, "WAF.00012001");
    assert_error(
        &app.get_as("waf/certificate", "wafcert_unknown").await,
        401,
        "WAF.00012001",
    );
    let expired = app
        .token_for(&app.project, Role::Admin, Some(now_ms() - 1))
        .await;
    assert_error(
        &app.get_as("waf/certificate", &expired).await,
        401,
        "WAF.00012001",
    );
    let fresh = app
        .token_for(&app.project, Role::Admin, Some(now_ms() + 60_000))
        .await;
    assert_eq!(app.get_as("waf/certificate", &fresh).await.0, 200);
    assert!(
        app.store
            .revoke_token(&wafcert::crypto::token_hash(&fresh))
            .await
            .unwrap()
    );
    assert_error(
        &app.get_as("waf/certificate", &fresh).await,
        401,
        "WAF.00012001",
    );
    // A valid token used on another project's URL.
    let other = wafcert::domain::ProjectId::random();
    let answer = app
        .send(
            app.client
                .get(format!("{}/v1/{other}/waf/certificate", app.base))
                .header("X-Auth-Token", &app.token),
        )
        .await;
    assert_error(&answer, 401, "WAF.00012002");
    // The token never appears in an answer.
    assert!(!answer.1.to_string().contains(&app.token));
}

async fn readonly_lists_and_shows_without_keys(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(30);
    let id = app.create_cert("ro", &f).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ro = app.token_for(&app.project, Role::ReadOnly, None).await;
    assert_eq!(app.get_as("waf/certificate", &ro).await.1["total"], 1);
    let (status, shown) = app.get_as(&format!("waf/certificate/{id}"), &ro).await;
    assert_eq!(status, 200);
    assert!(
        shown.get("key").is_none(),
        "readonly never sees keys: {shown}"
    );
    assert!(shown["content"].as_str().is_some());
    let as_ro = |r: reqwest::RequestBuilder| r.header("X-Auth-Token", ro.clone());
    let path = app.url(&format!("waf/certificate/{id}"));
    assert_error(
        &app.send(as_ro(
            app.client
                .post(app.url("waf/certificate"))
                .json(&f.body("x")),
        ))
        .await,
        401,
        "WAF.00012003",
    );
    assert_error(
        &app.send(as_ro(app.client.put(&path).json(&json!({"name": "y"}))))
            .await,
        401,
        "WAF.00012003",
    );
    assert_error(
        &app.send(as_ro(app.client.delete(&path))).await,
        401,
        "WAF.00012003",
    );
    assert_eq!(
        app.get("waf/certificate").await.1["total"],
        1,
        "nothing changed"
    );
}

async fn withheld_keys_are_never_returned(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.withhold_private_keys = true).await;
    let id = app.create_cert("w", &fixture(30)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, shown) = app.get(&format!("waf/certificate/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown.get("key").is_none());
}

async fn signed_requests_are_verified(db: Db) {
    let app = TestApp::spawn_on(db).await;
    // Create an access key the way the admin command does.
    let sealer =
        wafcert::app::open_sealer(&app.store, &app.config.master_key, &app.config.database_url)
            .await
            .unwrap();
    let project = wafcert::domain::ProjectId::parse(&app.project).unwrap();
    let (ak, sk) = (
        "AKTESTACCESSKEY00001",
        "secretsecretsecretsecretsecretsecret0001",
    );
    let sealed = sealer.seal(sk.as_bytes(), ak).unwrap();
    app.store
        .insert_access_key(ak, &project, Role::Admin, &sealed, now_ms())
        .await
        .unwrap();

    let host = app.base.trim_start_matches("http://").to_owned();
    let send = |method: &str,
                path_query: &str,
                body: Vec<u8>,
                date_ms: i64,
                secret: &str,
                project_header: &str| {
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("host", host.parse().unwrap());
        headers.insert("x-project-id", project_header.parse().unwrap());
        headers.insert("x-sdk-date", format_basic_date(date_ms).parse().unwrap());
        let unsigned = SignedRequest {
            method,
            path,
            query,
            headers: &headers,
            body: &body,
            authorization: "",
        };
        let authorization = sign_request(&unsigned, ak, secret.as_bytes()).unwrap();
        headers.insert("authorization", authorization.parse().unwrap());
        let url = format!("{}{path_query}", app.base);
        app.client
            .request(method.parse().unwrap(), url)
            .headers(headers)
            .body(body)
    };
    let base = format!("/v1/{}/waf/certificate", app.project);
    let f = fixture(30);
    let body = serde_json::to_vec(&f.body("signed")).unwrap();
    let (status, created) = app
        .send(send(
            "POST",
            &base,
            body.clone(),
            now_ms(),
            sk,
            &app.project,
        ))
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, list) = app
        .send(send(
            "GET",
            &format!("{base}?name=sign&host=true&page=1&pagesize=10"),
            vec![],
            now_ms(),
            sk,
            &app.project,
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_error(
        &app.send(send(
            "GET",
            &base,
            vec![],
            now_ms(),
            "wrong-secret",
            &app.project,
        ))
        .await,
        401,
        "WAF.00012001",
    );
    assert_error(
        &app.send(send(
            "GET",
            &base,
            vec![],
            now_ms() - 16 * 60_000,
            sk,
            &app.project,
        ))
        .await,
        401,
        "WAF.00012001",
    );
    let other = wafcert::domain::ProjectId::random().to_string();
    assert_error(
        &app.send(send("GET", &base, vec![], now_ms(), sk, &other))
            .await,
        401,
        "WAF.00012002",
    );
    // A body changed after signing is refused.
    let mut tampered = send("POST", &base, body, now_ms(), sk, &app.project)
        .build()
        .unwrap();
    *tampered.body_mut() = Some(serde_json::to_vec(&f.body("evil")).unwrap().into());
    let resp = app.client.execute(tampered).await.unwrap();
    assert_eq!(resp.status(), 401);
    // A date too far in the future is as bad as one too old; 14 minutes off is fine.
    assert_error(
        &app.send(send(
            "GET",
            &base,
            vec![],
            now_ms() + 16 * 60_000,
            sk,
            &app.project,
        ))
        .await,
        401,
        "WAF.00012001",
    );
    assert_eq!(
        app.send(send(
            "GET",
            &base,
            vec![],
            now_ms() - 14 * 60_000,
            sk,
            &app.project
        ))
        .await
        .0,
        200
    );
    // A body swapped after signing, with the old body's hash declared in an unsigned header.
    let signed_body = serde_json::to_vec(&f.body("declared")).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed_body);
    let mut forged = send("POST", &base, signed_body, now_ms(), sk, &app.project)
        .build()
        .unwrap();
    forged
        .headers_mut()
        .insert("x-sdk-content-sha256", hex::encode(digest).parse().unwrap());
    *forged.body_mut() = Some(serde_json::to_vec(&f.body("forged")).unwrap().into());
    let resp = app.client.execute(forged).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(app.get("waf/certificate?name=forged").await.1["total"], 0);
    // Unknown access key.
    let answer = app
        .send(
            app.client
                .get(app.url("waf/certificate"))
                .header(
                    "Authorization",
                    "SDK-HMAC-SHA256 Access=NOPE, SignedHeaders=x-sdk-date, Signature=00",
                )
                .header("X-Sdk-Date", format_basic_date(now_ms())),
        )
        .await;
    assert_error(&answer, 401, "WAF.00012001");
}
