//! `POST /v1/{project}/wafcert/certificate/{id}/rotate`: one transaction that stores the new
//! certificate, moves every host to it and deletes the old one; every failure changes nothing;
//! a rotate racing a delete or a bind has one consistent outcome.

use serde_json::{Value, json};

use crate::helpers::*;

crate::on_both_backends!(
    rotation_moves_every_host,
    rotation_can_rename,
    failed_rotations_change_nothing,
    rotate_races_delete,
    rotate_races_bind,
);

fn rotate_path(id: &str) -> String {
    format!("wafcert/certificate/{id}/rotate")
}

fn rotate_body(f: &Fixture) -> Value {
    json!({"content": f.cert_pem, "key": f.key_pem})
}

/// Certificates (with hosts) and hosts as the API lists them: the state a failure must keep.
async fn snapshot(app: &TestApp) -> (Value, Value) {
    let (s1, certs) = app.get("waf/certificate?pagesize=-1&host=true").await;
    let (s2, hosts) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    (certs, hosts)
}

/// A certificate named `name` bound to `hostnames`; returns its id.
async fn bound_certificate(app: &TestApp, name: &str, hostnames: &[&str]) -> String {
    let id = id_of(&app.create_cert(name, &fixture(10)).await);
    for h in hostnames {
        create_host(app, h, "HTTPS", Some((&id, name))).await;
    }
    id
}

async fn rotation_moves_every_host(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let hosts = ["a.shop.example", "b.shop.example", "c.shop.example"];
    let old = bound_certificate(&app, "shop", &hosts).await;
    app.create_cert("other", &fixture(50)).await;
    let renewed = fixture(90);
    let (status, body) = app.post(&rotate_path(&old), &rotate_body(&renewed)).await;
    assert_eq!(status, 200, "{body}");
    let new = id_of(&body);
    assert_ne!(new, old);
    assert_eq!(body["name"], "shop", "the old name is kept");
    assert_eq!(body["certificatename"], "shop");
    assert_eq!(body["expire_time"], renewed.not_after_ms);
    assert_eq!(body["exp_status"], 0);
    assert_eq!(body["content"].as_str().unwrap(), renewed.cert_pem.trim());
    assert_eq!(body["key"].as_str().unwrap(), renewed.key_pem.trim());
    let bound: Vec<&str> = body["bind_host"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(bound, hosts);
    assert_error(
        &app.get(&format!("waf/certificate/{old}")).await,
        404,
        "WAF.00022001",
    );
    let (_, list) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    for host in list["items"].as_array().unwrap() {
        assert_eq!(host["certificateid"], new.as_str(), "{host}");
        assert_eq!(host["certificatename"], "shop");
    }
    let (_, certs) = app.get("waf/certificate?pagesize=-1").await;
    assert_eq!(certs["total"], 2, "one in, one out");
    // One `rotated` event carries both ids and the hosts moved; nothing logs a delete.
    let (_, events) = app
        .get("wafcert/events?pagesize=100&type=wafcert.certificate.rotated")
        .await;
    assert_eq!(events["total"], 1, "{events}");
    let data = &events["items"][0]["data"];
    assert_eq!(data["certificate_id"], new.as_str());
    assert_eq!(data["previous_certificate_id"], old.as_str());
    assert_eq!(data["name"], "shop");
    assert_eq!(data["hostnames"], json!(hosts));
    let (_, deleted) = app
        .get("wafcert/events?pagesize=100&type=wafcert.certificate.deleted")
        .await;
    assert_eq!(deleted["total"], 0, "{deleted}");
    // The new certificate can itself be rotated and deleted once unbound.
    let (status, again) = app
        .post(&rotate_path(&new), &rotate_body(&fixture(95)))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_no_dangling_binding(&app).await;
}

async fn rotation_can_rename(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let old = bound_certificate(&app, "shop-2025", &["www.shop.example"]).await;
    let renewed = fixture(90);
    let mut body = rotate_body(&renewed);
    body["name"] = json!("shop-2026");
    let (status, answer) = app.post(&rotate_path(&old), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["name"], "shop-2026");
    let (_, hosts) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    assert_eq!(hosts["items"][0]["certificatename"], "shop-2026");
    // The old name is free again.
    app.create_cert("shop-2025", &fixture(5)).await;
    // An unbound certificate may be rotated to an expired one, as it may be created.
    let unbound = id_of(&app.create_cert("spare", &fixture(5)).await);
    let (status, answer) = app
        .post(&rotate_path(&unbound), &rotate_body(&fixture(-3)))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["exp_status"], 1);
}

async fn failed_rotations_change_nothing(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let old = bound_certificate(&app, "shop", &["a.shop.example", "b.shop.example"]).await;
    app.create_cert("taken", &fixture(40)).await;
    let before = snapshot(&app).await;
    let good = fixture(90);
    let readonly = app
        .token_for(&app.project, wafcert::domain::Role::ReadOnly, None)
        .await;
    let mut cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "bad PEM",
            json!({"content": "-----BEGIN CERTIFICATE-----\nnot base64!\n", "key": good.key_pem}),
            400,
            "WAF.00011003",
        ),
        (
            "mismatched key",
            json!({"content": good.cert_pem, "key": fixture(90).key_pem}),
            400,
            "WAF.00011003",
        ),
        (
            "expired while hosts are bound",
            rotate_body(&fixture(-1)),
            400,
            "WAF.00021013",
        ),
        (
            "name taken",
            json!({"content": good.cert_pem, "key": good.key_pem, "name": "taken"}),
            400,
            "WAF.00011016",
        ),
        (
            "invalid name",
            json!({"content": good.cert_pem, "key": good.key_pem, "name": "no spaces"}),
            400,
            "WAF.00011005",
        ),
        (
            "no key",
            json!({"content": good.cert_pem}),
            400,
            "WAF.00011003",
        ),
    ];
    for (what, body, status, code) in cases.drain(..) {
        let answer = app.post(&rotate_path(&old), &body).await;
        assert_error(&answer, status, code);
        assert_eq!(snapshot(&app).await, before, "{what} changed something");
    }
    assert_error(
        &app.post(&rotate_path(NO_SUCH_ID), &rotate_body(&good))
            .await,
        404,
        "WAF.00022001",
    );
    let answer = app
        .send(
            app.client
                .post(app.url(&rotate_path(&old)))
                .header("X-Auth-Token", &readonly)
                .json(&rotate_body(&good)),
        )
        .await;
    assert_error(&answer, 401, "WAF.00012003");
    assert_eq!(snapshot(&app).await, before, "refusals changed something");
}

async fn rotate_races_delete(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for round in 0..6 {
        let name = format!("race-{round}");
        let old = id_of(&app.create_cert(&name, &fixture(20)).await);
        let path = rotate_path(&old);
        let body = rotate_body(&fixture(90));
        let cert_path = format!("waf/certificate/{old}");
        let (rotated, deleted) = tokio::join!(app.post(&path, &body), app.delete(&cert_path));
        let (_, list) = app
            .get(&format!("waf/certificate?pagesize=-1&name={name}"))
            .await;
        match (rotated.0.as_u16(), deleted.0.as_u16()) {
            (200, 404) => {
                assert_eq!(list["total"], 1, "{list}");
                assert_eq!(list["items"][0]["id"], rotated.1["id"]);
            }
            (404, 200) => assert_eq!(list["total"], 0, "{list}"),
            other => panic!("inconsistent outcome {other:?}: {rotated:?} {deleted:?}"),
        }
        assert_error(&app.get(&cert_path).await, 404, "WAF.00022001");
    }
}

async fn rotate_races_bind(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for round in 0..6 {
        let name = format!("bind-race-{round}");
        let first = format!("a{round}.shop.example");
        let old = bound_certificate(&app, &name, &[&first]).await;
        let late = id_of(&create_host(&app, &format!("b{round}.shop.example"), "HTTP", None).await);
        let apply = format!("waf/certificate/{old}/apply-to-hosts");
        let ids = json!({"premium_host_ids": [late]});
        let bind = app.post(&apply, &ids);
        let body = rotate_body(&fixture(90));
        let path = rotate_path(&old);
        let (bound, rotated) = tokio::join!(bind, app.post(&path, &body));
        assert_eq!(rotated.0, 200, "the rotation always wins: {rotated:?}");
        let new = id_of(&rotated.1);
        let (_, late_host) = app.get(&host_path(&late)).await;
        match bound.0.as_u16() {
            // The bind came first: the rotation moved it too.
            200 => assert_eq!(late_host["certificateid"], new.as_str(), "{late_host}"),
            // The rotation came first: the old certificate was gone for the bind.
            404 => assert!(late_host.get("certificateid").is_none(), "{late_host}"),
            other => panic!("bind answered {other}: {bound:?}"),
        }
        assert_no_dangling_binding(&app).await;
    }
}
