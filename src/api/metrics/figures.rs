//! The certificate figures of `/metrics` (counts per project and status, the per-certificate
//! series), kept between scrapes while they cannot have changed.
//!
//! Why: computing them reads every certificate (on PostgreSQL at N = 100,000, 120-270 ms of
//! database work on two cores, which every API request waiting behind it felt), and every
//! scrape of every replica by every Prometheus did it again though nothing had changed. They
//! change only when a project's certificates or hosts are written (which bumps that project's
//! version: [`Store::projects_version_sum`], read from the database, so a write on any replica
//! counts) or when a certificate crosses a line on the certificate clock
//! ([`Store::next_metrics_change`]). A scrape reads the version sum first (one small
//! statement), and the figures only when it or the clock left what the kept ones hold for.

use std::sync::{Arc, Mutex};

use crate::domain::{DAY_MS, ExpiryStatus, Millis};
use crate::storage::{CertificateCounts, CertificateSeries, Store, StoreError};

/// Certificates expiring within this many days get their own series (bound ones always).
const SERIES_HORIZON_MS: i64 = 90 * DAY_MS;

/// What the database says about the certificates at one certificate time.
#[derive(Debug)]
pub(super) struct CertificateFigures {
    /// Per project and status.
    pub counts: Vec<CertificateCounts>,
    /// Certificates with series of their own, soonest expiry first, at most the cap.
    pub series: Vec<CertificateSeries>,
    /// How many qualified for a series, the cap aside.
    pub qualifying: i64,
}

/// Figures with what they hold for.
#[derive(Debug)]
struct Kept {
    /// The projects' version sum read before the figures.
    version_sum: i64,
    /// The certificate time they were computed at, and the first instant after it at which a
    /// certificate crosses a line: they hold for `from <= now < until`.
    from: Millis,
    until: Millis,
    figures: Arc<CertificateFigures>,
}

/// The last figures computed, shared by the scrapes of this process.
#[derive(Debug, Default)]
pub(super) struct KeptFigures(Mutex<Option<Kept>>);

impl KeptFigures {
    /// The figures at certificate time `now`, at most `cap` series: the kept ones when
    /// nothing was written since and no certificate crossed a line, else read anew (and kept).
    pub async fn read(
        &self,
        store: &Store,
        now: Millis,
        cap: i64,
    ) -> Result<Arc<CertificateFigures>, StoreError> {
        let version_sum = store.projects_version_sum().await?;
        if let Some(figures) = self.holding(version_sum, now) {
            return Ok(figures);
        }
        let counts = store
            .certificate_counts(now, ExpiryStatus::soon_horizon(now))
            .await?;
        let (series, qualifying) = store
            .certificate_series(now.saturating_add(SERIES_HORIZON_MS), cap)
            .await?;
        let until = store
            .next_metrics_change(now, SERIES_HORIZON_MS)
            .await?
            .unwrap_or(Millis::MAX);
        let figures = Arc::new(CertificateFigures {
            counts,
            series,
            qualifying,
        });
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(Kept {
                version_sum,
                from: now,
                until,
                figures: Arc::clone(&figures),
            });
        }
        Ok(figures)
    }

    /// The kept figures, if they hold for `version_sum` at `now`.
    fn holding(&self, version_sum: i64, now: Millis) -> Option<Arc<CertificateFigures>> {
        let kept = self.0.lock().ok()?;
        kept.as_ref()
            .filter(|k| k.version_sum == version_sum && (k.from..k.until).contains(&now))
            .map(|k| Arc::clone(&k.figures))
    }
}
