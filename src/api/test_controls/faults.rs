//! Injected faults: "the next N calls of operation X answer this error (or only wait)". Faults
//! are per process; the dice for `probability` are seeded by the id seed when one is set.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Control, ControlState, Shared, bad_input};
use crate::api::error::ApiResult;
use crate::domain::SeededRandom;

/// The longest latency a fault may add, so a mistaken fault cannot hang a test run.
pub(super) const MAX_LATENCY_MS: u64 = 60_000;

/// A fault as asked for (`POST /_wafcert/faults`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WafcertFaultRequest)]
pub(super) struct FaultRequest {
    /// The SDK operation name to fault.
    #[schema(value_type = super::OperationName)]
    operation: String,
    /// The error status, 400 to 599; absent: latency only.
    #[schema(minimum = 400, maximum = 599)]
    status: Option<i64>,
    /// Default `WAF.00010001`: 1 to 64 letters, digits, `.` or `_`.
    #[schema(pattern = "^[A-Za-z0-9._]{1,64}$")]
    error_code: Option<String>,
    error_msg: Option<String>,
    /// How many calls it fails; absent: every call.
    #[schema(minimum = 1)]
    count: Option<i64>,
    /// The chance a call is faulted, 0 to 1 (default 1).
    #[schema(minimum = 0, maximum = 1)]
    probability: Option<f64>,
    /// Added latency, 0 to 60000 ms.
    #[schema(minimum = 0, maximum = 60000)]
    latency_ms: Option<i64>,
}

/// A fault as stored and listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WafcertFault)]
pub(super) struct Fault {
    /// The SDK operation name it applies to.
    #[schema(value_type = super::OperationName)]
    pub operation: &'static str,
    /// The error status; `None` adds latency only.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
    /// How many requests it may fail; `None`: every matching request.
    pub count: Option<u64>,
    /// How many it may still fail.
    pub remaining: Option<u64>,
    pub probability: f64,
    pub latency_ms: u64,
}

impl FaultRequest {
    /// Checks every field; the message names the first bad one.
    pub(super) fn validate(self) -> Result<Fault, String> {
        let operation = super::super::operation::OPERATIONS
            .iter()
            .find(|o| **o == self.operation)
            .copied()
            .ok_or_else(|| {
                format!(
                    "unknown operation {:?}; use an SDK operation name such as ListCertificates",
                    self.operation
                )
            })?;
        let status = self
            .status
            .map(|s| {
                u16::try_from(s)
                    .ok()
                    .filter(|s| (400..=599).contains(s))
                    .ok_or("status must be an HTTP error status, 400 to 599")
            })
            .transpose()?;
        if status.is_none() && (self.error_code.is_some() || self.error_msg.is_some()) {
            return Err("error_code and error_msg need a status".to_owned());
        }
        if let Some(code) = &self.error_code
            && (code.is_empty()
                || code.len() > 64
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'))
        {
            return Err(
                "error_code must be 1 to 64 letters, digits, '.' or '_', such as WAF.00010001"
                    .to_owned(),
            );
        }
        let count = self
            .count
            .map(|c| {
                u64::try_from(c)
                    .ok()
                    .filter(|c| *c > 0)
                    .ok_or("count must be a positive integer")
            })
            .transpose()?;
        let probability = self.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            return Err("probability must be between 0 and 1".to_owned());
        }
        let latency_ms = u64::try_from(self.latency_ms.unwrap_or(0))
            .ok()
            .filter(|l| *l <= MAX_LATENCY_MS)
            .ok_or("latency_ms must be 0 to 60000")?;
        if status.is_none() && latency_ms == 0 {
            return Err("a fault needs a status, a latency_ms, or both".to_owned());
        }
        let (error_code, error_msg) = match status {
            Some(_) => (
                Some(self.error_code.unwrap_or_else(|| "WAF.00010001".to_owned())),
                Some(
                    self.error_msg
                        .unwrap_or_else(|| "injected fault (wafcert test controls)".to_owned()),
                ),
            ),
            None => (None, None),
        };
        Ok(Fault {
            operation,
            status,
            error_code,
            error_msg,
            count,
            remaining: count,
            probability,
            latency_ms,
        })
    }
}

/// What a faulted request gets.
#[derive(Debug)]
pub(super) struct Hit {
    pub latency_ms: u64,
    /// Status, code and message of the error answer, unless the fault only adds latency.
    pub error: Option<(StatusCode, String, String)>,
}

/// The active faults, in the order they were added.
#[derive(Debug, Default)]
pub(super) struct Faults {
    active: Shared<Vec<Fault>>,
}

impl Faults {
    /// Adds a fault.
    pub(super) fn add(&self, fault: Fault) {
        self.active.lock().push(fault);
    }

    /// The active faults.
    pub(super) fn list(&self) -> Vec<Fault> {
        self.active.lock().clone()
    }

    /// Removes every fault.
    pub(super) fn clear(&self) {
        self.active.lock().clear();
    }

    /// The fault that strikes a call of `operation` now, if any: the first active fault of
    /// that operation whose dice say yes; striking uses up one of its count.
    pub(super) fn strike(&self, operation: &str, dice: &SeededRandom) -> Option<Hit> {
        let mut active = self.active.lock();
        let index = active.iter().position(|f| {
            f.operation == operation && (f.probability >= 1.0 || dice.next_unit() < f.probability)
        })?;
        let fault = active.get_mut(index)?;
        let hit = Hit {
            latency_ms: fault.latency_ms,
            error: fault.status.and_then(|s| {
                Some((
                    StatusCode::from_u16(s).ok()?,
                    fault.error_code.clone().unwrap_or_default(),
                    fault.error_msg.clone().unwrap_or_default(),
                ))
            }),
        };
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                active.remove(index);
            }
        }
        Some(hit)
    }
}

/// The active faults answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WafcertFaults)]
pub(super) struct FaultsBody {
    items: Vec<Fault>,
}

/// `POST /_wafcert/faults`: adds a fault and answers it as stored.
#[utoipa::path(post, path = "/_wafcert/faults", operation_id = "WafcertAddFault", request_body = FaultRequest,
    responses((status = 200, description = "The fault as stored", body = Fault)))]
pub(super) async fn add(Control(s, body): Control<FaultRequest>) -> ApiResult<Json<Fault>> {
    let fault = body.validate().map_err(bad_input)?;
    s.controls.faults.add(fault.clone());
    Ok(Json(fault))
}

/// `GET /_wafcert/faults`: the active faults with their remaining counts.
#[utoipa::path(get, path = "/_wafcert/faults", operation_id = "WafcertListFaults",
    responses((status = 200, description = "The active faults", body = FaultsBody)))]
pub(super) async fn show(State(s): State<ControlState>) -> Json<FaultsBody> {
    Json(FaultsBody {
        items: s.controls.faults.list(),
    })
}

/// `DELETE /_wafcert/faults`: removes every fault.
#[utoipa::path(delete, path = "/_wafcert/faults", operation_id = "WafcertClearFaults",
    responses((status = 200, description = "No faults any more", body = FaultsBody)))]
pub(super) async fn clear(State(s): State<ControlState>) -> Json<FaultsBody> {
    s.controls.faults.clear();
    Json(FaultsBody { items: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<Fault, String> {
        serde_json::from_value::<FaultRequest>(json)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn a_counted_fault_strikes_exactly_count_times() {
        let faults = Faults::default();
        let dice = SeededRandom::default();
        faults.add(
            request(
                serde_json::json!({"operation": "ListCertificates", "status": 500, "count": 2}),
            )
            .unwrap(),
        );
        assert!(faults.strike("ShowCertificate", &dice).is_none());
        for _ in 0..2 {
            let hit = faults.strike("ListCertificates", &dice).unwrap();
            let (status, code, _) = hit.error.unwrap();
            assert_eq!((status.as_u16(), code.as_str()), (500, "WAF.00010001"));
        }
        assert!(faults.strike("ListCertificates", &dice).is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn seeded_dice_repeat() {
        let run = || {
            let faults = Faults::default();
            let dice = SeededRandom::default();
            dice.reseed(Some(7));
            faults.add(request(serde_json::json!({"operation": "ListCertificates", "status": 503, "probability": 0.5})).unwrap());
            (0..32)
                .map(|_| faults.strike("ListCertificates", &dice).is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.contains(&true) && first.contains(&false));
    }

    #[test]
    fn bad_faults_are_refused() {
        for bad in [
            serde_json::json!({"operation": "ListCertificate", "status": 500}),
            serde_json::json!({"operation": "ListCertificates", "status": 500, "count": -1}),
            serde_json::json!({"operation": "ListCertificates", "status": 500, "count": 0}),
            serde_json::json!({"operation": "ListCertificates", "status": 200}),
            serde_json::json!({"operation": "ListCertificates", "status": 500, "probability": 1.5}),
            serde_json::json!({"operation": "ListCertificates", "latency_ms": 60001}),
            serde_json::json!({"operation": "ListCertificates"}),
            serde_json::json!({"operation": "ListCertificates", "error_code": "WAF.1"}),
            serde_json::json!({"operation": "ListCertificates", "status": 500, "error_code": "bad code"}),
            serde_json::json!({"operation": "ListCertificates", "status": 500, "extra": 1}),
        ] {
            assert!(request(bad.clone()).is_err(), "{bad}");
        }
        let latency =
            request(serde_json::json!({"operation": "ShowCertificate", "latency_ms": 5})).unwrap();
        assert_eq!(
            (latency.status, latency.latency_ms, latency.count),
            (None, 5, None)
        );
    }
}
