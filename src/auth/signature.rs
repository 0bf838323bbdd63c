//! AK/SK request signing as the Huawei Cloud SDKs do it (`SDK-HMAC-SHA256`): the canonical
//! request, the string to sign and the HMAC, for verifying on the server and signing in tests
//! and clients.

use aws_lc_rs::{digest, hmac};
use axum::http::HeaderMap;

use super::AuthError;
use crate::domain::{Millis, UtcDateTime};

/// The algorithm name in the `Authorization` header.
const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// SHA-256 of the empty body.
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// How far `X-Sdk-Date` may be from the server's clock.
const MAX_SKEW_MS: Millis = 15 * 60 * 1000;

/// The parts of an HTTP request that a signature covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The request body.
    pub body: &'a [u8],
    /// The `Authorization` header value.
    pub authorization: &'a str,
}

impl SignedRequest<'_> {
    /// A header's value as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The fields of an `SDK-HMAC-SHA256` `Authorization` header.
#[derive(Debug)]
pub(super) struct Authorization<'a> {
    pub(super) access_key: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// The access key id named by an `Authorization` header, if it is a well-formed signature
/// header (the key id is public: journals name the caller by it).
pub fn access_key_of(authorization: &str) -> Option<&str> {
    parse_authorization(authorization)
        .ok()
        .map(|a| a.access_key)
}

/// Splits `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`.
pub(super) fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or(AuthError::BadSignature(
            "unsupported Authorization scheme; use SDK-HMAC-SHA256",
        ))?;
    let (mut access_key, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Access", v)) => access_key = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    match (access_key, signed, signature) {
        (Some(access_key), Some(signed), Some(signature)) if !access_key.is_empty() => {
            Ok(Authorization {
                access_key,
                signed_headers: signed.split(';').filter(|h| !h.is_empty()).collect(),
                signature,
            })
        }
        _ => Err(AuthError::BadSignature(
            "the Authorization header needs Access, SignedHeaders and Signature",
        )),
    }
}

/// Checks the date window and the HMAC of a request.
pub(super) fn verify(
    request: &SignedRequest<'_>,
    auth: &Authorization<'_>,
    secret: &[u8],
    now: Millis,
) -> Result<(), AuthError> {
    let date = request
        .header("x-sdk-date")
        .ok_or(AuthError::BadSignature("X-Sdk-Date is missing"))?;
    let at = parse_basic_date(date).ok_or(AuthError::BadSignature(
        "X-Sdk-Date must look like 20260101T120000Z",
    ))?;
    if (now - at).abs() > MAX_SKEW_MS {
        return Err(AuthError::BadSignature(
            "X-Sdk-Date is more than 15 minutes from the server's time",
        ));
    }
    if !auth.signed_headers.contains(&"x-sdk-date") {
        return Err(AuthError::BadSignature(
            "X-Sdk-Date must be a signed header",
        ));
    }
    // Unsigned, the Host header would let a signature made for one server work at another.
    if !auth.signed_headers.contains(&"host") {
        return Err(AuthError::BadSignature("Host must be a signed header"));
    }
    // The server reads the last of repeated parameters, the signature covers them sorted: the
    // same signature would cover `name=a&name=b` and `name=b&name=a`.
    let mut keys: Vec<String> = query_pairs(request.query)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(AuthError::BadSignature(
            "a query parameter appears more than once in a signed request",
        ));
    }
    // The SDKs sign a declared body hash when they send one (`UNSIGNED-PAYLOAD` for uploads);
    // trusting it unchecked would leave the body outside the signature.
    if !request.body.is_empty()
        && let Some(declared) = request.header("x-sdk-content-sha256")
        && !declared.eq_ignore_ascii_case(&body_hash(request.body))
    {
        return Err(AuthError::BadSignature(
            "X-Sdk-Content-Sha256 does not match the body (unsigned payloads are not accepted)",
        ));
    }
    let expected = hex::decode(auth.signature)
        .map_err(|_| AuthError::BadSignature("the signature is not hex"))?;
    let string_to_sign = string_to_sign(request, &auth.signed_headers, date).ok_or(
        AuthError::BadSignature("a signed header is missing from the request"),
    )?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, string_to_sign.as_bytes(), &expected)
        .map_err(|_| AuthError::BadSignature("the signature does not match the request"))
}

/// Signs a request: returns the `Authorization` header value. `headers` must already hold every
/// header to sign, including `X-Sdk-Date` and `Host`.
pub fn sign_request(
    request: &SignedRequest<'_>,
    access_key: &str,
    secret: &[u8],
) -> Option<String> {
    let mut names: Vec<String> = request
        .headers
        .keys()
        .map(|k| k.as_str().to_ascii_lowercase())
        .filter(|k| !k.contains('_') && k != "authorization")
        .collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let date = request.header("x-sdk-date")?;
    let sts = string_to_sign(request, &names, date)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let signature = hex::encode(hmac::sign(&key, sts.as_bytes()));
    Some(format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={signature}",
        names.join(";")
    ))
}

/// `SDK-HMAC-SHA256\n{date}\n{hex sha256(canonical request)}`.
fn string_to_sign(request: &SignedRequest<'_>, signed: &[&str], date: &str) -> Option<String> {
    let mut canonical = String::new();
    canonical.push_str(&request.method.to_ascii_uppercase());
    canonical.push('\n');
    canonical.push_str(&canonical_uri(request.path));
    canonical.push('\n');
    canonical.push_str(&canonical_query(request.query));
    canonical.push('\n');
    for name in signed {
        let value = request.headers.get(*name)?.to_str().ok()?;
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value.trim());
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed.join(";"));
    canonical.push('\n');
    canonical.push_str(&payload_hash(request));
    let hash = hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
    Some(format!("{ALGORITHM}\n{date}\n{hash}"))
}

fn payload_hash(request: &SignedRequest<'_>) -> String {
    if request.body.is_empty() {
        return EMPTY_HASH.to_owned();
    }
    if let Some(declared) = request.header("x-sdk-content-sha256") {
        return declared.to_owned();
    }
    body_hash(request.body)
}

/// Hex SHA-256 of a body.
fn body_hash(body: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, body))
}

/// Each path segment decoded and re-encoded, with a trailing `/`.
fn canonical_uri(path: &str) -> String {
    let mut out = path
        .split('/')
        .map(|seg| encode(&decode(seg)))
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Query pairs decoded exactly as the server's query parser reads them (`+` is a space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Query pairs decoded, sorted, re-encoded and joined with `&`.
fn canonical_query(query: &str) -> String {
    let mut pairs = query_pairs(query);
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters (`A-Z a-z 0-9 - _ . ~`), like Python's
/// `quote(s, safe='~')`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes (invalid escapes are kept as they are).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `YYYYMMDDTHHMMSSZ` (UTC) into epoch milliseconds.
fn parse_basic_date(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let t = UtcDateTime {
        year: num(0..4)?,
        month: num(4..6)?,
        day: num(6..8)?,
        hour: num(9..11)?,
        minute: num(11..13)?,
        second: num(13..15)?,
        milli: 0,
    };
    if !(1..=12).contains(&t.month)
        || !(1..=31).contains(&t.day)
        || t.hour > 23
        || t.minute > 59
        || t.second > 60
    {
        return None;
    }
    Some(t.to_millis())
}

/// Formats epoch milliseconds as `YYYYMMDDTHHMMSSZ`, for signing clients.
pub fn format_basic_date(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_basic_date("19700101T000000Z"), Some(0));
        assert_eq!(
            parse_basic_date("20260101T120000Z"),
            Some(1_767_268_800_000)
        );
        for ms in [0, 951_782_400_000, 1_767_268_800_000, 4_102_444_799_000] {
            assert_eq!(parse_basic_date(&format_basic_date(ms)), Some(ms));
        }
        assert_eq!(parse_basic_date("2026-01-01T12:00Z"), None);
    }

    #[test]
    fn canonical_forms_match_the_sdk() {
        assert_eq!(
            canonical_uri("/v1/p/waf/certificate"),
            "/v1/p/waf/certificate/"
        );
        assert_eq!(
            canonical_query("name=a%20b&host=true&exp_status=0"),
            "exp_status=0&host=true&name=a%20b"
        );
        assert_eq!(encode("a b/~"), "a%20b%2F~");
    }

    /// The headers of a request to `host` sent at `now`.
    fn headers_at(host: &str, now: i64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        headers.insert("x-sdk-date", format_basic_date(now).parse().unwrap());
        headers
    }

    /// An unsigned certificate upload.
    fn upload<'a>(headers: &'a HeaderMap, query: &'a str, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            path: "/v1/p/waf/certificate",
            query,
            headers,
            body,
            authorization: "",
        }
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let now = 1_767_268_800_000;
        let mut headers = headers_at("127.0.0.1:8080", now);
        headers.insert("content-type", "application/json".parse().unwrap());
        let unsigned = upload(&headers, "a=1", br#"{"name":"x"}"#);
        let auth = sign_request(&unsigned, "AK", b"SK").unwrap();
        let signed = SignedRequest {
            authorization: &auth,
            ..unsigned
        };
        let parsed = parse_authorization(&auth).unwrap();
        assert!(verify(&signed, &parsed, b"SK", now).is_ok());
        assert!(verify(&signed, &parsed, b"other", now).is_err());
        assert!(verify(&signed, &parsed, b"SK", now + MAX_SKEW_MS + 1000).is_err());
        let tampered = SignedRequest {
            body: br#"{"name":"y"}"#,
            ..signed
        };
        assert!(verify(&tampered, &parsed, b"SK", now).is_err());
    }

    /// Signs a GET of `query` with the given extra headers, then verifies it.
    fn signed_get(query: &str, with_host: bool) -> Result<(), AuthError> {
        let mut headers = HeaderMap::new();
        if with_host {
            headers.insert("host", "h".parse().unwrap());
        }
        let now = 1_767_268_800_000;
        headers.insert("x-sdk-date", format_basic_date(now).parse().unwrap());
        let unsigned = SignedRequest {
            method: "GET",
            path: "/v1/p/waf/certificate",
            query,
            headers: &headers,
            body: b"",
            authorization: "",
        };
        let auth = sign_request(&unsigned, "AK", b"SK").unwrap();
        let signed = SignedRequest {
            authorization: &auth,
            ..unsigned
        };
        verify(&signed, &parse_authorization(&auth).unwrap(), b"SK", now)
    }

    #[test]
    fn host_must_be_signed_and_parameters_unique() {
        assert!(signed_get("name=a", true).is_ok());
        assert!(matches!(
            signed_get("name=a", false),
            Err(AuthError::BadSignature(m)) if m.contains("Host")
        ));
        assert!(matches!(
            signed_get("name=a&name=b", true),
            Err(AuthError::BadSignature(m)) if m.contains("more than once")
        ));
    }

    #[test]
    fn the_canonical_query_is_what_the_server_reads() {
        // The server reads `+` as a space, so `a+b` and `a%2Bb` are different filters.
        assert_eq!(canonical_query("name=a+b"), canonical_query("name=a%20b"));
        assert_ne!(canonical_query("name=a+b"), canonical_query("name=a%2Bb"));
    }

    #[test]
    fn a_declared_body_hash_must_match_the_body() {
        let now = 1_767_268_800_000;
        let headers = headers_at("h", now);
        let body = br#"{"name":"x"}"#;
        let unsigned = upload(&headers, "", body);
        let auth = sign_request(&unsigned, "AK", b"SK").unwrap();
        // An attacker swaps the body and declares the old body's hash in an unsigned header.
        let mut forged = headers.clone();
        forged.insert("x-sdk-content-sha256", body_hash(body).parse().unwrap());
        let swapped = SignedRequest {
            headers: &forged,
            body: br#"{"name":"evil"}"#,
            authorization: &auth,
            ..unsigned
        };
        let parsed = parse_authorization(&auth).unwrap();
        assert!(verify(&swapped, &parsed, b"SK", now).is_err());
        // Signed with a declared body hash in the headers: verifies only when it is the truth.
        let verifies_declaring = |declared: &str| {
            let mut declaring = headers.clone();
            declaring.insert("x-sdk-content-sha256", declared.parse().unwrap());
            let request = SignedRequest {
                headers: &declaring,
                ..unsigned
            };
            let auth = sign_request(&request, "AK", b"SK").unwrap();
            let parsed = parse_authorization(&auth).unwrap();
            let signed = SignedRequest {
                authorization: &auth,
                ..request
            };
            verify(&signed, &parsed, b"SK", now).is_ok()
        };
        assert!(!verifies_declaring("UNSIGNED-PAYLOAD"));
        assert!(verifies_declaring(&body_hash(body)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Decoding undoes encoding for any text, and encoded text is only unreserved
        /// characters and `%XX`.
        #[test]
        fn encoding_round_trips(s in "\\PC{0,40}") {
            let encoded = encode(&s);
            proptest::prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
            proptest::prop_assert_eq!(decode(&encoded), s);
        }

        /// The canonical forms are fixed points: canonicalising a canonical query or path
        /// changes nothing, and the order of query pairs does not matter.
        #[test]
        fn canonical_forms_are_stable(
            pairs in proptest::collection::vec(("[ -~]{0,12}", "[ -~]{0,12}"), 0..6),
            path in "[ -~]{0,60}",
        ) {
            let raw: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
            let query = raw.join("&");
            let canonical = canonical_query(&query);
            proptest::prop_assert_eq!(&canonical_query(&canonical), &canonical);
            let reversed: Vec<String> = raw.iter().rev().cloned().collect();
            proptest::prop_assert_eq!(canonical_query(&reversed.join("&")), canonical);
            let uri = canonical_uri(&path);
            proptest::prop_assert_eq!(canonical_uri(&uri), uri);
        }

        /// `X-Sdk-Date` parses back to the second it was printed from.
        #[test]
        fn basic_dates_parse_back(ms in 0i64..253_402_300_799_999) {
            proptest::prop_assert_eq!(parse_basic_date(&format_basic_date(ms)), Some(ms - ms % 1000));
        }

        /// Arbitrary headers and dates never panic the parsers.
        #[test]
        fn arbitrary_headers_never_panic(s in "\\PC{0,80}") {
            let _ = parse_basic_date(&s);
            let _ = access_key_of(&s);
            let _ = parse_authorization(&format!("{ALGORITHM} {s}"));
            let _ = canonical_query(&s);
            let _ = canonical_uri(&s);
        }

        /// Any request signed by a client verifies, and its `Authorization` header parses back
        /// to the access key, signed headers and signature that were printed.
        #[test]
        fn signed_requests_verify(
            method in "(GET|POST|PUT|DELETE)",
            path in "(/[A-Za-z0-9%._~-]{0,10}){1,5}",
            // Distinct keys: a repeated query key is refused on purpose (see `verify`).
            pairs in proptest::collection::btree_map("[ -~]{1,8}", "[ -~]{0,8}", 0..4),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            access_key in "[A-Z0-9]{1,20}",
        ) {
            let query = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
            let mut headers = HeaderMap::new();
            headers.insert("host", "127.0.0.1:8080".parse().unwrap());
            let now = 1_767_268_800_000;
            headers.insert("x-sdk-date", format_basic_date(now).parse().unwrap());
            let unsigned = SignedRequest { method: &method, path: &path, query: &query, headers: &headers, body: &body, authorization: "" };
            let auth = sign_request(&unsigned, &access_key, b"SK").unwrap();
            let parsed = parse_authorization(&auth).unwrap();
            proptest::prop_assert_eq!(parsed.access_key, access_key.as_str());
            proptest::prop_assert_eq!(&parsed.signed_headers, &vec!["host", "x-sdk-date"]);
            proptest::prop_assert_eq!(parsed.signature.len(), 64);
            let signed = SignedRequest { authorization: &auth, ..unsigned };
            proptest::prop_assert!(verify(&signed, &parsed, b"SK", now).is_ok());
            proptest::prop_assert!(verify(&signed, &parsed, b"sk", now).is_err());
        }
    }
}
