//! The wire types of the policy endpoints, named as the cloud's `waf/policy` API and the
//! SDKs' policy models name them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::domain::{PolicyName, PolicyPatch, Rules};
use crate::storage::PolicyRecord;

/// Body of create and update; every field optional so a missing one gets a clear message.
#[derive(Debug, Deserialize)]
pub(super) struct PolicyRequest {
    name: Option<String>,
    level: Option<i64>,
    full_detection: Option<bool>,
    robot_action: Option<Value>,
    action: Option<Value>,
    options: Option<Value>,
    modulex_options: Option<Value>,
}

/// A checked request.
#[derive(Debug)]
pub(super) struct ParsedPolicy {
    /// `name`, if carried.
    pub(super) name: Option<PolicyName>,
    /// The other carried fields.
    pub(super) patch: PolicyPatch,
}

impl PolicyRequest {
    /// Checks every carried field: a bad name is `WAF.00011005`, anything else
    /// `WAF.00011003`.
    pub(super) fn parse(self) -> ApiResult<ParsedPolicy> {
        let name = self.name.as_deref().map(PolicyName::parse).transpose()?;
        let patch = PolicyPatch {
            level: self.level,
            full_detection: self.full_detection,
            robot_action: object("robot_action", self.robot_action)?,
            action: object("action", self.action)?,
            options: object("options", self.options)?,
            modulex_options: object("modulex_options", self.modulex_options)?,
        };
        patch.check()?;
        Ok(ParsedPolicy { name, patch })
    }
}

/// A field that must be a JSON object when given.
fn object(field: &str, value: Option<Value>) -> ApiResult<Option<Rules>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            format!("{field} must be a JSON object"),
        )),
    }
}

/// A policy as every endpoint returns it (the SDKs' policy response).
#[derive(Debug, Serialize)]
pub(super) struct PolicyResponse {
    id: String,
    name: String,
    level: i64,
    full_detection: bool,
    robot_action: Rules,
    action: Rules,
    options: Rules,
    modulex_options: Rules,
    hosts: Vec<String>,
    bind_host: Vec<BindHost>,
    timestamp: i64,
}

/// A host using the policy.
#[derive(Debug, Serialize)]
struct BindHost {
    id: String,
    hostname: String,
    waf_type: &'static str,
    mode: &'static str,
}

impl From<PolicyRecord> for PolicyResponse {
    fn from(p: PolicyRecord) -> Self {
        let settings = p.settings;
        Self {
            hosts: p.hosts.iter().map(|h| h.id.to_string()).collect(),
            bind_host: p
                .hosts
                .into_iter()
                .map(|h| BindHost {
                    id: h.id.to_string(),
                    hostname: h.hostname,
                    waf_type: "premium",
                    mode: "premium",
                })
                .collect(),
            id: p.id.to_string(),
            name: p.name,
            level: settings.level,
            full_detection: settings.full_detection,
            robot_action: settings.robot_action,
            action: settings.action,
            options: settings.options,
            modulex_options: settings.modulex_options,
            timestamp: p.created_at,
        }
    }
}

/// The list response.
#[derive(Debug, Serialize)]
pub(super) struct ListResponse {
    /// Number of all matches.
    pub(super) total: i64,
    /// This page.
    pub(super) items: Vec<PolicyResponse>,
}
