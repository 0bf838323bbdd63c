//! Identity, Keystone v3 style, enough for openstacksdk/otcextensions and gophertelekomcloud:
//! `GET /v3` (version), `POST /v3/auth/tokens` (password or token method, project scope),
//! `GET`/`HEAD`/`DELETE /v3/auth/tokens` with `X-Subject-Token` (validate, revoke), and the
//! project and domain lookups of huaweicloudsdkcore (`GET /v3/projects`, `/v3/projects/{id}`,
//! `/v3/auth/projects`, `/v3/auth/domains`, see `projects`). These
//! routes sit outside the WAF authentication layer and answer errors in Keystone's shape.

mod documented;
mod error;
pub(super) mod projects;
mod request;
mod response;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::{Extension, Router};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, DefaultBodyLimit, RawQuery, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, any, get};

use super::AppState;
use crate::auth::{LoginError, TokenInfo};
use crate::domain::{Role, UserId, now_ms};
use documented::{NoCatalog, SubjectToken, SubjectTokenErrors, VersionResponse, VersionsResponse};
pub(super) use error::ErrorEnvelope;
use error::KeystoneError;
use response::TokenResponse;

/// The header carrying the issued or inspected token.
const SUBJECT_TOKEN: &str = "x-subject-token";

/// The identity routes.
pub(super) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get_only(version))
        .route("/v3/", get_only(version))
        .route(
            "/v3/auth/tokens",
            get(validate)
                .post(issue)
                .delete(revoke)
                .fallback(method_not_allowed),
        )
        .route("/v3/projects", get_only(projects::list))
        .route("/v3/projects/{project_id}", get_only(projects::show))
        .route("/v3/auth/projects", get_only(projects::auth_projects))
        .route("/v3/auth/domains", get_only(projects::auth_domains))
        .route("/v3/{*rest}", any(not_found))
        .route_layer(middleware::from_fn_with_state(state, challenge))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// A route that answers `GET` with `handler` and any other method with Keystone's 405.
fn get_only<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(method_not_allowed)
}

/// Largest `/v3` request body: a token request is a few hundred bytes.
const BODY_LIMIT: usize = 16 * 1024;

/// `GET /`: the identity versions, as Keystone's root answers (300 Multiple Choices).
#[utoipa::path(get, path = "/",
    responses((status = 300, description = "The identity versions (one)", body = VersionsResponse)))]
async fn versions(State(state): State<AppState>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(response::versions(&state.settings)),
    )
        .into_response()
}

/// `GET /v3`: the version document.
#[utoipa::path(get, path = "/v3",
    responses((status = 200, description = "The version document", body = VersionResponse)))]
async fn version(State(state): State<AppState>) -> Response {
    Json(response::version(&state.settings)).into_response()
}

/// `POST /v3/auth/tokens`: 201 with the token in `X-Subject-Token` and its description.
#[utoipa::path(post, path = "/v3/auth/tokens", params(NoCatalog), request_body = request::Envelope,
    responses((status = 201, description = "The new token (in `X-Subject-Token`) and its description",
            body = TokenResponse, headers(("X-Subject-Token" = String, description = "The token described"))),
        (status = 400, description = "A malformed body, or one missing what the method needs"),
        (status = 401, description = "Wrong credentials, an unknown or expired token, an \
            unsupported method or scope"),
        (status = 429, description = "Too many failed logins; retry after `Retry-After` seconds",
            headers(("Retry-After" = i64, description = "Seconds to wait")))))]
async fn issue(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeystoneError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            KeystoneError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            )
        } else {
            KeystoneError::bad_request("The request body could not be read.")
        }
    })?;
    let request = request::parse(&body)?;
    let issued = state
        .auth
        .login(
            request.method,
            request.scope.as_ref(),
            now_ms(),
            client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip()),
        )
        .await?;
    tracing::info!(
        user = %issued.info.user.id,
        project = %issued.info.project.id,
        role = %issued.info.role,
        "issued a Keystone token"
    );
    token_answer(
        StatusCode::CREATED,
        &issued.token,
        &issued.info,
        &state,
        query.as_deref(),
    )
}

/// `GET /v3/auth/tokens`: describes the `X-Subject-Token` to a caller allowed to see it.
#[utoipa::path(get, path = "/v3/auth/tokens", params(SubjectToken, NoCatalog), security(("token" = [])),
    responses((status = 200, description = "The token's description", body = TokenResponse,
            headers(("X-Subject-Token" = String, description = "The token described"))),
        SubjectTokenErrors))]
async fn validate(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, KeystoneError> {
    let (subject, info) = authorized_subject(&state, &headers).await?;
    token_answer(StatusCode::OK, &subject, &info, &state, query.as_deref())
}

/// `DELETE /v3/auth/tokens`: revokes the `X-Subject-Token`; 204.
#[utoipa::path(delete, path = "/v3/auth/tokens", params(SubjectToken), security(("token" = [])),
    responses((status = 204, description = "Revoked"), SubjectTokenErrors))]
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, KeystoneError> {
    let (subject, info) = authorized_subject(&state, &headers).await?;
    if !state.auth.revoke(&subject, now_ms()).await? {
        return Err(LoginError::TokenNotFound.into());
    }
    tracing::info!(user = %info.user.id, project = %info.project.id, "revoked a Keystone token");
    Ok(StatusCode::NO_CONTENT)
}

/// The subject token and its description, once the caller's `X-Auth-Token` is found valid
/// and allowed to see it: the subject itself, a token of the same user, or an admin token of
/// the same project.
async fn authorized_subject(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, TokenInfo), KeystoneError> {
    let now = now_ms();
    let caller = header_text(headers, "x-auth-token").ok_or_else(KeystoneError::unauthorized)?;
    let caller = state
        .auth
        .token_record(caller, now)
        .await
        .map_err(LoginError::from)?;
    let subject = header_text(headers, SUBJECT_TOKEN).ok_or_else(|| {
        KeystoneError::bad_request("Expecting to find the token to check in X-Subject-Token.")
    })?;
    let info = state.auth.describe_token(subject, now).await?;
    let same_user = caller.user_id.as_ref().map(UserId::as_str) == Some(info.user.id.as_str());
    let project_admin = caller.project == info.project.id && caller.role == Role::Admin;
    if !(same_user || project_admin) {
        return Err(KeystoneError::new(
            StatusCode::FORBIDDEN,
            "You are not authorized to perform the requested action: only the token's user or \
             an admin of its project may inspect or revoke it.",
        ));
    }
    Ok((subject.to_owned(), info))
}

/// A token body with `X-Subject-Token`; `?nocatalog` leaves the catalog out (as Keystone).
fn token_answer(
    status: StatusCode,
    token: &str,
    info: &TokenInfo,
    state: &AppState,
    query: Option<&str>,
) -> Result<Response, KeystoneError> {
    let with_catalog = !query
        .unwrap_or_default()
        .split('&')
        .any(|p| p == "nocatalog" || p.starts_with("nocatalog="));
    let body = TokenResponse::new(info, &state.settings, with_catalog);
    let value = HeaderValue::from_str(token)
        .map_err(|_| KeystoneError::bad_request("The token is not a valid header value."))?;
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(SUBJECT_TOKEN, value);
    Ok(response)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn method_not_allowed() -> KeystoneError {
    KeystoneError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed on this identity URL.",
    )
}

async fn not_found() -> KeystoneError {
    KeystoneError::new(
        StatusCode::NOT_FOUND,
        "The resource could not be found: this server implements only /v3, /v3/auth/tokens, \
         /v3/projects, /v3/auth/projects and /v3/auth/domains.",
    )
}

/// Adds Keystone's `WWW-Authenticate` challenge to 401 answers, naming where to log in.
async fn challenge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&format!(
            "Keystone uri=\"{}/v3\"",
            state.settings.public_url
        ))
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
