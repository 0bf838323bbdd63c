//! The protected-domain endpoints under `/v1/{project_id}/premium-waf/host` (dedicated-mode
//! hosts): create, list, show, update, delete, and binding a certificate from the host side.
//! The binding rules themselves live in `domain`; the locking that makes them hold at commit
//! lives in `storage`.

mod query;
mod wire;

use axum::routing::{get, put};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Admin, AdminJson, Ctx, QueryPairs};
use super::paging::{PageParams, TenByDefault};
use super::{AppState, resource_routes};
use crate::domain::{
    CertificateChange, HostChange, HostId, HostSettings, PolicyId, PolicyName, PolicySettings,
    ProtectStatus, check_bind, check_certificate_present,
};
use crate::storage::{HostPolicy, HostRecord, NewHost, NewPolicy, StoreError, WriteError};
use query::HostListParams;
use wire::{DeleteResponse, HostRequest, HostResponse, ListResponse, ProtectStatusBody};

/// The host routes, all under `/v1/{project_id}/premium-waf/host`.
pub(super) fn routes() -> Router<AppState> {
    let base = "/v1/{project_id}/premium-waf/host";
    let item = get(show).put(update).delete(delete);
    resource_routes::<HostId>(base, get(list).post(create), item)
        // Huawei's SDK and Terraform provider send the hyphen, gophertelekomcloud (OTC's
        // provider) the underscore.
        .route(
            &format!("{base}/{{host_id}}/protect-status"),
            put(protect_status),
        )
        .route(
            &format!("{base}/{{host_id}}/protect_status"),
            put(protect_status),
        )
}

/// `POST /v1/{project_id}/premium-waf/host`: protect a domain, optionally binding a
/// certificate (required when a server's front protocol is HTTPS).
#[utoipa::path(post, path = "/v1/{project_id}/premium-waf/host", request_body = HostRequest,
    responses((status = 200, description = "The new host", body = HostResponse),
        (status = 400, description = "`WAF.00011003`: a missing or bad field, `certificateid` \
            without `certificatename` (or naming another certificate), an `HTTPS` front without a \
            certificate; `WAF.00011006`: bad hostname; `WAF.00011016`: the hostname is already \
            protected; `WAF.00021013`: the certificate has expired"),
        (status = 404, description = "`WAF.00022001`: no such certificate or policy in the project")))]
async fn create(
    AdminJson(Ctx { state, caller, .. }, body): AdminJson<HostRequest>,
) -> ApiResult<Json<HostResponse>> {
    let request = body.parse()?;
    let hostname = request.hostname.ok_or_else(|| required("hostname"))?;
    let servers = request
        .patch
        .servers
        .clone()
        .ok_or_else(|| required("server (the origin servers)"))?;
    let settings = request.patch.apply(HostSettings::new(servers));
    let certificate = match request.certificate {
        CertificateChange::Bind { id, name } => Some((id, name)),
        CertificateChange::Keep | CertificateChange::Unbind => None,
    };
    check_certificate_present(&settings, certificate.is_some())?;
    let id = HostId::next(&state.ids);
    let now = state.clock.now_ms();
    // Without `policyid` the host gets a policy of its own, as on the cloud.
    let automatic = {
        let id = PolicyId::next(&state.ids);
        NewPolicy {
            name: PolicyName::automatic(id.as_str()),
            id,
            settings: PolicySettings::default(),
        }
    };
    let policy = request
        .policy
        .as_ref()
        .map_or(HostPolicy::Create(&automatic), HostPolicy::Existing);
    let policy_id = request.policy.as_ref().unwrap_or(&automatic.id).clone();
    let new = NewHost {
        id: &id,
        project: &caller.project,
        hostname: &hostname,
        certificate_id: certificate.as_ref().map(|(c, _)| c),
        settings: &settings,
        policy,
        created_at: now,
    };
    let given_name = certificate
        .as_ref()
        .map(|(_, n)| n.as_str())
        .unwrap_or_default();
    state
        .store
        .insert_host(&new, &caller.credential, |facts| {
            check_bind(given_name, &facts.name, facts.expire_time, true, now)
        })
        .await
        .map_err(|e| match e {
            WriteError::Store(StoreError::NameTaken) => ApiError::new(
                ErrorCode::NameDuplicate,
                format!(
                    "hostname {} is already protected in this project; update that host instead",
                    hostname.as_str()
                ),
            ),
            other => other.into(),
        })?;
    tracing::info!(host = %id, project = %caller.project, "host created");
    Ok(Json(HostResponse::from(HostRecord {
        id,
        hostname: hostname.as_str().to_owned(),
        certificate_id: certificate.as_ref().map(|(c, _)| c.clone()),
        certificate_name: certificate.map(|(_, n)| n),
        policy_id: Some(policy_id),
        settings,
        created_at: now,
    })))
}

/// `GET /v1/{project_id}/premium-waf/host`: a page of hosts, newest first.
#[utoipa::path(get, path = "/v1/{project_id}/premium-waf/host",
    params(PageParams<TenByDefault>, HostListParams),
    responses((status = 200, description = "A page of hosts, newest first", body = ListResponse),
        (status = 400, description = "`WAF.00011002`: bad `hostname`, `policyname` or `protect_status`")))]
async fn list(Ctx { state, caller, .. }: Ctx, query: QueryPairs) -> ApiResult<Json<ListResponse>> {
    let params = HostListParams::parse(&query)?;
    let page = state
        .store
        .list_hosts(&caller.project, &params.to_filter())
        .await?;
    Ok(Json(page.into()))
}

/// `GET /v1/{project_id}/premium-waf/host/{host_id}`: one host with its certificate.
#[utoipa::path(get, path = "/v1/{project_id}/premium-waf/host/{host_id}",
    responses((status = 200, description = "The host", body = HostResponse)))]
async fn show(Ctx { state, caller, id }: Ctx<HostId>) -> ApiResult<Json<HostResponse>> {
    Ok(Json(state.store.host(&caller.project, &id).await?.into()))
}

/// `PUT /v1/{project_id}/premium-waf/host/{host_id}`: changes only the fields the body
/// carries; `certificateid` with `certificatename` rebinds, both empty unbinds.
#[utoipa::path(put, path = "/v1/{project_id}/premium-waf/host/{host_id}", request_body = HostRequest,
    responses((status = 200, description = "The host after the change", body = HostResponse),
        (status = 400, description = "`WAF.00011003`: a bad field, a changed hostname, a \
            certificate pair that does not match, an `HTTPS` front left without a certificate; \
            `WAF.00011006`: bad hostname; `WAF.00021013`: the certificate to bind has expired"),
        (status = 404, description = "`WAF.00022001`: no such host, or no such certificate to \
            bind, in the project")))]
async fn update(
    AdminJson(Ctx { state, caller, id }, body): AdminJson<HostRequest, HostId>,
) -> ApiResult<Json<HostResponse>> {
    let request = body.parse()?;
    let now = state.clock.now_ms();
    state
        .store
        .update_host(
            &caller.project,
            &id,
            request.certificate_to_lock(),
            caller.origin(now),
            |current, facts| request.decide(current, facts, now),
        )
        .await?;
    tracing::info!(host = %id, project = %caller.project, "host updated");
    let record = state.store.host(&caller.project, &id).await?;
    Ok(Json(record.into()))
}

/// `PUT /v1/{project_id}/premium-waf/host/{host_id}/protect-status`: bypass (-1), pause (0)
/// or resume (1) protection; answers `{"protect_status"}`.
#[utoipa::path(put, path = "/v1/{project_id}/premium-waf/host/{host_id}/protect-status", request_body = ProtectStatusBody,
    responses((status = 200, description = "The new status (`protect_status` always present)", body = ProtectStatusBody),
        (status = 400, description = "`WAF.00011003`: `protect_status` missing or not -1, 0 or 1")))]
async fn protect_status(
    AdminJson(Ctx { state, caller, id }, body): AdminJson<ProtectStatusBody, HostId>,
) -> ApiResult<Json<ProtectStatusBody>> {
    let status = ProtectStatus::from_code(
        body.protect_status
            .ok_or_else(|| required("protect_status"))?,
    )?;
    state
        .store
        .update_host(
            &caller.project,
            &id,
            None,
            caller.origin(state.clock.now_ms()),
            |current, _| {
                let mut settings = current.settings.clone();
                settings.protect_status = status;
                Ok::<_, ApiError>(HostChange {
                    certificate_id: current.certificate_id.clone(),
                    settings,
                })
            },
        )
        .await?;
    tracing::info!(host = %id, project = %caller.project, status = status.code(), "host protect status changed");
    Ok(Json(ProtectStatusBody {
        protect_status: Some(i64::from(status.code())),
    }))
}

/// `DELETE /v1/{project_id}/premium-waf/host/{host_id}[?keepPolicy=false]`: stop protecting a
/// domain, freeing its certificate; `keepPolicy=false` also deletes its policy when no other
/// host uses it.
#[utoipa::path(delete, path = "/v1/{project_id}/premium-waf/host/{host_id}",
    params(("keepPolicy" = Option<bool>, Query, description = "`false` also deletes the host's \
        policy when no other host uses it (default `true`); anything but `true` or `false`: 400 \
        `WAF.00011002`")),
    responses((status = 200, description = "The deleted host", body = DeleteResponse),
        (status = 400, description = "`WAF.00011002`: bad `keepPolicy`")))]
async fn delete(
    Admin(Ctx { state, caller, id }, query): Admin<HostId, QueryPairs>,
) -> ApiResult<Json<DeleteResponse>> {
    // An empty `keepPolicy=` keeps the policy, as an absent one does.
    let keep_policy = match query.get("keepPolicy") {
        Some("") => true,
        _ => query.flag("keepPolicy")?.unwrap_or(true),
    };
    let deleted = state
        .store
        .delete_host(
            &caller.project,
            &id,
            keep_policy,
            caller.origin(state.clock.now_ms()),
        )
        .await?;
    tracing::info!(host = %id, project = %caller.project, "host deleted");
    Ok(Json(deleted.into()))
}

/// A mandatory body field.
fn required(field: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RequestBodyIllegal,
        format!("{field} is required"),
    )
}
