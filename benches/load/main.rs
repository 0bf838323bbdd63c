//! The load benchmark (`scripts/bench`, or `cargo bench --bench load -- --help`).
//!
//! In one run, per backend (SQLite, and PostgreSQL with `--postgres URL`):
//! 1. seeds one project with `--n` certificates through the storage layer (RSA-2048 and EC P-256
//!    pairs, ~5% expired, ~10% expiring within 30 days, ~1% of names containing `needle`, a
//!    hundred hosts bound to recent certificates);
//! 2. starts the real `wafcert serve` binary on 127.0.0.1 and drives it with `wrk` at each
//!    `--connections` count: list pages (default page with `host=true`, a fixed name
//!    substring, a fresh random 4-character name per request, `exp_status=2`, `pagesize=100`),
//!    show by id, and create with EC P-256 and RSA-2048 pairs; It also times `/metrics`
//!    scrapes, each right after a write (the certificate figures computed from the database)
//!    and with nothing written since the last (the figures kept), and runs the list page while
//!    `/metrics` is scraped every second with nothing written (`list_scraped`), and the fresh
//!    name searches while a certificate is renamed every second (`list_name_written`);
//! 3. runs the same load against a bare axum server (this binary re-executed with
//!    `--baseline-server`) that answers a fixed body as large as the 10-item page, and on
//!    PostgreSQL `pgbench -S -M prepared` against the same database (its round-trip limit);
//! 4. seeds `--projects` more projects sharing another `--n` certificates and loads a random
//!    one per request (`tenants_page`), reporting the server's RSS before and after;
//! 5. runs `--rounds` rounds of the loads each ratio target compares back to back (`rounds.rs`:
//!    on SQLite the bare server, `list_expiring` and `list_name`; on PostgreSQL the bare
//!    server, pgbench and the list page), so the host's drift weighs on all of them alike;
//! 6. on PostgreSQL, counts the protocol messages per request of each hot read through a relay
//!    (`statements.rs`): round trips, executes and parses;
//! 7. prints a table, the server's peak RSS, the targets met or missed, and a last line
//!    `ratio list_page/baseline = X.XX` (list page vs baseline, both at the first connection
//!    count, on the first backend run).
//!
//! Every child process is bounded (`timeout`) and stopped at the end; load goes to 127.0.0.1
//! only. Times are not asserted: the exit code is non-zero only when something failed (a child
//! did not start, more than 1% of a run's requests got an error answer or a socket error, or
//! the project does not hold the acknowledged creates afterwards). A few errors in an overloaded
//! run (a 503 after the pool's acquire timeout) are reported, with the server's log lines, but
//! do not fail it.

mod baseline;
mod pgbench;
mod process;
mod report;
mod rounds;
mod run;
mod seed;
mod soak;
mod statements;
mod wire_count;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use baseline::run_baseline_server;
use run::run;

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
    /// The pgbench executable (Debian's `postgresql-client`), run with `--postgres` as the
    /// database's own limit; the case is skipped when it is missing.
    #[arg(long, default_value = "pgbench")]
    pgbench: String,
    /// Projects of the many-tenants case (`tenants_page`), sharing another `--n` certificates;
    /// 0 skips it.
    #[arg(long, default_value_t = 1_000)]
    projects: usize,
    /// Certificates the `--projects` tenants share (default: `--n`).
    #[arg(long)]
    tenant_rows: Option<usize>,
    /// Seed the tenants before the first case instead of before their own, so every case runs
    /// with them in the database: the million-certificate run is `--n 100000 --projects 10000
    /// --tenant-rows 900000 --tenants-first`.
    #[arg(long)]
    tenants_first: bool,
    /// Rounds of the loads each ratio target compares, back to back at the first connection
    /// count after the cases (`rounds.rs`); those targets take the median of the rounds'
    /// ratios. 0 skips them.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds per load of a round.
    #[arg(long, default_value_t = 5)]
    round_seconds: u64,
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
    /// Soak instead: a mixed load for this long (`30s`, `10m`), see `soak.rs`.
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

/// Which server a case loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Wafcert,
    Baseline,
    /// `pgbench -S` against the database itself (PostgreSQL only).
    Pgbench,
}

/// What one request of a case is.
#[derive(Debug, Clone)]
enum Load {
    /// The same GET every time (path and query under the project's certificate URL).
    Get(&'static str),
    /// As `Get`, while another client scrapes `/metrics` once a second.
    GetWhileScraped(&'static str),
    /// As `Get`, with a fresh random 4-character name appended per request (never cached).
    GetFreshName(&'static str),
    /// As `GetFreshName`, while another client renames a certificate of the project once a
    /// second: each rename is a write, so the server's in-memory name index of the project is
    /// rebuilt each second and the searches meanwhile go to the database.
    GetFreshNameWhileWritten(&'static str),
    /// GET of this query in a random one of the many tenants, with its token.
    Tenants(&'static str),
    /// pgbench's select-only transaction.
    Pgbench,
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
    /// `/metrics` scrape times.
    scrapes: process::ScrapeTimes,
    total_after: i64,
    created: u64,
    /// Projects and certificates of the many-tenants case, and whether every project
    /// sampled afterwards held its certificates.
    tenants: Option<(usize, usize, bool)>,
    /// PostgreSQL's messages per request (PostgreSQL only).
    statements: Vec<statements::StatementRow>,
    /// The alternating rounds of the loads the ratio targets compare.
    rounds: Vec<rounds::Round>,
}

const LIST_PAGE: &str = "?page=7&pagesize=10&host=true";
/// The first page, to which the name searches add `&name=...`.
const LIST_FIRST: &str = "?page=1&pagesize=10&host=true";
/// The first page with a name filter, to which `list_name` appends a fresh name per request.
const LIST_FRESH_NAME: &str = "?page=1&pagesize=10&host=true&name=";
const LIST_EXPIRING: &str = "?page=1&pagesize=10&host=true&exp_status=2";
