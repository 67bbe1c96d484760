//! Series in storage: the span index, the changed and cancelled occurrences
//! (`event_occurrences`), and the outbox rows of Google's instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use phantom_domain::event::EventFilter;
use phantom_domain::ids::{CategoryId, EventId, UserId};
use phantom_domain::recurrence::{OriginalStart, google_instance_id};
use phantom_domain::series::OccurrenceChange;

use super::AnyConnection;
use super::events::{Operation, ViewRow, enqueue_for, filtered, page_rows};
use super::schema::{categories, event_occurrences as occ, events, sync_outbox};
use super::time::{from_db, to_db};

/// `recurrence <> ''` written out, not bound: the span index is partial on it, and a planner
/// proves that a query's rows are all in a partial index from literals only (SQLite plans a
/// statement before its values are bound; PostgreSQL's generic plans know none).
fn is_a_series() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("events.recurrence <> ''")
}

/// True when the user holds a series (one probe of the span index).
pub(super) fn has_series(c: &mut AnyConnection, user: UserId) -> QueryResult<bool> {
    let found = events::table
        .filter(events::user_id.eq(user.0))
        .filter(is_a_series())
        .select(events::id)
        .limit(1)
        .load::<i64>(c)?;
    Ok(!found.is_empty())
}

/// The user's series passing `filter`, a window by their span (from the first start to the
/// last end, or forever), read through the span index; by `(start_time, id)`.
///
/// On SQLite a window's start is two reads, the endless series and those ending after it,
/// sorted here: SQLite plans `series_end IS NULL OR series_end > ?`, or either side with an
/// `ORDER BY start_time`, as a walk of all the user's events starting before the window's end
/// by `events_user_start` (every series that ended long before it looked up in the table);
/// each side alone and unordered is a range of the span index. PostgreSQL reads both sides of
/// the `OR` from the span index in one query.
pub(super) fn spanning(
    c: &mut AnyConnection,
    user: UserId,
    filter: &EventFilter,
) -> QueryResult<Vec<ViewRow>> {
    let mut rows = match (filter.start, &c) {
        (None, _) => spanning_ending(c, user, filter, None)?,
        (Some(start), AnyConnection::Sqlite(_)) => {
            let mut rows = spanning_ending(c, user, filter, Some(Ending::Never))?;
            rows.extend(spanning_ending(
                c,
                user,
                filter,
                Some(Ending::After(start)),
            )?);
            rows
        }
        (Some(start), AnyConnection::Postgresql(_)) => {
            spanning_ending(c, user, filter, Some(Ending::NeverOrAfter(start)))?
        }
    };
    rows.sort_by_key(|(row, _, _)| (row.start(), row.id()));
    Ok(rows)
}

/// Which series' ends [`spanning_ending`] reads.
#[derive(Clone, Copy)]
enum Ending {
    /// Those without an end.
    Never,
    /// Those ending after this.
    After(chrono::DateTime<chrono::Utc>),
    /// Both.
    NeverOrAfter(chrono::DateTime<chrono::Utc>),
}

/// [`spanning`], for the series whose end is `ending` (any end: `None`).
fn spanning_ending(
    c: &mut AnyConnection,
    user: UserId,
    filter: &EventFilter,
    ending: Option<Ending>,
) -> QueryResult<Vec<ViewRow>> {
    let mut query = events::table
        .inner_join(categories::table)
        .filter(events::user_id.eq(user.0))
        .filter(is_a_series())
        .into_boxed();
    match ending {
        Some(Ending::Never) => query = query.filter(events::series_end.is_null()),
        Some(Ending::After(start)) => query = query.filter(events::series_end.gt(to_db(start))),
        Some(Ending::NeverOrAfter(start)) => {
            query = query.filter(
                events::series_end
                    .is_null()
                    .or(events::series_end.gt(to_db(start))),
            );
        }
        None => {}
    }
    if let Some(end) = filter.end {
        query = query.filter(events::start_time.lt(to_db(end)));
    }
    if let Some(category) = filter.category {
        query = query.filter(events::category_id.eq(category.0));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(categories::priority_level.eq(priority));
    }
    query
        .select((
            events::all_columns,
            categories::name,
            categories::priority_level,
        ))
        .load::<ViewRow>(c)
}

/// One page of single events and `series` (all the series passing the filter, in order)
/// merged by `(start_time, id)`. A series' place is its index plus the single events before
/// it (one bounded count each, for the series up to the page's end); the single events of
/// the page are then one contiguous run read by offset.
pub(super) fn page(
    c: &mut AnyConnection,
    user: UserId,
    filter: &EventFilter,
    since: Option<NaiveDateTime>,
    series: Vec<ViewRow>,
    size: u32,
    offset: i64,
) -> QueryResult<Vec<ViewRow>> {
    let end = offset + i64::from(size);
    let (mut before, mut on_page) = (0_i64, Vec::new());
    for (index, row) in series.into_iter().enumerate() {
        let (start, id) = (row.0.start(), row.0.id());
        let singles_before: i64 = filtered(user, filter, since, true)
            .filter(
                events::start_time
                    .lt(start)
                    .or(events::start_time.eq(start).and(events::id.lt(id))),
            )
            .count()
            .get_result(c)?;
        let place = i64::try_from(index).unwrap_or(i64::MAX) + singles_before;
        if place >= end {
            break;
        }
        if place < offset {
            before += 1;
        } else {
            on_page.push(row);
        }
    }
    let singles = i64::from(size) - i64::try_from(on_page.len()).unwrap_or(0);
    let mut rows = if singles > 0 {
        page_rows(c, user, filter, since, singles, offset - before, true)?
    } else {
        Vec::new()
    };
    rows.extend(on_page);
    rows.sort_by_key(|r| (r.0.start(), r.0.id()));
    Ok(rows)
}

#[derive(Queryable)]
struct ChangeRow {
    series_id: i64,
    original_start: String,
    title: Option<String>,
    description: Option<String>,
    category_id: Option<i64>,
    start_time: Option<NaiveDateTime>,
    end_time: Option<NaiveDateTime>,
    is_flexible: Option<bool>,
    is_completed: Option<bool>,
    all_day: Option<bool>,
    cancelled: bool,
    updated_at: NaiveDateTime,
    category_name: Option<String>,
    priority_level: Option<i32>,
}

/// The changed and cancelled occurrences of these series, with their series' ids.
pub(super) fn changes_of(
    c: &mut AnyConnection,
    series: &[i64],
) -> QueryResult<Vec<(i64, OccurrenceChange)>> {
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ChangeRow> = occ::table
        .left_join(categories::table.on(categories::id.nullable().eq(occ::category_id)))
        .filter(occ::series_id.eq_any(series))
        .select((
            occ::series_id,
            occ::original_start,
            occ::title,
            occ::description,
            occ::category_id,
            occ::start_time,
            occ::end_time,
            occ::is_flexible,
            occ::is_completed,
            occ::all_day,
            occ::cancelled,
            occ::updated_at,
            categories::name.nullable(),
            categories::priority_level.nullable(),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let category = match (r.category_id, r.category_name, r.priority_level) {
                (Some(id), Some(name), Some(priority)) => Some((CategoryId(id), name, priority)),
                _ => None,
            };
            let change = OccurrenceChange {
                original_start: OriginalStart::parse_id_suffix(&r.original_start),
                title: r.title,
                description: r.description,
                category,
                start_time: r.start_time.map(from_db),
                end_time: r.end_time.map(from_db),
                is_flexible: r.is_flexible,
                is_completed: r.is_completed,
                all_day: r.all_day,
                cancelled: r.cancelled,
                updated_at: Some(from_db(r.updated_at)),
            };
            (r.series_id, change)
        })
        .collect())
}

/// Forgets the changed and cancelled occurrences of `series` (only those in `which`, when
/// given) and their queued instance writes: their instances are no longer the series' in
/// Google either, once the series' new rule is written.
pub(super) fn drop_changes(
    c: &mut AnyConnection,
    series: i64,
    which: Option<&[OriginalStart]>,
) -> QueryResult<()> {
    match which {
        None => {
            diesel::delete(occ::table.filter(occ::series_id.eq(series))).execute(c)?;
            diesel::delete(
                sync_outbox::table
                    .filter(sync_outbox::event_id.eq(series))
                    .filter(sync_outbox::original_start.is_not_null()),
            )
            .execute(c)?;
        }
        Some([]) => {}
        Some(which) => {
            let keys: Vec<String> = which.iter().map(|m| m.id_suffix()).collect();
            diesel::delete(
                occ::table
                    .filter(occ::series_id.eq(series))
                    .filter(occ::original_start.eq_any(&keys)),
            )
            .execute(c)?;
            diesel::delete(
                sync_outbox::table
                    .filter(sync_outbox::event_id.eq(series))
                    .filter(sync_outbox::original_start.eq_any(&keys)),
            )
            .execute(c)?;
        }
    }
    Ok(())
}

/// The changes of `series` from `at` on (a split drops them).
pub(super) fn changes_from(
    c: &mut AnyConnection,
    series: i64,
    at: OriginalStart,
) -> QueryResult<Vec<OriginalStart>> {
    let keys: Vec<String> = occ::table
        .filter(occ::series_id.eq(series))
        .select(occ::original_start)
        .load(c)?;
    Ok(keys
        .iter()
        .filter_map(|k| OriginalStart::parse_id_suffix(k))
        .filter(|m| *m >= at)
        .collect())
}

/// Stores one occurrence's change (keeping the instance's etag) and queues its instance's
/// write; `false` when the user has no such series.
pub(super) fn put_occurrence(
    c: &mut AnyConnection,
    user: UserId,
    series: EventId,
    change: &OccurrenceChange,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let Some(at) = change.original_start else {
        return Ok(false);
    };
    let connected = super::events::is_connected(c, user.0)?;
    let mine = events::table
        .filter(events::id.eq(series.0))
        .filter(events::user_id.eq(user.0))
        .filter(events::recurrence.ne(""));
    let google_ids = diesel::update(mine)
        .set(events::sync_status.eq(super::events::status_after_change(connected).as_str()))
        .returning(events::google_event_id)
        .get_results::<String>(c)?;
    let Some(google_id) = google_ids.first() else {
        return Ok(false);
    };
    let key = at.id_suffix();
    let values = (
        occ::title.eq(&change.title),
        occ::description.eq(&change.description),
        occ::category_id.eq(change.category.as_ref().map(|(id, _, _)| id.0)),
        occ::start_time.eq(change.start_time.map(to_db)),
        occ::end_time.eq(change.end_time.map(to_db)),
        occ::is_flexible.eq(change.is_flexible),
        occ::is_completed.eq(change.is_completed),
        occ::all_day.eq(change.all_day),
        occ::cancelled.eq(change.cancelled),
        occ::updated_at.eq(now),
    );
    let this = occ::table
        .filter(occ::series_id.eq(series.0))
        .filter(occ::original_start.eq(&key));
    if diesel::update(this).set(values).execute(c)? == 0 {
        diesel::insert_into(occ::table)
            .values((
                occ::series_id.eq(series.0),
                occ::original_start.eq(&key),
                occ::user_id.eq(user.0),
                values,
            ))
            .execute(c)?;
    }
    if connected {
        let op = if change.cancelled {
            Operation::Delete
        } else {
            Operation::UPSERT
        };
        let instance = google_instance_id(google_id, at);
        enqueue_for(c, user.0, series.0, &instance, Some(&key), op, None, now)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use diesel::connection::InstrumentationEvent;

    use super::*;
    use crate::db::Database;
    use crate::db::error::storage;

    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// On SQLite each read of a window's series is a range of the span index, never a walk of
    /// the user's events by start, planned as the server's cached statement is: before any
    /// value is bound.
    #[tokio::test]
    async fn each_read_of_a_window_s_series_is_a_range_of_the_span_index_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::connect(&format!("sqlite://{}/phantom.db", dir.path().display()))
            .expect("connect");
        db.run_migrations().expect("migrate");
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("instant");
        let filter = EventFilter {
            start: Some(at("2027-03-01T00:00:00Z")),
            end: Some(at("2027-03-08T00:00:00Z")),
            ..EventFilter::default()
        };
        // The statements `spanning` runs, as the connection is given them.
        let statements = db
            .read(move |c| {
                let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let log = std::sync::Arc::clone(&seen);
                c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                    if let InstrumentationEvent::StartQuery { query, .. } = event
                        && let Ok(mut log) = log.lock()
                    {
                        log.push(query.to_string());
                    }
                });
                spanning(c, UserId(1), &filter).map_err(storage)?;
                c.set_instrumentation(|_: InstrumentationEvent<'_>| {});
                let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
                Ok(seen)
            })
            .await
            .expect("spanning");
        assert_eq!(statements.len(), 2, "{statements:?}");
        for sql in statements {
            let sql = sql.split(" -- binds").next().unwrap_or_default().to_owned();
            let plan = db
                .read(move |c| {
                    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                        .load::<Step>(c)
                        .map_err(storage)
                })
                .await
                .expect("plan");
            let details: Vec<_> = plan.into_iter().map(|s| s.detail).collect();
            assert!(
                details.iter().any(|p| p.starts_with(
                    "SEARCH events USING INDEX events_series_span (user_id=? AND series_end"
                )),
                "{details:?}"
            );
        }
    }
}
