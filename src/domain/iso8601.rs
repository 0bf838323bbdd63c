//! The two ISO 8601 forms test controls accept: instants in RFC 3339 (`2026-03-01T12:00:00Z`,
//! `2026-03-01T14:00:00.250+02:00`) and durations of fixed length (`P2W`, `P31D`, `PT6H`,
//! `P1DT2H30M15.5S`). Years and months have no fixed length, so a duration naming them is
//! refused rather than guessed.

use super::error::DomainError;
use super::time::{Millis, UtcDateTime};

/// Milliseconds per unit of a duration designator.
const WEEK_MS: i64 = 7 * DAY_MS;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
const SECOND_MS: i64 = 1000;

/// RFC 3339 in UTC with milliseconds and a `Z` suffix: `2026-01-01T12:00:00.042Z`.
pub fn format_rfc3339(ms: Millis) -> String {
    let t = UtcDateTime::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
    )
}

/// Parses an RFC 3339 date-time (`T` or space between date and time, fraction of any length
/// truncated to milliseconds, `Z` or a numeric offset) into epoch milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<Millis, DomainError> {
    rfc3339(text.trim()).ok_or_else(|| {
        DomainError::InvalidTime(
            "time must be RFC 3339, for example 2026-03-01T12:00:00Z".to_owned(),
        )
    })
}

fn rfc3339(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 20
        || !s.is_ascii()
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut milli = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..len.min(3)]);
        milli = digits(&padded)?;
        rest = &frac[len..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' {
                return None;
            }
            let sign = match ob[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * HOUR_MS + om * MINUTE_MS)
        }
    };
    let local = UtcDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        milli,
    }
    .to_millis();
    Some(local - offset_ms)
}

/// A run of ASCII digits (no sign) as a number.
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 15 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an ISO 8601 duration of fixed length, `PnW` or `PnDTnHnMnS` (seconds may have a
/// fraction; a leading `-` moves backwards), into milliseconds.
pub fn parse_duration(text: &str) -> Result<Millis, DomainError> {
    let text = text.trim();
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let body = body
        .strip_prefix('P')
        .ok_or_else(|| bad_duration("a duration starts with P, for example P31D or PT6H"))?;
    duration_body(body).map(|ms| sign * ms)
}

fn bad_duration(msg: &str) -> DomainError {
    DomainError::InvalidDuration(msg.to_owned())
}

fn duration_body(body: &str) -> Result<Millis, DomainError> {
    if let Some(weeks) = body.strip_suffix('W')
        && !weeks.contains(|c: char| !c.is_ascii_digit())
    {
        return whole(weeks)?
            .checked_mul(WEEK_MS)
            .ok_or_else(|| bad_duration("the duration is too long"));
    }
    let (date, time) = match body.split_once('T') {
        Some((_, "")) => {
            return Err(bad_duration(
                "a T in a duration must be followed by hours, minutes or seconds",
            ));
        }
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut parts = Vec::new();
    for (number, unit) in components(date)? {
        let ms = match unit {
            'Y' | 'M' => {
                return Err(bad_duration(
                    "years and months have no fixed length; give weeks (PnW) or days (PnD)",
                ));
            }
            'W' => {
                return Err(bad_duration(
                    "weeks (PnW) cannot be combined with other units",
                ));
            }
            'D' => (whole(number)?, DAY_MS),
            _ => {
                return Err(bad_duration(
                    "the date part of a duration has only days (D)",
                ));
            }
        };
        parts.push((0, ms));
    }
    for (number, unit) in components(time.unwrap_or_default())? {
        let (rank, ms) = match unit {
            'H' => (1, (whole(number)?, HOUR_MS)),
            'M' => (2, (whole(number)?, MINUTE_MS)),
            'S' => (3, (seconds_ms(number)?, 1)),
            _ => {
                return Err(bad_duration(
                    "the time part of a duration has only hours (H), minutes (M) and seconds (S)",
                ));
            }
        };
        parts.push((rank, ms));
    }
    if parts.is_empty() {
        return Err(bad_duration(
            "the duration names no length, for example P31D or PT6H",
        ));
    }
    if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(bad_duration(
            "the units of a duration come once each, in the order D, T, H, M, S",
        ));
    }
    parts.iter().try_fold(0i64, |total, (_, (n, unit))| {
        n.checked_mul(*unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad_duration("the duration is too long"))
    })
}

/// Splits `12D` or `1H30M1.5S` into (number text, unit letter) pairs, in order.
fn components(part: &str) -> Result<Vec<(&str, char)>, DomainError> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in part.char_indices() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            continue;
        }
        let number = &part[start..i];
        if number.is_empty() {
            return Err(bad_duration(
                "each unit of a duration needs a number before it",
            ));
        }
        out.push((number, c));
        start = i + c.len_utf8();
    }
    if start != part.len() {
        return Err(bad_duration(
            "a number in a duration must be followed by its unit",
        ));
    }
    Ok(out)
}

fn whole(number: &str) -> Result<i64, DomainError> {
    digits(number).ok_or_else(|| {
        bad_duration("each number must be a whole number of at most 15 digits (only seconds may have a fraction)")
    })
}

/// Seconds with an optional fraction (`.` or `,`), in milliseconds (finer digits dropped).
fn seconds_ms(number: &str) -> Result<i64, DomainError> {
    let bad = || bad_duration("seconds must be a number such as 15 or 1.5");
    let (int, frac) = number.split_once(['.', ',']).unwrap_or((number, "0"));
    let int = digits(int).ok_or_else(bad)?;
    let frac = digits(frac).and_then(|_| digits(&format!("{:0<3}", &frac[..frac.len().min(3)])));
    let milli = frac.ok_or_else(bad)?;
    int.checked_mul(SECOND_MS)
        .and_then(|v| v.checked_add(milli))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn instants_in_utc_and_with_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2026-01-01T12:00:00.042Z"),
            Ok(1_767_268_800_042)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T14:00:00.0429+02:00"),
            Ok(1_767_268_800_042)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01 11:30:00-00:30"),
            Ok(1_767_268_800_000)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00z"), Ok(951_782_400_000));
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T12:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T12:00:00.Z",
            "2026-01-01T12:00:00+2:00",
            "2026-01-01T12:00:00+02:60",
            "2026-01-01X12:00:00Z",
            "+026-01-01T12:00:00Z",
            "2026-01-01T12:00:00Zjunk",
            "tomorrow",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_of_fixed_length() {
        assert_eq!(parse_duration("P31D"), Ok(31 * DAY_MS));
        assert_eq!(parse_duration("PT6H"), Ok(6 * HOUR_MS));
        assert_eq!(parse_duration("P2W"), Ok(14 * DAY_MS));
        assert_eq!(
            parse_duration("P1DT2H30M15.5S"),
            Ok(DAY_MS + 2 * HOUR_MS + 30 * MINUTE_MS + 15_500)
        );
        assert_eq!(parse_duration("PT0,25S"), Ok(250));
        assert_eq!(parse_duration("-P1D"), Ok(-DAY_MS));
        for bad in [
            "",
            "P",
            "PT",
            "31D",
            "P1Y",
            "P1M",
            "P1W2D",
            "P1DT",
            "PT1D",
            "PT1H1H",
            "PT1M1H",
            "P1.5D",
            "PT1.5H",
            "PT1.S",
            "PDT1H",
            "P1",
            "PT1X",
            "P-1D",
            "P99999999999999999D",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn formatted_instants_parse_back(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Ok(ms));
        }

        #[test]
        fn offsets_name_the_same_instant(ms in 0i64..4_102_444_800_000, minutes in -1439i64..1440) {
            let local = UtcDateTime::from_millis(ms + minutes * MINUTE_MS);
            let sign = if minutes < 0 { '-' } else { '+' };
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
                local.year, local.month, local.day, local.hour, local.minute, local.second,
                local.milli, minutes.abs() / 60, minutes.abs() % 60
            );
            prop_assert_eq!(parse_rfc3339(&text), Ok(ms));
        }

        #[test]
        fn duration_components_add_up(
            d in proptest::option::of(0i64..100_000),
            h in proptest::option::of(0i64..1000),
            m in proptest::option::of(0i64..1000),
            s in proptest::option::of((0i64..100_000, proptest::option::of(0i64..1000))),
        ) {
            let mut text = String::from("P");
            let mut want = 0;
            if let Some(d) = d { text += &format!("{d}D"); want += d * DAY_MS; }
            if h.is_some() || m.is_some() || s.is_some() { text.push('T'); }
            if let Some(h) = h { text += &format!("{h}H"); want += h * HOUR_MS; }
            if let Some(m) = m { text += &format!("{m}M"); want += m * MINUTE_MS; }
            if let Some((s, frac)) = s {
                want += s * SECOND_MS;
                match frac {
                    Some(f) => { text += &format!("{s}.{f:03}S"); want += f; }
                    None => text += &format!("{s}S"),
                }
            }
            if text == "P" {
                prop_assert!(parse_duration(&text).is_err());
            } else {
                prop_assert_eq!(parse_duration(&text), Ok(want));
            }
        }

        /// A leading `-` moves back by exactly as much, and weeks are seven days.
        #[test]
        fn negation_and_weeks(d in 0i64..10_000, w in 0i64..1_000) {
            let days = format!("P{d}D");
            prop_assert_eq!(parse_duration(&format!("-{days}")), parse_duration(&days).map(|ms| -ms));
            prop_assert_eq!(parse_duration(&format!("P{w}W")), Ok(w * WEEK_MS));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
            let _ = parse_rfc3339(&text);
        }
    }
}
