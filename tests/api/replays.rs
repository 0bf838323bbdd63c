//! Replays of the call sequences of the tools people automate the WAF with (issue 15). Each
//! test sends what the named source file sends, in its order, with its headers and bodies, and
//! checks every answer field the tool reads. Terraform and the Go modules cannot be fetched
//! here, so these replays stand in for running them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::domain::Role;

use crate::helpers::*;

crate::on_both_backends!(
    otc_waf_dedicated_certificate_v1,
    otc_waf_dedicated_domain_v1,
    huawei_waf_certificate_resource,
    huawei_waf_certificates_data_source,
    certimate_huaweicloud_waf_deployer,
);

/// What every gophertelekomcloud WAF call carries: the token and its JSON content type.
fn otc(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> reqwest::RequestBuilder {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .header("X-Auth-Token", &app.token)
        .header("Content-Type", "application/json;charset=utf8")
        .header("Accept", "application/json");
    if let Some(body) = body {
        req = req.body(serde_json::to_vec(body).unwrap());
    }
    req
}

/// Epoch ms as the providers store them (`time.Unix(ms/1000, 0)`): whole seconds, not zero.
fn seconds(v: &Value) -> i64 {
    let ms = v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"));
    assert!(ms > 1_000_000_000_000, "epoch milliseconds: {ms}");
    ms / 1000
}

/// terraform-provider-opentelekomcloud
/// `opentelekomcloud/services/waf/resource_opentelekomcloud_waf_dedicated_certificate_v1.go`
/// over gophertelekomcloud `openstack/waf-premium/v1/certificates/{Create,Get,Delete}.go`:
/// create (name `^[\w-_.]{1,64}$`, content and key `TrimSpace`d), read, import (a read by
/// id), delete (OkCodes 200), and the refresh after an out-of-band delete (404 drops the
/// resource from state; any other status fails the plan).
async fn otc_waf_dedicated_certificate_v1(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(120);
    // resourceWafDedicatedCertificateV1Create: certificates.Create, OkCodes [200].
    let create =
        json!({"name": "tf_otc-cert.1", "content": f.cert_pem.trim(), "key": f.key_pem.trim()});
    let (status, created) = app
        .send(otc(&app, "POST", "waf/certificate", Some(&create)))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "tf_otc-cert.1");
    assert_eq!(seconds(&created["expire_time"]), f.not_after_ms / 1000);
    seconds(&created["timestamp"]);
    // resourceWafDedicatedCertificateV1Read (after create, on refresh and on import).
    for _ in 0..2 {
        let (status, read) = app
            .send(otc(&app, "GET", &format!("waf/certificate/{id}"), None))
            .await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["name"], "tf_otc-cert.1");
        assert_eq!(seconds(&read["expire_time"]), f.not_after_ms / 1000);
        assert_eq!(read["timestamp"], created["timestamp"]);
    }
    // resourceWafDedicatedCertificateV1Delete: OkCodes [200].
    let (status, deleted) = app
        .send(otc(&app, "DELETE", &format!("waf/certificate/{id}"), None))
        .await;
    assert_eq!(status, 200, "{deleted}");
    // The next refresh: ErrDefault404 removes it from state.
    let (status, _) = app
        .send(otc(&app, "GET", &format!("waf/certificate/{id}"), None))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// terraform-provider-opentelekomcloud
/// `opentelekomcloud/services/waf/resource_opentelekomcloud_waf_dedicated_domain_v1.go` over
/// gophertelekomcloud `openstack/waf-premium/v1/hosts/{Create,Get,Update,UpdateProtectStatus,
/// Delete}.go` and `openstack/waf-premium/v1/certificates/Get.go`. gophertelekomcloud builds
/// bodies with plain `json.Marshal` (`internal/build/request_body.go`), so empty and zero
/// fields are sent too: `policyid: ""` on create, `certificateid: ""`, `certificatename: ""`
/// and `protect_status: 0` on every update.
async fn otc_waf_dedicated_domain_v1(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let (c1, c2) = (fixture(120), fixture(200));
    let cert1 = app.create_cert("otc-cert-1", &c1).await;
    let cert2 = app.create_cert("otc-cert-2", &c2).await;
    let (cid1, cid2) = (
        cert1["id"].as_str().unwrap().to_owned(),
        cert2["id"].as_str().unwrap().to_owned(),
    );
    let server = json!([{"front_protocol": "HTTPS", "back_protocol": "HTTP", "address": "192.168.0.10",
                         "port": 8080, "type": "ipv4", "vpc_id": "6e9c6d4a-vpc"}]);

    // Create: certificates.Get for the name, then hosts.Create (OkCodes [200]).
    let (status, cert) = app
        .send(otc(&app, "GET", &format!("waf/certificate/{cid1}"), None))
        .await;
    assert_eq!(status, 200);
    let create = json!({"certificateid": cid1, "certificatename": cert["name"], "hostname": "shop.example.com",
                        "proxy": false, "policyid": "", "server": server});
    let (status, host) = app
        .send(otc(&app, "POST", "premium-waf/host", Some(&create)))
        .await;
    assert_eq!(status, 200, "{host}");
    let hid = host["id"].as_str().unwrap().to_owned();
    let policy = host["policyid"].as_str().unwrap().to_owned();
    assert_eq!(policy.len(), 32, "the host got a policy: {host}");
    // protect_status = 0 in the configuration: hosts.UpdateProtectStatus (underscore path).
    let (status, answer) = app
        .send(otc(
            &app,
            "PUT",
            &format!("premium-waf/host/{hid}/protect_status"),
            Some(&json!({"protect_status": 0})),
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    // tls, cipher and pci_dss in the configuration: updateWafDedicatedDomain on the new
    // resource, with getHostFlag's `flag` (both switches, as strings).
    let update = |cid: &str, cname: &str, flag: Value| {
        json!({"proxy": null, "certificateid": cid, "certificatename": cname, "tls": "TLS v1.2", "cipher": "cipher_2",
               "protect_status": 0, "block_page": null, "flag": flag, "traffic_mark": null,
               "circuit_breaker": null, "timeout_config": null, "web_tag": "", "description": ""})
    };
    let (status, answer) = app
        .send(otc(
            &app,
            "PUT",
            &format!("premium-waf/host/{hid}"),
            Some(&update(
                "",
                "",
                json!({"pci_3ds": "false", "pci_dss": "true"}),
            )),
        ))
        .await;
    assert_eq!(
        status, 200,
        "empty certificate fields keep the certificate: {answer}"
    );
    // Read (after create, on refresh, and on `terraform import <id>`).
    let read = |expected_cert: String, expected_status: i64| {
        let app = &app;
        let hid = hid.clone();
        let policy = policy.clone();
        async move {
            let (status, d) = app
                .send(otc(app, "GET", &format!("premium-waf/host/{hid}"), None))
                .await;
            assert_eq!(status, 200, "{d}");
            assert_eq!(d["hostname"], "shop.example.com");
            assert_eq!(d["server"][0]["front_protocol"], "HTTPS");
            assert_eq!(d["server"][0]["back_protocol"], "HTTP");
            assert_eq!(d["server"][0]["address"], "192.168.0.10");
            assert_eq!(d["server"][0]["port"], 8080);
            assert_eq!(d["server"][0]["type"], "ipv4");
            assert_eq!(d["server"][0]["vpc_id"], "6e9c6d4a-vpc");
            assert_eq!(d["certificateid"], expected_cert.as_str());
            assert!(
                d["certificatename"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("otc-cert-"))
            );
            assert_eq!(d["policyid"], policy.as_str());
            assert_eq!(d["proxy"], false);
            assert_eq!(d["protect_status"], expected_status);
            assert_eq!(d["protocol"], "HTTPS");
            assert_eq!(d["tls"], "TLS v1.2");
            assert_eq!(d["cipher"], "cipher_2");
            // Read dereferences `domain.Flag` without a nil check, then ParseBool's the values.
            assert_eq!(d["flag"], json!({"pci_3ds": "false", "pci_dss": "true"}));
            seconds(&d["timestamp"]);
        }
    };
    read(cid1.clone(), 0).await;
    read(cid1.clone(), 0).await;
    // Update of certificate_id: certificates.Get, then hosts.Update with the new pair.
    let (_, cert) = app
        .send(otc(&app, "GET", &format!("waf/certificate/{cid2}"), None))
        .await;
    let (status, answer) = app
        .send(otc(
            &app,
            "PUT",
            &format!("premium-waf/host/{hid}"),
            Some(&update(&cid2, cert["name"].as_str().unwrap(), Value::Null)),
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    read(cid2.clone(), 0).await;
    let (_, old) = app.get(&format!("waf/certificate/{cid1}")).await;
    assert_eq!(
        old["bind_host"],
        json!([]),
        "the old certificate is free again"
    );
    // Update of protect_status: hosts.UpdateProtectStatus.
    let (status, _) = app
        .send(otc(
            &app,
            "PUT",
            &format!("premium-waf/host/{hid}/protect_status"),
            Some(&json!({"protect_status": 1})),
        ))
        .await;
    assert_eq!(status, 200);
    read(cid2.clone(), 1).await;
    // Destroy with keep_policy = false: hosts.Delete with ?keepPolicy=false (OkCodes [200]).
    let (status, _) = app
        .send(otc(
            &app,
            "DELETE",
            &format!("premium-waf/host/{hid}?keepPolicy=false"),
            None,
        ))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send(otc(&app, "GET", &format!("premium-waf/host/{hid}"), None))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refresh drops it from state"
    );
    assert_eq!(
        app.get(&format!("waf/policy/{policy}")).await.0,
        StatusCode::NOT_FOUND
    );
    // The certificates can go now.
    for cid in [&cid1, &cid2] {
        assert_eq!(
            app.send(otc(&app, "DELETE", &format!("waf/certificate/{cid}"), None))
                .await
                .0,
            200
        );
    }
}

/// terraform-provider-huaweicloud `huaweicloud/services/waf/resource_huaweicloud_waf_certificate.go`
/// over chnsz/golangsdk `openstack/waf/v1/certificates/requests.go`, which puts
/// `enterprise_project_id` in the query (`BuildQueryString`, `GenerateEpsIDQuery`) and sends
/// `Content-Type: application/json` and `X-Language: en-us` on reads and deletes: create (name
/// `^[\w-]{1,256}$`, content and key trimmed; OkCodes 200), read (name, `expire_time` / 1000),
/// update (`{"name"}`, the whole name; OkCodes 200), import (a read), delete (OkCodes 200 or
/// 204). Run with `--contract huawei`, whose 256-character limit on update lets the provider's
/// longest valid names through.
async fn huawei_waf_certificate_resource(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.contract = wafcert::domain::Contract::Huawei).await;
    let hw = |method: &str, path: &str, body: Option<&Value>| {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("X-Auth-Token", &app.token)
            .header("Content-Type", "application/json")
            .header("X-Language", "en-us");
        if let Some(body) = body {
            req = req.body(serde_json::to_vec(body).unwrap());
        }
        req
    };
    let f = fixture(45);
    let long = format!("tf_{}", "w".repeat(250));
    let create =
        json!({"name": "tf_huawei_cert", "content": f.cert_pem.trim(), "key": f.key_pem.trim()});
    let (status, created) = app
        .send(hw(
            "POST",
            "waf/certificate?enterprise_project_id=0",
            Some(&create),
        ))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("waf/certificate/{id}?enterprise_project_id=0");
    let read = |name: String| {
        let (app, hw, path) = (&app, &hw, path.clone());
        async move {
            let (status, n) = app.send(hw("GET", &path, None)).await;
            assert_eq!(status, 200, "{n}");
            assert_eq!(n["name"], name.as_str());
            assert_eq!(seconds(&n["expire_time"]), f.not_after_ms / 1000);
        }
    };
    read("tf_huawei_cert".to_owned()).await;
    // Update: the whole (new) name, up to 256 characters under the huawei contract.
    let (status, updated) = app
        .send(hw("PUT", &path, Some(&json!({"name": long}))))
        .await;
    assert_eq!(status, 200, "{updated}");
    read(long.clone()).await;
    read(long.clone()).await; // terraform import
    let (status, _) = app.send(hw("DELETE", &path, None)).await;
    assert_eq!(status, 200);
    // CheckDeleted on the next refresh keys on 404.
    assert_error(&app.send(hw("GET", &path, None)).await, 404, "WAF.00022001");
}

/// terraform-provider-huaweicloud `huaweicloud/services/waf/data_source_huaweicloud_waf_certificates.go`:
/// `GET v1/{project_id}/waf/certificate?pagesize=100[&name=][&host=true][&exp_status=]&page=N`
/// with `Content-Type: application/json;charset=utf8`, from page 1 until a page has no items;
/// reads `id`, `name`, `exp_status`, `timestamp`, `expire_time` and `bind_host[]` (`id`,
/// `hostname`, `mode`, `waf_type`).
async fn huawei_waf_certificates_data_source(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(10); // expires within 30 days: exp_status 2
    let mut ids = Vec::new();
    for i in 0..103 {
        ids.push(
            app.create_cert(&format!("ds-{i:03}"), &f).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let host = create_host(&app, "www.ds.example", "HTTPS", Some((&ids[0], "ds-000"))).await;
    let read_all = |query: &'static str| {
        let app = &app;
        async move {
            let mut all = Vec::new();
            for page in 1.. {
                let path = format!("waf/certificate?pagesize=100{query}&page={page}");
                let (status, body) = app.send(otc(app, "GET", &path, None)).await;
                assert_eq!(status, 200, "{path}: {body}");
                let items = body["items"].as_array().unwrap().clone();
                if items.is_empty() {
                    assert!(body["total"].as_i64().unwrap() >= 0);
                    break;
                }
                assert!(page < 10, "the loop must end");
                all.extend(items);
            }
            all
        }
    };
    let all = read_all("").await;
    assert_eq!(all.len(), 103);
    let mut seen: Vec<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 103, "no item twice across pages");
    let with_hosts = read_all("&name=ds-00&host=true&exp_status=2").await;
    assert_eq!(with_hosts.len(), 10);
    let bound = with_hosts
        .iter()
        .find(|c| c["id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(bound["name"], "ds-000");
    assert_eq!(bound["exp_status"], 2);
    seconds(&bound["timestamp"]);
    assert_eq!(seconds(&bound["expire_time"]), f.not_after_ms / 1000);
    assert_eq!(
        bound["bind_host"],
        json!([{"id": host["id"], "hostname": "www.ds.example", "waf_type": "premium", "mode": "premium"}])
    );
}

/// Certimate `internal/pkg/core/deployer/providers/huaweicloud-waf/huaweicloud_waf.go` with its
/// uploader `internal/pkg/core/uploader/providers/huaweicloud-waf/huaweicloud_waf.go`, over
/// huaweicloud-sdk-go-v3: the project lookup with global credentials (`GET /v3/auth/domains`,
/// then `GET /v3/projects?name=<region>` with `X-Domain-Id`, taking `projects[0].id`), the
/// upload (list `page`/`pagesize=100` until a short page, show each item to compare content,
/// else create `certimate-<ms>`), then either the in-place update of a certificate (show,
/// then update with its own name, new content and key: only while it is unbound) or the
/// re-pointing of a premium host (list by hostname, update `certificateid`/`certificatename`).
async fn certimate_huaweicloud_waf_deployer(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let key = app.access_key(Role::Admin).await;
    // getSdkProjectId.
    let (status, domains) = app
        .send(app.signed("GET", "/v3/auth/domains", &Value::Null, &key, &[]))
        .await;
    assert_eq!(status, 200, "{domains}");
    let domain = domains["domains"][0]["id"].as_str().unwrap().to_owned();
    let (status, projects) = app
        .send(app.signed(
            "GET",
            "/v3/projects?name=eu-de",
            &Value::Null,
            &key,
            &[("x-domain-id", &domain)],
        ))
        .await;
    assert_eq!(status, 200, "{projects}");
    let project = projects["projects"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(project, app.project);
    let waf = |method: &str, path: &str, body: &Value| {
        app.signed(
            method,
            &format!("/v1/{project}/{path}"),
            body,
            &key,
            &[("x-project-id", &project)],
        )
    };
    // Upload: nothing alike yet, so list (one short page), then create.
    let existing = fixture(300);
    app.create_cert("unrelated", &existing).await;
    let renewed = fixture(90);
    let upload = |pem: &Fixture| {
        let pem = pem.clone();
        let waf = &waf;
        let app = &app;
        async move {
            for page in 1.. {
                let (status, list) = app
                    .send(waf(
                        "GET",
                        &format!("waf/certificate?page={page}&pagesize=100"),
                        &Value::Null,
                    ))
                    .await;
                assert_eq!(status, 200, "{list}");
                let items = list["items"].as_array().unwrap().clone();
                for item in &items {
                    let (status, shown) = app
                        .send(waf(
                            "GET",
                            &format!("waf/certificate/{}", item["id"].as_str().unwrap()),
                            &Value::Null,
                        ))
                        .await;
                    assert_eq!(status, 200);
                    if shown["content"].as_str() == Some(pem.cert_pem.trim()) {
                        return (
                            item["id"].as_str().unwrap().to_owned(),
                            item["name"].as_str().unwrap().to_owned(),
                        );
                    }
                }
                if items.len() < 100 {
                    break;
                }
            }
            let name = format!("certimate-{}", wafcert::domain::now_ms());
            let (status, created) = app
                .send(waf(
                    "POST",
                    "waf/certificate",
                    &json!({"name": name, "content": pem.cert_pem, "key": pem.key_pem}),
                ))
                .await;
            assert_eq!(status, 200, "{created}");
            (
                created["id"].as_str().unwrap().to_owned(),
                created["name"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (new_id, new_name) = upload(&renewed).await;
    assert!(new_name.starts_with("certimate-"));
    // A second run finds the uploaded certificate instead of uploading again.
    assert_eq!(upload(&renewed).await, (new_id.clone(), new_name.clone()));

    // RESOURCE_TYPE_CERTIFICATE on an unbound certificate: show, update in place.
    let (_, target) = app.get("waf/certificate?name=unrelated").await;
    let target_id = target["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, shown) = app
        .send(waf(
            "GET",
            &format!("waf/certificate/{target_id}"),
            &Value::Null,
        ))
        .await;
    assert_eq!(status, 200);
    let in_place =
        json!({"name": shown["name"], "content": renewed.cert_pem, "key": renewed.key_pem});
    let (status, updated) = app
        .send(waf(
            "PUT",
            &format!("waf/certificate/{target_id}"),
            &in_place,
        ))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "unrelated");
    assert_eq!(
        seconds(&updated["expire_time"]),
        renewed.not_after_ms / 1000
    );

    // RESOURCE_TYPE_PREMIUMHOST: list hosts by hostname (page=1, pagesize=100), then point the
    // host at the uploaded certificate.
    let old = app.create_cert("old-site", &fixture(20)).await;
    let host = create_host(
        &app,
        "www.site.example",
        "HTTPS",
        Some((old["id"].as_str().unwrap(), "old-site")),
    )
    .await;
    let (status, hosts) = app
        .send(waf(
            "GET",
            "premium-waf/host?hostname=www.site.example&page=1&pagesize=100",
            &Value::Null,
        ))
        .await;
    assert_eq!(status, 200, "{hosts}");
    let found = hosts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == "www.site.example")
        .unwrap();
    assert_eq!(found["id"], host["id"]);
    let (status, repointed) = app
        .send(waf(
            "PUT",
            &format!("premium-waf/host/{}", found["id"].as_str().unwrap()),
            &json!({"certificateid": new_id, "certificatename": new_name}),
        ))
        .await;
    assert_eq!(status, 200, "{repointed}");
    assert_eq!(repointed["certificateid"], new_id.as_str());
    // In-place update of a bound certificate is refused, as on the cloud: Certimate's
    // certificate mode only works on unbound ones.
    let (status, refused) = app
        .send(waf(
            "PUT",
            &format!("waf/certificate/{new_id}"),
            &json!({"name": new_name, "content": renewed.cert_pem, "key": renewed.key_pem}),
        ))
        .await;
    assert_error(&(status, refused), 400, "WAF.00022003");
    // And an unknown certificate id fails the deploy with 404.
    let (status, _) = app
        .send(waf(
            "GET",
            &format!("waf/certificate/{NO_SUCH_ID}"),
            &Value::Null,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
