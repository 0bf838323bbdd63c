//! The baseline: the same HTTP stack (tokio multi-thread runtime, hyper, axum 0.8), a fixed
//! body, no authentication, no storage. Run as this binary re-executed with `--baseline-server`.

pub(crate) fn run_baseline_server(port: u16, bytes: usize) -> anyhow::Result<()> {
    use axum::http::header::CONTENT_TYPE;
    let body = axum::body::Bytes::from(baseline_body(bytes));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let app = axum::Router::new().route(
                "/v1/{project_id}/waf/certificate",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { ([(CONTENT_TYPE, "application/json")], body) }
                }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}

/// A JSON object of exactly `bytes` bytes (at least the empty list's size).
pub(crate) fn baseline_body(bytes: usize) -> Vec<u8> {
    let head = r#"{"total":0,"items":[],"pad":""#;
    let tail = r#""}"#;
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(head.as_bytes());
    body.resize(head.len() + pad, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}
