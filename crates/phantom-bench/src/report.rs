//! The figures of one run, as a markdown table and as `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::fleet::{Backlog, Drain};
use crate::reads::{DEFAULT_POLL, Reads};
use crate::recovery::Recovery;
use crate::sync::{Backfill, Lag};
use crate::wrk::{Load, WrkReport};

/// Everything measured on one backend.
#[derive(Debug, Clone)]
pub struct Figures {
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    /// `POST /api/events/`.
    pub create: WrkReport,
    /// The same inserts in a loop in-process, rows per second.
    pub insert_loop: f64,
    /// `GET /healthz/`.
    pub healthz: WrkReport,
    /// `GET /api/events/?page_size=50`.
    pub list: WrkReport,
    /// Events the listing user holds.
    pub list_events: usize,
    /// Sync lag.
    pub lag: Lag,
    /// Create load for a connected user, the emulator healthy.
    pub create_healthy: WrkReport,
    /// The same with the emulator answering 503 to everything.
    pub create_503: WrkReport,
    /// Backfill drain.
    pub backfill: Backfill,
    /// The server's peak resident memory, bytes.
    pub peak_rss: u64,
    /// Recovery after `kill -9`.
    pub recovery: Recovery,
    /// Drain of many users' queues.
    pub drain: Drain,
    /// Create load with and without a backlog.
    pub backlog: Backlog,
    /// Reading changes back from Google.
    pub reads: Reads,
}

/// About the machine and the run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// UTC date and time.
    pub date: String,
    /// Logical cores.
    pub cores: usize,
    /// CPU model name.
    pub cpu: String,
    /// Git revision of the tree measured.
    pub revision: String,
    /// Load of every `wrk` run.
    pub load: Load,
    /// Per-user Calendar calls per minute configured.
    pub sync_user_rate: u32,
    /// Whether this was a `--quick` smoke run.
    pub quick: bool,
}

/// `1.23 ms`, or `12.3 ms` from ten on.
pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `1.23 s`.
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A whole number with thousands separators.
pub(crate) fn rate(rps: f64) -> String {
    let whole = rps.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `a / b` as `0.25×`, or `n/a` when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "n/a".to_owned()
    }
}

/// `1,234 req/s, 5.67 ms`, and the errors if there were any.
fn rate_and_p99(report: &WrkReport) -> String {
    format!(
        "{} req/s, {}{}",
        rate(report.rps),
        ms(report.p99),
        errors(report)
    )
}

/// `0.84 s`, or that none came within the patience.
fn first_call(took: Option<Duration>, patience: Duration) -> String {
    match took {
        Some(took) if took < Duration::from_secs(1) => ms(took),
        Some(took) => format!("{:.2} s", took.as_secs_f64()),
        None => format!("none within {} s", patience.as_secs()),
    }
}

fn errors(report: &WrkReport) -> String {
    if report.non_2xx == 0 && report.socket_errors == 0 {
        String::new()
    } else {
        format!(
            " ({} non-2xx, {} socket errors)",
            report.non_2xx, report.socket_errors
        )
    }
}

/// The rows: one per figure, one column per backend.
pub fn table(figures: &[Figures]) -> String {
    let mut rows: Vec<(&str, Vec<String>)> = Vec::new();
    let mut row = |name: &'static str, f: &dyn Fn(&Figures) -> String| {
        rows.push((name, figures.iter().map(f).collect()));
    };
    row("`POST /api/events/` throughput", &|f| {
        format!("{} req/s{}", rate(f.create.rps), errors(&f.create))
    });
    row("`POST /api/events/` p50 / p99", &|f| {
        format!("{} / {}", ms(f.create.p50), ms(f.create.p99))
    });
    row("same insert, in-process loop (storage limit)", &|f| {
        format!("{} rows/s", rate(f.insert_loop))
    });
    row("**HTTP / loop**", &|f| ratio(f.create.rps, f.insert_loop));
    row("`GET /healthz/` throughput", &|f| {
        format!("{} req/s{}", rate(f.healthz.rps), errors(&f.healthz))
    });
    row("`GET /healthz/` p50 / p99", &|f| {
        format!("{} / {}", ms(f.healthz.p50), ms(f.healthz.p99))
    });
    row("`GET /api/events/?page_size=50` throughput", &|f| {
        format!(
            "{} req/s over {} events{}",
            rate(f.list.rps),
            rate(f.list_events as f64),
            errors(&f.list)
        )
    });
    row("`GET /api/events/?page_size=50` p50 / p99", &|f| {
        format!("{} / {}", ms(f.list.p50), ms(f.list.p99))
    });
    row("**list / healthz** (throughput)", &|f| {
        ratio(f.list.rps, f.healthz.rps)
    });
    row("sync lag, 201 → in Google: p50 / p95", &|f| {
        format!(
            "{} / {} ({} events)",
            ms(f.lag.p50),
            ms(f.lag.p95),
            f.lag.events
        )
    });
    row("create, connected, Google healthy: req/s, p99", &|f| {
        rate_and_p99(&f.create_healthy)
    });
    row("create, connected, Google answers 503: req/s, p99", &|f| {
        rate_and_p99(&f.create_503)
    });
    row("**503 / healthy** (create p99; goal ≤ 1.2×)", &|f| {
        ratio(
            f.create_503.p99.as_secs_f64(),
            f.create_healthy.p99.as_secs_f64(),
        )
    });
    row("backfill: drain time", &|f| {
        format!(
            "{:.1} s for {} events",
            f.backfill.drain.as_secs_f64(),
            f.backfill.events
        )
    });
    row(
        "backfill: peak Calendar calls in any 60 s (one user)",
        &|f| rate(f.backfill.peak_per_minute as f64),
    );
    row(
        "recovery: `kill -9` of `phantom serve`, restart → first insert accepted (goal ≤ 10 s)",
        &|f| {
            format!(
                "{} ({} events stranded)",
                first_call(f.recovery.restart, f.recovery.patience),
                f.recovery.stranded
            )
        },
    );
    row(
        "recovery: `kill -9` of a `phantom worker`, 2nd worker running → first insert accepted",
        &|f| match f.recovery.takeover {
            None => "n/a (the worker runs inside `serve`)".to_owned(),
            Some(took) => format!(
                "{} ({} events stranded)",
                first_call(took, f.recovery.patience),
                f.recovery.stranded
            ),
        },
    );
    row(
        "backlog: create, queue empty, Google 503: req/s, p99",
        &|f| {
            format!(
                "{} (queue {} rows)",
                rate_and_p99(&f.backlog.empty),
                rate(f.backlog.empty_depth as f64)
            )
        },
    );
    row(
        "backlog: create, backlog queued, Google 503: req/s, p99",
        &|f| {
            format!(
                "{} (queue {} rows: {} seeded over {} users)",
                rate_and_p99(&f.backlog.loaded),
                rate(f.backlog.loaded_depth as f64),
                rate(f.backlog.seeded as f64),
                rate(f.backlog.users as f64)
            )
        },
    );
    row(
        "**backlog / empty** (create throughput; goal ≥ 0.9×)",
        &|f| ratio(f.backlog.loaded.rps, f.backlog.empty.rps),
    );
    row("backlog / empty (create p99)", &|f| {
        ratio(
            f.backlog.loaded.p99.as_secs_f64(),
            f.backlog.empty.p99.as_secs_f64(),
        )
    });
    row("drain: Calendar calls per minute, Google healthy", &|f| {
        let d = &f.drain;
        let total = d.users * d.per_user;
        let how = if d.finished {
            format!(
                "all {} ({} users × {}) in {:.1} s",
                rate(total as f64),
                rate(d.users as f64),
                d.per_user,
                d.since_start.as_secs_f64()
            )
        } else {
            format!(
                "{} of {} ({} users × {}) delivered when measured at {:.0} s",
                rate(d.delivered as f64),
                rate(total as f64),
                rate(d.users as f64),
                d.per_user,
                d.since_start.as_secs_f64()
            )
        };
        format!("{}/min ({how})", rate(d.calls_per_minute()))
    });
    row("drain: peak Calendar calls in any 60 s", &|f| {
        rate(f.drain.peak_60s as f64)
    });
    row("**drain / sum of per-user budgets**", &|f| {
        let budget = f.drain.users as f64 * f64::from(crate::server::SYNC_USER_RATE);
        format!(
            "{} (of {}/min)",
            ratio(f.drain.calls_per_minute(), budget),
            rate(budget)
        )
    });
    row(
        "**drain / 10,000 per minute** (Google's per-project quota)",
        &|f| ratio(f.drain.calls_per_minute(), 10_000.0),
    );
    row(
        "server peak RSS (VmHWM, over the loads above recovery)",
        &|f| format!("{:.1} MiB", f.peak_rss as f64 / (1024.0 * 1024.0)),
    );
    row(
        "read lag, edit in Google → `GET /api/events/{id}/` shows it: p50 / p95 (polling only)",
        &|f| {
            let l = &f.reads.lag;
            format!(
                "{} / {} ({} edits; `PHANTOM_GOOGLE_POLL_SECS={}`)",
                secs(l.p50),
                secs(l.p95),
                l.edits,
                l.poll.as_secs()
            )
        },
    );
    row(
        "idle: `events.list` calls per connected user per hour, as measured",
        &|f| {
            let i = &f.reads.idle;
            format!(
                "{:.0} (`PHANTOM_GOOGLE_POLL_SECS={}`; {} calls, {} users, {:.1} s)",
                i.per_user_hour(),
                i.poll.as_secs(),
                i.lists,
                i.users,
                i.window.as_secs_f64()
            )
        },
    );
    row(
        "idle: the same scaled to the default 300 s (× measured interval / 300 s)",
        &|f| {
            let i = &f.reads.idle;
            format!(
                "{:.1} (× {}/{})",
                i.per_user_hour_at(DEFAULT_POLL),
                i.poll.as_secs(),
                DEFAULT_POLL.as_secs()
            )
        },
    );
    row(
        "idle: Calendar writes in the window (must be 0); other calls",
        &|f| format!("{}; {}", f.reads.idle.writes, f.reads.idle.other),
    );
    row(
        "first read of a large calendar: callback → all imported",
        &|f| {
            let l = &f.reads.large;
            format!(
                "{:.1} s for {} events ({} `events.list` pages)",
                l.took.as_secs_f64(),
                rate(l.events as f64),
                l.pages
            )
        },
    );
    row(
        "first read of a large calendar: peak RSS of its own server (VmHWM)",
        &|f| {
            format!(
                "{:.1} MiB",
                f.reads.large.peak_rss as f64 / (1024.0 * 1024.0)
            )
        },
    );

    let mut out = String::from("| figure |");
    for f in figures {
        let _ = write!(out, " {} |", f.backend);
    }
    out.push_str("\n|---|");
    for _ in figures {
        out.push_str("---|");
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "| {name} |");
        for cell in cells {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// The run's header lines.
pub fn header(info: &RunInfo) -> String {
    format!(
        "Run {date} on {cores} cores ({cpu}), revision `{rev}`{quick}. Every load: `wrk -t1 -c{c} -d{d}s --latency`; \
         `PHANTOM_SYNC_USER_RATE={rate}` calls/minute.\n",
        date = info.date,
        cores = info.cores,
        cpu = info.cpu,
        rev = info.revision,
        quick = if info.quick {
            ", **quick smoke run**"
        } else {
            ""
        },
        c = info.load.connections,
        d = info.load.duration.as_secs(),
        rate = info.sync_user_rate,
    )
}

/// Marks the generated part of `docs/benchmarks.md`.
pub const BEGIN: &str = "<!-- phantom-bench: begin -->";
/// Ends the generated part.
pub const END: &str = "<!-- phantom-bench: end -->";

/// `existing` with the generated part replaced by `generated` (or, when it has none, the
/// default document around it).
pub fn splice(existing: Option<&str>, generated: &str) -> String {
    let block = format!("{BEGIN}\n{generated}{END}");
    if let Some(text) = existing
        && let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END))
        && start < end
    {
        return format!("{}{block}{}", &text[..start], &text[end + END.len()..]);
    }
    format!("{}\n{block}\n{}", DOC_HEAD.trim_end(), DOC_TAIL)
}

/// Replaces the block between `begin` and `end` in `existing` with `generated`, keeping the
/// rest; without those markers, the block goes right after the main table's [`END`] (or at
/// the end of the file).
pub fn splice_block(existing: &str, begin: &str, end: &str, generated: &str) -> String {
    let block = format!("{begin}\n{generated}{end}");
    if let (Some(start), Some(stop)) = (existing.find(begin), existing.find(end))
        && start < stop
    {
        return format!(
            "{}{block}{}",
            &existing[..start],
            &existing[stop + end.len()..]
        );
    }
    match existing.find(END) {
        Some(at) => {
            let after = at + END.len();
            format!("{}\n\n{block}{}", &existing[..after], &existing[after..])
        }
        None => format!("{}\n{block}\n", existing.trim_end()),
    }
}

const DOC_HEAD: &str = include_str!("doc_head.md");
const DOC_TAIL: &str = include_str!("doc_tail.md");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splicing_replaces_only_the_generated_part() {
        let old = format!("# Title\nprose\n{BEGIN}\nold table\n{END}\nmore prose\n");
        let new = splice(Some(&old), "new table\n");
        assert_eq!(
            new,
            format!("# Title\nprose\n{BEGIN}\nnew table\n{END}\nmore prose\n")
        );
        let fresh = splice(None, "t\n");
        assert!(fresh.contains(&format!("{BEGIN}\nt\n{END}")));
        assert!(fresh.starts_with("# Benchmarks"));
    }

    #[test]
    fn a_second_block_is_replaced_alone_or_placed_after_the_main_table() {
        let old = format!("# T\n{BEGIN}\nmain\n{END}\nprose\n");
        let placed = splice_block(&old, "<!-- b -->", "<!-- e -->", "lists\n");
        assert_eq!(
            placed,
            format!("# T\n{BEGIN}\nmain\n{END}\n\n<!-- b -->\nlists\n<!-- e -->\nprose\n")
        );
        let again = splice_block(&placed, "<!-- b -->", "<!-- e -->", "new\n");
        assert_eq!(again, placed.replace("lists\n", "new\n"));
    }

    #[test]
    fn rates_get_thousands_separators() {
        assert_eq!(rate(1885.4), "1,885");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1_234_567.0), "1,234,567");
        assert_eq!(ratio(1.0, 0.0), "n/a");
        assert_eq!(ratio(1.0, 4.0), "0.25×");
    }
}
