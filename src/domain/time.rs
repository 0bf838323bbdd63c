//! Epoch-millisecond time, the unit every time field of the API uses, and the calendar
//! conversions the wire formats need (no time crate: the proleptic Gregorian arithmetic is a
//! dozen lines, Howard Hinnant's `civil_from_days` and `days_from_civil`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (the wire format of `timestamp` and `expire_time`).
pub type Millis = i64;

/// The current time in epoch milliseconds.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A UTC calendar date and time of day, to millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1 to 12.
    pub month: i64,
    /// Day of the month, 1 to 31.
    pub day: i64,
    /// Hour, 0 to 23.
    pub hour: i64,
    /// Minute, 0 to 59.
    pub minute: i64,
    /// Second, 0 to 59.
    pub second: i64,
    /// Millisecond, 0 to 999.
    pub milli: i64,
}

impl UtcDateTime {
    /// The calendar time of an epoch-millisecond instant.
    pub fn from_millis(ms: Millis) -> Self {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            milli: ms.rem_euclid(1000),
        }
    }

    /// The epoch-millisecond instant of a calendar time (fields are not range-checked).
    pub fn to_millis(self) -> Millis {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (self.month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + self.day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (((days * 24 + self.hour) * 60 + self.minute) * 60 + self.second) * 1000 + self.milli
    }
}

/// Milliseconds of a day.
pub const DAY_MS: Millis = 86_400_000;

/// `YYYY-MM-DD` (UTC): how the console and the command line show a date to people.
pub fn format_date(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// Days from `now` until `at`, a started day counting as one (0 or less once past).
pub fn days_until(at: Millis, now: Millis) -> i64 {
    at.saturating_sub(now)
        .saturating_add(DAY_MS - 1)
        .div_euclid(DAY_MS)
}

/// ISO 8601 in UTC with microseconds, as Keystone writes times: `2026-01-01T12:00:00.000000Z`.
pub fn format_iso8601(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}000Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for ms in [
            0,
            951_782_400_123,
            1_767_268_800_000,
            4_102_444_799_999,
            -86_400_001,
        ] {
            assert_eq!(UtcDateTime::from_millis(ms).to_millis(), ms);
        }
        let leap = UtcDateTime::from_millis(951_782_400_000);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
    }

    #[test]
    fn iso8601_is_keystone_style() {
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_iso8601(1_767_268_800_042),
            "2026-01-01T12:00:00.042000Z"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Calendar fields convert back to the same instant, and a Keystone time parses back
        /// (through the RFC 3339 parser) to the millisecond it was printed from.
        #[test]
        fn keystone_times_parse_back(ms in 0i64..253_402_300_799_999) {
            proptest::prop_assert_eq!(UtcDateTime::from_millis(ms).to_millis(), ms);
            proptest::prop_assert_eq!(crate::domain::parse_rfc3339(&format_iso8601(ms)), Ok(ms));
        }
    }
}
