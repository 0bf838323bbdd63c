//! The test harness, the one module every test file takes its helpers from: a real server on
//! 127.0.0.1:0 over a fresh database (a temporary SQLite file, or a fresh PostgreSQL database
//! dropped afterwards), a seeded admin token, error assertions, certificate fixtures made with
//! rcgen, host fixtures (`hosts`) and running the binary (`process`).

#![allow(dead_code)]

mod hosts;
mod process;

pub use hosts::*;
pub use process::*;

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wafcert::app::{App, MasterKeySource, ServeConfig, TestControlsConfig};
use wafcert::auth::{TokenGrant, mint_token};
use wafcert::domain::Role;
use wafcert::domain::{ProjectId, now_ms};
use wafcert::storage::{PoolSettings, Store};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server URL for tests, if configured. Set but unreachable fails the test.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("WAFCERT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        static ONCE: OnceLock<()> = OnceLock::new();
        ONCE.get_or_init(|| {
            eprintln!("skipped: PostgreSQL tests (WAFCERT_TEST_POSTGRES_URL is not set)");
        });
    }
    url
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    /// A database the test made itself (a throw-away cluster's); nothing to drop.
    pub fn external(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: None,
            pg_drop: None,
        }
    }

    pub async fn new(db: Db) -> Self {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/wafcert.db", dir.path().display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg_drop: None,
                }
            }
            Db::Postgres => {
                let admin = postgres_url().expect("WAFCERT_TEST_POSTGRES_URL");
                let name = format!("wafcert_t_{}", ProjectId::random());
                let mut conn = sqlx_admin(&admin).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("PostgreSQL must answer at WAFCERT_TEST_POSTGRES_URL");
                let url = replace_db_name(&admin, &name);
                Self {
                    url,
                    _dir: None,
                    pg_drop: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Async drop is not possible: drop the database on a helper thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let mut conn = sqlx_admin(&admin).await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                });
            })
            .join();
        }
    }
}

async fn sqlx_admin(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url)
        .await
        .expect("PostgreSQL must answer at WAFCERT_TEST_POSTGRES_URL")
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base.rfind('/').unwrap();
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A running server with an admin token for one project.
pub struct TestApp {
    pub base: String,
    pub project: String,
    pub token: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub config: ServeConfig,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    pub db: std::sync::Arc<TestDb>,
}

/// A fresh master key as hex.
pub fn master_key_hex() -> String {
    let mut b = [0u8; 32];
    wafcert::crypto::random_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn config_for(url: &str) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: url.to_owned(),
        master_key: MasterKeySource::Hex(master_key_hex()),
        bootstrap: false,
        withhold_private_keys: false,
        certificate_quota: None,
        region: "eu-de".to_owned(),
        public_url: None,
        contract: wafcert::domain::Contract::default(),
        pool: PoolSettings::default(),
        connections: Default::default(),
        tls: None,
        request_timeout: Duration::from_millis(wafcert::api::DEFAULT_REQUEST_TIMEOUT_MS),
        test_controls: None,
        events: Default::default(),
        metrics: Default::default(),
    }
}

impl TestApp {
    /// A server on SQLite.
    pub async fn spawn() -> Self {
        Self::spawn_on(Db::Sqlite).await
    }

    pub async fn spawn_on(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// A server whose configuration `tweak` may change.
    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let db = std::sync::Arc::new(TestDb::new(db).await);
        let mut config = config_for(&db.url);
        tweak(&mut config);
        let mut app = Self::start(config, db).await;
        let project = ProjectId::random();
        app.token = app.token_for(project.as_str(), Role::Admin, None).await;
        app.project = project.to_string();
        app
    }

    /// Starts a server on `config` (a restart reuses the database and key).
    pub async fn start(config: ServeConfig, db: std::sync::Arc<TestDb>) -> Self {
        let app = App::build(&config).await.expect("server starts");
        let addr = app.local_addr().unwrap();
        let store = app.state().store.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.serve(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            project: String::new(),
            token: String::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            store,
            config,
            shutdown: Some(tx),
            handle: Some(handle),
            db,
        }
    }

    /// Stops gracefully and starts again on the same database and master key.
    pub async fn restart(mut self) -> Self {
        self.stop_inner().await;
        let mut next = Self::start(self.config.clone(), self.db.clone()).await;
        next.project = std::mem::take(&mut self.project);
        next.token = std::mem::take(&mut self.token);
        next
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }

    /// Stops the server, waiting for requests in flight.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    /// Mints a token for `project` directly in the store.
    pub async fn token_for(&self, project: &str, role: Role, expires_at: Option<i64>) -> String {
        let project = ProjectId::parse(project).unwrap();
        self.store
            .ensure_project(&project, None, now_ms())
            .await
            .unwrap();
        let grant = TokenGrant {
            project: &project,
            role,
            user: None,
            parent: None,
            expires_at,
        };
        mint_token(&self.store, &grant, now_ms()).await.unwrap()
    }

    /// A server with test controls on (`--test-controls`).
    pub async fn spawn_with_controls(db: Db) -> Self {
        Self::spawn_with(db, |c| {
            c.test_controls = Some(TestControlsConfig::default());
        })
        .await
    }

    /// `GET {base}/_wafcert/{path}`.
    pub async fn control_get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}/_wafcert/{path}", self.base)))
            .await
    }

    /// `POST {base}/_wafcert/{path}` with a JSON body.
    pub async fn control_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(format!("{}/_wafcert/{path}", self.base))
                .json(body),
        )
        .await
    }

    /// `DELETE {base}/_wafcert/{path}`.
    pub async fn control_delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(format!("{}/_wafcert/{path}", self.base)))
            .await
    }

    /// `{base}/v1/{project}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}/{}", self.base, self.project, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        assert!(
            resp.headers().contains_key("x-request-id"),
            "every answer carries X-Request-Id"
        );
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .get(self.url(path))
                .header("X-Auth-Token", &self.token),
        )
        .await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .get(self.url(path))
                .header("X-Auth-Token", token),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(self.url(path))
                .header("X-Auth-Token", &self.token)
                .json(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.client
                .put(self.url(path))
                .header("X-Auth-Token", &self.token)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .delete(self.url(path))
                .header("X-Auth-Token", &self.token),
        )
        .await
    }

    /// Uploads `fixture` as `name`; panics unless it succeeds. Returns the response body.
    pub async fn create_cert(&self, name: &str, fixture: &Fixture) -> Value {
        let (status, body) = self.post("waf/certificate", &fixture.body(name)).await;
        assert_eq!(status, StatusCode::OK, "create {name}: {body}");
        body
    }
}

/// Asserts an error answer: status, code, and a non-empty message.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: u16, code: &str) {
    let (s, body) = answer;
    assert_eq!(s.as_u16(), status, "body: {body}");
    assert_eq!(body["error_code"], code, "body: {body}");
    assert!(
        body["error_msg"].as_str().is_some_and(|m| m.len() > 5),
        "body: {body}"
    );
}

/// Asserts an error answer whose message mentions `needle`.
#[track_caller]
pub fn assert_error_says(answer: &(StatusCode, Value), status: u16, code: &str, needle: &str) {
    assert_error(answer, status, code);
    let msg = answer.1["error_msg"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

/// Key algorithms the fixtures can use.
#[derive(Debug, Clone, Copy)]
pub enum Alg {
    Rsa2048,
    EcP256,
    EcP384,
    Ed25519,
}

/// A certificate and its private key in PEM.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub cert_pem: String,
    pub key_pem: String,
    /// notAfter in epoch ms (second precision).
    pub not_after_ms: i64,
}

impl Fixture {
    pub fn body(&self, name: &str) -> Value {
        json!({"name": name, "content": self.cert_pem, "key": self.key_pem})
    }
}

const DAY_MS: i64 = 86_400_000;

/// A key pair of `alg`; RSA pairs are generated once and shared (generation is slow).
pub fn key_pair(alg: Alg) -> rcgen::KeyPair {
    static RSA: OnceLock<String> = OnceLock::new();
    match alg {
        Alg::Rsa2048 => {
            let pem = RSA.get_or_init(|| {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                    .unwrap()
                    .serialize_pem()
            });
            rcgen::KeyPair::from_pem(pem).unwrap()
        }
        Alg::EcP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::EcP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        Alg::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
    }
}

/// A self-signed certificate for `host` valid until `now + days` (negative: already expired).
pub fn fixture_days(alg: Alg, days: i64) -> Fixture {
    fixture_with_key(&key_pair(alg), days)
}

/// A P-256 certificate valid for `days` from now.
pub fn fixture(days: i64) -> Fixture {
    fixture_days(Alg::EcP256, days)
}

pub fn fixture_with_key(key: &rcgen::KeyPair, days: i64) -> Fixture {
    let mut params = rcgen::CertificateParams::new(vec!["www.example.com".to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(400);
    let not_after = (now + time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap();
    params.not_after = not_after;
    let cert = params.self_signed(key).unwrap();
    Fixture {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after_ms: not_after.unix_timestamp() * 1000,
    }
}

/// Converts a PKCS#8 PEM key to the traditional form (PKCS#1 for RSA, SEC1 for EC) with the
/// openssl command line.
pub fn traditional_pem(pkcs8: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["pkey", "-traditional"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pkcs8.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub fn days_ms(days: i64) -> i64 {
    days * DAY_MS
}

/// Runs each named `async fn name(db: Db)` on SQLite and on PostgreSQL (when configured).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Db::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::postgres_url().is_some() {
                        super::$name($crate::helpers::Db::Postgres).await;
                    }
                }
            )*
        }
    };
}

/// An access key pair of the test's project, stored the way `wafcert access-key create` does.
pub struct AccessKey {
    pub ak: String,
    pub sk: String,
}

impl TestApp {
    /// Creates an access key pair with `role` for the test's project.
    pub async fn access_key(&self, role: Role) -> AccessKey {
        let sealer = wafcert::app::open_sealer(
            &self.store,
            &self.config.master_key,
            &self.config.database_url,
        )
        .await
        .unwrap();
        let project = ProjectId::parse(&self.project).unwrap();
        let ak = format!("AK{}", &ProjectId::random().as_str()[..18]).to_ascii_uppercase();
        let sk = format!("SK{}", ProjectId::random().as_str());
        let sealed = sealer.seal(sk.as_bytes(), &ak).unwrap();
        self.store
            .insert_access_key(&ak, &project, role, &sealed, now_ms())
            .await
            .unwrap();
        AccessKey { ak, sk }
    }

    /// A request signed with `key` as huaweicloudsdkcore signs it (Content-Type, Host,
    /// X-Sdk-Date and the `extra` headers signed); `path_query` starts with `/`.
    pub fn signed(
        &self,
        method: &str,
        path_query: &str,
        body: &Value,
        key: &AccessKey,
        extra: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        use wafcert::auth::{SignedRequest, format_basic_date, sign_request};
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).unwrap()
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert(
            "host",
            self.base.trim_start_matches("http://").parse().unwrap(),
        );
        headers.insert("x-sdk-date", format_basic_date(now_ms()).parse().unwrap());
        for (name, value) in extra {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let unsigned = SignedRequest {
            method,
            path,
            query,
            headers: &headers,
            body: &body,
            authorization: "",
        };
        let authorization = sign_request(&unsigned, &key.ak, key.sk.as_bytes()).unwrap();
        headers.insert("authorization", authorization.parse().unwrap());
        self.client
            .request(
                method.parse().unwrap(),
                format!("{}{path_query}", self.base),
            )
            .headers(headers)
            .body(body)
    }
}

/// The names of a list answer's items, sorted, after checking that the answer has an `items`
/// array of named items and that `total` counts them all.
pub fn sorted_names(body: &Value) -> Vec<String> {
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items array: {body}"));
    let mut names: Vec<String> = items
        .iter()
        .map(|i| {
            i["name"]
                .as_str()
                .unwrap_or_else(|| panic!("an item without a name: {body}"))
                .to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(body["total"], names.len(), "{body}");
    names
}
