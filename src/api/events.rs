//! `GET /v1/{project_id}/wafcert/events`: the project's event log, newest first, with each
//! event's webhook delivery state. Admin and read-only credentials of the project may read it.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Ctx, QueryPairs};
use super::paging::{PageParams, Paging, TenNeverAll, list_from_page};
use crate::domain::{CertificateId, EventType};
use crate::storage::{EventFilter, EventRecord};

/// The events route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/{project_id}/wafcert/events", get(list))
}

/// Where an event's webhook delivery stands.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventDelivery)]
struct DeliveryBody {
    /// `none` (no webhook configured when it was recorded), `pending`, `delivered`, `failed`.
    #[schema(example = "delivered")]
    state: String,
    /// Delivery attempts so far.
    attempts: i64,
    /// HTTP status of the last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_status: Option<i64>,
    /// When the next attempt is due, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt: Option<i64>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
struct EventBody {
    id: String,
    /// The event type, e.g. `wafcert.certificate.created`.
    #[serde(rename = "type")]
    #[schema(value_type = EventTypeName)]
    kind: String,
    /// When it happened, epoch ms.
    time: i64,
    project_id: String,
    /// The certificate or host it is about.
    subject: String,
    /// Who caused it.
    actor: String,
    /// Type-specific details.
    #[schema(value_type = Object)]
    data: Value,
    delivery: DeliveryBody,
}

impl From<EventRecord> for EventBody {
    fn from(e: EventRecord) -> Self {
        Self {
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
            id: e.id,
            kind: e.kind,
            time: e.time,
            project_id: e.project_id,
            subject: e.subject,
            actor: e.actor,
            delivery: DeliveryBody {
                state: e.delivery_state,
                attempts: e.attempts,
                last_status: e.last_status,
                next_attempt: e.next_attempt_ms,
            },
        }
    }
}

/// The list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ListEventsResponse)]
struct ListResponse {
    total: i64,
    items: Vec<EventBody>,
}

list_from_page!(ListResponse, EventRecord);

/// An event type name, for the API document: one of [`EventType::ALL`].
#[derive(Debug, Clone, Copy)]
struct EventTypeName;

impl utoipa::PartialSchema for EventTypeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_enum_schema(EventType::ALL.map(EventType::as_str))
    }
}

impl ToSchema for EventTypeName {}

/// `GET /v1/{project_id}/wafcert/events?page=&pagesize=&type=&subject=`.
#[utoipa::path(get, path = "/v1/{project_id}/wafcert/events",
    params(PageParams<TenNeverAll>,
        ("type" = inline(Option<EventTypeName>), Query, description = "Only events of this type; \
            empty is no filter, an unknown type 400 `WAF.00011002`"),
        ("subject" = Option<String>, Query, pattern = "^[0-9a-f]{32}$", description = "Only events \
            about this certificate or host id; empty is no filter, anything else 400 `WAF.00011002`")),
    responses((status = 200, description = "A page of events, newest first", body = ListResponse),
        (status = 400, description = "`WAF.00011002`: bad `type` or `subject`")))]
async fn list(Ctx { state, caller, .. }: Ctx, query: QueryPairs) -> ApiResult<Json<ListResponse>> {
    let paging = Paging::parse(&query, Some(10))?;
    if paging.pagesize.is_none() {
        return Err(ApiError::new(
            ErrorCode::PageOrPageSizeIllegal,
            "pagesize must be an integer from 1 to 100",
        ));
    };
    let kind = match query.get("type") {
        None | Some("") => None,
        Some(text) => Some(EventType::parse(text).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UrlParamIllegal,
                format!(
                    "type must be one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?),
    };
    let subject = match query.get("subject") {
        None | Some("") => None,
        Some(text) => Some(
            CertificateId::parse(text)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::UrlParamIllegal,
                        "subject must be a certificate or host id (32 lowercase hex characters)",
                    )
                })?
                .to_string(),
        ),
    };
    let filter = EventFilter {
        kind,
        subject,
        window: paging.window(),
    };
    let page = state.store.list_events(&caller.project, &filter).await?;
    Ok(Json(page.into()))
}
