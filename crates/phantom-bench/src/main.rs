//! `phantom-bench`: builds nothing itself; runs the release `phantom` server (built first by
//! `just bench`) on a fresh database per backend, with the Google emulator in-process, and
//! measures everything in one run so the figures compare as ratios on one machine.
//!
//! Usage: `phantom-bench [--quick] [--no-write]
//! [--only reads|group-commit|lists|memory|fleet|recovery|recurring] [--workers N]
//! [--soak-requests N] [--baseline BINARY]`.
//! `--baseline` adds a `phantom` binary built from an earlier revision to the group-commit
//! rounds (its own default commit path), to compare against the code as it was. PostgreSQL is included when `PHANTOM_TEST_PG_URL` is set (scratch
//! databases are created on that server and dropped). `--only reads` runs the read figures
//! alone, `--only group-commit` only SQLite's `POST /api/events/` with group commit off and on,
//! `--only lists` the list pages, and `--only memory` the server's resident memory idle, after
//! a login and over a soak of mixed requests (`--soak-requests N` of them); each rewrites only
//! its own part of `docs/benchmarks.md`, leaving the other figures as the last full run wrote
//! them. `--only recurring` runs the recurring-event figures (the expanded week of many series,
//! a year of a daily series, the first read of a calendar full of series made in Google) and
//! rewrites their part. `--only fleet` runs the drain and backlog of many connected users and prints their
//! figures with the fleet servers' peak memory, writing nothing (they are rows of the main
//! table, which only a full run writes); `--only fleet --workers N` instead drains one backlog
//! with N `phantom worker` processes sharing a project rate (PostgreSQL) and prints the
//! busiest 60 s and the drain rate over that rate. `--only recovery` runs and prints the
//! recovery after `kill -9` (restart, and on PostgreSQL the worker takeover).

mod api;
mod fleet;
mod group_commit;
mod lists;
mod memory;
mod reads;
mod recovery;
mod recurring;
mod report;
mod run;
mod scratch;
mod server;
mod stats;
mod storage;
mod sync;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::report::RunInfo;
use crate::run::Plan;
use crate::scratch::Backend;

const USAGE: &str = "usage: phantom-bench [--quick] [--no-write] \
     [--only reads|group-commit|lists|memory|fleet|recovery|recurring] [--workers N] \
     [--soak-requests N] [--baseline BINARY]";

/// A part of the bench that can run alone (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Reading changes back from Google ([`reads::run`]).
    Reads,
    /// SQLite's group commit, off and on ([`group_commit::compare`]).
    GroupCommit,
    /// List pages at growing histories ([`lists::run`]).
    Lists,
    /// Resident memory: idle, after a login, over a soak ([`memory::run`]).
    Memory,
    /// Recurring events: the expanded week, a year of a daily series, the first read of
    /// series made in Google ([`recurring::run`]).
    Recurring,
    /// The fleet alone: drain, backlog and the servers' peak memory ([`fleet::run`]); printed,
    /// not written (its figures are rows of the main table). With `--workers N`, instead,
    /// the drain by N `phantom worker` processes sharing one project rate
    /// ([`fleet::workers_drain`], PostgreSQL).
    Fleet,
    /// Recovery after `kill -9` alone: the restart and, on PostgreSQL, the worker takeover
    /// ([`recovery::run`]); printed, not written.
    Recovery,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut quick = false;
    let mut write = true;
    let mut only = None;
    let mut soak_requests = None;
    let mut baseline = None;
    let mut workers = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-write" => write = false,
            "--only" => match args.next().as_deref() {
                Some("reads") => only = Some(Section::Reads),
                Some("group-commit") => only = Some(Section::GroupCommit),
                Some("lists") => only = Some(Section::Lists),
                Some("memory") => only = Some(Section::Memory),
                Some("fleet") => only = Some(Section::Fleet),
                Some("recovery") => only = Some(Section::Recovery),
                Some("recurring") => only = Some(Section::Recurring),
                other => bail!(
                    "--only takes `reads`, `group-commit`, `lists`, `memory`, `fleet`, `recovery` or `recurring`, not {other:?} ({USAGE})"
                ),
            },
            "--workers" => {
                let n = args.next().unwrap_or_default();
                workers = Some(
                    n.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .with_context(|| format!("--workers takes a count, not {n:?}"))?,
                );
            }
            "--soak-requests" => {
                let n = args.next().unwrap_or_default();
                soak_requests = Some(
                    n.parse::<u64>()
                        .ok()
                        .filter(|&n| n > 0)
                        .with_context(|| format!("--soak-requests takes a count, not {n:?}"))?,
                );
            }
            "--baseline" => {
                let path = PathBuf::from(args.next().unwrap_or_default());
                if !path.is_file() {
                    bail!("--baseline takes a phantom binary, not {path:?} ({USAGE})");
                }
                baseline = Some(path);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    // Where cargo put the release build: `CARGO_TARGET_DIR` when set (relative to the
    // current folder, as cargo reads it), else the workspace's `target/`.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target_dir.join("release/phantom");
    if !binary.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p phantom-app` first (or `just bench`)",
            binary.display()
        );
    }
    let binary = binary.canonicalize().unwrap_or(binary);
    let mut plan = if quick { Plan::quick() } else { Plan::full() };
    if let Some(n) = soak_requests {
        plan.soak.requests = n;
    }
    if only.is_none() {
        plan.check_wrk()?;
    }

    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = std::env::var("PHANTOM_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        backends.push(Backend::Postgres(url));
    }
    let info = |quick| RunInfo {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu: cpu_model().unwrap_or_else(|| "unknown CPU".to_owned()),
        revision: git_revision(&root).unwrap_or_else(|| "unknown".to_owned()),
        load: plan.load,
        sync_user_rate: server::SYNC_USER_RATE,
        sync_project_rate: server::SYNC_PROJECT_RATE,
        quick,
    };
    let path = root.join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).ok();

    if only == Some(Section::Reads) {
        let mut columns = Vec::new();
        for backend in &backends {
            eprintln!("== {} (reads only) ==", backend.label());
            let reads = reads::run(&plan, backend, &binary)
                .await
                .with_context(|| format!("the {} reads failed", backend.label()))?;
            columns.push((backend.label(), reads));
        }
        let generated = format!(
            "{}\n{}",
            report::reads_header(&info(quick)),
            report::reads_table(&columns)
        );
        println!("\n{generated}");
        if write {
            // Only the reads part: the other figures stay as the last full run wrote them.
            let text = existing.unwrap_or_else(|| report::splice(None, ""));
            std::fs::write(&path, report::splice_reads(&text, &generated))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the reads part of {}", path.display());
        }
        return Ok(());
    }

    let scripts = root.join("crates/phantom-bench/wrk");
    if only == Some(Section::Memory) {
        plan.check_wrk()?;
        eprintln!("== SQLite memory ({} soak requests) ==", plan.soak.requests);
        let memory = memory::run(plan.soak, &binary, &scripts).await?;
        let generated = report::memory(&info(quick), &memory);
        println!("\n{generated}");
        if write {
            let text = existing.unwrap_or_default();
            std::fs::write(&path, report::splice_memory(&text, &generated))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the memory part of {}", path.display());
        }
        return Ok(());
    }
    if let Some(n) = workers {
        if only != Some(Section::Fleet) {
            bail!("--workers goes with --only fleet ({USAGE})");
        }
        let Some(backend) = backends.iter().find(|b| matches!(b, Backend::Postgres(_))) else {
            bail!(
                "--only fleet --workers needs PHANTOM_TEST_PG_URL (`phantom worker` needs PostgreSQL)"
            );
        };
        eprintln!("== {}: drain by {n} workers ==", backend.label());
        let run = fleet::workers_drain(
            backend,
            &binary,
            n,
            plan.drain_patience.max(std::time::Duration::from_secs(300)),
        )
        .await
        .with_context(|| format!("the {n}-worker drain failed"))?;
        let d = &run.drain;
        println!(
            "{}: {} worker(s), project rate {}/min: {} of {} delivered{} in {:.1} s from the \
             first start; {} Calendar calls over {:.1} s = {:.0}/min = {:.2}x the rate (goal >= \
             0.9x); busiest 60 s: {} calls = {:.2}x the rate (goal <= 1x)",
            backend.label(),
            run.workers,
            run.rate,
            d.delivered,
            d.users * d.per_user,
            if d.finished { "" } else { " (unfinished)" },
            d.since_start.as_secs_f64(),
            d.calls,
            d.span.as_secs_f64(),
            d.calls_per_minute(),
            run.rate_ratio(),
            d.peak_60s,
            run.peak_ratio(),
        );
        return Ok(());
    }
    if only == Some(Section::Recovery) {
        for backend in &backends {
            eprintln!("== {}: recovery ==", backend.label());
            let r = recovery::run(
                backend,
                &binary,
                plan.recovery_events,
                plan.recovery_patience,
            )
            .await
            .with_context(|| format!("the {} recovery failed", backend.label()))?;
            let ms = |d: Option<std::time::Duration>| {
                d.map_or_else(
                    || format!("none within {:?}", r.patience),
                    |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
                )
            };
            println!(
                "{}: {} events stranded; kill -9 of `phantom serve`, restart to first insert: {}; \
                 kill -9 of the `phantom worker` holding them, to the other worker's first insert: {}",
                backend.label(),
                r.stranded,
                ms(r.restart),
                r.takeover.map_or_else(|| "n/a (SQLite)".to_owned(), ms),
            );
        }
        return Ok(());
    }
    if only == Some(Section::Fleet) {
        plan.check_wrk()?;
        for backend in &backends {
            eprintln!("== {}: fleet ==", backend.label());
            let (drain, backlog, peaks) = fleet::run(&plan, backend, &binary, &scripts)
                .await
                .with_context(|| format!("the {} fleet failed", backend.label()))?;
            println!(
                "{}: drain {} of {} in {:.1} s ({:.0} calls/minute, at most {} in any 60 s); \
                 backlog / empty create throughput {:.2}x; fleet servers' peak RSS {} (most \
                 {:.1} MiB)",
                backend.label(),
                drain.delivered,
                drain.users * drain.per_user,
                drain.since_start.as_secs_f64(),
                drain.calls_per_minute(),
                drain.peak_60s,
                backlog.loaded.rps / backlog.empty.rps,
                report::fleet_peaks(&peaks),
                peaks.most() as f64 / (1024.0 * 1024.0),
            );
        }
        return Ok(());
    }
    let gc_rounds = if quick { 1 } else { 3 };
    if only == Some(Section::GroupCommit) {
        let gc =
            group_commit::compare(plan.load, gc_rounds, &binary, baseline.as_deref(), &scripts)
                .await?;
        let generated = report::group_commit(&info(quick), &gc);
        println!("\n{generated}");
        if write {
            let text = existing.unwrap_or_default();
            std::fs::write(&path, report::splice_group_commit(&text, &generated))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the group-commit part of {}", path.display());
        }
        return Ok(());
    }
    if only == Some(Section::Lists) {
        let mut list_figures = Vec::new();
        for backend in &backends {
            eprintln!("== {}: list pages ==", backend.label());
            list_figures.push(
                lists::run(&plan, backend, &binary, &scripts)
                    .await
                    .with_context(|| format!("the {} list figures failed", backend.label()))?,
            );
        }
        let info = info(quick);
        let list_table = lists::table(report::header(&info).trim_end(), &list_figures);
        let marks = (lists::BEGIN, lists::END);
        return print_part(
            &list_table,
            write.then_some((path.as_path(), existing, marks)),
            "list",
        );
    }
    if only == Some(Section::Recurring) {
        plan.check_wrk()?;
        let mut recurring_figures = Vec::new();
        for backend in &backends {
            eprintln!("== {}: recurring events ==", backend.label());
            recurring_figures.push(
                recurring::run(&plan, backend, &binary, &scripts)
                    .await
                    .with_context(|| format!("the {} recurring figures failed", backend.label()))?,
            );
        }
        let info = info(quick);
        let table = recurring::table(report::header(&info).trim_end(), &recurring_figures);
        let marks = (recurring::BEGIN, recurring::END);
        return print_part(
            &table,
            write.then_some((path.as_path(), existing, marks)),
            "recurring",
        );
    }
    let mut figures = Vec::new();
    let mut list_figures = Vec::new();
    let mut recurring_figures = Vec::new();
    for backend in &backends {
        eprintln!("== {} ==", backend.label());
        figures.push(
            run::backend(&plan, backend, &binary, &scripts)
                .await
                .with_context(|| format!("the {} run failed", backend.label()))?,
        );
        eprintln!("== {}: list pages ==", backend.label());
        list_figures.push(
            lists::run(&plan, backend, &binary, &scripts)
                .await
                .with_context(|| format!("the {} list figures failed", backend.label()))?,
        );
        eprintln!("== {}: recurring events ==", backend.label());
        recurring_figures.push(
            recurring::run(&plan, backend, &binary, &scripts)
                .await
                .with_context(|| format!("the {} recurring figures failed", backend.label()))?,
        );
    }

    let info = info(quick);
    eprintln!("== SQLite group commit, off and on ==");
    let gc =
        group_commit::compare(plan.load, gc_rounds, &binary, baseline.as_deref(), &scripts).await?;
    eprintln!("== SQLite memory ({} soak requests) ==", plan.soak.requests);
    let memory = memory::run(plan.soak, &binary, &scripts).await?;
    let generated = format!("{}\n{}", report::header(&info), report::table(&figures));
    let columns: Vec<_> = figures.iter().map(|f| (f.backend, f.reads)).collect();
    let reads = format!(
        "{}\n{}",
        report::reads_header(&info),
        report::reads_table(&columns)
    );
    let gc_generated = report::group_commit(&info, &gc);
    let list_table = lists::table(report::header(&info).trim_end(), &list_figures);
    let recurring_table = recurring::table(report::header(&info).trim_end(), &recurring_figures);
    let mem_generated = report::memory(&info, &memory);
    println!(
        "\n{generated}\n{reads}\n{gc_generated}\n{list_table}\n{recurring_table}\n{mem_generated}"
    );
    if write {
        let text = report::splice(existing.as_deref(), &generated);
        let text = report::splice_reads(&text, &reads);
        let text = report::splice_group_commit(&text, &gc_generated);
        let text = report::splice_block(&text, lists::BEGIN, lists::END, &list_table);
        let text = report::splice_block(&text, recurring::BEGIN, recurring::END, &recurring_table);
        std::fs::write(&path, report::splice_memory(&text, &mem_generated))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

fn git_revision(root: &std::path::Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty {
        format!("{rev} (modified)")
    } else {
        rev
    })
}

/// Prints one `--only` part's table and, when `target` is given (the document, its text as
/// read, the part's begin and end marks), writes it there between its marks.
fn print_part(
    table: &str,
    target: Option<(&Path, Option<String>, (&str, &str))>,
    what: &str,
) -> anyhow::Result<()> {
    println!("\n{table}");
    if let Some((path, existing, (begin, end))) = target {
        let text = existing.unwrap_or_default();
        std::fs::write(path, report::splice_block(&text, begin, end, table))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the {what} part of {}", path.display());
    }
    Ok(())
}
