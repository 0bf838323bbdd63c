//! Binding certificates to protected domains from both sides: the `certificateid` and
//! `certificatename` rules, HTTPS needing a certificate, expiry, `bind_host` on the certificate
//! side, in-use refusals, apply-to-hosts being all or nothing, and project isolation.

use serde_json::{Value, json};
use wafcert::domain::Role;

use crate::helpers::*;

crate::on_both_backends!(
    https_needs_a_certificate,
    certificate_fields_are_checked,
    expired_certificates_cannot_be_bound,
    bind_host_lists_every_bound_host,
    bound_certificates_cannot_be_deleted_or_updated,
    apply_to_hosts_is_all_or_nothing,
    ids_of_other_projects_are_not_found,
);

/// A certificate valid for `secs` seconds from now.
fn fixture_seconds(secs: i64) -> Fixture {
    let key = key_pair(Alg::EcP256);
    let mut params = rcgen::CertificateParams::new(vec!["www.example.com".to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    let not_after = (now + time::Duration::seconds(secs))
        .replace_nanosecond(0)
        .unwrap();
    params.not_after = not_after;
    let cert = params.self_signed(&key).unwrap();
    Fixture {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after_ms: not_after.unix_timestamp() * 1000,
    }
}

async fn https_needs_a_certificate(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let answer = app
        .post(HOSTS, &host_body("secure.example.com", "HTTPS", None))
        .await;
    assert_error(&answer, 400, "WAF.00011003");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("needs a certificate"),
        "{}",
        answer.1
    );
    let unbind = json!({"certificateid": null, "certificatename": null});
    assert_error(
        &app.post(HOSTS, &{
            let mut b = host_body("secure.example.com", "HTTPS", None);
            b["certificateid"] = json!(null);
            b
        })
        .await,
        400,
        "WAF.00011003",
    );
    // An HTTP host may gain HTTPS only together with a certificate.
    let plain = create_host(&app, "plain.example.com", "HTTP", None).await;
    let path = host_path(&id_of(&plain));
    assert_error(
        &app.put(&path, &json!({"server": [server("HTTPS")]})).await,
        400,
        "WAF.00011003",
    );
    let cert = app.create_cert("secure", &fixture(90)).await;
    let cid = id_of(&cert);
    let (status, body) = app.put(&path, &json!({"server": [server("HTTPS")], "certificateid": cid, "certificatename": "secure"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["protocol"].as_str(),
            body["certificateid"].as_str(),
            body["certificatename"].as_str()
        ),
        (Some("HTTPS"), Some(cid.as_str()), Some("secure"))
    );
    // Unbinding an HTTPS host is refused; after going back to HTTP it is allowed.
    assert_error(&app.put(&path, &unbind).await, 400, "WAF.00011003");
    assert_eq!(
        app.get(&path).await.1["certificateid"],
        cid.as_str(),
        "a refused update changes nothing"
    );
    let (status, body) = app
        .put(
            &path,
            &json!({"server": [server("HTTP")], "certificateid": null, "certificatename": null}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("certificateid").is_none(), "{body}");
    assert_eq!(
        app.get(&format!("waf/certificate/{cid}")).await.1["bind_host"],
        json!([])
    );
    // An HTTP host may still carry a certificate (it is ready for HTTPS).
    let (status, body) = app
        .put(
            &path,
            &json!({"certificateid": cid, "certificatename": "secure"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["protocol"], "HTTP");
    assert_eq!(body["certificateid"], cid.as_str());
}

async fn certificate_fields_are_checked(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("right-name", &fixture(90)).await;
    let cid = id_of(&cert);
    let other = app.create_cert("other-name", &fixture(90)).await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"certificateid": cid}),
            400,
            "WAF.00011003",
            "together",
        ),
        (
            json!({"certificatename": "right-name"}),
            400,
            "WAF.00011003",
            "together",
        ),
        (
            json!({"certificateid": cid, "certificatename": ""}),
            400,
            "WAF.00011003",
            "together",
        ),
        (
            json!({"certificateid": cid, "certificatename": "other-name"}),
            400,
            "WAF.00011003",
            "different certificates",
        ),
        (
            json!({"certificateid": cid, "certificatename": "RIGHT-NAME"}),
            400,
            "WAF.00011003",
            "different certificates",
        ),
        (
            json!({"certificateid": NO_SUCH_ID, "certificatename": "right-name"}),
            404,
            "WAF.00022001",
            "certificate not found",
        ),
        (
            json!({"certificateid": "not-an-id", "certificatename": "right-name"}),
            404,
            "WAF.00022001",
            "certificate not found",
        ),
        (
            json!({"certificateid": 5, "certificatename": "right-name"}),
            400,
            "WAF.00011003",
            "wrong type",
        ),
    ];
    let host = create_host(
        &app,
        "bound.example.com",
        "HTTPS",
        Some((&cid, "right-name")),
    )
    .await;
    let path = host_path(&id_of(&host));
    for (fields, status, code, needle) in cases {
        let mut create = host_body("new.example.com", "HTTPS", None);
        for (k, v) in fields.as_object().unwrap() {
            create[k] = v.clone();
        }
        for answer in [
            app.post(HOSTS, &create).await,
            app.put(&path, &fields).await,
        ] {
            assert_error_says(&answer, status, code, needle);
        }
    }
    assert_eq!(
        app.get(HOSTS).await.1["total"],
        1,
        "no refused create stored a host"
    );
    let (_, shown) = app.get(&path).await;
    assert_eq!(
        (
            shown["certificateid"].as_str(),
            shown["certificatename"].as_str()
        ),
        (Some(cid.as_str()), Some("right-name"))
    );
    // The certificate's current name is what counts: after a rename of a free certificate, the
    // old name no longer matches.
    let oid = id_of(&other);
    assert_eq!(
        app.put(
            &format!("waf/certificate/{oid}"),
            &json!({"name": "renamed"})
        )
        .await
        .0,
        200
    );
    assert_error(
        &app.put(
            &path,
            &json!({"certificateid": oid, "certificatename": "other-name"}),
        )
        .await,
        400,
        "WAF.00011003",
    );
    let (status, body) = app
        .put(
            &path,
            &json!({"certificateid": oid, "certificatename": "renamed"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["certificatename"], "renamed");
}

async fn expired_certificates_cannot_be_bound(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let expired = app.create_cert("expired", &fixture(-1)).await;
    let eid = id_of(&expired);
    let valid = app.create_cert("valid", &fixture(90)).await;
    let answer = app
        .post(
            HOSTS,
            &host_body("old.example.com", "HTTPS", Some((&eid, "expired"))),
        )
        .await;
    assert_error_says(&answer, 400, "WAF.00021013", "expired");
    let answer = app
        .post(
            HOSTS,
            &host_body("old.example.com", "HTTP", Some((&eid, "expired"))),
        )
        .await;
    assert_error(&answer, 400, "WAF.00021013");
    let host = create_host(
        &app,
        "old.example.com",
        "HTTPS",
        Some((&id_of(&valid), "valid")),
    )
    .await;
    let path = host_path(&id_of(&host));
    assert_error(
        &app.put(
            &path,
            &json!({"certificateid": eid, "certificatename": "expired"}),
        )
        .await,
        400,
        "WAF.00021013",
    );
    assert_error(
        &app.post(
            &format!("waf/certificate/{eid}/apply-to-hosts"),
            &json!({"premium_host_ids": [id_of(&host)]}),
        )
        .await,
        400,
        "WAF.00021013",
    );
    assert_eq!(app.get(&path).await.1["certificatename"], "valid");
    assert_eq!(
        app.get(&format!("waf/certificate/{eid}")).await.1["bind_host"],
        json!([])
    );
    // A certificate that expires while bound stays bound, and restating the binding (as a
    // client that PUTs the whole host back does) is not a new bind; moving to it is.
    let other = create_host(&app, "other.example.com", "HTTP", None).await;
    let short_lived = fixture_seconds(3);
    let short = app.create_cert("short", &short_lived).await;
    let sid = id_of(&short);
    let (status, body) = app
        .put(
            &path,
            &json!({"certificateid": sid, "certificatename": "short"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let wait = short_lived.not_after_ms + 100 - wafcert::domain::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(
        u64::try_from(wait).unwrap_or(0),
    ))
    .await;
    assert_eq!(
        app.get(&format!("waf/certificate/{sid}")).await.1["exp_status"],
        1
    );
    let (status, body) = app
        .put(
            &path,
            &json!({"certificateid": sid, "certificatename": "short", "description": "still here"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], "still here");
    assert_error(
        &app.put(
            &host_path(&id_of(&other)),
            &json!({"certificateid": sid, "certificatename": "short"}),
        )
        .await,
        400,
        "WAF.00021013",
    );
}

async fn bind_host_lists_every_bound_host(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let shared = app.create_cert("shared", &fixture(90)).await;
    let single = app.create_cert("single", &fixture(90)).await;
    let free = app.create_cert("free", &fixture(90)).await;
    let (sid, gid) = (id_of(&shared), id_of(&single));
    // Bound three ways: on create, by host update, and by apply-to-hosts.
    let h1 = create_host(&app, "b.example.com", "HTTPS", Some((&sid, "shared"))).await;
    let h2 = create_host(&app, "c.example.com", "HTTP", None).await;
    let h3 = create_host(&app, "a.example.com", "HTTP", None).await;
    let h4 = create_host(&app, "solo.example.com", "HTTPS", Some((&gid, "single"))).await;
    create_host(&app, "unbound.example.com", "HTTP", None).await;
    assert_eq!(
        app.put(
            &host_path(&id_of(&h2)),
            &json!({"certificateid": sid, "certificatename": "shared"})
        )
        .await
        .0,
        200
    );
    let (status, applied) = app
        .post(
            &format!("waf/certificate/{sid}/apply-to-hosts"),
            &json!({"premium_host_ids": [id_of(&h3)]}),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    let bind = |h: &Value| json!({"id": h["id"], "hostname": h["hostname"], "waf_type": "premium", "mode": "premium"});
    let shared_hosts = json!([bind(&h3), bind(&h1), bind(&h2)]);
    assert_eq!(applied["bind_host"], shared_hosts, "sorted by hostname");
    assert_eq!(
        (applied["id"].as_str(), applied["name"].as_str()),
        (Some(sid.as_str()), Some("shared"))
    );
    assert_eq!(applied["expire_time"], shared["expire_time"]);
    assert_eq!(applied["timestamp"], shared["timestamp"]);
    assert_eq!(
        app.get(&format!("waf/certificate/{sid}")).await.1["bind_host"],
        shared_hosts
    );
    assert_eq!(
        app.get(&format!("waf/certificate/{gid}")).await.1["bind_host"],
        json!([bind(&h4)])
    );
    let (_, list) = app.get("waf/certificate?host=true").await;
    let by_name = |list: &Value, name: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name(&list, "shared")["bind_host"], shared_hosts);
    assert_eq!(by_name(&list, "single")["bind_host"], json!([bind(&h4)]));
    assert_eq!(by_name(&list, "free")["bind_host"], json!([]));
    assert!(
        by_name(&app.get("waf/certificate").await.1, "shared")
            .get("bind_host")
            .is_none(),
        "only with host=true"
    );
    // Paged: each page carries exactly its own certificates' hosts.
    let position = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .position(|i| i["name"] == "shared")
        .unwrap();
    let (_, page) = app
        .get(&format!(
            "waf/certificate?host=true&pagesize=1&page={}",
            position + 1
        ))
        .await;
    assert_eq!(page["items"][0]["name"], "shared");
    assert_eq!(page["items"][0]["bind_host"], shared_hosts);
    assert_eq!(free["bind_host"], json!([]));
    // The host side shows the binding too; a deleted host and a rebound host leave the list.
    assert_eq!(
        app.get(&host_path(&id_of(&h3))).await.1["certificatename"],
        "shared"
    );
    app.delete(&host_path(&id_of(&h1))).await;
    assert_eq!(
        app.put(
            &host_path(&id_of(&h2)),
            &json!({"certificateid": gid, "certificatename": "single"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.get(&format!("waf/certificate/{sid}")).await.1["bind_host"],
        json!([bind(&h3)])
    );
    assert_eq!(
        app.get(&format!("waf/certificate/{gid}")).await.1["bind_host"],
        json!([bind(&h2), bind(&h4)])
    );
    // A full page of 100 certificates with two hosts each.
    for i in 0..100 {
        let c = app.create_cert(&format!("bulk-{i:03}"), &fixture(90)).await;
        for side in ["x", "y"] {
            create_host(
                &app,
                &format!("{side}{i}.bulk.example.com"),
                "HTTPS",
                Some((&id_of(&c), &format!("bulk-{i:03}"))),
            )
            .await;
        }
    }
    let (_, page) = app
        .get("waf/certificate?host=true&pagesize=100&name=bulk-")
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    for item in items {
        let i: usize = item["name"].as_str().unwrap()[5..].parse().unwrap();
        let names: Vec<&str> = item["bind_host"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["hostname"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                format!("x{i}.bulk.example.com"),
                format!("y{i}.bulk.example.com")
            ],
            "{item}"
        );
    }
}

async fn bound_certificates_cannot_be_deleted_or_updated(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let cert = app.create_cert("in-use", &f).await;
    let cid = id_of(&cert);
    let path = format!("waf/certificate/{cid}");
    let h1 = create_host(&app, "zeta.example.com", "HTTPS", Some((&cid, "in-use"))).await;
    let h2 = create_host(&app, "alpha.example.com", "HTTP", Some((&cid, "in-use"))).await;
    for answer in [
        app.delete(&path).await,
        app.put(&path, &json!({"name": "renamed"})).await,
        app.put(
            &path,
            &json!({"name": "in-use", "content": f.cert_pem, "key": f.key_pem}),
        )
        .await,
    ] {
        assert_error(&answer, 400, "WAF.00022003");
        let msg = answer.1["error_msg"].as_str().unwrap();
        assert!(
            msg.contains("alpha.example.com, zeta.example.com"),
            "names the hosts: {msg}"
        );
    }
    assert_eq!(app.get(&path).await.1["name"], "in-use");
    // Freed by deleting one host and rebinding the other elsewhere.
    app.delete(&host_path(&id_of(&h1))).await;
    let answer = app.delete(&path).await;
    assert_error(&answer, 400, "WAF.00022003");
    assert!(!answer.1["error_msg"].as_str().unwrap().contains("zeta"));
    let next = app.create_cert("next", &f).await;
    assert_eq!(
        app.put(
            &host_path(&id_of(&h2)),
            &json!({"certificateid": id_of(&next), "certificatename": "next"})
        )
        .await
        .0,
        200
    );
    assert_eq!(app.put(&path, &json!({"name": "renamed"})).await.0, 200);
    let (status, body) = app.delete(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "renamed");
    assert_no_dangling_binding(&app).await;
}

async fn apply_to_hosts_is_all_or_nothing(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let old = app.create_cert("old", &fixture(90)).await;
    let new = app.create_cert("new", &fixture(90)).await;
    let (oid, nid) = (id_of(&old), id_of(&new));
    let h1 = id_of(&create_host(&app, "one.example.com", "HTTPS", Some((&oid, "old"))).await);
    let h2 = id_of(&create_host(&app, "two.example.com", "HTTP", None).await);
    let apply = |cert: &str| format!("waf/certificate/{cert}/apply-to-hosts");
    let unchanged = || async {
        assert_eq!(app.get(&host_path(&h1)).await.1["certificatename"], "old");
        assert!(
            app.get(&host_path(&h2))
                .await
                .1
                .get("certificateid")
                .is_none()
        );
    };
    for ids in [
        json!([h1, h2, NO_SUCH_ID]),
        json!([h1, "not-an-id"]),
        json!([NO_SUCH_ID]),
    ] {
        assert_error(
            &app.post(&apply(&nid), &json!({"premium_host_ids": ids}))
                .await,
            404,
            "WAF.00022001",
        );
        unchanged().await;
    }
    assert_error(
        &app.post(&apply(NO_SUCH_ID), &json!({"premium_host_ids": [h1]}))
            .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &app.post(&apply(&nid), &json!({"premium_host_ids": []}))
            .await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.post(&apply(&nid), &json!({})).await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.post(
            &apply(&nid),
            &json!({"premium_host_ids": [h1], "cloud_host_ids": [h2]}),
        )
        .await,
        400,
        "WAF.00011003",
    );
    unchanged().await;
    let (status, body) = app
        .post(
            &apply(&nid),
            &json!({"premium_host_ids": [h1, h2, h1], "cloud_host_ids": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bind_host"].as_array().unwrap().len(), 2);
    for h in [&h1, &h2] {
        let (_, shown) = app.get(&host_path(h)).await;
        assert_eq!(
            (
                shown["certificateid"].as_str(),
                shown["certificatename"].as_str()
            ),
            (Some(nid.as_str()), Some("new"))
        );
    }
    assert_eq!(
        app.get(&format!("waf/certificate/{oid}")).await.1["bind_host"],
        json!([])
    );
    // Applying again is harmless.
    assert_eq!(
        app.post(&apply(&nid), &json!({"premium_host_ids": [h2]}))
            .await
            .0,
        200
    );
}

async fn ids_of_other_projects_are_not_found(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("mine", &fixture(90)).await;
    let cid = id_of(&cert);
    let host = create_host(&app, "mine.example.com", "HTTPS", Some((&cid, "mine"))).await;
    let hid = id_of(&host);
    let other = wafcert::domain::ProjectId::random().to_string();
    let token = app.token_for(&other, Role::Admin, None).await;
    let url = |p: &str| format!("{}/v1/{other}/{p}", app.base);
    let send = |r: reqwest::RequestBuilder| app.send(r.header("X-Auth-Token", token.clone()));
    assert_error(
        &send(app.client.get(url(&host_path(&hid)))).await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &send(
            app.client
                .put(url(&host_path(&hid)))
                .json(&json!({"description": "stolen"})),
        )
        .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &send(app.client.delete(url(&host_path(&hid)))).await,
        404,
        "WAF.00022001",
    );
    assert_eq!(
        send(app.client.get(url(HOSTS))).await.1,
        json!({"total": 0, "items": []})
    );
    // Binding the other project's certificate, from either side.
    let theirs = host_body("theirs.example.com", "HTTPS", Some((&cid, "mine")));
    assert_error(
        &send(app.client.post(url(HOSTS)).json(&theirs)).await,
        404,
        "WAF.00022001",
    );
    let (status, their_cert) = send(
        app.client
            .post(url("waf/certificate"))
            .json(&fixture(90).body("theirs")),
    )
    .await;
    assert_eq!(status, 200);
    let tid = id_of(&their_cert);
    let (status, their_host) = send(app.client.post(url(HOSTS)).json(&host_body(
        "theirs.example.com",
        "HTTPS",
        Some((&tid, "theirs")),
    )))
    .await;
    assert_eq!(status, 200, "{their_host}");
    let their_host = id_of(&their_host);
    assert_error(
        &send(
            app.client
                .put(url(&host_path(&their_host)))
                .json(&json!({"certificateid": cid, "certificatename": "mine"})),
        )
        .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &send(
            app.client
                .post(url(&format!("waf/certificate/{tid}/apply-to-hosts")))
                .json(&json!({"premium_host_ids": [hid]})),
        )
        .await,
        404,
        "WAF.00022001",
    );
    assert_error(
        &send(
            app.client
                .post(url(&format!("waf/certificate/{cid}/apply-to-hosts")))
                .json(&json!({"premium_host_ids": [their_host]})),
        )
        .await,
        404,
        "WAF.00022001",
    );
    // A token of one project cannot use the other's URL either.
    assert_error(
        &app.send(
            app.client
                .get(url(HOSTS))
                .header("X-Auth-Token", &app.token),
        )
        .await,
        401,
        "WAF.00012002",
    );
    // Nothing changed on either side.
    let (_, mine) = app.get(&host_path(&hid)).await;
    assert_eq!(
        (mine["certificateid"].as_str(), mine["description"].as_str()),
        (Some(cid.as_str()), Some(""))
    );
    assert_eq!(
        app.get(&format!("waf/certificate/{cid}")).await.1["bind_host"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
