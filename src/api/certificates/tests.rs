//! Property test of the list cache: for random certificates, writes and moves of the
//! certificate clock, a page read through the cache equals one read fresh from the store.

use proptest::prelude::*;

use super::query::ListParams;
use super::read_page;
use crate::api::paging::Paging;
use crate::api::read_cache::ReadCache;
use crate::api::search_index::SearchIndexes;
use crate::domain::{CertificateId, CertificateName, ExpiryStatus, Millis, NameLimit, ProjectId};
use crate::storage::{NewCertificate, Store};
use std::sync::Arc;

const DAY: Millis = 86_400_000;
const START: Millis = 1_800_000_000_000;

#[derive(Debug, Clone)]
enum Step {
    /// Upload a certificate expiring this many hours after the start.
    Insert(i64),
    /// Delete the n-th live certificate (modulo their number).
    Delete(usize),
    /// Move the clock by this many hours (negative: back).
    Move(i64),
    /// Read a page: exp_status, page, pagesize.
    Read(Option<i64>, i64, i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (-40 * 24i64..80 * 24).prop_map(Step::Insert),
        1 => (0usize..16).prop_map(Step::Delete),
        2 => (-10 * 24i64..20 * 24).prop_map(Step::Move),
        5 => (proptest::option::of(0i64..3), 1i64..3, 2i64..4)
            .prop_map(|(s, p, n)| Step::Read(s, p, n)),
    ]
}

/// Total and ids of a page, what must agree.
fn seen(page: &crate::api::read_cache::CachedPage) -> (i64, Vec<String>) {
    (
        page.total,
        page.items.iter().map(|c| c.id.to_string()).collect(),
    )
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let store = Store::in_memory()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let project = ProjectId::random();
    store
        .ensure_project(&project, None, START)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let cache = ReadCache::default();
    let search = Arc::new(SearchIndexes::default());
    let (mut now, mut version, mut live, mut n) = (START, 0i64, Vec::new(), 0u32);
    for step in steps {
        match step {
            Step::Insert(hours) => {
                n += 1;
                let id = CertificateId::random();
                let name = CertificateName::parse(&format!("c{n}"), NameLimit::Create)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expire_time = START + hours * DAY / 24;
                let new = NewCertificate::placeholder(
                    &id,
                    &project,
                    &name,
                    expire_time,
                    START + i64::from(n),
                );
                store
                    .insert_certificate(&new, None, "test")
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                live.push(id);
                version += 1;
            }
            Step::Delete(i) if !live.is_empty() => {
                let id = live.remove(i % live.len());
                store
                    .delete_certificate(
                        &project,
                        &id,
                        crate::storage::Origin {
                            actor: "test",
                            time: 0,
                        },
                    )
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                version += 1;
            }
            Step::Delete(_) => {}
            Step::Move(hours) => now += hours * DAY / 24,
            Step::Read(status, page, pagesize) => {
                let params = ListParams {
                    paging: Paging {
                        page,
                        pagesize: Some(pagesize),
                    },
                    name: None,
                    host: true,
                    exp_status: status.and_then(ExpiryStatus::from_code),
                };
                let cached = read_page(&cache, &search, &store, &project, version, &params, now)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                let fresh = read_page(
                    &ReadCache::default(),
                    &Arc::default(),
                    &store,
                    &project,
                    version,
                    &params,
                    now,
                )
                .await
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(seen(&cached), seen(&fresh), "{:?} at {}", params, now);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cached_pages_equal_fresh_ones(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(run(steps))?;
    }
}
