//! `GET`/`POST /_wafcert/clock`: read and move the certificate clock. The setting is read from
//! and written to the database, so every replica sharing it follows.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Control, ControlState, bad_input};
use crate::api::error::ApiResult;
use crate::domain::{
    ClockMove, ClockSetting, Millis, format_rfc3339, now_ms, parse_duration, parse_rfc3339,
};

/// The clock as answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WafcertClock)]
pub(super) struct ClockBody {
    /// Certificate time, epoch ms.
    now: Millis,
    /// The same in RFC 3339, UTC.
    now_iso: String,
    /// Certificate time minus real time.
    offset_ms: i64,
    frozen: bool,
}

impl ClockBody {
    fn of(setting: ClockSetting) -> Self {
        let real = now_ms();
        let now = setting.now_at(real);
        Self {
            now,
            now_iso: format_rfc3339(now),
            offset_ms: now.saturating_sub(real),
            frozen: setting.frozen_at.is_some(),
        }
    }
}

/// A move request: any of the fields, applied in the order reset, set, advance, freeze.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WafcertClockRequest)]
pub(super) struct ClockRequest {
    /// Move certificate time to this instant (RFC 3339).
    #[schema(example = "2030-01-01T00:00:00Z")]
    set: Option<String>,
    /// Move certificate time on by this ISO 8601 duration.
    #[schema(example = "P30D")]
    advance: Option<String>,
    /// Stop (`true`) or restart (`false`) certificate time.
    freeze: Option<bool>,
    /// `true`: back to real time.
    reset: Option<bool>,
}

impl ClockRequest {
    /// The moves asked for, all parsed before anything changes.
    fn moves(&self) -> Result<Vec<ClockMove>, crate::domain::DomainError> {
        let mut moves = Vec::new();
        if self.reset == Some(true) {
            moves.push(ClockMove::Reset);
        }
        if let Some(set) = &self.set {
            moves.push(ClockMove::Set(parse_rfc3339(set)?));
        }
        if let Some(advance) = &self.advance {
            moves.push(ClockMove::Advance(parse_duration(advance)?));
        }
        if let Some(freeze) = self.freeze {
            moves.push(ClockMove::Freeze(freeze));
        }
        Ok(moves)
    }
}

/// `GET /_wafcert/clock`.
#[utoipa::path(get, path = "/_wafcert/clock", operation_id = "WafcertShowClock",
    responses((status = 200, description = "The certificate clock", body = ClockBody)))]
pub(super) async fn show(State(s): State<ControlState>) -> ApiResult<Json<ClockBody>> {
    let setting = s.app.store.clock_setting().await?;
    s.app.clock.apply(setting);
    Ok(Json(ClockBody::of(setting)))
}

/// `POST /_wafcert/clock`.
#[utoipa::path(post, path = "/_wafcert/clock", operation_id = "WafcertMoveClock", request_body = ClockRequest,
    responses((status = 200, description = "The certificate clock after the moves", body = ClockBody)))]
pub(super) async fn change(Control(s, body): Control<ClockRequest>) -> ApiResult<Json<ClockBody>> {
    if body.set.is_none() && body.advance.is_none() && body.freeze.is_none() && body.reset.is_none()
    {
        return Err(bad_input(
            "give one or more of set (RFC 3339), advance (ISO 8601 duration), freeze, reset",
        ));
    }
    let moves = body.moves()?;
    let real = now_ms();
    let setting = moves
        .into_iter()
        .fold(s.app.store.clock_setting().await?, |setting, step| {
            setting.moved(step, real)
        });
    s.app.store.store_clock_setting(setting).await?;
    s.app.clock.apply(setting);
    Ok(Json(ClockBody::of(setting)))
}
