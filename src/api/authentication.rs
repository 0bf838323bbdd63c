//! The authentication layer of the WAF routes: every `/v1/{project_id}/...` request carries one
//! credential, resolved by [`crate::auth`] to a principal that must belong to the project in the
//! path; the principal then travels in the request's extensions to the `Ctx` extractor.

use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use super::{AppState, BODY_LIMIT};
use crate::auth::{AuthError, Principal, SignedRequest};
use crate::domain::now_ms;

/// Authenticates every `/v1/{project_id}/...` request and checks the project: an
/// `X-Auth-Token`, or an AK/SK signature (which covers the body, so the body is read first).
pub(super) async fn authenticate(
    State(state): State<AppState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
    next: Next,
) -> Response {
    // A segment that is not UTF-8 once decoded is a malformed id: found after authenticating,
    // so an unauthenticated caller learns nothing from the path.
    let project = params.map(|params| {
        params
            .iter()
            .find(|(k, _)| *k == "project_id")
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    });
    match authenticated(&state, req).await {
        Ok((principal, mut req)) => {
            let Ok(project) = project else {
                return ApiError::not_found("project").into_response();
            };
            if let Err(e) = principal.require_project(&project) {
                return ApiError::from(e).into_response();
            }
            if let Some(setting) = principal.clock {
                // Another replica may have moved the shared clock.
                state.clock.apply(setting);
            }
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The principal of the request's credential, and the request (its body read back in when a
/// signature covered it).
pub(super) async fn authenticated(
    state: &AppState,
    req: Request,
) -> Result<(Principal, Request), ApiError> {
    let now = now_ms();
    if let Some(token) = req.headers().get("x-auth-token") {
        let token = token.to_str().map_err(|_| AuthError::Unknown)?;
        let principal = state.auth.token(token.trim(), now).await?;
        return Ok((principal, req));
    }
    let Some(authorization) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(AuthError::Missing.into());
    };
    let authorization = authorization.to_owned();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            ErrorCode::RequestBodyTooLarge,
            "the request body is larger than 1 MiB",
        )
    })?;
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &bytes,
        authorization: &authorization,
    };
    let principal = state.auth.signature(&signed, &state.sealer, now).await?;
    Ok((principal, Request::from_parts(parts, Body::from(bytes))))
}
