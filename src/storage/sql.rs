//! The SQL helpers every table module shares: a page of rows, `LIKE` escaping, and the one
//! builder of statements whose parameters are known only at run time.
//!
//! Why not `sqlx::QueryBuilder`: through the `Any` driver it writes `?` placeholders, which
//! PostgreSQL rejects. Both engines accept numbered `$n` placeholders through `Any`, so
//! [`SqlArgs`] numbers them as it collects the values, and no statement counts `$n` by hand.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyPool, Arguments, AssertSqlSafe, Executor, FromRow};

use super::{Resource, StoreError};
use crate::domain::ProjectId;

/// Which of all matching rows a list returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PageWindow {
    /// Page size; `None` means all.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: i64,
}

/// One page and the number of all matches.
#[derive(Debug)]
pub struct Page<T> {
    /// Number of all matching rows, not just this page.
    pub total: i64,
    /// The rows of this page.
    pub items: Vec<T>,
}

impl<T> Page<T> {
    /// A page past the end: no rows, but the count of all matches.
    pub(crate) fn empty(total: i64) -> Self {
        Self {
            total,
            items: Vec::new(),
        }
    }
}

/// The row of `resource` that `sql` selects by id (`$1`) within a project (`$2`); a missing
/// one is not found.
pub(super) async fn one_in_project<'e, T>(
    executor: impl Executor<'e, Database = Any>,
    sql: String,
    id: &str,
    project: &ProjectId,
    resource: Resource,
) -> Result<T, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let row: Option<T> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .bind(project.as_str())
        .fetch_optional(executor)
        .await?;
    row.ok_or(StoreError::NotFound(resource))
}

/// The `WHERE` of a list of one project's rows: the project, then each condition the filter
/// asks for, with its value. Conditions whose value is `None` are left out.
#[derive(Debug)]
pub(super) struct ProjectRows {
    args: SqlArgs,
    conditions: Vec<String>,
}

impl ProjectRows {
    /// The rows whose `column` is `project`.
    pub(super) fn new(column: &str, project: &ProjectId) -> Self {
        let mut args = SqlArgs::new();
        let conditions = vec![format!("{column} = {}", args.push(project.as_str()))];
        Self { args, conditions }
    }

    /// Also `column = value`, when there is a value.
    pub(super) fn equal(mut self, column: &str, value: Option<impl Into<Bind>>) -> Self {
        if let Some(value) = value {
            let value = self.args.push(value);
            self.conditions.push(format!("{column} = {value}"));
        }
        self
    }

    /// Also `column` containing `text` (matched literally, case as given), when there is one.
    pub(super) fn containing(mut self, column: &str, text: Option<&str>) -> Self {
        if let Some(text) = text {
            let pattern = self.args.push(like_contains(text));
            self.conditions
                .push(format!("{column} LIKE {pattern} ESCAPE '\\'"));
        }
        self
    }

    /// The condition and its values.
    pub(super) fn into_predicate(self) -> (SqlArgs, String) {
        (self.args, self.conditions.join(" AND "))
    }
}

/// A list: the number of all rows `count` counts, then the page `window` of the rows `select`
/// returns (a whole `SELECT ... ORDER BY ...`; both statements use the values in `args`). A
/// page past the end costs no second statement.
pub(super) async fn fetch_page<T>(
    pool: &AnyPool,
    count: String,
    select: String,
    args: SqlArgs,
    window: PageWindow,
) -> Result<Page<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let total: i64 = sqlx::query_scalar_with(AssertSqlSafe(count), args.arguments()?)
        .fetch_one(pool)
        .await?;
    if total <= window.offset || window.limit == Some(0) {
        return Ok(Page::empty(total));
    }
    let items = fetch_window(pool, select, args, window, true).await?;
    Ok(Page { total, items })
}

/// The rows in `window` of what `select` (a whole `SELECT ... ORDER BY ...` using the values in
/// `args`) returns: its `LIMIT` and `OFFSET` become the next values. `persistent`: keep the
/// statement prepared (see `name_search::plan_per_value` for when not).
pub(super) async fn fetch_window<'e, T>(
    executor: impl Executor<'e, Database = Any>,
    select: String,
    mut args: SqlArgs,
    window: PageWindow,
    persistent: bool,
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let limit = args.push(window.limit.unwrap_or(i64::MAX));
    let offset = args.push(window.offset);
    let sql = format!("{select} LIMIT {limit} OFFSET {offset}");
    Ok(sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
        .persistent(persistent)
        .fetch_all(executor)
        .await?)
}

/// Escapes `%`, `_` and `\` so user text matches literally inside `LIKE ... ESCAPE '\'`.
pub(super) fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A value bound to a statement built at run time.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    /// Text.
    Text(String),
    /// Text or NULL.
    OptionalText(Option<String>),
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    OptionalInt(Option<i64>),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Self {
        Self::OptionalText(v.map(str::to_owned))
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<&[u8]> for Bind {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(v.to_vec())
    }
}

/// The parameters of a statement built at run time, in order: each [`SqlArgs::push`] returns
/// the placeholder (`$n`) to write where the value goes.
#[derive(Debug, Clone, Default)]
pub(super) struct SqlArgs {
    binds: Vec<Bind>,
}

impl SqlArgs {
    /// No parameters yet; the first pushed is `$1`.
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Adds a value and returns its placeholder.
    pub(super) fn push(&mut self, value: impl Into<Bind>) -> String {
        self.binds.push(value.into());
        format!("${}", self.binds.len())
    }

    /// Adds every value and returns their placeholders separated by commas (for `IN (...)` and
    /// `VALUES (...)`).
    pub(super) fn list<V: Into<Bind>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values
            .into_iter()
            .map(|v| self.push(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Number of parameters so far.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.binds.len()
    }

    /// The text values, in order (tests check what a builder bound).
    #[cfg(test)]
    pub(super) fn texts(&self) -> Vec<String> {
        self.binds
            .iter()
            .filter_map(|b| match b {
                Bind::Text(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The values as sqlx arguments, for `sqlx::query*_with`.
    pub(super) fn arguments(&self) -> Result<AnyArguments, StoreError> {
        let mut args = AnyArguments::default();
        for bind in &self.binds {
            let added = match bind {
                Bind::Text(s) => args.add(s.clone()),
                Bind::OptionalText(s) => args.add(s.clone()),
                Bind::Int(i) => args.add(*i),
                Bind::OptionalInt(i) => args.add(*i),
                Bind::Bytes(b) => args.add(b.clone()),
            };
            added.map_err(|e| StoreError::Backend(sqlx::Error::Encode(e).into()))?;
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn project_rows_add_only_the_conditions_asked_for() {
        let project = ProjectId::random();
        let (args, predicate) = ProjectRows::new("h.project_id", &project)
            .containing("h.hostname", Some("a_b"))
            .equal("h.protect_status", None::<i64>)
            .equal("type", Some("x"))
            .into_predicate();
        assert_eq!(
            predicate,
            "h.project_id = $1 AND h.hostname LIKE $2 ESCAPE '\\' AND type = $3"
        );
        assert_eq!(args.texts(), [project.as_str(), "%a\\_b%", "x"]);
    }

    #[test]
    fn placeholders_are_numbered_in_push_order() {
        let mut args = SqlArgs::new();
        assert_eq!(args.push("p"), "$1");
        assert_eq!(args.list(["a", "b", "c"]), "$2, $3, $4");
        assert_eq!(args.push(7), "$5");
        assert_eq!(args.len(), 5);
        assert_eq!(args.arguments().map(|a| a.len()).ok(), Some(5));
    }
}
