//! How the console writes times and states for people: UTC dates, days left, and the status
//! words `Valid`, `Expiring`, `Expired` (readable without colour; the class only adds it).

pub(super) use crate::domain::{DAY_MS, days_until as days_left, format_date as date};
use crate::domain::{ExpiryStatus, Millis, UtcDateTime};

/// `YYYY-MM-DD HH:MM UTC`.
pub(super) fn date_time(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// The status word of a certificate expiring at `expire`.
pub(super) fn status_word(expire: Millis, now: Millis) -> &'static str {
    ExpiryStatus::at(expire, now).word()
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
