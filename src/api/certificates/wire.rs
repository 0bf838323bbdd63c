//! The wire types of the certificate endpoints, named and shaped byte for byte as the API
//! documents them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::{CertificateId, CertificateName, Millis};
use crate::storage::{BoundHost, CertificateRecord, CertificateSummary};

/// A host using a certificate, as listed in `bind_host`.
#[derive(Debug, Serialize)]
pub(super) struct BindHostBody {
    id: String,
    hostname: String,
    waf_type: &'static str,
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
#[derive(Debug, Serialize)]
pub(super) struct ListItem {
    id: String,
    name: String,
    timestamp: i64,
    certificateid: String,
    certificatename: String,
    enterprise_project_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind_host: Option<Vec<BindHostBody>>,
}

/// The list response.
#[derive(Debug, Serialize)]
pub(super) struct ListResponse {
    total: i64,
    items: Vec<ListItem>,
}

/// Body of create and update; every field optional here so that a missing one gets a clear
/// message instead of a parser error.
#[derive(Debug, Deserialize)]
pub(super) struct CertificateBody {
    pub(super) name: Option<String>,
    pub(super) content: Option<String>,
    pub(super) key: Option<String>,
}

/// Response of create.
#[derive(Debug, Serialize)]
pub(super) struct CreateResponse {
    id: String,
    name: String,
    expire_time: i64,
    exp_status: i32,
    timestamp: i64,
    bind_host: Vec<BindHostBody>,
}

/// Response of show.
#[derive(Debug, Serialize)]
pub(in crate::api) struct ShowResponse {
    id: String,
    name: String,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    expire_time: i64,
    exp_status: i32,
    timestamp: i64,
    bind_host: Vec<BindHostBody>,
    certificateid: String,
    certificatename: String,
}

/// Response of update.
#[derive(Debug, Serialize)]
pub(super) struct UpdateResponse {
    id: String,
    name: String,
    expire_time: i64,
    exp_status: i32,
    timestamp: i64,
}

/// Response of delete.
#[derive(Debug, Serialize)]
pub(super) struct DeleteResponse {
    id: String,
    name: String,
    expire_time: i64,
    timestamp: i64,
}

/// Body of apply-to-hosts.
#[derive(Debug, Deserialize)]
pub(super) struct ApplyBody {
    pub(super) premium_host_ids: Option<Vec<String>>,
    pub(super) cloud_host_ids: Option<Vec<String>>,
}

/// Response of apply-to-hosts.
#[derive(Debug, Serialize)]
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
