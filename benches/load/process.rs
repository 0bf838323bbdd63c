//! Child processes and their sampling: bounded children, their CPU and memory from `/proc`,
//! PostgreSQL's CPU, HTTP probes and the PostgreSQL admin statements.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wafcert::crypto::random_bytes;

/// A child bounded by `timeout(1)`, stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Bounded {
    pub(crate) wrapper: Child,
    /// The real process (the child of `timeout`), for its memory figures.
    pub(crate) pid: u32,
    pub(crate) name: String,
}

impl Bounded {
    pub(crate) fn spawn(cmd: &mut Command, log: &Path, budget_secs: u64) -> anyhow::Result<Self> {
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
    pub(crate) fn rss_kb(&self) -> (u64, u64) {
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
    pub(crate) fn cpu_secs(&self) -> f64 {
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

    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.wrapper.try_wait(), Ok(None))
    }

    pub(crate) fn stop(self) {
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
pub(crate) fn child_of(parent: u32) -> Option<u32> {
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
pub(crate) fn postgres_cpu_ticks() -> std::collections::HashMap<u32, u64> {
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
pub(crate) fn postgres_cpu_since(before: &std::collections::HashMap<u32, u64>) -> f64 {
    let ticks: u64 = postgres_cpu_ticks()
        .into_iter()
        .map(|(pid, t)| t.saturating_sub(before.get(&pid).copied().unwrap_or(0)))
        .sum();
    ticks as f64 / clock_ticks_per_sec()
}

/// `getconf CLK_TCK` (the unit of `/proc/*/stat` times), 100 if unknown.
pub(crate) fn clock_ticks_per_sec() -> f64 {
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

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    child: &Bounded,
) -> anyhow::Result<()> {
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

pub(crate) async fn probe_get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<Vec<u8>> {
    let answer = client.get(url).header("X-Auth-Token", token).send().await?;
    let status = answer.status();
    let body = answer.bytes().await?.to_vec();
    if !status.is_success() {
        bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

pub(crate) async fn probe_total(
    client: &reqwest::Client,
    api: &str,
    token: &str,
) -> anyhow::Result<i64> {
    let body = probe_get(client, &format!("{api}?page=1&pagesize=1"), token).await?;
    serde_json::from_slice::<serde_json::Value>(&body)?["total"]
        .as_i64()
        .context("total missing")
}

pub(crate) async fn pg_admin(admin_url: &str, sql: &str) -> anyhow::Result<()> {
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

/// The one `BIGINT` that `sql` selects.
pub(crate) async fn pg_scalar(url: &str, sql: &str) -> anyhow::Result<i64> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .context("connecting to PostgreSQL (--postgres)")?;
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("PostgreSQL: {sql}"))?;
    conn.close().await?;
    Ok(value)
}

pub(crate) fn replace_db_name(url: &str, name: &str) -> anyhow::Result<String> {
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

pub(crate) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; bytes];
    random_bytes(&mut b)?;
    Ok(hex::encode(b))
}

/// Waits until the server's expiry scheduler has worked through the seeded certificates (the
/// number of `expiring`/`expired` events stops growing); returns that number.
pub(crate) async fn wait_expiry_backlog(
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

/// `/metrics` scrape times, ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScrapeTimes {
    /// Median and slowest of scrapes each right after a write (the certificate figures
    /// computed anew: what a scrape costs the database).
    pub(crate) computed: (f64, f64),
    /// Median of scrapes with nothing written since the one before (the figures kept).
    pub(crate) kept: f64,
}

/// Times `n` scrapes each after a write (a rename of certificate `id` of `api`, back to its
/// name at the end), then `n` in a row without writes.
pub(crate) async fn time_scrapes(
    client: &reqwest::Client,
    base: &str,
    (api, token, id): (&str, &str, &str),
    n: usize,
) -> anyhow::Result<ScrapeTimes> {
    let certificate = format!("{api}/{id}");
    let shown: serde_json::Value = client
        .get(&certificate)
        .header("X-Auth-Token", token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let name = shown["name"].as_str().context("certificate name missing")?;
    let rename = async |to: &str| -> anyhow::Result<()> {
        client
            .put(&certificate)
            .header("X-Auth-Token", token)
            .json(&serde_json::json!({ "name": to }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    };
    let mut computed = Vec::with_capacity(n);
    for i in 0..n {
        rename(&format!("{name}-s{i}")).await?;
        computed.push(time_scrape(client, base).await?);
    }
    rename(name).await?;
    time_scrape(client, base).await?;
    let mut kept = Vec::with_capacity(n);
    for _ in 0..n {
        kept.push(time_scrape(client, base).await?);
    }
    computed.sort_by(f64::total_cmp);
    kept.sort_by(f64::total_cmp);
    Ok(ScrapeTimes {
        computed: (computed[n / 2], computed[n - 1]),
        kept: kept[n / 2],
    })
}

/// One scrape of `/metrics`, ms.
async fn time_scrape(client: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let answer = client.get(format!("{base}/metrics")).send().await?;
    let status = answer.status();
    let body = answer.bytes().await?;
    if !status.is_success() || !body.starts_with(b"# HELP") {
        bail!("GET /metrics: {status}");
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Scrapes `/metrics` once a second until aborted (a Prometheus at 15x its usual pace).
pub(crate) async fn scrape_every_second(client: reqwest::Client, base: String) {
    loop {
        let _ = client.get(format!("{base}/metrics")).send().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Renames the certificate at `url` once a second until aborted (`list_name_written`): a
/// write to the project each second.
pub(crate) async fn rename_every_second(client: reqwest::Client, url: String, token: String) {
    for n in 0u64.. {
        let _ = rename(&client, &url, &token, &format!("renamed.{n}")).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Renames the certificate at `url` to `name`; `Err` unless the server accepted it.
pub(crate) async fn rename(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
) -> anyhow::Result<()> {
    let answer = client
        .put(url)
        .header("X-Auth-Token", token)
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        anyhow::bail!(
            "rename to {name}: {status} {}",
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(())
}
