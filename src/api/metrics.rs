//! `GET /metrics` in the Prometheus/OpenMetrics text format, encoded by `prometheus-client`.
//!
//! Process metrics (HTTP requests by operation, webhook outcomes) live in [`Metrics`]. The
//! certificate series, the event backlog and the pool gauges are read at scrape time by a
//! collector over a database snapshot, so every replica reports the same certificate values
//! and a deleted certificate drops out at once. The certificate figures are reused from the
//! last scrape while no write and no clock line says they changed ([`figures`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::{ApiError, ErrorCode, WireErrorCode};
use super::operation::operation;
use crate::notify::DeliveryCounters;
use crate::storage::{CertificateSeries, StoreError};

mod figures;

use figures::{CertificateFigures, KeptFigures};

/// Labels as ordered name/value pairs.
type Labels = Vec<(String, String)>;
/// A family of histograms made by a plain function.
type Histograms = Family<OperationLabels, Histogram, fn() -> Histogram>;

/// The labels of a request count. Typed rather than [`Labels`] so counting a request allocates
/// nothing: the operation is a constant and the error code the answer's own shared string.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
    /// Empty for answers without a WAF error code.
    error_code: Option<Arc<str>>,
}

/// The label of a request duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// Who may read `/metrics` and how many certificate series it may carry.
#[derive(Clone)]
pub struct MetricsSettings {
    /// When set, scrapes need `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Upper bound of certificates with their own series.
    pub max_series: i64,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            token: None,
            max_series: 10_000,
        }
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_series", &self.max_series)
            .finish()
    }
}

/// The metrics a process accumulates between scrapes.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    durations: Histograms,
    /// Webhook delivery attempts by outcome (counted by the deliverer).
    pub deliveries: DeliveryCounters,
    settings: MetricsSettings,
    /// The certificate figures of the last scrape, reused while they hold.
    figures: KeptFigures,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

impl Metrics {
    /// Empty metrics with the scrape settings.
    pub fn new(settings: MetricsSettings) -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            deliveries: DeliveryCounters::default(),
            settings,
            figures: KeptFigures::default(),
        }
    }
}

/// Counts every request by operation, status and error code, and times it, around `inner`
/// (the rest of the stack).
pub(super) async fn track(
    metrics: &Metrics,
    req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let op = operation(req.method(), req.uri().path());
    let started = Instant::now();
    let response = inner(req).await;
    if let Some(operation) = op {
        let error_code = response
            .extensions()
            .get::<WireErrorCode>()
            .map(|code| Arc::clone(&code.0));
        metrics
            .requests
            .get_or_create(&RequestLabels {
                operation,
                status: response.status().as_u16(),
                error_code,
            })
            .inc();
        metrics
            .durations
            .get_or_create(&OperationLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

/// What the database says at scrape time.
#[derive(Debug)]
struct Snapshot {
    certificates: Arc<CertificateFigures>,
    cap: i64,
    pending: i64,
    pool: (u32, usize),
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", operation_id = "WafcertMetrics",
    responses((status = 200, description = "The metrics in the OpenMetrics text format", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "`WAF.00012001`: the server has a `--metrics-token` and the \
            request no matching `Authorization: Bearer`")))]
pub(super) async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics.settings.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return ApiError::new(
                ErrorCode::InvalidToken,
                "metrics need Authorization: Bearer <the --metrics-token>",
            )
            .into_response();
        }
    }
    let snapshot = match snapshot(&state).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut registry = Registry::default();
    let metrics = &state.metrics;
    registry.register(
        "wafcert_http_requests",
        "HTTP requests by operation, status and WAF error code",
        metrics.requests.clone(),
    );
    registry.register(
        "wafcert_http_request_duration_seconds",
        "HTTP request duration by operation",
        metrics.durations.clone(),
    );
    registry.register(
        "wafcert_webhook_deliveries",
        "Webhook delivery attempts by outcome (delivered, retry, failed = gave up)",
        metrics.deliveries.0.clone(),
    );
    registry.register(
        "wafcert_name_searches",
        "Name searches that missed the page cache, by who answered them (memory: the in-memory \
         name index of the project's version; database)",
        state.search.answered.clone(),
    );
    registry.register(
        "wafcert_name_search_index_bytes",
        "Estimated heap bytes of the in-memory name indexes",
        ConstGauge::new(i64::try_from(state.search.bytes()).unwrap_or(i64::MAX)),
    );
    registry.register_collector(Box::new(snapshot));
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &registry) {
        return ApiError::internal(e).into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn snapshot(state: &AppState) -> Result<Snapshot, StoreError> {
    let now = state.clock.now_ms();
    let store = &state.store;
    let cap = state.metrics.settings.max_series;
    let certificates = state.metrics.figures.read(store, now, cap).await?;
    let pending = store.pending_event_count().await?;
    Ok(Snapshot {
        certificates,
        cap,
        pending,
        pool: store.pool_usage(),
    })
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The labels of a certificate's own series.
fn certificate_labels(c: &CertificateSeries) -> Labels {
    labels(&[
        ("project_id", &c.project_id),
        ("certificate_id", &c.id),
        ("name", &c.name),
    ])
}

/// Writes one gauge family of `(labels, value)` samples.
fn gauge_family<N: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, N)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        gauge_family(
            &mut encoder,
            "wafcert_certificate_expiry_timestamp_seconds",
            "Certificate notAfter as a Unix time (bound, expired or expiring within 90 days)",
            self.certificates.series.iter().map(|c| {
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "ms timestamps fit in f64 exactly"
                )]
                let seconds = c.expire_time as f64 / 1000.0;
                (certificate_labels(c), seconds)
            }),
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_certificate_bound_hosts",
            "Hosts using the certificate (same certificates as the expiry series)",
            self.certificates
                .series
                .iter()
                .map(|c| (certificate_labels(c), c.bound_hosts)),
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_certificate_series_limit",
            "--metrics-max-series: most certificates reported with series of their own",
            [(Labels::new(), self.cap)],
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_certificate_series_omitted",
            "Certificates that qualified for series of their own but were left out by the limit",
            [(
                Labels::new(),
                (self.certificates.qualifying - self.cap).max(0),
            )],
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_certificates",
            "Certificates by project and exp_status (0 valid, 1 expired, 2 expiring within 30 days)",
            self.certificates.counts.iter().flat_map(|c| {
                [("0", c.valid), ("1", c.expired), ("2", c.expiring)].map(|(status, n)| {
                    (
                        labels(&[("project_id", &c.project_id), ("exp_status", status)]),
                        n,
                    )
                })
            }),
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_events_pending",
            "Events waiting for webhook delivery (all replicas)",
            [(Labels::new(), self.pending)],
        )?;
        gauge_family(
            &mut encoder,
            "wafcert_db_pool_connections",
            "Database connections of this process by state",
            [
                (labels(&[("state", "open")]), i64::from(self.pool.0)),
                (
                    labels(&[("state", "idle")]),
                    i64::try_from(self.pool.1).unwrap_or(i64::MAX),
                ),
            ],
        )?;
        Ok(())
    }
}
