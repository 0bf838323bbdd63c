//! The protection-policy endpoints under `/v1/{project_id}/waf/policy`, as far as hosts need
//! them: create, list, show, update (including `?hosts=` to move hosts onto a policy) and
//! delete. The rules a policy carries are stored and returned, never enforced.

mod wire;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Admin, AdminJson, Ctx, QueryPairs, body_rejection, parse_json};
use super::paging::{PageParams, Paging, TenByDefault};
use super::{AppState, resource_routes};
use crate::domain::{HostId, PolicyId, PolicySettings};
use crate::storage::{NewPolicy, PolicyListFilter};
use wire::{ListResponse, PolicyRequest, PolicyResponse};

/// Page size of the policy list when `pagesize` is absent (the cloud's default).
const DEFAULT_PAGESIZE: i64 = 10;

/// The policy routes, all under `/v1/{project_id}/waf/policy`.
pub(super) fn routes() -> Router<AppState> {
    let base = "/v1/{project_id}/waf/policy";
    let item = get(show).put(update).delete(delete);
    resource_routes::<PolicyId>(base, get(list).post(create), item)
}

/// `POST /v1/{project_id}/waf/policy`: a new policy with the given name and settings (the
/// rest at the defaults a new cloud policy has).
#[utoipa::path(post, path = "/v1/{project_id}/waf/policy", request_body = PolicyRequest,
    responses((status = 200, description = "The new policy", body = PolicyResponse),
        (status = 400, description = "`WAF.00011003`: no name, a bad level or a rule field that \
            is not an object; `WAF.00011005`: bad name; `WAF.00011016`: the name is taken")))]
async fn create(
    AdminJson(Ctx { state, caller, .. }, body): AdminJson<PolicyRequest>,
) -> ApiResult<Json<PolicyResponse>> {
    let parsed = body.parse()?;
    let name = parsed
        .name
        .ok_or_else(|| ApiError::new(ErrorCode::RequestBodyIllegal, "name is required"))?;
    let policy = NewPolicy {
        id: PolicyId::next(&state.ids),
        name,
        settings: parsed.patch.apply(PolicySettings::default()),
    };
    state
        .store
        .insert_policy(&caller.project, &policy, state.clock.now_ms())
        .await?;
    tracing::info!(policy = %policy.id, project = %caller.project, "policy created");
    let record = state.store.policy(&caller.project, &policy.id).await?;
    Ok(Json(record.into()))
}

/// `GET /v1/{project_id}/waf/policy`: a page of policies (`page`, `pagesize` default 10,
/// `name` a case-insensitive substring), newest first.
#[utoipa::path(get, path = "/v1/{project_id}/waf/policy",
    params(PageParams<TenByDefault>, ("name" = Option<String>, Query, max_length = 256,
        description = "Case-insensitive substring of the name; empty is no filter; longer than \
        256 bytes: 400 `WAF.00011002`")),
    responses((status = 200, description = "A page of policies, newest first", body = ListResponse),
        (status = 400, description = "`WAF.00011002`: bad `name`")))]
async fn list(Ctx { state, caller, .. }: Ctx, query: QueryPairs) -> ApiResult<Json<ListResponse>> {
    let paging = Paging::parse(&query, Some(DEFAULT_PAGESIZE))?;
    let filter = PolicyListFilter {
        name_contains: query.filter("name")?.map(str::to_owned),
        window: paging.window(),
    };
    let page = state.store.list_policies(&caller.project, &filter).await?;
    Ok(Json(page.into()))
}

/// `GET /v1/{project_id}/waf/policy/{policy_id}`: one policy with its hosts.
#[utoipa::path(get, path = "/v1/{project_id}/waf/policy/{policy_id}",
    responses((status = 200, description = "The policy with its hosts", body = PolicyResponse)))]
async fn show(Ctx { state, caller, id }: Ctx<PolicyId>) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(state.store.policy(&caller.project, &id).await?.into()))
}

/// `PUT /v1/{project_id}/waf/policy/{policy_id}[?hosts=id,...]`: moves the listed hosts onto
/// the policy and applies the body's fields, if any, in one transaction (all or nothing; an
/// unknown host is 404); answers the policy.
#[utoipa::path(put, path = "/v1/{project_id}/waf/policy/{policy_id}",
    params(("hosts" = Option<String>, Query, description = "Comma-separated ids of hosts to move \
        onto the policy (`UpdatePolicyProtectHost`); all or nothing")),
    request_body(content = Option<PolicyRequest>, description = "The fields to change; may be \
        empty when only `hosts` is given"),
    responses((status = 200, description = "The policy after the change", body = PolicyResponse),
        (status = 400, description = "`WAF.00011003`: a bad level or a rule field that is not an \
            object; `WAF.00011005`: bad name"),
        (status = 404, description = "`WAF.00022001`: no such policy, or one of `hosts` is not in \
            the project")))]
async fn update(
    Admin(Ctx { state, caller, id }, query): Admin<PolicyId, QueryPairs>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PolicyResponse>> {
    let body = body.map_err(body_rejection)?;
    let parsed = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(parse_json::<PolicyRequest>(&body)?.parse()?)
    };
    let hosts = query
        .get("hosts")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| HostId::parse(h).ok_or_else(|| ApiError::not_found("host")))
        .collect::<ApiResult<Vec<_>>>()?;
    let record = state
        .store
        .update_policy(&caller.project, &id, &hosts, |current| {
            Ok::<_, ApiError>(parsed.map(|parsed| {
                let name = parsed
                    .name
                    .map_or_else(|| current.name.clone(), |n| n.as_str().to_owned());
                (name, parsed.patch.apply(current.settings.clone()))
            }))
        })
        .await?;
    tracing::info!(policy = %id, project = %caller.project, hosts = hosts.len(), "policy updated");
    Ok(Json(record.into()))
}

/// `DELETE /v1/{project_id}/waf/policy/{policy_id}`: a policy no host uses; one in use is
/// 400 `WAF.00022003`.
#[utoipa::path(delete, path = "/v1/{project_id}/waf/policy/{policy_id}",
    responses((status = 200, description = "The deleted policy", body = PolicyResponse),
        (status = 400, description = "`WAF.00022003`: a host uses the policy")))]
async fn delete(
    Admin(Ctx { state, caller, id }, ()): Admin<PolicyId>,
) -> ApiResult<Json<PolicyResponse>> {
    let record = state.store.delete_policy(&caller.project, &id).await?;
    tracing::info!(policy = %id, project = %caller.project, "policy deleted");
    Ok(Json(record.into()))
}
