//! The statement check (PostgreSQL): a second wafcert process on the benchmark's database,
//! connected through the counting relay of `wire_count.rs`, answers each kind of hot request a
//! few hundred times from 4 concurrent clients after a warm-up; per request it reports the
//! round trips to PostgreSQL (with statements, and sqlx's pings as connections return to the
//! pool), the statements executed and the statements parsed. Cached prepared statements show no
//! parse; the credential check with the project's version read is one round trip, so a request
//! answered from the read cache shows exactly one with a statement.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::*;
use crate::seed::Seeded;
use crate::wire_count::Relay;
use crate::*;

/// Concurrent clients of the check.
const CLIENTS: usize = 4;
/// Requests per kind before counting (fills every pooled connection's statement cache).
const WARM: usize = 40;
/// Requests per kind counted.
const COUNTED: usize = 200;

/// What one kind of request costs in protocol messages.
#[derive(Debug, Clone)]
pub(crate) struct StatementRow {
    pub(crate) kind: &'static str,
    pub(crate) requests: usize,
    pub(crate) round_trips: f64,
    pub(crate) pings: f64,
    pub(crate) executes: f64,
    pub(crate) parses: f64,
}

/// Runs the check against the database of `url`; `master_hex` opens its keys.
pub(crate) async fn check(
    url: &str,
    master_hex: &str,
    seeded: &Seeded,
    n: usize,
    dir: &Path,
) -> anyhow::Result<Vec<StatementRow>> {
    let mut parsed = reqwest::Url::parse(url).context("the PostgreSQL URL")?;
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    );
    let relay = Relay::start(&upstream)?;
    parsed
        .set_host(Some("127.0.0.1"))
        .context("relay host in the URL")?;
    parsed
        .set_port(Some(relay.port))
        .map_err(|()| anyhow::anyhow!("relay port in the URL"))?;
    // In clear, so the relay can read the messages (the benchmark's server uses the default,
    // TLS when the server offers it, as pgbench does).
    parsed.query_pairs_mut().append_pair("sslmode", "disable");
    let port = free_port()?;
    let server = Bounded::spawn(
        Command::new(env!("CARGO_BIN_EXE_wafcert"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", parsed.as_str(), "--no-bootstrap"])
            .env("WAFCERT_MASTER_KEY", master_hex),
        &dir.join("statements-server.log"),
        300,
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    wait_ready(&client, &format!("{base}/readyz"), &server).await?;
    let api = format!("{base}/v1/{}/waf/certificate", seeded.project);

    // What the server does on its own (schedulers), per second, to subtract.
    let idle_from = relay.counts.snapshot();
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = relay.counts.snapshot() - idle_from;
    let idle_secs = idle_started.elapsed().as_secs_f64();

    let pages = (n / 10).max(1);
    let fresh_names = |from: usize, count: usize| -> Vec<String> {
        (from..from + count)
            .map(|i| format!("{api}{LIST_FIRST}&name={}", base36_4(i * 7_919 + 17)))
            .collect()
    };
    let kinds: Vec<(&'static str, Vec<String>, Vec<String>)> = vec![
        (
            "list_page (cached)",
            vec![format!("{api}{LIST_PAGE}"); WARM],
            vec![format!("{api}{LIST_PAGE}"); COUNTED],
        ),
        (
            "list_page (uncached page)",
            (0..WARM)
                .map(|i| format!("{api}?page={}&pagesize=10&host=true", i % pages + 1))
                .collect(),
            (0..COUNTED)
                .map(|i| {
                    format!(
                        "{api}?page={}&pagesize=10&host=true",
                        (WARM + i) % pages + 1
                    )
                })
                .collect(),
        ),
        (
            "list_name (fresh name)",
            fresh_names(0, WARM),
            fresh_names(WARM, COUNTED),
        ),
        (
            "list_expiring (cached)",
            vec![format!("{api}{LIST_EXPIRING}"); WARM],
            vec![format!("{api}{LIST_EXPIRING}"); COUNTED],
        ),
        (
            "show (uncached id)",
            (0..WARM)
                .map(|i| format!("{api}/{}", seeded.show_ids[i % seeded.show_ids.len()]))
                .collect(),
            (0..COUNTED)
                .map(|i| {
                    format!(
                        "{api}/{}",
                        seeded.show_ids[(WARM + i) % seeded.show_ids.len()]
                    )
                })
                .collect(),
        ),
    ];
    let mut rows = Vec::new();
    for (kind, warm, counted) in kinds {
        get_all(&client, &seeded.token, warm).await?;
        let before = relay.counts.snapshot();
        let started = Instant::now();
        let requests = counted.len();
        get_all(&client, &seeded.token, counted).await?;
        let got = relay.counts.snapshot() - before;
        // The schedulers' share of the window.
        let share = started.elapsed().as_secs_f64() / idle_secs.max(1e-3);
        let net = |v: u64, background: u64| {
            (v as f64 - background as f64 * share).max(0.0) / requests as f64
        };
        rows.push(StatementRow {
            kind,
            requests,
            round_trips: net(got.round_trips, idle.round_trips),
            pings: net(got.pings, idle.pings),
            executes: net(got.execute, idle.execute),
            parses: net(got.parse, idle.parse),
        });
    }
    server.stop();
    drop(relay);
    Ok(rows)
}

/// GETs every URL from [`CLIENTS`] concurrent clients; fails on any non-2xx answer.
async fn get_all(client: &reqwest::Client, token: &str, urls: Vec<String>) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let per = urls.len().div_ceil(CLIENTS).max(1);
    for chunk in urls.chunks(per) {
        let (client, token, chunk) = (client.clone(), token.to_owned(), chunk.to_vec());
        tasks.spawn(async move {
            for url in chunk {
                probe_get(&client, &url, &token).await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("check client")??;
    }
    Ok(())
}

/// `i` as 4 characters of `[0-9a-z]` (modulo 36^4).
fn base36_4(mut i: usize) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(4);
    for _ in 0..4 {
        s.push(char::from(digits[i % 36]));
        i /= 36;
    }
    s
}

/// The report lines of the check.
pub(crate) fn lines(rows: &[StatementRow]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  PostgreSQL messages per request (a relay counting the wire protocol, {CLIENTS} \
         clients, after {WARM} warm-up requests per kind; the schedulers' idle traffic subtracted):"
    );
    let _ = writeln!(
        s,
        "    {:<28} {:>8} {:>16} {:>12} {:>10} {:>9}",
        "request", "requests", "statement trips", "pool pings", "executes", "parses"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "    {:<28} {:>8} {:>16.2} {:>12.2} {:>10.2} {:>9.2}",
            r.kind, r.requests, r.round_trips, r.pings, r.executes, r.parses
        );
    }
    let _ = writeln!(
        s,
        "    (statement trips: Sync after Bind/Execute, or a simple Query; pool pings: a lone \
         Sync, sqlx's test of each connection as it returns to the pool, off the request's path)"
    );
    s
}

/// Whether the check found every hot statement cached and a cached read at one round trip.
pub(crate) fn verdict(rows: &[StatementRow]) -> anyhow::Result<(bool, bool)> {
    if rows.is_empty() {
        bail!("no statement check rows");
    }
    // A name search is planned for its values on purpose (`name_search::plan_per_value`): it
    // parses once per request.
    let no_parses = rows
        .iter()
        .filter(|r| !r.kind.starts_with("list_name"))
        .all(|r| r.parses < 0.05);
    // The pool's on-release ping is not counted here: it is reported beside.
    let one_trip = rows
        .iter()
        .filter(|r| r.kind.ends_with("(cached)"))
        .all(|r| (r.round_trips - 1.0).abs() < 0.05);
    Ok((no_parses, one_trip))
}
