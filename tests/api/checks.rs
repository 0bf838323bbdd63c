//! The certificate checks: a fixture matrix made with rcgen and the openssl command line, each
//! case with its expected finding codes (through `domain::inspect`, the `cert check` command
//! and the details endpoint), PKCS#12 bundles made by openssl, and the details endpoint's
//! fields and duplicate findings on both backends.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::json;
use wafcert::domain::{CheckContext, inspect, now_ms};

use crate::helpers::*;

crate::on_both_backends!(details_report_facts_and_findings);

/// A root CA, an intermediate it signed, and leaves the intermediate signs.
struct Pki {
    root_pem: String,
    inter_pem: String,
    inter: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca_params(cn: &str) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn pki() -> Pki {
    let root_key = key_pair(Alg::EcP256);
    let root_params = ca_params("Test Root");
    let root_pem = root_params.self_signed(&root_key).unwrap().pem();
    let root = rcgen::Issuer::new(root_params, root_key);
    let inter_key = key_pair(Alg::EcP256);
    let inter_params = ca_params("Test Intermediate");
    let inter_pem = inter_params.signed_by(&inter_key, &root).unwrap().pem();
    Pki {
        root_pem,
        inter_pem,
        inter: rcgen::Issuer::new(inter_params, inter_key),
    }
}

/// A leaf for `names` signed by the intermediate, valid from `from` to `to` days from now.
fn leaf(pki: &Pki, names: &[&str], from: i64, to: i64) -> (String, String) {
    let key = key_pair(Alg::EcP256);
    let mut p =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now + time::Duration::days(from);
    p.not_after = now + time::Duration::days(to);
    let cert = p.signed_by(&key, &pki.inter).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A self-signed certificate made by the openssl command line (for what rcgen cannot make:
/// SHA-1 signatures, 1024-bit RSA).
fn openssl_self_signed(dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let (cert, key) = (dir.join("o.pem"), dir.join("o.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=old.example",
        ])
        .args(["-addext", "subjectAltName=DNS:old.example"])
        .args(args)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(cert).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

fn codes(content: &str, key: Option<&str>, hostnames: &[&str]) -> BTreeSet<&'static str> {
    let hostnames: Vec<String> = hostnames.iter().map(|h| (*h).to_owned()).collect();
    let context = CheckContext {
        key,
        hostnames: &hostnames,
        others: &[],
        now: now_ms(),
    };
    inspect(content, &context)
        .unwrap()
        .findings
        .iter()
        .map(|f| f.code)
        .collect()
}

fn set(codes: &[&'static str]) -> BTreeSet<&'static str> {
    codes.iter().copied().collect()
}

/// One row of the matrix: what, chain, key, hostnames, the expected finding codes.
type Case<'a> = (
    &'a str,
    String,
    Option<String>,
    Vec<&'a str>,
    Vec<&'static str>,
);

#[test]
fn fixture_matrix() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (leaf_pem, leaf_key) = leaf(&pki, &["www.example.com", "*.api.example.com"], -1, 89);
    let cat = |parts: &[&str]| parts.concat();
    let hosts = ["www.example.com", "v1.api.example.com"];
    let cases: Vec<Case<'_>> = vec![
        (
            "clean chain with key and covered hostnames",
            cat(&[&leaf_pem, &pki.inter_pem]),
            Some(leaf_key),
            hosts.to_vec(),
            vec![],
        ),
        (
            "leaf alone (issuer not included) is normal",
            leaf_pem.clone(),
            None,
            vec![],
            vec![],
        ),
        (
            "root included",
            cat(&[&leaf_pem, &pki.inter_pem, &pki.root_pem]),
            None,
            vec![],
            vec!["root_included"],
        ),
        (
            "missing intermediate",
            cat(&[&leaf_pem, &pki.root_pem]),
            None,
            vec![],
            vec!["chain_missing_intermediate", "root_included"],
        ),
        (
            "out of order",
            cat(&[&leaf_pem, &pki.root_pem, &pki.inter_pem]),
            None,
            vec![],
            vec!["chain_out_of_order", "root_included"],
        ),
        (
            "key that does not match",
            cat(&[&leaf_pem, &pki.inter_pem]),
            Some(key_pair(Alg::EcP256).serialize_pem()),
            vec![],
            vec!["key_mismatch"],
        ),
        (
            "hostnames no SAN covers (a wildcard covers one label)",
            leaf_pem.clone(),
            None,
            vec!["www.example.com", "a.b.api.example.com", "example.com"],
            vec!["hostname_not_covered"],
        ),
        (
            "validity over 398 days",
            leaf(&pki, &["long.example"], -1, 420).0,
            None,
            vec![],
            vec!["validity_too_long"],
        ),
        (
            "not yet valid",
            leaf(&pki, &["soon.example"], 2, 60).0,
            None,
            vec![],
            vec!["not_yet_valid"],
        ),
        (
            "expired",
            leaf(&pki, &["gone.example"], -60, -1).0,
            None,
            vec![],
            vec!["expired"],
        ),
    ];
    for (what, content, key, hostnames, expected) in &cases {
        assert_eq!(
            codes(content, key.as_deref(), hostnames),
            set(expected),
            "{what}"
        );
    }
    let sha1 = openssl_self_signed(dir.path(), &["-newkey", "rsa:2048", "-sha1"]);
    assert_eq!(codes(&sha1.0, Some(&sha1.1), &[]), set(&["sha1_signature"]));
    let small = openssl_self_signed(dir.path(), &["-newkey", "rsa:1024", "-sha256"]);
    assert_eq!(
        codes(&small.0, Some(&small.1), &[]),
        set(&["rsa_key_too_small", "unsupported"]),
        "a 1024-bit key would also be refused on upload"
    );
    // Messages name what they are about.
    let hostnames = vec!["a.b.api.example.com".to_owned()];
    let context = CheckContext {
        hostnames: &hostnames,
        now: now_ms(),
        ..CheckContext::default()
    };
    let found = inspect(&cat(&[&leaf_pem, &pki.root_pem]), &context).unwrap();
    let text: Vec<String> = found.findings.iter().map(|f| f.message.clone()).collect();
    assert!(
        text.iter().any(|m| m.contains("a.b.api.example.com")),
        "{text:?}"
    );
    assert!(text.iter().any(|m| m.contains("Test Root")), "{text:?}");
    assert_eq!(found.findings[0].severity, wafcert::domain::Severity::Error);
}

fn run_check(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("cert")
        .arg("check")
        .args(args)
        .env("PFX_PASSWORD", "s3cret")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Makes a PKCS#12 bundle with the openssl command line (`legacy`: RC2/3DES as older openssl
/// made them; otherwise openssl 3's default AES-256-CBC with PBKDF2).
fn pfx(
    dir: &std::path::Path,
    name: &str,
    cert: &str,
    key: &str,
    chain: &str,
    legacy: bool,
) -> String {
    let (c, k, ca) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("ca.pem"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    std::fs::write(&ca, chain).unwrap();
    let path = dir.join(name);
    let mut cmd = Command::new("openssl");
    cmd.args(["pkcs12", "-export", "-passout", "pass:s3cret"])
        .arg("-in")
        .arg(&c)
        .arg("-inkey")
        .arg(&k)
        .arg("-certfile")
        .arg(&ca)
        .arg("-out")
        .arg(&path);
    if legacy {
        cmd.args([
            "-legacy",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-RC2-40",
        ]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path.to_str().unwrap().to_owned()
}

#[test]
fn cert_check_command_and_pfx_bundles() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (leaf_pem, leaf_key) = leaf(&pki, &["www.example.com"], -1, 89);
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let chain = write("chain.pem", &format!("{leaf_pem}{}", pki.inter_pem));
    let key = write("key.pem", &leaf_key);
    let (code, out) = run_check(&[
        "--cert",
        &chain,
        "--key",
        &key,
        "--hostname",
        "www.example.com",
    ]);
    assert_eq!((code, out.as_str()), (0, ""), "a clean pair prints nothing");
    let (code, out) = run_check(&["--cert", &chain, "--hostname", "shop.example"]);
    assert_eq!(code, 0, "warnings do not fail: {out}");
    assert!(out.starts_with("WARNING hostname_not_covered "), "{out}");
    let other = write("other.pem", &key_pair(Alg::EcP256).serialize_pem());
    let bad = write(
        "bad.pem",
        &format!("{leaf_pem}{}{}", pki.root_pem, pki.inter_pem),
    );
    let (code, out) = run_check(&["--cert", &bad, "--key", &other]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("ERROR ") && lines[1].starts_with("ERROR "),
        "errors first: {out}"
    );
    assert!(lines[2].starts_with("WARNING root_included "), "{out}");
    assert!(out.contains(" key_mismatch ") && out.contains(" chain_out_of_order "));

    for legacy in [false, true] {
        let bundle = pfx(
            dir.path(),
            "b.pfx",
            &leaf_pem,
            &leaf_key,
            &pki.inter_pem,
            legacy,
        );
        let (code, out) = run_check(&["--pfx", &bundle, "--pfx-password-env", "PFX_PASSWORD"]);
        assert_eq!((code, out.as_str()), (0, ""), "legacy={legacy}");
        let (code, _) = run_check(&["--pfx", &bundle]);
        assert_eq!(code, 1, "the wrong password fails");
    }
}

async fn details_report_facts_and_findings(db: Db) {
    let app = TestApp::spawn_with_controls(db).await;
    let pki = pki();
    let (leaf_pem, leaf_key) = leaf(&pki, &["www.shop.example", "*.api.shop.example"], -1, 60);
    let content = format!("{leaf_pem}{}{}", pki.inter_pem, pki.root_pem);
    let body = json!({"name": "shop", "content": content, "key": leaf_key});
    let (status, created) = app.post("waf/certificate", &body).await;
    assert_eq!(status, 200, "{created}");
    let id = id_of(&created);
    create_host(&app, "www.shop.example", "HTTPS", Some((&id, "shop"))).await;
    create_host(&app, "v2.api.shop.example", "HTTPS", Some((&id, "shop"))).await;
    create_host(&app, "shop.example", "HTTPS", Some((&id, "shop"))).await;
    // The same certificate under another name, and the same key in another certificate.
    let copy = json!({"name": "shop-copy", "content": leaf_pem, "key": leaf_key});
    assert_eq!(app.post("waf/certificate", &copy).await.0, 200);
    let readonly = app
        .token_for(&app.project, wafcert::domain::Role::ReadOnly, None)
        .await;
    let path = format!("wafcert/certificate/{id}/details");
    let (status, d) = app.get_as(&path, &readonly).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["subject_cn"], "www.shop.example");
    assert_eq!(d["sans"], json!(["www.shop.example", "*.api.shop.example"]));
    assert!(d["issuer"].as_str().unwrap().contains("Test Intermediate"));
    assert_eq!(d["key_type"], "EC");
    assert_eq!(d["key_bits"], 256);
    assert_eq!(d["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(d["chain_length"], 3);
    assert_eq!(d["exp_status"], 0);
    assert!((58..=60).contains(&d["days_left"].as_i64().unwrap()), "{d}");
    assert_eq!(d["fingerprint_sha256"].as_str().unwrap().len(), 64);
    assert!(d["not_before"].as_i64().unwrap() < d["not_after"].as_i64().unwrap());
    assert!(!d.to_string().contains("PRIVATE KEY"), "no key in details");
    let findings: Vec<(String, String)> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let found: BTreeSet<&str> = findings.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        found,
        set(&[
            "root_included",
            "hostname_not_covered",
            "duplicate_certificate"
        ]),
        "{d}"
    );
    assert!(
        findings
            .iter()
            .any(|(c, m)| c == "hostname_not_covered" && m.contains("shop.example"))
    );
    assert!(
        findings
            .iter()
            .any(|(c, m)| c == "duplicate_certificate" && m.contains("shop-copy"))
    );
    let unknown = app
        .get("wafcert/certificate/0123456789abcdef0123456789abcdef/details")
        .await;
    assert_error(&unknown, 404, "WAF.00022001");
    // Same key, other certificate: reported as a reused key.
    let key = rcgen::KeyPair::from_pem(&leaf_key).unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["other.shop.example".to_owned()]).unwrap();
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let other = p.self_signed(&key).unwrap().pem();
    let body = json!({"name": "reuse", "content": other, "key": leaf_key});
    let (_, created) = app.post("waf/certificate", &body).await;
    let (_, d) = app
        .get(&format!("wafcert/certificate/{}/details", id_of(&created)))
        .await;
    let codes: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["duplicate_key", "duplicate_key"], "{d}");
    // Time-based fields follow the server's certificate clock.
    let (status, body) = app.control_post("clock", &json!({"advance": "P61D"})).await;
    assert_eq!(status, 200, "{body}");
    let (_, later) = app.get(&path).await;
    assert_eq!(later["exp_status"], 1, "{later}");
    assert!(later["days_left"].as_i64().unwrap() < 0, "{later}");
    assert!(
        later["findings"].to_string().contains("\"expired\""),
        "{later}"
    );
}

/// `wafcert cert ...` against the test server, with a PKCS#12 password in `PFX_PASSWORD`.
fn cert_cli(app: &TestApp, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new(BIN)
        .arg("cert")
        .args(args)
        .env("WAFCERT_ENDPOINT", &app.base)
        .env("WAFCERT_PROJECT", &app.project)
        .env("WAFCERT_TOKEN", &app.token)
        .env("PFX_PASSWORD", "s3cret")
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_rotate_and_details_commands_take_pfx_bundles() {
    let app = TestApp::spawn().await;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (first, first_key) = leaf(&pki, &["www.shop.example"], -1, 20);
    let aes = pfx(
        dir.path(),
        "aes.pfx",
        &first,
        &first_key,
        &pki.inter_pem,
        false,
    );
    let pass = ["--pfx-password-env", "PFX_PASSWORD"];
    let (ok, created, err) = cert_cli(
        &app,
        &[&["create", "--name", "shop", "--pfx", &aes], &pass[..]].concat(),
    );
    assert!(ok, "{err}");
    let old = id_of(&created);
    create_host(&app, "www.shop.example", "HTTPS", Some((&old, "shop"))).await;
    let (second, second_key) = leaf(&pki, &["www.shop.example"], -1, 80);
    let legacy = pfx(
        dir.path(),
        "legacy.pfx",
        &second,
        &second_key,
        &pki.inter_pem,
        true,
    );
    let (ok, rotated, err) = cert_cli(
        &app,
        &[&["rotate", &old, "--pfx", &legacy], &pass[..]].concat(),
    );
    assert!(ok, "{err}");
    assert_eq!(rotated["name"], "shop");
    assert_eq!(rotated["bind_host"][0]["hostname"], "www.shop.example");
    let new = id_of(&rotated);
    let (ok, details, err) = cert_cli(&app, &["details", &new]);
    assert!(ok, "{err}");
    assert_eq!(
        details["chain_length"], 2,
        "the bundle's chain is uploaded: {details}"
    );
    assert_eq!(details["findings"], json!([]), "{details}");
    let (ok, _, err) = cert_cli(
        &app,
        &[
            "rotate",
            &old,
            "--pfx",
            &legacy,
            "--pfx-password-env",
            "PFX_PASSWORD",
        ],
    );
    assert!(
        !ok && err.contains("WAF.00022001"),
        "the old one is gone: {err}"
    );
}
