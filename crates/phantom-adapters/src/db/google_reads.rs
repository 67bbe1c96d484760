//! The read side of two-way sync in the database: a user's read state, and one page of
//! changes read from Google applied in one transaction as the domain's rules decide.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use phantom_domain::event::Origin;
use phantom_domain::google_changes::{
    Action, EventFields, GoogleEvent, KnownEvent, ReadRules, SeriesFields, Tombstone, decide,
    instance_of, series_zone,
};
use phantom_domain::ids::{EventId, UserId};
use phantom_domain::ports::{Applied, SyncOperation};
use phantom_domain::sync::{SyncStatus, color_id_for_priority};
use phantom_domain::timezone::TimeZoneName;

use super::AnyConnection;
use super::events::{Operation, enqueue};
use super::schema::{categories, events, google_tombstones, sync_outbox, users};
use super::time::{from_db, to_db};

mod recurring;

/// The category imports go to when the user chose none.
const IMPORT_CATEGORY_NAME: &str = "Google Calendar";
/// Its colour: Google Calendar's own blue.
const IMPORT_CATEGORY_COLOR: &str = "#039BE5";

/// Ends a read unless another was asked for meanwhile. Parameters: 1 the user, 2 the due
/// time the read began with, 3 the sync token, 4 now, 5 the next read's due time.
fn finish_sql(p: char) -> String {
    format!(
        "UPDATE users SET google_sync_token = {p}3, google_last_read_at = {p}4, \
             google_read_due_at = CASE WHEN google_read_due_at = {p}2 THEN {p}5 \
                 ELSE google_read_due_at END \
         WHERE id = {p}1"
    )
}

/// Runs [`finish_sql`] on either backend.
pub(super) fn finish(
    c: &mut AnyConnection,
    user: UserId,
    seen_due: NaiveDateTime,
    token: Option<String>,
    now: NaiveDateTime,
    next: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    macro_rules! run {
        ($c:expr, $p:literal) => {
            diesel::sql_query(finish_sql($p))
                .bind::<BigInt, _>(user.0)
                .bind::<Timestamp, _>(seen_due)
                .bind::<Nullable<Text>, _>(token)
                .bind::<Timestamp, _>(now)
                .bind::<Nullable<Timestamp>, _>(next)
                .execute($c)
        };
    }
    match c {
        AnyConnection::Sqlite(c) => run!(c, '?'),
        AnyConnection::Postgresql(c) => run!(c, '$'),
    }
}

type KnownRow = (
    i64,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    bool,
    NaiveDateTime,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i32,
    String,
    Option<String>,
);

/// Phantom's event of a Google id, with the change of it (a series: of the series itself)
/// still queued; a series without a zone of its own repeats in `zone`, the user's.
fn known(
    c: &mut AnyConnection,
    user: UserId,
    google_id: &str,
    zone: TimeZoneName,
) -> QueryResult<Option<KnownEvent>> {
    let row: Option<KnownRow> = events::table
        .inner_join(categories::table)
        .left_join(
            sync_outbox::table.on(sync_outbox::event_id
                .eq(events::id)
                .and(sync_outbox::original_start.is_null())),
        )
        .filter(events::user_id.eq(user.0))
        .filter(
            events::google_calendar_id
                .eq(google_id)
                .or(events::google_event_id.eq(google_id)),
        )
        .select((
            events::id,
            events::title,
            events::description,
            events::start_time,
            events::end_time,
            events::all_day,
            events::updated_at,
            sync_outbox::operation.nullable(),
            events::google_etag,
            sync_outbox::versions.nullable(),
            events::origin,
            categories::priority_level,
            events::recurrence,
            events::timezone,
        ))
        .first(c)
        .optional()?;
    Ok(row.map(
        |(
            id,
            title,
            description,
            start,
            end,
            all_day,
            updated_at,
            queued,
            etag,
            versions,
            origin,
            priority,
            recurrence,
            timezone,
        )| {
            KnownEvent {
                id: EventId(id),
                fields: EventFields {
                    title,
                    description,
                    start_time: from_db(start),
                    end_time: from_db(end),
                    all_day,
                },
                updated_at: from_db(updated_at),
                queued: queued.map(|op| {
                    if op == "delete" {
                        SyncOperation::Delete
                    } else {
                        SyncOperation::Upsert
                    }
                }),
                etag,
                queued_versions: versions
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|hex| u64::from_str_radix(hex, 16).ok())
                    .collect(),
                // Phantom writes the colour of its own events only.
                color_id: (origin == Origin::Phantom.as_str())
                    .then(|| color_id_for_priority(priority).to_owned()),
                series: (!recurrence.is_empty()).then(|| SeriesFields {
                    recurrence: recurrence.lines().map(str::to_owned).collect(),
                    zone: timezone.and_then(|z| z.parse().ok()).unwrap_or(zone),
                }),
            }
        },
    ))
}

/// The tombstone of a Google id, and whether its delete is still queued.
fn tombstone(
    c: &mut AnyConnection,
    user: UserId,
    google_id: &str,
) -> QueryResult<Option<Tombstone>> {
    let event: Option<i64> = google_tombstones::table
        .find((user.0, google_id))
        .select(google_tombstones::event_id)
        .first(c)
        .optional()?;
    let Some(event) = event else {
        return Ok(None);
    };
    let queued: i64 = sync_outbox::table
        .filter(sync_outbox::event_id.eq(event))
        .filter(sync_outbox::operation.eq("delete"))
        .count()
        .get_result(c)?;
    Ok(Some(Tombstone {
        event: EventId(event),
        delete_queued: queued > 0,
    }))
}

/// Remembers that `google_id` was deleted here, so that it is never imported again, with
/// Google's etag of it as Phantom last saw it (the delete sent to Google is conditional on it).
/// `confirmed`: Google has it deleted already (deleted there); otherwise [`confirm`] marks it
/// once Phantom's delete reaches Google. See [`prune`] for how long it is kept.
pub(super) fn bury(
    c: &mut AnyConnection,
    user: i64,
    google_id: &str,
    event: i64,
    etag: Option<&str>,
    confirmed: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let confirmed_at = confirmed.then_some(now);
    let updated = diesel::update(google_tombstones::table.find((user, google_id)))
        .set((
            google_tombstones::google_etag.eq(etag),
            google_tombstones::confirmed_at.eq(confirmed_at),
        ))
        .execute(c)?;
    if updated == 0 {
        diesel::insert_into(google_tombstones::table)
            .values((
                google_tombstones::user_id.eq(user),
                google_tombstones::google_event_id.eq(google_id),
                google_tombstones::event_id.eq(event),
                google_tombstones::deleted_at.eq(now),
                google_tombstones::google_etag.eq(etag),
                google_tombstones::confirmed_at.eq(confirmed_at),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Google confirmed the deletion of `google_id` (Phantom's delete reached it).
pub(super) fn confirm(
    c: &mut AnyConnection,
    user: i64,
    google_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        google_tombstones::table
            .find((user, google_id))
            .filter(google_tombstones::confirmed_at.is_null()),
    )
    .set(google_tombstones::confirmed_at.eq(now))
    .execute(c)
    .map(drop)
}

/// Rows one pruning statement deletes, so that no write waits long behind it.
const PRUNE_BATCH: i64 = 5_000;

/// Forgets the tombstones that can no longer matter: those Google confirmed before
/// `confirmed_before`, and unconfirmed ones made before `made_before`; never one whose delete
/// is still queued. Returns how many went.
pub(super) fn prune(
    c: &mut AnyConnection,
    confirmed_before: NaiveDateTime,
    made_before: NaiveDateTime,
) -> QueryResult<u64> {
    macro_rules! batch {
        ($c:expr, $p:literal) => {
            diesel::sql_query(format!(
                "DELETE FROM google_tombstones WHERE (user_id, google_event_id) IN ( \
                     SELECT t.user_id, t.google_event_id FROM google_tombstones t \
                     WHERE (t.confirmed_at < {p}1 \
                            OR (t.confirmed_at IS NULL AND t.deleted_at < {p}2)) \
                       AND NOT EXISTS (SELECT 1 FROM sync_outbox o \
                           WHERE o.user_id = t.user_id \
                             AND o.google_event_id = t.google_event_id \
                             AND o.operation = 'delete') \
                     LIMIT {p}3)",
                p = $p
            ))
            .bind::<Timestamp, _>(confirmed_before)
            .bind::<Timestamp, _>(made_before)
            .bind::<BigInt, _>(PRUNE_BATCH)
            .execute($c)
        };
    }
    let mut pruned = 0;
    loop {
        let deleted = match c {
            AnyConnection::Sqlite(c) => batch!(c, '?'),
            AnyConnection::Postgresql(c) => batch!(c, '$'),
        }?;
        pruned += deleted as u64;
        if (deleted as i64) < PRUNE_BATCH {
            return Ok(pruned);
        }
    }
}

/// The category imports go to: the user's choice, else their own `Google Calendar`
/// category, created on first use.
fn import_category(c: &mut AnyConnection, user: UserId) -> QueryResult<i64> {
    let chosen: Option<i64> = users::table
        .find(user.0)
        .select(users::google_import_category)
        .first(c)?;
    if let Some(chosen) = chosen {
        return Ok(chosen);
    }
    let key = IMPORT_CATEGORY_NAME.to_lowercase();
    let own: Option<i64> = categories::table
        .filter(categories::user_id.eq(user.0))
        .filter(categories::name_key.eq(&key))
        .select(categories::id)
        .first(c)
        .optional()?;
    if let Some(own) = own {
        return Ok(own);
    }
    diesel::insert_into(categories::table)
        .values((
            categories::user_id.eq(user.0),
            categories::name.eq(IMPORT_CATEGORY_NAME),
            categories::name_key.eq(key),
            categories::priority_level.eq(1),
            categories::color.eq(IMPORT_CATEGORY_COLOR),
            categories::description.eq("Events created in Google Calendar"),
        ))
        .returning(categories::id)
        .get_results::<i64>(c)
        .and_then(super::first)
}

/// Whether `connection` (a `google_connected_at`) is still the user's live connection. On
/// PostgreSQL the user's row is locked `FOR SHARE` until the transaction ends, so that a
/// disconnect (which updates it) waits for a page being applied, or the page sees the
/// disconnect; SQLite has one writer at a time.
pub(super) fn still_connected(
    c: &mut AnyConnection,
    user: UserId,
    connection: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Connection {
        #[diesel(sql_type = Nullable<Timestamp>)]
        google_connected_at: Option<NaiveDateTime>,
    }
    let sql = |p: char, locking: &str| {
        format!(
            "SELECT google_connected_at FROM users \
             WHERE id = {p}1 AND google_calendar_token IS NOT NULL {locking}"
        )
    };
    let live: Vec<Connection> = match c {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql('?', ""))
            .bind::<BigInt, _>(user.0)
            .load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(sql('$', "FOR SHARE"))
            .bind::<BigInt, _>(user.0)
            .load(c)?,
    };
    Ok(live
        .first()
        .is_some_and(|live| live.google_connected_at == connection))
}

/// Stores an event made in Google (a single event, or a series' first occurrence): Phantom
/// takes Google's id as its own, and it starts synced. Returns its id.
fn insert_imported(
    c: &mut AnyConnection,
    user: UserId,
    category: i64,
    item: &GoogleEvent,
    fields: &EventFields,
    now: NaiveDateTime,
) -> QueryResult<EventId> {
    let ids: Vec<i64> = diesel::insert_into(events::table)
        .values((
            events::user_id.eq(user.0),
            events::category_id.eq(category),
            events::title.eq(&fields.title),
            events::description.eq(&fields.description),
            events::start_time.eq(to_db(fields.start_time)),
            events::end_time.eq(to_db(fields.end_time)),
            events::all_day.eq(fields.all_day),
            events::is_flexible.eq(false),
            events::is_completed.eq(false),
            events::google_event_id.eq(&item.id),
            events::google_calendar_id.eq(&item.id),
            events::origin.eq("google"),
            events::google_etag.eq(&item.etag),
            events::sync_status.eq(SyncStatus::Synced.as_str()),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .returning(events::id)
        .get_results(c)?;
    super::first(ids).map(EventId)
}

/// Applies one page of changes; nothing applied is queued back to Google (only the deletes
/// of events already deleted here are).
pub(super) fn apply(
    c: &mut AnyConnection,
    user: UserId,
    items: &[GoogleEvent],
    rules: ReadRules,
    now: DateTime<Utc>,
) -> QueryResult<Applied> {
    let now = to_db(now);
    let mut applied = Applied::default();
    // Looked up (or created) once per page, at the first import.
    let mut category = None;
    // Series before instances: an instance read in the same page as its (new) series
    // applies to it, whatever order Google listed them in.
    let (instances, others): (Vec<&GoogleEvent>, Vec<&GoogleEvent>) = items
        .iter()
        .partition(|i| i.recurrence.recurring_event_id.is_some());
    for item in others.into_iter().chain(instances) {
        if let Some((series, at)) = instance_of(item) {
            let series = known(c, user, &series, rules.zone)?;
            recurring::apply_instance(c, user, item, series, at, now, &mut applied)?;
            continue;
        }
        let known = known(c, user, &item.id, rules.zone)?;
        let buried = match known {
            Some(_) => None,
            None => tombstone(c, user, &item.id)?,
        };
        match decide(item, known.as_ref(), buried, &rules) {
            Action::Nothing(skip) => {
                tracing::debug!(google_event_id = %item.id, ?skip, "change read, nothing to do");
                if let Some(known) = known.filter(|k| item.etag.is_some() && k.etag != item.etag) {
                    // Equal content under a new etag: the next read of it is skipped sooner.
                    diesel::update(events::table.find(known.id.0))
                        .set(events::google_etag.eq(&item.etag))
                        .execute(c)?;
                }
                applied.unchanged += 1;
            }
            Action::Update {
                event,
                fields,
                drop_queued,
            } => {
                diesel::update(events::table.find(event.0))
                    .set((
                        events::title.eq(fields.title),
                        events::description.eq(fields.description),
                        events::start_time.eq(to_db(fields.start_time)),
                        events::end_time.eq(to_db(fields.end_time)),
                        events::all_day.eq(fields.all_day),
                        events::updated_at.eq(now),
                        events::sync_status.eq(SyncStatus::Synced.as_str()),
                        events::sync_error.eq(None::<String>),
                        events::google_etag.eq(&item.etag),
                    ))
                    .execute(c)?;
                if drop_queued {
                    diesel::delete(sync_outbox::table.filter(sync_outbox::event_id.eq(event.0)))
                        .execute(c)?;
                }
                tracing::info!(event_id = event.0, "edited in Google; applied");
                applied.updated += 1;
            }
            Action::UpdateSeries {
                event,
                fields,
                series,
                drop_queued,
            } => {
                diesel::update(events::table.find(event.0))
                    .set((
                        events::title.eq(&fields.title),
                        events::description.eq(&fields.description),
                        events::start_time.eq(to_db(fields.start_time)),
                        events::end_time.eq(to_db(fields.end_time)),
                        events::all_day.eq(fields.all_day),
                        events::updated_at.eq(now),
                        events::sync_status.eq(SyncStatus::Synced.as_str()),
                        events::sync_error.eq(None::<String>),
                        events::google_etag.eq(&item.etag),
                    ))
                    .execute(c)?;
                recurring::set_series(c, event, &fields, series.as_ref())?;
                if drop_queued {
                    diesel::delete(
                        sync_outbox::table
                            .filter(sync_outbox::event_id.eq(event.0))
                            .filter(sync_outbox::original_start.is_null()),
                    )
                    .execute(c)?;
                }
                tracing::info!(event_id = event.0, "series edited in Google; applied");
                applied.updated += 1;
            }
            Action::Overrule { event, fields } => {
                // Phantom's queued change is newer: it must bring Google back to Phantom's
                // version of every field Google's older edit touched.
                diesel::update(
                    sync_outbox::table
                        .filter(sync_outbox::event_id.eq(event.0))
                        .filter(sync_outbox::operation.eq("upsert")),
                )
                .set(
                    sync_outbox::fields
                        .eq(sql::<Integer>("fields | ").bind::<Integer, _>(fields.bits())),
                )
                .execute(c)?;
                tracing::debug!(
                    event_id = event.0,
                    "edited in Google before Phantom's queued change; ignored"
                );
                applied.unchanged += 1;
            }
            Action::Delete { event } => {
                diesel::delete(events::table.find(event.0)).execute(c)?;
                diesel::delete(sync_outbox::table.filter(sync_outbox::event_id.eq(event.0)))
                    .execute(c)?;
                bury(
                    c,
                    user.0,
                    &item.id,
                    event.0,
                    item.etag.as_deref(),
                    true,
                    now,
                )?;
                tracing::info!(event_id = event.0, "deleted in Google; deleted here");
                applied.deleted += 1;
            }
            Action::Import(fields) => {
                let category = match category {
                    Some(id) => id,
                    None => *category.insert(import_category(c, user)?),
                };
                let event = insert_imported(c, user, category, item, &fields, now)?;
                // Its `start.timeZone`, else the calendar's; all-day, the user's.
                let zone = series_zone(item, None, &rules);
                diesel::update(events::table.find(event.0))
                    .set(events::timezone.eq(zone.name()))
                    .execute(c)?;
                applied.imported += 1;
            }
            Action::ImportSeries(fields, series) => {
                let category = match category {
                    Some(id) => id,
                    None => *category.insert(import_category(c, user)?),
                };
                let event = insert_imported(c, user, category, item, &fields, now)?;
                recurring::set_series(c, event, &fields, Some(&series))?;
                applied.imported += 1;
            }
            Action::DeleteInGoogle { event } => {
                // On the revision just read.
                bury(
                    c,
                    user.0,
                    &item.id,
                    event.0,
                    item.etag.as_deref(),
                    false,
                    now,
                )?;
                enqueue(c, user.0, event.0, &item.id, Operation::Delete, None, now)?;
                tracing::info!(
                    event_id = event.0,
                    "deleted here, live in Google; deleting there"
                );
                applied.deleted_in_google += 1;
            }
        }
    }
    Ok(applied)
}
