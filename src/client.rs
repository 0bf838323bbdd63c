//! A small typed client for the certificate and host APIs, used by the `wafcert cert ...` and
//! `wafcert host ...` commands and usable from other Rust programs. It speaks the same wire
//! format as the cloud's SDKs.

use serde_json::{Value, json};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with the API's error body: shown as one sentence with the code.
    #[error("{}", api_sentence(message, code, *status))]
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

/// `The certificate was not found (WAF.00022001, HTTP 404).`
fn api_sentence(message: &str, code: &str, status: u16) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{first}{} ({code}, HTTP {status}).", chars.as_str())
}

/// A client for one project at one endpoint, authenticated with a bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `{endpoint}/v1/{project}`.
    root: String,
    token: String,
}

/// What a password login bought.
#[derive(Debug)]
pub struct LoginGrant {
    /// The bearer token.
    pub token: String,
    /// The project it acts in.
    pub project_id: String,
    /// Its expiry as Keystone writes it (ISO 8601).
    pub expires_at: String,
}

impl Client {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:8080`) acting in `project`.
    pub fn new(endpoint: &str, project: &str, token: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().build()?;
        let root = format!("{}/v1/{project}", endpoint.trim_end_matches('/'));
        Ok(Self {
            http,
            root,
            token: token.to_owned(),
        })
    }

    fn certificates(&self) -> String {
        format!("{}/waf/certificate", self.root)
    }

    /// `/v1/{project}/wafcert/certificate`: wafcert's own extensions.
    fn extensions(&self) -> String {
        format!("{}/wafcert/certificate", self.root)
    }

    fn hosts(&self) -> String {
        format!("{}/premium-waf/host", self.root)
    }

    /// `GET .../waf/certificate` with the given query pairs.
    pub async fn list(&self, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(self.http.get(self.certificates()).query(query))
            .await
    }

    /// `POST .../waf/certificate`.
    pub async fn create(&self, name: &str, content: &str, key: &str) -> Result<Value, ClientError> {
        let body = json!({"name": name, "content": content, "key": key});
        self.send(self.http.post(self.certificates()).json(&body))
            .await
    }

    /// `GET .../waf/certificate/{id}`.
    pub async fn show(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}/{id}", self.certificates())))
            .await
    }

    /// `PUT .../waf/certificate/{id}` with a new name.
    pub async fn rename(&self, id: &str, name: &str) -> Result<Value, ClientError> {
        let body = json!({"name": name});
        self.send(
            self.http
                .put(format!("{}/{id}", self.certificates()))
                .json(&body),
        )
        .await
    }

    /// `DELETE .../waf/certificate/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.delete(format!("{}/{id}", self.certificates())))
            .await
    }

    /// `GET .../premium-waf/host` with the given query pairs.
    pub async fn host_list(&self, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(self.http.get(self.hosts()).query(query)).await
    }

    /// `GET .../premium-waf/host/{id}`.
    pub async fn host_show(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}/{id}", self.hosts())))
            .await
    }

    /// `POST .../premium-waf/host`.
    pub async fn host_create(&self, body: &Value) -> Result<Value, ClientError> {
        self.send(self.http.post(self.hosts()).json(body)).await
    }

    /// `PUT .../premium-waf/host/{id}`.
    pub async fn host_update(&self, id: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(self.http.put(format!("{}/{id}", self.hosts())).json(body))
            .await
    }

    /// `DELETE .../premium-waf/host/{id}`.
    pub async fn host_delete(&self, id: &str) -> Result<Value, ClientError> {
        self.send(self.http.delete(format!("{}/{id}", self.hosts())))
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
        let url = format!("{}/{id}/rotate", self.extensions());
        self.send(self.http.post(url).json(&body)).await
    }

    /// `GET .../wafcert/certificate/{id}/details`: facts and findings.
    pub async fn details(&self, id: &str) -> Result<Value, ClientError> {
        let url = format!("{}/{id}/details", self.extensions());
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

/// Buys a token with a Keystone password login (`POST {endpoint}/v3/auth/tokens`), scoped to
/// `project` or to the user's own project.
pub async fn password_login(
    endpoint: &str,
    user: &str,
    domain: &str,
    password: &str,
    project: Option<&str>,
) -> Result<LoginGrant, ClientError> {
    let mut body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": domain}, "password": password}}}}});
    if let Some(project) = project {
        body["auth"]["scope"] = json!({"project": {"id": project}});
    }
    let url = format!("{}/v3/auth/tokens", endpoint.trim_end_matches('/'));
    let response = reqwest::Client::new().post(url).json(&body).send().await?;
    let status = response.status();
    let token = response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer: Value = response.json().await?;
    match token {
        Some(token) if status.is_success() => Ok(LoginGrant {
            token,
            project_id: answer["token"]["project"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            expires_at: answer["token"]["expires_at"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }),
        _ => Err(ClientError::Api {
            status: status.as_u16(),
            code: answer["error"]["title"]
                .as_str()
                .unwrap_or("Unauthorized")
                .to_owned(),
            message: answer["error"]["message"]
                .as_str()
                .unwrap_or("the login was refused")
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_one_sentence() {
        let e = ClientError::Api {
            status: 404,
            code: "WAF.00022001".to_owned(),
            message: "the certificate does not exist.".to_owned(),
        };
        assert_eq!(
            e.to_string(),
            "The certificate does not exist (WAF.00022001, HTTP 404)."
        );
    }
}
