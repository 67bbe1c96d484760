//! Tombstones are bounded: the Google ids of deleted events are kept only while they can
//! matter (docs/design.md, "Tombstones"), on both backends.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use phantom_adapters::db::DieselSyncQueue;
use phantom_adapters::db::schema::google_tombstones as t;
use phantom_domain::error::RepoError;
use phantom_domain::ports::SyncQueue;
use phantom_domain::services::{TOMBSTONE_RETENTION, UNCONFIRMED_TOMBSTONE_RETENTION};
use reqwest::{Method, StatusCode};

use crate::helpers::{self, TestApp, body, connected_with, event_body, spawn_app};

fn db_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Inserts `count` tombstones for `user` named `{prefix}{n}`, deleted at `deleted` and
/// confirmed at `confirmed`, in one statement.
async fn bury_many(
    app: &TestApp,
    user: i64,
    prefix: &str,
    count: u32,
    deleted: DateTime<Utc>,
    confirmed: Option<DateTime<Utc>>,
) {
    let confirmed = confirmed.map_or("NULL".to_owned(), |at| format!("'{}'", db_time(at)));
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO google_tombstones (user_id, google_event_id, event_id, deleted_at, confirmed_at) \
         SELECT {user}, '{prefix}' || i, i, '{}', {confirmed} FROM n",
        db_time(deleted)
    );
    app.database()
        .await
        .write(move |c| {
            diesel::sql_query(sql)
                .execute(c)
                .map_err(RepoError::storage)
        })
        .await
        .expect("tombstones");
}

async fn kept(app: &TestApp) -> Vec<String> {
    app.database()
        .await
        .read(|c| {
            t::table
                .select(t::google_event_id)
                .order(t::google_event_id)
                .load(c)
                .map_err(RepoError::storage)
        })
        .await
        .expect("tombstones")
}

/// A user who deleted 100,000 events keeps none of their tombstones past the retention; a
/// tombstone is kept while it can matter: within the retention, unconfirmed within its longer
/// one, and whatever its age while its delete is still queued.
#[tokio::test]
async fn tombstones_past_their_retention_are_pruned_and_those_that_matter_kept() {
    let app = spawn_app().await;
    let user = app.user().await;
    let queue = DieselSyncQueue::new(app.database().await);
    let now = Utc::now();
    let (confirmed_before, made_before) = (
        now - TOMBSTONE_RETENTION,
        now - UNCONFIRMED_TOMBSTONE_RETENTION,
    );
    let long_ago = now - TOMBSTONE_RETENTION - TimeDelta::days(1);
    bury_many(&app, user.id, "old", 100_000, long_ago, Some(long_ago)).await;
    let recent = now - TOMBSTONE_RETENTION + TimeDelta::days(1);
    bury_many(&app, user.id, "recent", 1, recent, Some(recent)).await;
    bury_many(&app, user.id, "unconfirmed", 1, long_ago, None).await;
    let ancient = now - UNCONFIRMED_TOMBSTONE_RETENTION - TimeDelta::days(1);
    bury_many(&app, user.id, "ancient", 1, ancient, None).await;
    bury_many(&app, user.id, "queued", 1, ancient, None).await;
    let queued_delete = format!(
        "INSERT INTO sync_outbox (user_id, event_id, google_event_id, operation, available_at, \
             created_at, updated_at) VALUES ({}, 999999, 'queued1', 'delete', '{now}', '{now}', '{now}')",
        user.id,
        now = db_time(now)
    );
    app.database()
        .await
        .write(move |c| {
            diesel::sql_query(queued_delete)
                .execute(c)
                .map_err(RepoError::storage)
        })
        .await
        .expect("a queued delete");

    let pruned = queue
        .prune_tombstones(confirmed_before, made_before)
        .await
        .expect("prune");
    assert_eq!(pruned, 100_001);
    assert_eq!(kept(&app).await, ["queued1", "recent1", "unconfirmed1"]);
    assert_eq!(
        queue
            .prune_tombstones(confirmed_before, made_before)
            .await
            .expect("prune"),
        0,
        "a second pass finds nothing"
    );
}

/// A delete that reaches Google confirms its tombstone, which the pruning then forgets once
/// past the retention; an event deleted by a user who never connected Google leaves none.
#[tokio::test]
async fn a_delivered_delete_confirms_its_tombstone_and_a_never_synced_event_leaves_none() {
    let plain = spawn_app().await;
    let user = plain.user().await;
    let created = plain
        .create_event(
            &user,
            &event_body("Exam", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", created["id"]);
    let deleted = plain
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(kept(&plain).await.is_empty(), "Google never held it");

    let (app, _emulator, user) = connected_with(|s| {
        s.sync.retry_base = std::time::Duration::from_millis(20);
    })
    .await;
    let created = app
        .create_event(
            &user,
            &event_body("Exam", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", created["id"]);
    helpers::eventually("synced", std::time::Duration::from_secs(15), async || {
        (body(app.get(&path, &user.access).await).await["sync_status"] == "synced").then_some(())
    })
    .await;
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let database = app.database().await;
    let confirmed = helpers::eventually(
        "the delete reaches Google and confirms the tombstone",
        std::time::Duration::from_secs(15),
        async || {
            database
                .read(|c| {
                    t::table
                        .select(t::confirmed_at)
                        .first::<Option<chrono::NaiveDateTime>>(c)
                        .map_err(RepoError::storage)
                })
                .await
                .ok()
                .flatten()
        },
    )
    .await;
    let queue = DieselSyncQueue::new(database);
    let within = confirmed.and_utc() - TimeDelta::seconds(1);
    assert_eq!(
        queue.prune_tombstones(within, within).await.expect("prune"),
        0
    );
    let past = confirmed.and_utc() + TimeDelta::seconds(1);
    assert_eq!(
        queue.prune_tombstones(past, within).await.expect("prune"),
        1
    );
    assert!(kept(&app).await.is_empty());
}
