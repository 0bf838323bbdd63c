//! Alternating rounds of PostgreSQL's list page against its combined limit (issue 16).
//!
//! The target compares three rates measured one after another: the bare server, `pgbench -S`
//! and the list page. On a shared two-core guest the first two alone move by 10-25% from one
//! minute to the next, so one pass of the three (a minute or more apart in the case order) can
//! miss or meet the target by the host's drift rather than by the server. Here the three run
//! back to back, `--rounds` times for `--round-seconds` each, the order reversed every other
//! round so a drift in time weighs on all three alike; each round gives its own ratio
//! `page / (1 / (1/bare + 1/pgbench))` and its p99, and the report takes the median of each.
//! The single pass of the case table is still printed beside them.

use std::path::Path;

use crate::process::Bounded;
use crate::wrk::{WrkResult, run_wrk};
use crate::*;

/// One round: the three rates (requests/s) and the list page's p99 and server CPU.
#[derive(Debug, Clone)]
pub(crate) struct Round {
    pub(crate) bare: f64,
    pub(crate) pgbench: f64,
    pub(crate) page: f64,
    pub(crate) page_p99_ms: f64,
    /// The server's CPU time per list page, µs.
    pub(crate) page_cpu_us: f64,
}

impl Round {
    /// `1 / (1/bare + 1/pgbench)`: what a server that did a bare answer and a pgbench
    /// transaction per request, one after the other, would reach.
    pub(crate) fn combined(&self) -> f64 {
        1.0 / (1.0 / self.bare + 1.0 / self.pgbench)
    }

    pub(crate) fn ratio(&self) -> f64 {
        self.page / self.combined()
    }
}

/// Where the three loads go: the URLs and wrk scripts of the `baseline` and `list_page` cases
/// (already written by them) and the database of `pgbench`.
pub(crate) struct Targets<'a> {
    pub(crate) bare_url: &'a str,
    pub(crate) bare_script: &'a Path,
    pub(crate) page_url: &'a str,
    pub(crate) page_script: &'a Path,
    pub(crate) database_url: &'a str,
    pub(crate) server: &'a Bounded,
}

/// Runs `args.rounds` rounds at `connections`, printing each as it ends.
pub(crate) fn alternate(
    args: &Args,
    dir: &Path,
    targets: &Targets<'_>,
    connections: u32,
) -> anyhow::Result<Vec<Round>> {
    crate::pgbench::init(&args.pgbench, targets.database_url)?;
    let outcome = (0..args.rounds)
        .map(|i| {
            let round = one_round(args, dir, targets, connections, i % 2 == 1)?;
            println!(
                "round {}: bare {:.0}, pgbench {:.0}, list_page {:.0} req/s (p99 {:.2} ms, \
                 {:.0} us server CPU) = {:.2} x combined",
                i + 1,
                round.bare,
                round.pgbench,
                round.page,
                round.page_p99_ms,
                round.page_cpu_us,
                round.ratio()
            );
            Ok(round)
        })
        .collect::<anyhow::Result<Vec<_>>>();
    crate::pgbench::drop_tables(&args.pgbench, targets.database_url)?;
    outcome
}

fn one_round(
    args: &Args,
    dir: &Path,
    targets: &Targets<'_>,
    connections: u32,
    reversed: bool,
) -> anyhow::Result<Round> {
    let seconds = args.round_seconds;
    let bare = || {
        run_wrk(
            args,
            targets.bare_url,
            targets.bare_script,
            connections,
            seconds,
        )
    };
    let pgbench = || {
        crate::pgbench::run(
            &args.pgbench,
            targets.database_url,
            dir,
            connections,
            args.wrk_threads,
            seconds,
        )
    };
    let page = || -> anyhow::Result<(WrkResult, f64)> {
        let before = targets.server.cpu_secs();
        let r = run_wrk(
            args,
            targets.page_url,
            targets.page_script,
            connections,
            seconds,
        )?;
        let cpu = targets.server.cpu_secs() - before;
        let per_request = if r.requests > 0 {
            cpu * 1e6 / r.requests as f64
        } else {
            0.0
        };
        Ok((r, per_request))
    };
    let (b, p, (l, cpu)) = if reversed {
        let l = page()?;
        let p = pgbench()?;
        (bare()?, p, l)
    } else {
        let b = bare()?;
        let p = pgbench()?;
        (b, p, page()?)
    };
    for (what, r) in [("baseline", &b), ("pgbench", &p), ("list_page", &l)] {
        if r.errors * 100 > r.requests {
            anyhow::bail!(
                "round of {what}: {} errors in {} requests",
                r.errors,
                r.requests
            );
        }
    }
    Ok(Round {
        bare: b.rps(),
        pgbench: p.rps(),
        page: l.rps(),
        page_p99_ms: l.p99_us / 1000.0,
        page_cpu_us: cpu,
    })
}

/// The median of the rounds' ratios.
pub(crate) fn median_ratio(rounds: &[Round]) -> Option<f64> {
    median(rounds.iter().map(Round::ratio).collect())
}

/// The median of the rounds' list page p99s, ms.
pub(crate) fn median_p99_ms(rounds: &[Round]) -> Option<f64> {
    median(rounds.iter().map(|r| r.page_p99_ms).collect())
}

/// The middle value, or the mean of the middle two for an even count.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}
