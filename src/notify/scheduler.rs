//! The expiry scheduler: evaluates every certificate against the thresholds on the
//! certificate clock at least once a minute, within a second of the clock being moved, and
//! shortly after certificates are written (one created already inside a threshold is told at
//! once). Which events are due, and that each happens once, is decided in `domain` and
//! `storage`.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{Clock, Thresholds};
use crate::storage::Store;

/// The longest pause between two evaluations.
const TICK: Duration = Duration::from_secs(60);
/// Writes arriving in a burst are evaluated together after this pause.
const COALESCE: Duration = Duration::from_millis(500);

/// Evaluates expiry until the task is aborted.
pub async fn run_scheduler(store: Store, clock: Arc<Clock>, thresholds: Thresholds) {
    let mut moves = clock.subscribe();
    let mut commits = store.subscribe_commits();
    loop {
        match store.emit_expiry_events(&thresholds, clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "expiry events emitted"),
            Err(e) => tracing::warn!(error = %e, "expiry evaluation failed; retrying"),
        }
        tokio::select! {
            _ = moves.changed() => {}
            _ = commits.changed() => tokio::time::sleep(COALESCE).await,
            () = tokio::time::sleep(TICK) => {}
        }
        // Whatever else changed while evaluating is covered by the next evaluation.
        moves.borrow_and_update();
        commits.borrow_and_update();
    }
}
