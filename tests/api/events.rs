//! The event log: every certificate and host change is one event with its actor, readable
//! through `GET /v1/{project_id}/wafcert/events` with paging and filters.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::crypto::token_id;
use wafcert::domain::Role;

use crate::helpers::*;
use crate::on_both_backends;

pub(crate) const EVENTS: &str = "wafcert/events";

on_both_backends!(
    changes_are_logged_with_their_actor,
    listing_pages_and_filters,
    reset_removes_the_events_of_its_projects_only,
);

/// The events of the app's project, newest first (up to 100).
pub(crate) async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("{EVENTS}?pagesize=100{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

pub(crate) fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn changes_are_logged_with_their_actor(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let cert = app.create_cert("first", &fixture(60)).await;
    let cert_id = id_of(&cert);
    let host = create_host(&app, "a.example.com", "HTTP", None).await;
    let host_id = id_of(&host);
    let (s, _) = app
        .post(
            &format!("waf/certificate/{cert_id}/apply-to-hosts"),
            &json!({"premium_host_ids": [host_id]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .put(
            &host_path(&host_id),
            &json!({"certificateid": null, "certificatename": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .put(
            &format!("waf/certificate/{cert_id}"),
            &json!({"name": "second"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = app.delete(&host_path(&host_id)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.delete(&format!("waf/certificate/{cert_id}")).await;
    assert_eq!(s, StatusCode::OK);

    let (_, raw) = app.get(&format!("{EVENTS}?pagesize=100")).await;
    assert!(!raw.to_string().contains("PRIVATE KEY"));
    let log = events(&app, "").await;
    assert_eq!(
        types(&log),
        [
            "wafcert.certificate.deleted",
            "wafcert.host.deleted",
            "wafcert.certificate.renamed",
            "wafcert.certificate.unbound",
            "wafcert.host.updated",
            "wafcert.certificate.bound",
            "wafcert.host.created",
            "wafcert.certificate.created",
        ]
    );
    let actor = token_id(&app.token);
    assert_eq!(actor.len(), 16);
    for e in &log {
        assert_eq!(e["actor"], actor, "{e}");
        assert_eq!(e["project_id"], app.project.as_str());
        assert_eq!(e["id"].as_str().unwrap().len(), 32);
        assert!(e["time"].as_i64().unwrap() > 0);
        assert_eq!(e["delivery"]["state"], "none", "no webhook configured");
        let data = &e["data"];
        if e["type"]
            .as_str()
            .unwrap()
            .starts_with("wafcert.certificate.")
        {
            assert_eq!(data["certificate_id"], cert_id.as_str(), "{e}");
            assert_eq!(e["subject"], cert_id.as_str());
            assert!(data["name"].is_string());
        } else {
            assert_eq!(data["host_id"], host_id.as_str(), "{e}");
            assert_eq!(data["hostname"], "a.example.com");
            assert_eq!(e["subject"], host_id.as_str());
        }
    }
    let renamed = &log[2]["data"];
    assert_eq!(
        (renamed["name"].as_str(), renamed["old_name"].as_str()),
        (Some("second"), Some("first"))
    );
    assert_eq!(log[5]["data"]["hostname"], "a.example.com");
    assert_eq!(log[7]["data"]["expire_time"], cert["expire_time"]);
}

async fn listing_pages_and_filters(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(
            &app.create_cert(&format!("c{i}"), &fixture(60)).await,
        ));
    }
    create_host(&app, "b.example.com", "HTTP", None).await;

    let (s, page) = app.get(&format!("{EVENTS}?page=2&pagesize=2")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["total"], 4);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["subject"], ids[1].as_str());
    assert_eq!(items[1]["subject"], ids[0].as_str());
    let (_, default) = app.get(EVENTS).await;
    assert_eq!(default["items"].as_array().unwrap().len(), 4);

    let created = events(&app, "&type=wafcert.certificate.created").await;
    assert_eq!(created.len(), 3);
    let one = events(&app, &format!("&subject={}", ids[2])).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["subject"], ids[2].as_str());
    assert!(events(&app, "&type=wafcert.host.deleted").await.is_empty());

    for bad in [
        "pagesize=0",
        "pagesize=101",
        "pagesize=-1",
        "page=0",
        "page=x",
    ] {
        assert_error(
            &app.get(&format!("{EVENTS}?{bad}")).await,
            400,
            "WAF.00011011",
        );
    }
    assert_error(
        &app.get(&format!("{EVENTS}?type=wafcert.bogus")).await,
        400,
        "WAF.00011002",
    );
    assert_error(
        &app.get(&format!("{EVENTS}?subject=x")).await,
        400,
        "WAF.00011002",
    );

    let reader = app.token_for(&app.project, Role::ReadOnly, None).await;
    let (s, b) = app.get_as(EVENTS, &reader).await;
    assert_eq!((s, b["total"].as_i64()), (StatusCode::OK, Some(4)));
    let other = app
        .token_for("fedcba9876543210fedcba9876543210", Role::Admin, None)
        .await;
    assert_error(&app.get_as(EVENTS, &other).await, 401, "WAF.00012002");
    assert_error(
        &app.send(app.client.get(app.url(EVENTS))).await,
        401,
        "WAF.00012001",
    );
    // Not an event source: a failed write records nothing.
    let (s, _) = app.post(HOSTS, &json!({"hostname": "b.example.com"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(events(&app, "").await.len(), 4);
}

async fn reset_removes_the_events_of_its_projects_only(db: Db) {
    let mut app = TestApp::spawn_with_controls(db).await;
    app.create_cert("a", &fixture(60)).await;
    let (project_a, token_a) = (app.project.clone(), app.token.clone());
    let project_b = wafcert::domain::ProjectId::random().to_string();
    app.token = app.token_for(&project_b, Role::Admin, None).await;
    app.project = project_b;
    app.create_cert("b", &fixture(60)).await;
    let (s, answer) = app
        .control_post("reset", &json!({"project_id": project_a}))
        .await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(events(&app, "").await.len(), 1, "project B keeps its event");
    let (s, page) = app
        .send(
            app.client
                .get(format!("{}/v1/{project_a}/{EVENTS}", app.base))
                .header("X-Auth-Token", &token_a),
        )
        .await;
    assert_eq!((s, &page["total"]), (StatusCode::OK, &json!(0)), "{page}");
    assert_eq!(
        app.control_post("reset", &json!({})).await.0,
        StatusCode::OK
    );
    assert!(
        events(&app, "").await.is_empty(),
        "and writes none of its own"
    );
}
