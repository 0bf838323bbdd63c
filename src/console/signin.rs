//! Signing in (an API token, or a Keystone user's name and password) and out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use super::ConsoleState;
use super::error::ConsoleError;
use super::layout;
use super::session::{self, Grant, Session};
use crate::auth::{DEFAULT_DOMAIN_NAME, DomainRef, LoginError, LoginMethod, UserRef};
use crate::domain::now_ms;

/// `GET /console/`: the sign-in page, or the certificates when already signed in.
pub(super) async fn page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    if session::load(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/console/certificates").into_response());
    }
    render(&state, &headers, StatusCode::OK, None)
}

fn render(
    state: &ConsoleState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ConsoleError> {
    let (csrf, cookie) = session::login_csrf(state, headers)?;
    let body = html! {
        h1 { "Sign in" }
        (layout::form_error(error))
        div.signin {
            form method="post" action="/console/" {
                h2 { "With an API token" }
                input type="hidden" name="csrf" value=(csrf);
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="off";
                button type="submit" { "Sign in" }
            }
            form method="post" action="/console/" {
                h2 { "With a user name and password" }
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { "User name" }
                input #username type="text" name="username" autocomplete="username";
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password";
                label for="domain" { "Domain" }
                input #domain type="text" name="domain" value=(DEFAULT_DOMAIN_NAME);
                button type="submit" { "Sign in" }
            }
        }
    };
    let page = Html(layout::page("Sign in", None, body).into_string());
    let mut response = (status, page).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The sign-in form: a token, or a user name and password.
#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    domain: String,
}

/// `POST /console/`: checks the credential and starts a session (303 to the certificates).
pub(super) async fn submit(
    State(state): State<ConsoleState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    session::check_login_csrf(&headers, &form.csrf)?;
    let now = now_ms();
    let token = form.token.trim();
    let cookie = if !token.is_empty() {
        let Ok(record) = state.app.auth.token_record(token, now).await else {
            return render(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("This token is not valid: it is unknown, expired or revoked."),
            );
        };
        let grant = Grant {
            token,
            project: record.project.as_str(),
            role: record.role,
            expires_at: record.expires_at,
            owns_token: false,
        };
        session::begin(&state, &grant).await?
    } else if !form.username.trim().is_empty() {
        let domain = match form.domain.trim() {
            "" => DEFAULT_DOMAIN_NAME.to_owned(),
            d => d.to_owned(),
        };
        let method = LoginMethod::Password {
            user: UserRef::Name {
                name: form.username.trim().to_owned(),
                domain: DomainRef::Name(domain),
            },
            password: form.password,
        };
        // The caller's address feeds the login throttling, as for the Keystone API.
        let address = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
        let refused = |status, message: &str| render(&state, &headers, status, Some(message));
        let issued = match state.app.auth.login(method, None, now, address).await {
            Ok(issued) => issued,
            Err(LoginError::Throttled(seconds)) => {
                let message = format!(
                    "Too many failed sign-ins for this user; try again in {seconds} seconds."
                );
                return refused(StatusCode::TOO_MANY_REQUESTS, &message);
            }
            Err(LoginError::Busy) => {
                return refused(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is busy checking passwords; try again shortly.",
                );
            }
            Err(e @ (LoginError::Store(_) | LoginError::Internal(_))) => {
                return Err(ConsoleError::internal(e));
            }
            Err(_) => {
                return refused(
                    StatusCode::UNAUTHORIZED,
                    "The user name or password is wrong.",
                );
            }
        };
        let grant = Grant {
            token: &issued.token,
            project: issued.info.project.id.as_str(),
            role: issued.info.role,
            expires_at: Some(issued.info.expires_at),
            owns_token: true,
        };
        session::begin(&state, &grant).await?
    } else {
        return render(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("Enter a token, or a user name and password."),
        );
    };
    // `Redirect::to` answers 303 See Other.
    let mut response = Redirect::to("/console/certificates").into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A form carrying only its CSRF token.
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `POST /console/signout`: ends the session (revoking a token the console bought with a
/// password, never a pasted one) and returns to the sign-in page.
pub(super) async fn signout(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let cookie = session::end(&state, &session).await?;
    let mut response = Redirect::to("/console/").into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
