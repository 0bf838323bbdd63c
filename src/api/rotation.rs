//! wafcert's certificate extensions under `/v1/{project_id}/wafcert/certificate/{id}`:
//! `POST .../rotate` replaces a certificate on every host in one transaction, and
//! `GET .../details` reports what the chain says about itself and what is wrong with it.

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::certificates::{ShowResponse, prepare_upload, required, show_body};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminJson, Ctx};
use crate::domain::{
    CertificateId, CertificateName, CheckContext, NameLimit, OtherCertificate, certificate_details,
    inspect, refuse_expired,
};

/// The extension routes of one certificate.
pub(super) fn routes() -> Router<AppState> {
    let base = "/v1/{project_id}/wafcert/certificate/{certificate_id}";
    Router::new()
        .route(&format!("{base}/rotate"), post(rotate))
        .route(&format!("{base}/details"), get(details))
}

/// Body of rotate: the new chain and key, and optionally a new name.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = RotateCertificateRequest)]
struct RotateBody {
    /// Required: the new PEM chain, leaf first.
    #[schema(value_type = String, required = true)]
    content: Option<String>,
    /// Required: the new PEM private key, matching the leaf.
    #[schema(value_type = String, required = true)]
    key: Option<String>,
    /// The new certificate's name (default: the old one's): 1 to 256 of `[A-Za-z0-9._-]`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,256}$")]
    name: Option<String>,
}

/// `POST .../wafcert/certificate/{id}/rotate` (admin): stores the new certificate (checked
/// like a create), moves every host bound to the old one to it and deletes the old one, all in
/// one transaction. Answers the new certificate as a show.
#[utoipa::path(post, path = "/v1/{project_id}/wafcert/certificate/{certificate_id}/rotate", request_body = RotateBody,
    responses((status = 200, description = "The new certificate, as a show answers it", body = ShowResponse),
        (status = 400, description = "`WAF.00011003`: a missing field, bad PEM or key; \
            `WAF.00011005`: bad name; `WAF.00011016`: the name is taken; `WAF.00021013`: the new \
            certificate has expired and hosts use the old one")))]
async fn rotate(
    AdminJson(Ctx { state, caller, id }, body): AdminJson<RotateBody, CertificateId>,
) -> ApiResult<Json<ShowResponse>> {
    let RotateBody { content, key, name } = body;
    let content = required(content, "content")?;
    let key = required(key, "key")?;
    let name = name
        .map(|n| {
            CertificateName::parse_max(&n, state.settings.contract.name_max(NameLimit::Create))
        })
        .transpose()?;
    let upload = prepare_upload(&state, content, key).await?;
    let now = state.clock.now_ms();
    let expire_time = upload.pair.expire_time;
    let rotated = state
        .store
        .rotate_certificate(
            &caller.project,
            &id,
            &upload.sealed(now),
            name.as_ref(),
            caller.origin(now),
            |_, bound| {
                if bound.is_empty() {
                    Ok(())
                } else {
                    refuse_expired(expire_time, now)
                }
            },
        )
        .await?;
    let new = &upload.id;
    tracing::info!(
        old = %id, new = %new, project = %caller.project, hosts = rotated.moved.len(),
        "certificate rotated"
    );
    let bound = state.store.bound_hosts(&caller.project, &[new]).await?;
    show_body(&state, &caller, &rotated.record, &bound).map(Json)
}

/// One finding on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CertificateFinding)]
struct FindingBody {
    severity: &'static str,
    code: &'static str,
    message: String,
}

/// Response of details.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CertificateDetails)]
struct DetailsResponse {
    id: String,
    name: String,
    subject_cn: Option<String>,
    sans: Vec<String>,
    issuer: String,
    serial: String,
    fingerprint_sha256: String,
    key_type: &'static str,
    key_bits: u32,
    signature_algorithm: String,
    not_before: i64,
    not_after: i64,
    chain_length: usize,
    days_left: i64,
    exp_status: i32,
    findings: Vec<FindingBody>,
}

/// `GET .../wafcert/certificate/{id}/details` (any token of the project): the leaf's facts on
/// the server's certificate clock and every finding of the checks, including hostnames bound
/// to it that no SAN covers and the same certificate or key stored under another name.
#[utoipa::path(get, path = "/v1/{project_id}/wafcert/certificate/{certificate_id}/details",
    responses((status = 200, description = "The leaf's facts and the checks' findings", body = DetailsResponse)))]
async fn details(
    Ctx { state, caller, id }: Ctx<CertificateId>,
) -> ApiResult<Json<DetailsResponse>> {
    let record = state.store.certificate(&caller.project, &id).await?;
    let hostnames: Vec<String> = state
        .store
        .bound_hosts(&caller.project, &[&id])
        .await?
        .into_iter()
        .map(|h| h.hostname)
        .collect();
    let own = certificate_details(&record.content).map_err(ApiError::internal)?;
    let rows = state
        .store
        .certificates_sharing(
            &caller.project,
            &id,
            &own.fingerprint_sha256,
            &own.key_sha256,
        )
        .await?;
    // The key is opened only to check it against the chain; it never leaves this function.
    let key = state
        .sealer
        .open_text(&record.sealed_key, record.id.as_str())
        .map_err(ApiError::internal)?;
    let now = state.clock.now_ms();
    let content = record.content.clone();
    let inspection = tokio::task::spawn_blocking(move || {
        let others: Vec<OtherCertificate> = rows
            .into_iter()
            .filter_map(|r| {
                let (leaf, key) = match (r.leaf_sha256, r.key_sha256) {
                    (Some(leaf), Some(key)) => (leaf, key),
                    // Stored before the hashes were recorded: compute them.
                    _ => {
                        let d = certificate_details(&r.content).ok()?;
                        (d.fingerprint_sha256, d.key_sha256)
                    }
                };
                Some(OtherCertificate {
                    name: r.name,
                    fingerprint_sha256: leaf,
                    key_sha256: key,
                })
            })
            .collect();
        let context = CheckContext {
            key: Some(&key),
            hostnames: &hostnames,
            others: &others,
            now,
        };
        inspect(&content, &context)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let facts = inspection.facts;
    Ok(Json(DetailsResponse {
        id: record.id.to_string(),
        name: record.name,
        days_left: facts.days_left(now),
        exp_status: facts.exp_status(now).code(),
        subject_cn: facts.subject_cn,
        sans: facts.sans,
        issuer: facts.issuer,
        serial: facts.serial,
        fingerprint_sha256: facts.fingerprint_sha256,
        key_type: facts.key_type,
        key_bits: facts.key_bits,
        signature_algorithm: facts.signature_algorithm,
        not_before: facts.not_before,
        not_after: facts.not_after,
        chain_length: facts.chain_length,
        findings: inspection
            .findings
            .into_iter()
            .map(|f| FindingBody {
                severity: f.severity.as_str(),
                code: f.code,
                message: f.message,
            })
            .collect(),
    }))
}
