//! Extractors that answer in the API's error shape: a handler's context (state, authenticated
//! caller, id in the path), JSON bodies and query pairs. Plain axum extractors would reply in
//! plain text.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::Extensions;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::domain::{CertificateId, HostId, PolicyId};

/// What every handler under `/v1/{project_id}` starts from: the app state, the caller the
/// authentication middleware let in (any role), and the checked id in the path (`Id = ()`:
/// the route has none). One extractor, so a handler's signature says only what differs.
#[derive(Debug)]
pub struct Ctx<Id = ()> {
    /// The server's shared state.
    pub state: AppState,
    /// The authenticated caller.
    pub caller: Principal,
    /// The id in the path; a malformed one was answered 404 before the handler ran.
    pub id: Id,
}

impl<Id: PathPart> Ctx<Id> {
    /// The caller, then the id in the path, as every handler reads them.
    async fn read(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = principal(&parts.extensions)?;
        let id = Id::from_path(parts).await?;
        Ok(Self {
            state: state.clone(),
            caller,
            id,
        })
    }
}

impl<Id: PathPart> FromRequestParts<AppState> for Ctx<Id> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::read(parts, state).await
    }
}

/// The context of a write without a body, and what it reads of the query (`In`: `()` for
/// nothing, or [`QueryPairs`]); refused (`WAF.00012003`) unless the caller is an admin. The role
/// is checked last, so a malformed id or query is answered before it, as for every write.
#[derive(Debug)]
pub struct Admin<Id = (), In = ()>(pub Ctx<Id>, pub In);

impl<Id: PathPart, In> FromRequestParts<AppState> for Admin<Id, In>
where
    In: FromRequestParts<AppState>,
    ApiError: From<In::Rejection>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = Ctx::read(parts, state).await?;
        let input = In::from_request_parts(parts, state).await?;
        ctx.caller.require_admin()?;
        Ok(Self(ctx, input))
    }
}

/// The context and the JSON body of a write that takes one: the id, then the body (a malformed
/// one is a 400 whoever sends it, as [`JsonBody`]), then a caller who is not an admin is
/// refused as by [`Admin`].
#[derive(Debug)]
pub struct AdminJson<T, Id = ()>(pub Ctx<Id>, pub T);

impl<T: DeserializeOwned, Id: PathPart> FromRequest<AppState> for AdminJson<T, Id> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::read(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let JsonBody(body) = JsonBody::from_request(req, state).await?;
        ctx.caller.require_admin()?;
        Ok(Self(ctx, body))
    }
}

/// The principal the authentication middleware put into the request.
fn principal(extensions: &Extensions) -> Result<Principal, ApiError> {
    extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::internal("route is missing the authentication layer"))
}

/// A JSON body parsed whatever the `Content-Type` (clients differ), with every failure mapped
/// to `WAF.00011003` and an oversized body to 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body into `T`, describing the problem without echoing the body.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if json_has_nul(bytes) {
        return Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "invalid request body: a string contains a NUL character (\\u0000)",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "the request body is empty; send a JSON object",
        ));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "invalid request body: a field has the wrong type (the body must be a JSON object)",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a field has the wrong type",
            serde_json::error::Category::Eof => "the JSON is truncated",
            _ => "the body is not valid JSON",
        };
        ApiError::new(
            ErrorCode::RequestBodyIllegal,
            format!(
                "invalid request body: {what} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Whether a JSON text holds a NUL character in a string (`\u0000`; a raw NUL byte is not
/// valid JSON anyway). PostgreSQL cannot store NUL in text, and no field has a use for it.
pub fn json_has_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => return true,
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                    return true;
                }
                // Skip the escaped character, so `\\u0000` (a backslash, then text) is no NUL.
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// Maps a body read failure: too large is 413, anything else 400.
pub fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::RequestBodyTooLarge,
            "the request body is larger than 1 MiB",
        )
    } else {
        ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "the request body could not be read",
        )
    }
}

/// Longest accepted `name` or `hostname` filter, in bytes.
pub const MAX_FILTER_LEN: usize = 256;

/// The query string as ordered pairs; a malformed one, or one with a NUL character, is
/// `WAF.00011002`.
#[derive(Debug)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// Splits a raw query string without percent-decoding (unit tests of the query parsers).
    #[cfg(test)]
    pub(crate) fn from_query(q: &str) -> Self {
        let pairs = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Self(pairs)
    }

    /// What the server's extractor makes of a raw query string; `None` where it answers 400
    /// (property tests of the query parsers).
    #[cfg(test)]
    pub(crate) fn extracted(raw: &str) -> Option<Self> {
        let uri: axum::http::Uri = format!("/x?{raw}").parse().ok()?;
        Query::<Vec<(String, String)>>::try_from_uri(&uri)
            .ok()
            .map(|Query(pairs)| Self(pairs))
    }

    /// The last non-empty value of a text filter (`name`, `hostname`), refused with
    /// `WAF.00011002` beyond [`MAX_FILTER_LEN`] bytes: longer patterns only cost the database.
    pub fn filter(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            Some(v) if v.len() > MAX_FILTER_LEN => Err(ApiError::new(
                ErrorCode::UrlParamIllegal,
                format!("{key} must be at most {MAX_FILTER_LEN} bytes"),
            )),
            other => Ok(other),
        }
    }

    /// A switch: `true` or `false` in any case, `None` when absent; anything else is
    /// `WAF.00011002`.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::new(
                ErrorCode::UrlParamIllegal,
                format!("{key} must be true or false"),
            )),
        }
    }

    /// The last value given for `key` (later occurrences win).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The property every query parser keeps (property tests): whatever the raw query string, the
/// server either answers it or refuses it with a 400, and never panics.
#[cfg(test)]
pub(crate) fn answers_or_400<T>(
    raw: &str,
    parse: impl Fn(&QueryPairs) -> Result<T, ApiError>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    if let Some(pairs) = QueryPairs::extracted(raw)
        && let Err(e) = parse(&pairs)
    {
        proptest::prop_assert_eq!(e.code().status().as_u16(), 400);
    }
    Ok(())
}

/// Percent-encodes every byte but unreserved ones, as a client puts a value in a query
/// (property tests of the query parsers).
#[cfg(test)]
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::new(ErrorCode::UrlParamIllegal, "the query string is malformed")
            })?;
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::new(
                ErrorCode::UrlParamIllegal,
                "the query string contains a NUL character",
            ));
        }
        Ok(Self(pairs))
    }
}

/// An id the routes take from the path: which parameter holds it, what it names in a 404, and
/// how it is checked.
pub trait PathId: Sized {
    /// The route parameter, as in `{certificate_id}`.
    const PARAM: &'static str;
    /// The resource a malformed or unknown id is reported as missing.
    const KIND: &'static str;
    /// The checked id; `None` when malformed.
    fn from_path(text: &str) -> Option<Self>;
}

impl PathId for CertificateId {
    const PARAM: &'static str = "certificate_id";
    const KIND: &'static str = "certificate";
    fn from_path(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl PathId for HostId {
    const PARAM: &'static str = "host_id";
    const KIND: &'static str = "host";
    fn from_path(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl PathId for PolicyId {
    const PARAM: &'static str = "policy_id";
    const KIND: &'static str = "policy";
    fn from_path(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

/// What a [`Ctx`] takes from the path besides the project: nothing (`()`), or one [`PathId`].
pub trait PathPart: Sized + Send {
    /// Reads it from the path.
    fn from_path(parts: &mut Parts) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

impl PathPart for () {
    async fn from_path(_: &mut Parts) -> Result<Self, ApiError> {
        Ok(())
    }
}

/// The id in the path, checked: a malformed one (not UTF-8 once percent-decoded, or not of
/// the id's form) is as unknown as a missing one, 404 `WAF.00022001`, never axum's plain text.
impl<T: PathId + Send> PathPart for T {
    async fn from_path(parts: &mut Parts) -> Result<Self, ApiError> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, &())
            .await
            .map_err(|_| ApiError::not_found(T::KIND))?;
        params
            .iter()
            .find(|(k, _)| k == T::PARAM)
            .and_then(|(_, v)| T::from_path(v))
            .ok_or_else(|| ApiError::not_found(T::KIND))
    }
}

/// The pattern of every id in a path (projects, certificates, hosts, policies).
pub(super) const ID_PATTERN: &str = "^[0-9a-f]{32}$";

/// The resource an id parameter of a path names (`certificate_id`: `certificate`), for the
/// API document; every [`PathId`] is listed here.
pub(super) fn path_id_kind(param: &str) -> Option<&'static str> {
    [
        (CertificateId::PARAM, CertificateId::KIND),
        (HostId::PARAM, HostId::KIND),
        (PolicyId::PARAM, PolicyId::KIND),
    ]
    .into_iter()
    .find_map(|(name, kind)| (name == param).then_some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_in_json_strings_are_found() {
        assert!(json_has_nul(br#"{"a":"x\u0000"}"#));
        assert!(json_has_nul(b"{\"a\":\"x\0\"}"));
        assert!(
            !json_has_nul(br#"{"a":"x\\u0000"}"#),
            "an escaped backslash"
        );
        assert!(!json_has_nul(br#"{"a":"\u0001"}"#));
    }

    #[test]
    fn long_filters_are_refused() {
        let ok = QueryPairs::from_query(&format!("name={}", "a".repeat(MAX_FILTER_LEN)));
        assert!(ok.filter("name").unwrap().is_some());
        let long = QueryPairs::from_query(&format!("name={}", "a".repeat(MAX_FILTER_LEN + 1)));
        assert_eq!(
            long.filter("name").unwrap_err().code(),
            ErrorCode::UrlParamIllegal
        );
        assert_eq!(
            QueryPairs::from_query("name=").filter("name").unwrap(),
            None
        );
    }
}
