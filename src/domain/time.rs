//! Epoch-millisecond time, the unit every time field of the API uses.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (the wire format of `timestamp` and `expire_time`).
pub type Millis = i64;

/// The current time in epoch milliseconds.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
