//! The wire types of the certificate endpoints, named and shaped byte for byte as the API
//! documents them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{CertificateId, CertificateName, Millis};
use crate::storage::{BoundHost, CertificateRecord, CertificateSummary};

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
            id: h.id.to_string(),
            hostname: h.hostname,
            waf_type: "premium",
            mode: "premium",
        }
    }
}

/// The `bind_host` lists of several certificates, by certificate id.
pub(super) fn group_by_certificate(
    hosts: &[BoundHost],
) -> HashMap<&CertificateId, Vec<BindHostBody>> {
    let mut map: HashMap<&CertificateId, Vec<BindHostBody>> = HashMap::new();
    for h in hosts {
        map.entry(&h.certificate_id)
            .or_default()
            .push(h.clone().into());
    }
    map
}

/// One item of the list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CertificateListItem)]
pub(super) struct ListItem {
    id: String,
    name: String,
    timestamp: i64,
    certificateid: String,
    certificatename: String,
    /// Always `"0"`.
    #[schema(example = "0")]
    enterprise_project_id: &'static str,
    /// Only with `host=true`: the leaf's notAfter, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_time: Option<i64>,
    /// Only with `host=true`: 0 valid, 1 expired, 2 expiring within 30 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 2)]
    exp_status: Option<i32>,
    /// Only with `host=true`: the hosts using the certificate (`[]` when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    bind_host: Option<Vec<BindHostBody>>,
}

/// The list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ListCertificatesResponse)]
pub(super) struct ListResponse {
    /// Number of all matches (not only this page).
    #[schema(minimum = 0)]
    total: i64,
    items: Vec<ListItem>,
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
    id: String,
    name: String,
    expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    exp_status: i32,
    timestamp: i64,
    bind_host: Vec<BindHostBody>,
}

/// Response of show.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ShowCertificateResponse)]
pub(in crate::api) struct ShowResponse {
    id: String,
    name: String,
    content: String,
    /// The PEM private key: for admin callers only, never when the server withholds keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    exp_status: i32,
    timestamp: i64,
    bind_host: Vec<BindHostBody>,
    certificateid: String,
    certificatename: String,
}

/// Response of update.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UpdateCertificateResponse)]
pub(super) struct UpdateResponse {
    id: String,
    name: String,
    expire_time: i64,
    /// 0 valid, 1 expired, 2 expiring within 30 days (at the time of the request).
    #[schema(minimum = 0, maximum = 2)]
    exp_status: i32,
    timestamp: i64,
}

/// Response of delete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeleteCertificateResponse)]
pub(super) struct DeleteResponse {
    id: String,
    name: String,
    expire_time: i64,
    timestamp: i64,
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
    id: String,
    name: String,
    timestamp: i64,
    expire_time: i64,
    bind_host: Vec<BindHostBody>,
}

impl ListItem {
    /// An item; `extra` (the expiry status and bound hosts) when the query asked for hosts.
    pub(super) fn new(c: &CertificateSummary, extra: Option<(i32, Vec<BindHostBody>)>) -> Self {
        let (exp_status, bind_host) = extra.unzip();
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            certificateid: c.id.to_string(),
            certificatename: c.name.clone(),
            timestamp: c.created_at,
            enterprise_project_id: "0",
            expire_time: exp_status.is_some().then_some(c.expire_time),
            exp_status,
            bind_host,
        }
    }
}

impl ListResponse {
    /// The page's items and the number of all matches.
    pub(super) fn new(total: i64, items: Vec<ListItem>) -> Self {
        Self { total, items }
    }
}

impl CreateResponse {
    /// The certificate just stored (no host uses it yet).
    pub(super) fn new(
        id: &CertificateId,
        name: &CertificateName,
        expire_time: Millis,
        exp_status: i32,
        timestamp: Millis,
    ) -> Self {
        Self {
            id: id.to_string(),
            name: name.as_str().to_owned(),
            expire_time,
            exp_status,
            timestamp,
            bind_host: Vec::new(),
        }
    }
}

impl ShowResponse {
    /// A stored certificate, its key when revealed, and the hosts using it.
    pub(super) fn new(
        record: &CertificateRecord,
        key: Option<String>,
        exp_status: i32,
        bound: &[BoundHost],
    ) -> Self {
        Self {
            exp_status,
            certificateid: record.id.to_string(),
            certificatename: record.name.clone(),
            id: record.id.to_string(),
            name: record.name.clone(),
            content: record.content.clone(),
            key,
            expire_time: record.expire_time,
            timestamp: record.created_at,
            bind_host: bound.iter().cloned().map(Into::into).collect(),
        }
    }
}

impl UpdateResponse {
    /// The certificate as updated.
    pub(super) fn new(record: CertificateRecord, exp_status: i32) -> Self {
        Self {
            exp_status,
            id: record.id.to_string(),
            name: record.name,
            expire_time: record.expire_time,
            timestamp: record.created_at,
        }
    }
}

impl From<CertificateRecord> for DeleteResponse {
    fn from(record: CertificateRecord) -> Self {
        Self {
            id: record.id.to_string(),
            name: record.name,
            expire_time: record.expire_time,
            timestamp: record.created_at,
        }
    }
}

impl ApplyResponse {
    /// The certificate and every host now using it.
    pub(super) fn new(record: CertificateRecord, bound: Vec<BoundHost>) -> Self {
        Self {
            id: record.id.to_string(),
            name: record.name,
            timestamp: record.created_at,
            expire_time: record.expire_time,
            bind_host: bound.into_iter().map(Into::into).collect(),
        }
    }
}
