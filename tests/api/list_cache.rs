//! The `exp_status` list pages are cached until the project's next expiry change on the
//! certificate clock: moving the test clock past a boundary (either way) changes the answer at
//! once, and a write does too. A page's rendered answer (kept with the cached page) shows
//! each certificate's `exp_status` as of the clock, whichever way it moves.

use serde_json::{Value, json};

use crate::helpers::*;

crate::on_both_backends!(
    expiry_pages_follow_the_clock_at_once,
    a_cached_page_shows_the_status_at_the_clock
);

/// The names on an `exp_status` page, after reading it twice (the second read is the cached
/// one, and must agree with the first).
async fn names(app: &TestApp, status: i64) -> Vec<String> {
    let path = format!("waf/certificate?exp_status={status}&page=1&pagesize=10&host=true");
    let (_, first) = app.get(&path).await;
    let (_, second) = app.get(&path).await;
    assert_eq!(first, second, "a cached page equals the fresh one");
    sorted_names(&second)
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

/// `name: exp_status` of the plain page with hosts, read twice (the second answer is the kept
/// rendering, and must agree with the first).
async fn statuses(app: &TestApp) -> Vec<(String, i64)> {
    let path = "waf/certificate?page=1&pagesize=10&host=true";
    let (_, first) = app.get(path).await;
    let (_, second) = app.get(path).await;
    assert_eq!(first, second, "a kept answer equals the fresh one");
    let mut found: Vec<(String, i64)> = second["items"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap_or_default().to_owned();
            (name, i["exp_status"].as_i64().unwrap_or(-1))
        })
        .collect();
    found.sort();
    found
}

async fn a_cached_page_shows_the_status_at_the_clock(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    app.create_cert("ten", &fixture(10)).await;
    app.create_cert("forty", &fixture(40)).await;
    let at_start = vec![("forty".to_owned(), 0), ("ten".to_owned(), 2)];
    assert_eq!(statuses(&app).await, at_start);
    // No write: the page stays cached, its codes follow the clock.
    move_clock(&app, json!({"advance": "P11D"})).await;
    assert_eq!(
        statuses(&app).await,
        [("forty".to_owned(), 2), ("ten".to_owned(), 1)]
    );
    move_clock(&app, json!({"reset": true})).await;
    assert_eq!(statuses(&app).await, at_start);
}
