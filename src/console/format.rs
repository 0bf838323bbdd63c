//! How the console writes times and states for people: UTC dates, days left, and the status
//! words `Valid`, `Expiring`, `Expired` (readable without colour).

use crate::domain::{ExpiryStatus, Millis, UtcDateTime};

/// Milliseconds of a day.
pub(super) const DAY_MS: Millis = 86_400_000;

/// `YYYY-MM-DD` (UTC).
pub(super) fn date(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(super) fn date_time(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// Days from `now` until `expire`, a started day counting as one (0 or less once expired).
pub(super) fn days_left(expire: Millis, now: Millis) -> i64 {
    (expire - now).saturating_add(DAY_MS - 1).div_euclid(DAY_MS)
}

/// The status word of a certificate expiring at `expire`.
pub(super) fn status_word(expire: Millis, now: Millis) -> &'static str {
    match ExpiryStatus::at(expire, now) {
        ExpiryStatus::Valid => "Valid",
        ExpiryStatus::ExpiringSoon => "Expiring",
        ExpiryStatus::Expired => "Expired",
    }
}

/// The CSS class of a status word.
pub(super) fn status_class(expire: Millis, now: Millis) -> &'static str {
    match ExpiryStatus::at(expire, now) {
        ExpiryStatus::Valid => "status valid",
        ExpiryStatus::ExpiringSoon => "status expiring",
        ExpiryStatus::Expired => "status expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(DAY_MS + 61_000), "1970-01-02 00:01 UTC");
        assert_eq!(days_left(10 * DAY_MS + 5, 0), 11);
        assert_eq!(days_left(10 * DAY_MS, 0), 10);
        assert_eq!(days_left(0, 1), 0);
        assert_eq!(days_left(0, DAY_MS + 1), -1);
        assert_eq!(status_word(100 * DAY_MS, 0), "Valid");
        assert_eq!(status_word(3 * DAY_MS, 0), "Expiring");
        assert_eq!(status_word(0, 0), "Expired");
    }
}
