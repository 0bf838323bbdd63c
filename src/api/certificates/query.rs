//! The query of the certificate list, checked exactly as the contract states: `page`,
//! `pagesize`, `name`, `host`, `exp_status`; anything else is ignored.

use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::QueryPairs;
use crate::api::paging::Paging;
use crate::domain::{ExpiryStatus, Millis};
use crate::storage::ListFilter;

/// A checked list query (the field docs are the parameters' descriptions in the API document).
#[derive(Debug, Clone, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// The page window (page size `None` is all: absent or -1).
    /// (`page` and `pagesize` are documented by the handler.)
    #[param(ignore)]
    pub(super) paging: Paging,
    /// Case-insensitive name substring.
    /// `%` and `_` are literal; empty is no filter; longer than 256 bytes: 400 `WAF.00011002`.
    #[param(max_length = 256)]
    pub(super) name: Option<String>,
    /// Whether items carry `expire_time`, `exp_status` and `bind_host`.
    /// `true` or `false` (any case); anything else: 400 `WAF.00011002`.
    #[param(value_type = Option<bool>, default = false)]
    pub(super) host: bool,
    /// Only certificates in this state.
    /// 0 valid, 1 expired, 2 expiring within 30 days; anything else: 400 `WAF.00011002`.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 2)]
    pub(super) exp_status: Option<ExpiryStatus>,
}

impl ListParams {
    /// Checks every documented parameter.
    pub(super) fn parse(query: &QueryPairs) -> Result<Self, ApiError> {
        let paging = Paging::parse(query, None)?;
        let name = query.filter("name")?.map(str::to_owned);
        let host = query.flag("host")?.unwrap_or(false);
        let exp_status = match query.get("exp_status") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().and_then(ExpiryStatus::from_code).ok_or_else(
                || {
                    ApiError::new(
                        ErrorCode::UrlParamIllegal,
                        "exp_status must be 0 (valid), 1 (expired) or 2 (expiring within 30 days)",
                    )
                },
            )?),
        };
        Ok(Self {
            paging,
            name,
            host,
            exp_status,
        })
    }

    /// The storage filter for this query at time `now`.
    pub(super) fn to_filter(&self, now: Millis) -> ListFilter {
        ListFilter {
            name_contains: self.name.clone(),
            expiry: self.exp_status.map(|s| s.window(now)),
            window: self.paging.window(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::extract::answers_or_400;
    use crate::api::paging::printed;

    fn parse(q: &str) -> Result<ListParams, ErrorCode> {
        ListParams::parse(&QueryPairs::from_query(q)).map_err(|e| e.code())
    }

    #[test]
    fn defaults_are_page_one_and_all() {
        let p = parse("").unwrap();
        assert_eq!(
            (p.paging.page, p.paging.pagesize, p.host, p.exp_status),
            (1, None, false, None)
        );
        assert_eq!(p.to_filter(0).window.limit, None);
        assert_eq!(p.to_filter(0).window.offset, 0);
    }

    #[test]
    fn host_and_exp_status() {
        assert!(parse("host=true").unwrap().host);
        assert!(!parse("host=false").unwrap().host);
        assert_eq!(parse("host=1"), Err(ErrorCode::UrlParamIllegal));
        assert_eq!(
            parse("exp_status=2").unwrap().exp_status,
            Some(ExpiryStatus::ExpiringSoon)
        );
        for bad in [
            "exp_status=3",
            "exp_status=-1",
            "exp_status=x",
            "exp_status=",
        ] {
            assert_eq!(parse(bad), Err(ErrorCode::UrlParamIllegal), "{bad}");
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert!(parse("pageSize=1000&offset=x&limit=y&enterprise_project_id=0").is_ok());
    }

    fn print(p: &ListParams) -> String {
        let mut q = printed(p.paging);
        q.push(format!("host={}", p.host));
        if let Some(name) = &p.name {
            q.push(format!("name={}", crate::api::extract::urlencode(name)));
        }
        if let Some(s) = p.exp_status {
            q.push(format!("exp_status={}", s.code()));
        }
        q.join("&")
    }

    fn params() -> impl proptest::strategy::Strategy<Value = ListParams> {
        use proptest::prelude::*;
        (
            1..=i64::MAX,
            prop_oneof![Just(None), (1i64..=100).prop_map(Some)],
            proptest::option::of("\\PC{1,40}"),
            any::<bool>(),
            proptest::option::of(0i64..=2),
        )
            .prop_map(|(page, pagesize, name, host, exp)| ListParams {
                paging: Paging { page, pagesize },
                name,
                host,
                exp_status: exp.and_then(ExpiryStatus::from_code),
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Every valid query, printed as a client sends it, parses back to itself.
        #[test]
        fn printed_queries_parse_back(p in params()) {
            let pairs = QueryPairs::extracted(&print(&p)).expect("a printed query is well-formed");
            proptest::prop_assert_eq!(ListParams::parse(&pairs).ok(), Some(p));
        }

        /// Any query string never panics: it is an answer or a 400.
        #[test]
        fn arbitrary_queries_never_panic(raw in "[ -~]{0,120}") {
            answers_or_400(&raw, ListParams::parse)?;
        }
    }
}
