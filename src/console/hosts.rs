//! The hosts page: protected domains with protocol, certificate (linked) and its expiry.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::ConsoleState;
use super::api_call::{Call, CallError, send};
use super::certificates::{PAGE_SIZE, text};
use super::error::ConsoleError;
use super::format::{date, status_class, status_word};
use super::layout::{self, form_error};
use super::session::Session;

/// The page's query.
#[derive(Debug, Deserialize)]
pub(super) struct HostsQuery {
    page: Option<i64>,
}

/// `GET /console/hosts`.
pub(super) async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<HostsQuery>,
) -> Result<Response, ConsoleError> {
    let page = query.page.filter(|p| *p >= 1).unwrap_or(1);
    let pairs = [
        ("page", page.to_string()),
        ("pagesize", PAGE_SIZE.to_string()),
    ];
    let (listing, error) = match send(&state, &session, Call::get("premium-waf/host", &pairs)).await
    {
        Ok(v) => (v, None),
        Err(CallError::Api(f)) => (Value::Null, Some(f.sentence())),
        Err(CallError::Fatal(e)) => return Err(e),
    };
    let items = listing["items"].as_array().cloned().unwrap_or_default();
    // The expiry of each certificate on this page, asked once per certificate.
    let mut expiry: Vec<(String, i64)> = Vec::new();
    for id in items.iter().map(|h| text(h, "certificateid")) {
        if id.is_empty() || expiry.iter().any(|(known, _)| *known == id) {
            continue;
        }
        let path = format!("waf/certificate/{id}");
        match send(&state, &session, Call::get(&path, &[])).await {
            Ok(shown) => expiry.push((id, shown["expire_time"].as_i64().unwrap_or(0))),
            Err(CallError::Api(_)) => {}
            Err(CallError::Fatal(e)) => return Err(e),
        }
    }
    let now = state.app.clock.now_ms();
    let total = listing["total"].as_i64().unwrap_or(0);
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let body = html! {
        h1 { "Hosts " span.count { "(" (total) ")" } }
        (form_error(error.as_deref()))
        table.hosts {
            thead { tr {
                th { "Hostname" } th { "Protocol" } th { "Origin servers" } th { "Certificate" }
                th { "Expires" } th { "Status" }
            } }
            tbody {
                @if items.is_empty() { tr { td colspan="6" { "No protected domains yet." } } }
                @for h in &items {
                    @let cid = text(h, "certificateid");
                    @let expire = expiry.iter().find(|(id, _)| *id == cid).map(|(_, at)| *at);
                    tr {
                        td { (text(h, "hostname")) }
                        td { (text(h, "protocol")) }
                        td {
                            @for s in h["server"].as_array().into_iter().flatten() {
                                div {
                                    (text(s, "front_protocol")) " → " (text(s, "back_protocol")) " "
                                    (text(s, "address")) ":" (s["port"].as_i64().unwrap_or(0))
                                }
                            }
                        }
                        td {
                            @if cid.is_empty() { span.none { "none" } }
                            @else { a href={ "/console/certificates/" (cid) } { (text(h, "certificatename")) } }
                        }
                        td { @if let Some(at) = expire { (date(at)) } }
                        td { @if let Some(at) = expire { span class=(status_class(at, now)) { (status_word(at, now)) } } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if page > 1 { a rel="prev" href={ "/console/hosts?page=" (page - 1) } { "Previous" } }
            span { "Page " (page) " of " (pages) }
            @if page < pages { a rel="next" href={ "/console/hosts?page=" (page + 1) } { "Next" } }
        }
    };
    let page = layout::page("Hosts", Some(&session.signed_in()), body);
    Ok(Html(page.into_string()).into_response())
}
