//! The admin commands that make credentials for real clients, end to end through the binary:
//! `wafcert user create` (password from `WAFCERT_PASSWORD` or stdin, prints the user id) and
//! `wafcert access-key create` (prints `AK SK`), then a login and a signed request against a
//! server on the same database.

use serde_json::{Value, json};
use wafcert::auth::{SignedRequest, format_basic_date, sign_request};
use wafcert::domain::now_ms;

use crate::helpers::*;

const PROJECT: &str = "00112233445566778899aabbccddeeff";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_make_working_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/creds.db", dir.path().display());
    let db = ["--database", url.as_str()];
    let user = |name: &str, extra: &[&str], env: &[(&str, &str)], stdin: &str| {
        let mut args = vec!["user", "create"];
        args.extend(db);
        args.extend(["--name", name, "--project-id", PROJECT]);
        args.extend(extra);
        run_wafcert(&args, env, stdin)
    };
    // Password from the environment; the id is printed alone.
    let (ok, out, err) = user("ivy", &[], &[("WAFCERT_PASSWORD", "pw-from-env")], "");
    assert!(ok, "{err}");
    let ivy = out.trim().to_owned();
    assert!(
        out.ends_with('\n') && ivy.len() == 32 && ivy.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out:?}"
    );
    assert!(!err.contains("pw-from-env"));
    // Password from the first line of stdin, readonly, in another domain.
    let (ok, out, err) = user(
        "jack",
        &["--role", "readonly", "--domain", "acme"],
        &[],
        "pw from stdin\nignored\n",
    );
    assert!(ok, "{err}");
    let jack = out.trim().to_owned();
    // Refusals: no password, a taken name, a bad role or project.
    let (ok, _, err) = user("kate", &[], &[], "");
    assert!(!ok && err.contains("WAFCERT_PASSWORD"), "{err}");
    let (ok, _, err) = user("ivy", &[], &[("WAFCERT_PASSWORD", "x")], "");
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = user(
        "kate",
        &["--role", "root"],
        &[("WAFCERT_PASSWORD", "x")],
        "",
    );
    assert!(!ok && err.contains("admin or readonly"), "{err}");
    // Access keys: one line, "AK SK".
    let mut args = vec!["access-key", "create"];
    args.extend(db);
    args.extend(["--project-id", PROJECT]);
    let (ok, out, err) = run_wafcert(&args, &[], "");
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
    let (ak, sk) = out.trim_end_matches('\n').split_once(' ').unwrap();
    assert!(
        ak.len() == 20
            && ak
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{ak}"
    );
    assert!(
        sk.len() == 40 && sk.bytes().all(|b| b.is_ascii_alphanumeric()),
        "secret key"
    );
    assert!(!err.contains(sk));
    // The secret is sealed in the database, not stored in clear.
    let raw = std::fs::read(dir.path().join("creds.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("creds.db-wal")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&raw).contains(sk) && !String::from_utf8_lossy(&wal).contains(sk)
    );

    // A server on that database accepts all of them.
    let mut config = config_for(&url);
    config.master_key = wafcert::app::MasterKeySource::BesideDatabase;
    let server = wafcert::app::App::build(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let login = |user: Value, password: &str| {
        let mut user = user;
        user["password"] = json!(password);
        client
            .post(format!("{base}/v3/auth/tokens"))
            .json(
                &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"id": PROJECT}}}}),
            )
            .send()
    };
    let resp = login(
        json!({"name": "ivy", "domain": {"name": "Default"}}),
        "pw-from-env",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = login(json!({"id": jack}), "pw from stdin").await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["roles"][0]["name"], "readonly");
    assert_eq!(body["token"]["user"]["domain"]["name"], "acme");
    assert_eq!(
        login(json!({"id": ivy}), "pw from stdin")
            .await
            .unwrap()
            .status(),
        401
    );

    let path = format!("/v1/{PROJECT}/waf/certificate");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("host", addr.to_string().parse().unwrap());
    headers.insert("x-project-id", PROJECT.parse().unwrap());
    headers.insert("x-sdk-date", format_basic_date(now_ms()).parse().unwrap());
    let unsigned = SignedRequest {
        method: "GET",
        path: &path,
        query: "",
        headers: &headers,
        body: b"",
        authorization: "",
    };
    let authorization = sign_request(&unsigned, ak, sk.as_bytes()).unwrap();
    headers.insert("authorization", authorization.parse().unwrap());
    let resp = client
        .get(format!("{base}{path}"))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let _ = tx.send(());
    handle.await.unwrap().unwrap();
}
