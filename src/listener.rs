//! Serving the HTTP application on a TCP listener, optionally over TLS, with hyper directly:
//! `axum::serve` has no header-read timeout, so 200 clients sending half a header each would
//! hold their connections (and a file descriptor each) forever. Here every connection must
//! finish its TLS handshake and each request head within the header-read timeout, at most
//! `max_connections` are open at once (further clients wait in the kernel's backlog), and the
//! TLS certificate can be replaced while running ([`TlsFiles`], reloaded on SIGHUP by the app).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits on client connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// Time a client has for the TLS handshake and for sending each request's head.
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Where the TLS certificate chain and private key are read from (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a server configuration (HTTP/1.1 over TLS 1.2 or 1.3).
    pub fn load(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("reading certificates from {}", self.cert.display()))?;
        if chain.is_empty() {
            anyhow::bail!("{} holds no PEM certificate", self.cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("reading the private key from {}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the TLS certificate and key do not form a usable pair")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The TLS configuration in use; replaced as a whole by a reload, read by each new connection.
#[derive(Debug)]
pub struct TlsState {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsState {
    /// Loads `files` once (a failure here stops the start).
    pub fn new(files: TlsFiles) -> anyhow::Result<Self> {
        let current = RwLock::new(files.load()?);
        Ok(Self { files, current })
    }

    /// Reads the files again; on failure the previous certificate stays in use.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = self.files.load()?;
        if let Ok(mut current) = self.current.write() {
            *current = config;
        }
        Ok(())
    }

    fn acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        let config = self.current.read().ok()?;
        Some(tokio_rustls::TlsAcceptor::from(Arc::clone(&config)))
    }
}

/// Serves `router` until `shutdown` resolves, then waits (at most 30 s) for open connections
/// to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    tls: Option<Arc<TlsState>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        let watcher = graceful.watcher();
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let timeout = settings.header_read_timeout;
            match tls.as_deref().and_then(TlsState::acceptor) {
                Some(acceptor) => {
                    // The handshake is bounded like a request head.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(timeout, acceptor.accept(stream)).await
                    {
                        connection(stream, peer, router, timeout, watcher).await;
                    }
                }
                None if tls.is_some() => {}
                None => connection(stream, peer, router, timeout, watcher).await,
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 30 s after shutdown began; closing them");
    }
}

/// The next client, once a connection slot is free; `None` after a failed accept (too many
/// open files, a reset connection), after a short pause so an error cannot spin.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, peer, slot))
        }
        Err(e) => {
            tracing::warn!(error = %e, "accepting a connection failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Serves HTTP/1.1 on one connection until the client or a shutdown closes it.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}
