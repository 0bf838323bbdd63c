//! The outermost step of every request, what every answer goes through on its way in and out:
//! the request id (a client's plain one kept, otherwise a fresh one, echoed in
//! `X-Request-Id`), the request's tracing span, the log line of a server error with its hidden
//! cause, and `Cache-Control: no-store`.
//!
//! Hand-written instead of tower-http's request-id pair and its trace layer, and called by the
//! one layer around every request ([`super::around_every_request`]) rather than being a layer
//! of its own: each layer of a router is cloned for every request and wraps the answer in
//! another future.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tracing::Instrument;

use super::error::ErrorCause;
use crate::domain::{lower_hex, random_bytes};

/// The request id header, in and out.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent `X-Request-Id` kept.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Runs the request through `inner` inside its span and dresses the answer (see the module
/// docs).
pub(super) async fn envelope(
    req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let request_id = request_id(&req);
    let id = request_id.to_str().unwrap_or("-");
    // Debug level: at the default `info` filter the span costs nothing per request.
    let span = tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id);
    // Kept for the log line of a server error; both clones share the request's buffers.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let mut response = inner(req).instrument(span.clone()).await;
    if response.status().is_server_error() {
        let path = uri.path();
        let cause = response
            .extensions()
            .get::<ErrorCause>()
            .map_or("-", |ErrorCause(cause)| cause.as_str());
        span.in_scope(|| {
            tracing::error!(
                status = %response.status(), %method, %path, request_id = %id, cause = %cause,
                "request failed"
            );
        });
    }
    let headers = response.headers_mut();
    headers.entry(&REQUEST_ID).or_insert(request_id);
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The client's `X-Request-Id` when every one it sent is a plain token (1 to 64 of
/// `[A-Za-z0-9-]`), otherwise a fresh one of 32 hex characters like the cloud's: the id is
/// logged, and `abc status=200 cause=forged` would forge log fields.
fn request_id(req: &Request) -> HeaderValue {
    let plain = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_REQUEST_ID_LEN
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    let mut sent = req.headers().get_all(&REQUEST_ID).iter().peekable();
    match sent.peek().copied() {
        Some(first) if sent.all(plain) => first.clone(),
        _ => fresh_request_id(),
    }
}

/// A request id no other request of any replica has: a random half drawn once per process and
/// a per-process count. A request id names a request in logs and is no secret, so it does
/// not need a random number generator's call on every request.
fn fresh_request_id() -> HeaderValue {
    static PROCESS: OnceLock<[u8; 8]> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(PROCESS.get_or_init(random_bytes));
    id[8..].copy_from_slice(&COUNT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    // The `String` becomes the value's buffer without a copy.
    HeaderValue::try_from(lower_hex(&id)).unwrap_or(HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::middleware::{self, Next};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// The answer of a router whose `/fail` is a 500, to a request with these request ids.
    async fn answer(path: &str, ids: &[&str]) -> Response {
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .layer(middleware::from_fn(|req, next: Next| {
                envelope(req, async move |req| next.run(req).await)
            }));
        let mut req = Request::get(path);
        for id in ids {
            req = req.header("x-request-id", *id);
        }
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn id_of(response: &Response) -> &str {
        response.headers()["x-request-id"].to_str().unwrap()
    }

    #[tokio::test]
    async fn plain_ids_are_kept_and_any_unsafe_one_replaces_them_all() {
        assert_eq!(id_of(&answer("/ok", &["trace-1"]).await), "trace-1");
        assert_eq!(id_of(&answer("/ok", &["a-1", "b-2"]).await), "a-1");
        for ids in [&["a-1", "b 2"][..], &["x=y"], &[]] {
            let response = answer("/ok", ids).await;
            let id = id_of(&response);
            assert!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{id}"
            );
        }
    }

    #[test]
    fn fresh_ids_differ_from_request_to_request() {
        let ids: std::collections::HashSet<String> = (0..100)
            .map(|_| fresh_request_id().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|id| id.len() == 32));
    }

    #[tokio::test]
    async fn every_answer_is_no_store_with_its_id_server_errors_too() {
        for path in ["/ok", "/fail", "/none"] {
            let response = answer(path, &["r-1"]).await;
            assert_eq!(
                response.headers()[header::CACHE_CONTROL],
                "no-store",
                "{path}"
            );
            assert_eq!(id_of(&response), "r-1", "{path}");
        }
    }
}
