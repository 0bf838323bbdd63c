//! The `exp_status` list pages are cached until the project's next expiry change on the
//! certificate clock: moving the test clock past a boundary (either way) changes the answer at
//! once, and a write does too.

use serde_json::{Value, json};

use crate::helpers::*;

crate::on_both_backends!(expiry_pages_follow_the_clock_at_once);

/// The names on an `exp_status` page, after reading it twice (the second read is the cached
/// one, and must agree with the first).
async fn names(app: &TestApp, status: i64) -> Vec<String> {
    let path = format!("waf/certificate?exp_status={status}&page=1&pagesize=10&host=true");
    let (_, first) = app.get(&path).await;
    let (_, second) = app.get(&path).await;
    assert_eq!(first, second, "a cached page equals the fresh one");
    let mut names: Vec<String> = second["items"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    assert_eq!(second["total"], names.len(), "{second}");
    names
}

async fn move_clock(app: &TestApp, body: Value) {
    let (status, answer) = app.control_post("clock", &body).await;
    assert!(status.is_success(), "{body} -> {answer}");
}

async fn expiry_pages_follow_the_clock_at_once(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    app.create_cert("ten", &fixture(10)).await;
    app.create_cert("forty", &fixture(40)).await;
    app.create_cert("long", &fixture(400)).await;
    assert_eq!(names(&app, 2).await, ["ten"]);
    assert_eq!(names(&app, 1).await, Vec::<String>::new());
    assert_eq!(names(&app, 0).await, ["forty", "long"]);

    // Past "ten"'s expiry and "forty"'s 30-day mark.
    move_clock(&app, json!({"advance": "P11D"})).await;
    assert_eq!(names(&app, 2).await, ["forty"]);
    assert_eq!(names(&app, 1).await, ["ten"]);
    assert_eq!(names(&app, 0).await, ["long"]);

    // Back before both boundaries: the pages read at the later time are not used.
    move_clock(&app, json!({"reset": true})).await;
    assert_eq!(names(&app, 2).await, ["ten"]);
    assert_eq!(names(&app, 1).await, Vec::<String>::new());

    // A write changes the cached page at once too.
    app.create_cert("twenty", &fixture(20)).await;
    assert_eq!(names(&app, 2).await, ["ten", "twenty"]);
}
