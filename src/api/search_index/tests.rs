//! The index answers as the database does: for random names (upper and lower case, `_`, `.`,
//! `-`, upload times that tie), random texts and page windows, the page and the count from
//! memory equal `Store::list_certificates`'s on the same data.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::domain::{CertificateId, CertificateName, NameLimit};
use crate::storage::{CertificateSummary, ListFilter, NewCertificate, Page};

/// A store holding one project with `names`, uploaded at times that often tie.
async fn store_with(names: &[(String, i64)]) -> (Store, ProjectId) {
    let store = Store::in_memory().await.unwrap();
    let project = ProjectId::random();
    store.ensure_project(&project, None, 0).await.unwrap();
    for (name, created_at) in names {
        let id = CertificateId::random();
        let name = CertificateName::parse(name, NameLimit::Create).unwrap();
        let new = NewCertificate::placeholder(&id, &project, &name, 0, *created_at);
        store.insert_certificate(&new, None, "test").await.unwrap();
    }
    (store, project)
}

/// Total and ids of a page: what must agree.
fn seen(page: &Page<CertificateSummary>) -> (i64, Vec<String>) {
    let ids = page.items.iter().map(|c| c.id.to_string()).collect();
    (page.total, ids)
}

/// Total and ids of an answer from memory.
fn matched(m: &NameMatches) -> (i64, Vec<String>) {
    (m.total, m.ids.iter().map(ToString::to_string).collect())
}

fn window(offset: i64, limit: Option<i64>) -> PageWindow {
    PageWindow { limit, offset }
}

async fn compare(
    names: Vec<(String, i64)>,
    searches: Vec<(String, i64, Option<i64>)>,
) -> Result<(), TestCaseError> {
    let (store, project) = store_with(&names).await;
    let (_, index) = SearchIndex::read(&store, &project).await.unwrap().unwrap();
    // Beside the random texts, the start of each name with its case swapped: a text that
    // matches, in the other case.
    let swapped = names
        .iter()
        .filter(|(n, _)| n.len() >= MIN_CHARS)
        .map(|(n, _)| {
            let text: String = n[..MIN_CHARS]
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            (text, 0, Some(3))
        });
    for (text, offset, limit) in searches.into_iter().chain(swapped) {
        let window = window(offset, limit);
        let filter = ListFilter {
            name_contains: Some(text.clone()),
            window,
            ..ListFilter::default()
        };
        let fresh = store.list_certificates(&project, &filter).await.unwrap();
        match index.search(&text, window) {
            Some(m) => {
                prop_assert_eq!(matched(&m), seen(&fresh), "{:?}", text);
                let ids: Vec<&CertificateId> = m.ids.iter().collect();
                let items = store.certificate_summaries(&project, &ids).await.unwrap();
                let names = |items: &[CertificateSummary]| {
                    items.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
                };
                prop_assert_eq!(names(&items), names(&fresh.items), "rows of {:?}", text);
            }
            None => prop_assert!(text.len() < MIN_CHARS, "{:?} not answered", text),
        }
    }
    Ok(())
}

fn names() -> impl Strategy<Value = Vec<(String, i64)>> {
    proptest::collection::hash_set("[aAbB_.1-]{1,6}", 0..40).prop_flat_map(|set: HashSet<_>| {
        let names: Vec<String> = set.into_iter().collect();
        let n = names.len();
        (Just(names), proptest::collection::vec(0i64..4, n))
            .prop_map(|(names, times)| names.into_iter().zip(times).collect())
    })
}

fn searches() -> impl Strategy<Value = Vec<(String, i64, Option<i64>)>> {
    proptest::collection::vec(
        ("[aAbB_.1%é-]{1,5}", 0i64..6, proptest::option::of(0i64..4)),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn the_index_answers_as_the_database_does(names in names(), searches in searches()) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(compare(names, searches))?;
    }
}

#[test]
fn texts_without_a_trigram_are_left_to_the_database() {
    let index = SearchIndex::build(Listing::default()).unwrap();
    assert!(index.search("ab", window(0, None)).is_none());
    let none = index.search("abc", window(0, None)).unwrap();
    assert_eq!(matched(&none), (0, Vec::new()));
}

/// A server's indexes: the first search of a project's version goes to the database and
/// builds the index in the background; later ones at that version are answered from memory;
/// a search at another version (after a write) goes to the database; the counters say who
/// answered.
#[tokio::test]
async fn searches_use_the_index_of_their_version_only() {
    let (store, project) = store_with(&[("alpha".to_owned(), 1), ("Alpaca".to_owned(), 2)]).await;
    let (version, _) = SearchIndex::read(&store, &project).await.unwrap().unwrap();
    let indexes = Arc::new(SearchIndexes::default());
    let all = window(0, None);
    assert!(
        indexes
            .search(&store, &project, version, "alp", all)
            .is_none()
    );
    let found = wait_for(&indexes, &store, &project, version, "ALP").await;
    let ids: Vec<&CertificateId> = found.ids.iter().collect();
    let page = store.certificate_summaries(&project, &ids).await.unwrap();
    let names: Vec<&str> = page.iter().map(|c| c.name.as_str()).collect();
    assert_eq!((found.total, names), (2, vec!["Alpaca", "alpha"]));
    assert!(indexes.bytes() > 0);

    assert!(
        indexes
            .search(&store, &project, version + 1, "alp", all)
            .is_none(),
        "another version is not answered from memory"
    );
    let count = |by: &'static str| {
        indexes
            .answered
            .get_or_create(&AnsweredBy { answered_by: by })
            .get()
    };
    assert!(count("memory") >= 1 && count("database") >= 2);
}

/// Searches until the index answers (the build runs on the runtime), for at most 5 s.
async fn wait_for(
    indexes: &Arc<SearchIndexes>,
    store: &Store,
    project: &ProjectId,
    version: i64,
    text: &str,
) -> NameMatches {
    for _ in 0..500 {
        if let Some(page) = indexes.search(store, project, version, text, window(0, None)) {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the index was not built");
}
