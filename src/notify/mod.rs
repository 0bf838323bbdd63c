//! Time-driven and outbound work on the event log: the expiry scheduler (emits
//! `wafcert.certificate.expiring`/`expired` at the `--notify-days` thresholds) and the webhook
//! deliverer (Standard Webhooks, at-least-once from the `events` outbox).
//!
//! Both run as background tasks of `serve` beside the HTTP server and never hold a request
//! up; every replica runs them, and the storage layer's conditional updates make each
//! expiry event and each delivery happen on one replica only.

mod scheduler;
mod signing;
mod webhook;

pub use scheduler::run_scheduler;
pub use signing::{WebhookSecret, sign};
pub use webhook::{
    DeliveryCounters, RETRY_SCHEDULE, WebhookConfig, parse_webhook_url, run_deliverer,
};
