//! `pgbench -S` (select-only, prepared) against the benchmark's PostgreSQL database: the
//! database's own round-trip limit on this machine, measured in the same run and at the same
//! connection counts as wafcert, so the list page can be compared with what a client doing
//! one indexed `SELECT` per request gets at best.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::wrk::WrkResult;

/// pgbench's scale for its tables (`pgbench_accounts` holds 100,000 rows per unit).
const SCALE: u32 = 1;

/// Whether `pgbench` runs (`--pgbench PATH`); it comes with Debian's `postgresql-client`.
pub(crate) fn available(pgbench: &str) -> bool {
    Command::new(pgbench)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Creates pgbench's tables (scale 1) in the database of `url`.
pub(crate) fn init(pgbench: &str, url: &str) -> anyhow::Result<()> {
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "120s",
            pgbench,
            "-i",
            "-q",
            "-s",
            &SCALE.to_string(),
            url,
        ])
        .output()
        .with_context(|| format!("running {pgbench} -i"))?;
    if !out.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Drops pgbench's tables again (`pgbench -i -I d`).
pub(crate) fn drop_tables(pgbench: &str, url: &str) -> anyhow::Result<()> {
    let out = Command::new("timeout")
        .args(["-k", "5", "60s", pgbench, "-i", "-I", "d", url])
        .output()
        .with_context(|| format!("running {pgbench} -i -I d"))?;
    if !out.status.success() {
        bail!(
            "pgbench -i -I d failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `pgbench -S -M prepared` with `connections` clients on `threads` threads for `seconds`,
/// logging every transaction's latency under `dir` (for the percentiles).
pub(crate) fn run(
    pgbench: &str,
    url: &str,
    dir: &Path,
    connections: u32,
    threads: u32,
    seconds: u64,
) -> anyhow::Result<WrkResult> {
    let prefix = dir.join(format!("pgbench-c{connections}"));
    let out = Command::new("timeout")
        .args(["-k", "5", &format!("{}s", seconds + 60), pgbench])
        .args(["-S", "-M", "prepared", "-n"])
        .arg(format!("-c{connections}"))
        .arg(format!("-j{}", threads.clamp(1, connections)))
        .arg(format!("-T{seconds}"))
        .arg("-l")
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg(url)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {pgbench} -S"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench -S failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let field = |label: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.split_whitespace().next())
            .with_context(|| format!("pgbench printed no {label}:\n{stdout}"))?
            .parse::<f64>()
            .with_context(|| format!("{label} in pgbench's output"))
    };
    let tps = field("tps = ")?;
    let failed = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut latencies = transaction_latencies_us(dir, &prefix)?;
    if latencies.is_empty() {
        bail!("pgbench logged no transactions:\n{stdout}");
    }
    latencies.sort_unstable();
    // The entry below which `per_mille` of the transactions are.
    let percentile = |per_mille: usize| {
        let i = (latencies.len() - 1) * per_mille / 1000;
        latencies[i] as f64
    };
    let requests = latencies.len() as u64;
    Ok(WrkResult {
        requests,
        // The rate pgbench reports (connection set-up excluded), expressed as a duration.
        duration_us: if tps > 0.0 {
            requests as f64 / tps * 1e6
        } else {
            0.0
        },
        p50_us: percentile(500),
        p99_us: percentile(990),
        errors: failed,
    })
}

/// The latency column (µs, the third) of every line of pgbench's per-transaction logs
/// (`prefix.PID` and `prefix.PID.THREAD`), which are removed after reading.
fn transaction_latencies_us(dir: &Path, prefix: &Path) -> anyhow::Result<Vec<u64>> {
    let stem = prefix
        .file_name()
        .map(|n| format!("{}.", n.to_string_lossy()))
        .unwrap_or_default();
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&stem) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())?;
        all.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
        let _ = std::fs::remove_file(entry.path());
    }
    Ok(all)
}
