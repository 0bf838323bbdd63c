//! The wire types of the host endpoints, named as the cloud's `premium-waf/host` API and the
//! `huaweicloudsdkwaf` models name them, and their translation to checked domain values.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::paging::list_from_page;
use crate::domain::{
    CertificateChange, CertificateId, Cipher, HostUpdate, Hostname, PolicyId, ProtectStatus,
    ServerFields, SettingsPatch, TlsVersion, parse_description, parse_servers,
};
use crate::storage::{DeletedHost, HostRecord};

/// Body of create and update. Every field is optional here so that a missing one gets a clear
/// message; `certificateid`/`certificatename` also tell `null` apart from absent.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    as = PremiumHostRequest,
    example = json!({
        "hostname": "www.example.com",
        "server": [{"front_protocol": "HTTP", "back_protocol": "HTTP", "address": "10.0.0.10", "port": 8080}]
    })
)]
pub(super) struct HostRequest {
    /// The protected domain, optionally a `*.` wildcard; required on create, unchangeable on
    /// update.
    #[schema(
        max_length = 253,
        pattern = "^(\\*\\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
    )]
    hostname: Option<String>,
    /// The origin servers, 1 to 80; required on create, replaces the list on update.
    #[schema(inline, min_items = 1, max_items = 80)]
    server: Option<Vec<ServerBody>>,
    /// Whether a proxy (CDN, load balancer) sits in front of the WAF.
    proxy: Option<bool>,
    /// Free text, at most 256 characters, no control characters.
    #[schema(max_length = 256)]
    description: Option<String>,
    /// -1 bypass, 0 paused, 1 protected (the default).
    #[schema(minimum = -1, maximum = 1)]
    protect_status: Option<i64>,
    /// The lowest TLS version accepted from clients (default `TLS v1.2`).
    #[schema(pattern = "^TLS v1\\.[0-3]$", example = "TLS v1.2")]
    tls: Option<String>,
    /// `cipher_default` or `cipher_1` to `cipher_6`.
    #[schema(pattern = "^cipher_(default|[1-6])$")]
    cipher: Option<String>,
    /// The certificate to bind, with `certificatename`; `null` unbinds, `""` keeps.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    certificateid: Option<Option<String>>,
    /// The name of the certificate `certificateid` names.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    certificatename: Option<Option<String>>,
    /// On create: an existing policy of the project (otherwise the host gets its own).
    policyid: Option<String>,
    /// Compliance checks (recorded, not enforced).
    flag: Option<FlagBody>,
}

/// `flag` as sent: the SDKs send `"true"`/`"false"` strings; booleans are accepted too.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PremiumHostFlagRequest)]
struct FlagBody {
    /// PCI 3DS: `true`, `false`, `"true"` or `"false"`.
    #[schema(schema_with = flag_switch_schema)]
    pci_3ds: Option<serde_json::Value>,
    /// PCI DSS: `true`, `false`, `"true"` or `"false"`.
    #[schema(schema_with = flag_switch_schema)]
    pci_dss: Option<serde_json::Value>,
}

/// What [`flag_switch`] accepts, for the API document.
fn flag_switch_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(?i:true|false)$")),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// One switch of `flag`: `true`, `false`, `"true"` or `"false"`; absent or `null` keeps it.
fn flag_switch(field: &str, value: Option<&serde_json::Value>) -> ApiResult<Option<bool>> {
    use serde_json::Value;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            format!("flag.{field} must be \"true\" or \"false\""),
        )),
    }
}

/// One origin server as sent (`PremiumWafServer`); `weight` is accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PremiumHostServerRequest)]
struct ServerBody {
    /// Required: `HTTP` or `HTTPS` (an `HTTPS` front needs a certificate).
    #[schema(value_type = String, required = true, pattern = "^HTTPS?$")]
    front_protocol: Option<String>,
    /// Required: `HTTP` or `HTTPS`.
    #[schema(value_type = String, required = true, pattern = "^HTTPS?$")]
    back_protocol: Option<String>,
    /// Required: an IPv4 or IPv6 address or a domain name.
    #[schema(value_type = String, required = true)]
    address: Option<String>,
    /// Required: 1 to 65535.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 65535)]
    port: Option<i64>,
    /// `ipv4` or `ipv6`; follows the address when absent.
    #[serde(rename = "type")]
    #[schema(pattern = "^ipv[46]$")]
    kind: Option<String>,
    /// Up to 64 letters, digits, `-` or `_`.
    #[schema(pattern = "^[A-Za-z0-9_-]{0,64}$")]
    vpc_id: Option<String>,
}

/// A field that is present, even as `null`, becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl HostRequest {
    /// Checks every carried field: a bad hostname is `WAF.00011006`, anything else
    /// `WAF.00011003`, and an unknown `certificateid` 404.
    pub(super) fn parse(self) -> ApiResult<HostUpdate> {
        let hostname = self.hostname.as_deref().map(Hostname::parse).transpose()?;
        let servers = match &self.server {
            None => None,
            Some(list) => {
                let fields: Vec<ServerFields<'_>> = list.iter().map(ServerBody::fields).collect();
                Some(parse_servers(&fields)?)
            }
        };
        let patch = SettingsPatch {
            servers,
            proxy: self.proxy,
            description: self
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            protect_status: self
                .protect_status
                .map(ProtectStatus::from_code)
                .transpose()?,
            tls: self.tls.as_deref().map(TlsVersion::parse).transpose()?,
            cipher: self.cipher.as_deref().map(Cipher::parse).transpose()?,
            pci_3ds: flag_switch(
                "pci_3ds",
                self.flag.as_ref().and_then(|f| f.pci_3ds.as_ref()),
            )?,
            pci_dss: flag_switch(
                "pci_dss",
                self.flag.as_ref().and_then(|f| f.pci_dss.as_ref()),
            )?,
        };
        let certificate = certificate_change(self.certificateid, self.certificatename)?;
        let policy = match self.policyid.as_deref() {
            None | Some("") => None,
            Some(id) => Some(PolicyId::parse(id).ok_or_else(|| ApiError::not_found("policy"))?),
        };
        Ok(HostUpdate {
            hostname,
            patch,
            certificate,
            policy,
        })
    }
}

impl ServerBody {
    fn fields(&self) -> ServerFields<'_> {
        ServerFields {
            front_protocol: self.front_protocol.as_deref(),
            back_protocol: self.back_protocol.as_deref(),
            address: self.address.as_deref(),
            port: self.port,
            kind: self.kind.as_deref(),
            vpc_id: self.vpc_id.as_deref(),
        }
    }
}

/// How a request states one of the two certificate fields.
enum Given {
    Absent,
    Cleared,
    Value(String),
}

impl From<Option<Option<String>>> for Given {
    /// `""` counts as absent: gophertelekomcloud's `hosts.UpdateOpts` has no `omitempty`, so
    /// the OTC Terraform provider sends `"certificateid": "", "certificatename": ""` with every
    /// update that is not about the certificate (a TLS change on an HTTPS host must keep it).
    fn from(field: Option<Option<String>>) -> Self {
        match field {
            None => Self::Absent,
            Some(None) => Self::Cleared,
            Some(Some(s)) if s.is_empty() => Self::Absent,
            Some(Some(s)) => Self::Value(s),
        }
    }
}

/// Reads `certificateid` and `certificatename`: both given binds, both absent (or `""`)
/// keeps, `null` (for either, the other absent or `null` too) unbinds, one without the other
/// is an error.
fn certificate_change(
    id: Option<Option<String>>,
    name: Option<Option<String>>,
) -> ApiResult<CertificateChange> {
    match (Given::from(id), Given::from(name)) {
        (Given::Absent, Given::Absent) => Ok(CertificateChange::Keep),
        (Given::Value(id), Given::Value(name)) => {
            let id = CertificateId::parse(&id).ok_or_else(|| ApiError::not_found("certificate"))?;
            Ok(CertificateChange::Bind { id, name })
        }
        (Given::Value(_), _) | (_, Given::Value(_)) => Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "certificateid and certificatename must be given together (both empty to unbind)",
        )),
        _ => Ok(CertificateChange::Unbind),
    }
}

/// A host as every endpoint returns it (`ShowPremiumHostResponse` and list items).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PremiumHost)]
pub(super) struct HostResponse {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    hostname: String,
    /// The servers' front protocols: `HTTP`, `HTTPS` or `HTTP,HTTPS`.
    #[schema(example = "HTTPS")]
    protocol: &'static str,
    server: Vec<ServerResponse>,
    proxy: bool,
    description: String,
    /// -1 bypass, 0 paused, 1 protected.
    #[schema(minimum = -1, maximum = 1)]
    protect_status: i32,
    /// Creation time, epoch ms.
    timestamp: i64,
    #[schema(example = "TLS v1.2")]
    tls: &'static str,
    #[schema(example = "cipher_default")]
    cipher: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificateid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificatename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policyid: Option<String>,
    flag: FlagResponse,
    enterprise_project_id: &'static str,
}

/// `flag` as the cloud answers it (string values; the OTC provider reads it unguarded, so it
/// is always present).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PremiumHostFlag)]
struct FlagResponse {
    pci_3ds: &'static str,
    pci_dss: &'static str,
}

const fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// One origin server in a response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PremiumHostServer)]
struct ServerResponse {
    front_protocol: &'static str,
    back_protocol: &'static str,
    address: String,
    port: u16,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_id: Option<String>,
}

list_from_page!(ListResponse, HostRecord);

impl From<HostRecord> for HostResponse {
    fn from(h: HostRecord) -> Self {
        let settings = h.settings;
        Self {
            protocol: settings.protocol(),
            server: settings
                .servers
                .into_iter()
                .map(|s| ServerResponse {
                    front_protocol: s.front_protocol.as_str(),
                    back_protocol: s.back_protocol.as_str(),
                    address: s.address,
                    port: s.port,
                    kind: s.kind.as_str(),
                    vpc_id: s.vpc_id,
                })
                .collect(),
            proxy: settings.proxy,
            description: settings.description,
            protect_status: settings.protect_status.code(),
            tls: settings.tls.as_str(),
            cipher: settings.cipher.as_str(),
            flag: FlagResponse {
                pci_3ds: bool_text(settings.compliance.pci_3ds),
                pci_dss: bool_text(settings.compliance.pci_dss),
            },
            id: h.id.to_string(),
            hostname: h.hostname,
            timestamp: h.created_at,
            certificateid: h.certificate_id.as_ref().map(ToString::to_string),
            certificatename: h.certificate_name,
            policyid: h.policy_id.as_ref().map(ToString::to_string),
            enterprise_project_id: "0",
        }
    }
}

/// The list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ListPremiumHostResponse)]
pub(super) struct ListResponse {
    /// Number of all matches.
    pub(super) total: i64,
    /// This page.
    pub(super) items: Vec<HostResponse>,
}

/// Body and response of `PUT .../protect-status`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = PremiumHostProtectStatus)]
pub(super) struct ProtectStatusBody {
    /// -1 (bypass), 0 (paused) or 1 (protected).
    #[schema(value_type = i64, required = true, minimum = -1, maximum = 1)]
    pub(super) protect_status: Option<i64>,
}

/// Response of delete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletePremiumHostResponse)]
pub(super) struct DeleteResponse {
    id: String,
    hostname: String,
}

impl From<DeletedHost> for DeleteResponse {
    fn from(h: DeletedHost) -> Self {
        Self {
            id: h.id.to_string(),
            hostname: h.hostname,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(body: &str) -> Result<CertificateChange, ErrorCode> {
        let request: HostRequest = serde_json::from_str(body).unwrap();
        certificate_change(request.certificateid, request.certificatename).map_err(|e| e.code())
    }

    #[test]
    fn flag_switches_take_strings_or_booleans() {
        let patch = |body: &str| {
            let request: HostRequest = serde_json::from_str(body).unwrap();
            request
                .parse()
                .map(|p| (p.patch.pci_3ds, p.patch.pci_dss))
                .map_err(|e| e.code())
        };
        assert_eq!(patch("{}"), Ok((None, None)));
        assert_eq!(patch(r#"{"flag": null}"#), Ok((None, None)));
        assert_eq!(
            patch(r#"{"flag": {"pci_3ds": "false", "pci_dss": "TRUE"}}"#),
            Ok((Some(false), Some(true)))
        );
        assert_eq!(
            patch(r#"{"flag": {"pci_dss": true}}"#),
            Ok((None, Some(true)))
        );
        assert_eq!(
            patch(r#"{"flag": {"pci_dss": "yes"}}"#),
            Err(ErrorCode::RequestBodyIllegal)
        );
    }

    #[test]
    fn certificate_fields_come_together() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(change("{}"), Ok(CertificateChange::Keep));
        assert_eq!(
            change(&format!(
                r#"{{"certificateid":"{id}","certificatename":"a"}}"#
            )),
            Ok(CertificateChange::Bind {
                id: CertificateId::parse(id).unwrap(),
                name: "a".to_owned()
            })
        );
        for unbind in [
            r#"{"certificateid":null,"certificatename":null}"#,
            r#"{"certificateid":null}"#,
            r#"{"certificateid":null,"certificatename":""}"#,
        ] {
            assert_eq!(change(unbind), Ok(CertificateChange::Unbind), "{unbind}");
        }
        for keep in [
            r#"{"certificateid":"","certificatename":""}"#,
            r#"{"certificatename":""}"#,
        ] {
            assert_eq!(change(keep), Ok(CertificateChange::Keep), "{keep}");
        }
        for half in [
            format!(r#"{{"certificateid":"{id}"}}"#),
            format!(r#"{{"certificateid":"{id}","certificatename":""}}"#),
            r#"{"certificatename":"a"}"#.to_owned(),
            r#"{"certificateid":null,"certificatename":"a"}"#.to_owned(),
        ] {
            assert_eq!(change(&half), Err(ErrorCode::RequestBodyIllegal), "{half}");
        }
        assert_eq!(
            change(r#"{"certificateid":"nope","certificatename":"a"}"#),
            Err(ErrorCode::ResourceNotFound)
        );
    }
}
