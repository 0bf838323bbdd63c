//! Which API operation a request calls, by the names of the Huawei Cloud SDKs
//! (`ListCertificates`, `CreatePremiumHost`, `KeystoneCreateToken`, ...), plus wafcert's own
//! `ListEvents`: the `operation` label of the HTTP metrics. It reads the method and path only,
//! so it works before routing and authentication.

use axum::http::Method;

/// The operation a request calls, or `None` for paths that are not API operations (health,
/// metrics, unknown paths).
pub fn operation(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let name = match (segments.as_slice(), method.as_str()) {
        (["v1", _, "waf", "certificate"], "GET") => "ListCertificates",
        (["v1", _, "waf", "certificate"], "POST") => "CreateCertificate",
        (["v1", _, "waf", "certificate", _], "GET") => "ShowCertificate",
        (["v1", _, "waf", "certificate", _], "PUT") => "UpdateCertificate",
        (["v1", _, "waf", "certificate", _], "DELETE") => "DeleteCertificate",
        (["v1", _, "waf", "certificate", _, "apply-to-hosts"], "POST") => "ApplyCertificateToHost",
        (["v1", _, "premium-waf", "host"], "GET") => "ListPremiumHost",
        (["v1", _, "premium-waf", "host"], "POST") => "CreatePremiumHost",
        (["v1", _, "premium-waf", "host", _], "GET") => "ShowPremiumHost",
        (["v1", _, "premium-waf", "host", _], "PUT") => "UpdatePremiumHost",
        (["v1", _, "premium-waf", "host", _], "DELETE") => "DeletePremiumHost",
        (["v1", _, "wafcert", "events"], "GET") => "ListEvents",
        ([""], "GET") => "KeystoneListVersions",
        (["v3"] | ["v3", ""], "GET") => "KeystoneShowVersion",
        (["v3", "auth", "tokens"], "POST") => "KeystoneCreateToken",
        (["v3", "auth", "tokens"], "GET") => "KeystoneValidateToken",
        (["v3", "auth", "tokens"], "HEAD") => "KeystoneCheckToken",
        (["v3", "auth", "tokens"], "DELETE") => "KeystoneRevokeToken",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/v1/0123456789abcdef0123456789abcdef";

    #[test]
    fn names_follow_the_sdk() {
        let op = |m: Method, p: &str| operation(&m, p);
        assert_eq!(
            op(Method::GET, &format!("{P}/waf/certificate")),
            Some("ListCertificates")
        );
        assert_eq!(
            op(
                Method::POST,
                &format!("{P}/waf/certificate/abc/apply-to-hosts")
            ),
            Some("ApplyCertificateToHost")
        );
        assert_eq!(
            op(Method::DELETE, &format!("{P}/premium-waf/host/h")),
            Some("DeletePremiumHost")
        );
        assert_eq!(
            op(Method::GET, &format!("{P}/wafcert/events")),
            Some("ListEvents")
        );
        assert_eq!(
            op(Method::POST, "/v3/auth/tokens"),
            Some("KeystoneCreateToken")
        );
        assert_eq!(op(Method::PATCH, &format!("{P}/waf/certificate")), None);
        assert_eq!(op(Method::GET, "/healthz"), None);
        assert_eq!(op(Method::GET, "/metrics"), None);
    }
}
