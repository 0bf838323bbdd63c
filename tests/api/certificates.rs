//! Create, show, update and delete: every field rule and error code of the contract.

use serde_json::json;

use crate::helpers::*;

crate::on_both_backends!(
    create_returns_the_documented_fields,
    every_key_format_and_algorithm_is_accepted,
    bad_pairs_are_refused_and_nothing_is_stored,
    names_follow_the_rules,
    show_returns_content_and_key,
    update_renames_and_replaces,
    delete_returns_the_certificate_and_forgets_it,
    ids_of_other_projects_are_not_found,
    expired_certificates_are_accepted,
    quota_is_enforced,
);

async fn create_returns_the_documented_fields(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let before = wafcert::domain::now_ms();
    let body = app.create_cert("demo.example_1-a", &f).await;
    assert_eq!(body["id"].as_str().unwrap().len(), 32);
    assert_eq!(body["name"], "demo.example_1-a");
    assert_eq!(body["expire_time"], f.not_after_ms);
    assert_eq!(body["exp_status"], 0);
    assert_eq!(body["bind_host"], json!([]));
    let ts = body["timestamp"].as_i64().unwrap();
    assert!(ts >= before && ts <= wafcert::domain::now_ms());
    assert!(body.get("key").is_none(), "the private key is not echoed");
}

async fn every_key_format_and_algorithm_is_accepted(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for (i, alg) in [Alg::Rsa2048, Alg::EcP256, Alg::EcP384, Alg::Ed25519]
        .into_iter()
        .enumerate()
    {
        let f = fixture_days(alg, 100);
        assert!(f.key_pem.contains("BEGIN PRIVATE KEY"));
        app.create_cert(&format!("pkcs8-{i}"), &f).await;
        if !matches!(alg, Alg::Ed25519) {
            let traditional = traditional_pem(&f.key_pem);
            let label = if matches!(alg, Alg::Rsa2048) {
                "RSA PRIVATE KEY"
            } else {
                "EC PRIVATE KEY"
            };
            assert!(traditional.contains(label), "{traditional}");
            let f2 = Fixture {
                key_pem: traditional.clone(),
                ..f.clone()
            };
            let body = app.create_cert(&format!("traditional-{i}"), &f2).await;
            let (_, shown) = app
                .get(&format!("waf/certificate/{}", body["id"].as_str().unwrap()))
                .await;
            assert_eq!(
                shown["key"].as_str().unwrap(),
                traditional.trim(),
                "key returned as uploaded"
            );
        }
    }
    // A chain: leaf first, then its issuer.
    let ca_key = key_pair(Alg::EcP256);
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = key_pair(Alg::EcP256);
    let leaf = rcgen::CertificateParams::new(vec!["chain.example.com".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let content = format!("\n  {}{}\n\n", leaf.pem(), ca.pem());
    let (status, body) = app
        .post(
            "waf/certificate",
            &json!({"name": "chain", "content": content, "key": leaf_key.serialize_pem()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = app
        .get(&format!("waf/certificate/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(shown["content"].as_str().unwrap(), content.trim());
    // The chain in the wrong order: the key matches the second certificate, not the leaf.
    let reversed = format!("{}{}", ca.pem(), leaf.pem());
    let answer = app
        .post(
            "waf/certificate",
            &json!({"name": "reversed", "content": reversed, "key": leaf_key.serialize_pem()}),
        )
        .await;
    assert_error(&answer, 400, "WAF.00011003");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
}

async fn bad_pairs_are_refused_and_nothing_is_stored(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let good = fixture(30);
    let other = fixture(30);
    let truncated_cert = good.cert_pem[..good.cert_pem.len() - 30].to_owned();
    let truncated_key = good.key_pem[..good.key_pem.len() - 30].to_owned();
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let garbage_b64 = "-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n";
    let not_x509 = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (
            json!({"name": "x", "content": good.cert_pem, "key": other.key_pem}),
            "WAF.00011003",
            "does not match",
        ),
        (
            json!({"name": "x", "content": "hello", "key": good.key_pem}),
            "WAF.00011003",
            "no PEM certificate",
        ),
        (
            json!({"name": "x", "content": truncated_cert, "key": good.key_pem}),
            "WAF.00011003",
            "truncated",
        ),
        (
            json!({"name": "x", "content": good.cert_pem, "key": truncated_key}),
            "WAF.00011003",
            "key",
        ),
        (
            json!({"name": "x", "content": good.cert_pem, "key": encrypted}),
            "WAF.00011003",
            "encrypted",
        ),
        (
            json!({"name": "x", "content": garbage_b64, "key": good.key_pem}),
            "WAF.00011003",
            "content",
        ),
        (
            json!({"name": "x", "content": not_x509, "key": good.key_pem}),
            "WAF.00011003",
            "X.509",
        ),
        (
            json!({"name": "x", "content": good.cert_pem, "key": "secret"}),
            "WAF.00011003",
            "no PEM private key",
        ),
        (
            json!({"name": "x", "content": good.cert_pem}),
            "WAF.00011003",
            "key is required",
        ),
        (
            json!({"name": "x", "key": good.key_pem}),
            "WAF.00011003",
            "content is required",
        ),
        (
            json!({"content": good.cert_pem, "key": good.key_pem}),
            "WAF.00011003",
            "name is required",
        ),
        (
            json!({"name": 5, "content": good.cert_pem, "key": good.key_pem}),
            "WAF.00011003",
            "wrong type",
        ),
        (json!(["not", "an", "object"]), "WAF.00011003", "wrong type"),
    ];
    for (body, code, needle) in cases {
        let answer = app.post("waf/certificate", &body).await;
        assert_error(&answer, 400, code);
        let msg = answer.1["error_msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
        assert!(
            !msg.contains("PRIVATE KEY-----\nM"),
            "no key material in errors"
        );
    }
    // Malformed JSON, an empty body, and an oversized body.
    let raw = |b: &'static str| {
        app.client
            .post(app.url("waf/certificate"))
            .header("X-Auth-Token", &app.token)
            .header("Content-Type", "application/json")
            .body(b)
    };
    assert_error(&app.send(raw("{\"name\": ")).await, 400, "WAF.00011003");
    assert_error(&app.send(raw("")).await, 400, "WAF.00011003");
    let big = "x".repeat(1024 * 1024 + 10);
    let answer = app
        .send(
            app.client
                .post(app.url("waf/certificate"))
                .header("X-Auth-Token", &app.token)
                .body(big),
        )
        .await;
    assert_error(&answer, 413, "WAF.00011003");
    // An unsupported key size: RSA 1024 made with openssl.
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=small",
        ])
        .arg("-keyout")
        .arg(dir.path().join("k.pem"))
        .arg("-out")
        .arg(dir.path().join("c.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let small = json!({"name": "small",
        "content": std::fs::read_to_string(dir.path().join("c.pem")).unwrap(),
        "key": std::fs::read_to_string(dir.path().join("k.pem")).unwrap()});
    let answer = app.post("waf/certificate", &small).await;
    assert_error_says(&answer, 400, "WAF.00011003", "2048");

    let (_, list) = app.get("waf/certificate").await;
    assert_eq!(list["total"], 0, "nothing stored half-way: {list}");
}

async fn names_follow_the_rules(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(60);
    for bad in ["", "has space", "slash/", "ümlaut", &"a".repeat(257)] {
        assert_error(
            &app.post("waf/certificate", &f.body(bad)).await,
            400,
            "WAF.00011005",
        );
    }
    app.create_cert(&"a".repeat(256), &f).await;
    app.create_cert("Taken", &f).await;
    assert_error(
        &app.post("waf/certificate", &f.body("Taken")).await,
        400,
        "WAF.00011016",
    );
    // Case-sensitive uniqueness.
    app.create_cert("taken", &f).await;
    let (_, list) = app.get("waf/certificate").await;
    assert_eq!(list["total"], 3);
}

async fn show_returns_content_and_key(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10);
    let id = app.create_cert("shown", &f).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app.get(&format!("waf/certificate/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["certificateid"], id.as_str());
    assert_eq!(body["name"], "shown");
    assert_eq!(body["certificatename"], "shown");
    assert_eq!(body["content"].as_str().unwrap(), f.cert_pem.trim());
    assert_eq!(body["key"].as_str().unwrap(), f.key_pem.trim());
    assert_eq!(body["expire_time"], f.not_after_ms);
    assert_eq!(body["exp_status"], 2);
    assert_eq!(body["bind_host"], json!([]));
    assert!(body["timestamp"].as_i64().is_some());
    // Unknown, malformed: 404. A trailing `?` (as in the docs) is fine.
    assert_error(
        &app.get("waf/certificate/0123456789abcdef0123456789abcdef")
            .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &app.get("waf/certificate/not-an-id").await,
        404,
        "WAF.00022001",
    );
    assert_eq!(app.get(&format!("waf/certificate/{id}?")).await.0, 200);
}

async fn update_renames_and_replaces(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10);
    let created = app.create_cert("old-name", &f).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("waf/certificate/{id}");
    let (status, body) = app.put(&path, &json!({"name": "new-name"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "new-name");
    assert_eq!(body["id"], id);
    assert_eq!(
        body["timestamp"], created["timestamp"],
        "timestamp keeps the upload time"
    );
    assert_eq!(body["expire_time"], f.not_after_ms);
    assert_eq!(body["exp_status"], 2);
    // Replace the pair.
    let renewed = fixture(200);
    let (status, body) = app
        .put(
            &path,
            &json!({"name": "renewed", "content": renewed.cert_pem, "key": renewed.key_pem}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expire_time"], renewed.not_after_ms);
    assert_eq!(body["exp_status"], 0);
    let (_, shown) = app.get(&path).await;
    assert_eq!(shown["key"].as_str().unwrap(), renewed.key_pem.trim());
    // Errors leave it unchanged.
    assert_error(
        &app.put(&path, &json!({"content": renewed.cert_pem})).await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.put(&path, &json!({"name": "x", "content": renewed.cert_pem}))
            .await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.put(&path, &json!({"name": "a".repeat(65)})).await,
        400,
        "WAF.00011005",
    );
    assert_error(
        &app.put(
            &path,
            &json!({"name": "x", "content": renewed.cert_pem, "key": f.key_pem}),
        )
        .await,
        400,
        "WAF.00011003",
    );
    app.create_cert("other", &f).await;
    assert_error(
        &app.put(&path, &json!({"name": "other"})).await,
        400,
        "WAF.00011016",
    );
    assert_eq!(
        app.put(&path, &json!({"name": "renewed"})).await.0,
        200,
        "keeping its own name is fine"
    );
    let (_, shown) = app.get(&path).await;
    assert_eq!(shown["name"], "renewed");
    assert_eq!(shown["expire_time"], renewed.not_after_ms);
    assert_error(
        &app.put(
            "waf/certificate/0123456789abcdef0123456789abcdef",
            &json!({"name": "z"}),
        )
        .await,
        404,
        "WAF.00022001",
    );
}

async fn delete_returns_the_certificate_and_forgets_it(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10);
    let created = app.create_cert("gone", &f).await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = app.delete(&format!("waf/certificate/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id);
    assert_eq!(body["name"], "gone");
    assert_eq!(body["expire_time"], f.not_after_ms);
    assert_eq!(body["timestamp"], created["timestamp"]);
    assert_error(
        &app.get(&format!("waf/certificate/{id}")).await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &app.delete(&format!("waf/certificate/{id}")).await,
        404,
        "WAF.00022001",
    );
    let (_, list) = app.get("waf/certificate").await;
    assert_eq!(list["total"], 0);
    // The name is free again.
    app.create_cert("gone", &f).await;
}

async fn ids_of_other_projects_are_not_found(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10);
    let id = app.create_cert("mine", &f).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_project = wafcert::domain::ProjectId::random().to_string();
    let other_token = app
        .token_for(&other_project, wafcert::domain::Role::Admin, None)
        .await;
    let other_url = |p: &str| format!("{}/v1/{other_project}/{p}", app.base);
    let path = format!("waf/certificate/{id}");
    let as_other = |r: reqwest::RequestBuilder| r.header("X-Auth-Token", other_token.clone());
    assert_error(
        &app.send(as_other(app.client.get(other_url(&path)))).await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &app.send(as_other(app.client.delete(other_url(&path))))
            .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &app.send(as_other(
            app.client
                .put(other_url(&path))
                .json(&json!({"name": "stolen"})),
        ))
        .await,
        404,
        "WAF.00022001",
    );
    let (_, list) = app
        .send(as_other(app.client.get(other_url("waf/certificate"))))
        .await;
    assert_eq!(list["total"], 0);
    // The same name in another project is fine.
    let (status, _) = app
        .send(as_other(
            app.client
                .post(other_url("waf/certificate"))
                .json(&f.body("mine")),
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&path).await.1["name"], "mine");
}

async fn expired_certificates_are_accepted(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let body = app.create_cert("old", &fixture(-3)).await;
    assert_eq!(body["exp_status"], 1);
}

async fn quota_is_enforced(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.certificate_quota = Some(2)).await;
    let f = fixture(10);
    app.create_cert("q1", &f).await;
    app.create_cert("q2", &f).await;
    assert_error(
        &app.post("waf/certificate", &f.body("q3")).await,
        403,
        "WAF.00022005",
    );
    let id = app.get("waf/certificate").await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("waf/certificate/{id}")).await;
    app.create_cert("q3", &f).await;
}
