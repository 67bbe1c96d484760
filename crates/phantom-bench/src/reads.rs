//! Reading Google back: the lag of an edit made in Google under polling, what idle polling
//! costs in Calendar calls, and the first read of a large calendar. Each figure runs its own
//! `phantom serve` on its own fresh database, with its own emulator (so the request log holds
//! only that figure's calls).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use phantom_google_emulator::{
    Emulator, EmulatorConfig, EventDateTime, EventEdit, LoggedRequest, Operation,
};

use crate::api::{Api, User};
use crate::run::Plan;
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::stats::percentile;

/// Read lag of edits made in Google, polling only.
#[derive(Debug, Clone, Copy)]
pub struct ReadLag {
    /// `PHANTOM_GOOGLE_POLL_SECS` of that server.
    pub poll: Duration,
    /// Edits measured.
    pub edits: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
}

/// Calendar calls while nothing changes.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    /// Connected users.
    pub users: usize,
    /// `PHANTOM_GOOGLE_POLL_SECS` of that server.
    pub poll: Duration,
    /// The measured window.
    pub window: Duration,
    /// `events.list` calls in the window.
    pub lists: usize,
    /// Inserts, updates, patches and deletes in the window.
    pub writes: usize,
    /// Any other request the emulator logged in the window (gets, token calls, watches).
    pub other: usize,
}

impl Idle {
    /// `events.list` calls per user per hour, as measured.
    pub fn per_user_hour(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 && self.users > 0 {
            self.lists as f64 * 3600.0 / (secs * self.users as f64)
        } else {
            0.0
        }
    }

    /// [`Idle::per_user_hour`] scaled linearly from the measured interval to `interval`.
    pub fn per_user_hour_at(&self, interval: Duration) -> f64 {
        self.per_user_hour() * self.poll.as_secs_f64() / interval.as_secs_f64()
    }
}

/// The first read of a calendar holding many events.
#[derive(Debug, Clone, Copy)]
pub struct LargeRead {
    /// Events in the calendar, all inside the import window.
    pub events: usize,
    /// From the callback's answer until `count` shows them all.
    pub took: Duration,
    /// `events.list` calls the emulator answered 200 (pages).
    pub pages: usize,
    /// That server's `VmHWM` right after.
    pub peak_rss: u64,
}

/// The three read figures of one backend.
#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// Edit in Google → in Phantom.
    pub lag: ReadLag,
    /// Idle polling cost.
    pub idle: Idle,
    /// First read of a large calendar.
    pub large: LargeRead,
}

/// The server's default poll interval (`PHANTOM_GOOGLE_POLL_SECS` unset).
pub const DEFAULT_POLL: Duration = Duration::from_secs(300);

/// Runs the three read figures on `backend`, each on its own server and database.
pub async fn run(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<Reads> {
    eprintln!(
        "reads: lag of {} edits made in Google, polling every {:?}",
        plan.read_lag_edits, plan.read_lag_poll
    );
    let lag = lag(plan, backend, binary).await.context("read lag")?;
    eprintln!(
        "reads: idle cost of {} users, polling every {:?}, over {:?}",
        plan.idle_users, plan.idle_poll, plan.idle_window
    );
    let idle = idle(plan, backend, binary).await.context("idle cost")?;
    eprintln!(
        "reads: first read of {} events made in Google",
        plan.large_events
    );
    let large = large(plan, backend, binary)
        .await
        .context("large first read")?;
    Ok(Reads { lag, idle, large })
}

fn poll_env(poll: Duration) -> [(&'static str, String); 1] {
    [("PHANTOM_GOOGLE_POLL_SECS", poll.as_secs().to_string())]
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A 30-minute event titled `summary` starting at `start`.
fn timed_event(summary: String, start: DateTime<Utc>) -> EventEdit {
    EventEdit {
        summary: Some(summary),
        start: Some(EventDateTime::timed(rfc3339(start), None)),
        end: Some(EventDateTime::timed(
            rfc3339(start + chrono::Duration::minutes(30)),
            None,
        )),
        ..EventEdit::default()
    }
}

/// `count` of `GET /api/events/`: how many events the user holds.
async fn held(api: &Api, user: &User) -> anyhow::Result<u64> {
    let page = api.get_json(user, "/api/events/?page_size=1").await?;
    page["count"]
        .as_u64()
        .context("no count in the events page")
}

fn in_window(log: &[LoggedRequest], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Operation> {
    log.iter()
        .filter(|r| r.at >= from && r.at < to)
        .map(|r| r.operation)
        .collect()
}

fn is_write(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::Insert | Operation::Update | Operation::Patch | Operation::Delete
    )
}

/// One event made in Google before connecting, imported by the first read; then, `edits`
/// times, a pause (spread evenly over one poll interval, so edits land at every phase of the
/// poll cycle), a new title set in the emulator, and the time until
/// `GET /api/events/{id}/` shows it.
async fn lag(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<ReadLag> {
    let poll = plan.read_lag_poll;
    let db = ScratchDb::create(backend, "readlag")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start_with(binary, &db.url(), &emulator, &poll_env(poll)).await?;
    let api = Api::new(&server.base_url)?;
    let account = "reader@bench.example";
    let made = emulator
        .create_event(
            account,
            timed_event(
                "Read lag".to_owned(),
                Utc::now() + chrono::Duration::days(1),
            ),
        )
        .map_err(|e| anyhow::anyhow!("the emulator refused the event: {e:?}"))?;
    let user = api.user("bench-reader").await?;
    api.connect_google(&user, &emulator, account).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let id = loop {
        let page = api.get_json(&user, "/api/events/?page_size=1").await?;
        if let Some(id) = page["results"][0]["id"].as_i64() {
            break id;
        }
        if Instant::now() > deadline {
            bail!("the event made in Google was not imported within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let path = format!("/api/events/{id}/");
    let patience = poll * 3 + Duration::from_secs(15);
    let all_by = Instant::now() + plan.read_lag_patience;
    let mut lags = Vec::with_capacity(plan.read_lag_edits);
    for n in 0..plan.read_lag_edits {
        if Instant::now() > all_by {
            eprintln!(
                "reads: stopped after {n} edits ({:?} spent)",
                plan.read_lag_patience
            );
            break;
        }
        // The golden ratio's fractional multiples spread the pauses evenly over [0, poll).
        let phase = (n as f64 * 0.618_034).fract();
        tokio::time::sleep(poll.mul_f64(phase)).await;
        let title = format!("Read lag {n}");
        emulator
            .edit_event(
                account,
                &made.id,
                EventEdit {
                    summary: Some(title.clone()),
                    ..EventEdit::default()
                },
            )
            .map_err(|e| anyhow::anyhow!("the emulator refused the edit: {e:?}"))?;
        let edited = Instant::now();
        loop {
            let event = api.get_json(&user, &path).await?;
            if event["title"].as_str() == Some(title.as_str()) {
                break;
            }
            if edited.elapsed() > patience {
                bail!("edit {n} did not reach Phantom within {patience:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lags.push(edited.elapsed());
    }
    server.stop().await?;
    emulator.shutdown().await;
    Ok(ReadLag {
        poll,
        edits: lags.len(),
        p50: percentile(&lags, 50.0).unwrap_or_default(),
        p95: percentile(&lags, 95.0).unwrap_or_default(),
    })
}

/// `users` users, each with a few events made in Google, connected one after the other; once
/// every one has been read at least once, the emulator's log over `window` is counted.
async fn idle(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<Idle> {
    let poll = plan.idle_poll;
    let db = ScratchDb::create(backend, "idle")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start_with(binary, &db.url(), &emulator, &poll_env(poll)).await?;
    let api = Api::new(&server.base_url)?;
    let users = api.users("idle-", plan.idle_users, 4).await?;
    let soon = Utc::now() + chrono::Duration::days(1);
    // Connections spread evenly over one poll interval put the users' reads at every phase
    // of the cycle, so a window that is not a multiple of the interval still counts fairly
    // (users connected together are read together, and the window would see whole cycles).
    let gap = poll / u32::try_from(plan.idle_users.max(1)).unwrap_or(u32::MAX);
    let first_connect = Instant::now();
    for (i, user) in users.iter().enumerate() {
        let at = first_connect + gap * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(at.into()).await;
        let account = format!("idle-{i}@bench.example");
        for k in 0..3 {
            emulator
                .create_event(
                    &account,
                    timed_event(format!("Idle {i}.{k}"), soon + chrono::Duration::hours(k)),
                )
                .map_err(|e| anyhow::anyhow!("the emulator refused the event: {e:?}"))?;
        }
        api.connect_google(user, &emulator, &account).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reads = emulator
            .request_log()
            .iter()
            .filter(|r| r.operation == Operation::List && r.status == 200)
            .count();
        if reads >= plan.idle_users {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{reads} reads for {} users after 60 s of connecting",
                plan.idle_users
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let from = Utc::now();
    tokio::time::sleep(plan.idle_window).await;
    let to = Utc::now();
    let window = (to - from).to_std().unwrap_or(plan.idle_window);
    let calls = in_window(&emulator.request_log(), from, to);
    server.stop().await?;
    emulator.shutdown().await;
    let lists = calls.iter().filter(|o| **o == Operation::List).count();
    let writes = calls.iter().filter(|o| is_write(**o)).count();
    Ok(Idle {
        users: plan.idle_users,
        poll,
        window,
        lists,
        writes,
        other: calls.len() - lists - writes,
    })
}

/// `events` events made in Google (spread over the last 20 days and the next 20), then the
/// user connects; the time until `count` shows them all, and the server's peak memory.
/// The server polls at its default interval, so only the first read runs.
async fn large(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<LargeRead> {
    let db = ScratchDb::create(backend, "bigread")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let account = "large@bench.example";
    let count = plan.large_events;
    let first = Utc::now() - chrono::Duration::days(20);
    let step = chrono::Duration::days(40) / i32::try_from(count.max(1)).unwrap_or(i32::MAX);
    for n in 0..count {
        let start = first + step * i32::try_from(n).unwrap_or(i32::MAX);
        emulator
            .create_event(account, timed_event(format!("Large {n}"), start))
            .map_err(|e| anyhow::anyhow!("the emulator refused event {n}: {e:?}"))?;
    }
    let user = api.user("bench-large").await?;
    emulator.clear_request_log();
    api.connect_google(&user, &emulator, account).await?;
    let connected = Instant::now();
    let deadline = connected + plan.large_patience;
    loop {
        let imported = held(&api, &user).await?;
        if imported >= count as u64 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{imported} of {count} events imported after {:?}",
                plan.large_patience
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = connected.elapsed();
    let peak_rss = server.peak_rss()?;
    let pages = emulator
        .request_log()
        .iter()
        .filter(|r| r.operation == Operation::List && r.status == 200)
        .count();
    server.stop().await?;
    emulator.shutdown().await;
    Ok(LargeRead {
        events: count,
        took,
        pages,
        peak_rss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_calls_are_per_user_per_hour_and_scale_with_the_interval() {
        let idle = Idle {
            users: 20,
            poll: Duration::from_secs(5),
            window: Duration::from_secs(30),
            lists: 120,
            writes: 0,
            other: 0,
        };
        // 120 calls / 20 users in 30 s: one every 5 s each, 720 an hour.
        assert!((idle.per_user_hour() - 720.0).abs() < 1e-9);
        assert!((idle.per_user_hour_at(DEFAULT_POLL) - 12.0).abs() < 1e-9);
        let empty = Idle { users: 0, ..idle };
        assert!(empty.per_user_hour().abs() < f64::EPSILON);
    }
}
