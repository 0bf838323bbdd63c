//! Keystone's own error shape, `{"error": {"code", "title", "message"}}`, for the `/v3`
//! identity routes. The WAF API's errors go through [`ApiError`];
//! identity clients (keystoneauth, gophercloud) expect this one instead.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::error::ApiError;
use crate::api::error::ErrorCause;
use crate::auth::LoginError;
use crate::storage::StoreError;

/// A failed identity request: the status, a message for the caller, and for 5xx the hidden
/// cause (logged, never sent).
#[derive(Debug)]
pub(crate) struct KeystoneError {
    status: StatusCode,
    message: Cow<'static, str>,
    cause: Option<String>,
    /// Seconds for `Retry-After` (429 and 503 answers).
    retry_after: Option<u64>,
}

impl KeystoneError {
    /// An error with a message for the caller.
    pub(crate) fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }

    /// An error the caller may retry after `seconds` (sent as `Retry-After`).
    fn retry_after(status: StatusCode, message: String, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(status, message)
        }
    }

    /// 400 with Keystone's validation wording.
    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 with Keystone's standard message.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    }

    /// 500 that logs `cause` and tells the caller nothing internal.
    fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "An unexpected error prevented the server from fulfilling your request."
                .into(),
            cause: Some(cause.to_string()),
            retry_after: None,
        }
    }
}

/// Keystone's error answer (`KeystoneError` in the API document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = KeystoneError)]
pub(in crate::api) struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = KeystoneErrorDetail)]
struct ErrorBody<'a> {
    /// The HTTP status again.
    code: u16,
    /// The status's reason phrase.
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for KeystoneError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.status.as_u16(),
                title: self.status.canonical_reason().unwrap_or("Error"),
                message: &self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        ErrorCause::attach(response, self.cause)
    }
}

impl From<LoginError> for KeystoneError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Unauthorized => Self::unauthorized(),
            LoginError::UnsupportedScope | LoginError::UnsupportedMethod => {
                Self::new(StatusCode::UNAUTHORIZED, e.to_string())
            }
            LoginError::TokenNotFound => Self::new(StatusCode::NOT_FOUND, "Could not find token."),
            LoginError::Throttled(seconds) => {
                Self::retry_after(StatusCode::TOO_MANY_REQUESTS, e.to_string(), seconds)
            }
            LoginError::Busy => {
                Self::retry_after(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), 1)
            }
            LoginError::Store(inner) => inner.into(),
            LoginError::Internal(cause) => Self::internal(cause),
        }
    }
}

/// A WAF-side failure of the shared credential check, told in Keystone's shape.
impl From<ApiError> for KeystoneError {
    fn from(e: ApiError) -> Self {
        let status = e.code().status();
        if status == StatusCode::UNAUTHORIZED {
            Self::unauthorized()
        } else if status.is_server_error() {
            let mut k = Self::internal(format!("{e:?}"));
            k.status = status;
            k
        } else {
            Self::new(status, "The request could not be read.")
        }
    }
}

impl From<StoreError> for KeystoneError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ (StoreError::Unavailable(_) | StoreError::Full(_)) => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "The identity store is temporarily unavailable; retry shortly.".into(),
                cause: Some(e.to_string()),
                retry_after: None,
            },
            other @ (StoreError::NotFound(_)
            | StoreError::NameTaken
            | StoreError::InUse(_)
            | StoreError::PolicyInUse(_)
            | StoreError::QuotaExceeded
            | StoreError::Schema(_)
            | StoreError::Config(_)
            | StoreError::Backend(_)) => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_stay_out_of_the_body() {
        let response = KeystoneError::internal("secret sqlx detail").into_response();
        assert_eq!(response.status(), 500);
        assert!(response.extensions().get::<ErrorCause>().is_some());
        let response = KeystoneError::from(LoginError::Unauthorized).into_response();
        assert_eq!(response.status(), 401);
        let response = KeystoneError::from(LoginError::TokenNotFound).into_response();
        assert_eq!(response.status(), 404);
    }
}
