//! The webhook deliverer: claims due events from the outbox (one replica per event, through a
//! lease), POSTs each to every `--webhook-url` signed the Standard Webhooks way, and records
//! the outcome: delivered, retried on the [`RETRY_SCHEDULE`], or given up.
//!
//! Retries and leases follow real time, never the movable certificate clock. Deliveries run
//! in their own tasks, bounded in number, each request timing out after 10 s, so a slow
//! receiver delays only its own events and never the API.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::signing::{WebhookSecret, sign};
use crate::domain::{Millis, format_iso8601, now_ms};
use crate::storage::{DeliveryOutcome, EventRecord, Store};

/// Waits after failed attempt 1, 2, ...: about 27.6 hours in all (more than the 24 hours
/// promised), then the event is marked `failed`.
pub const RETRY_SCHEDULE: [Duration; 8] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the outbox is polled for events committed by other replicas or due for retry.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries in flight per process.
const CONCURRENCY: usize = 16;

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Receivers; every event goes to each.
    pub urls: Vec<Url>,
    /// Signing secret.
    pub secret: WebhookSecret,
}

/// Parses a `--webhook-url`: absolute `http` or `https` with a host.
pub fn parse_webhook_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("--webhook-url {text:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "--webhook-url {text:?}: must be an http:// or https:// URL with a host"
        ));
    }
    Ok(url)
}

/// Webhook delivery attempts by outcome: `delivered`, `retry` (failed, will retry),
/// `failed` (failed, schedule exhausted).
#[derive(Debug, Clone, Default)]
pub struct DeliveryCounters(pub Family<Vec<(String, String)>, Counter>);

impl DeliveryCounters {
    fn count(&self, outcome: &str) {
        self.0
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
    }
}

/// Delivers events until the task is aborted.
pub async fn run_deliverer(store: Store, config: WebhookConfig, counters: DeliveryCounters) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; no deliveries");
            return;
        }
    };
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut commits = store.subscribe_commits();
    loop {
        if let Err(e) = deliver_due(&store, &client, &config, &counters, &slots).await {
            tracing::warn!(error = %e, "webhook outbox not readable; retrying");
        }
        tokio::select! {
            _ = commits.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One pass: claim what is due and start its deliveries.
async fn deliver_due(
    store: &Store,
    client: &reqwest::Client,
    config: &Arc<WebhookConfig>,
    counters: &DeliveryCounters,
    slots: &Arc<Semaphore>,
) -> Result<(), crate::storage::StoreError> {
    let free = i64::try_from(slots.available_permits()).unwrap_or(0);
    if free == 0 {
        return Ok(());
    }
    let now = now_ms();
    let lease = i64::try_from(TIMEOUT.as_millis()).unwrap_or(10_000)
        * i64::try_from(config.urls.len()).unwrap_or(1)
        + 30_000;
    for event in store.due_deliveries(now, free).await? {
        let Ok(permit) = Arc::clone(slots).try_acquire_owned() else {
            break;
        };
        if !store.claim_delivery(&event.id, now, now + lease).await? {
            continue;
        }
        let (store, client, config, counters) = (
            store.clone(),
            client.clone(),
            Arc::clone(config),
            counters.clone(),
        );
        tokio::spawn(async move {
            let outcome = attempt(&client, &config, &event).await;
            let label = match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retry { .. } => "retry",
                DeliveryOutcome::GaveUp { .. } => "failed",
            };
            counters.count(label);
            if let Err(e) = store.settle_delivery(&event.id, outcome).await {
                // The lease runs out and the event is attempted again: at least once.
                tracing::warn!(event = %event.id, error = %e, "webhook outcome not recorded");
            }
            drop(permit);
        });
    }
    Ok(())
}

/// The body of an event's delivery: `type`, `timestamp` (RFC 3339) and `data`.
pub fn payload(event: &EventRecord) -> String {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    json!({
        "type": event.kind,
        "timestamp": format_iso8601(event.time),
        "data": data,
    })
    .to_string()
}

/// POSTs the event to every receiver; the outcome for the whole event.
async fn attempt(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event: &EventRecord,
) -> DeliveryOutcome {
    let body = payload(event);
    let mut failed = None;
    let mut last_ok = 200;
    for url in &config.urls {
        // The host only: a URL may carry credentials in its user info or query.
        let receiver = url.host_str().unwrap_or_default();
        // Real time: receivers refuse timestamps more than 5 minutes off their own clock.
        let timestamp = now_ms().div_euclid(1000);
        let signature = sign(&config.secret, &event.id, timestamp, &body);
        let sent = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => last_ok = i64::from(r.status().as_u16()),
            Ok(r) => {
                tracing::warn!(event = %event.id, receiver, status = %r.status(), "webhook refused");
                failed = Some(i64::from(r.status().as_u16()));
            }
            Err(e) => {
                tracing::warn!(event = %event.id, receiver, error = %e.without_url(), "webhook unreachable");
                failed = Some(0);
            }
        }
    }
    match failed {
        None => DeliveryOutcome::Delivered { status: last_ok },
        Some(status) => match retry_after(event.attempts) {
            Some(wait) => DeliveryOutcome::Retry {
                status,
                next_attempt_ms: now_ms().saturating_add(wait),
            },
            None => DeliveryOutcome::GaveUp { status },
        },
    }
}

/// The wait before the next attempt after `attempts_before` earlier attempts and this failed
/// one; `None` once the schedule is exhausted.
fn retry_after(attempts_before: i64) -> Option<Millis> {
    let index = usize::try_from(attempts_before).ok()?;
    RETRY_SCHEDULE
        .get(index)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_lasts_more_than_a_day_then_gives_up() {
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600));
        assert_eq!(retry_after(0), Some(1_000));
        assert_eq!(retry_after(7), Some(36_000_000));
        assert_eq!(retry_after(8), None);
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(parse_webhook_url("https://hooks.example/x").is_ok());
        assert!(parse_webhook_url("http://127.0.0.1:9/").is_ok());
        assert!(parse_webhook_url("ftp://h/").is_err());
        assert!(parse_webhook_url("not a url").is_err());
        assert!(parse_webhook_url("/relative").is_err());
    }
}
