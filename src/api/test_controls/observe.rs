//! The middleware of test controls around every API request: strikes injected faults (before
//! authentication and storage, so a faulted request touches nothing) and journals the request
//! with its outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::header;
use axum::response::Response;

use super::TestControls;
use super::journal::Entry;
use crate::api::error::{WireErrorCode, injected_error};
use crate::api::operation::{operation, project_of};
use crate::auth::access_key_of;
use crate::crypto::token_id;
use crate::domain::{format_rfc3339, now_ms};

/// Paths that are not API calls: never journaled nor faulted.
fn is_infrastructure(path: &str) -> bool {
    path.starts_with("/_wafcert")
        || path.starts_with("/console")
        || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The caller's public credential id: a token's id or an access key id.
fn credential(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        return Some(token_id(token.trim()));
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(access_key_of)
        .map(str::to_owned)
}

/// Strikes faults and journals API requests.
///
/// `inner` is the rest of the stack, not run for a struck fault.
pub(in crate::api) async fn observe(
    controls: &TestControls,
    req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let path = req.uri().path().to_owned();
    if is_infrastructure(&path) {
        return inner(req).await;
    }
    let started = Instant::now();
    let time = format_rfc3339(now_ms());
    let method = req.method().clone();
    let op = operation(&method, &path);
    let credential = credential(&req);
    let hit = op.and_then(|op| controls.faults.strike(op, &controls.dice));
    if let Some(hit) = &hit
        && hit.latency_ms > 0
    {
        tokio::time::sleep(Duration::from_millis(hit.latency_ms)).await;
    }
    let response = match hit.and_then(|h| h.error) {
        Some((status, code, msg)) => injected_error(status, &code, &msg),
        None => inner(req).await,
    };
    controls.journal.record(Entry {
        time,
        method: method.to_string(),
        operation: op,
        project_id: project_of(&path).map(str::to_owned),
        path,
        credential,
        status: response.status().as_u16(),
        error_code: response
            .extensions()
            .get::<WireErrorCode>()
            .map(|c| Arc::clone(&c.0)),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    response
}
