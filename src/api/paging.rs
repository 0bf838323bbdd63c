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
