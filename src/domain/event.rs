//! The vocabulary of the event log: the event types, and the expiry thresholds with the rule
//! deciding which `expiring`/`expired` events a certificate is due at a given time.
//!
//! Pure: the storage layer records what these functions decide, the scheduler calls them.

use super::time::Millis;

/// One day in milliseconds.
const DAY_MS: Millis = 86_400_000;

/// What happened, as named on the wire (`type`) and in the `type` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A certificate was uploaded.
    CertificateCreated,
    /// A certificate got a new name.
    CertificateRenamed,
    /// A certificate was deleted.
    CertificateDeleted,
    /// A certificate's chain and key were replaced.
    CertificateRotated,
    /// A host started using a certificate.
    CertificateBound,
    /// A host stopped using a certificate.
    CertificateUnbound,
    /// A certificate crossed an expiry threshold.
    CertificateExpiring,
    /// A certificate expired.
    CertificateExpired,
    /// A host was created.
    HostCreated,
    /// A host's settings or certificate changed.
    HostUpdated,
    /// A host was deleted.
    HostDeleted,
}

impl EventType {
    /// Every type, for parsing and documentation.
    pub const ALL: [Self; 11] = [
        Self::CertificateCreated,
        Self::CertificateRenamed,
        Self::CertificateDeleted,
        Self::CertificateRotated,
        Self::CertificateBound,
        Self::CertificateUnbound,
        Self::CertificateExpiring,
        Self::CertificateExpired,
        Self::HostCreated,
        Self::HostUpdated,
        Self::HostDeleted,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CertificateCreated => "wafcert.certificate.created",
            Self::CertificateRenamed => "wafcert.certificate.renamed",
            Self::CertificateDeleted => "wafcert.certificate.deleted",
            Self::CertificateRotated => "wafcert.certificate.rotated",
            Self::CertificateBound => "wafcert.certificate.bound",
            Self::CertificateUnbound => "wafcert.certificate.unbound",
            Self::CertificateExpiring => "wafcert.certificate.expiring",
            Self::CertificateExpired => "wafcert.certificate.expired",
            Self::HostCreated => "wafcert.host.created",
            Self::HostUpdated => "wafcert.host.updated",
            Self::HostDeleted => "wafcert.host.deleted",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The expiry thresholds in days (`--notify-days`), largest first, each at least 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds(Vec<i64>);

impl Default for Thresholds {
    fn default() -> Self {
        Self(vec![30, 14, 7, 1])
    }
}

/// The expiry stage meaning "the `expired` event was emitted".
pub const EXPIRED_STAGE: i64 = 0;

impl Thresholds {
    /// Parses `30,14,7,1` (any order; duplicates merged); each a whole number of days from 1 to
    /// 3650, at least one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut days = text
            .split(',')
            .map(|d| {
                d.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=3650).contains(n))
                    .ok_or_else(|| {
                        format!("--notify-days: {d:?} is not a whole number of days from 1 to 3650")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        Ok(Self(days))
    }

    /// The thresholds in days, largest first.
    pub fn days(&self) -> &[i64] {
        &self.0
    }

    /// How long before expiry the first threshold is reached, in ms.
    pub fn horizon_ms(&self) -> Millis {
        self.0.first().copied().unwrap_or(0).saturating_mul(DAY_MS)
    }

    /// The stages a certificate expiring at `expire` is due at `now`, in the order to emit
    /// them, given the stage already emitted (`None`: none yet). A stage is a threshold in days,
    /// or [`EXPIRED_STAGE`].
    ///
    /// A certificate with no event yet gets only the nearest stage (one uploaded 5 days before
    /// expiry is told "7 days" once, not 30, 14 and 7). Once its first event is out, no later
    /// threshold is skipped, however far the clock jumps. A clock moved back is due nothing.
    pub fn due(&self, expire: Millis, now: Millis, emitted: Option<i64>) -> Vec<i64> {
        let left = expire.saturating_sub(now);
        let wanted = if left <= 0 {
            EXPIRED_STAGE
        } else {
            match self
                .0
                .iter()
                .rev()
                .find(|t| left <= t.saturating_mul(DAY_MS))
            {
                Some(t) => *t,
                None => return Vec::new(),
            }
        };
        match emitted {
            None => vec![wanted],
            Some(done) => self
                .0
                .iter()
                .copied()
                .chain(std::iter::once(EXPIRED_STAGE))
                .filter(|s| *s < done && *s >= wanted)
                .collect(),
        }
    }

    /// SQL computing, from the `expiry_stage` column, how long before expiry the next stage
    /// is due (ms): a certificate is due when `expire_time_ms <= now + this`. Built only from
    /// the parsed integers, never from user text.
    pub fn next_lead_sql(&self) -> String {
        let mut sql = format!("CASE WHEN expiry_stage IS NULL THEN {}", self.horizon_ms());
        for t in &self.0 {
            sql.push_str(&format!(
                " WHEN expiry_stage > {t} THEN {}",
                t.saturating_mul(DAY_MS)
            ));
        }
        sql.push_str(" ELSE 0 END");
        sql
    }
}

/// Whole days from `now` to `expire`, rounded down (negative once expired).
pub fn days_left(expire: Millis, now: Millis) -> i64 {
    expire.saturating_sub(now).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;

    fn t() -> Thresholds {
        Thresholds::default()
    }

    #[test]
    fn types_round_trip() {
        for ty in EventType::ALL {
            assert_eq!(EventType::parse(ty.as_str()), Some(ty));
        }
        assert_eq!(EventType::parse("wafcert.certificate"), None);
    }

    #[test]
    fn thresholds_parse_sorted_and_refuse_nonsense() {
        assert_eq!(
            Thresholds::parse("1, 7,30,14,7").unwrap().days(),
            [30, 14, 7, 1]
        );
        assert!(Thresholds::parse("0").is_err());
        assert!(Thresholds::parse("x").is_err());
        assert!(Thresholds::parse("").is_err());
    }

    #[test]
    fn a_new_certificate_gets_the_nearest_stage_only() {
        assert_eq!(t().due(NOW + 40 * DAY_MS, NOW, None), Vec::<i64>::new());
        assert_eq!(t().due(NOW + 29 * DAY_MS, NOW, None), [30]);
        assert_eq!(t().due(NOW + 5 * DAY_MS, NOW, None), [7]);
        assert_eq!(t().due(NOW - 1, NOW, None), [EXPIRED_STAGE]);
    }

    #[test]
    fn tracked_certificates_skip_no_threshold_and_never_repeat() {
        let expire = NOW + 40 * DAY_MS;
        assert_eq!(t().due(expire, NOW + 27 * DAY_MS, Some(30)), [14]);
        assert_eq!(t().due(expire, NOW + 40 * DAY_MS, Some(7)), [1, 0]);
        assert_eq!(
            t().due(expire, NOW + 41 * DAY_MS, Some(0)),
            Vec::<i64>::new()
        );
        // The clock moved back: nothing.
        assert_eq!(t().due(expire, NOW, Some(7)), Vec::<i64>::new());
    }

    #[test]
    fn the_lead_sql_names_only_integers() {
        let sql = t().next_lead_sql();
        assert!(sql.starts_with("CASE WHEN expiry_stage IS NULL THEN 2592000000"));
        assert!(sql.contains("WHEN expiry_stage > 1 THEN 86400000 ELSE 0 END"));
    }

    #[test]
    fn days_left_rounds_down() {
        assert_eq!(days_left(NOW + 29 * DAY_MS + 5, NOW), 29);
        assert_eq!(days_left(NOW - 1, NOW), -1);
    }
}
