//! A local webhook receiver on 127.0.0.1: records every delivery, answers 500 to the first
//! `fail_first` ones, and verifies Standard Webhooks signatures independently of wafcert's
//! signing code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// One received request.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Checks the signature with `secret` (`whsec_...`), as a receiver would.
    pub fn verifies(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        let signed = format!("{}.{}.{}", self.id, self.timestamp, self.body);
        self.signature.split(' ').any(|s| {
            s.strip_prefix("v1,")
                .and_then(|b| STANDARD.decode(b).ok())
                .is_some_and(|tag| aws_lc_rs::hmac::verify(&key, signed.as_bytes(), &tag).is_ok())
        })
    }
}

#[derive(Default)]
struct Inner {
    fail_first: usize,
    /// How long each answer takes.
    delay: Duration,
    seen: usize,
    delivered: Vec<Delivery>,
    attempts: Vec<Delivery>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        Self::start_with(fail_first, Duration::ZERO).await
    }

    /// A receiver that takes `delay` to answer each request.
    pub async fn start_slow(delay: Duration) -> Self {
        Self::start_with(0, delay).await
    }

    async fn start_with(fail_first: usize, delay: Duration) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            fail_first,
            delay,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Deliveries answered 2xx.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().delivered.clone()
    }

    /// Every request, failed or not.
    pub fn attempts(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().attempts.clone()
    }

    /// Waits (up to `secs`) until `done` holds for the delivered list.
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let now = self.delivered();
            if done(&now) || tokio::time::Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = Delivery {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
        at: std::time::Instant::now(),
    };
    let delay = {
        let mut inner = inner.lock().unwrap();
        inner.attempts.push(delivery.clone());
        inner.delay
    };
    tokio::time::sleep(delay).await;
    let mut inner = inner.lock().unwrap();
    inner.seen += 1;
    if inner.seen <= inner.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    inner.delivered.push(delivery);
    StatusCode::OK
}
