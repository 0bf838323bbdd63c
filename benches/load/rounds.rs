//! Alternating rounds of the loads issue 16's ratio targets compare (issue 16).
//!
//! Each target compares rates measured one after another: on SQLite the expiry page and the
//! fresh name search against the bare server, on PostgreSQL the list page against the combined
//! limit of the bare server and `pgbench -S`. On a shared two-core guest the bare server and
//! pgbench alone move by 10-25% from one minute to the next, so one pass of the case table
//! (where they run a minute or more apart) can miss or meet a target by the host's drift
//! rather than by the server. Here the loads of a backend's targets run back to back,
//! `--rounds` times for `--round-seconds` each, the order reversed every other round so a
//! drift in time weighs on all of them alike; each round gives its own ratios and the report
//! takes the median of each. The single pass of the case table is printed beside them. The
//! p99 target stays with the pass: it compares the page with nothing measured at another
//! time, and the pass has twice a round's requests.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::process::Bounded;
use crate::wrk::{WrkResult, fresh_name_runs, run_wrk, script_fresh_name};
use crate::*;

/// What a round measured of one load.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    /// The server's CPU time per request, µs (wafcert's loads only).
    pub(crate) cpu_us: Option<f64>,
}

/// One round: every load's measurement, by case name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Round(pub(crate) Vec<(&'static str, Measured)>);

impl Round {
    pub(crate) fn get(&self, case: &str) -> Option<&Measured> {
        self.0.iter().find(|(c, _)| *c == case).map(|(_, m)| m)
    }

    /// `case`'s rate over the bare server's.
    pub(crate) fn over_bare(&self, case: &str) -> Option<f64> {
        Some(self.get(case)?.rps / self.get("baseline")?.rps)
    }

    /// The list page's rate over `1 / (1/bare + 1/pgbench)`: what a server that did a bare
    /// answer and a pgbench transaction per request, one after the other, would reach.
    pub(crate) fn over_combined(&self) -> Option<f64> {
        let combined = 1.0 / (1.0 / self.get("baseline")?.rps + 1.0 / self.get("pgbench")?.rps);
        Some(self.get("list_page")?.rps / combined)
    }
}

/// How one load of a round is driven.
pub(crate) enum Driver<'a> {
    /// wrk with the case's script (already written by its case), against the bare server or
    /// wafcert (`server` set: its CPU is sampled).
    Wrk {
        url: String,
        script: PathBuf,
        server: Option<&'a Bounded>,
    },
    /// wrk with a fresh-name script, rewritten for every round so no name repeats.
    FreshName {
        url: String,
        script: PathBuf,
        token: String,
        server: &'a Bounded,
    },
    /// `pgbench -S` against the database of this URL (its tables created and dropped here).
    Pgbench { url: String },
}

/// Runs `args.rounds` rounds of `loads` at `connections`, printing each as it ends.
pub(crate) fn alternate(
    args: &Args,
    dir: &Path,
    loads: &[(&'static str, Driver<'_>)],
    connections: u32,
) -> anyhow::Result<Vec<Round>> {
    // The `list_name` case used the name slices below these.
    let first_run = args.connections.len();
    let pgbench_url = loads.iter().find_map(|(_, d)| match d {
        Driver::Pgbench { url } => Some(url.as_str()),
        _ => None,
    });
    if let Some(url) = pgbench_url {
        crate::pgbench::init(&args.pgbench, url)?;
    }
    let outcome = (0..args.rounds)
        .map(|i| {
            let mut round = Round::default();
            let order: Vec<_> = if i % 2 == 1 {
                loads.iter().rev().collect()
            } else {
                loads.iter().collect()
            };
            for (case, driver) in order {
                let measured = measure(args, dir, driver, connections, first_run + i)
                    .with_context(|| format!("round {} of {case}", i + 1))?;
                round.0.push((case, measured));
            }
            round
                .0
                .sort_by_key(|(case, _)| loads.iter().position(|(c, _)| c == case).unwrap_or(0));
            let line: Vec<String> = round
                .0
                .iter()
                .map(|(case, m)| {
                    let cpu = m
                        .cpu_us
                        .map(|us| format!(", {us:.0} us CPU"))
                        .unwrap_or_default();
                    format!("{case} {:.0} req/s (p99 {:.2} ms{cpu})", m.rps, m.p99_ms)
                })
                .collect();
            println!("round {}: {}", i + 1, line.join(", "));
            Ok(round)
        })
        .collect::<anyhow::Result<Vec<_>>>();
    if let Some(url) = pgbench_url {
        crate::pgbench::drop_tables(&args.pgbench, url)?;
    }
    outcome
}

fn measure(
    args: &Args,
    dir: &Path,
    driver: &Driver<'_>,
    connections: u32,
    run: usize,
) -> anyhow::Result<Measured> {
    let seconds = args.round_seconds;
    let timed = |server: Option<&Bounded>, url: &str, script: &Path| {
        let before = server.map(Bounded::cpu_secs);
        let r = run_wrk(args, url, script, connections, seconds)?;
        let cpu_us = server
            .zip(before)
            .filter(|_| r.requests > 0)
            .map(|(s, before)| (s.cpu_secs() - before) * 1e6 / r.requests as f64);
        anyhow::Ok((r, cpu_us))
    };
    let (r, cpu_us): (WrkResult, Option<f64>) = match driver {
        Driver::Wrk {
            url,
            script,
            server,
        } => timed(*server, url, script)?,
        Driver::FreshName {
            url,
            script,
            token,
            server,
        } => {
            let threads = args.wrk_threads.clamp(1, connections);
            script_fresh_name(script, token, run, fresh_name_runs(args), threads)?;
            timed(Some(server), url, script)?
        }
        Driver::Pgbench { url } => (
            crate::pgbench::run(
                &args.pgbench,
                url,
                dir,
                connections,
                args.wrk_threads,
                seconds,
            )?,
            None,
        ),
    };
    // A load that answered nothing would make a ratio infinite, and "met".
    if r.requests == 0 || r.rps() <= 0.0 {
        bail!("no request answered");
    }
    if r.errors * 100 > r.requests {
        bail!("{} errors in {} requests", r.errors, r.requests);
    }
    Ok(Measured {
        rps: r.rps(),
        p99_ms: r.p99_us / 1000.0,
        cpu_us,
    })
}

/// The median of `value` over the rounds that have it.
pub(crate) fn median_of(rounds: &[Round], value: impl Fn(&Round) -> Option<f64>) -> Option<f64> {
    let mut values: Vec<f64> = rounds.iter().filter_map(value).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}
