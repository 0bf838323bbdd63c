//! `page` and `pagesize` as every list endpoint takes them, and as the API document states them.

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

/// Implements `From<Page<record>>` for a list answer of `total` and `items` (each record in
/// its wire form), so every list handler answers a page the same way: `Ok(Json(page.into()))`.
macro_rules! list_from_page {
    ($answer:ty, $record:ty) => {
        impl From<$crate::storage::Page<$record>> for $answer {
            fn from(page: $crate::storage::Page<$record>) -> Self {
                Self {
                    total: page.total,
                    items: page.items.into_iter().map(Into::into).collect(),
                }
            }
        }
    };
}
pub(super) use list_from_page;

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

/// `page` and `pagesize` of a list in the API document, `R` saying how its page size
/// defaults. Written once for every list; [`Paging::parse`] is what checks them.
#[derive(Debug)]
pub(super) struct PageParams<R>(std::marker::PhantomData<R>);

/// How a list's `pagesize` defaults and whether it takes -1 (all), for [`PageParams`].
pub(super) trait PageRule {
    /// The page size when `pagesize` is absent; `None` is all.
    const DEFAULT: Option<i64>;
    /// Whether -1 (all) is taken.
    const ALL: bool;
}

/// The certificate list: everything unless `pagesize` says otherwise.
#[derive(Debug)]
pub(super) struct AllByDefault;

impl PageRule for AllByDefault {
    const DEFAULT: Option<i64> = None;
    const ALL: bool = true;
}

/// The host and policy lists: 10 at a time, -1 for all.
#[derive(Debug)]
pub(super) struct TenByDefault;

impl PageRule for TenByDefault {
    const DEFAULT: Option<i64> = Some(10);
    const ALL: bool = true;
}

/// The event list: 10 at a time, never all.
#[derive(Debug)]
pub(super) struct TenNeverAll;

impl PageRule for TenNeverAll {
    const DEFAULT: Option<i64> = Some(10);
    const ALL: bool = false;
}

impl<R: PageRule> utoipa::IntoParams for PageParams<R> {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        use utoipa::openapi::{KnownFormat, Required};
        let integer = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
        };
        let page = ParameterBuilder::new()
            .name("page")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(
                "1-based page, default 1; not an integer, or below 1: 400 `WAF.00011011`",
            ))
            .schema(Some(integer()));
        let default = R::DEFAULT.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let pagesize = ParameterBuilder::new()
            .name("pagesize")
            .parameter_in(ParameterIn::Query)
            .required(Required::False);
        let pagesize = if R::ALL {
            pagesize
                .description(Some(format!(
                    "1 to {MAX_PAGESIZE}, or -1 for all; default {default}; anything else: 400 \
                     `WAF.00011011`"
                )))
                .schema(Some(
                    OneOfBuilder::new()
                        .item(integer().maximum(Some(MAX_PAGESIZE)).format(None))
                        .item(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .enum_values(Some([-1])),
                        )
                        .description(Some("1 to 100, or -1 for all")),
                ))
        } else {
            pagesize
                .description(Some(format!(
                    "1 to {MAX_PAGESIZE}, default {default} (-1 is refused here); anything \
                     else: 400 `WAF.00011011`"
                )))
                .schema(Some(integer().maximum(Some(MAX_PAGESIZE))))
        };
        vec![page.build(), pagesize.build()]
    }
}

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
