//! The wire types of the certificate endpoints, named and shaped byte for byte as the API
//! documents them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::storage::BoundHost;

/// A host using a certificate, as listed in `bind_host`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BindHost)]
pub(super) struct BindHostBody {
    /// The host's id.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    hostname: String,
    /// Always `premium` (dedicated mode).
    #[schema(example = "premium")]
    waf_type: &'static str,
    /// Always `premium` (dedicated mode).
    #[schema(example = "premium")]
    mode: &'static str,
}

impl From<BoundHost> for BindHostBody {
    fn from(h: BoundHost) -> Self {
        Self {
            id: h.id,
            hostname: h.hostname,
            waf_type: "premium",
            mode: "premium",
        }
    }
}

/// The `bind_host` lists of several certificates, by certificate id.
pub(super) fn group_by_certificate(hosts: &[BoundHost]) -> HashMap<&str, Vec<BindHostBody>> {
    let mut map: HashMap<&str, Vec<BindHostBody>> = HashMap::new();
    for h in hosts {
        map.entry(h.certificate_id.as_str())
            .or_default()
            .push(h.clone().into());
    }
    map
}

/// One item of the list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CertificateListItem)]
pub(super) struct ListItem {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) timestamp: i64,
    pub(super) certificateid: String,
    pub(super) certificatename: String,
    /// Always `"0"`.
    #[schema(example = "0")]
    pub(super) enterprise_project_id: &'static str,
    /// Only with `host=true`: the leaf's notAfter, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expire_time: Option<i64>,
    /// Only with `host=true`: 0 valid, 1 expired, 2 expiring within 30 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 2)]
    pub(super) exp_status: Option<i32>,
    /// Only with `host=true`: the hosts using the certificate (`[]` when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bind_host: Option<Vec<BindHostBody>>,
}

/// The list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ListCertificatesResponse)]
pub(super) struct ListResponse {
    /// Number of all matches (not only this page).
    #[schema(minimum = 0)]
    pub(super) total: i64,
    pub(super) items: Vec<ListItem>,
}

/// Body of create and update; every field optional here so that a missing one gets a clear
/// message instead of a parser error.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CertificateRequest)]
pub(super) struct CertificateBody {
    /// Required. 1 to 256 of `[A-Za-z0-9._-]` on create, 1 to 64 on update (`--contract otc`:
    /// 64 on both; `huawei`: 256 on both); unique in the project (case-sensitive).
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._-]{1,256}$")]
    pub(super) name: Option<String>,
    /// PEM chain, leaf first. Required on create; on update with `key` or not at all.
    #[schema(value_type = String)]
    pub(super) content: Option<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1; RSA 2048 to 8192 bits, EC P-256 or P-384)
    /// matching the leaf. Required on create; on update with `content` or not at all.
    #[schema(value_type = String)]
    pub(super) key: Option<String>,
}

/// Response of create.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreateCertificateResponse)]
pub(super) struct CreateResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
    pub(super) bind_host: Vec<BindHostBody>,
}

/// Response of show.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ShowCertificateResponse)]
pub(in crate::api) struct ShowResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) content: String,
    /// The PEM private key: for admin callers only, never when the server withholds keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
    pub(super) expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
    pub(super) bind_host: Vec<BindHostBody>,
    pub(super) certificateid: String,
    pub(super) certificatename: String,
}

/// Response of update.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UpdateCertificateResponse)]
pub(super) struct UpdateResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
}

/// Response of delete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeleteCertificateResponse)]
pub(super) struct DeleteResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    pub(super) timestamp: i64,
}

/// Body of apply-to-hosts.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ApplyCertificateToHostRequest)]
pub(super) struct ApplyBody {
    /// Required, at least one: ids of the project's dedicated-mode hosts to bind.
    #[schema(value_type = Vec<String>, required = true, min_items = 1)]
    pub(super) premium_host_ids: Option<Vec<String>>,
    /// Must be empty or absent: this service has dedicated-mode hosts only.
    #[schema(max_items = 0)]
    pub(super) cloud_host_ids: Option<Vec<String>>,
}

/// Response of apply-to-hosts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApplyCertificateToHostResponse)]
pub(super) struct ApplyResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) timestamp: i64,
    pub(super) expire_time: i64,
    pub(super) bind_host: Vec<BindHostBody>,
}
