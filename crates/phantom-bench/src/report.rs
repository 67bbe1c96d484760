//! The figures of one run, as a markdown table and as `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::fleet::{Backlog, Drain, Peaks};
use crate::group_commit::{GroupCommit, Setting};
use crate::memory::{Memory, Sample};
use crate::reads::{DEFAULT_CHANNEL_TTL, DEFAULT_POLL, ReadLag, Reads, Trigger, renewal_period};
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
    /// The fleet servers' peak resident memory.
    pub fleet_peaks: Peaks,
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
    /// Calendar calls per minute of the whole server configured.
    pub sync_project_rate: u32,
    /// Whether this was a `--quick` smoke run.
    pub quick: bool,
}

impl RunInfo {
    /// When, on what and at which revision the run was made: "DATE on N cores (CPU),
    /// revision `REV`", and whether it was a quick smoke run.
    fn run(&self) -> String {
        let quick = if self.quick {
            ", **quick smoke run**"
        } else {
            ""
        };
        format!(
            "{} on {} cores ({}), revision `{}`{quick}",
            self.date, self.cores, self.cpu, self.revision
        )
    }
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
        "**drain: peak in any 60 s / 10,000** (Google's per-project quota; goal ≤ 1×)",
        &|f| ratio(f.drain.peak_60s as f64, 10_000.0),
    );
    row(
        "server peak RSS (VmHWM, over the loads above recovery)",
        &|f| format!("{:.1} MiB", f.peak_rss as f64 / (1024.0 * 1024.0)),
    );
    row(
        "fleet servers' peak RSS (VmHWM): registering and connecting the users; drain, then the empty-queue load; the backlog load",
        &|f| fleet_peaks(&f.fleet_peaks),
    );
    let backends: Vec<&str> = figures.iter().map(|f| f.backend).collect();
    markdown(&backends, rows)
}

/// The read figures' rows (edits made in Google, idle cost, large first read): one column
/// per backend. They have their own part of `docs/benchmarks.md` (`--only reads` rewrites it
/// alone).
pub fn reads_table(columns: &[(&'static str, Reads)]) -> String {
    let mut rows: Vec<(&str, Vec<String>)> = Vec::new();
    let mut row = |name: &'static str, f: &dyn Fn(&Reads) -> String| {
        rows.push((name, columns.iter().map(|(_, r)| f(r)).collect()));
    };
    row(
        "read lag, edit in Google → `GET /api/events/{id}/` shows it: p50 / p95 (polling only)",
        &|r| read_lag(&r.lag),
    );
    row(
        "read lag, the same with notifications (`PHANTOM_PUBLIC_URL` set, polling effectively off): p50 / p95",
        &|r| read_lag(&r.lag_notified),
    );
    row("**read lag: notifications / polling** (p50; p95)", &|r| {
        format!(
            "{}; {}",
            ratio(r.lag_notified.p50.as_secs_f64(), r.lag.p50.as_secs_f64()),
            ratio(r.lag_notified.p95.as_secs_f64(), r.lag.p95.as_secs_f64())
        )
    });
    row(
        "idle: `events.list` calls per connected user per hour, as measured",
        &|r| {
            let i = &r.idle;
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
        &|r| {
            let i = &r.idle;
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
        &|r| {
            format!(
                "{}; {}",
                r.idle.writes,
                r.idle.other + r.idle.watches + r.idle.stops
            )
        },
    );
    row(
        "idle, notifications: Calendar calls (list + watch + stop) per connected user per hour, as measured",
        &|r| {
            let i = &r.idle_notified;
            format!(
                "{:.0} (`PHANTOM_GOOGLE_CHANNEL_TTL_SECS={}`, renewed every {} s, `PHANTOM_GOOGLE_POLL_SECS={}`; {} + {} + {} calls, {} users, {:.1} s; the lists: {} renewals' reads, {} reads after a new channel, {} other)",
                i.calls_per_user_hour(),
                i.channel_ttl.unwrap_or_default().as_secs(),
                renewal_period(i.channel_ttl.unwrap_or_default()).as_secs(),
                i.poll.as_secs(),
                i.lists,
                i.watches,
                i.stops,
                i.users,
                i.window.as_secs_f64(),
                i.list_causes.renewal,
                i.list_causes.after_new_channel,
                i.list_causes.other
            )
        },
    );
    row(
        "idle, notifications: the same scaled to the default channel lifetime (604,800 s, renewed every 6 days)",
        &|r| {
            let i = &r.idle_notified;
            let measured = renewal_period(i.channel_ttl.unwrap_or_default());
            format!(
                "{:.3} (× {}/{})",
                i.calls_per_user_hour_at_ttl(DEFAULT_CHANNEL_TTL)
                    .unwrap_or_default(),
                measured.as_secs(),
                renewal_period(DEFAULT_CHANNEL_TTL).as_secs()
            )
        },
    );
    row(
        "idle, notifications: Calendar writes (must be 0); other calls; notifications sent `sync`, `exists` (must be 0)",
        &|r| {
            let i = &r.idle_notified;
            format!(
                "{}; {}; {}, {}",
                i.writes, i.other, i.sync_notifications, i.change_notifications
            )
        },
    );
    row(
        "**idle: polling / notifications** (both scaled to the defaults: how many times more calls polling makes)",
        &|r| {
            let notified = r
                .idle_notified
                .calls_per_user_hour_at_ttl(DEFAULT_CHANNEL_TTL)
                .unwrap_or_default();
            if notified > 0.0 {
                format!("{:.0}×", r.idle.per_user_hour_at(DEFAULT_POLL) / notified)
            } else {
                "n/a".to_owned()
            }
        },
    );
    row(
        "first read of a large calendar: callback → all imported",
        &|r| {
            let l = &r.large;
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
        &|r| format!("{:.1} MiB", r.large.peak_rss as f64 / (1024.0 * 1024.0)),
    );
    let backends: Vec<&str> = columns.iter().map(|(b, _)| *b).collect();
    markdown(&backends, rows)
}

/// `p50 / p95 (n edits; how)`, with the edits not seen, if any.
fn read_lag(l: &ReadLag) -> String {
    let how = match l.trigger {
        Trigger::Polling => format!("`PHANTOM_GOOGLE_POLL_SECS={}`", l.poll.as_secs()),
        Trigger::Notifications => format!(
            "`PHANTOM_GOOGLE_POLL_SECS={}`, pauses over {:.1} s",
            l.poll.as_secs(),
            l.spread.as_secs_f64()
        ),
    };
    let missed = if l.missed == 0 {
        String::new()
    } else {
        format!(
            "; **{} not seen within {} s**",
            l.missed,
            l.patience.as_secs()
        )
    };
    // Sub-second lags (notifications) in milliseconds, polling's in seconds.
    let show = match l.trigger {
        Trigger::Polling => secs,
        Trigger::Notifications => ms,
    };
    format!(
        "{} / {} ({} edits; {how}{missed})",
        show(l.p50),
        show(l.p95),
        l.edits
    )
}

/// A markdown table: a `figure` column, then one per backend.
fn markdown(backends: &[&str], rows: Vec<(&str, Vec<String>)>) -> String {
    let mut out = String::from("| figure |");
    for backend in backends {
        let _ = write!(out, " {backend} |");
    }
    out.push_str("\n|---|");
    for _ in backends {
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
        "Run {run}. Every load: `wrk -t1 -c{c} -d{d}s --latency`; \
         `PHANTOM_SYNC_USER_RATE={rate}`, `PHANTOM_SYNC_PROJECT_RATE={project}` calls/minute.\n",
        run = info.run(),
        c = info.load.connections,
        d = info.load.duration.as_secs(),
        rate = info.sync_user_rate,
        project = info.sync_project_rate,
    )
}

/// The reads part's header line (it may come from another run than the main table).
pub fn reads_header(info: &RunInfo) -> String {
    format!(
        "Reads: run {run}; \
         `PHANTOM_SYNC_USER_RATE={rate}` calls/minute; each figure on its own server, database \
         and emulator.\n",
        run = info.run(),
        rate = info.sync_user_rate,
    )
}

/// Marks the generated part of `docs/benchmarks.md` (every figure but the reads).
pub const BEGIN: &str = "<!-- phantom-bench: begin -->";
/// Ends the generated part.
pub const END: &str = "<!-- phantom-bench: end -->";
/// Marks the generated part holding the read figures ([`reads_table`]).
pub const READS_BEGIN: &str = "<!-- phantom-bench reads: begin -->";
/// Ends it.
pub const READS_END: &str = "<!-- phantom-bench reads: end -->";

/// `existing` with the main generated part replaced by `generated` (or, when it has none, the
/// default document around it).
pub fn splice(existing: Option<&str>, generated: &str) -> String {
    if let Some(text) = existing
        && let Some(spliced) = replace_block(text, BEGIN, END, generated)
    {
        return spliced;
    }
    let block = format!("{BEGIN}\n{generated}{END}");
    format!("{}\n{block}\n{}", DOC_HEAD.trim_end(), DOC_TAIL)
}

/// `text` with the reads part replaced by `generated`; a document without one gets it right
/// after the main generated part (or at its end).
pub fn splice_reads(text: &str, generated: &str) -> String {
    splice_part(text, (READS_BEGIN, READS_END), "", generated)
}

/// `text` with the part between `marks` replaced by `generated`; a document without one gets
/// it, under `heading`, right after the main generated part (or at its end).
fn splice_part(text: &str, marks: (&str, &str), heading: &str, generated: &str) -> String {
    let (begin, end) = marks;
    if let Some(spliced) = replace_block(text, begin, end, generated) {
        return spliced;
    }
    let section = format!("\n\n{heading}{begin}\n{generated}{end}");
    match text.find(END) {
        Some(main_end) => {
            let at = main_end + END.len();
            format!("{}{section}{}", &text[..at], &text[at..])
        }
        None => format!("{}{section}\n", text.trim_end()),
    }
}

fn replace_block(text: &str, begin: &str, end: &str, generated: &str) -> Option<String> {
    let (start, stop) = (text.find(begin)?, text.find(end)?);
    (start < stop).then(|| {
        format!(
            "{}{begin}\n{generated}{end}{}",
            &text[..start],
            &text[stop + end.len()..]
        )
    })
}

/// Marks the generated group-commit part of `docs/benchmarks.md`.
pub const GC_BEGIN: &str = "<!-- phantom-bench: group-commit begin -->";
/// Ends it.
pub const GC_END: &str = "<!-- phantom-bench: group-commit end -->";

/// `items` joined by `separator`.
fn cells(items: impl Iterator<Item = String>, separator: &str) -> String {
    items.collect::<Vec<_>>().join(separator)
}

/// The group-commit comparison: SQLite, `PHANTOM_SQLITE_GROUP_COMMIT` off and on, and the
/// `--baseline` binary when there was one.
pub fn group_commit(info: &RunInfo, gc: &GroupCommit) -> String {
    let columns = gc.columns();
    // The ratios: `on` over each of the others.
    let others: Vec<_> = columns.iter().filter(|(s, _)| *s != Setting::On).collect();
    let on_rps = GroupCommit::rps(&gc.on);
    let on_p99 = GroupCommit::p99(&gc.on);
    let header = |s: Setting| match s {
        Setting::Baseline => s.name().to_owned(),
        setting => format!("`{}`", setting.name()),
    };
    let mut out = format!(
        "Run {run}. `POST /api/events/`, SQLite, \
         `wrk -t1 -c{c} -d{d}s --latency`; {n} rounds of ({servers}), each on a fresh database \
         and server; medians of the rounds.\n\n",
        run = info.run(),
        c = info.load.connections,
        d = info.load.duration.as_secs(),
        n = gc.on.len(),
        servers = cells(columns.iter().map(|(s, _)| s.name().to_owned()), ", "),
    );
    let _ = writeln!(
        out,
        "| `PHANTOM_SQLITE_GROUP_COMMIT` | {} | {} |\n|---|{}{}",
        cells(columns.iter().map(|(s, _)| header(*s)), " | "),
        cells(
            others.iter().map(|(s, _)| format!("**on / {}**", s.name())),
            " | "
        ),
        "---|".repeat(columns.len()),
        "---|".repeat(others.len()),
    );
    let mut row = |label: &str,
                   cell: &dyn Fn(&[WrkReport]) -> String,
                   ratio_to: &dyn Fn(&[WrkReport]) -> String| {
        let _ = writeln!(
            out,
            "| {label} | {} | {} |",
            cells(columns.iter().map(|(_, r)| cell(r)), " | "),
            cells(others.iter().map(|(_, r)| ratio_to(r)), " | "),
        );
    };
    row(
        "throughput",
        &|r| format!("{} req/s", rate(GroupCommit::rps(r))),
        &|r| format!("**{}**", ratio(on_rps, GroupCommit::rps(r))),
    );
    row(
        "p99",
        &|r| ms(Duration::from_secs_f64(GroupCommit::p99(r))),
        &|r| ratio(on_p99, GroupCommit::p99(r)),
    );
    row(
        "each round: req/s (p99)",
        &|r| {
            cells(
                r.iter().map(|r| format!("{} ({})", rate(r.rps), ms(r.p99))),
                ", ",
            )
        },
        &|_| String::new(),
    );
    if !gc.writes_per_commit.is_empty() {
        let _ = writeln!(
            out,
            "\nWith group commit on, the writer's transactions held {:.1} writes each (median \
             of the rounds, from `phantom_sqlite_group_commit_writes_total` over \
             `phantom_sqlite_group_commits_total`).",
            gc.writes_per_commit()
        );
    }
    out
}

/// `existing` with the group-commit part replaced by `generated`; when it has none, the part
/// goes right after the main generated part, under a heading of its own.
pub fn splice_group_commit(existing: &str, generated: &str) -> String {
    splice_part(
        existing,
        (GC_BEGIN, GC_END),
        "## Group commit (SQLite)\n",
        generated,
    )
}

/// `existing` with the block between `begin` and `end` replaced by `generated`; a document
/// without one gets it right after the main generated part (or at its end).
pub fn splice_block(existing: &str, begin: &str, end: &str, generated: &str) -> String {
    splice_part(existing, (begin, end), "", generated)
}

/// Marks the generated memory part of `docs/benchmarks.md`.
pub const MEM_BEGIN: &str = "<!-- phantom-bench: memory begin -->";
/// Ends it.
pub const MEM_END: &str = "<!-- phantom-bench: memory end -->";

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// The memory figures: idle, after a login, the soak's curve and the peak.
pub fn memory(info: &RunInfo, m: &Memory) -> String {
    let plan = &m.plan;
    let mut out = format!(
        "Run {run}. SQLite, one server \
         (`phantom serve`, release) for the whole section; soak of {n} requests in \
         `wrk -t1 -c{c} -d{d}s` chunks (RSS read after each): creates by a user connected to \
         Google, `GET /api/events/?page_size=50` of a user with {list} events, one login in \
         {login}; Google answers 503 to everything in every other chunk.\n\n",
        run = info.run(),
        n = rate(plan.requests as f64),
        c = plan.chunk.connections,
        d = plan.chunk.duration.as_secs(),
        list = rate(plan.list_events as f64),
        login = plan.login_every,
    );
    out.push_str("| figure | SQLite |\n|---|---|\n");
    let row = |out: &mut String, what: &str, value: String| {
        let _ = writeln!(out, "| {what} | {value} |");
    };
    row(
        &mut out,
        "RSS idle, fresh start (goal ≤ 25 MB)",
        mib(m.idle),
    );
    row(
        &mut out,
        "RSS after one register + login",
        mib(m.after_login),
    );
    row(
        &mut out,
        "RSS at the soak's start (2 users, Google connected, list seeded)",
        mib(m.start),
    );
    let at = |s: Option<Sample>| {
        s.map_or_else(
            || "n/a".to_owned(),
            |s| {
                format!(
                    "{} (after {} requests)",
                    mib(s.rss),
                    rate(s.requests as f64)
                )
            },
        )
    };
    row(
        &mut out,
        "RSS after the first tenth of the soak",
        at(m.at_tenth()),
    );
    row(&mut out, "RSS at the soak's end", at(m.end()));
    row(
        &mut out,
        "**end / first tenth** (goal ≤ 1.05×)",
        m.growth()
            .map_or_else(|| "n/a".to_owned(), |g| format!("**{g:.3}×**")),
    );
    row(
        &mut out,
        "peak RSS over the section (VmHWM; goal ≤ 64 MB)",
        mib(m.peak),
    );
    let answered = m.end().map_or(0, |s| s.requests);
    row(
        &mut out,
        "soak throughput",
        format!(
            "{} req/s ({} requests in {})",
            rate(answered as f64 / m.elapsed.as_secs_f64().max(1e-9)),
            rate(answered as f64),
            secs(m.elapsed)
        ),
    );
    // The curve, at most about 20 points (always the first and the last).
    let step = m.samples.len().div_ceil(20).max(1);
    let curve: Vec<String> = m
        .samples
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == m.samples.len())
        .map(|(_, s)| format!("{}k: {:.1}", s.requests / 1000, s.rss as f64 / 1_048_576.0))
        .collect();
    row(
        &mut out,
        "the curve (requests: RSS in MiB)",
        curve.join(", "),
    );
    out
}

/// `existing` with the memory part replaced by `generated`; when it has none, the part goes
/// right after the main generated part, under a heading of its own.
pub fn splice_memory(existing: &str, generated: &str) -> String {
    splice_part(
        existing,
        (MEM_BEGIN, MEM_END),
        "## Memory (SQLite)\n",
        generated,
    )
}

const DOC_HEAD: &str = include_str!("doc_head.md");
const DOC_TAIL: &str = include_str!("doc_tail.md");

/// The fleet servers' peaks, in MiB, in the order of [`Peaks`]' fields.
pub fn fleet_peaks(p: &Peaks) -> String {
    let mib = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
    format!("{}; {}; {} MiB", mib(p.setup), mib(p.drain), mib(p.backlog))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the group-commit table has as many cells as its header, with and without
    /// a baseline, and the ratios are `on` over each other server.
    #[test]
    fn the_group_commit_table_has_a_column_per_server() {
        let report = |rps: f64| WrkReport {
            rps,
            p50: Duration::from_millis(1),
            p99: Duration::from_millis(10),
            requests: 100,
            non_2xx: 0,
            socket_errors: 0,
        };
        let info = RunInfo {
            date: "2026-11-29 12:00 UTC".to_owned(),
            cores: 2,
            cpu: "test".to_owned(),
            revision: "abc".to_owned(),
            load: Load {
                connections: 16,
                duration: Duration::from_secs(10),
            },
            sync_user_rate: 600,
            sync_project_rate: 9_000,
            quick: false,
        };
        let mut gc = GroupCommit {
            off: vec![report(1000.0)],
            on: vec![report(3000.0)],
            baseline: Vec::new(),
            writes_per_commit: Vec::new(),
        };
        for (with_baseline, cells) in [(false, 4), (true, 6)] {
            if with_baseline {
                gc.baseline = vec![report(750.0)];
            }
            let table = group_commit(&info, &gc);
            let rows: Vec<_> = table.lines().filter(|l| l.starts_with('|')).collect();
            assert_eq!(rows.len(), 5, "{table}");
            for row in &rows {
                assert_eq!(row.matches('|').count(), cells + 1, "{row}\n{table}");
            }
            assert!(rows[2].contains("**3.00×**"), "{table}");
            assert_eq!(rows[2].contains("**4.00×**"), with_baseline, "{table}");
        }
    }

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
    fn the_reads_part_is_replaced_alone_or_added_after_the_main_part() {
        let old = format!("# T\n{BEGIN}\nmain\n{END}\nprose\n");
        let added = splice_reads(&old, "r1\n");
        assert_eq!(
            added,
            format!("# T\n{BEGIN}\nmain\n{END}\n\n{READS_BEGIN}\nr1\n{READS_END}\nprose\n")
        );
        let replaced = splice_reads(&added, "r2\n");
        assert_eq!(replaced, added.replace("r1", "r2"));
        // The main part's splice leaves the reads part alone.
        assert_eq!(
            splice(Some(&replaced), "m2\n"),
            replaced.replace("main", "m2")
        );
    }

    #[test]
    fn the_group_commit_part_goes_after_the_main_one_then_stays_put() {
        let doc = splice(None, "t\n");
        let once = splice_group_commit(&doc, "gc 1\n");
        let end = once.find(END).expect("main part");
        let gc = once.find(GC_BEGIN).expect("group-commit part");
        assert!(end < gc && once.contains("## Group commit (SQLite)"));
        let twice = splice_group_commit(&once, "gc 2\n");
        assert!(twice.contains(&format!("{GC_BEGIN}\ngc 2\n{GC_END}")));
        assert!(!twice.contains("gc 1"));
        assert_eq!(twice.matches("## Group commit").count(), 1);
        // A full run rewrites the main part and leaves this one alone.
        let again = splice(Some(&twice), "t2\n");
        assert!(again.contains("gc 2") && again.contains("t2"));
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
    fn the_memory_part_goes_after_the_main_one_then_stays_put() {
        let doc = splice_group_commit(&splice(None, "t\n"), "gc\n");
        let once = splice_memory(&doc, "mem 1\n");
        let end = once.find(END).expect("main part");
        let mem = once.find(MEM_BEGIN).expect("memory part");
        assert!(end < mem && once.contains("## Memory (SQLite)"));
        let twice = splice_memory(&once, "mem 2\n");
        assert!(twice.contains(&format!("{MEM_BEGIN}\nmem 2\n{MEM_END}")));
        assert!(!twice.contains("mem 1") && twice.contains("gc\n"));
        assert_eq!(twice.matches("## Memory").count(), 1);
        let again = splice_group_commit(&splice(Some(&twice), "t2\n"), "gc2\n");
        assert!(again.contains("mem 2") && again.contains("t2") && again.contains("gc2"));
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
