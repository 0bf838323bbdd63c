//! The certificate pages: the table (paged, filtered, with a 90-day timeline), the detail page,
//! and the upload, rename, rotate and delete forms. Every read and write goes through the API.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConsoleState;
use super::api_call::{ApiFailure, Call, CallError, send};
use super::error::ConsoleError;
use super::facts::{self, ChainFacts};
use super::format::{date, date_time, days_left, status_class, status_word};
use super::layout::{self, csrf_field, form_error};
use super::session::Session;
use super::signin::CsrfForm;
use super::timeline;
use crate::domain::CertificateId;

/// Rows of a table page.
pub(super) const PAGE_SIZE: i64 = 25;
/// The API's certificate collection, below `/v1/{project_id}/`.
const CERTIFICATES: &str = "waf/certificate";
/// wafcert's certificate extensions (rotate), below `/v1/{project_id}/`.
const EXTENSIONS: &str = "wafcert/certificate";

/// The table's query: page and the API's filters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    page: Option<i64>,
    name: Option<String>,
    status: Option<String>,
}

impl ListQuery {
    fn page(&self) -> i64 {
        self.page.filter(|p| *p >= 1).unwrap_or(1)
    }

    fn name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }

    /// The API's `exp_status` for the chosen status word.
    fn exp_status(&self) -> Option<&'static str> {
        match self.status.as_deref() {
            Some("valid") => Some("0"),
            Some("expired") => Some("1"),
            Some("expiring") => Some("2"),
            _ => None,
        }
    }

    /// The table's address for `page` with the same filters.
    fn link(&self, page: i64) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("page", page.to_string())];
        pairs.extend(self.name().map(|n| ("name", n.to_owned())));
        if self.exp_status().is_some() {
            pairs.extend(self.status.clone().map(|s| ("status", s)));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/console/certificates?{query}")
    }
}

/// `GET /console/certificates`: the table.
pub(super) async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    list_page(&state, &session, &query, None).await
}

/// The table page, with `upload_error` next to the upload form when an upload was refused.
async fn list_page(
    state: &ConsoleState,
    session: &Session,
    query: &ListQuery,
    upload_error: Option<ApiFailure>,
) -> Result<Response, ConsoleError> {
    let mut pairs: Vec<(&str, String)> = vec![
        ("host", "true".to_owned()),
        ("page", query.page().to_string()),
        ("pagesize", PAGE_SIZE.to_string()),
    ];
    pairs.extend(query.name().map(|n| ("name", n.to_owned())));
    pairs.extend(query.exp_status().map(|s| ("exp_status", s.to_owned())));
    let (listing, list_error) = match send(state, session, Call::get(CERTIFICATES, &pairs)).await {
        Ok(v) => (v, None),
        Err(CallError::Api(f)) => (json!({"total": 0, "items": []}), Some(f)),
        Err(CallError::Fatal(e)) => return Err(e),
    };
    let now = state.app.clock.now_ms();
    let mut rows = Vec::new();
    for item in listing["items"].as_array().into_iter().flatten() {
        let id = text(item, "id");
        let path = format!("{CERTIFICATES}/{id}");
        let chain = match send(state, session, Call::get(&path, &[])).await {
            Ok(shown) => facts::read(&text(&shown, "content")),
            Err(CallError::Api(_)) => None,
            Err(CallError::Fatal(e)) => return Err(e),
        };
        rows.push((item.clone(), chain));
    }
    let timeline = timeline::weeks(state, session, now).await?;
    let total = listing["total"].as_i64().unwrap_or(0);
    let status = upload_error.as_ref().map_or(StatusCode::OK, |f| f.status);
    let body = html! {
        h1 { "Certificates " span.count { "(" (total) ")" } }
        (timeline::render(&timeline, now))
        form.filters method="get" action="/console/certificates" {
            label for="name" { "Name contains" }
            input #name type="search" name="name" value=(query.name().unwrap_or_default());
            label for="status" { "Status" }
            select #status name="status" {
                @for (value, label) in [("", "Any"), ("valid", "Valid"), ("expiring", "Expiring"), ("expired", "Expired")] {
                    option value=(value) selected[query.status.as_deref().unwrap_or_default() == value] { (label) }
                }
            }
            button type="submit" { "Filter" }
        }
        @if let Some(f) = &list_error { (form_error(Some(&f.sentence()))) }
        (table(&rows, now))
        (pager(query, total))
        @if session.is_admin() {
            (upload_form(session, upload_error.as_ref()))
        }
    };
    let page = layout::page("Certificates", Some(&session.signed_in()), body);
    Ok((status, Html(page.into_string())).into_response())
}

fn table(rows: &[(Value, Option<ChainFacts>)], now: i64) -> Markup {
    html! {
        table.certificates {
            thead { tr {
                th { "Name" } th { "Common name and SANs" } th { "Issuer" } th { "Expires" }
                th { "Days left" } th { "Status" } th { "Hosts" }
            } }
            tbody {
                @if rows.is_empty() {
                    tr { td colspan="7" { "No certificates match." } }
                }
                @for (item, chain) in rows {
                    @let expire = item["expire_time"].as_i64().unwrap_or(0);
                    tr {
                        td { a href={ "/console/certificates/" (text(item, "id")) } { (text(item, "name")) } }
                        td { (names(chain.as_ref())) }
                        td { (chain.as_ref().map_or("unknown", |c| c.issuer_name.as_str())) }
                        td { time datetime=(date(expire)) { (date(expire)) } }
                        td.num { (days_left(expire, now)) }
                        td { span class=(status_class(expire, now)) { (status_word(expire, now)) } }
                        td { (hosts(item)) }
                    }
                }
            }
        }
    }
}

/// Common name, then the SANs that differ from it.
fn names(chain: Option<&ChainFacts>) -> Markup {
    html! {
        @if let Some(c) = chain {
            @if let Some(cn) = &c.common_name { strong { (cn) } }
            @for san in c.sans.iter().filter(|s| Some(*s) != c.common_name.as_ref()) {
                " " span.san { (san) }
            }
        } @else { "unknown" }
    }
}

fn hosts(item: &Value) -> Markup {
    let bound = item["bind_host"].as_array().cloned().unwrap_or_default();
    html! {
        @if bound.is_empty() { span.none { "none" } }
        @for (i, h) in bound.iter().enumerate() {
            @if i > 0 { ", " }
            (text(h, "hostname"))
        }
    }
}

fn pager(query: &ListQuery, total: i64) -> Markup {
    let page = query.page();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 { a rel="prev" href=(query.link(page - 1)) { "Previous" } }
            span { "Page " (page) " of " (pages) }
            @if page < pages { a rel="next" href=(query.link(page + 1)) { "Next" } }
        }
    }
}

fn upload_form(session: &Session, error: Option<&ApiFailure>) -> Markup {
    html! {
        section.upload {
            h2 { "Upload a certificate" }
            (form_error(error.map(ApiFailure::sentence).as_deref()))
            form method="post" action="/console/certificates" enctype="multipart/form-data" {
                (csrf_field(&session.csrf))
                label for="upload-name" { "Name" }
                input #upload-name type="text" name="name" required;
                label for="content_file" { "Certificate chain (PEM file)" }
                input #content_file type="file" name="content_file" accept=".pem,.crt,.cer";
                label for="content" { "…or paste it" }
                textarea #content name="content" rows="4" placeholder="-----BEGIN CERTIFICATE-----" {}
                label for="key_file" { "Private key (PEM file)" }
                input #key_file type="file" name="key_file" accept=".pem,.key";
                label for="key" { "…or paste it" }
                textarea #key name="key" rows="4" placeholder="-----BEGIN PRIVATE KEY-----" {}
                button type="submit" { "Upload" }
            }
        }
    }
}

/// The upload form's fields: a pasted PEM or an uploaded file for each of chain and key.
#[derive(Debug, Default)]
struct UploadForm {
    csrf: String,
    name: String,
    content: String,
    key: String,
}

async fn read_upload(mut multipart: Multipart) -> Result<UploadForm, ConsoleError> {
    let bad = |_| ConsoleError::Forbidden("The upload form could not be read.");
    let mut form = UploadForm::default();
    let (mut content_file, mut key_file) = (String::new(), String::new());
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let value = field.text().await.map_err(bad)?;
        match name.as_str() {
            "csrf" => form.csrf = value,
            "name" => form.name = value,
            "content" => form.content = value,
            "key" => form.key = value,
            "content_file" => content_file = value,
            "key_file" => key_file = value,
            _ => {}
        }
    }
    if !content_file.trim().is_empty() {
        form.content = content_file;
    }
    if !key_file.trim().is_empty() {
        form.key = key_file;
    }
    Ok(form)
}

/// `POST /console/certificates`: uploads a certificate through the API, then shows it.
pub(super) async fn upload(
    State(state): State<ConsoleState>,
    session: Session,
    multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let form = read_upload(multipart).await?;
    session.check_write(&form.csrf)?;
    let body = json!({"name": form.name.trim(), "content": form.content, "key": form.key});
    let call = Call::with_body(Method::POST, CERTIFICATES, Some(body));
    match send(&state, &session, call).await {
        Ok(created) => Ok(
            Redirect::to(&format!("/console/certificates/{}", text(&created, "id")))
                .into_response(),
        ),
        Err(CallError::Api(f)) => list_page(&state, &session, &ListQuery::default(), Some(f)).await,
        Err(CallError::Fatal(e)) => Err(e),
    }
}

/// Errors of the detail page's forms, each shown beside its form.
#[derive(Debug, Default)]
struct FormErrors {
    rename: Option<ApiFailure>,
    rotate: Option<ApiFailure>,
    delete: Option<ApiFailure>,
}

impl FormErrors {
    fn status(&self) -> StatusCode {
        self.rename
            .as_ref()
            .or(self.rotate.as_ref())
            .or(self.delete.as_ref())
            .map_or(StatusCode::OK, |f| f.status)
    }
}

/// `GET /console/certificates/{id}`: everything the API knows about one certificate.
pub(super) async fn detail(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    detail_page(&state, &session, &id, FormErrors::default()).await
}

async fn detail_page(
    state: &ConsoleState,
    session: &Session,
    id: &str,
    errors: FormErrors,
) -> Result<Response, ConsoleError> {
    let id = certificate_id(id)?;
    let path = format!("{CERTIFICATES}/{id}");
    let shown = match send(state, session, Call::get(&path, &[])).await {
        Ok(v) => v,
        Err(CallError::Api(f)) if f.status == StatusCode::NOT_FOUND => {
            return Err(ConsoleError::NotFound);
        }
        Err(CallError::Api(f)) => return Err(ConsoleError::internal(f.sentence())),
        Err(CallError::Fatal(e)) => return Err(e),
    };
    let now = state.app.clock.now_ms();
    let chain = facts::read(&text(&shown, "content"));
    let expire = shown["expire_time"].as_i64().unwrap_or(0);
    let name = text(&shown, "name");
    let bound = shown["bind_host"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p { a href="/console/certificates" { "← All certificates" } }
        h1 { (name) " " span class=(status_class(expire, now)) { (status_word(expire, now)) } }
        dl.facts {
            dt { "ID" } dd { code { (id) } }
            dt { "Expires" } dd { (date_time(expire)) " (" (days_left(expire, now)) " days left)" }
            dt { "Uploaded" } dd { (date_time(shown["timestamp"].as_i64().unwrap_or(0))) }
            @if let Some(c) = &chain {
                dt { "Common name" } dd { (c.common_name.as_deref().unwrap_or("none")) }
                dt { "SANs" } dd { @if c.sans.is_empty() { "none" } @else { (c.sans.join(", ")) } }
                dt { "Subject" } dd { (c.subject) }
                dt { "Issuer" } dd { (c.issuer) }
                dt { "Valid from" } dd { (date_time(c.not_before)) }
                dt { "Valid until" } dd { (date_time(c.not_after)) }
                dt { "Serial" } dd { code { (c.serial) } }
                dt { "SHA-256 fingerprint" } dd { code.wrap { (c.fingerprint) } }
                dt { "Chain" } dd { (c.chain_length) " certificate(s)" }
            }
            dt { "Bound hosts" }
            dd {
                @if bound.is_empty() { "none" }
                ul { @for h in &bound { li { (text(h, "hostname")) " " code { (text(h, "id")) } } } }
            }
        }
        details { summary { "Certificate chain (PEM)" } pre { (text(&shown, "content")) } }
        @if session.is_admin() {
            section.actions {
                form method="post" action={ "/console/certificates/" (id) "/rename" } {
                    h2 { "Rename" }
                    (form_error(errors.rename.as_ref().map(ApiFailure::sentence).as_deref()))
                    (csrf_field(&session.csrf))
                    label for="new-name" { "New name" }
                    input #new-name type="text" name="name" value=(name) required;
                    button type="submit" { "Rename" }
                }
                form method="post" action={ "/console/certificates/" (id) "/rotate" } enctype="multipart/form-data" {
                    h2 { "Rotate" }
                    (form_error(errors.rotate.as_ref().map(ApiFailure::sentence).as_deref()))
                    (csrf_field(&session.csrf))
                    p { "Upload the renewal: every bound host moves to it and this certificate is deleted, in one step." }
                    label for="rotate-name" { "New name (empty: keep this one)" }
                    input #rotate-name type="text" name="name";
                    label for="rotate-content-file" { "Certificate chain (PEM file)" }
                    input #rotate-content-file type="file" name="content_file" accept=".pem,.crt,.cer";
                    label for="rotate-content" { "…or paste it" }
                    textarea #rotate-content name="content" rows="4" placeholder="-----BEGIN CERTIFICATE-----" {}
                    label for="rotate-key-file" { "Private key (PEM file)" }
                    input #rotate-key-file type="file" name="key_file" accept=".pem,.key";
                    label for="rotate-key" { "…or paste it" }
                    textarea #rotate-key name="key" rows="4" placeholder="-----BEGIN PRIVATE KEY-----" {}
                    button type="submit" { "Rotate" }
                }
                form method="post" action={ "/console/certificates/" (id) "/delete" } {
                    h2 { "Delete" }
                    (form_error(errors.delete.as_ref().map(ApiFailure::sentence).as_deref()))
                    (csrf_field(&session.csrf))
                    p { "Deleting is refused while hosts use the certificate." }
                    button.danger type="submit" { "Delete" }
                }
            }
        }
    };
    let page = layout::page(&name, Some(&session.signed_in()), body);
    Ok((errors.status(), Html(page.into_string())).into_response())
}

/// The rename form.
#[derive(Deserialize)]
pub(super) struct RenameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /console/certificates/{id}/rename`.
pub(super) async fn rename(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, ConsoleError> {
    session.check_write(&form.csrf)?;
    let cid = certificate_id(&id)?;
    let path = format!("{CERTIFICATES}/{cid}");
    let call = Call::with_body(Method::PUT, &path, Some(json!({"name": form.name.trim()})));
    match send(&state, &session, call).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/certificates/{cid}")).into_response()),
        Err(CallError::Api(f)) => {
            let errors = FormErrors {
                rename: Some(f),
                ..FormErrors::default()
            };
            detail_page(&state, &session, &id, errors).await
        }
        Err(CallError::Fatal(e)) => Err(e),
    }
}

/// `POST /console/certificates/{id}/rotate`: replaces the certificate on its hosts with the
/// uploaded renewal through the API's rotate extension, then shows the new certificate.
pub(super) async fn rotate(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let form = read_upload(multipart).await?;
    session.check_write(&form.csrf)?;
    let cid = certificate_id(&id)?;
    let path = format!("{EXTENSIONS}/{cid}/rotate");
    let mut body = json!({"content": form.content, "key": form.key});
    let name = form.name.trim();
    if !name.is_empty() {
        body["name"] = json!(name);
    }
    match send(
        &state,
        &session,
        Call::with_body(Method::POST, &path, Some(body)),
    )
    .await
    {
        Ok(rotated) => Ok(
            Redirect::to(&format!("/console/certificates/{}", text(&rotated, "id")))
                .into_response(),
        ),
        Err(CallError::Api(f)) => {
            let errors = FormErrors {
                rotate: Some(f),
                ..FormErrors::default()
            };
            detail_page(&state, &session, &id, errors).await
        }
        Err(CallError::Fatal(e)) => Err(e),
    }
}

/// `POST /console/certificates/{id}/delete`.
pub(super) async fn delete(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    session.check_write(&form.csrf)?;
    let cid = certificate_id(&id)?;
    let path = format!("{CERTIFICATES}/{cid}");
    match send(
        &state,
        &session,
        Call::with_body(Method::DELETE, &path, None),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/console/certificates").into_response()),
        Err(CallError::Api(f)) => {
            let errors = FormErrors {
                delete: Some(f),
                ..FormErrors::default()
            };
            detail_page(&state, &session, &id, errors).await
        }
        Err(CallError::Fatal(e)) => Err(e),
    }
}

/// A certificate id from the path; anything else is not found.
fn certificate_id(text: &str) -> Result<CertificateId, ConsoleError> {
    CertificateId::parse(text).ok_or(ConsoleError::NotFound)
}

/// A string field of an API answer ("" when absent).
pub(super) fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
