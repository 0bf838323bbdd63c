//! The load benchmark (`scripts/bench`, or `cargo bench --bench load -- --help`).
//!
//! In one run, per backend (SQLite, and PostgreSQL with `--postgres URL`):
//! 1. seeds one project with `--n` certificates through the storage layer (RSA-2048 and EC P-256
//!    pairs, ~5% expired, ~10% expiring within 30 days, ~1% of names containing `needle`, a
//!    hundred hosts bound to recent certificates);
//! 2. starts the real `wafcert serve` binary on 127.0.0.1 and drives it with `wrk` at each
//!    `--connections` count: list pages (default page with `host=true`, name substring,
//!    `exp_status=2`, `pagesize=100`), show by id, and create with EC P-256 and RSA-2048 pairs;
//!    It also times `/metrics` scrapes (all certificate series come from the database) and
//!    runs the list page while `/metrics` is scraped every second (`list_scraped`);
//! 3. runs the same load against a bare axum server (this binary re-executed with
//!    `--baseline-server`) that answers a fixed body as large as the 10-item page;
//! 4. prints a table, the server's peak RSS, the issue's targets met or missed, and a last line
//!    `ratio list_page/baseline = X.XX` (list page vs baseline, both at the first connection
//!    count, on the first backend run).
//!
//! Every child process is bounded (`timeout`) and stopped at the end; load goes to 127.0.0.1
//! only. Times are not asserted: the exit code is non-zero only when something failed (a child
//! did not start, more than 1% of a run's requests got an error answer or a socket error, or
//! the project does not hold the acknowledged creates afterwards). A few errors in an overloaded
//! run (a 503 after the pool's acquire timeout) are reported, with the server's log lines, but
//! do not fail it.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use wafcert::app::{MasterKeySource, open_sealer};
use wafcert::auth::Role;
use wafcert::crypto::{new_token, random_bytes, token_hash};
use wafcert::domain::{CertificateId, CertificateName, HostId, NameLimit, ProjectId, now_ms};
use wafcert::storage::{NewCertificate, NewHost, PoolSettings, Store};

mod soak;

/// The substring that ~1% of the seeded names contain.
const NEEDLE: &str = "needle";
/// Rows per seeding transaction.
const SEED_BATCH: usize = 5_000;
/// Distinct certificate/key pairs generated for seeding (rows reuse them round-robin).
const POOL_PAIRS: usize = 2_000;

/// Load benchmark of wafcert against a bare axum baseline (see the crate docs).
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// Certificates seeded into the project.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Seconds per case and connection count.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connection counts, comma separated; the first one is used for the ratio and the targets.
    #[arg(long, value_delimiter = ',', default_value = "4,64")]
    connections: Vec<u32>,
    /// Also run on PostgreSQL: an admin URL; a fresh database is created and dropped after.
    #[arg(long)]
    postgres: Option<String>,
    /// Skip SQLite (with `--postgres`).
    #[arg(long)]
    skip_sqlite: bool,
    /// Only these cases (comma separated), e.g. `baseline,list_page` (for profiling).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The wrk executable.
    #[arg(long, default_value = "wrk")]
    wrk: String,
    /// wrk threads (at most one per connection).
    #[arg(long, default_value_t = 2)]
    wrk_threads: u32,
    /// Distinct RSA-2048 keys generated for the seeded certificates and the create case.
    #[arg(long, default_value_t = 24)]
    rsa_keys: usize,
    /// Also write the report (the machine line and the summary) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the databases (SQLite file, PostgreSQL database), the server log and the wrk
    /// scripts; their names are printed.
    #[arg(long)]
    keep: bool,
    /// Soak instead: a mixed load for this long (`30s`, `10m`), see benches/soak/mod.rs.
    #[arg(long)]
    soak: Option<String>,
    /// Run the baseline server on this port (internal: the benchmark re-executes itself).
    #[arg(long, hide = true)]
    baseline_server: Option<u16>,
    /// Body size of the baseline server (internal).
    #[arg(long, hide = true, default_value_t = 0)]
    baseline_bytes: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long = "bench", hide = true)]
    _bench: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(port) = args.baseline_server {
        return match run_baseline_server(port, args.baseline_bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baseline server: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
        .and_then(|rt| rt.block_on(run(&args)));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("load: failed: more than 1% errors in a run, or creates missing (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The baseline: the same HTTP stack (tokio multi-thread runtime, hyper, axum 0.8), a fixed body,
// no authentication, no storage.

fn run_baseline_server(port: u16, bytes: usize) -> anyhow::Result<()> {
    use axum::http::header::CONTENT_TYPE;
    let body = axum::body::Bytes::from(baseline_body(bytes));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let app = axum::Router::new().route(
                "/v1/{project_id}/waf/certificate",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { ([(CONTENT_TYPE, "application/json")], body) }
                }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}

/// A JSON object of exactly `bytes` bytes (at least the empty list's size).
fn baseline_body(bytes: usize) -> Vec<u8> {
    let head = r#"{"total":0,"items":[],"pad":""#;
    let tail = r#""}"#;
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(head.as_bytes());
    body.resize(head.len() + pad, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

// ---------------------------------------------------------------------------------------------
// The run.

/// Which server a case loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Wafcert,
    Baseline,
}

/// What one request of a case is.
#[derive(Debug, Clone)]
enum Load {
    /// The same GET every time (path and query under the project's certificate URL).
    Get(&'static str),
    /// As `Get`, while another client scrapes `/metrics` once a second.
    GetWhileScraped(&'static str),
    /// GET of one certificate, cycling through seeded ids.
    Show,
    /// POST of a fresh name with this pair.
    Create(usize),
}

#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    target: Target,
    load: Load,
}

/// One measured line of the table.
#[derive(Debug, Clone)]
struct Row {
    backend: &'static str,
    case: &'static str,
    connections: u32,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    body_bytes: usize,
    /// The server's RSS after this run, KiB.
    rss_kb: u64,
    /// CPU time the server process (all its threads) spent per answered request, µs.
    cpu_us_per_request: f64,
    /// CPU time of the machine's PostgreSQL processes per answered request, µs (PostgreSQL
    /// runs only).
    db_cpu_us_per_request: Option<f64>,
}

/// What one backend's run measured.
#[derive(Debug)]
struct BackendReport {
    backend: &'static str,
    rows: Vec<Row>,
    rss: Vec<(&'static str, u64)>,
    seed_secs: f64,
    /// `/metrics` scrape times, ms: median and slowest of a few.
    scrape_ms: (f64, f64),
    total_after: i64,
    created: u64,
}

const LIST_PAGE: &str = "?page=7&pagesize=10&host=true";

fn cases(pairs: &[CreatePair]) -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "baseline",
            target: Target::Baseline,
            load: Load::Get(LIST_PAGE),
        },
        Case {
            name: "list_page",
            target: Target::Wafcert,
            load: Load::Get(LIST_PAGE),
        },
        Case {
            name: "list_scraped",
            target: Target::Wafcert,
            load: Load::GetWhileScraped(LIST_PAGE),
        },
        Case {
            name: "list_name",
            target: Target::Wafcert,
            load: Load::Get("?page=1&pagesize=10&host=true&name=needle"),
        },
        Case {
            name: "list_expiring",
            target: Target::Wafcert,
            load: Load::Get("?page=1&pagesize=10&host=true&exp_status=2"),
        },
        Case {
            name: "list_100",
            target: Target::Wafcert,
            load: Load::Get("?page=1&pagesize=100&host=true"),
        },
        Case {
            name: "show",
            target: Target::Wafcert,
            load: Load::Show,
        },
    ];
    for (i, pair) in pairs.iter().enumerate() {
        cases.push(Case {
            name: pair.case,
            target: Target::Wafcert,
            load: Load::Create(i),
        });
    }
    cases
}

async fn run(args: &Args) -> anyhow::Result<bool> {
    if args.connections.is_empty() || args.connections.contains(&0) {
        bail!("--connections needs positive counts");
    }
    check_wrk(&args.wrk)?;
    let mut report = String::new();
    let host = machine_summary();
    println!("{host}");
    report.push_str(&host);
    report.push('\n');

    let started = Instant::now();
    let fixtures = Fixtures::generate(args.rsa_keys)?;
    println!(
        "generated {} certificate/key pairs ({} RSA-2048 keys) in {:.1} s",
        fixtures.pool.len(),
        args.rsa_keys,
        started.elapsed().as_secs_f64()
    );
    if let Some(length) = &args.soak {
        return soak::run(args, &fixtures, soak::parse_duration(length)?).await;
    }

    let mut reports = Vec::new();
    let mut all_ok = true;
    if !args.skip_sqlite {
        let mut dir = tempfile::Builder::new()
            .prefix("wafcert-bench-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .context("temporary directory")?;
        dir.disable_cleanup(args.keep);
        let url = format!("sqlite://{}/bench.db", dir.path().display());
        let (r, ok) = run_backend(args, "sqlite", &url, dir.path(), &fixtures).await?;
        if args.keep {
            println!("kept {}", dir.path().display());
        }
        all_ok &= ok;
        reports.push(r);
    }
    if let Some(admin) = &args.postgres {
        let dir = tempfile::Builder::new()
            .prefix("wafcert-bench-pg-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .context("temporary directory")?;
        let name = format!("wafcert_bench_{}", ProjectId::random());
        pg_admin(admin, &format!("CREATE DATABASE {name}")).await?;
        let url = replace_db_name(admin, &name)?;
        let outcome = run_backend(args, "postgres", &url, dir.path(), &fixtures).await;
        let dropped = if args.keep {
            println!("kept PostgreSQL database {name}");
            Ok(())
        } else {
            pg_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
        };
        let (r, ok) = outcome?;
        dropped?;
        all_ok &= ok;
        reports.push(r);
    }

    let summary = summarise(args, &reports);
    println!("{summary}");
    report.push_str(&summary);
    if let Some(path) = &args.out {
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(all_ok)
}

/// Seeds, starts the server and runs every case on one backend.
async fn run_backend(
    args: &Args,
    backend: &'static str,
    url: &str,
    dir: &Path,
    fixtures: &Fixtures,
) -> anyhow::Result<(BackendReport, bool)> {
    println!("== {backend}: seeding {} certificates", args.n);
    let master_hex = random_hex(32)?;
    let started = Instant::now();
    let seeded = seed(url, &master_hex, args.n, fixtures).await?;
    if backend == "postgres" {
        // What autovacuum does within a minute of a bulk load: statistics for the planner and
        // the visibility map for index-only scans. Without them the first minutes of a fresh
        // database plan the filtered lists badly (a 100k-row bitmap AND for the name search).
        pg_admin(url, "VACUUM ANALYZE").await?;
    }
    let seed_secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {} certificates and {} bound hosts in {seed_secs:.1} s ({:.0} rows/s)",
        args.n,
        seeded.hosts,
        f64::from(u32::try_from(args.n).unwrap_or(u32::MAX)) / seed_secs
    );

    let budget = budget_secs(args);
    let port = free_port()?;
    let server = Bounded::spawn(
        Command::new(env!("CARGO_BIN_EXE_wafcert"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", url, "--no-bootstrap"])
            .env("WAFCERT_MASTER_KEY", &master_hex),
        &dir.join("server.log"),
        budget,
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    wait_ready(&client, &format!("{base}/readyz"), &server).await?;
    let mut rss = vec![("idle after start", server.rss_kb().0)];
    println!("wafcert pid {} listening on {base}", server.pid);

    let api = format!("{base}/v1/{}/waf/certificate", seeded.project);
    let page = probe_get(&client, &format!("{api}{LIST_PAGE}"), &seeded.token).await?;
    let page_items = serde_json::from_slice::<serde_json::Value>(&page)?["items"]
        .as_array()
        .map_or(0, Vec::len);
    if page_items != 10.min(args.n.saturating_sub(60)) {
        bail!("the list page has {page_items} items");
    }
    let base_port = free_port()?;
    let exe = std::env::current_exe()?;
    let baseline = Bounded::spawn(
        Command::new(exe).args([
            "--baseline-server",
            &base_port.to_string(),
            "--baseline-bytes",
            &page.len().to_string(),
        ]),
        &dir.join("baseline.log"),
        budget,
    )?;
    let baseline_api = format!(
        "http://127.0.0.1:{base_port}/v1/{}/waf/certificate",
        seeded.project
    );
    wait_ready(&client, &format!("{baseline_api}{LIST_PAGE}"), &baseline).await?;

    // The expiry events of the seeded certificates (their backlog at first start), then the
    // server's caches and connections warmed for a moment, unrecorded.
    let backlog = Instant::now();
    let events =
        wait_expiry_backlog(&client, &base, seeded.project.as_str(), &seeded.token).await?;
    println!(
        "expiry backlog: {events} events emitted within {:.1} s of the start",
        backlog.elapsed().as_secs_f64()
    );
    let warm = script_get(&dir.join("warm.lua"), &seeded.token)?;
    run_wrk(args, &format!("{api}{LIST_PAGE}"), &warm, 4, 2)?;
    let scrape_ms = time_scrapes(&client, &base, 5).await?;
    println!(
        "/metrics scrape: median {:.1} ms, slowest {:.1} ms",
        scrape_ms.0, scrape_ms.1
    );

    let mut rows = Vec::new();
    let mut ok = true;
    let mut created = 0;
    let mut reads_done = false;
    println!("{}", table_header());
    for case in cases(&fixtures.create) {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == case.name) {
            continue;
        }
        if matches!(case.load, Load::Create(_)) && !reads_done {
            rss.push(("after the read cases", server.rss_kb().0));
            reads_done = true;
        }
        let root = match case.target {
            Target::Wafcert => &api,
            Target::Baseline => &baseline_api,
        };
        let script = dir.join(format!("{}.lua", case.name));
        let (url, body_bytes) = match &case.load {
            Load::Get(query) | Load::GetWhileScraped(query) => {
                let url = format!("{root}{query}");
                let body = probe_get(&client, &url, &seeded.token).await?;
                script_get(&script, &seeded.token)?;
                (url, body.len())
            }
            Load::Show => {
                let url = format!("{root}/");
                let body = probe_get(
                    &client,
                    &format!("{url}{}", seeded.show_ids[0]),
                    &seeded.token,
                )
                .await?;
                script_show(&script, &seeded.token, &seeded.show_ids)?;
                (url, body.len())
            }
            Load::Create(i) => {
                let pair = &fixtures.create[*i];
                let probe = serde_json::json!({
                    "name": format!("probe-{}", case.name),
                    "content": pair.content,
                    "key": pair.key,
                });
                let answer = client
                    .post(root)
                    .header("X-Auth-Token", &seeded.token)
                    .json(&probe)
                    .send()
                    .await?;
                let status = answer.status();
                let body = answer.bytes().await?;
                if !status.is_success() {
                    bail!(
                        "probe create {}: {status} {}",
                        case.name,
                        String::from_utf8_lossy(&body)
                    );
                }
                created += 1;
                script_create(&script, &seeded.token, case.name, &pair.content, &pair.key)?;
                (root.clone(), body.len())
            }
        };
        let loaded = match case.target {
            Target::Wafcert => &server,
            Target::Baseline => &baseline,
        };
        for &connections in &args.connections {
            let db_before = (backend == "postgres").then(postgres_cpu_ticks);
            let cpu_before = loaded.cpu_secs();
            let scraper = matches!(case.load, Load::GetWhileScraped(_))
                .then(|| tokio::spawn(scrape_every_second(client.clone(), base.clone())));
            let r = run_wrk(args, &url, &script, connections, args.seconds)
                .with_context(|| format!("{} at {connections} connections", case.name));
            if let Some(scraper) = scraper {
                scraper.abort();
            }
            let r = r?;
            let cpu = loaded.cpu_secs() - cpu_before;
            let db_cpu = db_before.map(|before| postgres_cpu_since(&before));
            let per_request = |secs: f64| {
                if r.requests > 0 {
                    secs * 1e6 / r.requests as f64
                } else {
                    0.0
                }
            };
            if matches!(case.load, Load::Create(_)) {
                // Error answers created nothing; a timed-out request may still have (the slack below).
                created += r.requests.saturating_sub(r.errors);
            }
            let row = Row {
                backend,
                case: case.name,
                connections,
                rps: r.rps(),
                p50_ms: r.p50_us / 1000.0,
                p99_ms: r.p99_us / 1000.0,
                errors: r.errors,
                body_bytes,
                rss_kb: loaded.rss_kb().0,
                cpu_us_per_request: per_request(cpu),
                db_cpu_us_per_request: match case.target {
                    Target::Wafcert => db_cpu.map(per_request),
                    Target::Baseline => None,
                },
            };
            // A broken case fails every request; an overloaded machine may fail a handful.
            ok &= row.errors * 100 <= r.requests;
            println!("{}", table_line(&row));
            rows.push(row);
        }
    }
    if !reads_done {
        rss.push(("after the read cases", server.rss_kb().0));
    }
    let (current, peak) = server.rss_kb();
    rss.push(("after all cases", current));
    rss.push(("peak (VmHWM)", peak));
    rss.push(("baseline peak (VmHWM)", baseline.rss_kb().1));

    let total_after = probe_total(&client, &api, &seeded.token).await?;
    let expected = i64::try_from(u64::try_from(args.n)? + created)?;
    // A request wrk abandoned at the end of a run may still have been committed.
    let slack = i64::from(args.connections.iter().sum::<u32>()) * 2;
    if total_after < expected || total_after > expected + slack {
        println!("WARNING: {total_after} certificates after the run, expected {expected}");
        ok = false;
    }
    if rows.iter().any(|r| r.errors > 0) {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .collect();
        println!(
            "{backend}: some requests failed; the server logged {} error/warning lines, the last:",
            errors.len()
        );
        for line in errors.iter().rev().take(5).rev() {
            println!("  {line}");
        }
    }
    baseline.stop();
    server.stop();
    Ok((
        BackendReport {
            backend,
            rows,
            rss,
            seed_secs,
            scrape_ms,
            total_after,
            created,
        },
        ok,
    ))
}

/// Seconds a child may live at most: every case at every connection count, with margin.
fn budget_secs(args: &Args) -> u64 {
    let runs = 9 * u64::try_from(args.connections.len()).unwrap_or(8);
    runs * (args.seconds + 30) + 600
}

// ---------------------------------------------------------------------------------------------
// Seeding.

/// A pair for the create cases.
#[derive(Debug)]
struct CreatePair {
    case: &'static str,
    content: String,
    key: String,
}

/// A seeded pair: chain, key and the leaf's notAfter.
#[derive(Debug)]
struct PoolPair {
    content: String,
    key: String,
    not_after_ms: i64,
}

#[derive(Debug)]
struct Fixtures {
    pool: Vec<PoolPair>,
    create: Vec<CreatePair>,
}

impl Fixtures {
    /// `POOL_PAIRS` distinct leaf certificates (half RSA-2048 from a pool of `rsa_keys` keys,
    /// half EC P-256 with their own keys) issued by one EC P-256 CA, with notAfter spread so
    /// that 5% are expired and 10% expire within 30 days; plus one self-signed pair of each
    /// algorithm for the create cases.
    fn generate(rsa_keys: usize) -> anyhow::Result<Self> {
        let rsa_keys = rsa_keys.max(1);
        let now = time::OffsetDateTime::now_utc();
        let rsa: Vec<String> =
            parallel(rsa_keys, |_| {
                Ok(rcgen::KeyPair::generate_rsa_for(
                    &rcgen::PKCS_RSA_SHA256,
                    rcgen::RsaKeySize::_2048,
                )?
                .serialize_pem())
            })?;
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wafcert bench CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.not_before = now - time::Duration::days(1_000);
        ca_params.not_after = now + time::Duration::days(3_000);
        let ca_pem = ca_params.self_signed(&ca_key)?.pem();
        let ca_key_pem = ca_key.serialize_pem();
        let pool = parallel(POOL_PAIRS, |j| {
            let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem)?;
            let issuer = rcgen::Issuer::from_params(&ca_params, ca_key);
            let key = if j % 2 == 0 {
                rcgen::KeyPair::from_pem(&rsa[(j / 2) % rsa.len()])?
            } else {
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?
            };
            let host = format!("host-{j}.bench.example");
            let mut params = rcgen::CertificateParams::new(vec![host.clone()])?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, host);
            params.not_before = now - time::Duration::days(800);
            params.not_after =
                (now + time::Duration::seconds(expiry_offset_secs(j))).replace_nanosecond(0)?;
            let leaf = params.signed_by(&key, &issuer)?;
            Ok(PoolPair {
                content: format!("{}{ca_pem}", leaf.pem()).trim().to_owned(),
                key: key.serialize_pem().trim().to_owned(),
                not_after_ms: params.not_after.unix_timestamp() * 1000,
            })
        })?;
        let mut create = Vec::new();
        for (case, key) in [
            (
                "create_ec",
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
            ),
            ("create_rsa", rcgen::KeyPair::from_pem(&rsa[0])?),
        ] {
            let mut params = rcgen::CertificateParams::new(vec!["www.bench.example".to_owned()])?;
            params.not_before = now - time::Duration::days(10);
            params.not_after = now + time::Duration::days(365);
            let cert = params.self_signed(&key)?;
            create.push(CreatePair {
                case,
                content: cert.pem(),
                key: key.serialize_pem(),
            });
        }
        Ok(Self { pool, create })
    }
}

/// The notAfter of pool pair `j`, in seconds from now: of every 20 pairs one has expired
/// (1 to 365 days ago), two expire within 30 days (1 to 29 days) and the rest later (31 days to
/// 2 years).
fn expiry_offset_secs(j: usize) -> i64 {
    let spread = i64::try_from(j.wrapping_mul(7_919) % 86_400).unwrap_or(0);
    let day = i64::try_from(j % 365).unwrap_or(0);
    let days = match j % 20 {
        0 => -(1 + day),
        1 | 2 => 1 + day % 28,
        _ => 31 + (day * 2) % 700,
    };
    days * 86_400 + spread.min(86_399) * if days < 0 { -1 } else { 1 }
}

/// `f(0..n)` on two threads, in order.
fn parallel<T: Send>(
    n: usize,
    f: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let threads = 2;
    let results: Vec<anyhow::Result<Vec<(usize, T)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|j| f(j).map(|v| (j, v)))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("generator thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(n);
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(j, _)| *j);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

/// The seeded project.
#[derive(Debug)]
struct Seeded {
    project: ProjectId,
    token: String,
    /// Ids spread over the project, for the show case.
    show_ids: Vec<String>,
    hosts: usize,
}

/// Creates the project, an admin token, `n` certificates (in transactions of `SEED_BATCH`
/// rows, newest last) and hosts bound to every 20th of the 2,000 newest certificates.
async fn seed(
    url: &str,
    master_hex: &str,
    n: usize,
    fixtures: &Fixtures,
) -> anyhow::Result<Seeded> {
    let store = Store::open(url, PoolSettings::default()).await?;
    let sealer = open_sealer(&store, &MasterKeySource::Hex(master_hex.to_owned()), url).await?;
    let project = ProjectId::random();
    let now = now_ms();
    store.ensure_project(&project, None, now).await?;
    let token = new_token()?;
    store
        .insert_token(
            &token_hash(&token),
            &project,
            Role::Admin.as_str(),
            None,
            now,
            None,
        )
        .await?;
    let n_i64 = i64::try_from(n)?;
    // One upload every 10 ms up to a second ago, so the newest-first order is total.
    let created_at = |i: usize| now - 1_000 - (n_i64 - i64::try_from(i).unwrap_or(0)) * 10;
    let mut all_ids = Vec::with_capacity(n);
    for start in (0..n).step_by(SEED_BATCH) {
        let end = (start + SEED_BATCH).min(n);
        let ids: Vec<CertificateId> = (start..end).map(|_| CertificateId::random()).collect();
        let names = (start..end)
            .map(|i| {
                let name = if i % 100 == 42 {
                    format!("cert-{i:06}-{NEEDLE}")
                } else {
                    format!("cert-{i:06}")
                };
                CertificateName::parse(&name, NameLimit::Create).context("seed name")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let pairs: Vec<&PoolPair> = (start..end)
            .map(|i| &fixtures.pool[i % fixtures.pool.len()])
            .collect();
        let sealed = ids
            .iter()
            .zip(&pairs)
            .map(|(id, p)| sealer.seal(p.key.as_bytes(), id.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let batch: Vec<NewCertificate<'_>> = (0..ids.len())
            .map(|k| NewCertificate {
                id: &ids[k],
                project: &project,
                name: &names[k],
                content: &pairs[k].content,
                sealed_key: &sealed[k],
                expire_time: pairs[k].not_after_ms,
                created_at: created_at(start + k),
                leaf_sha256: None,
                key_sha256: None,
            })
            .collect();
        store.insert_certificates(&batch, None).await?;
        all_ids.extend(ids);
    }
    // Hosts on every 20th of the 2,000 newest certificates (so the 10-item page 7, positions
    // 60 to 69, shows one binding and the 100-item page five).
    let mut hosts = 0;
    let servers = wafcert::domain::parse_servers(&[wafcert::domain::ServerFields {
        front_protocol: Some("HTTPS"),
        back_protocol: Some("HTTP"),
        address: Some("10.0.0.10"),
        port: Some(8080),
        ..Default::default()
    }])?;
    let settings = wafcert::domain::HostSettings::new(servers);
    for position in (5..2_000.min(n)).step_by(20) {
        let id = HostId::random();
        let hostname = wafcert::domain::Hostname::parse(&format!("www-{position}.bench.example"))?;
        let policy_id = wafcert::domain::PolicyId::random();
        let policy = wafcert::storage::NewPolicy {
            name: wafcert::domain::PolicyName::automatic(policy_id.as_str()),
            id: policy_id,
            settings: wafcert::domain::PolicySettings::default(),
        };
        store
            .insert_host(
                &NewHost {
                    id: &id,
                    project: &project,
                    hostname: &hostname,
                    certificate_id: Some(&all_ids[n - 1 - position]),
                    settings: &settings,
                    policy: wafcert::storage::HostPolicy::Create(&policy),
                    created_at: now,
                },
                "bench",
                |_| Ok::<(), std::convert::Infallible>(()),
            )
            .await
            .map_err(|e| match e {
                wafcert::storage::WriteError::Store(e) => anyhow::Error::from(e),
                wafcert::storage::WriteError::Refused(never) => match never {},
            })?;
        hosts += 1;
    }
    let step = (n / 1_000).max(1);
    let show_ids = all_ids
        .iter()
        .step_by(step)
        .map(|id| id.as_str().to_owned())
        .collect();
    store.close().await;
    Ok(Seeded {
        project,
        token,
        show_ids,
        hosts,
    })
}

// ---------------------------------------------------------------------------------------------
// wrk.

/// What one wrk run reported.
#[derive(Debug)]
struct WrkResult {
    requests: u64,
    duration_us: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

impl WrkResult {
    fn rps(&self) -> f64 {
        if self.duration_us > 0.0 {
            self.requests as f64 / (self.duration_us / 1e6)
        } else {
            0.0
        }
    }
}

fn check_wrk(wrk: &str) -> anyhow::Result<()> {
    match Command::new(wrk).arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "cannot run {wrk} ({e}): install it (scripts/bench does: apt-get install -y wrk) \
             or pass --wrk PATH"
        ),
    }
}

/// The `done` hook that prints one machine-readable line.
const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WAFCERT_RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d p50_us=%.1f p99_us=%.1f\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// Per-thread numbering: `tid` is 0, 1, ... in each wrk thread.
const LUA_THREADS: &str = r#"
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
"#;

fn lua_string(s: &str) -> String {
    // A JSON string literal is a valid Lua string literal for the text we embed (no control
    // characters apart from the escaped newlines).
    serde_json::to_string(s).unwrap_or_default()
}

fn script_get(path: &Path, token: &str) -> anyhow::Result<PathBuf> {
    let script = format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Auth-Token\"] = {}\n{LUA_DONE}",
        lua_string(token)
    );
    std::fs::write(path, script)?;
    Ok(path.to_owned())
}

fn script_show(path: &Path, token: &str, ids: &[String]) -> anyhow::Result<()> {
    let list = ids
        .iter()
        .map(|i| lua_string(i))
        .collect::<Vec<_>>()
        .join(",");
    let script = format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Auth-Token\"] = {}\n{LUA_THREADS}\
         local ids = {{{list}}}\nlocal i = 0\n\
         function init(args) i = (tonumber(tid) or 0) * 499 end\n\
         function request()\n  i = i + 1\n  return wrk.format(nil, wrk.path .. ids[(i % #ids) + 1])\nend\n\
         {LUA_DONE}",
        lua_string(token)
    );
    std::fs::write(path, script)?;
    Ok(())
}

fn script_create(
    path: &Path,
    token: &str,
    label: &str,
    content: &str,
    key: &str,
) -> anyhow::Result<()> {
    let tail = format!(
        "\",\"content\":{},\"key\":{}}}",
        lua_string(content),
        lua_string(key)
    );
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"X-Auth-Token\"] = {}\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n{LUA_THREADS}\
         local head = {}\nlocal tail = {}\nlocal count = 0\nlocal run = \"\"\n\
         function init(args) run = args[1] or \"\" end\n\
         function request()\n  count = count + 1\n\
           return wrk.format(nil, nil, nil, head .. run .. \"-\" .. tid .. \"-\" .. count .. tail)\nend\n\
         {LUA_DONE}",
        lua_string(token),
        lua_string(&format!("{{\"name\":\"{label}-")),
        lua_string(&tail),
    );
    std::fs::write(path, script)?;
    Ok(())
}

/// Runs wrk for `seconds` and parses its result line; killed if it overruns.
fn run_wrk(
    args: &Args,
    url: &str,
    script: &Path,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<WrkResult> {
    let threads = args.wrk_threads.clamp(1, connections);
    let mut child = Command::new(&args.wrk)
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        // A label unique per run, so the create cases' names never repeat.
        .args(["--", &format!("c{connections}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", args.wrk))?;
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("wrk overran its time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("WAFCERT_RESULT "))
        .with_context(|| {
            format!(
                "wrk printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let field = |name: &str| -> anyhow::Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("{name} missing in {line}"))?
            .parse::<f64>()
            .with_context(|| format!("{name} in {line}"))
    };
    let count = |name: &str| -> anyhow::Result<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("{name} missing in {line}"))?
            .parse::<u64>()
            .with_context(|| format!("{name} in {line}"))
    };
    Ok(WrkResult {
        requests: count("requests")?,
        duration_us: field("duration_us")?,
        p50_us: field("p50_us")?,
        p99_us: field("p99_us")?,
        errors: count("status_errors")? + count("socket_errors")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Child processes, HTTP probes, PostgreSQL.

/// A child bounded by `timeout(1)`, stopped (SIGTERM, then SIGKILL) when dropped.
struct Bounded {
    wrapper: Child,
    /// The real process (the child of `timeout`), for its memory figures.
    pid: u32,
    name: String,
}

impl Bounded {
    fn spawn(cmd: &mut Command, log: &Path, budget_secs: u64) -> anyhow::Result<Self> {
        let program = cmd.get_program().to_owned();
        let name = Path::new(&program)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut wrapped = Command::new("timeout");
        wrapped
            .args(["-s", "TERM", "-k", "10", &format!("{budget_secs}s")])
            .arg(&program)
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        let log_file = std::fs::File::create(log)?;
        let wrapper = wrapped
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", program.to_string_lossy()))?;
        let wrapper_pid = wrapper.id();
        let mut bounded = Self {
            wrapper,
            pid: 0,
            name,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while bounded.pid == 0 {
            if let Some(pid) = child_of(wrapper_pid) {
                bounded.pid = pid;
            } else if Instant::now() > deadline || bounded.wrapper.try_wait()?.is_some() {
                bail!("{} did not start (see {})", bounded.name, log.display());
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(bounded)
    }

    /// `(VmRSS, VmHWM)` in KiB, zeros if unreadable.
    fn rss_kb(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let get = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (get("VmRSS:"), get("VmHWM:"))
    }

    /// User and system CPU seconds of the process so far (all threads).
    fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after "(comm)": state is the 1st, utime the 12th, stime the 13th.
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        ticks as f64 / clock_ticks_per_sec()
    }

    fn alive(&mut self) -> bool {
        matches!(self.wrapper.try_wait(), Ok(None))
    }

    fn stop(self) {
        drop(self);
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if !self.alive() {
            return;
        }
        // timeout(1) passes SIGTERM on to the server, which shuts down gracefully.
        let _ = Command::new("kill")
            .args(["-TERM", &self.wrapper.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.alive() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.wrapper.kill();
        }
        let _ = self.wrapper.wait();
    }
}

/// The pid of a child of `parent`, from `/proc/*/stat`.
fn child_of(parent: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            return Some(pid);
        }
    }
    None
}

/// User and system CPU ticks of every `postgres` process on the machine (the server and its
/// backends), by pid.
fn postgres_cpu_ticks() -> std::collections::HashMap<u32, u64> {
    let mut ticks = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if head.ends_with("(postgres") {
            let t = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>();
            ticks.insert(pid, t);
        }
    }
    ticks
}

/// CPU seconds the `postgres` processes spent since `before` (processes that ended meanwhile,
/// such as autovacuum workers, are not counted; the server's pooled backends live throughout).
fn postgres_cpu_since(before: &std::collections::HashMap<u32, u64>) -> f64 {
    let ticks: u64 = postgres_cpu_ticks()
        .into_iter()
        .map(|(pid, t)| t.saturating_sub(before.get(&pid).copied().unwrap_or(0)))
        .sum();
    ticks as f64 / clock_ticks_per_sec()
}

/// `getconf CLK_TCK` (the unit of `/proc/*/stat` times), 100 if unknown.
fn clock_ticks_per_sec() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until the server's expiry scheduler has worked through the seeded certificates (the
/// number of `expiring`/`expired` events stops growing); returns that number.
async fn wait_expiry_backlog(
    client: &reqwest::Client,
    base: &str,
    project: &str,
    token: &str,
) -> anyhow::Result<i64> {
    let count = |kind: &'static str| {
        let url = format!(
            "{base}/v1/{project}/wafcert/events?pagesize=1&type=wafcert.certificate.{kind}"
        );
        async move {
            let body = probe_get(client, &url, token).await?;
            serde_json::from_slice::<serde_json::Value>(&body)?["total"]
                .as_i64()
                .context("events total missing")
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = -1;
    loop {
        let now = count("expiring").await? + count("expired").await?;
        if (now == last && now > 0) || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
}

/// Scrapes `/metrics` `n` times in a row: the median and the slowest time, ms.
async fn time_scrapes(
    client: &reqwest::Client,
    base: &str,
    n: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let answer = client.get(format!("{base}/metrics")).send().await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        if !status.is_success() || !body.starts_with(b"# HELP") {
            bail!("GET /metrics: {status}");
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[n / 2], times[n - 1]))
}

/// Scrapes `/metrics` once a second until aborted (a Prometheus at 15x its usual pace).
async fn scrape_every_second(client: reqwest::Client, base: String) {
    loop {
        let _ = client.get(format!("{base}/metrics")).send().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn wait_ready(client: &reqwest::Client, url: &str, child: &Bounded) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().as_u16() < 500
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} did not answer on {url} within 60 s", child.name);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn probe_get(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<Vec<u8>> {
    let answer = client.get(url).header("X-Auth-Token", token).send().await?;
    let status = answer.status();
    let body = answer.bytes().await?.to_vec();
    if !status.is_success() {
        bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

async fn probe_total(client: &reqwest::Client, api: &str, token: &str) -> anyhow::Result<i64> {
    let body = probe_get(client, &format!("{api}?page=1&pagesize=1"), token).await?;
    serde_json::from_slice::<serde_json::Value>(&body)?["total"]
        .as_i64()
        .context("total missing")
}

async fn pg_admin(admin_url: &str, sql: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .context("connecting to PostgreSQL (--postgres)")?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .with_context(|| format!("PostgreSQL: {sql}"))?;
    conn.close().await?;
    Ok(())
}

fn replace_db_name(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .context("the PostgreSQL URL needs a database name")?;
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; bytes];
    random_bytes(&mut b)?;
    Ok(hex::encode(b))
}

// ---------------------------------------------------------------------------------------------
// Report.

fn machine_summary() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    format!(
        "machine: {cores} cores, {cpu}, {:.1} GiB RAM; load average at start: {}",
        mem_kb as f64 / 1_048_576.0,
        load_average()
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn table_header() -> String {
    format!(
        "{:<9} {:<14} {:>5} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8} {:>7}",
        "backend",
        "case",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "resp B",
        "errors",
        "RSS MB",
        "CPU us/r",
        "DB us/r"
    )
}

fn table_line(r: &Row) -> String {
    format!(
        "{:<9} {:<14} {:>5} {:>10.1} {:>9.2} {:>9.2} {:>8} {:>7} {:>7.1} {:>8.0} {:>7}",
        r.backend,
        r.case,
        r.connections,
        r.rps,
        r.p50_ms,
        r.p99_ms,
        r.body_bytes,
        r.errors,
        r.rss_kb as f64 / 1024.0,
        r.cpu_us_per_request,
        r.db_cpu_us_per_request
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
    )
}

fn summarise(args: &Args, reports: &[BackendReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== results (N={}, {} s per case, wrk -t{} on the same machine; load average now: {})",
        args.n,
        args.seconds,
        args.wrk_threads,
        load_average()
    );
    let _ = writeln!(s, "{}", table_header());
    for r in reports {
        for row in &r.rows {
            let _ = writeln!(s, "{}", table_line(row));
        }
    }
    let _ = writeln!(
        s,
        "(resp B: body of one answer; errors: non-2xx answers and socket errors; RSS MB: the \
         server's VmRSS after the run; CPU us/r: the server process's CPU time per answer, all \
         threads; DB us/r: the PostgreSQL processes' CPU time per answer. wrk's own CPU is in \
         neither.)"
    );
    let c0 = args.connections[0];
    let mut ratio_line = None;
    for r in reports {
        let _ = writeln!(
            s,
            "\n{}: seeded in {:.1} s; {} certificates after the run ({} created)",
            r.backend, r.seed_secs, r.total_after, r.created
        );
        for (what, kb) in &r.rss {
            let _ = writeln!(s, "  RSS {what}: {:.1} MB", *kb as f64 / 1024.0);
        }
        let find = |case: &str, c: u32| {
            r.rows
                .iter()
                .find(|row| row.case == case && row.connections == c)
        };
        let best = |case: &str| {
            r.rows
                .iter()
                .filter(|row| row.case == case)
                .map(|row| row.rps)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        };
        let mut targets = Vec::new();
        let ratio = match (find("list_page", c0), find("baseline", c0)) {
            (Some(page), Some(base)) if base.rps > 0.0 => Some(page.rps / base.rps),
            _ => None,
        };
        if let Some(ratio) = ratio {
            targets.push((
                format!("list_page req/s >= 0.5 x baseline ({c0} conns)"),
                format!("{ratio:.2}"),
                ratio >= 0.5,
            ));
            ratio_line.get_or_insert((r.backend, ratio));
        }
        for (case, limit) in [
            ("list_page", 5.0),
            ("list_name", 10.0),
            ("list_expiring", 10.0),
        ] {
            if let Some(row) = find(case, c0) {
                targets.push((
                    format!("{case} p99 < {limit} ms ({c0} conns)"),
                    format!("{:.2} ms", row.p99_ms),
                    row.p99_ms < limit,
                ));
            }
        }
        for (case, limit) in [("create_ec", 1_000.0), ("create_rsa", 300.0)] {
            if let Some(rps) = best(case) {
                targets.push((
                    format!("{case} >= {limit} certificates/s (best connection count)"),
                    format!("{rps:.0}/s"),
                    rps >= limit,
                ));
            }
        }
        targets.push((
            format!("/metrics scrape < 1 s (N={}, slowest of 5)", args.n),
            format!("{:.0} ms", r.scrape_ms.1),
            r.scrape_ms.1 < 1_000.0,
        ));
        if let (Some(plain), Some(scraped)) = (find("list_page", c0), find("list_scraped", c0)) {
            targets.push((
                format!("list_page p99 while scraped every 1 s < 5 ms ({c0} conns)"),
                format!("{:.2} ms (vs {:.2})", scraped.p99_ms, plain.p99_ms),
                scraped.p99_ms < 5.0,
            ));
        }
        if let Some((_, kb)) = r.rss.iter().find(|(w, _)| *w == "peak (VmHWM)") {
            let mb = *kb as f64 / 1024.0;
            targets.push((
                format!("server peak RSS < 100 MB (N={})", args.n),
                format!("{mb:.1} MB"),
                mb < 100.0,
            ));
        }
        let _ = writeln!(s, "  targets:");
        for (what, got, met) in targets {
            let verdict = if met { "met" } else { "MISSED" };
            let _ = writeln!(s, "    {what:<58} {got:>10}  {verdict}");
        }
    }
    for r in reports.iter().skip(1) {
        if let (Some(page), Some(base)) = (
            r.rows
                .iter()
                .find(|row| row.case == "list_page" && row.connections == c0),
            r.rows
                .iter()
                .find(|row| row.case == "baseline" && row.connections == c0),
        ) && base.rps > 0.0
        {
            let _ = writeln!(
                s,
                "\nratio list_page/baseline ({}, {c0} conns) = {:.2}",
                r.backend,
                page.rps / base.rps
            );
        }
    }
    match ratio_line {
        Some((backend, ratio)) => {
            let _ = writeln!(
                s,
                "\n({backend}, list_page vs baseline req/s at {c0} connections)\nratio list_page/baseline = {ratio:.2}"
            );
        }
        None => {
            let _ = writeln!(s, "\nratio list_page/baseline = n/a (case skipped)");
        }
    }
    s
}
