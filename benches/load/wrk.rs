//! Driving wrk: Lua scripts per case, a bounded run, its machine-readable result line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::*;

/// What one wrk run reported.
#[derive(Debug)]
pub(crate) struct WrkResult {
    pub(crate) requests: u64,
    pub(crate) duration_us: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) errors: u64,
}

impl WrkResult {
    pub(crate) fn rps(&self) -> f64 {
        if self.duration_us > 0.0 {
            self.requests as f64 / (self.duration_us / 1e6)
        } else {
            0.0
        }
    }
}

pub(crate) fn check_wrk(wrk: &str) -> anyhow::Result<()> {
    match Command::new(wrk).arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "cannot run {wrk} ({e}): install it (scripts/bench does: apt-get install -y wrk) \
             or pass --wrk PATH"
        ),
    }
}

/// The `done` hook that prints one machine-readable line.
pub(crate) const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WAFCERT_RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d p50_us=%.1f p99_us=%.1f\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// Per-thread numbering: `tid` is 0, 1, ... in each wrk thread.
pub(crate) const LUA_THREADS: &str = r#"
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
"#;

pub(crate) fn lua_string(s: &str) -> String {
    // A JSON string literal is a valid Lua string literal for the text we embed (no control
    // characters apart from the escaped newlines).
    serde_json::to_string(s).unwrap_or_default()
}

pub(crate) fn script_get(path: &Path, token: &str) -> anyhow::Result<PathBuf> {
    let script = format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Auth-Token\"] = {}\n{LUA_DONE}",
        lua_string(token)
    );
    std::fs::write(path, script)?;
    Ok(path.to_owned())
}

pub(crate) fn script_show(path: &Path, token: &str, ids: &[String]) -> anyhow::Result<()> {
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

pub(crate) fn script_create(
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
pub(crate) fn run_wrk(
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

/// Slices of the name space a run's fresh-name loads draw from: one per connection count of
/// the `list_name` case, then one per round (`rounds.rs`), then one per connection count of
/// `list_name_written`, so no name repeats in the run.
pub(crate) fn fresh_name_runs(args: &Args) -> usize {
    2 * args.connections.len() + args.rounds
}

/// Distinct 4-character `[a-z0-9]` names.
const NAME_SPACE: u64 = 36 * 36 * 36 * 36;

/// A GET of the URL with a fresh 4-character `[a-z0-9]` name appended to it per request: run
/// `run` of `runs` and wrk thread `tid` of `threads` draw from their own slice of the name
/// space, scrambled by a multiplier prime to 36, so no name repeats within the case and no
/// answer can come from the read cache.
pub(crate) fn script_fresh_name(
    path: &Path,
    token: &str,
    run: usize,
    runs: usize,
    threads: u32,
) -> anyhow::Result<()> {
    let slots = (runs.max(1) as u64) * u64::from(threads.max(1));
    let width = NAME_SPACE / slots;
    // The request is formatted once per thread around a marker; each request only joins the
    // two halves with the name's two precomputed 2-character pieces. (Formatting the whole
    // request per call, with its headers, took wrk's threads more of the two cores than the
    // fixed-path cases, and that is the client's cost, not the server's.)
    let script = format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Auth-Token\"] = {token}\n{LUA_THREADS}\
         local space = {NAME_SPACE}\nlocal width = {width}\nlocal first = 0\nlocal i = 0\n\
         local pieces = {{}}\nlocal head = \"\"\nlocal tail = \"\"\n\
         function init(args)\n\
           first = ({run} * {threads} + (tonumber(tid) or 0)) * width\n\
           local digits = \"0123456789abcdefghijklmnopqrstuvwxyz\"\n\
           for p = 0, 36 * 36 - 1 do\n\
             local lo = p % 36\n    local hi = (p - lo) / 36\n\
             pieces[p + 1] = digits:sub(lo + 1, lo + 1) .. digits:sub(hi + 1, hi + 1)\n\
           end\n\
           local whole = wrk.format(nil, wrk.path .. \"\\1\")\n\
           local at = string.find(whole, \"\\1\", 1, true)\n\
           head = string.sub(whole, 1, at - 1)\n  tail = string.sub(whole, at + 1)\n\
         end\n\
         function request()\n\
           local k = ((first + i % width) * 1000003) % space\n  i = i + 1\n\
           local low = k % 1296\n\
           return head .. pieces[low + 1] .. pieces[(k - low) / 1296 + 1] .. tail\nend\n\
         {LUA_DONE}",
        token = lua_string(token),
    );
    std::fs::write(path, script)?;
    Ok(())
}

/// A GET of `query` in a random project of `tenants` per request, with that project's token.
pub(crate) fn script_tenants(
    path: &Path,
    tenants: &[(String, String)],
    query: &str,
) -> anyhow::Result<()> {
    let table = tenants
        .iter()
        .map(|(project, token)| {
            format!(
                "{{{}, {{[\"X-Auth-Token\"] = {}}}}}",
                lua_string(&format!("/v1/{project}/waf/certificate{query}")),
                lua_string(token)
            )
        })
        .collect::<Vec<_>>()
        .join(",\n");
    let script = format!(
        "wrk.method = \"GET\"\n{LUA_THREADS}local tenants = {{\n{table}\n}}\n\
         function init(args) math.randomseed(os.time() * 1000 + (tonumber(tid) or 0)) end\n\
         function request()\n  local t = tenants[math.random(#tenants)]\n\
           return wrk.format(nil, t[1], t[2])\nend\n\
         {LUA_DONE}"
    );
    std::fs::write(path, script)?;
    Ok(())
}
