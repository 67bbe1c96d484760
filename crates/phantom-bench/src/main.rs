//! `phantom-bench`: builds nothing itself; runs the release `phantom` server (built first by
//! `just bench`) on a fresh database per backend, with the Google emulator in-process, and
//! measures everything in one run so the figures compare as ratios on one machine.
//!
//! Usage: `phantom-bench [--quick] [--no-write] [--only lists]`. PostgreSQL is included when
//! `PHANTOM_TEST_PG_URL` is set (scratch databases are created on that server and dropped).
//! `--only lists` runs the list figures alone and rewrites only their block of the report.

mod api;
mod fleet;
mod lists;
mod reads;
mod recovery;
mod report;
mod run;
mod scratch;
mod server;
mod stats;
mod storage;
mod sync;
mod wrk;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::report::RunInfo;
use crate::run::Plan;
use crate::scratch::Backend;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut quick = false;
    let mut write = true;
    let mut only_lists = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-write" => write = false,
            "--only" => match args.next().as_deref() {
                Some("lists") => only_lists = true,
                other => bail!("--only takes `lists`, not {other:?}"),
            },
            "-h" | "--help" => {
                println!("usage: phantom-bench [--quick] [--no-write] [--only lists]");
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
    let plan = if quick { Plan::quick() } else { Plan::full() };
    plan.check_wrk()?;

    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = std::env::var("PHANTOM_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        backends.push(Backend::Postgres(url));
    }
    let scripts = root.join("crates/phantom-bench/wrk");
    let mut figures = Vec::new();
    if !only_lists {
        for backend in &backends {
            eprintln!("== {} ==", backend.label());
            figures.push(
                run::backend(&plan, backend, &binary, &scripts)
                    .await
                    .with_context(|| format!("the {} run failed", backend.label()))?,
            );
        }
    }
    let mut list_figures = Vec::new();
    for backend in &backends {
        eprintln!("== {}: list pages ==", backend.label());
        list_figures.push(
            lists::run(&plan, backend, &binary, &scripts)
                .await
                .with_context(|| format!("the {} list figures failed", backend.label()))?,
        );
    }

    let info = RunInfo {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu: cpu_model().unwrap_or_else(|| "unknown CPU".to_owned()),
        revision: git_revision(&root).unwrap_or_else(|| "unknown".to_owned()),
        load: plan.load,
        sync_user_rate: server::SYNC_USER_RATE,
        quick,
    };
    let generated =
        (!only_lists).then(|| format!("{}\n{}", report::header(&info), report::table(&figures)));
    let list_table = lists::table(report::header(&info).trim_end(), &list_figures);
    if let Some(generated) = &generated {
        println!("\n{generated}");
    }
    println!("\n{list_table}");
    if write {
        let path = root.join("docs/benchmarks.md");
        let existing = std::fs::read_to_string(&path).ok();
        let text = match &generated {
            Some(generated) => report::splice(existing.as_deref(), generated),
            None => existing.unwrap_or_default(),
        };
        let text = report::splice_block(&text, lists::BEGIN, lists::END, &list_table);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
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
