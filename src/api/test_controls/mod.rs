//! Test controls under `/_wafcert/...`, mounted only with `serve --test-controls`: the movable
//! certificate clock, reset between tests, repeatable ids, the request journal and injected
//! faults. They need no credential (like LocalStack's), which is why they are off by default:
//! a server with them on is for tests and CI only.
//!
//! The clock lives in the database (shared by replicas); the journal, the faults and the id
//! seed belong to this process.

pub(super) mod clock;
pub(super) mod faults;
pub(super) mod journal;
mod observe;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{FromRequest, Request};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::JsonBody;
use crate::domain::{ProjectId, SeededRandom};

pub(super) use observe::observe;

/// Mixed into the id seed to seed the fault dice, so rolling them does not shift the ids.
const DICE_SALT: u64 = 0xD1CE_5EED_0BAD_F00D;

/// The per-process state of test controls.
#[derive(Debug, Default)]
pub struct TestControls {
    journal: journal::Journal,
    faults: faults::Faults,
    /// Decides faults with a `probability` below 1.
    dice: SeededRandom,
}

impl TestControls {
    /// Test controls whose ids (drawn from `ids`) and dice follow `seed` when given.
    pub fn new(ids: &SeededRandom, seed: Option<u64>) -> Self {
        let controls = Self::default();
        controls.reseed(ids, seed);
        controls
    }

    fn reseed(&self, ids: &SeededRandom, seed: Option<u64>) {
        ids.reseed(seed);
        self.dice.reseed(seed.map(|s| s ^ DICE_SALT));
    }
}

/// State the controls share between requests. A panic while it was held leaves it usable:
/// every change is one push, pop or clear, never half done.
#[derive(Debug, Default)]
struct Shared<T>(Mutex<T>);

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the control handlers reach: the application and the controls.
#[derive(Debug, Clone)]
pub(super) struct ControlState {
    app: AppState,
    controls: Arc<TestControls>,
}

/// What a control write takes: the control state and its JSON body (read as [`JsonBody`]),
/// together so that every such handler's signature is one line.
#[derive(Debug)]
pub(super) struct Control<T>(ControlState, T);

impl<T: DeserializeOwned> FromRequest<ControlState> for Control<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ControlState) -> Result<Self, ApiError> {
        let JsonBody(body) = JsonBody::from_request(req, state).await?;
        Ok(Self(state.clone(), body))
    }
}

/// The `/_wafcert` routes.
pub(super) fn routes(app: AppState, controls: Arc<TestControls>) -> Router<AppState> {
    Router::new()
        .route("/_wafcert/clock", get(clock::show).post(clock::change))
        .route("/_wafcert/reset", post(reset))
        .route("/_wafcert/seed", post(seed))
        .route(
            "/_wafcert/requests",
            get(journal::show).delete(journal::clear),
        )
        .route(
            "/_wafcert/faults",
            get(faults::show).post(faults::add).delete(faults::clear),
        )
        .with_state(ControlState { app, controls })
}

/// An SDK operation name, for the API document: one of [`OPERATIONS`](super::operation::OPERATIONS).
#[derive(Debug, Clone, Copy)]
struct OperationName;

impl utoipa::PartialSchema for OperationName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_enum_schema(super::operation::OPERATIONS.iter().copied())
    }
}

impl ToSchema for OperationName {}

/// A 400 `WAF.00011003` for bad control input.
fn bad_input(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::RequestBodyIllegal, msg.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WafcertResetRequest)]
struct ResetRequest {
    /// The project to reset (32 lowercase hex characters); absent or `null`: every project.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    project_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WafcertResetResponse)]
struct ResetResponse {
    project_id: Option<String>,
    /// Rows deleted (certificates, hosts and the like).
    deleted: u64,
}

/// `POST /_wafcert/reset`: deletes the certificates and hosts (and later per-project state)
/// of one project or all, keeps credentials, and clears the journal and the faults.
#[utoipa::path(post, path = "/_wafcert/reset", operation_id = "WafcertReset", request_body = ResetRequest,
    responses((status = 200, description = "What was deleted", body = ResetResponse)))]
async fn reset(Control(s, body): Control<ResetRequest>) -> ApiResult<Json<ResetResponse>> {
    let project = body
        .project_id
        .as_deref()
        .map(|p| {
            ProjectId::parse(p)
                .ok_or_else(|| bad_input("project_id must be 32 lowercase hex characters"))
        })
        .transpose()?;
    let deleted = s.app.store.reset(project.as_ref()).await?;
    s.controls
        .journal
        .clear(project.as_ref().map(ProjectId::as_str));
    s.controls.faults.clear();
    Ok(Json(ResetResponse {
        project_id: body.project_id,
        deleted,
    }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WafcertSeed)]
struct SeedBody {
    /// The seed; `null` returns to random ids.
    seed: Option<u64>,
}

/// `POST /_wafcert/seed`: from now on, ids of new resources come from this seed's stream.
#[utoipa::path(post, path = "/_wafcert/seed", operation_id = "WafcertSeed", request_body = SeedBody,
    responses((status = 200, description = "The seed now in force", body = SeedBody)))]
async fn seed(Control(s, body): Control<SeedBody>) -> ApiResult<Json<SeedBody>> {
    s.controls.reseed(&s.app.ids, body.seed);
    Ok(Json(body))
}
