//! Which API operation a request calls, by the names of the Huawei Cloud SDKs
//! (`ListCertificates`, `CreatePremiumHost`, `KeystoneCreateToken`, ...), plus wafcert's own
//! `ListEvents`: the one mapping of routes to operation names, shared by the request journal,
//! injected faults and metrics.
//! It reads the method and path only, so it works before routing and authentication.

use axum::http::Method;

/// Every operation name [`operation`] can answer, for validating names given by callers.
pub const OPERATIONS: &[&str] = &[
    "ListCertificates",
    "CreateCertificate",
    "ShowCertificate",
    "UpdateCertificate",
    "DeleteCertificate",
    "ApplyCertificateToHost",
    "RotateCertificate",
    "ShowCertificateDetails",
    "ListPremiumHost",
    "CreatePremiumHost",
    "ShowPremiumHost",
    "UpdatePremiumHost",
    "DeletePremiumHost",
    "ListEvents",
    "UpdatePremiumHostProtectStatus",
    "ListPolicy",
    "CreatePolicy",
    "ShowPolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "KeystoneListVersions",
    "KeystoneShowVersion",
    "KeystoneCreateToken",
    "KeystoneValidateToken",
    "KeystoneCheckToken",
    "KeystoneRevokeToken",
    "KeystoneListProjects",
    "KeystoneShowProject",
    "KeystoneListAuthProjects",
    "KeystoneListAuthDomains",
];

/// The operation a request calls, or `None` for paths that are not API operations.
pub fn operation(method: &Method, path: &str) -> Option<&'static str> {
    // No operation has more segments; counting requests must not allocate.
    const MAX_SEGMENTS: usize = 6;
    let mut held = [""; MAX_SEGMENTS];
    let mut count = 0;
    for segment in path.split('/').skip(1) {
        *held.get_mut(count)? = segment;
        count += 1;
    }
    let segments = &held[..count];
    let m = method.as_str();
    let name = match (segments, m) {
        (["v1", _, "waf", "certificate"], "GET") => "ListCertificates",
        (["v1", _, "waf", "certificate"], "POST") => "CreateCertificate",
        (["v1", _, "waf", "certificate", _], "GET") => "ShowCertificate",
        (["v1", _, "waf", "certificate", _], "PUT") => "UpdateCertificate",
        (["v1", _, "waf", "certificate", _], "DELETE") => "DeleteCertificate",
        (["v1", _, "waf", "certificate", _, "apply-to-hosts"], "POST") => "ApplyCertificateToHost",
        // wafcert's extensions, named in the same style.
        (["v1", _, "wafcert", "certificate", _, "rotate"], "POST") => "RotateCertificate",
        (["v1", _, "wafcert", "certificate", _, "details"], "GET") => "ShowCertificateDetails",
        (["v1", _, "premium-waf", "host"], "GET") => "ListPremiumHost",
        (["v1", _, "premium-waf", "host"], "POST") => "CreatePremiumHost",
        (["v1", _, "premium-waf", "host", _], "GET") => "ShowPremiumHost",
        (["v1", _, "premium-waf", "host", _], "PUT") => "UpdatePremiumHost",
        (["v1", _, "premium-waf", "host", _], "DELETE") => "DeletePremiumHost",
        (["v1", _, "wafcert", "events"], "GET") => "ListEvents",
        // gophertelekomcloud spells the last segment with an underscore.
        (
            [
                "v1",
                _,
                "premium-waf",
                "host",
                _,
                "protect-status" | "protect_status",
            ],
            "PUT",
        ) => "UpdatePremiumHostProtectStatus",
        (["v1", _, "waf", "policy"], "GET") => "ListPolicy",
        (["v1", _, "waf", "policy"], "POST") => "CreatePolicy",
        (["v1", _, "waf", "policy", _], "GET") => "ShowPolicy",
        // `?hosts=` (UpdatePolicyProtectHost) is the same path; operations read no query.
        (["v1", _, "waf", "policy", _], "PUT") => "UpdatePolicy",
        (["v1", _, "waf", "policy", _], "DELETE") => "DeletePolicy",
        ([""], "GET") => "KeystoneListVersions",
        (["v3"] | ["v3", ""], "GET") => "KeystoneShowVersion",
        (["v3", "auth", "tokens"], "POST") => "KeystoneCreateToken",
        (["v3", "auth", "tokens"], "GET") => "KeystoneValidateToken",
        (["v3", "auth", "tokens"], "HEAD") => "KeystoneCheckToken",
        (["v3", "auth", "tokens"], "DELETE") => "KeystoneRevokeToken",
        (["v3", "projects"], "GET") => "KeystoneListProjects",
        (["v3", "projects", _], "GET") => "KeystoneShowProject",
        (["v3", "auth", "projects"], "GET") => "KeystoneListAuthProjects",
        (["v3", "auth", "domains"], "GET") => "KeystoneListAuthDomains",
        _ => return None,
    };
    Some(name)
}

/// True when `name` is one of [`OPERATIONS`].
pub fn is_operation(name: &str) -> bool {
    OPERATIONS.contains(&name)
}

/// The project id in a `/v1/{project_id}/...` path, as written (unchecked).
pub fn project_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/').skip(1);
    match (segments.next(), segments.next()) {
        (Some("v1"), Some(project)) if !project.is_empty() => Some(project),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/v1/0123456789abcdef0123456789abcdef";

    #[test]
    fn routes_map_to_sdk_names() {
        let cases = [
            (
                Method::GET,
                format!("{P}/waf/certificate"),
                "ListCertificates",
            ),
            (
                Method::POST,
                format!("{P}/waf/certificate"),
                "CreateCertificate",
            ),
            (
                Method::GET,
                format!("{P}/waf/certificate/x"),
                "ShowCertificate",
            ),
            (
                Method::PUT,
                format!("{P}/waf/certificate/x"),
                "UpdateCertificate",
            ),
            (
                Method::DELETE,
                format!("{P}/waf/certificate/x"),
                "DeleteCertificate",
            ),
            (
                Method::POST,
                format!("{P}/waf/certificate/x/apply-to-hosts"),
                "ApplyCertificateToHost",
            ),
            (
                Method::POST,
                format!("{P}/wafcert/certificate/x/rotate"),
                "RotateCertificate",
            ),
            (
                Method::GET,
                format!("{P}/wafcert/certificate/x/details"),
                "ShowCertificateDetails",
            ),
            (
                Method::GET,
                format!("{P}/premium-waf/host"),
                "ListPremiumHost",
            ),
            (
                Method::POST,
                format!("{P}/premium-waf/host"),
                "CreatePremiumHost",
            ),
            (
                Method::GET,
                format!("{P}/premium-waf/host/h"),
                "ShowPremiumHost",
            ),
            (
                Method::PUT,
                format!("{P}/premium-waf/host/h"),
                "UpdatePremiumHost",
            ),
            (
                Method::DELETE,
                format!("{P}/premium-waf/host/h"),
                "DeletePremiumHost",
            ),
            (Method::GET, format!("{P}/wafcert/events"), "ListEvents"),
            (Method::GET, "/".to_owned(), "KeystoneListVersions"),
            (Method::GET, "/v3".to_owned(), "KeystoneShowVersion"),
            (
                Method::POST,
                "/v3/auth/tokens".to_owned(),
                "KeystoneCreateToken",
            ),
            (
                Method::GET,
                "/v3/auth/tokens".to_owned(),
                "KeystoneValidateToken",
            ),
            (
                Method::HEAD,
                "/v3/auth/tokens".to_owned(),
                "KeystoneCheckToken",
            ),
            (
                Method::DELETE,
                "/v3/auth/tokens".to_owned(),
                "KeystoneRevokeToken",
            ),
            (
                Method::PUT,
                format!("{P}/premium-waf/host/h/protect-status"),
                "UpdatePremiumHostProtectStatus",
            ),
            (
                Method::PUT,
                format!("{P}/premium-waf/host/h/protect_status"),
                "UpdatePremiumHostProtectStatus",
            ),
            (Method::GET, format!("{P}/waf/policy"), "ListPolicy"),
            (Method::POST, format!("{P}/waf/policy"), "CreatePolicy"),
            (Method::GET, format!("{P}/waf/policy/p"), "ShowPolicy"),
            (Method::PUT, format!("{P}/waf/policy/p"), "UpdatePolicy"),
            (Method::DELETE, format!("{P}/waf/policy/p"), "DeletePolicy"),
            (
                Method::GET,
                "/v3/projects".to_owned(),
                "KeystoneListProjects",
            ),
            (
                Method::GET,
                "/v3/projects/p".to_owned(),
                "KeystoneShowProject",
            ),
            (
                Method::GET,
                "/v3/auth/projects".to_owned(),
                "KeystoneListAuthProjects",
            ),
            (
                Method::GET,
                "/v3/auth/domains".to_owned(),
                "KeystoneListAuthDomains",
            ),
        ];
        for (method, path, name) in &cases {
            assert_eq!(operation(method, path), Some(*name), "{method} {path}");
            assert!(is_operation(name));
        }
        let mut named: Vec<&str> = cases.iter().map(|(_, _, n)| *n).collect();
        named.sort_unstable();
        named.dedup();
        let mut all = OPERATIONS.to_vec();
        all.sort_unstable();
        assert_eq!(
            named, all,
            "every listed operation is reachable, and only those"
        );
    }

    #[test]
    fn other_paths_are_no_operation() {
        for (method, path) in [
            (Method::PATCH, format!("{P}/waf/certificate")),
            (Method::GET, format!("{P}/waf/certificate/x/y")),
            // One segment more than any operation has, ending like one that exists.
            (
                Method::POST,
                format!("{P}/waf/certificate/x/apply-to-hosts/z"),
            ),
            (
                Method::POST,
                format!("/a{P}/waf/certificate/x/apply-to-hosts"),
            ),
            (Method::GET, "/healthz".to_owned()),
            (Method::GET, "/_wafcert/clock".to_owned()),
        ] {
            assert_eq!(operation(&method, &path), None, "{method} {path}");
        }
        assert!(!is_operation("ListCertificate"));
    }

    #[test]
    fn project_ids_come_from_v1_paths() {
        assert_eq!(
            project_of(&format!("{P}/waf/certificate")),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(project_of("/v3/auth/tokens"), None);
        assert_eq!(project_of("/v1/"), None);
    }
}
