//! `/metrics`: parsed with a Prometheus text parser; certificate series from the database
//! (expiry = `expire_time / 1000`), capped, request counters by operation, the token.

use reqwest::StatusCode;
use serde_json::json;
use wafcert::domain::{format_rfc3339, now_ms};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    metrics_mirror_the_database,
    the_series_cap_and_the_token_apply,
    kept_figures_follow_writes_on_any_replica_and_the_clock
);

/// Scrapes and parses `/metrics`.
async fn fetch_metrics(
    app: &TestApp,
    token: Option<&str>,
) -> (StatusCode, Option<prometheus_parse::Scrape>) {
    let mut req = app.client.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    if status != StatusCode::OK {
        return (status, None);
    }
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    (status, Some(parsed))
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => f64::NAN,
    }
}

/// The samples of `metric` whose labels include every `labels` pair.
fn find<'a>(
    scrape: &'a prometheus_parse::Scrape,
    metric: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a prometheus_parse::Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

async fn metrics_mirror_the_database(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let bound = app.create_cert("bound", &fixture(200)).await;
    let bound_id = id_of(&bound);
    create_host(&app, "m.example.com", "HTTPS", Some((&bound_id, "bound"))).await;
    let soon = app.create_cert("soon", &fixture(10)).await;
    let far = app.create_cert("far", &fixture(400)).await;
    let (s, _) = app.post("waf/certificate", &fixture(-2).body("gone")).await;
    assert_eq!(s, StatusCode::OK);
    assert_error(
        &app.get("waf/certificate/0123456789abcdef0123456789abcdef")
            .await,
        404,
        "WAF.00022001",
    );

    let (status, scrape) = fetch_metrics(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    let scrape = scrape.unwrap();
    let expiry = "wafcert_certificate_expiry_timestamp_seconds";
    for (cert, name) in [(&bound, "bound"), (&soon, "soon")] {
        let id = id_of(cert);
        let found = find(
            &scrape,
            expiry,
            &[
                ("project_id", &app.project),
                ("certificate_id", &id),
                ("name", name),
            ],
        );
        assert_eq!(found.len(), 1, "{name}");
        #[expect(clippy::cast_precision_loss)]
        let want = cert["expire_time"].as_i64().unwrap() as f64 / 1000.0;
        assert_eq!(value(found[0]), want);
    }
    assert!(
        find(&scrape, expiry, &[("certificate_id", &id_of(&far))]).is_empty(),
        "far: no series"
    );
    assert_eq!(
        find(&scrape, expiry, &[("project_id", &app.project)]).len(),
        3,
        "bound, soon, expired"
    );
    let hosts = find(
        &scrape,
        "wafcert_certificate_bound_hosts",
        &[("certificate_id", &bound_id)],
    );
    assert_eq!(value(hosts[0]), 1.0);
    for (status, n) in [("0", 2.0), ("1", 1.0), ("2", 1.0)] {
        let c = find(
            &scrape,
            "wafcert_certificates",
            &[("project_id", &app.project), ("exp_status", status)],
        );
        assert_eq!(value(c[0]), n, "exp_status {status}");
    }
    let created = find(
        &scrape,
        "wafcert_http_requests_total",
        &[
            ("operation", "CreateCertificate"),
            ("status", "200"),
            ("error_code", ""),
        ],
    );
    assert_eq!(value(created[0]), 4.0);
    let missing = find(
        &scrape,
        "wafcert_http_requests_total",
        &[
            ("operation", "ShowCertificate"),
            ("status", "404"),
            ("error_code", "WAF.00022001"),
        ],
    );
    assert_eq!(value(missing[0]), 1.0);
    assert!(
        !find(
            &scrape,
            "wafcert_http_request_duration_seconds_count",
            &[("operation", "CreatePremiumHost")]
        )
        .is_empty()
    );
    assert_eq!(
        find(&scrape, "wafcert_db_pool_connections", &[("state", "open")]).len(),
        1
    );
    assert_eq!(value(find(&scrape, "wafcert_events_pending", &[])[0]), 0.0);

    // A deleted certificate drops out at once.
    let (s, _) = app
        .delete(&format!("waf/certificate/{}", id_of(&soon)))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, scrape) = fetch_metrics(&app, None).await;
    let scrape = scrape.unwrap();
    assert!(find(&scrape, expiry, &[("certificate_id", &id_of(&soon))]).is_empty());
}

async fn the_series_cap_and_the_token_apply(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.metrics.max_series = 2;
        c.metrics.token = Some("scrape-me".to_owned());
    })
    .await;
    for (i, days) in [5, 6, 7].into_iter().enumerate() {
        app.create_cert(&format!("c{i}"), &fixture(days)).await;
    }
    let (status, _) = fetch_metrics(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = fetch_metrics(&app, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, scrape) = fetch_metrics(&app, Some("scrape-me")).await;
    assert_eq!(status, StatusCode::OK);
    let scrape = scrape.unwrap();
    let series = find(&scrape, "wafcert_certificate_expiry_timestamp_seconds", &[]);
    assert_eq!(series.len(), 2);
    let names: Vec<&str> = series
        .iter()
        .map(|s| s.labels.get("name").unwrap())
        .collect();
    assert_eq!(names, ["c0", "c1"], "the soonest to expire are kept");
    assert_eq!(
        value(find(&scrape, "wafcert_certificate_series_limit", &[])[0]),
        2.0
    );
    assert_eq!(
        value(find(&scrape, "wafcert_certificate_series_omitted", &[])[0]),
        1.0
    );
}

/// The project's certificate counts by `exp_status` 0 (valid), 1 (expired), 2 (expiring).
fn statuses(scrape: &prometheus_parse::Scrape, project: &str) -> [f64; 3] {
    ["0", "1", "2"].map(|status| {
        find(
            scrape,
            "wafcert_certificates",
            &[("project_id", project), ("exp_status", status)],
        )
        .first()
        .map_or(0.0, |s| value(s))
    })
}

/// The names of the project's certificates with series of their own, sorted.
fn series_names(scrape: &prometheus_parse::Scrape, project: &str) -> Vec<String> {
    let mut names: Vec<String> = find(
        scrape,
        "wafcert_certificate_expiry_timestamp_seconds",
        &[("project_id", project)],
    )
    .iter()
    .map(|s| s.labels.get("name").unwrap().to_owned())
    .collect();
    names.sort();
    names
}

/// The certificate figures are kept between scrapes, but never past what changes them: a
/// write on another replica of the database (a create, a rename, a binding), and the
/// certificate clock crossing a line of one certificate: its expiry, 30 days before it
/// (expiring) or 90 days before it (its own series). Each clock move below crosses one kind
/// of line only, right after a scrape that kept figures, so figures kept past that line fail
/// it; the last moves the clock back to before every line crossed.
async fn kept_figures_follow_writes_on_any_replica_and_the_clock(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let mut other = TestApp::start(app.config.clone(), app.db.clone()).await;
    other.project = app.project.clone();
    other.token = app.token.clone();
    let project = app.project.clone();
    let scrape = async |on: &TestApp| fetch_metrics(on, None).await.1.unwrap();

    app.create_cert("c", &fixture(120)).await;
    for on in [&app, &other] {
        let s = scrape(on).await;
        assert_eq!(statuses(&s, &project), [1.0, 0.0, 0.0]);
        assert!(series_names(&s, &project).is_empty());
    }
    let d = other.create_cert("d", &fixture(10)).await;
    let s = scrape(&app).await;
    assert_eq!(
        statuses(&s, &project),
        [1.0, 0.0, 1.0],
        "a create on the other replica"
    );
    assert_eq!(series_names(&s, &project), ["d"]);
    let d_id = id_of(&d);
    let (status, body) = app
        .put(&format!("waf/certificate/{d_id}"), &json!({"name": "d2"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    create_host(&app, "kept.example.com", "HTTPS", Some((&d_id, "d2"))).await;
    let s = scrape(&other).await;
    assert_eq!(
        series_names(&s, &project),
        ["d2"],
        "a rename on the other replica"
    );
    let bound = find(
        &s,
        "wafcert_certificate_bound_hosts",
        &[("certificate_id", &d_id)],
    );
    assert_eq!(value(bound[0]), 1.0, "a binding on the other replica");

    for (days, want_statuses, want_series, line) in [
        (12, [1.0, 1.0, 0.0], vec!["d2"], "d's expiry"),
        (
            31,
            [1.0, 1.0, 0.0],
            vec!["c", "d2"],
            "90 days before c's expiry",
        ),
        (
            91,
            [0.0, 1.0, 1.0],
            vec!["c", "d2"],
            "30 days before c's expiry",
        ),
        (121, [0.0, 2.0, 0.0], vec!["c", "d2"], "c's expiry"),
        (0, [1.0, 0.0, 1.0], vec!["d2"], "back to real time"),
    ] {
        let at = format_rfc3339(now_ms() + days_ms(days));
        let (status, body) = app.control_post("clock", &json!({"set": at})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let s = scrape(&app).await;
        assert_eq!(statuses(&s, &project), want_statuses, "{line}");
        assert_eq!(series_names(&s, &project), want_series, "{line}");
    }
    other.stop().await;
    app.stop().await;
}
