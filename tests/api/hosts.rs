//! Protected domains (`premium-waf/host`) and certificate binding: every field rule and error
//! code, binding from both sides, `bind_host`, in-use refusals, rotation, and the races.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::auth::Role;

use crate::helpers::*;

crate::on_both_backends!(
    create_show_list_delete_round_trip,
    hostnames_are_validated_lowercased_and_unique,
    bodies_are_validated,
    readonly_callers_may_only_read,
    protocol_follows_the_front_protocols,
    https_needs_a_certificate,
    certificate_fields_are_checked,
    expired_certificates_cannot_be_bound,
    update_changes_only_the_fields_it_carries,
    list_pages_and_filters,
    bind_host_lists_every_bound_host,
    bound_certificates_cannot_be_deleted_or_updated,
    apply_to_hosts_is_all_or_nothing,
    ids_of_other_projects_are_not_found,
    rotation_without_downtime,
    bind_and_delete_race_safely,
    bind_and_rename_race_safely,
);

const HOSTS: &str = "premium-waf/host";
const NO_SUCH_ID: &str = "0123456789abcdef0123456789abcdef";

/// An origin server entry.
fn server(front: &str) -> Value {
    json!({"front_protocol": front, "back_protocol": "HTTP", "address": "10.0.0.10", "port": 8080,
           "type": "ipv4", "vpc_id": "vpc-0a1b2c"})
}

/// A create body; `certificate` is `(id, name)`.
fn host_body(hostname: &str, front: &str, certificate: Option<(&str, &str)>) -> Value {
    let mut body = json!({"hostname": hostname, "server": [server(front)], "proxy": false});
    if let Some((id, name)) = certificate {
        body["certificateid"] = json!(id);
        body["certificatename"] = json!(name);
    }
    body
}

/// Creates a host; panics unless it succeeds. Returns the response body.
async fn create_host(
    app: &TestApp,
    hostname: &str,
    front: &str,
    certificate: Option<(&str, &str)>,
) -> Value {
    let (status, body) = app
        .post(HOSTS, &host_body(hostname, front, certificate))
        .await;
    assert_eq!(status, StatusCode::OK, "create {hostname}: {body}");
    body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn host_path(id: &str) -> String {
    format!("{HOSTS}/{id}")
}

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

/// The invariant of every race: each host that names a certificate names one that exists (and
/// whose name the join still finds).
async fn assert_no_dangling_binding(app: &TestApp) {
    let (status, list) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    assert_eq!(status, 200, "{list}");
    for host in list["items"].as_array().unwrap() {
        if let Some(cert) = host["certificateid"].as_str() {
            assert!(
                host["certificatename"].is_string(),
                "host points at a missing certificate: {host}"
            );
            let (status, body) = app.get(&format!("waf/certificate/{cert}")).await;
            assert_eq!(
                status, 200,
                "host {} points at deleted certificate {cert}: {body}",
                host["hostname"]
            );
        }
    }
}

async fn create_show_list_delete_round_trip(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let before = wafcert::domain::now_ms();
    let created = create_host(&app, "WWW.Example.com", "HTTP", None).await;
    let id = id_of(&created);
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(
        created["hostname"], "www.example.com",
        "hostnames are stored lowercase"
    );
    assert_eq!(created["protocol"], "HTTP");
    assert_eq!(created["server"], json!([server("HTTP")]));
    assert_eq!(created["proxy"], false);
    assert_eq!(created["description"], "");
    assert_eq!(created["protect_status"], 1);
    assert_eq!(created["tls"], "TLS v1.2");
    assert_eq!(created["cipher"], "cipher_default");
    assert!(created.get("certificateid").is_none() && created.get("certificatename").is_none());
    let ts = created["timestamp"].as_i64().unwrap();
    assert!(ts >= before && ts <= wafcert::domain::now_ms());

    let (status, shown) = app.get(&host_path(&id)).await;
    assert_eq!(status, 200);
    assert_eq!(shown, created, "show answers what create answered");
    let (status, list) = app.get(HOSTS).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!({"total": 1, "items": [created]}));

    let (status, deleted) = app.delete(&host_path(&id)).await;
    assert_eq!(status, 200);
    assert_eq!(deleted, json!({"id": id, "hostname": "www.example.com"}));
    assert_error(&app.get(&host_path(&id)).await, 404, "WAF.00022001");
    assert_error(&app.delete(&host_path(&id)).await, 404, "WAF.00022001");
    assert_error(
        &app.put(&host_path(&id), &json!({"description": "x"})).await,
        404,
        "WAF.00022001",
    );
    for bad in [NO_SUCH_ID, "not-an-id", "0123456789ABCDEF0123456789ABCDEF"] {
        assert_error(&app.get(&host_path(bad)).await, 404, "WAF.00022001");
    }
    assert_eq!(app.get(HOSTS).await.1, json!({"total": 0, "items": []}));
    // Optional fields and an IPv6 origin whose type follows the address.
    let body = json!({"hostname": "*.shop.example.com", "proxy": true, "description": "Shop ✓",
        "protect_status": 0, "tls": "TLS v1.3", "cipher": "cipher_2",
        "server": [{"front_protocol": "HTTP", "back_protocol": "HTTPS", "address": "fd00::1", "port": 443, "weight": 1}]});
    let (status, created) = app.post(HOSTS, &body).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["server"],
        json!([{"front_protocol": "HTTP", "back_protocol": "HTTPS", "address": "fd00::1", "port": 443, "type": "ipv6"}])
    );
    for k in [
        "proxy",
        "description",
        "protect_status",
        "tls",
        "cipher",
        "hostname",
    ] {
        assert_eq!(created[k], body[k], "{k}");
    }
}

async fn hostnames_are_validated_lowercased_and_unique(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for bad in [
        "",
        "localhost",
        "*.com",
        "www.*.example.com",
        "exa mple.com",
        "example.com:8080",
        "under_score.example.com",
        "10.0.0.1",
        "bücher.example",
        "example.com.",
        "-x.example.com",
        &format!("{}.example.com", "a".repeat(64)),
    ] {
        let answer = app.post(HOSTS, &host_body(bad, "HTTP", None)).await;
        assert_error(&answer, 400, "WAF.00011006");
        assert!(
            answer.1["error_msg"]
                .as_str()
                .unwrap()
                .contains("domain name"),
            "{bad}: {}",
            answer.1
        );
    }
    assert_error(
        &app.post(HOSTS, &json!({"hostname": 7, "server": [server("HTTP")]}))
            .await,
        400,
        "WAF.00011003",
    );
    create_host(&app, "*.example.com", "HTTP", None).await;
    create_host(&app, "shop.example.com", "HTTP", None).await;
    let answer = app
        .post(HOSTS, &host_body("SHOP.example.COM", "HTTP", None))
        .await;
    assert_error(&answer, 400, "WAF.00011016");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("shop.example.com"),
        "{}",
        answer.1
    );
    assert_error(
        &app.post(HOSTS, &host_body("*.EXAMPLE.com", "HTTP", None))
            .await,
        400,
        "WAF.00011016",
    );
    assert_eq!(
        app.get(HOSTS).await.1["total"],
        2,
        "nothing stored by refused creates"
    );
    // The same hostname in another project is fine.
    let other = wafcert::domain::ProjectId::random().to_string();
    let token = app.token_for(&other, Role::Admin, None).await;
    let url = format!("{}/v1/{other}/{HOSTS}", app.base);
    let (status, body) = app
        .send(
            app.client
                .post(url)
                .header("X-Auth-Token", token)
                .json(&host_body("shop.example.com", "HTTP", None)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn bodies_are_validated(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let with_server = |entry: Value| json!({"hostname": "a.example.com", "server": [entry]});
    let mut s = server("HTTP");
    let edit = |k: &str, v: Value| {
        let mut e = server("HTTP");
        if v.is_null() {
            e.as_object_mut().unwrap().remove(k);
        } else {
            e[k] = v;
        }
        with_server(e)
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"server": [server("HTTP")]}), "hostname is required"),
        (
            json!({"hostname": "a.example.com"}),
            "server (the origin servers) is required",
        ),
        (
            json!({"hostname": "a.example.com", "server": []}),
            "1 to 80",
        ),
        (
            json!({"hostname": "a.example.com", "server": vec![server("HTTP"); 81]}),
            "1 to 80",
        ),
        (
            edit("front_protocol", Value::Null),
            "server[0].front_protocol is required",
        ),
        (
            edit("front_protocol", json!("https")),
            "front_protocol must be HTTP or HTTPS",
        ),
        (
            edit("back_protocol", json!("TCP")),
            "back_protocol must be HTTP or HTTPS",
        ),
        (edit("address", Value::Null), "address is required"),
        (edit("address", json!("10.0.0.1:80")), "address must be"),
        (edit("port", Value::Null), "port is required"),
        (edit("port", json!(0)), "port must be from 1 to 65535"),
        (edit("port", json!(70000)), "port must be from 1 to 65535"),
        (edit("port", json!("80")), "wrong type"),
        (edit("type", json!("ipv6")), "not an IPv6 address"),
        (edit("type", json!("v4")), "type must be ipv4 or ipv6"),
        (edit("vpc_id", json!("no spaces allowed")), "vpc_id must be"),
        (
            json!({"hostname": "a.example.com", "server": [server("HTTP")], "tls": "TLSv1.2"}),
            "tls must be",
        ),
        (
            json!({"hostname": "a.example.com", "server": [server("HTTP")], "cipher": "cipher_9"}),
            "cipher must be",
        ),
        (
            json!({"hostname": "a.example.com", "server": [server("HTTP")], "protect_status": 2}),
            "protect_status must be",
        ),
        (
            json!({"hostname": "a.example.com", "server": [server("HTTP")], "description": "x".repeat(257)}),
            "description must be",
        ),
        (
            json!({"hostname": "a.example.com", "server": [server("HTTP")], "proxy": "yes"}),
            "wrong type",
        ),
        (
            json!({"hostname": "a.example.com", "server": server("HTTP")}),
            "wrong type",
        ),
        (json!([1, 2]), "wrong type"),
    ];
    for (body, needle) in cases {
        let answer = app.post(HOSTS, &body).await;
        assert_error(&answer, 400, "WAF.00011003");
        let msg = answer.1["error_msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    // The second entry is named in the message.
    s["port"] = json!(-1);
    let answer = app
        .post(
            HOSTS,
            &json!({"hostname": "a.example.com", "server": [server("HTTP"), s]}),
        )
        .await;
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("server[1].port"),
        "{}",
        answer.1
    );
    let raw = |b: &'static str| {
        app.client
            .post(app.url(HOSTS))
            .header("X-Auth-Token", &app.token)
            .header("Content-Type", "application/json;charset=utf8")
            .body(b)
    };
    assert_error(&app.send(raw("{\"hostname\": ")).await, 400, "WAF.00011003");
    assert_error(&app.send(raw("")).await, 400, "WAF.00011003");
    // Wrong method on a known route, and unknown routes.
    let answer = app
        .send(
            app.client
                .patch(app.url(HOSTS))
                .header("X-Auth-Token", &app.token),
        )
        .await;
    assert_error(&answer, 405, "WAF.00011001");
    assert_error(&app.get("premium-waf/hosts").await, 404, "WAF.00014009");
    assert_eq!(app.get(HOSTS).await.1["total"], 0);
}

async fn readonly_callers_may_only_read(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let host = create_host(&app, "ro.example.com", "HTTP", None).await;
    let path = host_path(&id_of(&host));
    let token = app.token_for(&app.project, Role::ReadOnly, None).await;
    let as_reader = |r: reqwest::RequestBuilder| r.header("X-Auth-Token", token.clone());
    assert_eq!(
        app.send(as_reader(app.client.get(app.url(HOSTS)))).await.1["total"],
        1
    );
    assert_eq!(
        app.send(as_reader(app.client.get(app.url(&path)))).await.0,
        200
    );
    assert_error(
        &app.send(as_reader(app.client.post(app.url(HOSTS)).json(&host_body(
            "x.example.com",
            "HTTP",
            None,
        ))))
        .await,
        401,
        "WAF.00012003",
    );
    assert_error(
        &app.send(as_reader(
            app.client
                .put(app.url(&path))
                .json(&json!({"description": "x"})),
        ))
        .await,
        401,
        "WAF.00012003",
    );
    assert_error(
        &app.send(as_reader(app.client.delete(app.url(&path)))).await,
        401,
        "WAF.00012003",
    );
    assert_error(
        &app.send(app.client.get(app.url(HOSTS))).await,
        401,
        "WAF.00012001",
    );
}

async fn protocol_follows_the_front_protocols(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("proto", &fixture(90)).await;
    let c = (cert["id"].as_str().unwrap(), "proto");
    let http = create_host(&app, "http.example.com", "HTTP", None).await;
    assert_eq!(http["protocol"], "HTTP");
    let https = create_host(&app, "https.example.com", "HTTPS", Some(c)).await;
    assert_eq!(https["protocol"], "HTTPS");
    let both = json!({"hostname": "both.example.com", "server": [server("HTTPS"), server("HTTP"), server("HTTPS")],
        "certificateid": c.0, "certificatename": c.1});
    let (status, both) = app.post(HOSTS, &both).await;
    assert_eq!(status, 200, "{both}");
    assert_eq!(both["protocol"], "HTTP,HTTPS");
    // An update of the servers updates the protocol.
    let (_, updated) = app
        .put(
            &host_path(&id_of(&both)),
            &json!({"server": [server("HTTPS")]}),
        )
        .await;
    assert_eq!(updated["protocol"], "HTTPS");
    assert_eq!(updated["server"].as_array().unwrap().len(), 1);
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
    let unbind = json!({"certificateid": "", "certificatename": ""});
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
            assert_error(&answer, status, code);
            assert!(
                answer.1["error_msg"].as_str().unwrap().contains(needle),
                "{fields}: {}",
                answer.1
            );
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
    assert_error(&answer, 400, "WAF.00021013");
    assert!(answer.1["error_msg"].as_str().unwrap().contains("expired"));
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
    let short = app.create_cert("short", &fixture_seconds(2)).await;
    let sid = id_of(&short);
    let (status, body) = app
        .put(
            &path,
            &json!({"certificateid": sid, "certificatename": "short"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let other = create_host(&app, "other.example.com", "HTTP", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
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

async fn update_changes_only_the_fields_it_carries(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("kept", &fixture(90)).await;
    let cid = id_of(&cert);
    let created = create_host(&app, "keep.example.com", "HTTPS", Some((&cid, "kept"))).await;
    let path = host_path(&id_of(&created));
    let (status, body) = app.put(&path, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, created, "an empty update changes nothing");
    let (_, body) = app.put(&path, &json!({"description": "main shop"})).await;
    let mut expected = created.clone();
    expected["description"] = json!("main shop");
    assert_eq!(body, expected);
    let (_, body) = app
        .put(
            &path,
            &json!({"tls": "TLS v1.3", "cipher": "cipher_1", "proxy": true, "protect_status": -1}),
        )
        .await;
    for (k, v) in [
        ("tls", json!("TLS v1.3")),
        ("cipher", json!("cipher_1")),
        ("proxy", json!(true)),
        ("protect_status", json!(-1)),
    ] {
        expected[k] = v;
    }
    assert_eq!(body, expected);
    let servers = json!([server("HTTPS"), {"front_protocol": "HTTPS", "back_protocol": "HTTPS", "address": "origin.internal", "port": 443, "type": "ipv4"}]);
    let (_, body) = app.put(&path, &json!({"server": servers})).await;
    expected["server"] = servers;
    assert_eq!(body, expected);
    // Null means "not carried" for plain fields; the hostname may be restated but not changed.
    let (_, body) = app
        .put(
            &path,
            &json!({"description": null, "tls": null, "hostname": "KEEP.example.com"}),
        )
        .await;
    assert_eq!(body, expected);
    let answer = app
        .put(&path, &json!({"hostname": "moved.example.com"}))
        .await;
    assert_error(&answer, 400, "WAF.00011003");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("cannot be changed")
    );
    assert_error(
        &app.put(&path, &json!({"hostname": "bad host"})).await,
        400,
        "WAF.00011006",
    );
    assert_error(
        &app.put(&path, &json!({"tls": "SSLv3", "description": "ignored"}))
            .await,
        400,
        "WAF.00011003",
    );
    assert_eq!(
        app.get(&path).await.1,
        expected,
        "refused updates change nothing"
    );
    assert_eq!(
        expected["timestamp"], created["timestamp"],
        "timestamp keeps the creation time"
    );
}

async fn list_pages_and_filters(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let name = if i % 3 == 0 {
            format!("shop-{i}.example.com")
        } else {
            format!("web{i}.example.org")
        };
        ids.push(id_of(&create_host(&app, &name, "HTTP", None).await));
    }
    create_host(&app, "a-b.example.net", "HTTP", None).await;
    let listed = |body: &Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>()
    };
    let (_, body) = app.get(HOSTS).await;
    assert_eq!(body["total"], 13);
    assert_eq!(
        body["items"].as_array().unwrap().len(),
        10,
        "default page size is 10"
    );
    assert_eq!(
        body["items"][0]["hostname"], "a-b.example.net",
        "newest first"
    );
    let (_, page2) = app.get(&format!("{HOSTS}?page=2")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 3);
    let (_, all) = app.get(&format!("{HOSTS}?pagesize=-1&page=5")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 13);
    let mut paged = listed(&body);
    paged.extend(listed(&page2));
    assert_eq!(paged, listed(&all), "pages are stable and complete");
    let (_, body) = app.get(&format!("{HOSTS}?pagesize=5&page=3")).await;
    assert_eq!(
        (
            body["total"].as_i64(),
            body["items"].as_array().unwrap().len()
        ),
        (Some(13), 3)
    );
    let (_, body) = app.get(&format!("{HOSTS}?pagesize=100&page=2")).await;
    assert_eq!(body, json!({"total": 13, "items": []}));
    let (_, body) = app.get(&format!("{HOSTS}?hostname=SHOP&pagesize=2")).await;
    assert_eq!(body["total"], 4);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["hostname"].as_str().unwrap().starts_with("shop-"))
    );
    let (_, body) = app.get(&format!("{HOSTS}?hostname=.example.org")).await;
    assert_eq!(body["total"], 8);
    for (pattern, total) in [("a_b", 0), ("a-b", 1), ("%25", 0), ("nothing", 0), ("", 13)] {
        assert_eq!(
            app.get(&format!("{HOSTS}?hostname={pattern}")).await.1["total"],
            total,
            "{pattern}"
        );
    }
    for bad in [
        "page=0",
        "page=x",
        "pagesize=0",
        "pagesize=101",
        "pagesize=-2",
        "pagesize=ten",
    ] {
        assert_error(
            &app.get(&format!("{HOSTS}?{bad}")).await,
            400,
            "WAF.00011011",
        );
    }
    assert_eq!(
        app.get(&format!(
            "{HOSTS}?enterprise_project_id=0&policyname=x&pageSize=1"
        ))
        .await
        .1["total"],
        13
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
    let (_, page) = app.get("waf/certificate?host=true&pagesize=1&page=3").await;
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

async fn rotation_without_downtime(db: Db) {
    let app = TestApp::spawn_on(db).await;
    // Last year's certificate serves two hosts and expires in 10 days.
    let old = app.create_cert("shop-2025", &fixture(10)).await;
    let oid = id_of(&old);
    let www =
        id_of(&create_host(&app, "www.shop.example", "HTTPS", Some((&oid, "shop-2025"))).await);
    let api =
        id_of(&create_host(&app, "api.shop.example", "HTTPS", Some((&oid, "shop-2025"))).await);
    let always_served = || async {
        for h in [&www, &api] {
            let (_, host) = app.get(&host_path(h)).await;
            let cert = host["certificateid"]
                .as_str()
                .expect("an HTTPS host always has a certificate");
            assert_eq!(app.get(&format!("waf/certificate/{cert}")).await.0, 200);
        }
    };
    assert_eq!(
        app.get(&format!("waf/certificate/{oid}?")).await.1["exp_status"],
        2
    );
    // 1. Upload the renewed certificate under a new name.
    let renewed = fixture(400);
    let new = app.create_cert("shop-2026", &renewed).await;
    let nid = id_of(&new);
    always_served().await;
    // 2. Point each host at it: one by host update, one by apply-to-hosts.
    let (status, body) = app
        .put(
            &host_path(&www),
            &json!({"certificateid": nid, "certificatename": "shop-2026"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    always_served().await;
    let answer = app.delete(&format!("waf/certificate/{oid}")).await;
    assert_error(&answer, 400, "WAF.00022003");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("api.shop.example"),
        "names the host still on it"
    );
    let (status, body) = app
        .post(
            &format!("waf/certificate/{nid}/apply-to-hosts"),
            &json!({"premium_host_ids": [api]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    always_served().await;
    // 3. The old certificate is free: delete it.
    assert_eq!(
        app.get(&format!("waf/certificate/{oid}")).await.1["bind_host"],
        json!([])
    );
    let (status, body) = app.delete(&format!("waf/certificate/{oid}")).await;
    assert_eq!(status, 200, "{body}");
    always_served().await;
    let (_, list) = app.get("waf/certificate?host=true").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["name"], "shop-2026");
    assert_eq!(list["items"][0]["exp_status"], 0);
    assert_eq!(list["items"][0]["expire_time"], renewed.not_after_ms);
    let hostnames: Vec<&str> = list["items"][0]["bind_host"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hostnames, ["api.shop.example", "www.shop.example"]);
}

async fn bind_and_delete_race_safely(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let hid = id_of(&create_host(&app, "race.example.com", "HTTP", None).await);
    let (mut binds_won, mut deletes_won) = (0, 0);
    for round in 0..40 {
        let name = format!("race-{round}");
        let cid = id_of(&app.create_cert(&name, &f).await);
        // Half the rounds bind from the host side, half from the certificate side.
        let bind = async {
            if round % 2 == 0 {
                app.put(
                    &host_path(&hid),
                    &json!({"certificateid": cid, "certificatename": name}),
                )
                .await
            } else {
                app.post(
                    &format!("waf/certificate/{cid}/apply-to-hosts"),
                    &json!({"premium_host_ids": [hid]}),
                )
                .await
            }
        };
        let cert_path = format!("waf/certificate/{cid}");
        let (bound, deleted) = tokio::join!(bind, app.delete(&cert_path));
        match (bound.0.as_u16(), deleted.0.as_u16()) {
            (200, 400) => {
                assert_eq!(deleted.1["error_code"], "WAF.00022003", "{}", deleted.1);
                assert_eq!(
                    app.get(&host_path(&hid)).await.1["certificateid"],
                    cid.as_str()
                );
                binds_won += 1;
            }
            (404, 200) => {
                assert_eq!(bound.1["error_code"], "WAF.00022001", "{}", bound.1);
                assert_ne!(
                    app.get(&host_path(&hid)).await.1["certificateid"],
                    cid.as_str()
                );
                deletes_won += 1;
            }
            other => panic!(
                "round {round}: exactly one of bind and delete must win, got {other:?}: {} / {}",
                bound.1, deleted.1
            ),
        }
        assert_no_dangling_binding(&app).await;
    }
    eprintln!("bind/delete race on {db:?}: binds won {binds_won}, deletes won {deletes_won}");
}

async fn bind_and_rename_race_safely(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let hid = id_of(&create_host(&app, "rename.example.com", "HTTP", None).await);
    for round in 0..20 {
        let name = format!("before-{round}");
        let cid = id_of(&app.create_cert(&name, &f).await);
        let (host_at, bind_body) = (
            host_path(&hid),
            json!({"certificateid": cid, "certificatename": name}),
        );
        let (cert_at, rename_body) = (
            format!("waf/certificate/{cid}"),
            json!({"name": format!("after-{round}")}),
        );
        let (bound, renamed) = tokio::join!(
            app.put(&host_at, &bind_body),
            app.put(&cert_at, &rename_body)
        );
        let (_, host) = app.get(&host_path(&hid)).await;
        match (bound.0.as_u16(), renamed.0.as_u16()) {
            // Bound first: the rename is refused and the host shows the name it was given.
            (200, 400) => {
                assert_eq!(renamed.1["error_code"], "WAF.00022003", "{}", renamed.1);
                assert_eq!(host["certificatename"], name.as_str());
            }
            // Renamed first: the bind's name no longer matches.
            (400, 200) => {
                assert_eq!(bound.1["error_code"], "WAF.00011003", "{}", bound.1);
                assert_ne!(host["certificateid"], cid.as_str());
            }
            other => panic!(
                "round {round}: exactly one of bind and rename must win, got {other:?}: {} / {}",
                bound.1, renamed.1
            ),
        }
    }
}
