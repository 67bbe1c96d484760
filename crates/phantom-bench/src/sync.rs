//! Sync figures against the Google emulator: lag from `201` to the event in Google, and the
//! drain of a backfill with its busiest minute of Calendar calls.

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use phantom_google_emulator::{Emulator, EventStatus, Operation};

use crate::api::Api;
use crate::stats::{peak_in_window, percentile};

/// Median and 95th percentile of the sync lag.
#[derive(Debug, Clone, Copy)]
pub struct Lag {
    /// Events measured.
    pub events: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
}

/// A backfill's drain.
#[derive(Debug, Clone, Copy)]
pub struct Backfill {
    /// Events made before connecting.
    pub events: usize,
    /// From the connecting callback's answer to the last event present in the emulator.
    pub drain: Duration,
    /// Most Calendar calls in any 60 s window.
    pub peak_per_minute: usize,
}

/// How long to wait for Google to hold an event before giving up.
const PATIENCE: Duration = Duration::from_secs(30);

/// Creates `count` events one at a time for a newly connected user, each `pause` after the
/// previous one reached the emulator, and measures for each the time from its `201` until the
/// emulator holds it.
pub async fn lag(
    api: &Api,
    emulator: &Emulator,
    count: usize,
    pause: Duration,
) -> anyhow::Result<Lag> {
    let account = "lag@bench.example";
    let user = api.user("bench-lag").await?;
    api.connect_google(&user, emulator, account).await?;
    let mut lags = Vec::with_capacity(count);
    for n in 0..count {
        let title = format!("Lag {n}");
        api.create_event(&user, &title, n).await?;
        let answered = Utc::now();
        let deadline = Instant::now() + PATIENCE;
        let created = loop {
            if let Some(event) = emulator
                .events(account)
                .into_iter()
                .find(|e| e.summary.as_deref() == Some(title.as_str()))
            {
                break event.created;
            }
            if Instant::now() > deadline {
                bail!("event {n} did not reach the emulator within {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // Inserted before the 201 reached us counts as no lag.
        lags.push((created - answered).to_std().unwrap_or_default());
        tokio::time::sleep(pause).await;
    }
    Ok(Lag {
        events: count,
        p50: percentile(&lags, 50.0).unwrap_or_default(),
        p95: percentile(&lags, 95.0).unwrap_or_default(),
    })
}

/// Creates `count` events for a user who has not connected Google yet, then connects and
/// waits until the emulator holds them all. The request log is cleared at connect, and no
/// other user has work queued then, so every Calendar call logged is this user's.
pub async fn backfill(
    api: &Api,
    emulator: &Emulator,
    count: usize,
    concurrency: usize,
    patience: Duration,
) -> anyhow::Result<Backfill> {
    let account = "backfill@bench.example";
    let user = api.user("bench-backfill").await?;
    api.create_many(&user, "Backfill", count, concurrency)
        .await?;
    emulator.clear_request_log();
    api.connect_google(&user, emulator, account).await?;
    let connected = Instant::now();
    let deadline = connected + patience;
    loop {
        let held = live_events(emulator, account);
        if held >= count {
            break;
        }
        if Instant::now() > deadline {
            bail!("the backfill held {held} of {count} events after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain = connected.elapsed();
    Ok(Backfill {
        events: count,
        drain,
        peak_per_minute: peak_in_window(&calendar_calls(emulator), Duration::from_secs(60)),
    })
}

/// How many of `account`'s events the emulator holds (not cancelled).
pub fn live_events(emulator: &Emulator, account: &str) -> usize {
    emulator
        .events(account)
        .iter()
        .filter(|e| e.status != EventStatus::Cancelled)
        .count()
}

/// When each Calendar API call in the emulator's log arrived.
pub fn calendar_calls(emulator: &Emulator) -> Vec<DateTime<Utc>> {
    emulator
        .request_log()
        .into_iter()
        .filter(|r| {
            matches!(
                r.operation,
                Operation::Insert
                    | Operation::Get
                    | Operation::List
                    | Operation::Update
                    | Operation::Patch
                    | Operation::Delete
            )
        })
        .map(|r| r.at)
        .collect()
}

/// When each insert Google accepted (2xx) arrived, in log order.
pub fn accepted_inserts(emulator: &Emulator) -> Vec<DateTime<Utc>> {
    emulator
        .request_log()
        .into_iter()
        .filter(|r| r.operation == Operation::Insert && (200..300).contains(&r.status))
        .map(|r| r.at)
        .collect()
}

/// Whether Google has answered an insert with 503 since `since` (a lane holds the row and
/// is retrying it).
pub fn refused_insert_since(emulator: &Emulator, since: DateTime<Utc>) -> bool {
    emulator
        .request_log()
        .iter()
        .any(|r| r.operation == Operation::Insert && r.status == 503 && r.at >= since)
}
