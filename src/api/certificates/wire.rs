//! The wire types of the certificate endpoints, named and shaped byte for byte as the API
//! documents them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::storage::BoundHost;

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
#[derive(Debug, Serialize)]
pub(super) struct ListItem {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) timestamp: i64,
    pub(super) certificateid: String,
    pub(super) certificatename: String,
    pub(super) enterprise_project_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expire_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) exp_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bind_host: Option<Vec<BindHostBody>>,
}

/// The list response.
#[derive(Debug, Serialize)]
pub(super) struct ListResponse {
    pub(super) total: i64,
    pub(super) items: Vec<ListItem>,
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
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
    pub(super) bind_host: Vec<BindHostBody>,
}

/// Response of show.
#[derive(Debug, Serialize)]
pub(in crate::api) struct ShowResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
    pub(super) expire_time: i64,
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
    pub(super) bind_host: Vec<BindHostBody>,
    pub(super) certificateid: String,
    pub(super) certificatename: String,
}

/// Response of update.
#[derive(Debug, Serialize)]
pub(super) struct UpdateResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    pub(super) exp_status: i32,
    pub(super) timestamp: i64,
}

/// Response of delete.
#[derive(Debug, Serialize)]
pub(super) struct DeleteResponse {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) expire_time: i64,
    pub(super) timestamp: i64,
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
    pub(super) id: String,
    pub(super) name: String,
    pub(super) timestamp: i64,
    pub(super) expire_time: i64,
    pub(super) bind_host: Vec<BindHostBody>,
}
