//! Reading Google back: the lag of an edit made in Google, under polling and with push
//! notifications; what a connected user costs in Calendar calls while nothing changes, polling
//! and with notifications; and the first read of a large calendar. Each figure runs its own
//! `phantom serve` on its own fresh database, with its own emulator (so the request log holds
//! only that figure's calls).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use phantom_domain::services::PushSettings;
use phantom_google_emulator::{
    Emulator, EmulatorConfig, EventDateTime, EventEdit, LoggedRequest, Operation, ResourceState,
};

use crate::api::{Api, User};
use crate::run::Plan;
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::stats::percentile;

/// How the server learns of changes made in Google.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Reads every `PHANTOM_GOOGLE_POLL_SECS`, no `PHANTOM_PUBLIC_URL`.
    Polling,
    /// `PHANTOM_PUBLIC_URL` set to the server's own loopback address (watch channels, the
    /// emulator's notifications), polling effectively off (`PHANTOM_GOOGLE_POLL_SECS` far
    /// longer than the run).
    Notifications,
}

/// Read lag of edits made in Google.
#[derive(Debug, Clone, Copy)]
pub struct ReadLag {
    /// Polling only, or notifications.
    pub trigger: Trigger,
    /// `PHANTOM_GOOGLE_POLL_SECS` of that server.
    pub poll: Duration,
    /// The pauses before the edits were spread evenly over this.
    pub spread: Duration,
    /// Edits timed.
    pub edits: usize,
    /// Edits Phantom did not show within `patience` (not in the percentiles).
    pub missed: usize,
    /// How long one edit was waited for.
    pub patience: Duration,
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
    /// `PHANTOM_GOOGLE_CHANNEL_TTL_SECS` of that server (notifications only).
    pub channel_ttl: Option<Duration>,
    /// The measured window.
    pub window: Duration,
    /// `events.list` calls in the window.
    pub lists: usize,
    /// `events.watch` calls in the window.
    pub watches: usize,
    /// `channels.stop` calls in the window.
    pub stops: usize,
    /// Inserts, updates, patches and deletes in the window.
    pub writes: usize,
    /// Any other request the emulator logged in the window (gets, token calls).
    pub other: usize,
    /// Notifications the emulator sent in the window with state `sync` (one per new channel;
    /// Google → Phantom, not Calendar calls).
    pub sync_notifications: usize,
    /// The same with state `exists` (a change: must be 0 when nothing changes).
    pub change_notifications: usize,
    /// The `events.list` calls of the window by why they were made (see [`ListCauses`]).
    pub list_causes: ListCauses,
}

/// Why each `events.list` call of a window was made, told from the calls of the same account
/// around it in the emulator's log (by their order, not by time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCauses {
    /// The account's next call is an `events.watch`: the read of a channel renewal (the read
    /// finds the channel in the last part of its life and opens a new one after it).
    pub renewal: usize,
    /// The account's call just before is an `events.watch` or a `channels.stop`: the read
    /// asked at once when a new channel is on record (changes made while it opened reached no
    /// channel the server knew).
    pub after_new_channel: usize,
    /// Neither: a read no channel asked for (under polling, every read).
    pub other: usize,
}

/// Sorts the `events.list` calls made in `[from, to)` by [`ListCauses`]; with each "other"
/// one described (account, time, the calls before and after) for whoever looks into it.
pub fn list_causes(
    log: &[LoggedRequest],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (ListCauses, Vec<String>) {
    let mut by_account: std::collections::BTreeMap<&str, Vec<&LoggedRequest>> =
        std::collections::BTreeMap::new();
    for r in log {
        if let Some(account) = r.account.as_deref() {
            by_account.entry(account).or_default().push(r);
        }
    }
    let (mut causes, mut others) = (ListCauses::default(), Vec::new());
    for (account, mut calls) in by_account {
        calls.sort_by_key(|r| r.at);
        for (k, call) in calls.iter().enumerate() {
            if call.operation != Operation::List || call.at < from || call.at >= to {
                continue;
            }
            let before = k.checked_sub(1).map(|b| calls[b]);
            let after = calls.get(k + 1).copied();
            if after.is_some_and(|a| a.operation == Operation::Watch) {
                causes.renewal += 1;
            } else if before
                .is_some_and(|b| matches!(b.operation, Operation::Watch | Operation::StopChannel))
            {
                causes.after_new_channel += 1;
            } else {
                causes.other += 1;
                let show = |r: Option<&LoggedRequest>| {
                    r.map_or("none".to_owned(), |r| {
                        format!(
                            "{:?} {} at {:+.3} s",
                            r.operation,
                            r.status,
                            (r.at - call.at).num_microseconds().unwrap_or(0) as f64 / 1e6
                        )
                    })
                };
                others.push(format!(
                    "events.list ({}) of {account} at {} without a channel: before it {}, after it {}",
                    call.status,
                    call.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                    show(before),
                    show(after)
                ));
            }
        }
    }
    (causes, others)
}

impl Idle {
    /// `events.list` calls per user per hour, as measured.
    pub fn per_user_hour(&self) -> f64 {
        self.hourly(self.lists)
    }

    /// Calendar calls (`events.list`, `events.watch`, `channels.stop`) per user per hour, as
    /// measured.
    pub fn calls_per_user_hour(&self) -> f64 {
        self.hourly(self.lists + self.watches + self.stops)
    }

    fn hourly(&self, calls: usize) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 && self.users > 0 {
            calls as f64 * 3600.0 / (secs * self.users as f64)
        } else {
            0.0
        }
    }

    /// [`Idle::per_user_hour`] scaled linearly from the measured interval to `interval`.
    pub fn per_user_hour_at(&self, interval: Duration) -> f64 {
        self.per_user_hour() * self.poll.as_secs_f64() / interval.as_secs_f64()
    }

    /// [`Idle::calls_per_user_hour`] scaled linearly from the measured channel lifetime's
    /// renewal period to that of `ttl` (see [`renewal_period`]); `None` without notifications.
    pub fn calls_per_user_hour_at_ttl(&self, ttl: Duration) -> Option<f64> {
        let measured = renewal_period(self.channel_ttl?);
        Some(
            self.calls_per_user_hour() * measured.as_secs_f64() / renewal_period(ttl).as_secs_f64(),
        )
    }
}

/// How often the server renews a channel asked for `ttl`: once less than
/// [`PushSettings::renew_before`] is left of it (half its life, at most a day), i.e. every
/// `ttl - renew_before`. Each renewal is one read (`events.list`), one `events.watch` and one
/// `channels.stop` of the old channel.
pub fn renewal_period(ttl: Duration) -> Duration {
    let push = PushSettings {
        address: String::new(),
        ttl,
    };
    ttl.saturating_sub(push.renew_before())
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

/// The read figures of one backend.
#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// Edit in Google → in Phantom, polling only.
    pub lag: ReadLag,
    /// The same with notifications, polling effectively off.
    pub lag_notified: ReadLag,
    /// Idle polling cost.
    pub idle: Idle,
    /// Idle cost with notifications (channel renewals), polling effectively off.
    pub idle_notified: Idle,
    /// First read of a large calendar.
    pub large: LargeRead,
}

/// The server's default poll interval (`PHANTOM_GOOGLE_POLL_SECS` unset).
pub const DEFAULT_POLL: Duration = Duration::from_secs(300);

/// The server's default channel lifetime (`PHANTOM_GOOGLE_CHANNEL_TTL_SECS` unset).
pub const DEFAULT_CHANNEL_TTL: Duration = Duration::from_secs(604_800);

/// Runs the read figures on `backend`, each on its own server and database.
pub async fn run(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<Reads> {
    eprintln!(
        "reads: lag of {} edits made in Google, polling every {:?}",
        plan.read_lag_edits, plan.read_lag_poll
    );
    let lag = lag_of(plan, backend, binary, Trigger::Polling)
        .await
        .context("read lag, polling")?;
    eprintln!(
        "reads: lag of {} edits made in Google, notifications (polling every {:?})",
        plan.read_lag_edits, plan.push_poll
    );
    let lag_notified = lag_of(plan, backend, binary, Trigger::Notifications)
        .await
        .context("read lag, notifications")?;
    eprintln!(
        "reads: idle cost of {} users, polling every {:?}, over {:?}",
        plan.idle_users, plan.idle_poll, plan.idle_window
    );
    let idle = idle_of(plan, backend, binary, Trigger::Polling)
        .await
        .context("idle cost, polling")?;
    eprintln!(
        "reads: idle cost of {} users, notifications (channels of {:?}), over {:?}",
        plan.idle_users, plan.idle_channel_ttl, plan.idle_window
    );
    let idle_notified = idle_of(plan, backend, binary, Trigger::Notifications)
        .await
        .context("idle cost, notifications")?;
    eprintln!(
        "reads: first read of {} events made in Google",
        plan.large_events
    );
    let large = large(plan, backend, binary)
        .await
        .context("large first read")?;
    Ok(Reads {
        lag,
        lag_notified,
        idle,
        idle_notified,
        large,
    })
}

fn poll_env(poll: Duration) -> (&'static str, String) {
    ("PHANTOM_GOOGLE_POLL_SECS", poll.as_secs().to_string())
}

/// A server for `trigger`: polling every `poll`, or notified with polling every
/// [`Plan::push_poll`] and channels asked for `ttl` (the server's default when `None`).
async fn server_for(
    plan: &Plan,
    trigger: Trigger,
    poll: Duration,
    ttl: Option<Duration>,
    db: &ScratchDb,
    emulator: &Emulator,
    binary: &Path,
) -> anyhow::Result<Server> {
    match trigger {
        Trigger::Polling => {
            Server::start_with(binary, &db.url(), emulator, &[poll_env(poll)]).await
        }
        Trigger::Notifications => {
            let mut env = vec![poll_env(plan.push_poll)];
            if let Some(ttl) = ttl {
                env.push(("PHANTOM_GOOGLE_CHANNEL_TTL_SECS", ttl.as_secs().to_string()));
            }
            Server::start_notified(binary, &db.url(), emulator, &env).await
        }
    }
}

/// Waits until every one of `accounts` has a live watch channel in the emulator.
async fn watched(emulator: &Emulator, accounts: usize, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let owners: HashSet<String> = emulator.channels().into_iter().map(|c| c.owner).collect();
        if owners.len() >= accounts {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {accounts} calendars watched after {patience:?}: is the notifications \
                 route reachable at PHANTOM_PUBLIC_URL?",
                owners.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
/// times, a pause (spread evenly over one poll interval under polling, so edits land at every
/// phase of the poll cycle; over [`Plan::push_lag_spread`] with notifications), a new title set
/// in the emulator, and the time until `GET /api/events/{id}/` shows it. An edit not shown
/// within the patience is counted as missed and the next one is made.
async fn lag_of(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    trigger: Trigger,
) -> anyhow::Result<ReadLag> {
    let (poll, spread, patience, name) = match trigger {
        Trigger::Polling => {
            let poll = plan.read_lag_poll;
            (poll, poll, poll * 3 + Duration::from_secs(15), "readlag")
        }
        Trigger::Notifications => (
            plan.push_poll,
            plan.push_lag_spread,
            Duration::from_secs(15),
            "pushlag",
        ),
    };
    let db = ScratchDb::create(backend, name)?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = server_for(plan, trigger, poll, None, &db, &emulator, binary).await?;
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
    if trigger == Trigger::Notifications {
        // The channel is opened after the first read: edits before it would go unnotified.
        watched(&emulator, 1, Duration::from_secs(60)).await?;
    }
    let path = format!("/api/events/{id}/");
    let all_by = Instant::now() + plan.read_lag_patience;
    let mut lags = Vec::with_capacity(plan.read_lag_edits);
    let mut missed = 0;
    for n in 0..plan.read_lag_edits {
        if Instant::now() > all_by {
            eprintln!(
                "reads: stopped after {n} edits ({:?} spent)",
                plan.read_lag_patience
            );
            break;
        }
        // The golden ratio's fractional multiples spread the pauses evenly over [0, spread).
        let phase = (n as f64 * 0.618_034).fract();
        tokio::time::sleep(spread.mul_f64(phase)).await;
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
                lags.push(edited.elapsed());
                break;
            }
            if edited.elapsed() > patience {
                eprintln!("reads: edit {n} did not reach Phantom within {patience:?}");
                missed += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    server.stop().await?;
    emulator.shutdown().await;
    Ok(ReadLag {
        trigger,
        poll,
        spread,
        edits: lags.len(),
        missed,
        patience,
        p50: percentile(&lags, 50.0).unwrap_or_default(),
        p95: percentile(&lags, 95.0).unwrap_or_default(),
    })
}

/// `users` users, each with a few events made in Google, connected one after the other; once
/// every one has been read at least once (and, with notifications, has a channel), the
/// emulator's log over `window` is counted.
///
/// The users connect evenly spread over one cycle (the poll interval, or with notifications
/// the channels' renewal period, [`renewal_period`]), so their calls are at every phase of
/// the cycle and a window that is not a multiple of it still counts fairly (users connected
/// together are read together, and the window would see whole cycles).
async fn idle_of(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    trigger: Trigger,
) -> anyhow::Result<Idle> {
    let (poll, ttl, cycle, name) = match trigger {
        Trigger::Polling => (plan.idle_poll, None, plan.idle_poll, "idle"),
        Trigger::Notifications => {
            let ttl = plan.idle_channel_ttl;
            (plan.push_poll, Some(ttl), renewal_period(ttl), "pushidle")
        }
    };
    let db = ScratchDb::create(backend, name)?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = server_for(plan, trigger, poll, ttl, &db, &emulator, binary).await?;
    let api = Api::new(&server.base_url)?;
    let users = api.users("idle-", plan.idle_users, 4).await?;
    let soon = Utc::now() + chrono::Duration::days(1);
    let gap = cycle / u32::try_from(plan.idle_users.max(1)).unwrap_or(u32::MAX);
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
    if trigger == Trigger::Notifications {
        watched(&emulator, plan.idle_users, Duration::from_secs(60)).await?;
    }
    let from = Utc::now();
    tokio::time::sleep(plan.idle_window).await;
    let to = Utc::now();
    let window = (to - from).to_std().unwrap_or(plan.idle_window);
    // A little more of the log, so the calls just after the window's last ones are seen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = emulator.request_log();
    let calls = in_window(&log, from, to);
    let (list_causes, others) = list_causes(&log, from, to);
    if trigger == Trigger::Notifications {
        for other in others {
            eprintln!("reads: {other}");
        }
    }
    let notifications: Vec<ResourceState> = emulator
        .notifications()
        .into_iter()
        .filter(|n| n.at >= from && n.at < to)
        .map(|n| n.resource_state)
        .collect();
    server.stop().await?;
    emulator.shutdown().await;
    let count = |operation: Operation| calls.iter().filter(|o| **o == operation).count();
    let (lists, watches, stops) = (
        count(Operation::List),
        count(Operation::Watch),
        count(Operation::StopChannel),
    );
    let writes = calls.iter().filter(|o| is_write(**o)).count();
    let state = |s: ResourceState| notifications.iter().filter(|n| **n == s).count();
    Ok(Idle {
        users: plan.idle_users,
        poll,
        channel_ttl: ttl,
        window,
        lists,
        watches,
        stops,
        writes,
        other: calls.len() - lists - watches - stops - writes,
        sync_notifications: state(ResourceState::Sync),
        change_notifications: state(ResourceState::Exists),
        list_causes,
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

    fn idle(lists: usize, watches: usize, stops: usize) -> Idle {
        Idle {
            users: 20,
            poll: Duration::from_secs(5),
            channel_ttl: None,
            window: Duration::from_secs(30),
            lists,
            watches,
            stops,
            writes: 0,
            other: 0,
            sync_notifications: 0,
            change_notifications: 0,
            list_causes: ListCauses::default(),
        }
    }

    fn call(account: &str, second: i64, operation: Operation) -> LoggedRequest {
        LoggedRequest {
            at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(second),
            method: String::new(),
            path: String::new(),
            operation,
            status: 200,
            account: Some(account.to_owned()),
        }
    }

    #[test]
    fn lists_are_told_apart_by_the_same_accounts_calls_around_them() {
        use Operation::{List, StopChannel, Watch};
        let log = vec![
            // a: a renewal (list, watch, stop) and the read after the new channel.
            call("a", 10, List),
            call("b", 11, List),
            call("a", 12, Watch),
            call("b", 12, List),
            call("a", 13, StopChannel),
            call("a", 14, List),
            // b: two reads nothing asked for, then a renewal whose stop failed, so the read
            // after the new channel follows the watch; c's list is before the window.
            call("b", 15, List),
            call("b", 16, Watch),
            call("b", 17, List),
            call("c", 1, List),
            call("c", 30, List),
        ];
        let at = |s| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(s);
        let (causes, others) = list_causes(&log, at(5), at(20));
        assert_eq!(
            causes,
            ListCauses {
                renewal: 2,
                after_new_channel: 2,
                other: 2,
            }
        );
        assert_eq!(others.len(), 2);
        assert!(others[0].contains(" of b at "), "{others:?}");
    }

    #[test]
    fn idle_calls_are_per_user_per_hour_and_scale_with_the_interval() {
        let idle = idle(120, 0, 0);
        // 120 calls / 20 users in 30 s: one every 5 s each, 720 an hour.
        assert!((idle.per_user_hour() - 720.0).abs() < 1e-9);
        assert!((idle.per_user_hour_at(DEFAULT_POLL) - 12.0).abs() < 1e-9);
        assert_eq!(idle.calls_per_user_hour_at_ttl(DEFAULT_CHANNEL_TTL), None);
        let empty = Idle { users: 0, ..idle };
        assert!(empty.per_user_hour().abs() < f64::EPSILON);
    }

    #[test]
    fn channels_are_renewed_at_half_life_at_most_a_day_before_expiry() {
        assert_eq!(
            renewal_period(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        // A week's channel is renewed a day before it ends: every six days.
        assert_eq!(
            renewal_period(DEFAULT_CHANNEL_TTL),
            Duration::from_secs(6 * 24 * 3600)
        );
    }

    #[test]
    fn idle_renewal_calls_scale_with_the_renewal_period() {
        // Channels of 10 s are renewed every 5 s: one read, one watch, one stop each time,
        // 3 × 720 calls an hour per user; every six days at the default: 3 / 144 an hour.
        let notified = Idle {
            channel_ttl: Some(Duration::from_secs(10)),
            ..idle(120, 120, 120)
        };
        assert!((notified.calls_per_user_hour() - 2160.0).abs() < 1e-9);
        let scaled = notified
            .calls_per_user_hour_at_ttl(DEFAULT_CHANNEL_TTL)
            .expect("notified");
        assert!((scaled - 3.0 / 144.0).abs() < 1e-9);
    }
}
