//! The request deadline: a request still running after the configured time (30 s by default,
//! `--request-timeout-ms`) is dropped and answered 503 `WAF.00010002` in the WAF error shape,
//! so a stuck database or a slow client cannot hold a connection and its resources forever.

use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The deadline in milliseconds when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Runs `inner` (the rest of the stack) under `limit`; past it the request's work is dropped.
pub(super) async fn limit(
    limit: Duration,
    req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    match tokio::time::timeout(limit, inner(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::timed_out(limit).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::middleware::{self, Next};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app(limit: Duration) -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "done"
                }),
            )
            .route("/fast", get(|| async { "done" }))
            .layer(middleware::from_fn(move |req, next: Next| {
                super::limit(limit, req, async move |req| next.run(req).await)
            }))
    }

    async fn call(limit: Duration, path: &str) -> (u16, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app(limit).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn slow_requests_get_a_waf_shaped_503() {
        let (status, body) = call(Duration::from_millis(50), "/slow").await;
        assert_eq!(status, 503);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error_code"], "WAF.00010002");
        assert!(
            body["error_msg"].as_str().unwrap().contains("50 ms"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn quick_requests_pass() {
        assert_eq!(
            call(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS), "/fast").await,
            (200, "done".to_owned())
        );
    }
}
