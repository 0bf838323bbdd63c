//! The web console at `/console/`: server-rendered pages (maud) for people, acting through the
//! same certificate and host API as every client. Each page or form is answered by calling the
//! API router in process with the session's token, so the console has no write path, check or
//! error message of its own; only the 90-day timeline reads the store directly, since the API
//! has no such window. Assets are embedded, no page runs JavaScript, and a strict
//! Content-Security-Policy says so.

mod api_call;
mod certificates;
mod error;
mod facts;
mod format;
mod hosts;
mod layout;
mod session;
mod signin;
mod timeline;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::{AppState, BODY_LIMIT};

/// What console handlers reach: the application state and the API router they call.
#[derive(Debug, Clone)]
struct ConsoleState {
    app: AppState,
    api: Router,
}

/// The console's routes under `/console`, calling `api` (the application's API router) in process.
pub fn router(app: AppState, api: Router) -> Router {
    let state = ConsoleState { app, api };
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(signin::page).post(signin::submit))
        .route("/console/signout", post(signin::signout))
        .route(
            "/console/certificates",
            get(certificates::list).post(certificates::upload),
        )
        .route("/console/certificates/{id}", get(certificates::detail))
        .route(
            "/console/certificates/{id}/rename",
            post(certificates::rename),
        )
        .route(
            "/console/certificates/{id}/rotate",
            post(certificates::rotate),
        )
        .route(
            "/console/certificates/{id}/delete",
            post(certificates::delete),
        )
        .route("/console/hosts", get(hosts::list))
        .route("/console/assets/console.css", get(stylesheet))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// The stylesheet, compiled into the binary.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

/// The policy of every console page: nothing but the embedded stylesheet loads, no script
/// runs, forms post only to the console, and no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every console response; pages are never cached.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
