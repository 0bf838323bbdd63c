//! Protected domains (`premium-waf/host`): create, show, list, update and delete, with every
//! field rule and error code. Binding rules are in `binding.rs`, rotation and races in
//! `rotation.rs`; host fixtures are in `helpers::hosts`.

use serde_json::{Value, json};
use wafcert::domain::Role;

use crate::helpers::*;

crate::on_both_backends!(
    create_show_list_delete_round_trip,
    hostnames_are_validated_lowercased_and_unique,
    bodies_are_validated,
    readonly_callers_may_only_read,
    protocol_follows_the_front_protocols,
    update_changes_only_the_fields_it_carries,
    list_pages_and_filters,
);

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
    for i in 0..12 {
        let name = if i % 3 == 0 {
            format!("shop-{i}.example.com")
        } else {
            format!("web{i}.example.org")
        };
        create_host(&app, &name, "HTTP", None).await;
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
    let (_, page2) = app.get(&format!("{HOSTS}?page=2")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 3);
    let (_, all) = app.get(&format!("{HOSTS}?pagesize=-1&page=5")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 13);
    let mut paged = listed(&body);
    paged.extend(listed(&page2));
    assert_eq!(paged, listed(&all), "pages are stable and complete");
    let keys: Vec<(i64, String)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["timestamp"].as_i64().unwrap(), id_of(h)))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "newest first, then id descending: {keys:?}"
    );
    assert!(keys.iter().all(|(ts, _)| *ts <= keys[0].0));
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
        app.get(&format!("{HOSTS}?enterprise_project_id=0&pageSize=1"))
            .await
            .1["total"],
        13
    );
    // Every host got a policy of its own, named `policy_...` (policies.rs tests the filter).
    assert_eq!(
        app.get(&format!("{HOSTS}?policyname=POLICY_")).await.1["total"],
        13
    );
    assert_eq!(
        app.get(&format!("{HOSTS}?policyname=x")).await.1["total"],
        0
    );
}
