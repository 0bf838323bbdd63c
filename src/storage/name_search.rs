//! The name substring filter of the certificate list, per SQL dialect, side by side: a search
//! of 3 or more characters goes through a trigram index on both (SQLite: the FTS5 table
//! `certificates_name_fts`, migration 0008; PostgreSQL: the GIN index `certificates_name_trgm`
//! of the project and the name's trigrams, migration 0011), a shorter one walks the project's
//! listing index. Both are case-insensitive (names are ASCII and stored lowercased in
//! `name_lower`) and take `%` and `_` literally: the trigram lookup only narrows the
//! candidates, and a literal substring test decides (PostgreSQL: an escaped `LIKE`, which its
//! trigram index serves; SQLite: `instr`, because a `LIKE` whose pattern is a bound value makes
//! SQLite compile the statement again for every new value, 17% of a fresh search's database
//! time).

use super::sql::{SqlArgs, like_contains};
use super::{Backend, Store, StoreError};
use crate::domain::{CertificateId, ProjectId};

/// Characters from which a search uses the trigram index.
pub const TRIGRAM_MIN_CHARS: usize = 3;

/// Which statement of a list a name condition is for, and so which index should drive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameLookup {
    /// Counting every match: SQLite goes through the trigram table; PostgreSQL's planner
    /// chooses (it walks the listing index for a text most names contain).
    Count,
    /// The page of a search the count showed to match few rows: the trigram index drives it
    /// on both dialects and the page is sorted afterwards. PostgreSQL's planner cannot be left
    /// to choose here: its estimate for `LIKE '%1396%'` varies with the statistics' sample
    /// (11 rows in one analysis, 1,064 in another), and with the larger one it walks the
    /// project's listing index in page order, reading most of 100,000 rows for 20 matches
    /// (50-120 ms instead of 0.2-8 ms).
    FewMatches,
    /// The page of a search matching many rows: it walks the newest-first listing index and
    /// stops after the page.
    ManyMatches,
}

/// A `WHERE` condition matching `name_lower` against a search text (its values are pushed
/// onto the statement's [`SqlArgs`]).
#[derive(Debug)]
pub(super) struct NameCondition {
    /// SQL condition on `certificates`.
    pub(super) sql: String,
    /// How the query must name the project: `+project_id` on SQLite when the trigram lookup
    /// must drive it (SQLite would otherwise walk the project's listing index and probe each
    /// row).
    pub(super) project_column: &'static str,
    /// How a page orders by upload time: `created_at_ms + 0` on PostgreSQL when the trigram
    /// lookup must drive it (an order no index gives, so the planner cannot walk the listing
    /// index in page order; the project stays in the trigram index's condition, which hiding
    /// it would not allow: at 1,000,000 certificates, hiding it read 12,207 names of other
    /// projects for one text).
    pub(super) order_column: &'static str,
}

/// The condition for `text` on `backend` in a statement of kind `lookup`, its values pushed
/// onto `args`. Texts shorter than [`TRIGRAM_MIN_CHARS`] have no trigram and walk the
/// project's rows whatever the lookup.
pub(super) fn name_condition(
    backend: Backend,
    text: &str,
    args: &mut SqlArgs,
    lookup: NameLookup,
) -> NameCondition {
    let lower = text.to_ascii_lowercase();
    let has_trigram = lower.chars().count() >= TRIGRAM_MIN_CHARS;
    match backend {
        // FTS5 trigram phrase: a substring match (case-folded); `instr` rechecks exactly.
        Backend::Sqlite if has_trigram && lookup != NameLookup::ManyMatches => NameCondition {
            sql: format!(
                "rowid IN (SELECT rowid FROM certificates_name_fts \
                 WHERE certificates_name_fts MATCH {}) \
                 AND instr(name_lower, {}) > 0",
                args.push(fts_phrase(&lower)),
                args.push(lower)
            ),
            project_column: "+project_id",
            order_column: "created_at_ms",
        },
        Backend::Sqlite => NameCondition {
            sql: format!("instr(name_lower, {}) > 0", args.push(lower)),
            project_column: "project_id",
            order_column: "created_at_ms",
        },
        // pg_trgm serves `LIKE '%...%'` itself (the planner picks the GIN index of project and
        // trigrams when the pattern has a trigram; shorter ones walk the listing index).
        Backend::Postgres => NameCondition {
            sql: format!(
                "name_lower LIKE {} ESCAPE '\\'",
                args.push(like_contains(&lower))
            ),
            project_column: "project_id",
            order_column: if has_trigram && lookup == NameLookup::FewMatches {
                "created_at_ms + 0"
            } else {
                "created_at_ms"
            },
        },
    }
}

/// Whether the statements of a name search must be planned with their values rather than
/// kept prepared: PostgreSQL switches a prepared statement to a generic plan after five
/// executions, and the generic plan of `project_id = $1 AND name_lower LIKE $2` guesses the
/// average project's share of rows (1 / number of projects) and walks the project's listing
/// index: 238 ms for a 4-character search in a project of 100,000 among 1,000,000
/// certificates, against 0.12 ms through the trigram index. An unprepared statement is
/// planned for its values each time (one more round trip). SQLite plans without guessing.
pub(super) fn plan_per_value(backend: Backend) -> bool {
    backend == Backend::Postgres
}

impl Store {
    /// Calls `row` with the id and lowercased name of every certificate of `project`, in list
    /// order, and returns the project's version as of the same snapshot (one statement, so one
    /// snapshot on both dialects: PostgreSQL's default isolation gives each statement its
    /// own); `None` when the project does not exist. What the server's in-memory name index
    /// is built from ([`crate::api::search_index`]). Ordered by the database, as the list is,
    /// so ties and the collation of ids come out the same; every column is in the covering
    /// listing index, so the wide rows are not read (100,000 certificates: 0.13 s instead of
    /// 0.58 s in the `sqlite3` shell). Row by row, so the caller can pack the texts as they
    /// come instead of holding every row's own allocations.
    pub async fn project_listing(
        &self,
        project: &ProjectId,
        mut row: impl FnMut(&CertificateId, &str) + Send,
    ) -> Result<Option<i64>, StoreError> {
        use futures_util::TryStreamExt;
        use sqlx::Row;

        let mut conn = self.reader().await?;
        let mut version = None;
        let mut found = sqlx::query(
            "SELECT p.version, c.id, c.name_lower \
             FROM projects p LEFT JOIN certificates c ON c.project_id = p.id \
             WHERE p.id = $1 ORDER BY c.created_at_ms DESC, c.id DESC",
        )
        .bind(project.as_str())
        .fetch(&mut *conn);
        while let Some(listed) = found.try_next().await? {
            // The rows come faster than they are taken, so the stream answers every poll from
            // its buffer and the loop would keep its worker thread for the whole listing (at
            // 100,000 rows the requests queued behind it waited 60-110 ms); a unit of tokio's
            // cooperative budget per row makes it give the thread back now and then.
            tokio::task::consume_budget().await;
            version = Some(listed.try_get::<i64, _>(0)?);
            // The outer join's one row of nulls when the project has no certificate.
            let id: Option<CertificateId> = listed.try_get(1)?;
            let name_lower: Option<&str> = listed.try_get(2)?;
            if let (Some(id), Some(name_lower)) = (id, name_lower) {
                row(&id, name_lower);
            }
        }
        drop(found);
        conn.done();
        Ok(version)
    }
}

/// `text` as one FTS5 phrase: in double quotes, quotes doubled; everything else is literal.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name_condition` after one value (the project) is already bound: its SQL and values.
    fn condition(backend: Backend, text: &str, lookup: NameLookup) -> (String, Vec<String>) {
        let mut args = SqlArgs::new();
        args.push("project");
        let c = name_condition(backend, text, &mut args, lookup);
        (c.sql, args.texts().into_iter().skip(1).collect())
    }

    #[test]
    fn short_texts_and_postgres_use_no_trigram_table() {
        let (sql, binds) = condition(Backend::Sqlite, "Ab", NameLookup::FewMatches);
        assert_eq!(sql, "instr(name_lower, $2) > 0");
        assert_eq!(binds, ["ab"]);
        let (sql, binds) = condition(Backend::Postgres, "A%_c", NameLookup::Count);
        assert_eq!(sql, "name_lower LIKE $2 ESCAPE '\\'");
        assert_eq!(binds, ["%a\\%\\_c%"]);
    }

    #[test]
    fn postgres_pages_of_few_matches_are_not_ordered_by_the_listing_index() {
        let order_column = |text: &str, lookup| {
            let mut args = SqlArgs::new();
            let c = name_condition(Backend::Postgres, text, &mut args, lookup);
            assert_eq!(c.project_column, "project_id");
            c.order_column
        };
        assert_eq!(
            order_column("1396", NameLookup::FewMatches),
            "created_at_ms + 0"
        );
        assert_eq!(order_column("1396", NameLookup::Count), "created_at_ms");
        assert_eq!(
            order_column("1396", NameLookup::ManyMatches),
            "created_at_ms"
        );
        assert_eq!(
            order_column("13", NameLookup::FewMatches),
            "created_at_ms",
            "no trigram"
        );
    }

    #[test]
    fn sqlite_searches_of_three_characters_use_the_trigram_table() {
        let (sql, binds) = condition(Backend::Sqlite, "N\"e%", NameLookup::Count);
        assert!(
            sql.contains("MATCH $2") && sql.contains("instr(name_lower, $3)"),
            "{sql}"
        );
        assert_eq!(binds, ["\"n\"\"e%\"", "n\"e%"]);
        let (sql, _) = condition(Backend::Sqlite, "needle", NameLookup::ManyMatches);
        assert!(!sql.contains("MATCH"));
    }

    /// On SQLite: the plan of a 3+ character search reads the trigram table, a shorter one
    /// does not; results are case-insensitive with `_` literal, and the triggers keep the
    /// index right through renames and deletes.
    #[tokio::test]
    async fn sqlite_search_uses_the_trigram_index_and_matches_exactly() {
        use crate::domain::{CertificateId, CertificateName, NameLimit, ProjectId};
        use crate::storage::{ListFilter, NewCertificate, Store};
        let store = Store::in_memory().await.unwrap();
        let project = ProjectId::random();
        store.ensure_project(&project, None, 0).await.unwrap();
        let mut ids = Vec::new();
        for (i, name) in ["a_b-1", "axb-2", "NEEDLE-x", "my-Needle", "other"]
            .iter()
            .enumerate()
        {
            let id = CertificateId::random();
            let name = CertificateName::parse(name, NameLimit::Create).unwrap();
            let created_at = i64::try_from(i).unwrap();
            let new = NewCertificate::placeholder(&id, &project, &name, 0, created_at);
            store.insert_certificate(&new, None, "test").await.unwrap();
            ids.push(id);
        }
        let search = |text: &str| {
            let filter = ListFilter {
                name_contains: Some(text.to_owned()),
                ..ListFilter::default()
            };
            let store = store.clone();
            let project = project.clone();
            async move {
                let page = store.list_certificates(&project, &filter).await.unwrap();
                let mut names: Vec<String> = page.items.into_iter().map(|c| c.name).collect();
                names.sort();
                assert_eq!(page.total, i64::try_from(names.len()).unwrap());
                names
            }
        };
        assert_eq!(search("needle").await, ["NEEDLE-x", "my-Needle"]);
        assert_eq!(search("A_B").await, ["a_b-1"], "_ is literal");
        assert_eq!(search("_b").await, ["a_b-1"], "short: _ is literal too");
        assert_eq!(search("b-%").await, Vec::<String>::new(), "% is literal");
        assert_eq!(search("x").await, ["NEEDLE-x", "axb-2"]);

        let renamed = CertificateName::parse("haystack", NameLimit::Update).unwrap();
        store
            .update_certificate(
                &project,
                &ids[2],
                &renamed,
                None,
                crate::storage::Origin {
                    actor: "test",
                    time: 0,
                },
            )
            .await
            .unwrap();
        store
            .delete_certificate(
                &project,
                &ids[3],
                crate::storage::Origin {
                    actor: "test",
                    time: 0,
                },
            )
            .await
            .unwrap();
        assert_eq!(search("needle").await, Vec::<String>::new());
        assert_eq!(search("AYST").await, ["haystack"]);

        let plan = |text: &str| {
            let mut args = SqlArgs::new();
            args.push(project.as_str());
            let c = name_condition(Backend::Sqlite, text, &mut args, NameLookup::Count);
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM certificates WHERE {} = $1 AND {}",
                c.project_column, c.sql
            );
            let store = store.clone();
            async move {
                let rows = sqlx::query_as_with::<_, (i64, i64, i64, String), _>(
                    sqlx::AssertSqlSafe(sql),
                    args.arguments().unwrap(),
                )
                .fetch_all(&store.pool)
                .await
                .unwrap();
                rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
            }
        };
        let long = plan("needle").await;
        assert!(
            long.contains("certificates_name_fts") && long.contains("INTEGER PRIMARY KEY"),
            "{long}"
        );
        let short = plan("ne").await;
        assert!(!short.contains("certificates_name_fts"), "{short}");
        println!("3+ characters:\n{long}\nshorter:\n{short}");
    }
}
