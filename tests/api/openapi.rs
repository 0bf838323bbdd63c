//! The OpenAPI document: served without a credential, with the test controls only when the
//! server has them, one operation per SDK operation name, and equal to the committed snapshots
//! (`WAFCERT_UPDATE_SNAPSHOTS=1 cargo test --test api openapi` rewrites them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use wafcert::api::openapi::document;
use wafcert::api::operation::{OPERATIONS, operation};

use crate::helpers::{Db, TestApp};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "head"];

/// `(method, path template, operation)` of every operation in a document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                all.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    all
}

fn json(test_controls: bool) -> Value {
    serde_json::to_value(document(test_controls)).unwrap()
}

#[tokio::test]
async fn the_document_is_served_without_credentials() {
    let plain = TestApp::spawn_on(Db::Sqlite).await;
    let answer = reqwest::get(format!("{}/openapi.json", plain.base))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert!(answer.headers().contains_key("x-request-id"));
    let served: Value = answer.json().await.unwrap();
    assert_eq!(served, json(false));
    assert_eq!(served["openapi"], "3.1.0");
    assert!(
        served["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| !p.starts_with("/_wafcert")),
        "no test controls without --test-controls"
    );

    let controlled = TestApp::spawn_with_controls(Db::Sqlite).await;
    let served: Value = reqwest::get(format!("{}/openapi.json", controlled.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, json(true));
    assert!(served["paths"]["/_wafcert/faults"]["post"].is_object());
}

/// Every SDK operation is in the document exactly once under its own name, every other
/// operation is named `Wafcert...`, and the name the operation table gives the path is the
/// document's.
#[test]
fn operation_ids_follow_the_operation_table() {
    for test_controls in [false, true] {
        let doc = json(test_controls);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (method, template, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap().to_owned();
            *seen.entry(id.clone()).or_default() += 1;
            let path = template
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        "0123456789abcdef0123456789abcdef"
                    } else {
                        s
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method: axum::http::Method = method.to_uppercase().parse().unwrap();
            match operation(&method, &path) {
                Some(name) => assert_eq!(id, name, "{method} {template}"),
                None => assert!(
                    id.starts_with("Wafcert") && !OPERATIONS.contains(&id.as_str()),
                    "{method} {template} is no API operation, so its id starts with Wafcert: {id}"
                ),
            }
        }
        for name in OPERATIONS {
            assert_eq!(seen.get(*name), Some(&1), "{name} once in the document");
        }
        assert!(
            seen.values().all(|n| *n == 1),
            "operation ids are unique: {seen:?}"
        );
    }
}

/// The layers' answers: every `/v1` operation takes either credential and answers 401; every
/// operation documents 500 and 503 and its answers carry `X-Request-Id`.
#[test]
fn layer_answers_are_documented() {
    let doc = json(true);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["name"], "X-Auth-Token");
    assert_eq!(schemes["aksk"]["name"], "Authorization");
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        if path.starts_with("/v1/") {
            assert_eq!(
                op["security"],
                serde_json::json!([{"token": []}, {"aksk": []}]),
                "{method} {path}"
            );
            assert!(responses.contains_key("401"), "{method} {path}");
        }
        for status in ["500", "503"] {
            assert!(responses.contains_key(status), "{method} {path} {status}");
        }
        for (status, answer) in responses {
            assert!(
                answer["headers"]["X-Request-Id"].is_object(),
                "{method} {path} {status}"
            );
        }
    }
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/snapshots")
        .join(name)
}

/// The document is what was committed; a change must be looked at and committed too.
#[test]
fn the_document_matches_the_snapshots() {
    let update = std::env::var("WAFCERT_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    for (name, test_controls) in [
        ("openapi.json", false),
        ("openapi-test-controls.json", true),
    ] {
        let path = snapshot_path(name);
        let mut text = serde_json::to_string_pretty(&json(test_controls)).unwrap();
        text.push('\n');
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "the OpenAPI document differs from {}: if the change is intended, run \
             `WAFCERT_UPDATE_SNAPSHOTS=1 cargo test --test api openapi`, review the diff and \
             commit the snapshot",
            path.display()
        );
    }
}
