//! Host fixtures: bodies, creating a host through the API, and the invariant every binding
//! race must keep.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestApp;

pub const HOSTS: &str = "premium-waf/host";

pub const NO_SUCH_ID: &str = "0123456789abcdef0123456789abcdef";

/// An origin server entry.
pub fn server(front: &str) -> Value {
    json!({"front_protocol": front, "back_protocol": "HTTP", "address": "10.0.0.10", "port": 8080,
           "type": "ipv4", "vpc_id": "vpc-0a1b2c"})
}

/// A create body; `certificate` is `(id, name)`.
pub fn host_body(hostname: &str, front: &str, certificate: Option<(&str, &str)>) -> Value {
    let mut body = json!({"hostname": hostname, "server": [server(front)], "proxy": false});
    if let Some((id, name)) = certificate {
        body["certificateid"] = json!(id);
        body["certificatename"] = json!(name);
    }
    body
}

/// Creates a host; panics unless it succeeds. Returns the response body.
pub async fn create_host(
    app: &TestApp,
    hostname: &str,
    front: &str,
    certificate: Option<(&str, &str)>,
) -> Value {
    let (status, body) = app
        .post(HOSTS, &host_body(hostname, front, certificate))
        .await;
    assert_eq!(status, StatusCode::OK, "create {hostname}: {body}");
    body
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

pub fn host_path(id: &str) -> String {
    format!("{HOSTS}/{id}")
}

/// The invariant of every race: each host that names a certificate names one that exists (and
/// whose name the join still finds).
pub async fn assert_no_dangling_binding(app: &TestApp) {
    let (status, list) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    assert_eq!(status, 200, "{list}");
    for host in list["items"].as_array().unwrap() {
        if let Some(cert) = host["certificateid"].as_str() {
            assert!(
                host["certificatename"].is_string(),
                "host points at a missing certificate: {host}"
            );
            let (status, body) = app.get(&format!("waf/certificate/{cert}")).await;
            assert_eq!(
                status, 200,
                "host {} points at deleted certificate {cert}: {body}",
                host["hostname"]
            );
        }
    }
}
