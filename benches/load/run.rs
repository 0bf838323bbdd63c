//! The run: the cases, and per backend seeding, starting the server, driving every case with
//! wrk and sampling the processes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wafcert::domain::ProjectId;

use crate::process::*;
use crate::report::*;
use crate::seed::*;
use crate::wrk::*;
use crate::*;

/// Every case of the run, in order: the baseline, the list and show reads, then the creates.
pub(crate) fn cases(pairs: &[CreatePair]) -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "baseline",
            target: Target::Baseline,
            load: Load::Get(LIST_PAGE),
        },
        Case {
            name: "pgbench",
            target: Target::Pgbench,
            load: Load::Pgbench,
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
            name: "list_needle",
            target: Target::Wafcert,
            load: Load::Get("?page=1&pagesize=10&host=true&name=needle"),
        },
        Case {
            name: "list_name",
            target: Target::Wafcert,
            load: Load::GetFreshName(LIST_FRESH_NAME),
        },
        Case {
            name: "list_name_written",
            target: Target::Wafcert,
            load: Load::GetFreshNameWhileWritten(LIST_FRESH_NAME),
        },
        Case {
            name: "list_expiring",
            target: Target::Wafcert,
            load: Load::Get(LIST_EXPIRING),
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
        Case {
            name: "tenants_page",
            target: Target::Wafcert,
            load: Load::Tenants(LIST_FIRST),
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

pub(crate) async fn run(args: &Args) -> anyhow::Result<bool> {
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
        return crate::soak::run(args, &fixtures, crate::soak::parse_duration(length)?).await;
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
        let mut dir = tempfile::Builder::new()
            .prefix("wafcert-bench-pg-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .context("temporary directory")?;
        dir.disable_cleanup(args.keep);
        let name = format!("wafcert_bench_{}", ProjectId::random());
        pg_admin(admin, &format!("CREATE DATABASE {name}")).await?;
        let url = replace_db_name(admin, &name)?;
        let outcome = run_backend(args, "postgres", &url, dir.path(), &fixtures).await;
        let dropped = if args.keep {
            println!(
                "kept PostgreSQL database {name} and {}",
                dir.path().display()
            );
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

/// Seeds the tenants of the `tenants_page` case (`--projects`, `--tenant-rows`) and reports
/// how long it took; their `(project, token)`s.
async fn seed_tenant_case(
    args: &Args,
    backend: &str,
    url: &str,
    master_hex: &str,
    fixtures: &Fixtures,
) -> anyhow::Result<Vec<(String, String)>> {
    let projects = args.projects;
    let per = args.tenant_rows.unwrap_or(args.n) / projects.max(1);
    let started = Instant::now();
    let list = seed_tenants(url, master_hex, projects, per, fixtures).await?;
    if backend == "postgres" {
        // As after the first seeding: statistics for the planner.
        pg_admin(url, "VACUUM ANALYZE").await?;
    }
    println!(
        "seeded {projects} more projects of {per} certificates in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(list)
}

/// The database's size on disk in bytes: the SQLite file with its WAL, or
/// `pg_database_size` of a PostgreSQL one.
async fn database_size(backend: &str, url: &str, dir: &Path) -> anyhow::Result<Option<u64>> {
    if backend == "postgres" {
        let bytes = pg_scalar(url, "SELECT pg_database_size(current_database())").await?;
        return Ok(u64::try_from(bytes).ok());
    }
    let file = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    Ok(Some(file("bench.db") + file("bench.db-wal")))
}

/// Seeds, starts the server and runs every case on one backend.
pub(crate) async fn run_backend(
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

    let tenant_shape = (args.projects > 0)
        .then(|| {
            (
                args.projects,
                args.tenant_rows.unwrap_or(args.n) / args.projects,
            )
        })
        .filter(|(_, per)| *per > 0);
    let mut seeded_tenants = None;
    if args.tenants_first
        && let Some((projects, per)) = tenant_shape
    {
        seeded_tenants = Some(seed_tenant_case(args, backend, url, &master_hex, fixtures).await?);
        println!(
            "{} certificates in {} projects in all",
            args.n + projects * per,
            projects + 1
        );
    }
    if let Some(size) = database_size(backend, url, dir).await? {
        let rows = args.n
            + tenant_shape
                .filter(|_| args.tenants_first)
                .map_or(0, |(p, n)| p * n);
        println!(
            "database size: {:.1} MB, {:.0} bytes per certificate",
            size as f64 / 1e6,
            size as f64 / rows.max(1) as f64
        );
    }

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
    let scrapes = time_scrapes(
        &client,
        &base,
        (
            &api,
            &seeded.token,
            seeded.show_ids.first().context("no seeded certificate")?,
        ),
        5,
    )
    .await?;
    println!(
        "/metrics scrape: each after a write (figures computed) median {:.1} ms, slowest {:.1} ms; \
         nothing written since the last (figures kept) median {:.1} ms",
        scrapes.computed.0, scrapes.computed.1, scrapes.kept
    );

    let mut rows = Vec::new();
    let mut ok = true;
    let mut created = 0;
    let mut reads_done = false;
    println!("{}", table_header());
    let mut tenants = None;
    for case in cases(&fixtures.create) {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == case.name) {
            continue;
        }
        if case.target == Target::Pgbench
            && (backend != "postgres" || !crate::pgbench::available(&args.pgbench))
        {
            if backend == "postgres" {
                println!("(pgbench skipped: {} does not run)", args.pgbench);
            }
            continue;
        }
        if matches!(case.load, Load::Tenants(_)) && tenant_shape.is_none() {
            continue;
        }
        if matches!(case.load, Load::Create(_)) && !reads_done {
            rss.push(("after the read cases", server.rss_kb().0));
            reads_done = true;
        }
        let root = match case.target {
            Target::Baseline => &baseline_api,
            Target::Wafcert | Target::Pgbench => &api,
        };
        let script = dir.join(format!("{}.lua", case.name));
        // The certificate list_name_written renames every second, probed once here: the
        // writer ignores its answers, so a refused rename would leave the case with no writes.
        let renamed = match case.load {
            Load::GetFreshNameWhileWritten(_) => {
                let url = format!("{api}/{}", seeded.show_ids[0]);
                rename(&client, &url, &seeded.token, "probe.renamed").await?;
                Some(url)
            }
            _ => None,
        };
        let (url, body_bytes) = match &case.load {
            Load::Get(query) | Load::GetWhileScraped(query) => {
                let url = format!("{root}{query}");
                let body = probe_get(&client, &url, &seeded.token).await?;
                script_get(&script, &seeded.token)?;
                (url, body.len())
            }
            Load::GetFreshName(query) | Load::GetFreshNameWhileWritten(query) => {
                let url = format!("{root}{query}");
                let body = probe_get(&client, &format!("{url}zz9z"), &seeded.token).await?;
                (url, body.len())
            }
            Load::Pgbench => {
                crate::pgbench::init(&args.pgbench, url)?;
                (url.to_owned(), 0)
            }
            Load::Tenants(query) => {
                let (projects, per) = tenant_shape.unwrap_or((0, 0));
                rss.push(("before the tenants", server.rss_kb().0));
                let list = match seeded_tenants.take() {
                    Some(list) => list,
                    None => seed_tenant_case(args, backend, url, &master_hex, fixtures).await?,
                };
                let (project, token) = list.first().context("no tenants")?;
                let body = probe_get(
                    &client,
                    &format!("{base}/v1/{project}/waf/certificate{query}"),
                    token,
                )
                .await?;
                script_tenants(&script, &list, query)?;
                tenants = Some((projects, per, list));
                (format!("{base}/"), body.len())
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
            Target::Wafcert => Some(&server),
            Target::Baseline => Some(&baseline),
            Target::Pgbench => None,
        };
        for (run_index, &connections) in args.connections.iter().enumerate() {
            let fresh_name_run = match case.load {
                Load::GetFreshName(_) => Some(run_index),
                // After the slices of list_name and of the rounds.
                Load::GetFreshNameWhileWritten(_) => {
                    Some(args.connections.len() + args.rounds + run_index)
                }
                _ => None,
            };
            if let Some(run) = fresh_name_run {
                script_fresh_name(
                    &script,
                    &seeded.token,
                    run,
                    fresh_name_runs(args),
                    args.wrk_threads.clamp(1, connections),
                )?;
            }
            let db_before = (backend == "postgres").then(postgres_cpu_ticks);
            let cpu_before = loaded.map_or(0.0, Bounded::cpu_secs);
            let scraper = matches!(case.load, Load::GetWhileScraped(_))
                .then(|| tokio::spawn(scrape_every_second(client.clone(), base.clone())));
            let writer = renamed.clone().map(|url| {
                tokio::spawn(rename_every_second(
                    client.clone(),
                    url,
                    seeded.token.clone(),
                ))
            });
            let r = if case.target == Target::Pgbench {
                crate::pgbench::run(
                    &args.pgbench,
                    url.as_str(),
                    dir,
                    connections,
                    args.wrk_threads,
                    args.seconds,
                )
            } else {
                run_wrk(args, &url, &script, connections, args.seconds)
            }
            .with_context(|| format!("{} at {connections} connections", case.name));
            if let Some(scraper) = scraper {
                scraper.abort();
            }
            if let Some(writer) = writer {
                writer.abort();
            }
            let r = r?;
            let cpu = loaded.map_or(0.0, Bounded::cpu_secs) - cpu_before;
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
                rss_kb: loaded.map_or(0, |l| l.rss_kb().0),
                cpu_us_per_request: per_request(cpu),
                db_cpu_us_per_request: match case.target {
                    Target::Wafcert | Target::Pgbench => db_cpu.map(per_request),
                    Target::Baseline => None,
                },
            };
            // A broken case fails every request; an overloaded machine may fail a handful.
            ok &= row.errors * 100 <= r.requests;
            println!("{}", table_line(&row));
            rows.push(row);
        }
        if case.target == Target::Pgbench {
            crate::pgbench::drop_tables(&args.pgbench, &url)?;
        }
        if matches!(case.load, Load::Tenants(_)) {
            rss.push(("after the tenants", server.rss_kb().0));
        }
    }
    // Every tenant still holds its certificates (per-project counters), sampled.
    let tenants = match tenants {
        Some((projects, per, list)) => {
            let mut held = true;
            for (project, token) in list.iter().step_by((projects / 20).max(1)) {
                let api = format!("{base}/v1/{project}/waf/certificate");
                held &= probe_total(&client, &api, token).await? == i64::try_from(per)?;
            }
            if !held {
                println!("WARNING: a tenant does not hold its {per} certificates");
                ok = false;
            }
            Some((projects, per, held))
        }
        None => None,
    };
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
    let loads = round_loads(
        backend,
        dir,
        (&baseline_api, &api, url),
        &seeded.token,
        &server,
    );
    let rounds = if args.rounds > 0
        && loads
            .iter()
            .all(|(case, _)| rows.iter().any(|r| r.case == *case))
    {
        println!(
            "{} alternating rounds at {} connections, {} s per load:",
            args.rounds, args.connections[0], args.round_seconds
        );
        rounds::alternate(args, dir, &loads, args.connections[0])?
    } else {
        Vec::new()
    };
    let statements = if backend == "postgres" && args.only.is_empty() {
        crate::statements::check(url, &master_hex, &seeded, args.n, dir).await?
    } else {
        Vec::new()
    };
    baseline.stop();
    server.stop();
    Ok((
        BackendReport {
            backend,
            rows,
            rss,
            seed_secs,
            scrapes,
            total_after,
            created,
            tenants,
            statements,
            rounds,
        },
        ok,
    ))
}

/// The loads of `backend`'s ratio targets, for the rounds, with the wrk scripts their cases
/// wrote. `(bare_root, api, database)`: the bare server's and wafcert's certificate URLs and
/// the database URL.
fn round_loads<'a>(
    backend: &str,
    dir: &Path,
    (bare_root, api, database): (&str, &str, &str),
    token: &str,
    server: &'a Bounded,
) -> Vec<(&'static str, rounds::Driver<'a>)> {
    let wrk = |case: &str, url: String, server| rounds::Driver::Wrk {
        url,
        script: dir.join(format!("{case}.lua")),
        server,
    };
    let bare = wrk("baseline", format!("{bare_root}{LIST_PAGE}"), None);
    if backend == "postgres" {
        return vec![
            ("baseline", bare),
            (
                "pgbench",
                rounds::Driver::Pgbench {
                    url: database.to_owned(),
                },
            ),
            (
                "list_page",
                wrk("list_page", format!("{api}{LIST_PAGE}"), Some(server)),
            ),
        ];
    }
    vec![
        ("baseline", bare),
        (
            "list_expiring",
            wrk(
                "list_expiring",
                format!("{api}{LIST_EXPIRING}"),
                Some(server),
            ),
        ),
        (
            "list_name",
            rounds::Driver::FreshName {
                url: format!("{api}{LIST_FRESH_NAME}"),
                script: dir.join("list_name.lua"),
                token: token.to_owned(),
                server,
            },
        ),
    ]
}

/// Seconds a child may live at most: every case at every connection count, with margin.
pub(crate) fn budget_secs(args: &Args) -> u64 {
    let runs = 12 * u64::try_from(args.connections.len()).unwrap_or(8);
    let rounds = 3 * u64::try_from(args.rounds).unwrap_or(0) * (args.round_seconds + 30);
    runs * (args.seconds + 30) + rounds + 600
}
