//! The certificate endpoints under `/v1/{project_id}/waf/certificate`: upload, list, show,
//! rename or replace, delete, and binding to hosts from the certificate side. Wire types live
//! in `wire`, the list query in `query`.

mod query;
#[cfg(test)]
mod tests;
mod wire;

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Admin, AdminJson, Ctx, QueryPairs};
use super::paging::{AllByDefault, PageParams};
use super::read_cache::{
    CachedCertificate, CachedPage, CertificateKey, PageKey, ReadCache, Rendered, RenderedBody,
};
use super::search_index::SearchIndexes;
use super::{AppState, resource_routes};
use crate::auth::Principal;
use crate::domain::{
    CertificateId, CertificateName, CertificatePair, ExpiryStatus, HostId, Millis, NameLimit,
    ProjectId, Role, parse_pair, refuse_expired,
};
use crate::storage::{BoundHost, CertificateRecord, Page, ReplacedPair, SealedUpload, Store};
use query::ListParams;
pub(super) use wire::ShowResponse;
use wire::{
    ApplyBody, ApplyResponse, CertificateBody, CreateResponse, DeleteResponse, ListItem,
    ListResponse, UpdateResponse, group_by_certificate,
};

/// The certificate routes, all under `/v1/{project_id}/waf/certificate`.
pub(super) fn routes() -> Router<AppState> {
    let base = "/v1/{project_id}/waf/certificate";
    let item = get(show).put(update).delete(delete);
    resource_routes::<CertificateId>(base, get(list).post(create), item).route(
        &format!("{base}/{{certificate_id}}/apply-to-hosts"),
        post(apply_to_hosts),
    )
}

/// `GET /v1/{project_id}/waf/certificate`: a page of certificates, newest first.
#[utoipa::path(get, path = "/v1/{project_id}/waf/certificate",
    params(PageParams<AllByDefault>, ListParams),
    responses((status = 200, description = "A page of certificates, newest first", body = ListResponse),
        (status = 400, description = "`WAF.00011002`: bad `name`, `host` or `exp_status`")))]
async fn list(Ctx { state, caller, .. }: Ctx, query: QueryPairs) -> ApiResult<Response> {
    let params = ListParams::parse(&query)?;
    let now = state.clock.now_ms();
    let page = read_page(
        &state.cache,
        &state.search,
        &state.store,
        &caller.project,
        caller.project_version,
        &params,
        now,
    )
    .await?;
    let body = page
        .rendered
        .get_or_render(now, || render_page(&page, params.host, now))?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

/// The JSON answer of `page` at certificate time `now`, and the range of the clock it holds
/// for: with hosts, until the first `exp_status` change of one of its certificates.
fn render_page(page: &CachedPage, with_hosts: bool, now: Millis) -> ApiResult<RenderedBody> {
    let mut bound = group_by_certificate(&page.bound);
    let items: Vec<ListItem> = page
        .items
        .iter()
        .map(|c| {
            let extra = with_hosts.then(|| {
                (
                    ExpiryStatus::at(c.expire_time, now).code(),
                    bound.remove(&c.id).unwrap_or_default(),
                )
            });
            ListItem::new(c, extra)
        })
        .collect();
    let bytes = serde_json::to_vec(&ListResponse::new(page.total, items))
        .map_err(|e| ApiError::internal(format!("rendering a list page: {e}")))?;
    let until = if with_hosts {
        let earliest = |after: Millis| {
            page.items
                .iter()
                .map(|c| c.expire_time)
                .filter(|e| *e > after)
                .min()
        };
        ExpiryStatus::next_change(
            now,
            earliest(now),
            earliest(ExpiryStatus::soon_horizon(now)),
        )
        .unwrap_or(Millis::MAX)
    } else {
        Millis::MAX
    };
    Ok(RenderedBody {
        bytes: bytes.into(),
        from: if with_hosts { now } else { Millis::MIN },
        until,
    })
}

/// A list page through the read cache: a page of stored data is valid while the project's
/// version stays; an `exp_status` page also only until the project's next expiry change on the
/// certificate clock (read in the same miss, as of the same `now` as the filter). A name search
/// that misses is answered from the project's in-memory index when it is at the caller's
/// version ([`SearchIndexes`]), else by the database.
async fn read_page(
    cache: &ReadCache,
    search: &Arc<SearchIndexes>,
    store: &Store,
    project: &ProjectId,
    version: i64,
    params: &ListParams,
    now: Millis,
) -> ApiResult<std::sync::Arc<CachedPage>> {
    let filter = params.to_filter(now);
    let key = PageKey {
        project: project.to_string(),
        name: filter
            .name_contains
            .as_ref()
            .map(|n| n.to_ascii_lowercase()),
        window: filter.window,
        with_hosts: params.host,
        exp_status: params.exp_status.map(ExpiryStatus::code),
    };
    cache
        .read_through(Some(key), version, now, async {
            let changes_at = match filter.expiry {
                Some(_) => Some(
                    store
                        .next_expiry_change(project, now)
                        .await?
                        .unwrap_or(Millis::MAX),
                ),
                None => None,
            };
            let from_memory = match (&filter.name_contains, filter.expiry) {
                (Some(text), None) => search.search(store, project, version, text, filter.window),
                _ => None,
            };
            let cheap_to_redo = from_memory.as_ref().is_some_and(|m| m.ids.is_empty());
            let found = match from_memory {
                Some(matches) => {
                    let ids: Vec<&CertificateId> = matches.ids.iter().collect();
                    Page {
                        total: matches.total,
                        items: store.certificate_summaries(project, &ids).await?,
                    }
                }
                None => store.list_certificates(project, &filter).await?,
            };
            let bound = if params.host {
                let ids: Vec<&CertificateId> = found.items.iter().map(|c| &c.id).collect();
                store.bound_hosts(project, &ids).await?
            } else {
                Vec::new()
            };
            Ok::<_, ApiError>(CachedPage {
                total: found.total,
                items: found.items,
                bound,
                changes_at,
                rendered: Rendered::default(),
                cheap_to_redo,
            })
        })
        .await
}

/// `POST /v1/{project_id}/waf/certificate`: upload a certificate chain and its private key.
#[utoipa::path(post, path = "/v1/{project_id}/waf/certificate", request_body = CertificateBody,
    responses((status = 200, description = "The stored certificate (the key is not echoed)", body = CreateResponse),
        (status = 400, description = "`WAF.00011003`: a missing field, bad PEM, an unsupported, \
            encrypted or mismatched key; `WAF.00011005`: bad name; `WAF.00011016`: the name is taken"),
        (status = 403, description = "`WAF.00022005`: the certificate quota is used up")))]
async fn create(
    AdminJson(Ctx { state, caller, .. }, body): AdminJson<CertificateBody>,
) -> ApiResult<Json<CreateResponse>> {
    let name = required(body.name, "name")?;
    let content = required(body.content, "content")?;
    let key = required(body.key, "key")?;
    let name =
        CertificateName::parse_max(&name, state.settings.contract.name_max(NameLimit::Create))?;
    let upload = prepare_upload(&state, content, key).await?;
    let now = state.clock.now_ms();
    let new = upload.sealed(now).named(&caller.project, &name);
    state
        .store
        .insert_certificate(&new, state.settings.certificate_quota, &caller.credential)
        .await?;
    let (id, expire_time) = (&upload.id, upload.pair.expire_time);
    tracing::info!(certificate = %id, project = %caller.project, "certificate created");
    let exp_status = ExpiryStatus::at(expire_time, now).code();
    Ok(Json(CreateResponse::new(
        id,
        &name,
        expire_time,
        exp_status,
        now,
    )))
}

/// `GET /v1/{project_id}/waf/certificate/{certificate_id}`: one certificate, with its key for
/// admins (unless the server withholds keys) and the hosts using it.
#[utoipa::path(get, path = "/v1/{project_id}/waf/certificate/{certificate_id}",
    responses((status = 200, description = "The certificate, with its key for admins", body = ShowResponse)))]
async fn show(Ctx { state, caller, id }: Ctx<CertificateId>) -> ApiResult<Json<ShowResponse>> {
    let key = CertificateKey {
        project: caller.project.to_string(),
        id: id.to_string(),
    };
    let entry = state
        .cache
        .read_through(
            Some(key),
            caller.project_version,
            state.clock.now_ms(),
            async {
                let record = state.store.certificate(&caller.project, &id).await?;
                let bound = state
                    .store
                    .bound_hosts(&caller.project, &[&record.id])
                    .await?;
                Ok::<_, ApiError>(CachedCertificate { record, bound })
            },
        )
        .await?;
    show_body(&state, &caller, &entry.record, &entry.bound).map(Json)
}

/// The show answer for a record and its bound hosts (the key only for admins, unless the
/// server withholds keys); rotation answers with it too.
pub(super) fn show_body(
    state: &AppState,
    caller: &Principal,
    record: &CertificateRecord,
    bound: &[BoundHost],
) -> ApiResult<ShowResponse> {
    let reveal = caller.role == Role::Admin && !state.settings.withhold_private_keys;
    let key = if reveal {
        Some(
            state
                .sealer
                .open_text(&record.sealed_key, record.id.as_str())
                .map_err(ApiError::internal)?,
        )
    } else {
        None
    };
    let exp_status = ExpiryStatus::at(record.expire_time, state.clock.now_ms()).code();
    Ok(ShowResponse::new(record, key, exp_status, bound))
}

/// `PUT /v1/{project_id}/waf/certificate/{certificate_id}`: rename, optionally replacing the
/// chain and key; refused while a host uses the certificate.
#[utoipa::path(put, path = "/v1/{project_id}/waf/certificate/{certificate_id}", request_body = CertificateBody,
    responses((status = 200, description = "The renamed (or replaced) certificate", body = UpdateResponse),
        (status = 400, description = "`WAF.00011003`: a missing name, bad PEM or key, or only one of \
            `content` and `key`; `WAF.00011005`: bad name; `WAF.00011016`: the name is taken; \
            `WAF.00022003`: a host uses the certificate")))]
async fn update(
    AdminJson(Ctx { state, caller, id }, body): AdminJson<CertificateBody, CertificateId>,
) -> ApiResult<Json<UpdateResponse>> {
    let name = required(body.name, "name")?;
    let name =
        CertificateName::parse_max(&name, state.settings.contract.name_max(NameLimit::Update))?;
    let pair = match (body.content, body.key) {
        (None, None) => None,
        (Some(content), Some(key)) => Some(check_pair(content, key).await?),
        _ => {
            return Err(ApiError::new(
                ErrorCode::RequestBodyIllegal,
                "content and key must be given together (or neither, to rename only)",
            ));
        }
    };
    let sealed = match &pair {
        Some(p) => Some(
            state
                .sealer
                .seal(p.key.as_bytes(), id.as_str())
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let replaced = pair
        .as_ref()
        .zip(sealed.as_deref())
        .map(|(p, sealed_key)| ReplacedPair {
            content: &p.content,
            sealed_key,
            expire_time: p.expire_time,
            leaf_sha256: &p.leaf_sha256,
            key_sha256: &p.key_sha256,
        });
    let record = state
        .store
        .update_certificate(
            &caller.project,
            &id,
            &name,
            replaced.as_ref(),
            caller.origin(state.clock.now_ms()),
        )
        .await?;
    let exp_status = ExpiryStatus::at(record.expire_time, state.clock.now_ms()).code();
    Ok(Json(UpdateResponse::new(record, exp_status)))
}

/// `DELETE /v1/{project_id}/waf/certificate/{certificate_id}`: refused while a host uses it.
#[utoipa::path(delete, path = "/v1/{project_id}/waf/certificate/{certificate_id}",
    responses((status = 200, description = "The deleted certificate", body = DeleteResponse),
        (status = 400, description = "`WAF.00022003`: a host uses the certificate")))]
async fn delete(
    Admin(Ctx { state, caller, id }, ()): Admin<CertificateId>,
) -> ApiResult<Json<DeleteResponse>> {
    let record = state
        .store
        .delete_certificate(&caller.project, &id, caller.origin(state.clock.now_ms()))
        .await?;
    tracing::info!(certificate = %id, project = %caller.project, "certificate deleted");
    Ok(Json(record.into()))
}

/// `POST /v1/{project_id}/waf/certificate/{certificate_id}/apply-to-hosts`: bind the
/// certificate to every listed dedicated-mode host, all or nothing.
#[utoipa::path(post, path = "/v1/{project_id}/waf/certificate/{certificate_id}/apply-to-hosts", request_body = ApplyBody,
    responses((status = 200, description = "The certificate with every host now using it", body = ApplyResponse),
        (status = 400, description = "`WAF.00011003`: no `premium_host_ids`, or `cloud_host_ids` \
            given; `WAF.00021013`: the certificate has expired"),
        (status = 404, description = "`WAF.00022001`: no such certificate, or one of the hosts is \
            not in the project")))]
async fn apply_to_hosts(
    AdminJson(Ctx { state, caller, id }, body): AdminJson<ApplyBody, CertificateId>,
) -> ApiResult<Json<ApplyResponse>> {
    if body.cloud_host_ids.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "cloud_host_ids must be empty: this service has dedicated-mode (premium) hosts only",
        ));
    }
    let wanted = body.premium_host_ids.unwrap_or_default();
    if wanted.is_empty() {
        return Err(ApiError::new(
            ErrorCode::RequestBodyIllegal,
            "premium_host_ids must list at least one host id",
        ));
    }
    let hosts = wanted
        .iter()
        .map(|h| HostId::parse(h).ok_or_else(|| ApiError::not_found(&format!("host {h}"))))
        .collect::<Result<Vec<_>, _>>()?;
    // The certificate is read before the bind: a rotation may delete it the moment the bind
    // commits, and the bind has still happened (the rotation moved the host on).
    let record = state.store.certificate(&caller.project, &id).await?;
    let now = state.clock.now_ms();
    state
        .store
        .bind_hosts(&caller.project, &id, &hosts, caller.origin(now), |facts| {
            refuse_expired(facts.expire_time, now)
        })
        .await?;
    let bound = state
        .store
        .bound_hosts(&caller.project, &[&record.id])
        .await?;
    Ok(Json(ApplyResponse::new(record, bound)))
}

/// A mandatory body field.
pub(super) fn required(value: Option<String>, field: &str) -> ApiResult<String> {
    value.ok_or_else(|| {
        ApiError::new(
            ErrorCode::RequestBodyIllegal,
            format!("{field} is required"),
        )
    })
}

/// Parses and checks a pair off the async workers (RSA key loading is CPU work).
async fn check_pair(content: String, key: String) -> ApiResult<CertificatePair> {
    tokio::task::spawn_blocking(move || parse_pair(&content, &key))
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

/// A certificate about to be stored: its checked pair, its new id and the key sealed to that
/// id. Create and rotate both start here, so an upload is validated and sealed one way.
pub(super) struct Upload {
    /// The validated PEM pair.
    pub(super) pair: CertificatePair,
    /// The new row's id (seeded when test controls set a seed).
    pub(super) id: CertificateId,
    /// The private key sealed under the master key, bound to `id`.
    pub(super) sealed_key: Vec<u8>,
}

impl Upload {
    /// What storage keeps of this upload, made at `now`.
    pub(super) fn sealed(&self, now: Millis) -> SealedUpload<'_> {
        SealedUpload {
            id: &self.id,
            content: &self.pair.content,
            sealed_key: &self.sealed_key,
            expire_time: self.pair.expire_time,
            created_at: now,
            leaf_sha256: &self.pair.leaf_sha256,
            key_sha256: &self.pair.key_sha256,
        }
    }
}

/// Validates `content` + `key`, takes the next id and seals the key to it.
pub(super) async fn prepare_upload(
    state: &AppState,
    content: String,
    key: String,
) -> ApiResult<Upload> {
    let pair = check_pair(content, key).await?;
    let id = CertificateId::next(&state.ids);
    let sealed_key = state
        .sealer
        .seal(pair.key.as_bytes(), id.as_str())
        .map_err(ApiError::internal)?;
    Ok(Upload {
        pair,
        id,
        sealed_key,
    })
}
