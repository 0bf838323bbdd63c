//! Why a console request failed, and the page each reason answers with.

use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;

use super::layout;

/// A console failure that ends the request (errors of a form's API call are instead shown
/// next to the form, see [`super::api_call::ApiFailure`]).
#[derive(Debug)]
pub(super) enum ConsoleError {
    /// No valid session: a page read goes to the sign-in page, a form post is refused.
    SignedOut {
        /// Whether the request was a page read (`GET`), answered with a redirect.
        read: bool,
    },
    /// A post without a valid CSRF token, or a write from a read-only session: 403.
    Forbidden(&'static str),
    /// No such certificate in the project.
    NotFound,
    /// Anything else; the cause is logged, not shown.
    Internal,
}

impl ConsoleError {
    /// The signed-out answer suited to `method`.
    pub(super) fn signed_out(method: &Method) -> Self {
        Self::SignedOut {
            read: method == Method::GET,
        }
    }

    /// An internal failure, logged here with its cause.
    pub(super) fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "console request failed");
        Self::Internal
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::SignedOut { read: true } => return Redirect::to("/console/").into_response(),
            Self::SignedOut { read: false } => (
                StatusCode::FORBIDDEN,
                "Signed out",
                "Your console session has ended. Sign in again.",
            ),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Forbidden", why),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such certificate in this project.",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Something went wrong on the server; the failure was logged.",
            ),
        };
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (text) }
            p { a href="/console/certificates" { "Back to the certificates" } }
        };
        (status, Html(layout::page(title, None, body).into_string())).into_response()
    }
}
