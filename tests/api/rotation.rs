//! Rotation without downtime (upload the renewed certificate, move every host to it, delete
//! the old one), and binds racing deletes and renames of the same certificate.

use serde_json::json;

use crate::helpers::*;

crate::on_both_backends!(
    rotation_without_downtime,
    bind_and_delete_race_safely,
    bind_and_rename_race_safely,
);

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
