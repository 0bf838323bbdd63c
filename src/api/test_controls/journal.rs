//! The request journal: the last [`CAPACITY`] API requests of this process, newest first on
//! reading. Only the request line, the caller's public credential id and the outcome are kept;
//! no body, so no private key or secret can ever appear in it.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ControlState, Shared, bad_input};
use crate::api::error::ApiResult;
use crate::api::extract::QueryPairs;
use crate::api::operation::is_operation;

/// Entries kept; older ones are dropped.
pub(super) const CAPACITY: usize = 10_000;

/// One journaled request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WafcertJournalEntry)]
pub(super) struct Entry {
    /// Real time the request arrived, RFC 3339.
    pub time: String,
    pub method: String,
    pub path: String,
    /// The SDK operation name, when the path is an API operation.
    #[schema(value_type = Option<super::OperationName>)]
    pub operation: Option<&'static str>,
    pub project_id: Option<String>,
    /// A token's id (first 16 hex of its SHA-256) or an access key id; never a secret.
    pub credential: Option<String>,
    pub status: u16,
    #[schema(value_type = Option<String>)]
    pub error_code: Option<Arc<str>>,
    pub duration_ms: u64,
}

/// A bounded ring of entries.
#[derive(Debug, Default)]
pub(super) struct Journal {
    entries: Shared<VecDeque<Entry>>,
}

impl Journal {
    /// Appends an entry, dropping the oldest when full.
    pub(super) fn record(&self, entry: Entry) {
        let mut entries = self.entries.lock();
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Up to `limit` entries, newest first, of `project` and `operation` when given.
    pub(super) fn list(
        &self,
        project: Option<&str>,
        operation: Option<&str>,
        limit: usize,
    ) -> Vec<Entry> {
        self.entries
            .lock()
            .iter()
            .rev()
            .filter(|e| project.is_none_or(|p| e.project_id.as_deref() == Some(p)))
            .filter(|e| operation.is_none_or(|o| e.operation == Some(o)))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Forgets the entries of `project`, or all of them.
    pub(super) fn clear(&self, project: Option<&str>) {
        let mut entries = self.entries.lock();
        match project {
            Some(p) => entries.retain(|e| e.project_id.as_deref() != Some(p)),
            None => entries.clear(),
        }
    }
}

/// The journal page answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WafcertJournal)]
pub(super) struct JournalBody {
    items: Vec<Entry>,
}

/// `GET /_wafcert/requests?project_id=&operation=&limit=`: newest first; `limit` defaults to
/// 1000.
#[utoipa::path(get, path = "/_wafcert/requests", operation_id = "WafcertListRequests",
    params(("project_id" = Option<String>, Query, description = "Only requests of this project"),
        ("operation" = inline(Option<super::OperationName>), Query, description = "Only calls of \
            this SDK operation; an unknown name is 400 `WAF.00011003`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 10000, description = "At most this \
            many, default 1000")),
    responses((status = 200, description = "Journaled requests, newest first", body = JournalBody),
        (status = 400, description = "`WAF.00011003`: unknown `operation` or bad `limit`")))]
pub(super) async fn show(
    State(s): State<ControlState>,
    query: QueryPairs,
) -> ApiResult<Json<JournalBody>> {
    let filter = |key| query.get(key).filter(|v| !v.is_empty());
    let operation = filter("operation");
    if let Some(op) = operation
        && !is_operation(op)
    {
        return Err(bad_input(format!("unknown operation {op:?}")));
    }
    let limit = match filter("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=CAPACITY).contains(l))
            .ok_or_else(|| bad_input("limit must be 1 to 10000"))?,
        None => 1000,
    };
    let items = s
        .controls
        .journal
        .list(filter("project_id"), operation, limit);
    Ok(Json(JournalBody { items }))
}

/// `DELETE /_wafcert/requests`: empties the journal.
#[utoipa::path(delete, path = "/_wafcert/requests", operation_id = "WafcertClearRequests",
    responses((status = 200, description = "The journal is empty", body = JournalBody)))]
pub(super) async fn clear(State(s): State<ControlState>) -> Json<JournalBody> {
    s.controls.journal.clear(None);
    Json(JournalBody { items: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize, project: &str) -> Entry {
        Entry {
            time: String::new(),
            method: "GET".to_owned(),
            path: format!("/{n}"),
            operation: Some("ListCertificates"),
            project_id: Some(project.to_owned()),
            credential: None,
            status: 200,
            error_code: None,
            duration_ms: 0,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_filters() {
        let journal = Journal::default();
        for n in 0..CAPACITY + 5 {
            journal.record(entry(n, if n % 2 == 0 { "a" } else { "b" }));
        }
        let all = journal.list(None, None, usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].path, format!("/{}", CAPACITY + 4), "newest first");
        assert_eq!(all[CAPACITY - 1].path, "/5", "oldest dropped");
        assert!(
            journal
                .list(Some("a"), None, 3)
                .iter()
                .all(|e| e.project_id.as_deref() == Some("a"))
        );
        assert!(journal.list(None, Some("ShowCertificate"), 10).is_empty());
        journal.clear(Some("a"));
        assert!(journal.list(Some("a"), None, 10).is_empty());
        assert_eq!(journal.list(Some("b"), None, 10).len(), 10);
        journal.clear(None);
        assert!(journal.list(None, None, 10).is_empty());
    }
}
