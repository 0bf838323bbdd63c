//! The shapes of the identity answers built with `json!` (version documents, project and
//! domain lookups), for the API document only. The tests below read the real answers into
//! them strictly, and schemathesis checks the served ones, so they cannot drift unnoticed.

// Shapes for the document: nothing builds them outside the tests, nothing reads their fields.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::ToSchema;

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
        let settings = ServiceSettings::for_tests("eu-de", "http://127.0.0.1:8080");
        serde_json::from_value::<VersionResponse>(super::super::response::version(&settings))
            .unwrap();
        serde_json::from_value::<VersionsResponse>(super::super::response::versions(&settings))
            .unwrap();
    }
}
