//! Console sessions: a random secret in an HttpOnly, SameSite=Strict cookie; the database holds
//! only its SHA-256 and the API token sealed under the master key (bound to that hash). The
//! CSRF token of every form is derived from the secret, so it needs no storage and a page of
//! another site can neither read nor guess it. Sign-in, before any session, has its own
//! cookie-bound CSRF token.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::ConsoleState;
use super::error::ConsoleError;
use super::layout::SignedIn;
use crate::crypto::{random_bytes, token_hash};
use crate::domain::Role;
use crate::domain::{Millis, now_ms};
use crate::storage::NewSession;

/// The session cookie.
const SESSION_COOKIE: &str = "wafcert_console";
/// The cookie binding the sign-in form's CSRF token.
const LOGIN_COOKIE: &str = "wafcert_console_login";
/// Longest console session, even with a token that never expires.
const MAX_SESSION_MS: Millis = 12 * 60 * 60 * 1000;

/// A signed-in console session, resolved from its cookie.
pub(super) struct Session {
    /// SHA-256 of the cookie's secret: the row's key.
    id_hash: String,
    /// The project the session acts in.
    pub(super) project: String,
    /// What the session may do.
    pub(super) role: Role,
    /// The API token the session calls the API with.
    token: String,
    /// Whether signing out revokes the token (bought with a password by the console).
    owns_token: bool,
    /// The CSRF token every form of this session carries.
    pub(super) csrf: String,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("project", &self.project)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// What the frame of its pages shows.
    pub(super) fn signed_in(&self) -> SignedIn<'_> {
        SignedIn {
            project: &self.project,
            role: self.role.to_string(),
            csrf: &self.csrf,
        }
    }

    /// The API token (for in-process API calls only).
    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// Whether write controls are shown and write posts accepted.
    pub(super) fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Refuses a post whose CSRF token is not this session's, or any write of a read-only
    /// session: both answer 403.
    pub(super) fn check_write(&self, csrf: &str) -> Result<(), ConsoleError> {
        self.check_csrf(csrf)?;
        if self.is_admin() {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "This session is read-only: it cannot change certificates.",
            ))
        }
    }

    /// Refuses a post whose CSRF token is not this session's.
    pub(super) fn check_csrf(&self, csrf: &str) -> Result<(), ConsoleError> {
        if same(csrf, &self.csrf) {
            Ok(())
        } else {
            Err(bad_csrf())
        }
    }
}

fn bad_csrf() -> ConsoleError {
    ConsoleError::Forbidden("The form's security token is missing or stale. Reload the page.")
}

/// Equal strings, compared in constant time.
fn same(a: &str, b: &str) -> bool {
    verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        load(state, &parts.headers)
            .await?
            .ok_or_else(|| ConsoleError::signed_out(&parts.method))
    }
}

/// The session the request's cookie names, if it exists and has not expired.
pub(super) async fn load(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Session>, ConsoleError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = token_hash(&secret);
    let Some(record) = state
        .app
        .store
        .session(&id_hash, now_ms())
        .await
        .map_err(ConsoleError::internal)?
    else {
        return Ok(None);
    };
    let token = state
        .app
        .sealer
        .open_text(&record.sealed_token, &id_hash)
        .map_err(ConsoleError::internal)?;
    let role = Role::parse(&record.role)
        .ok_or_else(|| ConsoleError::internal("stored session role is unknown"))?;
    Ok(Some(Session {
        csrf: csrf_of(&secret),
        id_hash,
        project: record.project_id,
        role,
        token,
        owns_token: record.owns_token != 0,
    }))
}

/// What a sign-in establishes a session with.
#[derive(Debug)]
pub(super) struct Grant<'a> {
    /// The API token (pasted, or bought with a password).
    pub(super) token: &'a str,
    /// Its project.
    pub(super) project: &'a str,
    /// Its role.
    pub(super) role: Role,
    /// Its expiry, if any.
    pub(super) expires_at: Option<Millis>,
    /// Whether the console bought it (sign-out then revokes it).
    pub(super) owns_token: bool,
}

/// Stores a new session for `grant` and returns its `Set-Cookie` value.
pub(super) async fn begin(state: &ConsoleState, grant: &Grant<'_>) -> Result<String, ConsoleError> {
    let secret = random_hex().map_err(ConsoleError::internal)?;
    let id_hash = token_hash(&secret);
    let now = now_ms();
    let limit = now.saturating_add(MAX_SESSION_MS);
    let expires_at = grant.expires_at.map_or(limit, |at| at.min(limit));
    let sealed = state
        .app
        .sealer
        .seal(grant.token.as_bytes(), &id_hash)
        .map_err(ConsoleError::internal)?;
    state
        .app
        .store
        .insert_session(&NewSession {
            id_hash: &id_hash,
            project_id: grant.project,
            role: grant.role.as_str(),
            sealed_token: &sealed,
            owns_token: grant.owns_token,
            created_at_ms: now,
            expires_at_ms: expires_at,
        })
        .await
        .map_err(ConsoleError::internal)?;
    let max_age = (expires_at - now) / 1000;
    Ok(set_cookie(state, SESSION_COOKIE, &secret, max_age))
}

/// Ends `session` (revoking the token when the console bought it) and returns the
/// `Set-Cookie` value that clears the cookie.
pub(super) async fn end(state: &ConsoleState, session: &Session) -> Result<String, ConsoleError> {
    state
        .app
        .store
        .delete_session(&session.id_hash)
        .await
        .map_err(ConsoleError::internal)?;
    if session.owns_token {
        state
            .app
            .auth
            .revoke(&session.token, now_ms())
            .await
            .map_err(ConsoleError::internal)?;
    }
    Ok(set_cookie(state, SESSION_COOKIE, "", 0))
}

/// Forgets `session` after the API stopped accepting its token (expired or revoked), so the
/// sign-in page does not send the browser back to a page that cannot load.
pub(super) async fn forget(state: &ConsoleState, session: &Session) -> Result<(), ConsoleError> {
    state
        .app
        .store
        .delete_session(&session.id_hash)
        .await
        .map_err(ConsoleError::internal)?;
    Ok(())
}

/// The sign-in form's CSRF token and, when the browser has no sign-in cookie yet, the
/// `Set-Cookie` value that gives it one.
pub(super) fn login_csrf(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<(String, Option<String>), ConsoleError> {
    if let Some(value) = cookie(headers, LOGIN_COOKIE) {
        return Ok((login_csrf_of(&value), None));
    }
    let value = random_hex().map_err(ConsoleError::internal)?;
    let cookie = set_cookie(state, LOGIN_COOKIE, &value, 3600);
    Ok((login_csrf_of(&value), Some(cookie)))
}

/// Refuses a sign-in post whose CSRF token does not match the browser's sign-in cookie.
pub(super) fn check_login_csrf(headers: &HeaderMap, csrf: &str) -> Result<(), ConsoleError> {
    match cookie(headers, LOGIN_COOKIE) {
        Some(value) if same(csrf, &login_csrf_of(&value)) => Ok(()),
        _ => Err(bad_csrf()),
    }
}

fn csrf_of(secret: &str) -> String {
    token_hash(&format!("wafcert-console-csrf:{secret}"))
}

fn login_csrf_of(value: &str) -> String {
    token_hash(&format!("wafcert-console-login:{value}"))
}

/// 32 random bytes as hex.
fn random_hex() -> Result<String, crate::crypto::CryptoError> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A console cookie: HttpOnly, SameSite=Strict, scoped to `/console`, `Secure` when the
/// public URL is HTTPS.
fn set_cookie(state: &ConsoleState, name: &str, value: &str, max_age_s: i64) -> String {
    let secure = if state.app.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
}

/// The value of cookie `name`, if the request carries it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wafcert_console=abc; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
    }

    #[test]
    fn csrf_tokens_differ_per_secret_and_purpose() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_ne!(csrf_of("a"), login_csrf_of("a"));
        assert!(same(&csrf_of("a"), &csrf_of("a")));
        assert!(!same("", &csrf_of("a")));
    }
}
