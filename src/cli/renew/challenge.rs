//! Answering ACME challenges: the built-in http-01 responder, or a hook command in the
//! lego/certbot style (`present` before validation, `cleanup` after), so DNS providers plug in
//! without code here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use instant_acme::ChallengeType;
use tokio::sync::oneshot;

use super::ChallengeKind;

impl ChallengeKind {
    /// The challenge type as `instant-acme` names it.
    pub fn acme(self) -> ChallengeType {
        match self {
            Self::Http01 => ChallengeType::Http01,
            Self::Dns01 => ChallengeType::Dns01,
        }
    }
}

/// Tokens the responder answers, with their key authorizations.
type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// One published answer, to clean up afterwards.
#[derive(Debug)]
pub struct Presented {
    domain: String,
    token: String,
    key_auth: String,
    dns_value: String,
}

/// Publishes challenge answers for the whole run.
#[derive(Debug)]
pub struct Answerer {
    kind: ChallengeKind,
    hook: Option<String>,
    tokens: Tokens,
    stop: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl Answerer {
    /// With a hook, answers through it; otherwise starts the http-01 responder on `listen`.
    pub async fn start(
        kind: ChallengeKind,
        hook: Option<String>,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let tokens = Tokens::default();
        let stop = if hook.is_none() {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("http-01 responder: listening on {listen}"))?;
            let app = Router::new()
                .route("/.well-known/acme-challenge/{token}", get(respond))
                .with_state(Arc::clone(&tokens));
            let (tx, rx) = oneshot::channel::<()>();
            let handle = tokio::spawn(async move {
                let served = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = rx.await;
                });
                if let Err(e) = served.await {
                    eprintln!("wafcert: http-01 responder stopped: {e}");
                }
            });
            Some((tx, handle))
        } else {
            None
        };
        Ok(Self {
            kind,
            hook,
            tokens,
            stop,
        })
    }

    /// The challenge type answered.
    pub fn kind(&self) -> ChallengeKind {
        self.kind
    }

    /// Publishes the answer to one challenge.
    pub async fn answer(
        &self,
        domain: &str,
        token: &str,
        key_auth: &str,
        dns_value: &str,
    ) -> anyhow::Result<Presented> {
        let presented = Presented {
            domain: domain.to_owned(),
            token: token.to_owned(),
            key_auth: key_auth.to_owned(),
            dns_value: dns_value.to_owned(),
        };
        match &self.hook {
            Some(hook) => self.run_hook(hook, "present", &presented).await?,
            None => {
                self.tokens
                    .lock()
                    .map_err(|_| anyhow::anyhow!("responder state poisoned"))?
                    .insert(presented.token.clone(), presented.key_auth.clone());
            }
        }
        Ok(presented)
    }

    /// Withdraws one answer (a failing cleanup hook is reported, not fatal).
    pub async fn clean(&self, presented: Presented) {
        match &self.hook {
            Some(hook) => {
                if let Err(e) = self.run_hook(hook, "cleanup", &presented).await {
                    eprintln!("wafcert: {e:#}");
                }
            }
            None => {
                if let Ok(mut tokens) = self.tokens.lock() {
                    tokens.remove(&presented.token);
                }
            }
        }
    }

    async fn run_hook(&self, hook: &str, action: &str, p: &Presented) -> anyhow::Result<()> {
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(hook)
            .env("WAFCERT_ACME_ACTION", action)
            .env("WAFCERT_ACME_TYPE", self.kind.as_str())
            .env("WAFCERT_ACME_DOMAIN", &p.domain)
            .env("WAFCERT_ACME_TOKEN", &p.token)
            .env("WAFCERT_ACME_KEY_AUTH", &p.key_auth)
            .env("WAFCERT_ACME_DNS_VALUE", &p.dns_value)
            .status()
            .await
            .with_context(|| format!("running the challenge hook ({action})"))?;
        if !status.success() {
            bail!(
                "the challenge hook failed ({action} {}): {status}",
                p.domain
            );
        }
        Ok(())
    }

    /// Stops the responder.
    pub async fn stop(mut self) {
        if let Some((tx, handle)) = self.stop.take() {
            let _ = tx.send(());
            let _ = handle.await;
        }
    }
}

/// `GET /.well-known/acme-challenge/{token}`: the key authorization, or 404.
async fn respond(
    State(tokens): State<Tokens>,
    Path(token): Path<String>,
) -> Result<String, StatusCode> {
    tokens
        .lock()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .get(&token)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)
}
