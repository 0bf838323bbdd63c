//! The soak run (`scripts/bench --soak 10m`): a mixed load held for a given time against the
//! real binary, to show that nothing degrades: no errors besides the intended 4xx, p99 steady,
//! and RSS flat after warm-up.
//!
//! `SOAK_CLIENTS` clients each loop over: lists (30%), shows (25%), creates (10%), renames
//! (10%), binds of the client's own host (10%), deletes (10%), and bad requests (5%: a page
//! size of 101, a malformed id, an unknown id, a body without a key, an invalid name), which
//! must get their documented 4xx. Every window of the run prints a line with requests, p50,
//! p99, max, errors and the server's RSS. At the end the project's `total` must equal the rows
//! a full list returns and the clients' own certificates must all be there.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use wafcert::domain::ProjectId;

use crate::Args;
use crate::process::{Bounded, free_port, pg_admin, random_hex, replace_db_name, wait_ready};
use crate::seed::{Fixtures, seed};

/// Concurrent clients.
const SOAK_CLIENTS: usize = 8;
/// Lines of the over-time table (windows of the run).
const WINDOWS: u32 = 10;
/// A client deletes rather than creates once it owns this many certificates.
const OWN_LIMIT: usize = 40;

/// Parses `30s`, `10m`, `1h` or plain seconds.
pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .with_context(|| format!("bad --soak duration {text:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => bail!("bad --soak duration {text:?}: use 30s, 10m or 1h"),
    };
    if secs == 0 {
        bail!("--soak needs a positive duration");
    }
    Ok(Duration::from_secs(secs))
}

/// What the clients measured in one window.
#[derive(Debug, Default)]
struct Window {
    latencies_us: Vec<u64>,
    intended_4xx: u64,
    errors: u64,
}

/// Shared between the clients and the reporter.
#[derive(Debug)]
struct Tally {
    windows: Mutex<Vec<Window>>,
    started: Instant,
    window: Duration,
    /// The first few unexpected answers, for the report.
    samples: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, latency: Duration, outcome: Outcome) {
        let at = self.started.elapsed().as_nanos() / self.window.as_nanos().max(1);
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() <= at {
            windows.resize_with(at + 1, Window::default);
        }
        let w = &mut windows[at];
        w.latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        match outcome {
            Outcome::Ok => {}
            Outcome::Intended => w.intended_4xx += 1,
            Outcome::Error(what) => {
                w.errors += 1;
                let mut samples = self
                    .samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if samples.len() < 10 {
                    samples.push(what);
                }
            }
        }
    }
}

/// How an answer counted.
#[derive(Debug)]
enum Outcome {
    Ok,
    Intended,
    Error(String),
}

/// One client's view of the server.
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
    tally: Arc<Tally>,
    rng: u64,
}

impl Client {
    fn next(&mut self) -> u64 {
        // xorshift64*: cheap, and good enough to pick operations.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).ok().filter(|n| *n > 0)?;
        items.get(usize::try_from(self.next() % n).ok()?)
    }

    /// Sends a request; `expect` is the status (and error code) that counts as success.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        expect: (u16, Option<&str>),
    ) -> Option<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = Instant::now();
        let answer = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let latency = started.elapsed();
        let (outcome, value) = match answer {
            Err(e) => (Outcome::Error(format!("{method} {path}: {e}")), None),
            Ok((status, body)) => {
                let code_ok = expect.1.is_none_or(|c| body["error_code"] == c);
                if status == expect.0 && code_ok {
                    let outcome = if status >= 400 {
                        Outcome::Intended
                    } else {
                        Outcome::Ok
                    };
                    (outcome, Some(body))
                } else {
                    (
                        Outcome::Error(format!("{method} {path}: {status} {body}")),
                        None,
                    )
                }
            }
        };
        self.tally.record(latency, outcome);
        value
    }
}

/// The state one client keeps: its certificates (id, name), its host and what the host uses.
#[derive(Debug)]
struct Own {
    certs: Vec<(String, String)>,
    host: String,
    bound: String,
    seq: u64,
}

/// One client's loop until `until`.
async fn client_loop(
    mut c: Client,
    mut own: Own,
    ids: Arc<Vec<String>>,
    pairs: Arc<Vec<(String, String)>>,
    tag: usize,
    until: Instant,
) -> Own {
    let ok = (200, None);
    while Instant::now() < until {
        let roll = c.next() % 100;
        own.seq += 1;
        match roll {
            0..30 => {
                let page = 1 + c.next() % 20;
                let query = match c.next() % 3 {
                    0 => format!("?page={page}&pagesize=10&host=true"),
                    1 => "?page=1&pagesize=10&name=needle".to_owned(),
                    _ => "?page=1&pagesize=10&exp_status=2".to_owned(),
                };
                c.call(reqwest::Method::GET, &query, None, ok).await;
            }
            30..55 => {
                let Some(id) = c.pick(&ids).cloned() else {
                    continue;
                };
                c.call(reqwest::Method::GET, &format!("/{id}"), None, ok)
                    .await;
            }
            55..65 if own.certs.len() < OWN_LIMIT => {
                let Some((content, key)) = c.pick(&pairs).cloned() else {
                    continue;
                };
                let name = format!("soak-{tag}-{}", own.seq);
                let body = json!({"name": name, "content": content, "key": key});
                if let Some(v) = c.call(reqwest::Method::POST, "", Some(&body), ok).await
                    && let Some(id) = v["id"].as_str()
                {
                    own.certs.push((id.to_owned(), name));
                }
            }
            55..75 => {
                // Rename one of this client's certificates that its host does not use.
                let Some(i) = free_index(&mut c, &own) else {
                    continue;
                };
                let name = format!("soak-{tag}-{}-r", own.seq);
                let path = format!("/{}", own.certs[i].0);
                if c.call(
                    reqwest::Method::PUT,
                    &path,
                    Some(&json!({"name": name})),
                    ok,
                )
                .await
                .is_some()
                {
                    own.certs[i].1 = name;
                }
            }
            75..85 => {
                let Some(i) = free_index(&mut c, &own) else {
                    continue;
                };
                let id = own.certs[i].0.clone();
                let body = json!({"premium_host_ids": [own.host]});
                if c.call(
                    reqwest::Method::POST,
                    &format!("/{id}/apply-to-hosts"),
                    Some(&body),
                    ok,
                )
                .await
                .is_some()
                {
                    own.bound = id;
                }
            }
            85..95 => {
                let Some(i) = free_index(&mut c, &own) else {
                    continue;
                };
                let id = own.certs[i].0.clone();
                if c.call(reqwest::Method::DELETE, &format!("/{id}"), None, ok)
                    .await
                    .is_some()
                {
                    own.certs.swap_remove(i);
                }
            }
            _ => bad_request(&mut c).await,
        }
    }
    own
}

/// An index into the client's certificates that its host does not use.
fn free_index(c: &mut Client, own: &Own) -> Option<usize> {
    let free: Vec<usize> = (0..own.certs.len())
        .filter(|i| own.certs[*i].0 != own.bound)
        .collect();
    c.pick(&free).copied()
}

/// One of the bad requests, each with its documented answer.
async fn bad_request(c: &mut Client) {
    let unknown = "0123456789abcdef0123456789abcdef";
    match c.next() % 5 {
        0 => {
            c.call(
                reqwest::Method::GET,
                "?pagesize=101",
                None,
                (400, Some("WAF.00011011")),
            )
            .await
        }
        1 => {
            c.call(
                reqwest::Method::GET,
                "/not-an-id",
                None,
                (404, Some("WAF.00022001")),
            )
            .await
        }
        2 => {
            c.call(
                reqwest::Method::GET,
                &format!("/{unknown}"),
                None,
                (404, Some("WAF.00022001")),
            )
            .await
        }
        3 => {
            let body = json!({"name": "no-key", "content": "-----BEGIN CERTIFICATE-----"});
            c.call(
                reqwest::Method::POST,
                "",
                Some(&body),
                (400, Some("WAF.00011003")),
            )
            .await
        }
        _ => {
            let body = json!({"name": "bad name with spaces and /"});
            c.call(
                reqwest::Method::PUT,
                &format!("/{unknown}"),
                Some(&body),
                (400, Some("WAF.00011005")),
            )
            .await
        }
    };
}

/// The `pct`-th percentile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u64], pct: usize) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    sorted[last * pct / 100] as f64 / 1000.0
}

/// Soaks SQLite (unless `--skip-sqlite`) and PostgreSQL (with `--postgres`) for `length` each;
/// returns whether every run passed.
pub(crate) async fn run(
    args: &Args,
    fixtures: &Fixtures,
    length: Duration,
) -> anyhow::Result<bool> {
    let mut ok = true;
    if !args.skip_sqlite {
        let dir = tempfile::Builder::new()
            .prefix("wafcert-soak-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .context("temporary directory")?;
        let url = format!("sqlite://{}/soak.db", dir.path().display());
        ok &= run_backend(args, "sqlite", &url, dir.path(), fixtures, length).await?;
    }
    if let Some(admin) = &args.postgres {
        let dir = tempfile::Builder::new()
            .prefix("wafcert-soak-pg-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .context("temporary directory")?;
        let name = format!("wafcert_soak_{}", ProjectId::random());
        pg_admin(admin, &format!("CREATE DATABASE {name}")).await?;
        let url = replace_db_name(admin, &name)?;
        let outcome = run_backend(args, "postgres", &url, dir.path(), fixtures, length).await;
        pg_admin(
            admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await?;
        ok &= outcome?;
    }
    Ok(ok)
}

/// Soaks one backend; returns whether it passed (no unexpected answers, the data consistent).
async fn run_backend(
    args: &Args,
    backend: &'static str,
    url: &str,
    dir: &Path,
    fixtures: &Fixtures,
    length: Duration,
) -> anyhow::Result<bool> {
    println!("== soak {backend}: seeding {} certificates", args.n);
    let master_hex = random_hex(32)?;
    let seeded = seed(url, &master_hex, args.n, fixtures).await?;
    let port = free_port()?;
    let server = Bounded::spawn(
        Command::new(env!("CARGO_BIN_EXE_wafcert"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", url, "--no-bootstrap"])
            .env("WAFCERT_MASTER_KEY", &master_hex),
        &dir.join("soak-server.log"),
        length.as_secs() + 300,
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    wait_ready(&http, &format!("{base}/readyz"), &server).await?;
    let api = format!("{base}/v1/{}/waf/certificate", seeded.project);
    let hosts = format!("{base}/v1/{}/premium-waf/host", seeded.project);
    let pairs: Arc<Vec<(String, String)>> = Arc::new(
        fixtures
            .create
            .iter()
            .map(|p| (p.content.clone(), p.key.clone()))
            .collect(),
    );
    let ids = Arc::new(seeded.show_ids.clone());

    // Each client gets a certificate and a host of its own to bind.
    let mut owns = Vec::new();
    for tag in 0..SOAK_CLIENTS {
        let (content, key) = &pairs[tag % pairs.len()];
        let name = format!("soak-{tag}-0");
        let cert: Value = http
            .post(&api)
            .header("X-Auth-Token", &seeded.token)
            .json(&json!({"name": name, "content": content, "key": key}))
            .send()
            .await?
            .json()
            .await?;
        let cert_id = cert["id"]
            .as_str()
            .with_context(|| format!("soak create: {cert}"))?
            .to_owned();
        let host: Value = http.post(&hosts).header("X-Auth-Token", &seeded.token)
            .json(&json!({"hostname": format!("soak{tag}.example.com"), "proxy": false,
                "certificateid": cert_id, "certificatename": name,
                "server": [{"front_protocol": "HTTPS", "back_protocol": "HTTP", "address": "10.0.0.1",
                            "port": 443, "type": "ipv4", "vpc_id": "vpc-soak"}]}))
            .send().await?.json().await?;
        let host_id = host["id"]
            .as_str()
            .with_context(|| format!("soak host: {host}"))?
            .to_owned();
        owns.push(Own {
            certs: vec![(cert_id.clone(), name)],
            host: host_id,
            bound: cert_id,
            seq: 0,
        });
    }

    let window = (length / WINDOWS).max(Duration::from_secs(1));
    let tally = Arc::new(Tally {
        windows: Mutex::new(Vec::new()),
        started: Instant::now(),
        window,
        samples: Mutex::new(Vec::new()),
    });
    let until = tally.started + length;
    let mut tasks = Vec::new();
    for (tag, own) in owns.into_iter().enumerate() {
        let mut seed_bytes = [0u8; 8];
        wafcert::crypto::random_bytes(&mut seed_bytes)?;
        let client = Client {
            http: http.clone(),
            api: api.clone(),
            token: seeded.token.clone(),
            tally: tally.clone(),
            rng: u64::from_le_bytes(seed_bytes) | 1,
        };
        tasks.push(tokio::spawn(client_loop(
            client,
            own,
            ids.clone(),
            pairs.clone(),
            tag,
            until,
        )));
    }
    // RSS at the end of each window, sampled while the clients run.
    let mut rss = Vec::new();
    for i in 1..=WINDOWS {
        tokio::time::sleep_until((tally.started + window * i).into()).await;
        rss.push(server.rss_kb().0);
    }
    let mut owns = Vec::new();
    for t in tasks {
        owns.push(t.await?);
    }

    println!(
        "{:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9}",
        "window", "requests", "p50 ms", "p99 ms", "max ms", "4xx (ok)", "errors", "RSS KiB"
    );
    let windows = std::mem::take(
        &mut *tally
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut errors = 0;
    for (i, w) in windows.iter().enumerate().take(WINDOWS as usize) {
        let mut l = w.latencies_us.clone();
        l.sort_unstable();
        errors += w.errors;
        let end = window * u32::try_from(i + 1).unwrap_or(u32::MAX);
        println!(
            "{:>7}s {:>9} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>7} {:>9}",
            end.as_secs(),
            l.len(),
            percentile(&l, 50),
            percentile(&l, 99),
            percentile(&l, 100),
            w.intended_4xx,
            w.errors,
            rss.get(i).copied().unwrap_or(0)
        );
    }
    errors += windows
        .iter()
        .skip(WINDOWS as usize)
        .map(|w| w.errors)
        .sum::<u64>();
    for sample in tally
        .samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        println!("  unexpected: {sample}");
    }
    // Flat RSS: after warm-up (the first 30% of the run) it should not keep growing.
    let warm = rss.get(2).copied().unwrap_or(0);
    let last = rss.last().copied().unwrap_or(0);
    let growth = last.saturating_sub(warm);
    let growth_pct = if warm > 0 {
        growth as f64 * 100.0 / warm as f64
    } else {
        0.0
    };
    println!(
        "RSS after warm-up {warm} KiB, at the end {last} KiB: growth {growth} KiB ({growth_pct:.1}%)"
    );

    // Consistency: total equals the stored rows, and every client's certificates are there.
    let all: Value = http
        .get(format!("{api}?pagesize=-1"))
        .header("X-Auth-Token", &seeded.token)
        .send()
        .await?
        .json()
        .await?;
    let items = all["items"].as_array().context("list items")?;
    let stored: HashSet<&str> = items.iter().filter_map(|c| c["id"].as_str()).collect();
    let missing = owns
        .iter()
        .flat_map(|o| &o.certs)
        .filter(|(id, _)| !stored.contains(id.as_str()))
        .count();
    let consistent = all["total"].as_u64() == Some(items.len() as u64) && missing == 0;
    println!(
        "soak {backend}: {} s, {errors} errors, total {} = {} rows listed, {missing} acknowledged certificates missing: {}",
        length.as_secs(),
        all["total"],
        items.len(),
        if errors == 0 && consistent {
            "PASS"
        } else {
            "FAIL"
        }
    );
    server.stop();
    Ok(errors == 0 && consistent)
}
