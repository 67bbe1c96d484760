//! Conditional writes against mocks: the precondition each write carries, and how a `412` is
//! settled by the conflict rule.

use std::sync::{Arc, Mutex};

use chrono::TimeDelta;

use crate::calendar::CalendarError;
use crate::google_changes::{GoogleEvent, GoogleRecurrence, GoogleTime};
use crate::ports::{
    Applied, MockCalendarSync, MockSleeper, OutboxEntry, Settlement, SyncOperation,
};
use crate::services::sync::SyncService;
use crate::services::sync::tests::{POLICY, clock, connection, entry, now, serving, view};
use crate::timezone::TimeZoneName;

const SEEN: &str = "\"e1\"";
const GOOGLES: &str = "\"e2\"";

/// The queued row, on the revision Phantom last saw.
fn seen(operation: SyncOperation) -> OutboxEntry {
    OutboxEntry {
        occurrence: None,
        etag: Some(SEEN.to_owned()),
        ..entry(operation)
    }
}

/// Google's version of the event, edited there at `updated`.
fn googles(updated: chrono::DateTime<chrono::Utc>) -> GoogleEvent {
    GoogleEvent {
        id: "abcdef0123".into(),
        cancelled: false,
        summary: Some("Exam (Google)".into()),
        description: Some(String::new()),
        start: Some(GoogleTime::At(now())),
        end: Some(GoogleTime::At(now() + TimeDelta::hours(2))),
        updated: Some(updated),
        time_zone: None,
        recurrence: GoogleRecurrence::default(),
        etag: Some(GOOGLES.to_owned()),
        color_id: Some("11".to_owned()),
    }
}

/// Delivers `row` through `calendar`; a `412` applies Google's version as `applied` says.
/// Returns the settlements and the items applied.
async fn deliver(
    row: OutboxEntry,
    calendar: MockCalendarSync,
    applied: Applied,
) -> (Vec<Settlement>, Vec<GoogleEvent>) {
    let settled = Arc::new(Mutex::new(Vec::new()));
    let items = Arc::new(Mutex::new(Vec::new()));
    let mut queue = serving(vec![row]);
    queue
        .expect_current()
        .returning(|_| Ok(Some((view(), TimeZoneName::UTC))));
    let log = items.clone();
    queue
        .expect_apply_changes()
        .returning(move |_, _, page, _, _| {
            log.lock().expect("lock").extend_from_slice(page);
            Ok(applied)
        });
    let log = settled.clone();
    queue.expect_settle().returning(move |_, outcome| {
        log.lock().expect("lock").push(outcome);
        Ok(())
    });
    queue.expect_release().returning(|_, _| Ok(()));
    let mut sleeper = MockSleeper::new();
    sleeper.expect_sleep().never();
    let service = SyncService::new(
        Arc::new(queue),
        Arc::new(calendar),
        connection(false),
        clock(),
        Arc::new(sleeper),
        POLICY,
    );
    service.run_once(10).await.expect("run");
    let settled = settled.lock().expect("lock").clone();
    let items = items.lock().expect("lock").clone();
    (settled, items)
}

/// The common case: Google holds the revision Phantom saw. One conditional update, no insert
/// first and no extra read.
#[tokio::test]
async fn an_event_google_holds_is_updated_once_on_the_revision_phantom_saw() {
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().never();
    calendar.expect_get().never();
    calendar
        .expect_update()
        .times(1)
        .withf(|_, _, if_match| if_match.as_deref() == Some(SEEN))
        .returning(|_, _, _| Ok(Some("\"e3\"".to_owned())));
    let (settled, applied) =
        deliver(seen(SyncOperation::Upsert), calendar, Applied::default()).await;
    assert_eq!(
        settled,
        [Settlement::Delivered {
            etag: Some("\"e3\"".to_owned())
        }]
    );
    assert!(applied.is_empty());
}

/// A `412`: Google's edit is the later one, so Phantom takes it (the read path applies it and
/// drops the queued change) and writes nothing more.
#[tokio::test]
async fn a_later_google_edit_is_kept_and_the_older_queued_change_dropped() {
    let mut calendar = MockCalendarSync::new();
    calendar
        .expect_update()
        .times(1)
        .returning(|_, _, _| Err(CalendarError::PreconditionFailed));
    calendar
        .expect_get()
        .times(1)
        .returning(|_, _| Ok(googles(now() + TimeDelta::minutes(5))));
    let took_googles = Applied {
        updated: 1,
        ..Applied::default()
    };
    let (settled, applied) = deliver(seen(SyncOperation::Upsert), calendar, took_googles).await;
    assert_eq!(settled, [Settlement::Delivered { etag: None }]);
    assert_eq!(applied, [googles(now() + TimeDelta::minutes(5))]);
}

/// A `412`: Phantom's change is the later one, so it is written again, on Google's new
/// revision, and its etag is kept as the echo.
#[tokio::test]
async fn a_later_phantom_change_is_written_again_on_googles_revision() {
    let mut calendar = MockCalendarSync::new();
    calendar
        .expect_update()
        .times(1)
        .withf(|_, _, if_match| if_match.as_deref() == Some(SEEN))
        .returning(|_, _, _| Err(CalendarError::PreconditionFailed));
    calendar
        .expect_get()
        .times(1)
        .returning(|_, _| Ok(googles(now() - TimeDelta::minutes(5))));
    calendar
        .expect_update()
        .times(1)
        .withf(|_, event, if_match| if_match.as_deref() == Some(GOOGLES) && event.summary == "Exam")
        .returning(|_, _, _| Ok(Some("\"e3\"".to_owned())));
    let ignored = Applied {
        unchanged: 1,
        ..Applied::default()
    };
    let (settled, _) = deliver(seen(SyncOperation::Upsert), calendar, ignored).await;
    assert_eq!(
        settled,
        [Settlement::Delivered {
            etag: Some("\"e3\"".to_owned())
        }]
    );
}

/// Google's copy keeps changing between each fetch and write: the row is put off to a later
/// round after a bounded number of conflicts, not retried in a loop.
#[tokio::test]
async fn endless_conflicts_are_put_off_to_a_later_round() {
    let mut calendar = MockCalendarSync::new();
    calendar
        .expect_update()
        .times(3)
        .returning(|_, _, _| Err(CalendarError::PreconditionFailed));
    calendar
        .expect_get()
        .times(3)
        .returning(|_, _| Ok(googles(now() - TimeDelta::minutes(5))));
    let ignored = Applied {
        unchanged: 1,
        ..Applied::default()
    };
    let (settled, _) = deliver(seen(SyncOperation::Upsert), calendar, ignored).await;
    assert!(
        matches!(settled.as_slice(), [Settlement::RetryAt { .. }]),
        "{settled:?}"
    );
}

/// A `412` on a delete: edited in Google after it was deleted here. A deletion is final, so
/// it is deleted there all the same, without fetching it.
#[tokio::test]
async fn a_412_on_a_delete_still_deletes() {
    let mut calendar = MockCalendarSync::new();
    calendar.expect_get().never();
    calendar
        .expect_delete()
        .times(1)
        .withf(|_, _, if_match| if_match.as_deref() == Some(SEEN))
        .returning(|_, _, _| Err(CalendarError::PreconditionFailed));
    calendar
        .expect_delete()
        .times(1)
        .withf(|_, _, if_match| if_match.is_none())
        .returning(|_, _, _| Ok(()));
    let (settled, _) = deliver(seen(SyncOperation::Delete), calendar, Applied::default()).await;
    assert_eq!(settled, [Settlement::Delivered { etag: None }]);
}

/// An instance is "as its series gives it" only with the series' title and description, at
/// its original start, and the series' length: a retitled, moved or stretched instance is
/// changed on its own in Google, and so is one whose original start is unknown.
#[test]
fn an_instance_is_its_series_own_only_when_nothing_of_it_was_changed() {
    use super::as_its_series_gives_it;
    let at = now() + TimeDelta::days(7);
    let series = GoogleEvent {
        recurrence: GoogleRecurrence {
            rules: vec!["RRULE:FREQ=WEEKLY".into()],
            ..GoogleRecurrence::default()
        },
        ..googles(now())
    };
    let instance = GoogleEvent {
        id: format!("abcdef0123_{}", at.format("%Y%m%dT%H%M%SZ")),
        start: Some(GoogleTime::At(at)),
        end: Some(GoogleTime::At(at + TimeDelta::hours(2))),
        recurrence: GoogleRecurrence {
            rules: Vec::new(),
            recurring_event_id: Some("abcdef0123".into()),
            original_start: Some(GoogleTime::At(at)),
        },
        ..googles(now())
    };
    assert!(as_its_series_gives_it(&instance, &series));
    let retitled = GoogleEvent {
        summary: Some("Exam (moved)".into()),
        ..instance.clone()
    };
    let moved = GoogleEvent {
        start: Some(GoogleTime::At(at + TimeDelta::hours(1))),
        end: Some(GoogleTime::At(at + TimeDelta::hours(3))),
        ..instance.clone()
    };
    let stretched = GoogleEvent {
        end: Some(GoogleTime::At(at + TimeDelta::hours(3))),
        ..instance.clone()
    };
    let unnamed = GoogleEvent {
        recurrence: GoogleRecurrence::default(),
        ..instance.clone()
    };
    for changed in [retitled, moved, stretched, unnamed] {
        assert!(!as_its_series_gives_it(&changed, &series), "{changed:?}");
    }
}
