//! The body of `POST /v3/auth/tokens`, read leniently (unknown fields are ignored) and turned
//! into a [`LoginMethod`] and an optional project scope. A body missing what the method needs
//! is 400 with Keystone's "Expecting to find ..." wording.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::KeystoneError;
use crate::auth::{DomainRef, LoginError, LoginMethod, ProjectRef, UserRef};

/// The body of `POST /v3/auth/tokens`; every field optional here so a missing one gets
/// Keystone's "Expecting to find ..." answer.
#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneAuthRequest)]
pub(super) struct Envelope {
    /// Required.
    #[schema(value_type = AuthBody, required = true)]
    auth: Option<AuthBody>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneAuth)]
struct AuthBody {
    /// Required: how the caller authenticates.
    #[schema(value_type = IdentityBody, required = true)]
    identity: Option<IdentityBody>,
    /// The project to act in (by id, or by name with its domain); absent, `null` or `{}` is
    /// the user's own project. Anything but a project scope is 401.
    #[serde(default)]
    #[schema(value_type = Option<ScopeBody>)]
    scope: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneIdentity)]
struct IdentityBody {
    /// Required: `password` and/or `token` (other methods are 401).
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    methods: Vec<String>,
    /// Required with the `password` method.
    password: Option<PasswordBody>,
    /// Required with the `token` method.
    token: Option<TokenBody>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystonePasswordMethod)]
struct PasswordBody {
    /// Required.
    #[schema(value_type = UserBody, required = true)]
    user: Option<UserBody>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneUserRef)]
struct UserBody {
    /// The user's id, or else `name` with `domain`.
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainBody>,
    /// Required: at most 1024 bytes.
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneTokenMethod)]
struct TokenBody {
    /// Required: a token issued by this server.
    #[schema(value_type = String, required = true)]
    id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneScope)]
struct ScopeBody {
    project: Option<ProjectBody>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneProjectRef)]
struct ProjectBody {
    /// The project's id, or else `name` with `domain`.
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainBody>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = KeystoneDomainRef)]
struct DomainBody {
    /// The domain's id, or else its name.
    id: Option<String>,
    name: Option<String>,
}

/// Longest accepted password, in bytes: longer ones only cost hashing time and memory.
pub(super) const MAX_PASSWORD_LEN: usize = 1024;

/// A parsed token request.
#[derive(Debug)]
pub(super) struct TokenRequest {
    /// How the caller authenticates.
    pub(super) method: LoginMethod,
    /// The project asked for; `None` means the user's own project.
    pub(super) scope: Option<ProjectRef>,
}

/// Parses the request body.
pub(super) fn parse(bytes: &[u8]) -> Result<TokenRequest, KeystoneError> {
    if crate::api::extract::json_has_nul(bytes) {
        return Err(KeystoneError::bad_request(
            "The request body is not valid: a string contains a NUL character.",
        ));
    }
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| {
        KeystoneError::bad_request(format!(
            "The request body is not valid: {} (line {}, column {}).",
            match e.classify() {
                serde_json::error::Category::Data => "a field has the wrong type",
                serde_json::error::Category::Eof => "the JSON is truncated",
                _ => "it is not JSON",
            },
            e.line(),
            e.column()
        ))
    })?;
    let auth = envelope
        .auth
        .ok_or_else(|| expecting("auth", "the request body"))?;
    let identity = auth.identity.ok_or_else(|| expecting("identity", "auth"))?;
    let method = method(identity)?;
    let scope = match auth.scope {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(value @ Value::Object(_)) => Some(scope(value)?),
        // `"scope": "unscoped"`, or domain/system scope below.
        Some(_) => return Err(LoginError::UnsupportedScope.into()),
    };
    Ok(TokenRequest { method, scope })
}

fn method(identity: IdentityBody) -> Result<LoginMethod, KeystoneError> {
    if identity.methods.is_empty() {
        return Err(expecting("methods", "identity"));
    }
    if identity
        .methods
        .iter()
        .any(|m| m != "password" && m != "token")
    {
        return Err(LoginError::UnsupportedMethod.into());
    }
    if identity.methods.iter().any(|m| m == "password") {
        let user = identity
            .password
            .ok_or_else(|| expecting("password", "identity"))?
            .user
            .ok_or_else(|| expecting("user", "password"))?;
        let password = user.password.ok_or_else(|| expecting("password", "user"))?;
        if password.len() > MAX_PASSWORD_LEN {
            return Err(KeystoneError::bad_request(
                "The password is longer than 1024 bytes.",
            ));
        }
        let user = match (user.id, user.name) {
            (Some(id), _) => UserRef::Id(id),
            (None, Some(name)) => UserRef::Name {
                name,
                domain: domain(user.domain, "user")?,
            },
            (None, None) => return Err(expecting("id or name", "user")),
        };
        return Ok(LoginMethod::Password { user, password });
    }
    let token = identity
        .token
        .ok_or_else(|| expecting("token", "identity"))?
        .id
        .ok_or_else(|| expecting("id", "token"))?;
    Ok(LoginMethod::Token { token })
}

fn scope(value: Value) -> Result<ProjectRef, KeystoneError> {
    let scope: ScopeBody = serde_json::from_value(value)
        .map_err(|_| KeystoneError::bad_request("The scope is not valid."))?;
    let Some(project) = scope.project else {
        return Err(LoginError::UnsupportedScope.into());
    };
    match (project.id, project.name) {
        (Some(id), _) => Ok(ProjectRef::Id(id)),
        (None, Some(name)) => Ok(ProjectRef::Name {
            name,
            domain: domain(project.domain, "project")?,
        }),
        (None, None) => Err(expecting("id or name", "project")),
    }
}

fn domain(body: Option<DomainBody>, within: &str) -> Result<DomainRef, KeystoneError> {
    match body {
        Some(DomainBody { id: Some(id), .. }) => Ok(DomainRef::Id(id)),
        Some(DomainBody {
            name: Some(name), ..
        }) => Ok(DomainRef::Name(name)),
        _ => Err(expecting("domain", within)),
    }
}

fn expecting(what: &str, within: &str) -> KeystoneError {
    KeystoneError::bad_request(format!(
        "Expecting to find {what} in {within}. The server could not comply with the request \
         since it is either malformed or otherwise incorrect."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> TokenRequest {
        parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn password_by_name_and_domain_with_project_id() {
        let r = ok(
            r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo",
            "password":"pw","domain":{"name":"Default"}}}},"scope":{"project":{"id":"p1"}}}}"#,
        );
        match r.method {
            LoginMethod::Password { user, password } => {
                assert_eq!(password, "pw");
                assert_eq!(
                    user,
                    UserRef::Name {
                        name: "demo".to_owned(),
                        domain: DomainRef::Name("Default".to_owned())
                    }
                );
            }
            LoginMethod::Token { .. } => panic!("password expected"),
        }
        assert_eq!(r.scope, Some(ProjectRef::Id("p1".to_owned())));
    }

    #[test]
    fn token_method_and_project_by_name() {
        let r = ok(
            r#"{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},
            "scope":{"project":{"name":"n","domain":{"id":"default"}}}}}"#,
        );
        assert!(matches!(r.method, LoginMethod::Token { ref token } if token == "t"));
        assert_eq!(
            r.scope,
            Some(ProjectRef::Name {
                name: "n".to_owned(),
                domain: DomainRef::Id("default".to_owned())
            })
        );
    }

    #[test]
    fn malformed_bodies_are_400_and_other_scopes_401() {
        let status = |b: &str| {
            axum::response::IntoResponse::into_response(parse(b.as_bytes()).unwrap_err())
                .status()
                .as_u16()
        };
        assert_eq!(status("not json"), 400);
        assert_eq!(status("{}"), 400);
        assert_eq!(status(r#"{"auth":{"identity":{"methods":[]}}}"#), 400);
        assert_eq!(
            status(
                r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"u","password":"p"}}}}}"#
            ),
            400,
            "a user name needs a domain"
        );
        assert_eq!(status(r#"{"auth":{"identity":{"methods":["totp"]}}}"#), 401);
        assert_eq!(
            status(
                r#"{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":{"domain":{"id":"d"}}}}"#
            ),
            401
        );
        assert_eq!(
            status(
                r#"{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":"unscoped"}}"#
            ),
            401
        );
    }
}
