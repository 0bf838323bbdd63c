//! Counting what wafcert says to PostgreSQL per request, without touching the database's
//! configuration (`pg_stat_statements` needs a server restart to load): a TCP relay between a
//! second, short-lived wafcert process and PostgreSQL that reads the frontend messages of the
//! protocol as they pass. Per request it gives the round trips (`Sync` and simple `Query`
//! messages: each waits for the server's `ReadyForQuery`), split into those that carry
//! statements and bare `Sync`s (sqlx's pool pings every connection when it is returned to the
//! pool: `PgConnection::ping` is a lone `Sync`), the statements executed (`Execute`) and the
//! statements parsed (`Parse`): a hot statement that is prepared once per pooled connection and
//! then cached shows no `Parse` in steady state.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;

/// Frontend message counts, all connections together.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    parse: AtomicU64,
    execute: AtomicU64,
    sync: AtomicU64,
    bare_sync: AtomicU64,
    query: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Snapshot {
    pub(crate) parse: u64,
    pub(crate) execute: u64,
    /// Round trips with statements: `Sync` after other messages, plus simple `Query` messages.
    pub(crate) round_trips: u64,
    /// Round trips without: a `Sync` alone (a ping).
    pub(crate) pings: u64,
}

impl Counts {
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            parse: self.parse.load(Ordering::Relaxed),
            execute: self.execute.load(Ordering::Relaxed),
            round_trips: self.sync.load(Ordering::Relaxed) + self.query.load(Ordering::Relaxed),
            pings: self.bare_sync.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, rhs: Snapshot) -> Snapshot {
        Snapshot {
            parse: self.parse.saturating_sub(rhs.parse),
            execute: self.execute.saturating_sub(rhs.execute),
            round_trips: self.round_trips.saturating_sub(rhs.round_trips),
            pings: self.pings.saturating_sub(rhs.pings),
        }
    }
}

/// The relay: listens on 127.0.0.1 and forwards every connection to `upstream`; stops
/// accepting when dropped (open connections end with their peers).
pub(crate) struct Relay {
    pub(crate) port: u16,
    pub(crate) counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    pub(crate) fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s, up) = (Arc::clone(&counts), Arc::clone(&stop), upstream.to_owned());
        std::thread::Builder::new()
            .name("wire-count".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let _ = client.set_nonblocking(false);
                            if let Ok(server) = TcpStream::connect(&up) {
                                relay(client, server, Arc::clone(&c));
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .context("relay thread")?;
        Ok(Self { port, counts, stop })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies both directions on two threads, counting the client's messages.
fn relay(client: TcpStream, server: TcpStream, counts: Arc<Counts>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut server_r, mut client_w) = (server, client);
    let _ = std::thread::Builder::new().spawn(move || {
        let mut parser = FrontendParser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    parser.feed(&buf[..n], &counts);
                    if server_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_w.shutdown(Shutdown::Write);
    });
    let _ = std::thread::Builder::new().spawn(move || {
        let _ = std::io::copy(&mut server_r, &mut client_w);
        let _ = client_w.shutdown(Shutdown::Write);
    });
}

/// Splits the frontend byte stream into messages: first the untyped start-up message
/// (length, then body), then typed ones (type byte, length including itself, body).
#[derive(Debug, Default)]
struct FrontendParser {
    started: bool,
    pending: Vec<u8>,
    /// Whether a message other than `Sync` came since the last `Sync`.
    busy: bool,
}

impl FrontendParser {
    fn feed(&mut self, bytes: &[u8], counts: &Counts) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            let (kind, header) = if self.started {
                match rest.first() {
                    Some(&k) => (Some(k), 1),
                    None => break,
                }
            } else {
                (None, 0)
            };
            let Some(len) = rest
                .get(header..header + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            else {
                break;
            };
            if rest.len() < header + len {
                break;
            }
            match kind {
                None => self.started = true,
                Some(b'S') => {
                    let counter = if self.busy {
                        &counts.sync
                    } else {
                        &counts.bare_sync
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    self.busy = false;
                }
                Some(b'Q') => {
                    counts.query.fetch_add(1, Ordering::Relaxed);
                }
                Some(kind) => {
                    self.busy = true;
                    match kind {
                        b'P' => counts.parse.fetch_add(1, Ordering::Relaxed),
                        b'E' => counts.execute.fetch_add(1, Ordering::Relaxed),
                        _ => 0,
                    };
                }
            }
            at += header + len;
        }
        self.pending.drain(..at);
    }
}
