//! The HTTP API: routes, the authentication middleware and the cross-cutting layers (request
//! ids, tracing, error logging, body limit). Handlers live with their wire types in one module
//! per resource.

mod authentication;
mod certificates;
mod envelope;
pub mod error;
mod events;
mod extract;
mod hosts;
mod keystone;
pub mod metrics;
pub mod openapi;
pub mod operation;
mod paging;
mod policies;
pub mod read_cache;
mod rotation;
pub mod search_index;
pub mod test_controls;
mod timeout;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::auth::Authenticator;
use crate::crypto::Sealer;
use crate::domain::{Clock, Contract, SeededRandom};
use crate::storage::Store;
use error::{ApiError, ErrorCode};
pub use timeout::DEFAULT_REQUEST_TIMEOUT_MS;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Settings that shape behaviour, fixed at start.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Never return private keys, even to admins.
    pub withhold_private_keys: bool,
    /// Certificates per project; `None` is unlimited.
    pub certificate_quota: Option<i64>,
    /// Region named in the Keystone service catalog.
    pub region: String,
    /// Base URL clients reach the server at (no trailing slash).
    pub public_url: String,
    /// Which cloud's limits and codes apply where OTC and Huawei differ.
    pub contract: Contract,
    /// How long a request may take before it is answered 503 (see [`timeout`]).
    pub request_timeout: Duration,
}

#[cfg(test)]
impl ServiceSettings {
    /// Settings of a server in `eu-ch2` at `https://waf.example.com`, for the unit tests of
    /// the answers built from them.
    pub(crate) fn sample() -> Self {
        Self {
            withhold_private_keys: false,
            certificate_quota: None,
            region: "eu-ch2".to_owned(),
            public_url: "https://waf.example.com".to_owned(),
            contract: Contract::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What every handler can reach: one `Arc`, so the several clones each request makes (the
/// state extractor, middleware) cost one reference count, not one per service. Fields are
/// read through `Deref` (`state.store`).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state of a server with these services.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Seals and opens private keys and secret keys.
    pub sealer: Arc<Sealer>,
    /// Resolves credentials.
    pub auth: Authenticator,
    /// Behaviour settings.
    pub settings: Arc<ServiceSettings>,
    /// Version-tagged cache of certificate reads.
    pub cache: Arc<read_cache::ReadCache>,
    /// Version-tagged in-memory name indexes of the projects, for name searches that miss the
    /// read cache.
    pub search: Arc<search_index::SearchIndexes>,
    /// Certificate time (expiry status, timestamps, the expired-binding refusal).
    pub clock: Arc<Clock>,
    /// Request and webhook metrics, and who may scrape them.
    pub metrics: Arc<metrics::Metrics>,
    /// Where ids of new certificates and hosts come from (random unless a test seeded it).
    pub ids: Arc<SeededRandom>,
    /// Test controls (`/_wafcert/...`, journal, faults), when the server runs with them.
    pub controls: Option<Arc<test_controls::TestControls>>,
}

/// The API document's schema of a string that is one of `values` (the document's only enums
/// the derive cannot write: lists kept as constants elsewhere).
fn string_enum_schema<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .into()
}

/// The routes of one kind of resource: `base` for the collection, `base/{id}` for one of
/// them, the parameter named as the [`PathId`](extract::PathId) of its handlers reads it.
fn resource_routes<Id: extract::PathId>(
    base: &str,
    collection: MethodRouter<AppState>,
    item: MethodRouter<AppState>,
) -> Router<AppState> {
    Router::new()
        .route(base, collection)
        .route(&format!("{base}/{{{}}}", Id::PARAM), item)
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .merge(certificates::routes())
        .merge(hosts::routes())
        .merge(events::routes())
        .merge(rotation::routes())
        .merge(policies::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            authentication::authenticate,
        ));

    let mut app = Router::new()
        .merge(protected)
        .merge(keystone::routes(state.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", openapi::route(state.controls.is_some()));
    if let Some(controls) = &state.controls {
        app = app.merge(test_controls::routes(state.clone(), Arc::clone(controls)));
    }
    let mut app = app
        .fallback(|| async {
            ApiError::new(
                ErrorCode::ApiNotFound,
                "no such API: check the method and the URL path",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this method is not allowed on this URL",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    if state.settings.contract.otc_not_found() {
        // Only OTC words a code differently; the other profiles skip the layer.
        app = app.layer(middleware::from_fn_with_state(
            state.clone(),
            contract_codes,
        ));
    }
    app.layer(middleware::from_fn_with_state(
        state.clone(),
        around_every_request,
    ))
    .with_state(state)
}

/// The steps around every request, outermost first: the envelope (request id, span, log line
/// of a server error), the request metrics, the test controls' faults and journal (when on;
/// outside the deadline, so an injected latency is what the test asked for and the journal
/// sees a timeout's 503), and the deadline. Injected faults and timeouts are counted as
/// answered.
///
/// One layer calling the steps in turn rather than a layer each: axum clones the inner
/// service and boxes a future for every `from_fn` layer of every request. Replacing three
/// such layers took a cached list page from about 71,000 to 62,000 instructions in the server
/// (BENCHMARKS.md, issue 16, session 10).
async fn around_every_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let deadline = state.settings.request_timeout;
    envelope::envelope(req, async |req| {
        metrics::track(&state.metrics, req, async |req| {
            let limited =
                async |req| timeout::limit(deadline, req, async |req| next.run(req).await).await;
            match &state.controls {
                Some(controls) => test_controls::observe(controls, req, limited).await,
                None => limited(req).await,
            }
        })
        .await
    })
    .await
}

/// `GET /readyz`: 200 `{"status":"ready"}` when the database answers (migrations ran before
/// the listener opened), 503 in the WAF error shape otherwise.
#[utoipa::path(get, path = "/readyz", operation_id = "WafcertReady",
    responses((status = 200, description = "`{\"status\": \"ready\"}`: the database answers", body = Object)))]
async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Rewrites error codes the contract profile words differently (see [`error::for_contract`]).
async fn contract_codes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    error::for_contract(response, state.settings.contract)
}
