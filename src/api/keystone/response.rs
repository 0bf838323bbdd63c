//! What the identity routes answer: the version documents and the token body with its service
//! catalog. The catalog names this server for the WAF services in the configured region:
//! `premium-waf` at `{public_url}/v1/{project_id}` (used verbatim by gophertelekomcloud),
//! `waf` at `{public_url}` (otcextensions appends `/v1/{project_id}`) and `identity` at
//! `{public_url}/v3`.

use aws_lc_rs::digest;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::ServiceSettings;
use crate::auth::{TokenInfo, domain_id};
use crate::domain::{Role, format_iso8601};

/// The identity API version this server speaks.
const VERSION_ID: &str = "v3.14";
/// When that version was released (Keystone's "updated" field).
const VERSION_UPDATED: &str = "2020-04-07T00:00:00Z";

/// The `GET /v3` document.
pub(super) fn version(settings: &ServiceSettings) -> Value {
    json!({ "version": version_entry(settings) })
}

/// The `GET /` document: the list of identity versions (one).
pub(super) fn versions(settings: &ServiceSettings) -> Value {
    json!({ "versions": { "values": [version_entry(settings)] } })
}

fn version_entry(settings: &ServiceSettings) -> Value {
    json!({
        "id": VERSION_ID,
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{ "rel": "self", "href": format!("{}/v3/", settings.public_url) }],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.identity-v3+json"
        }]
    })
}

/// `{"token": ...}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneTokenResponse)]
pub(super) struct TokenResponse {
    token: TokenBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneToken)]
struct TokenBody {
    methods: Vec<&'static str>,
    user: UserBody,
    project: ProjectBody,
    roles: Vec<RoleBody>,
    /// The service catalog (absent with `?nocatalog`).
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog: Option<Vec<Service>>,
    is_domain: bool,
    /// ISO 8601, UTC.
    issued_at: String,
    /// ISO 8601, UTC.
    expires_at: String,
    audit_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneUser)]
struct UserBody {
    id: String,
    name: String,
    domain: DomainBody,
    password_expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneProject)]
struct ProjectBody {
    id: String,
    name: String,
    domain: DomainBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneDomain)]
struct DomainBody {
    id: String,
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneRole)]
struct RoleBody {
    id: &'static str,
    name: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneService)]
struct Service {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KeystoneEndpoint)]
struct Endpoint {
    id: String,
    interface: &'static str,
    region: String,
    region_id: String,
    url: String,
}

impl TokenResponse {
    /// The body describing `info`, with the catalog unless `with_catalog` is false.
    pub(super) fn new(info: &TokenInfo, settings: &ServiceSettings, with_catalog: bool) -> Self {
        let project_id = info.project.id.as_str();
        Self {
            token: TokenBody {
                methods: info.methods.clone(),
                user: UserBody {
                    id: info.user.id.clone(),
                    name: info.user.name.clone(),
                    domain: domain(&info.user.domain),
                    password_expires_at: None,
                },
                project: ProjectBody {
                    id: project_id.to_owned(),
                    name: info.project.name.clone(),
                    domain: domain(&info.project.domain),
                },
                roles: vec![role(info.role)],
                catalog: with_catalog.then(|| catalog(settings, project_id)),
                is_domain: false,
                issued_at: format_iso8601(info.issued_at),
                expires_at: format_iso8601(info.expires_at),
                audit_ids: vec![info.audit_id.clone()],
            },
        }
    }
}

fn domain(name: &str) -> DomainBody {
    DomainBody {
        id: domain_id(name).to_owned(),
        name: name.to_owned(),
    }
}

/// Roles are named like wafcert's; their ids are the names.
fn role(role: Role) -> RoleBody {
    RoleBody {
        id: role.as_str(),
        name: role.as_str(),
    }
}

/// The service catalog of a token acting in `project_id`.
fn catalog(settings: &ServiceSettings, project_id: &str) -> Vec<Service> {
    let base = settings.public_url.as_str();
    [
        (
            "premium-waf",
            "premium-waf",
            format!("{base}/v1/{project_id}"),
        ),
        ("waf", "waf", base.to_owned()),
        ("identity", "keystone", format!("{base}/v3")),
    ]
    .into_iter()
    .map(|(kind, name, url)| Service {
        id: stable_id(&["service", kind]),
        kind,
        name,
        endpoints: vec![Endpoint {
            id: stable_id(&["endpoint", kind, &settings.region]),
            interface: "public",
            region: settings.region.clone(),
            region_id: settings.region.clone(),
            url,
        }],
    })
    .collect()
}

/// A 32-hex id that stays the same across restarts and replicas.
fn stable_id(parts: &[&str]) -> String {
    let mut id = hex::encode(digest::digest(&digest::SHA256, parts.join("/").as_bytes()));
    id.truncate(32);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_points_at_this_server() {
        let project = "0123456789abcdef0123456789abcdef";
        let catalog = serde_json::to_value(catalog(&ServiceSettings::sample(), project)).unwrap();
        let url = |kind: &str| {
            catalog
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["type"] == kind)
                .unwrap()["endpoints"][0]
                .clone()
        };
        assert_eq!(
            url("premium-waf")["url"],
            format!("https://waf.example.com/v1/{project}")
        );
        assert_eq!(url("waf")["url"], "https://waf.example.com");
        assert_eq!(url("identity")["url"], "https://waf.example.com/v3");
        assert_eq!(url("waf")["region_id"], "eu-ch2");
        assert_eq!(url("waf")["interface"], "public");
        assert_eq!(url("waf")["id"].as_str().unwrap().len(), 32);
    }
}
