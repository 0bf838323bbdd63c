//! Request-level behaviour shared by every route: malformed path segments and the request
//! deadline, both answered in the WAF error shape.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

crate::on_both_backends!(
    segments_that_are_not_utf8_are_not_found,
    requests_past_the_deadline_get_503,
);

async fn segments_that_are_not_utf8_are_not_found(db: Db) {
    let app = TestApp::spawn_on(db).await;
    for path in [
        "waf/certificate/%FF",
        "premium-waf/host/%FF",
        "waf/certificate/abc",
        "premium-waf/host/abc",
    ] {
        let answer = app.get(path).await;
        assert_error(&answer, 404, "WAF.00022001");
        let answer = app.delete(path).await;
        assert_error(&answer, 404, "WAF.00022001");
    }
    let answer = app
        .post(
            "waf/certificate/%FF/apply-to-hosts",
            &serde_json::json!({"premium_host_ids": ["x"]}),
        )
        .await;
    assert_error(&answer, 404, "WAF.00022001");
    // The project segment too, once the caller is authenticated.
    let url = format!("{}/v1/%FF/waf/certificate", app.base);
    let answer = app
        .send(app.client.get(&url).header("X-Auth-Token", &app.token))
        .await;
    assert_error(&answer, 404, "WAF.00022001");
    let answer = app.send(app.client.get(&url)).await;
    assert_error(&answer, 401, "WAF.00012001");
}

async fn requests_past_the_deadline_get_503(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.request_timeout = Duration::from_millis(300)).await;
    // A body that never arrives in full keeps the request running until the deadline.
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/{}/waf/certificate HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\"",
        app.project, app.token
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("}") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("answered before the test's own limit")
            .unwrap();
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("\"error_code\":\"WAF.00010002\""), "{text}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // The server still answers promptly afterwards.
    let (status, _) = app.get("waf/certificate").await;
    assert_eq!(status, 200);
}
