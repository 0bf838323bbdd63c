//! The report: the machine, the table, the targets met or missed and the final ratio line.

use std::fmt::Write as _;

use crate::*;

pub(crate) fn machine_summary() -> String {
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

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn table_header() -> String {
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

pub(crate) fn table_line(r: &Row) -> String {
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

pub(crate) fn summarise(args: &Args, reports: &[BackendReport]) -> String {
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
        if r.backend == "sqlite"
            && let Some(base) = find("baseline", c0).filter(|b| b.rps > 0.0)
        {
            for case in ["list_expiring", "list_name"] {
                let Some(row) = find(case, c0) else {
                    continue;
                };
                let pass = row.rps / base.rps;
                match rounds::median_of(&r.rounds, |x| x.over_bare(case)) {
                    Some(median) => {
                        let _ = writeln!(
                            s,
                            "  {case} / baseline: {} in the alternating rounds ({} s each), \
                             median {median:.2}; the pass: {pass:.2}",
                            per_round(&r.rounds, |x| x.over_bare(case)),
                            args.round_seconds
                        );
                        targets.push((
                            format!(
                                "{case} req/s >= 0.5 x baseline (median of {} rounds, {c0} conns)",
                                r.rounds.len()
                            ),
                            format!("{median:.2}"),
                            median >= 0.5,
                        ));
                    }
                    None => targets.push((
                        format!("{case} req/s >= 0.5 x baseline ({c0} conns)"),
                        format!("{pass:.2}"),
                        pass >= 0.5,
                    )),
                }
            }
        }
        if let (Some(page), Some(base), Some(pgb)) = (
            find("list_page", c0),
            find("baseline", c0),
            find("pgbench", c0),
        ) && base.rps > 0.0
            && pgb.rps > 0.0
        {
            let combined = 1.0 / (1.0 / base.rps + 1.0 / pgb.rps);
            let _ = writeln!(
                s,
                "  combined limit 1/(1/baseline + 1/pgbench) at {c0} conns: 1/(1/{:.0} + 1/{:.0}) = \
                 {combined:.0} req/s; list_page {:.0} req/s = {:.2} x bare, {:.2} x pgbench, \
                 {:.2} x combined",
                base.rps,
                pgb.rps,
                page.rps,
                page.rps / base.rps,
                page.rps / pgb.rps,
                page.rps / combined
            );
            let page_p99 = |x: &rounds::Round| x.get("list_page").map(|m| m.p99_ms);
            let ratio = match rounds::median_of(&r.rounds, rounds::Round::over_combined) {
                Some(median) => {
                    let _ = writeln!(
                        s,
                        "  alternating rounds (bare, pgbench, list_page back to back, {} s each): \
                         {} x combined, median {median:.2}; the pass: {:.2}; list_page p99 in the \
                         rounds {} ms",
                        args.round_seconds,
                        per_round(&r.rounds, rounds::Round::over_combined),
                        page.rps / combined,
                        per_round(&r.rounds, page_p99),
                    );
                    (format!("median of {} rounds", r.rounds.len()), median)
                }
                None => ("the pass".to_owned(), page.rps / combined),
            };
            targets.push((
                format!(
                    "list_page req/s >= 0.8 x combined ({}, {c0} conns)",
                    ratio.0
                ),
                format!("{:.2}", ratio.1),
                ratio.1 >= 0.8,
            ));
            // The p99 is the page's own, compared with nothing measured at another time: the
            // pass's (twice a round's requests) counts.
            targets.push((
                format!(
                    "list_page p99 < 2 ms ({c0} conns; bare server {:.2} ms)",
                    base.p99_ms
                ),
                format!("{:.2} ms", page.p99_ms),
                page.p99_ms < 2.0,
            ));
        }
        if let Some((projects, per, held)) = r.tenants {
            let rss = |what: &str| r.rss.iter().find(|(w, _)| *w == what).map(|(_, kb)| *kb);
            if let (Some(before), Some(after)) =
                (rss("before the tenants"), rss("after the tenants"))
            {
                let _ = writeln!(
                    s,
                    "  tenants: {projects} projects x {per} certificates, a random project per \
                     request; every sampled project {} its {per}; server RSS {:.1} -> {:.1} MB \
                     ({:+.1} MB: their pages, tokens and database pages). The read cache holds at \
                     most 16 MiB (estimated) and 4,096 entries per map (pages, certificates), the \
                     verified-token cache the same; a map past either bound starts over",
                    if held { "held" } else { "did NOT hold" },
                    before as f64 / 1024.0,
                    after as f64 / 1024.0,
                    (after as f64 - before as f64) / 1024.0
                );
            }
            targets.push((
                format!("tenants_page: every sampled tenant holds its {per} certificates"),
                if held { "yes" } else { "no" }.to_owned(),
                held,
            ));
        }
        if !r.statements.is_empty() {
            s.push_str(&crate::statements::lines(&r.statements));
            if let Ok((no_parses, one_trip)) = crate::statements::verdict(&r.statements) {
                targets.push((
                    "hot statements prepared once, not parsed per request".to_owned(),
                    if no_parses { "0 parses" } else { "parses" }.to_owned(),
                    no_parses,
                ));
                targets.push((
                    "cached read = 1 statement trip (credential + version)".to_owned(),
                    if one_trip { "1" } else { "more" }.to_owned(),
                    one_trip,
                ));
            }
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
            format!(
                "/metrics scrape < 1 s (N={}, slowest of 5 after writes)",
                args.n
            ),
            format!("{:.0} ms", r.scrapes.computed.1),
            r.scrapes.computed.1 < 1_000.0,
        ));
        // The bound of list_name's own p99 (issue 6); the million-row run's 5 ms (issue 16)
        // is read off its table.
        if let Some(written) = find("list_name_written", c0) {
            targets.push((
                format!(
                    "list_name p99 while a certificate is renamed every 1 s < 10 ms ({c0} conns)"
                ),
                format!("{:.2} ms", written.p99_ms),
                written.p99_ms < 10.0,
            ));
        }
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

/// One value per round, `0.87, 0.92, ...`.
fn per_round(rounds: &[rounds::Round], value: impl Fn(&rounds::Round) -> Option<f64>) -> String {
    rounds
        .iter()
        .filter_map(value)
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
