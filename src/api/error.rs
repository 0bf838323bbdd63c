//! The one place where failures become HTTP responses: the WAF error-code table and the
//! `{"error_code", "error_msg"}` body. Internal details never reach the body; 5xx causes are
//! attached to the response for the logging middleware.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::domain::{Contract, DomainError};
use crate::storage::{StoreError, WriteError};

/// The WAF error codes this service answers with, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 405 `WAF.00011001`: method not allowed on a known route.
    MethodNotAllowed,
    /// 400 `WAF.00011002`: a query parameter is malformed.
    UrlParamIllegal,
    /// 400 `WAF.00011003`: the request body is malformed or a value in it is invalid.
    RequestBodyIllegal,
    /// 413 `WAF.00011003`: the request body exceeds the limit.
    RequestBodyTooLarge,
    /// 400 `WAF.00011005`: a name breaks the naming rule.
    NameIllegal,
    /// 400 `WAF.00011006`: a hostname is not a valid domain name.
    HostIllegal,
    /// 400 `WAF.00011011`: `page`/`pagesize` out of range.
    PageOrPageSizeIllegal,
    /// 400 `WAF.00011016`: the name is already used in the project.
    NameDuplicate,
    /// 401 `WAF.00012001`: missing, unknown, expired or revoked credentials, or a bad signature.
    InvalidToken,
    /// 401 `WAF.00012002`: the credentials belong to another project.
    InvalidProject,
    /// 401 `WAF.00012003`: the role lacks the permission.
    PermissionDenied,
    /// 404 `WAF.00014009`: no such route.
    ApiNotFound,
    /// 400 `WAF.00021013`: an expired certificate cannot be bound.
    CertificateExpired,
    /// 404 `WAF.00022001`: no such resource in the project.
    ResourceNotFound,
    /// 404 `WAF.00014001`: no such resource, as OTC's error table names it (`--contract otc`).
    ResourceNotFoundOtc,
    /// 400 `WAF.00022003`: the resource is in use.
    ResourceInUse,
    /// 403 `WAF.00022005`: quota exhausted.
    InsufficientQuota,
    /// 500 `WAF.00010001`: internal failure.
    Internal,
    /// 503 `WAF.00010002`: storage temporarily unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The wire code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "WAF.00011001",
            Self::UrlParamIllegal => "WAF.00011002",
            Self::RequestBodyIllegal | Self::RequestBodyTooLarge => "WAF.00011003",
            Self::NameIllegal => "WAF.00011005",
            Self::HostIllegal => "WAF.00011006",
            Self::PageOrPageSizeIllegal => "WAF.00011011",
            Self::NameDuplicate => "WAF.00011016",
            Self::InvalidToken => "WAF.00012001",
            Self::InvalidProject => "WAF.00012002",
            Self::PermissionDenied => "WAF.00012003",
            Self::ApiNotFound => "WAF.00014009",
            Self::CertificateExpired => "WAF.00021013",
            Self::ResourceNotFound => "WAF.00022001",
            Self::ResourceNotFoundOtc => "WAF.00014001",
            Self::ResourceInUse => "WAF.00022003",
            Self::InsufficientQuota => "WAF.00022005",
            Self::Internal => "WAF.00010001",
            Self::Unavailable => "WAF.00010002",
        }
    }

    /// The HTTP status that goes with the code.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestBodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidToken | Self::InvalidProject | Self::PermissionDenied => {
                StatusCode::UNAUTHORIZED
            }
            Self::ApiNotFound | Self::ResourceNotFound | Self::ResourceNotFoundOtc => {
                StatusCode::NOT_FOUND
            }
            Self::InsufficientQuota => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UrlParamIllegal
            | Self::RequestBodyIllegal
            | Self::NameIllegal
            | Self::HostIllegal
            | Self::PageOrPageSizeIllegal
            | Self::NameDuplicate
            | Self::CertificateExpired
            | Self::ResourceInUse => StatusCode::BAD_REQUEST,
        }
    }
}

/// A failed request: the code, a message for the caller, and for 5xx the hidden cause.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    msg: Cow<'static, str>,
    cause: Option<String>,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a message for the caller.
    pub fn new(code: ErrorCode, msg: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            msg: msg.into(),
            cause: None,
        }
    }

    /// A 404 for a resource of the given kind.
    pub fn not_found(kind: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("{kind} not found: it does not exist in this project or has been deleted"),
        )
    }

    /// A 500 that logs `cause` and tells the caller nothing internal.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Internal,
            msg: "internal error; the request was not completed, retry later".into(),
            cause: Some(cause.to_string()),
        }
    }

    /// A 503 for a request that ran past the server's deadline; the cause is logged.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        Self {
            code: ErrorCode::Unavailable,
            msg: format!(
                "the request did not complete within {} ms and was abandoned; retry later",
                limit.as_millis()
            )
            .into(),
            cause: Some("request timeout".to_owned()),
        }
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// The error body of the API (`WafError` in the API document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WafError)]
pub(crate) struct ErrorBody<'a> {
    /// The WAF error code, `WAF.` and eight digits.
    #[schema(example = "WAF.00011011")]
    error_code: &'a str,
    /// What went wrong, in a sentence a person can act on.
    error_msg: &'a str,
}

/// The `error_code` of a WAF-shaped error answer, carried in response extensions so the
/// request journal can record it without reading the body.
#[derive(Debug, Clone)]
pub struct WireErrorCode(pub Arc<str>);

/// An error answer in the WAF shape with any status and code: what a test's injected fault
/// asks for (the code need not be one this service produces itself).
pub fn injected_error(status: StatusCode, code: &str, msg: &str) -> Response {
    waf_error(status, code, msg)
}

/// The one builder of the `{"error_code", "error_msg"}` answer.
fn waf_error(status: StatusCode, code: &str, msg: &str) -> Response {
    let body = ErrorBody {
        error_code: code,
        error_msg: msg,
    };
    let mut response = (status, Json(body)).into_response();
    response
        .extensions_mut()
        .insert(WireErrorCode(Arc::from(code)));
    response
}

/// The hidden cause of a 5xx, carried in response extensions to the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub Arc<String>);

impl ErrorCause {
    /// `response` carrying `cause` (if any) for the logging middleware; both error shapes
    /// (WAF and Keystone) attach it here.
    pub fn attach(mut response: Response, cause: Option<String>) -> Response {
        if let Some(cause) = cause {
            response.extensions_mut().insert(Self(Arc::new(cause)));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = waf_error(self.code.status(), self.code.as_str(), &self.msg);
        if self.code == ErrorCode::ResourceNotFound {
            response
                .extensions_mut()
                .insert(NotFoundMessage(Arc::new(self.msg.into_owned())));
        }
        ErrorCause::attach(response, self.cause)
    }
}

/// The message of a `WAF.00022001` answer, kept so a contract profile can reword its code.
#[derive(Debug, Clone)]
struct NotFoundMessage(Arc<String>);

/// The answer as the contract profile words it: under `--contract otc` an unknown resource
/// is `WAF.00014001` (OTC's error table) with the same message; the status stays 404 because
/// every OTC client (Terraform, gophertelekomcloud, otcextensions) detects deletion by 404.
pub fn for_contract(response: Response, contract: Contract) -> Response {
    if !contract.otc_not_found() {
        return response;
    }
    match response.extensions().get::<NotFoundMessage>() {
        Some(NotFoundMessage(msg)) => {
            ApiError::new(ErrorCode::ResourceNotFoundOtc, msg.as_str().to_owned()).into_response()
        }
        None => response,
    }
}

/// An extractor that cannot fail (`()` as the input of an [`Admin`](super::extract::Admin)).
impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match e {
            DomainError::InvalidName { .. } => ErrorCode::NameIllegal,
            DomainError::InvalidHostname(_) => ErrorCode::HostIllegal,
            DomainError::CertificateExpired => ErrorCode::CertificateExpired,
            DomainError::BindNotLocked => return Self::internal(e),
            DomainError::InvalidHostSetting(_)
            | DomainError::HostnameChanged
            | DomainError::InvalidPolicySetting(_)
            | DomainError::CertificateNameMismatch
            | DomainError::CertificateRequired
            | DomainError::InvalidCertificate(_)
            | DomainError::InvalidKey(_)
            | DomainError::EncryptedKey
            | DomainError::UnsupportedKey(_)
            | DomainError::KeyMismatch
            | DomainError::InvalidTime(_)
            | DomainError::InvalidDuration(_) => ErrorCode::RequestBodyIllegal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(resource) => Self::not_found(resource.as_str()),
            StoreError::PolicyInUse(hosts) => Self::new(
                ErrorCode::ResourceInUse,
                format!(
                    "the policy is used by host(s) {}; move those hosts to another policy \
                     (PUT .../waf/policy/{{policy_id}}?hosts=...) or delete them first",
                    hosts.join(", ")
                ),
            ),
            StoreError::NameTaken => Self::new(
                ErrorCode::NameDuplicate,
                "the name is already used in this project; choose another name",
            ),
            StoreError::InUse(hosts) => Self::new(
                ErrorCode::ResourceInUse,
                format!(
                    "the certificate is in use by host(s) {}; bind those hosts to another \
                     certificate or delete them first",
                    hosts.join(", ")
                ),
            ),
            StoreError::QuotaExceeded => Self::new(
                ErrorCode::InsufficientQuota,
                "the project's certificate quota is used up; delete certificates you no longer need",
            ),
            StoreError::Unavailable(cause) => Self {
                code: ErrorCode::Unavailable,
                msg: "storage is temporarily unavailable; retry shortly".into(),
                cause: Some(cause.to_string()),
            },
            StoreError::Full(_) => Self {
                code: ErrorCode::Unavailable,
                msg: "storage is full; the write was not done, retry later".into(),
                cause: Some(e.to_string()),
            },
            e @ (StoreError::Schema(_) | StoreError::Config(_) | StoreError::Backend(_)) => {
                Self::internal(e)
            }
        }
    }
}

/// A checked write's failure: the caller's refusal, or the store's.
impl<E: Into<ApiError>> From<WriteError<E>> for ApiError {
    fn from(e: WriteError<E>) -> Self {
        match e {
            WriteError::Refused(refusal) => refusal.into(),
            WriteError::Store(store) => store.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match e {
            AuthError::Missing
            | AuthError::Unknown
            | AuthError::Expired
            | AuthError::Revoked
            | AuthError::BadSignature(_) => ErrorCode::InvalidToken,
            AuthError::WrongProject => ErrorCode::InvalidProject,
            AuthError::Forbidden => ErrorCode::PermissionDenied,
            AuthError::Store(inner) => return inner.into(),
        };
        Self::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of the contract, row by row.
    #[test]
    fn codes_and_statuses_match_the_contract() {
        let table = [
            (ErrorCode::MethodNotAllowed, "WAF.00011001", 405),
            (ErrorCode::UrlParamIllegal, "WAF.00011002", 400),
            (ErrorCode::RequestBodyIllegal, "WAF.00011003", 400),
            (ErrorCode::RequestBodyTooLarge, "WAF.00011003", 413),
            (ErrorCode::NameIllegal, "WAF.00011005", 400),
            (ErrorCode::HostIllegal, "WAF.00011006", 400),
            (ErrorCode::PageOrPageSizeIllegal, "WAF.00011011", 400),
            (ErrorCode::NameDuplicate, "WAF.00011016", 400),
            (ErrorCode::InvalidToken, "WAF.00012001", 401),
            (ErrorCode::InvalidProject, "WAF.00012002", 401),
            (ErrorCode::PermissionDenied, "WAF.00012003", 401),
            (ErrorCode::ApiNotFound, "WAF.00014009", 404),
            (ErrorCode::CertificateExpired, "WAF.00021013", 400),
            (ErrorCode::ResourceNotFound, "WAF.00022001", 404),
            (ErrorCode::ResourceNotFoundOtc, "WAF.00014001", 404),
            (ErrorCode::ResourceInUse, "WAF.00022003", 400),
            (ErrorCode::InsufficientQuota, "WAF.00022005", 403),
            (ErrorCode::Internal, "WAF.00010001", 500),
            (ErrorCode::Unavailable, "WAF.00010002", 503),
        ];
        for (code, text, status) in table {
            assert_eq!(code.as_str(), text);
            assert_eq!(code.status().as_u16(), status, "{text}");
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let response = ApiError::internal("secret sqlx detail").into_response();
        assert_eq!(response.status(), 500);
        assert!(response.extensions().get::<ErrorCause>().is_some());
    }
}
