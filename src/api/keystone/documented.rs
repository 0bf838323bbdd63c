//! The shapes of the identity answers built with `json!` (version documents, project and
//! domain lookups), for the API document only. The tests below read the real answers into
//! them strictly, and schemathesis checks the served ones, so they cannot drift unnoticed.
//! Also the parameters and error answers several token routes share.

// Shapes for the document: nothing builds them outside the tests, nothing reads their fields.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::error::ErrorEnvelope;

/// `?nocatalog` of the token answers (issue and validate).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NoCatalog {
    /// Present: the answer carries no service catalog
    #[param(allow_reserved)]
    nocatalog: Option<String>,
}

/// The token a validate, check or revoke is about.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub(super) struct SubjectToken {
    /// The token to describe, check or revoke
    #[param(rename = "X-Subject-Token")]
    subject: String,
}

/// Why a validate, check or revoke of the `X-Subject-Token` is refused.
#[derive(IntoResponses)]
pub(super) enum SubjectTokenErrors {
    /// No `X-Subject-Token`
    #[response(status = 400)]
    NoSubject(ErrorEnvelope<'static>),
    /// No valid `X-Auth-Token`
    #[response(status = 401)]
    NoCaller(ErrorEnvelope<'static>),
    /// The caller is neither the token's user nor an admin of its project
    #[response(status = 403)]
    NotAllowed(ErrorEnvelope<'static>),
    /// The subject token is unknown, expired or revoked
    #[response(status = 404)]
    Unknown(ErrorEnvelope<'static>),
}

/// `GET /`: the identity versions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneVersionsResponse)]
pub(super) struct VersionsResponse {
    versions: VersionValues,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneVersionValues)]
struct VersionValues {
    values: Vec<Version>,
}

/// `GET /v3`: the version document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneVersionResponse)]
pub(super) struct VersionResponse {
    version: Version,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneVersion)]
struct Version {
    #[schema(example = "v3.14")]
    id: String,
    #[schema(example = "stable")]
    status: String,
    updated: String,
    links: Vec<Link>,
    #[serde(rename = "media-types")]
    media_types: Vec<MediaType>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneLink)]
struct Link {
    rel: String,
    href: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneMediaType)]
struct MediaType {
    base: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `GET /v3/projects` and `GET /v3/auth/projects`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneProjectsResponse)]
pub(super) struct ProjectsResponse {
    /// The caller's project, or none.
    #[schema(max_items = 1)]
    projects: Vec<ProjectInfo>,
    links: CollectionLinks,
}

/// `GET /v3/projects/{project_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneProjectResponse)]
pub(super) struct ProjectResponse {
    project: ProjectInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneProjectInfo)]
struct ProjectInfo {
    id: String,
    name: String,
    domain_id: String,
    parent_id: String,
    description: String,
    enabled: bool,
    is_domain: bool,
    tags: Vec<String>,
    links: SelfLink,
}

/// `GET /v3/auth/domains`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneDomainsResponse)]
pub(super) struct DomainsResponse {
    #[schema(min_items = 1, max_items = 1)]
    domains: Vec<DomainInfo>,
    links: CollectionLinks,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneDomainInfo)]
struct DomainInfo {
    id: String,
    name: String,
    description: String,
    enabled: bool,
    tags: Vec<String>,
    links: SelfLink,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneSelfLink)]
struct SelfLink {
    #[serde(rename = "self")]
    own: String,
}

/// Keystone's collection links; this server never pages, so `previous` and `next` are null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeystoneCollectionLinks)]
struct CollectionLinks {
    #[serde(rename = "self")]
    own: String,
    previous: Option<String>,
    next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceSettings;

    #[test]
    fn version_documents_have_the_documented_shape() {
        let settings = ServiceSettings::sample();
        serde_json::from_value::<VersionResponse>(super::super::response::version(&settings))
            .unwrap();
        serde_json::from_value::<VersionsResponse>(super::super::response::versions(&settings))
            .unwrap();
    }
}
