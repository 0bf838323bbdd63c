//! The query of the host list: `page`, `pagesize` (default 10, at most 100, -1 for all),
//! `hostname` and `policyname` (case-insensitive substrings) and `protect_status` (-1, 0 or 1);
//! anything else is ignored.

use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::QueryPairs;
use crate::api::paging::Paging;
use crate::storage::HostListFilter;

/// Page size when `pagesize` is absent.
const DEFAULT_PAGESIZE: i64 = 10;

/// A checked host list query (the field docs are the parameters' descriptions in the API
/// document).
#[derive(Debug, Clone, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HostListParams {
    /// The page window (page size `None` is all: -1).
    /// (`page` and `pagesize` are documented by the handler.)
    #[param(ignore)]
    paging: Paging,
    /// Case-insensitive hostname substring.
    /// Empty is no filter; longer than 256 bytes: 400 `WAF.00011002`.
    #[param(max_length = 256)]
    hostname: Option<String>,
    /// Protection status.
    /// -1 bypass, 0 paused, 1 protected; empty is no filter, anything else 400 `WAF.00011002`.
    #[param(minimum = -1, maximum = 1)]
    protect_status: Option<i64>,
    /// Case-insensitive substring of the policy name.
    /// Empty is no filter; longer than 256 bytes: 400 `WAF.00011002`.
    #[param(max_length = 256)]
    policyname: Option<String>,
}

impl HostListParams {
    /// Checks every documented parameter; bad paging is `WAF.00011011`.
    pub(super) fn parse(query: &QueryPairs) -> Result<Self, ApiError> {
        let paging = Paging::parse(query, Some(DEFAULT_PAGESIZE))?;
        let hostname = query.filter("hostname")?.map(str::to_owned);
        let protect_status = match query.get("protect_status") {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|s| (-1..=1).contains(s))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::UrlParamIllegal,
                            "protect_status must be -1 (bypass), 0 (paused) or 1 (protected)",
                        )
                    })?,
            ),
        };
        let policyname = query.filter("policyname")?.map(str::to_owned);
        Ok(Self {
            paging,
            hostname,
            protect_status,
            policyname,
        })
    }

    /// The storage filter for this query.
    pub(super) fn to_filter(&self) -> HostListFilter {
        HostListFilter {
            hostname_contains: self.hostname.clone(),
            protect_status: self.protect_status,
            policy_name_contains: self.policyname.clone(),
            window: self.paging.window(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::extract::answers_or_400;
    use crate::api::paging::printed;

    fn parse(q: &str) -> Result<HostListParams, ErrorCode> {
        HostListParams::parse(&QueryPairs::from_query(q)).map_err(|e| e.code())
    }

    #[test]
    fn defaults_are_page_one_of_ten() {
        let f = parse("").unwrap().to_filter();
        assert_eq!(
            (f.window.limit, f.window.offset, f.hostname_contains),
            (Some(10), 0, None)
        );
        let f = parse("page=3").unwrap().to_filter();
        assert_eq!((f.window.limit, f.window.offset), (Some(10), 20));
        let f = parse("page=3&pagesize=-1").unwrap().to_filter();
        assert_eq!((f.window.limit, f.window.offset), (None, 0));
        let f = parse("pagesize=100&hostname=Shop").unwrap().to_filter();
        assert_eq!(
            (f.window.limit, f.hostname_contains.as_deref()),
            (Some(100), Some("Shop"))
        );
        assert_eq!(parse("hostname=").unwrap().hostname, None);
        let far = format!("page={}&pagesize=100", i64::MAX);
        assert_eq!(parse(&far).unwrap().to_filter().window.offset, i64::MAX);
    }

    #[test]
    fn status_and_policy_filters_are_read() {
        let f = parse("policyname=Pol&protect_status=-1")
            .unwrap()
            .to_filter();
        assert_eq!(
            (f.protect_status, f.policy_name_contains.as_deref()),
            (Some(-1), Some("Pol"))
        );
        let f = parse("policyname=&protect_status=").unwrap().to_filter();
        assert_eq!((f.protect_status, f.policy_name_contains), (None, None));
        for bad in ["protect_status=2", "protect_status=x", "protect_status=-2"] {
            assert_eq!(parse(bad), Err(ErrorCode::UrlParamIllegal), "{bad}");
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert!(parse("enterprise_project_id=0&pageSize=7&instance=x").is_ok());
    }

    fn print(p: &HostListParams) -> String {
        use crate::api::extract::urlencode;
        let mut q = printed(p.paging);
        if let Some(h) = &p.hostname {
            q.push(format!("hostname={}", urlencode(h)));
        }
        if let Some(s) = p.protect_status {
            q.push(format!("protect_status={s}"));
        }
        if let Some(n) = &p.policyname {
            q.push(format!("policyname={}", urlencode(n)));
        }
        q.join("&")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Every valid query, printed as a client sends it, parses back to itself.
        #[test]
        fn printed_queries_parse_back(
            page in 1..=i64::MAX,
            pagesize in proptest::option::of(1i64..=100),
            hostname in proptest::option::of("\\PC{1,40}"),
            protect_status in proptest::option::of(-1i64..=1),
            policyname in proptest::option::of("\\PC{1,40}"),
        ) {
            let paging = Paging { page, pagesize };
            let p = HostListParams { paging, hostname, protect_status, policyname };
            let pairs = QueryPairs::extracted(&print(&p)).expect("a printed query is well-formed");
            proptest::prop_assert_eq!(HostListParams::parse(&pairs).ok(), Some(p));
        }

        /// Any query string never panics: it is an answer or a 400.
        #[test]
        fn arbitrary_queries_never_panic(raw in "[ -~]{0,120}") {
            answers_or_400(&raw, HostListParams::parse)?;
        }
    }
}
