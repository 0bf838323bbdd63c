//! A small typed client for the certificate API, used by the `wafcert cert ...` commands and
//! usable from other Rust programs. It speaks the same wire format as the cloud's SDKs.

use serde_json::{Value, json};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with the API's error body.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// `error_code`, e.g. `WAF.00022001`.
        code: String,
        /// `error_msg`.
        message: String,
    },
    /// The server could not be reached or answered something that is not JSON.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
}

/// A client for one project at one endpoint, authenticated with a bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// `/v1/{project}/wafcert/certificate`: wafcert's own extensions.
    extensions: String,
    token: String,
}

impl Client {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:8080`) acting in `project`.
    pub fn new(endpoint: &str, project: &str, token: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().build()?;
        let endpoint = endpoint.trim_end_matches('/');
        Ok(Self {
            http,
            base: format!("{endpoint}/v1/{project}/waf/certificate"),
            extensions: format!("{endpoint}/v1/{project}/wafcert/certificate"),
            token: token.to_owned(),
        })
    }

    /// `GET .../waf/certificate` with the given query pairs.
    pub async fn list(&self, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(self.http.get(&self.base).query(query)).await
    }

    /// `POST .../waf/certificate`.
    pub async fn create(&self, name: &str, content: &str, key: &str) -> Result<Value, ClientError> {
        let body = json!({"name": name, "content": content, "key": key});
        self.send(self.http.post(&self.base).json(&body)).await
    }

    /// `GET .../waf/certificate/{id}`.
    pub async fn show(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}/{id}", self.base)))
            .await
    }

    /// `PUT .../waf/certificate/{id}` with a new name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<Value, ClientError> {
        let body = json!({"name": name});
        self.send(self.http.put(format!("{}/{id}", self.base)).json(&body))
            .await
    }

    /// `DELETE .../waf/certificate/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.delete(format!("{}/{id}", self.base)))
            .await
    }

    /// `POST .../wafcert/certificate/{id}/rotate`: replace the certificate on every host.
    pub async fn rotate(
        &self,
        id: &str,
        content: &str,
        key: &str,
        name: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut body = json!({"content": content, "key": key});
        if let Some(name) = name {
            body["name"] = json!(name);
        }
        let url = format!("{}/{id}/rotate", self.extensions);
        self.send(self.http.post(url).json(&body)).await
    }

    /// `GET .../wafcert/certificate/{id}/details`: facts and findings.
    pub async fn details(&self, id: &str) -> Result<Value, ClientError> {
        let url = format!("{}/{id}/details", self.extensions);
        self.send(self.http.get(url)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        answer(request.header("X-Auth-Token", &self.token)).await
    }
}

/// A client of the test controls (`/_wafcert/...`) of a server run with `--test-controls`;
/// they take no credential.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    base: String,
}

impl ControlClient {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:8080`).
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: format!("{}/_wafcert", endpoint.trim_end_matches('/')),
        })
    }

    /// `GET /_wafcert/{path}`.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        answer(self.http.get(format!("{}/{path}", self.base))).await
    }

    /// `POST /_wafcert/{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        answer(self.http.post(format!("{}/{path}", self.base)).json(body)).await
    }
}

/// Sends a request and returns its JSON body, or the API's error.
async fn answer(request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
    {
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status.is_success() {
            return Ok(body);
        }
        let text = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            code: text("error_code"),
            message: text("error_msg"),
        })
    }
}
