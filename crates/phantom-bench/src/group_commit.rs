//! SQLite group commit: the same `POST /api/events/` load with `PHANTOM_SQLITE_GROUP_COMMIT`
//! off (one transaction, so one fsync, per request) and on, in one run, alternating; and, given
//! `--baseline BINARY` (a `phantom` built from an earlier revision, say the one before group
//! commit), that server too in each round.

use std::path::Path;

use phantom_google_emulator::{Emulator, EmulatorConfig};

use crate::api::Api;
use crate::run::ensure_clean;
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::wrk::{self, Load, WrkReport};

/// The loads with group commit off and on, round by round.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    /// One report per round, group commit off.
    pub off: Vec<WrkReport>,
    /// One report per round, group commit on.
    pub on: Vec<WrkReport>,
    /// One report per round of the `--baseline` binary (empty without one).
    pub baseline: Vec<WrkReport>,
    /// Group commit on: writes per transaction over each round, from the server's `/metrics`.
    pub writes_per_commit: Vec<f64>,
}

/// The servers of a round: this binary with group commit off and on, and the baseline binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `PHANTOM_SQLITE_GROUP_COMMIT=off`.
    Off,
    /// `PHANTOM_SQLITE_GROUP_COMMIT=on`.
    On,
    /// The `--baseline` binary with its own defaults (an older one may not know the setting).
    Baseline,
}

impl Setting {
    /// Its name in the progress lines, the scratch databases and the table's header.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Off => "off",
            Setting::On => "on",
            Setting::Baseline => "baseline",
        }
    }

    /// The server's environment for it.
    fn env(self) -> Vec<(&'static str, String)> {
        match self {
            Setting::Baseline => Vec::new(),
            setting => vec![("PHANTOM_SQLITE_GROUP_COMMIT", setting.name().to_owned())],
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl GroupCommit {
    /// Each server's reports, in the order they ran (the baseline only if it ran).
    pub fn columns(&self) -> Vec<(Setting, &[WrkReport])> {
        let mut columns = vec![(Setting::Off, &self.off[..]), (Setting::On, &self.on[..])];
        if !self.baseline.is_empty() {
            columns.push((Setting::Baseline, &self.baseline[..]));
        }
        columns
    }

    /// Median requests per second of `reports`.
    pub fn rps(reports: &[WrkReport]) -> f64 {
        median(reports.iter().map(|r| r.rps).collect())
    }

    /// Median writes per transaction with group commit on (0 if never read).
    pub fn writes_per_commit(&self) -> f64 {
        median(self.writes_per_commit.clone())
    }

    /// Median p99 of `reports`, in seconds.
    pub fn p99(reports: &[WrkReport]) -> f64 {
        median(reports.iter().map(|r| r.p99.as_secs_f64()).collect())
    }
}

/// `rounds` × (off, on, and the baseline binary if given): each on a fresh SQLite database and
/// a fresh server, one user who has not connected Google, the load of every other `POST`
/// figure.
pub async fn compare(
    load: Load,
    rounds: usize,
    binary: &Path,
    baseline: Option<&Path>,
    scripts: &Path,
) -> anyhow::Result<GroupCommit> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut figures = GroupCommit {
        off: Vec::new(),
        on: Vec::new(),
        baseline: Vec::new(),
        writes_per_commit: Vec::new(),
    };
    let mut servers = vec![(Setting::Off, binary), (Setting::On, binary)];
    servers.extend(baseline.map(|b| (Setting::Baseline, b)));
    for round in 1..=rounds {
        for &(setting, binary) in &servers {
            let setting_name = setting.name();
            eprintln!(
                "POST /api/events/, SQLite group commit {setting_name} (round {round}/{rounds})"
            );
            let db = ScratchDb::create(&Backend::Sqlite, &format!("gc-{setting_name}-{round}"))?;
            let server = Server::start_with(binary, &db.url(), &emulator, &setting.env()).await?;
            let user = Api::new(&server.base_url)?
                .user(&format!("bench-gc-{setting_name}"))
                .await?;
            let report = wrk::run_async(
                format!("{}/api/events/", server.base_url),
                load,
                Some(scripts.join("post.lua")),
                Some(user.access),
            )
            .await?;
            if setting == Setting::On {
                figures
                    .writes_per_commit
                    .extend(writes_per_commit(&server.base_url).await);
            }
            server.stop().await?;
            ensure_clean(
                &format!("POST /api/events/ (group commit {setting_name})"),
                &report,
            )?;
            match setting {
                Setting::Off => figures.off.push(report),
                Setting::On => figures.on.push(report),
                Setting::Baseline => figures.baseline.push(report),
            }
        }
    }
    emulator.shutdown().await;
    Ok(figures)
}

/// Writes per transaction of the SQLite writer so far, from the server's `/metrics`; `None` if
/// it does not say (metrics off, or an older binary).
async fn writes_per_commit(base_url: &str) -> Option<f64> {
    let body = reqwest::get(format!("{base_url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |series: &str| {
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let commits = value("phantom_sqlite_group_commits_total")?;
    let writes = value("phantom_sqlite_group_commit_writes_total")?;
    (commits > 0.0).then(|| writes / commits)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
