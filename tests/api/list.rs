//! `GET /v1/{project_id}/waf/certificate`: every parameter, default, limit and field.

use serde_json::{Value, json};

use crate::helpers::*;

crate::on_both_backends!(
    default_lists_all_newest_first_with_fixed_fields,
    paging_edges,
    invalid_parameters_are_refused,
    name_is_a_case_insensitive_literal_substring,
    host_true_adds_expiry_and_bindings,
    exp_status_filters_at_request_time,
    filters_combine_with_paging,
    name_searches_are_answered_from_memory_at_the_same_version,
);

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates `n` certificates named `cert-00`.. and returns their ids, oldest first.
async fn seed(app: &TestApp, n: usize) -> Vec<String> {
    let f = fixture(90);
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            app.create_cert(&format!("cert-{i:02}"), &f).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    out
}

async fn default_lists_all_newest_first_with_fixed_fields(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let (status, empty) = app.get("waf/certificate").await;
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"total": 0, "items": []}));
    let created = seed(&app, 12).await;
    let (_, list) = app.get("waf/certificate").await;
    assert_eq!(list["total"], 12);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        12,
        "absent pagesize returns all"
    );
    let mut newest_first = created.clone();
    newest_first.reverse();
    // Same-millisecond uploads tie-break on id descending, so compare as the contract orders.
    let items = list["items"].as_array().unwrap();
    for pair in items.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let key = |v: &Value| {
            (
                v["timestamp"].as_i64().unwrap(),
                v["id"].as_str().unwrap().to_owned(),
            )
        };
        assert!(key(a) > key(b), "newest first, then id descending: {a} {b}");
    }
    let mut sorted_ids = ids(&list);
    sorted_ids.sort();
    let mut expected = created;
    expected.sort();
    assert_eq!(sorted_ids, expected);
    let item = &items[0];
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "id",
        "name",
        "timestamp",
        "certificateid",
        "certificatename",
        "enterprise_project_id",
    ] {
        assert!(keys.contains(&k), "{k} in {item}");
    }
    for k in ["expire_time", "exp_status", "bind_host", "content", "key"] {
        assert!(
            !keys.contains(&k),
            "{k} must be absent without host=true: {item}"
        );
    }
    assert_eq!(item["certificateid"], item["id"]);
    assert_eq!(item["certificatename"], item["name"]);
    assert_eq!(item["enterprise_project_id"], "0");
}

async fn paging_edges(db: Db) {
    let app = TestApp::spawn_on(db).await;
    seed(&app, 7).await;
    let (_, all) = app.get("waf/certificate").await;
    let order = ids(&all);
    let page = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(&format!("waf/certificate?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            assert_eq!(body["total"], 7, "{q}");
            ids(&body)
        }
    };
    assert_eq!(page("page=1&pagesize=3").await, order[0..3]);
    assert_eq!(page("page=2&pagesize=3").await, order[3..6]);
    assert_eq!(page("page=3&pagesize=3").await, order[6..7]);
    assert!(
        page("page=4&pagesize=3").await.is_empty(),
        "past the end: empty items, right total"
    );
    assert!(page("page=1000000&pagesize=100").await.is_empty());
    assert_eq!(page("pagesize=3").await, order[0..3], "page defaults to 1");
    assert_eq!(page("page=2&pagesize=-1").await, order, "-1 ignores page");
    assert_eq!(page("page=2").await, order, "absent pagesize ignores page");
    assert_eq!(page("pagesize=100").await, order);
    assert_eq!(page("pagesize=1&page=7").await, order[6..7]);
    // Unknown parameters, including the camelCase pageSize some clients send, are ignored.
    assert_eq!(
        page("pageSize=2&offset=1&limit=2&enterprise_project_id=0").await,
        order
    );
}

async fn invalid_parameters_are_refused(db: Db) {
    let app = TestApp::spawn_on(db).await;
    seed(&app, 1).await;
    for q in [
        "pagesize=0",
        "pagesize=101",
        "pagesize=-2",
        "pagesize=ten",
        "pagesize=",
        "page=0",
        "page=-1",
        "page=x",
        "page=1.0",
        "page=",
        "page=99999999999999999999",
    ] {
        assert_error(
            &app.get(&format!("waf/certificate?{q}")).await,
            400,
            "WAF.00011011",
        );
    }
    for q in [
        "host=yes",
        "host=1",
        "host=",
        "exp_status=3",
        "exp_status=-1",
        "exp_status=a",
        "exp_status=",
    ] {
        assert_error(
            &app.get(&format!("waf/certificate?{q}")).await,
            400,
            "WAF.00011002",
        );
    }
}

async fn name_is_a_case_insensitive_literal_substring(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    for name in ["Shop-Prod", "shop-test", "blog", "a_b", "axb", "100.pct"] {
        app.create_cert(name, &f).await;
    }
    let names = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(&format!("waf/certificate?name={q}")).await;
            assert_eq!(status, 200);
            sorted_names(&body)
        }
    };
    assert_eq!(names("SHOP").await, ["Shop-Prod", "shop-test"]);
    assert_eq!(names("op-t").await, ["shop-test"]);
    assert_eq!(names("a_b").await, ["a_b"], "_ is literal");
    assert_eq!(names("%25").await, Vec::<String>::new(), "% is literal");
    assert_eq!(names("nothing").await, Vec::<String>::new());
    assert_eq!(names("").await.len(), 6, "an empty name filters nothing");
}

async fn host_true_adds_expiry_and_bindings(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(45);
    app.create_cert("with-host", &f).await;
    let (_, body) = app.get("waf/certificate?host=true").await;
    let item = &body["items"][0];
    assert_eq!(item["expire_time"], f.not_after_ms);
    assert_eq!(item["exp_status"], 0);
    assert_eq!(item["bind_host"], json!([]));
    let (_, body) = app.get("waf/certificate?host=false").await;
    assert!(body["items"][0].get("expire_time").is_none());
    assert!(body["items"][0].get("bind_host").is_none());
}

async fn exp_status_filters_at_request_time(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let valid = app.create_cert("valid", &fixture(31)).await;
    let soon = app.create_cert("soon", &fixture(29)).await;
    let expired = app.create_cert("expired", &fixture(-1)).await;
    assert_eq!(valid["exp_status"], 0);
    assert_eq!(soon["exp_status"], 2);
    assert_eq!(expired["exp_status"], 1);
    for (status, expected) in [(0, &valid), (1, &expired), (2, &soon)] {
        let (_, body) = app
            .get(&format!("waf/certificate?exp_status={status}&host=true"))
            .await;
        assert_eq!(body["total"], 1, "exp_status={status}: {body}");
        assert_eq!(body["items"][0]["id"], expected["id"]);
        assert_eq!(body["items"][0]["exp_status"], status);
    }
}

async fn filters_combine_with_paging(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for i in 0..5 {
        app.create_cert(&format!("web-{i}"), &fixture(90)).await;
        app.create_cert(&format!("api-{i}"), &fixture(10)).await;
    }
    let (_, body) = app
        .get("waf/certificate?name=WEB&exp_status=0&page=2&pagesize=2")
        .await;
    assert_eq!(body["total"], 5);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let (_, body) = app.get("waf/certificate?name=api&exp_status=0").await;
    assert_eq!(body, json!({"total": 0, "items": []}));
    let (_, body) = app
        .get("waf/certificate?name=api&exp_status=2&pagesize=10&page=1&host=true")
        .await;
    assert_eq!(body["total"], 5);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["exp_status"] == 2)
    );
}

/// The server's count of name searches answered by `by` (`memory` or `database`), from
/// `/metrics`.
async fn searches_answered_by(app: &TestApp, by: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("wafcert_name_searches_total{{answered_by=\"{by}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// The names a search for `text` lists, sorted, with a page size that no earlier request of
/// the test used (so the page cache misses and the search is answered afresh).
async fn fresh_search(app: &TestApp, text: &str, pagesize: usize) -> Vec<String> {
    let path = format!("waf/certificate?name={text}&page=1&pagesize={pagesize}&host=true");
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200, "{body}");
    sorted_names(&body)
}

/// Searches that miss the page cache are answered from the project's in-memory name index
/// once it is built at the version the credential check saw; after a write the database
/// answers (with the write) until the index is built again, and both answer alike.
async fn name_searches_are_answered_from_memory_at_the_same_version(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let mut beta = String::new();
    for name in ["alpha-1", "Alpha-2", "beta", "gamma.ALP", "al"] {
        let created = app.create_cert(name, &f).await;
        if name == "beta" {
            beta = created["id"].as_str().unwrap().to_owned();
        }
    }
    let expected = ["Alpha-2", "alpha-1", "gamma.ALP"];
    let mut pagesize = 10;
    let memory_before = searches_answered_by(&app, "memory").await;
    assert_eq!(fresh_search(&app, "ALP", pagesize).await, expected);
    let mut answered_from_memory = false;
    for _ in 0..200 {
        pagesize += 1;
        assert_eq!(fresh_search(&app, "alp", pagesize).await, expected);
        if searches_answered_by(&app, "memory").await > memory_before {
            answered_from_memory = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(answered_from_memory, "the index was never used");
    assert_eq!(
        fresh_search(&app, "nothing", 10).await,
        Vec::<String>::new()
    );
    assert_eq!(fresh_search(&app, "a-1", 10).await, ["alpha-1"]);

    let (status, body) = app
        .put(
            &format!("waf/certificate/{beta}"),
            &json!({"name": "alpine"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let database_before = searches_answered_by(&app, "database").await;
    pagesize += 1;
    let renamed = ["Alpha-2", "alpha-1", "alpine", "gamma.ALP"];
    assert_eq!(fresh_search(&app, "alp", pagesize).await, renamed);
    assert!(
        searches_answered_by(&app, "database").await > database_before,
        "the first search after a write reads the database"
    );
    let memory_before = searches_answered_by(&app, "memory").await;
    for _ in 0..200 {
        pagesize += 1;
        assert_eq!(fresh_search(&app, "alp", pagesize).await, renamed);
        if searches_answered_by(&app, "memory").await > memory_before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the index was not built again after the write");
}
