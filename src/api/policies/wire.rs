//! The wire types of the policy endpoints, named as the cloud's `waf/policy` API and the
//! SDKs' policy models name them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::paging::list_from_page;
use crate::domain::{PolicyName, PolicyPatch, Rules};
use crate::storage::PolicyRecord;

/// Body of create and update; every field optional so a missing one gets a clear message.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PolicyRequest)]
pub(super) struct PolicyRequest {
    /// Required on create: 1 to 64 of `[A-Za-z0-9._-]`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: Option<String>,
    /// Protection level: 1 loose, 2 medium, 3 strict.
    #[schema(minimum = 1, maximum = 3)]
    level: Option<i64>,
    /// Full detection (`true`) or fast detection (`false`).
    full_detection: Option<bool>,
    /// Keys of the bot action to set, e.g. `{"category": "log"}`.
    #[schema(value_type = Option<Object>)]
    robot_action: Option<Value>,
    /// Keys of the attack action to set, e.g. `{"category": "block"}`.
    #[schema(value_type = Option<Object>)]
    action: Option<Value>,
    /// Module switches to set, e.g. `{"webattack": true}`.
    #[schema(value_type = Option<Object>)]
    options: Option<Value>,
    /// Machine-learning module options to set.
    #[schema(value_type = Option<Object>)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Policy)]
pub(super) struct PolicyResponse {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    name: String,
    #[schema(minimum = 1, maximum = 3)]
    level: i64,
    full_detection: bool,
    #[schema(value_type = Object)]
    robot_action: Rules,
    #[schema(value_type = Object)]
    action: Rules,
    #[schema(value_type = Object)]
    options: Rules,
    #[schema(value_type = Object)]
    modulex_options: Rules,
    hosts: Vec<String>,
    bind_host: Vec<BindHost>,
    timestamp: i64,
}

/// A host using the policy.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PolicyBindHost)]
struct BindHost {
    id: String,
    hostname: String,
    waf_type: &'static str,
    mode: &'static str,
}

list_from_page!(ListResponse, PolicyRecord);

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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ListPolicyResponse)]
pub(super) struct ListResponse {
    /// Number of all matches.
    pub(super) total: i64,
    /// This page.
    pub(super) items: Vec<PolicyResponse>,
}
