//! The `serve` flags of the event log, expiry notifications, webhooks and metrics, and
//! `wafcert webhook-secret`.

use anyhow::bail;
use clap::Args;
use reqwest::Url;

use crate::api::metrics::MetricsSettings;
use crate::app::EventsConfig;
use crate::domain::Thresholds;
use crate::notify::{WebhookConfig, WebhookSecret, parse_webhook_url};

/// Flags of `wafcert serve` for events, webhooks and `/metrics`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Days before expiry at which a `wafcert.certificate.expiring` event is emitted (once per
    /// threshold per certificate; one created inside a threshold gets only the nearest).
    #[arg(long, env = "WAFCERT_NOTIFY_DAYS", default_value = "30,14,7,1", value_parser = Thresholds::parse)]
    pub notify_days: Thresholds,
    /// Receiver of every event as a Standard Webhooks POST (repeatable). Delivery is
    /// at-least-once: a receiver that is down or answers non-2xx is retried after 1 s, 5 s,
    /// 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about 27.6 hours), then the event is marked
    /// failed. Each request times out after 10 s.
    #[arg(long = "webhook-url", env = "WAFCERT_WEBHOOK_URL", value_delimiter = ',', value_parser = parse_webhook_url)]
    pub webhook_urls: Vec<Url>,
    /// Signing secret of the webhooks, `whsec_<base64 key>` (make one with `wafcert
    /// webhook-secret`).
    // Parsed in `into_config`, not by clap, whose error would echo the value.
    #[arg(long, env = "WAFCERT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// When set, `GET /metrics` needs `Authorization: Bearer <this token>`.
    #[arg(long, env = "WAFCERT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Most certificates given series of their own on `/metrics` (the soonest to expire
    /// first); how many were left out is itself a metric.
    #[arg(long, env = "WAFCERT_METRICS_MAX_SERIES", default_value_t = 10_000)]
    pub metrics_max_series: u32,
}

impl EventArgs {
    /// The checked settings; a webhook URL without a secret (or the reverse) is refused.
    pub fn into_config(self) -> anyhow::Result<(EventsConfig, MetricsSettings)> {
        let secret = self
            .webhook_secret
            .as_deref()
            .map(WebhookSecret::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let webhook = match (self.webhook_urls.is_empty(), secret) {
            (true, None) => None,
            (false, Some(secret)) => Some(WebhookConfig {
                urls: self.webhook_urls,
                secret,
            }),
            (false, None) => {
                bail!(
                    "--webhook-url needs --webhook-secret (make one with `wafcert webhook-secret`)"
                )
            }
            (true, Some(_)) => bail!("--webhook-secret is given but no --webhook-url"),
        };
        if self.metrics_token.as_deref().is_some_and(str::is_empty) {
            bail!("--metrics-token must not be empty");
        }
        Ok((
            EventsConfig {
                thresholds: self.notify_days,
                webhook,
            },
            MetricsSettings {
                token: self.metrics_token,
                max_series: i64::from(self.metrics_max_series),
            },
        ))
    }
}

/// `wafcert webhook-secret`: prints a new `whsec_` secret.
pub fn print_webhook_secret() -> anyhow::Result<()> {
    let (_, text) = WebhookSecret::generate()?;
    println!("{text}");
    Ok(())
}
