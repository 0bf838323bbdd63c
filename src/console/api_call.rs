//! Calls of the API router in process, with the session's token: the console acts only through
//! the API, so it gets the API's checks, refusals and messages, and adds none of its own.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::ConsoleState;
use super::error::ConsoleError;
use super::session::{self, Session};
use crate::api::BODY_LIMIT;

/// The API's answer to a refused call: shown next to the form that caused it.
#[derive(Debug, Clone)]
pub(super) struct ApiFailure {
    /// HTTP status of the API's answer (the console page answers with it too).
    pub(super) status: StatusCode,
    /// `error_code`, e.g. `WAF.00022003`.
    pub(super) code: String,
    /// `error_msg`, a sentence.
    pub(super) message: String,
}

impl ApiFailure {
    /// The message as shown: the API's sentence and its code.
    pub(super) fn sentence(&self) -> String {
        let message = self.message.trim_end_matches('.');
        let mut chars = message.chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
        format!(
            "{}{}. ({})",
            first.unwrap_or_default(),
            chars.as_str(),
            self.code
        )
    }
}

/// Why a call gave no answer to use.
#[derive(Debug)]
pub(super) enum CallError {
    /// The API refused the call.
    Api(ApiFailure),
    /// The console cannot go on (session over, or an internal failure).
    Fatal(ConsoleError),
}

impl From<ConsoleError> for CallError {
    fn from(e: ConsoleError) -> Self {
        Self::Fatal(e)
    }
}

/// One API call.
#[derive(Debug)]
pub(super) struct Call<'a> {
    /// HTTP method.
    pub(super) method: Method,
    /// Path below `/v1/{project_id}/`, e.g. `waf/certificate`.
    pub(super) path: &'a str,
    /// Query pairs.
    pub(super) query: &'a [(&'a str, String)],
    /// JSON body.
    pub(super) body: Option<Value>,
}

impl<'a> Call<'a> {
    /// A `GET` of `path` with `query`.
    pub(super) fn get(path: &'a str, query: &'a [(&'a str, String)]) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            body: None,
        }
    }

    /// A call with a JSON body (or none).
    pub(super) fn with_body(method: Method, path: &'a str, body: Option<Value>) -> Self {
        Self {
            method,
            path,
            query: &[],
            body,
        }
    }
}

/// Sends `call` to the API as `session`. An answer that the token is no longer valid (expired,
/// revoked) ends the console session too.
pub(super) async fn send(
    state: &ConsoleState,
    session: &Session,
    call: Call<'_>,
) -> Result<Value, CallError> {
    let mut uri = format!("/v1/{}/{}", session.project, call.path);
    if !call.query.is_empty() {
        let query = serde_urlencoded::to_string(call.query).map_err(ConsoleError::internal)?;
        uri.push('?');
        uri.push_str(&query);
    }
    let body = match &call.body {
        Some(json) => Body::from(serde_json::to_vec(json).map_err(ConsoleError::internal)?),
        None => Body::empty(),
    };
    let request = Request::builder()
        .method(call.method.clone())
        .uri(uri)
        .header("x-auth-token", session.token())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(ConsoleError::internal)?;
    let response = state
        .api
        .clone()
        .oneshot(request)
        .await
        .map_err(ConsoleError::internal)?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT * 8)
        .await
        .map_err(ConsoleError::internal)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(ConsoleError::internal)?;
    if status.is_success() {
        return Ok(value);
    }
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let failure = ApiFailure {
        status,
        code: text("error_code"),
        message: text("error_msg"),
    };
    if failure.code == "WAF.00012001" {
        // The token expired or was revoked: the session it backs is over.
        session::forget(state, session).await?;
        let read = call.method == Method::GET;
        return Err(CallError::Fatal(ConsoleError::SignedOut { read }));
    }
    Err(CallError::Api(failure))
}
