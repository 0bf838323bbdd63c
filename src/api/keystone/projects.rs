//! Keystone's project and domain lookups, for SDKs that find their project id themselves:
//! huaweicloudsdkcore's `BasicCredentials(ak, sk)` without a project id asks
//! `GET /v3/projects?name=<region>` and needs exactly one project back; its global
//! credentials ask `GET /v3/auth/domains` first. Any credential of the WAF API may ask (an
//! admin-command token, a Keystone token, an AK/SK signature), and sees only its own project.
//!
//! Every project of a wafcert server lives in the server's one region, so the caller's project
//! answers to its own name and to the region name.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use serde_json::{Value, json};

use super::super::AppState;
use super::super::authentication::authenticated;
use super::documented::{DomainsResponse, ProjectResponse, ProjectsResponse};
use super::error::KeystoneError;
use crate::auth::domain_id;
use crate::domain::Project;

/// The caller's project.
async fn caller_project(state: &AppState, req: Request) -> Result<Project, KeystoneError> {
    let (principal, _) = authenticated(state, req).await?;
    state
        .store
        .project_by_id(principal.project.as_str())
        .await?
        .ok_or_else(KeystoneError::unauthorized)
}

/// A project in Keystone's shape.
fn project_body(state: &AppState, project: &Project) -> Value {
    let Project { id, name, domain } = project;
    json!({
        "id": id.as_str(),
        "name": name,
        "domain_id": domain_id(domain),
        "parent_id": domain_id(domain),
        "description": "",
        "enabled": true,
        "is_domain": false,
        "tags": [],
        "links": { "self": format!("{}/v3/projects/{id}", state.settings.public_url) }
    })
}

/// Keystone's collection links; wafcert never pages these lists (one project at most).
fn links(state: &AppState, path_and_query: &str) -> Value {
    json!({
        "self": format!("{}{path_and_query}", state.settings.public_url),
        "previous": null,
        "next": null
    })
}

/// The decoded query pairs of a list request; the last `name` wins.
type QueryList = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn name_filter(query: QueryList) -> Result<Option<String>, KeystoneError> {
    let Query(pairs) =
        query.map_err(|_| KeystoneError::bad_request("The query string is malformed."))?;
    Ok(pairs
        .into_iter()
        .rev()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v))
}

/// `GET /v3/projects[?name=]`: the caller's project when the name is absent, the project's
/// name or the server's region; otherwise an empty list.
#[utoipa::path(get, path = "/v3/projects", security(("token" = []), ("aksk" = [])),
    params(("name" = Option<String>, Query, description = "The project's name or the region's")),
    responses((status = 200, description = "The caller's project, if it matches", body = ProjectsResponse),
        (status = 400, description = "A malformed query string")))]
pub(super) async fn list(
    State(state): State<AppState>,
    query: QueryList,
    req: Request,
) -> Result<Json<Value>, KeystoneError> {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/v3/projects", |p| p.as_str())
        .to_owned();
    let name = name_filter(query)?;
    let project = caller_project(&state, req).await?;
    let matches = match name.as_deref() {
        None => true,
        Some(n) => n == project.name || n == state.settings.region,
    };
    let projects: Vec<Value> = if matches {
        vec![project_body(&state, &project)]
    } else {
        Vec::new()
    };
    Ok(Json(
        json!({ "projects": projects, "links": links(&state, &path_and_query) }),
    ))
}

/// `GET /v3/auth/projects`: the projects the caller may scope to (its own).
#[utoipa::path(get, path = "/v3/auth/projects", security(("token" = []), ("aksk" = [])),
    responses((status = 200, description = "The caller's project", body = ProjectsResponse)))]
pub(super) async fn auth_projects(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Value>, KeystoneError> {
    let project = caller_project(&state, req).await?;
    Ok(Json(json!({
        "projects": [project_body(&state, &project)],
        "links": links(&state, "/v3/auth/projects")
    })))
}

/// `GET /v3/auth/domains`: the domain of the caller's project.
#[utoipa::path(get, path = "/v3/auth/domains", security(("token" = []), ("aksk" = [])),
    responses((status = 200, description = "The domain of the caller's project", body = DomainsResponse)))]
pub(super) async fn auth_domains(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Value>, KeystoneError> {
    let Project { domain, .. } = caller_project(&state, req).await?;
    let id = domain_id(&domain);
    Ok(Json(json!({
        "domains": [{
            "id": id,
            "name": domain,
            "description": "",
            "enabled": true,
            "tags": [],
            "links": { "self": format!("{}/v3/domains/{id}", state.settings.public_url) }
        }],
        "links": links(&state, "/v3/auth/domains")
    })))
}

/// `GET /v3/projects/{id}`: the caller's own project; any other id is 404.
#[utoipa::path(get, path = "/v3/projects/{project_id}", security(("token" = []), ("aksk" = [])),
    params(("project_id" = String, Path, description = "The caller's project id (any other is 404)")),
    responses((status = 200, description = "The caller's project", body = ProjectResponse),
        (status = 404, description = "Not the caller's project")))]
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Value>, KeystoneError> {
    let project = caller_project(&state, req).await?;
    if project.id.as_str() != id {
        return Err(KeystoneError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("Could not find project: {id}."),
        ));
    }
    Ok(Json(json!({ "project": project_body(&state, &project) })))
}
