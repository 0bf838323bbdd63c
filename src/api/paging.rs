//! `page` and `pagesize` as both list endpoints (certificates and hosts) take them.

use super::error::{ApiError, ErrorCode};
use super::extract::QueryPairs;
use crate::storage::PageWindow;

/// Largest page size apart from -1 (all).
const MAX_PAGESIZE: i64 = 100;

/// A checked page window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paging {
    /// 1-based page.
    pub(super) page: i64,
    /// Page size; `None` is all.
    pub(super) pagesize: Option<i64>,
}

impl Paging {
    /// Parses `page` (default 1; an integer of at least 1) and `pagesize` (1 to 100, -1 for all,
    /// `default_size` when absent); anything else is `WAF.00011011`.
    pub(super) fn parse(query: &QueryPairs, default_size: Option<i64>) -> Result<Self, ApiError> {
        let page = match query.get("page") {
            None => 1,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| paging_error("page must be an integer of at least 1"))?,
        };
        let pagesize = match query.get("pagesize") {
            None => default_size,
            Some(v) => match v.parse::<i64>() {
                Ok(-1) => None,
                Ok(n) if (1..=MAX_PAGESIZE).contains(&n) => Some(n),
                _ => {
                    return Err(paging_error(
                        "pagesize must be an integer from 1 to 100, or -1 for all",
                    ));
                }
            },
        };
        Ok(Self { page, pagesize })
    }

    /// The storage window: the page size and the rows to skip.
    pub(in crate::api) fn window(self) -> PageWindow {
        PageWindow {
            limit: self.pagesize,
            offset: self.offset(),
        }
    }

    /// Rows to skip: none when everything is listed; a page so far out that the offset
    /// overflows is simply past the end.
    pub(super) fn offset(self) -> i64 {
        match self.pagesize {
            None => 0,
            Some(size) => (self.page - 1).checked_mul(size).unwrap_or(i64::MAX),
        }
    }
}

/// `page` and `pagesize` as a client writes them (property tests of the list queries).
#[cfg(test)]
pub(super) fn printed(paging: Paging) -> Vec<String> {
    vec![
        format!("page={}", paging.page),
        format!("pagesize={}", paging.pagesize.unwrap_or(-1)),
    ]
}

fn paging_error(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::PageOrPageSizeIllegal, msg)
}

/// `pagesize` as the API document states it: 1 to [`MAX_PAGESIZE`], or -1 for all. Only a
/// schema: [`Paging::parse`] is what checks it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PageSize;

impl utoipa::PartialSchema for PageSize {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(MAX_PAGESIZE)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([-1])),
            )
            .description(Some("1 to 100, or -1 for all"))
            .into()
    }
}

impl utoipa::ToSchema for PageSize {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str, default_size: Option<i64>) -> Result<PageWindow, ErrorCode> {
        Paging::parse(&QueryPairs::from_query(q), default_size)
            .map(Paging::window)
            .map_err(|e| e.code())
    }

    #[test]
    fn windows_follow_page_and_pagesize() {
        let far = format!("page={}&pagesize=100", i64::MAX);
        for (query, default_size, limit, offset) in [
            ("", None, None, 0),
            ("", Some(10), Some(10), 0),
            ("page=3", None, None, 0),
            ("page=3", Some(10), Some(10), 20),
            ("page=3&pagesize=10", None, Some(10), 20),
            ("page=3&pagesize=-1", Some(10), None, 0),
            ("pagesize=1", None, Some(1), 0),
            ("pagesize=100", None, Some(100), 0),
            ("pagesize=-1", Some(10), None, 0),
            (far.as_str(), None, Some(100), i64::MAX),
        ] {
            let window = PageWindow { limit, offset };
            assert_eq!(parse(query, default_size), Ok(window), "{query}");
        }
    }

    #[test]
    fn bad_paging_is_refused() {
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "page=",
            "page=99999999999999999999",
            "pagesize=0",
            "pagesize=101",
            "pagesize=-2",
            "pagesize=x",
            "pagesize=1.5",
            "pagesize=",
        ] {
            for default_size in [None, Some(10)] {
                assert_eq!(
                    parse(bad, default_size),
                    Err(ErrorCode::PageOrPageSizeIllegal),
                    "{bad}"
                );
            }
        }
    }
}
