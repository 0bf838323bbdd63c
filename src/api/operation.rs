//! Operation names of requests, the Huawei SDK's (`ListCertificates`, `CreatePremiumHost`,
//! `KeystoneCreateToken`, ...), from the method and the matched route: the `operation` label of
//! the HTTP metrics (and of the request journal).

use axum::http::Method;

/// The operation of a request to `route` (the route template, e.g.
/// `/v1/{project_id}/waf/certificate/{certificate_id}`); `None` for routes outside the API
/// (health, metrics, unknown paths).
pub fn operation(method: &Method, route: &str) -> Option<&'static str> {
    const CERT: &str = "/v1/{project_id}/waf/certificate";
    const CERT_ONE: &str = "/v1/{project_id}/waf/certificate/{certificate_id}";
    const APPLY: &str = "/v1/{project_id}/waf/certificate/{certificate_id}/apply-to-hosts";
    const HOST: &str = "/v1/{project_id}/premium-waf/host";
    const HOST_ONE: &str = "/v1/{project_id}/premium-waf/host/{host_id}";
    const EVENTS: &str = "/v1/{project_id}/wafcert/events";
    const TOKENS: &str = "/v3/auth/tokens";
    let name = match (route, method.as_str()) {
        (CERT, "GET") => "ListCertificates",
        (CERT, "POST") => "CreateCertificate",
        (CERT_ONE, "GET") => "ShowCertificate",
        (CERT_ONE, "PUT") => "UpdateCertificate",
        (CERT_ONE, "DELETE") => "DeleteCertificate",
        (APPLY, "POST") => "ApplyCertificateToHost",
        (HOST, "GET") => "ListPremiumHost",
        (HOST, "POST") => "CreatePremiumHost",
        (HOST_ONE, "GET") => "ShowPremiumHost",
        (HOST_ONE, "PUT") => "UpdatePremiumHost",
        (HOST_ONE, "DELETE") => "DeletePremiumHost",
        (EVENTS, "GET") => "ListEvents",
        (TOKENS, "POST") => "KeystoneCreateToken",
        (TOKENS, "GET") => "KeystoneValidateToken",
        (TOKENS, "DELETE") => "KeystoneRevokeToken",
        ("/v3" | "/v3/", "GET") => "KeystoneShowVersion",
        ("/", "GET") => "KeystoneListVersions",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_sdk() {
        let op = |m: Method, r: &str| operation(&m, r);
        assert_eq!(
            op(Method::GET, "/v1/{project_id}/waf/certificate"),
            Some("ListCertificates")
        );
        assert_eq!(
            op(
                Method::POST,
                "/v1/{project_id}/waf/certificate/{certificate_id}/apply-to-hosts"
            ),
            Some("ApplyCertificateToHost")
        );
        assert_eq!(
            op(
                Method::DELETE,
                "/v1/{project_id}/premium-waf/host/{host_id}"
            ),
            Some("DeletePremiumHost")
        );
        assert_eq!(
            op(Method::POST, "/v3/auth/tokens"),
            Some("KeystoneCreateToken")
        );
        assert_eq!(op(Method::PATCH, "/v1/{project_id}/waf/certificate"), None);
        assert_eq!(op(Method::GET, "/healthz"), None);
    }
}
