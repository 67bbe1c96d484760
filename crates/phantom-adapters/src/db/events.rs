//! The event repository, and the outbox rows its writes queue in the same transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
use phantom_domain::error::RepoError;
use phantom_domain::event::{
    Event, EventDraft, EventFilter, EventPage, EventView, NewEvent, PageRequest,
};
use phantom_domain::google_changes::{EventFields, FieldSet};
use phantom_domain::ids::{CategoryId, EventId, UserId};
use phantom_domain::ports::EventRepository;
use phantom_domain::recurrence::OriginalStart;
use phantom_domain::series::{OccurrenceChange, SeriesView};
use phantom_domain::sync::{GoogleEventId, SyncStatus};

use super::connection::MultiBackend;
use super::error::{from_diesel, storage};
use super::schema::{categories, event_stats, events, sync_outbox, users};
use super::series;
use super::time::{from_db, to_db};
use super::{AnyConnection, Database, first};

#[derive(Queryable)]
pub(super) struct EventRow {
    id: i64,
    user_id: i64,
    category_id: i64,
    title: String,
    description: String,
    start_time: NaiveDateTime,
    end_time: NaiveDateTime,
    is_flexible: bool,
    is_completed: bool,
    google_event_id: String,
    google_calendar_id: Option<String>,
    sync_status: String,
    sync_error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    all_day: bool,
    origin: String,
    /// Only sync uses it (see `google_reads` and the outbox).
    _google_etag: Option<String>,
    recurrence: String,
    timezone: Option<String>,
    /// Only the span index uses it.
    _series_end: Option<NaiveDateTime>,
}

impl EventRow {
    /// Its start, as stored.
    pub(super) fn start(&self) -> NaiveDateTime {
        self.start_time
    }

    /// Its id.
    pub(super) fn id(&self) -> i64 {
        self.id
    }
}

/// An event row with its category's name and priority.
pub(super) type ViewRow = (EventRow, String, i32);

pub(super) fn into_view(
    (row, category_name, priority_level): ViewRow,
) -> Result<EventView, RepoError> {
    Ok(EventView {
        event: Event {
            id: EventId(row.id),
            user_id: UserId(row.user_id),
            category_id: CategoryId(row.category_id),
            title: row.title,
            description: row.description,
            start_time: from_db(row.start_time),
            end_time: from_db(row.end_time),
            is_flexible: row.is_flexible,
            is_completed: row.is_completed,
            all_day: row.all_day,
            origin: row.origin.parse().map_err(storage)?,
            google_event_id: GoogleEventId::from_stored(row.google_event_id),
            google_calendar_id: row.google_calendar_id,
            sync_status: row.sync_status.parse().map_err(storage)?,
            sync_error: row.sync_error,
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
            recurrence: split_lines(&row.recurrence),
            timezone: row
                .timezone
                .map(|zone| zone.parse())
                .transpose()
                .map_err(storage)?,
        },
        category_name,
        priority_level,
        occurrence: None,
    })
}

/// Stored `recurrence` lines: one per line, `''` for a single event.
pub(super) fn split_lines(stored: &str) -> Vec<String> {
    stored
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_null = true)]
pub(super) struct DraftRow {
    category_id: i64,
    title: String,
    description: String,
    start_time: NaiveDateTime,
    end_time: NaiveDateTime,
    is_flexible: bool,
    is_completed: bool,
    all_day: bool,
    recurrence: String,
    timezone: Option<String>,
    series_end: Option<NaiveDateTime>,
}

impl From<EventDraft> for DraftRow {
    fn from(d: EventDraft) -> Self {
        DraftRow {
            category_id: d.category.0,
            title: d.title,
            description: d.description,
            start_time: to_db(d.start_time),
            end_time: to_db(d.end_time),
            is_flexible: d.is_flexible,
            is_completed: d.is_completed,
            all_day: d.all_day,
            recurrence: d.recurrence.unwrap_or_default().join("\n"),
            timezone: d.timezone.map(|z| z.name().to_owned()),
            series_end: d.series_end.map(to_db),
        }
    }
}

/// What Google Calendar must be told about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    /// Its current state; of an event made in Google, only these fields.
    Upsert(FieldSet),
    Delete,
}

impl Operation {
    /// Every field: Phantom's own events, and events Google has to learn whole.
    pub(super) const UPSERT: Self = Operation::Upsert(FieldSet::ALL);

    fn as_str(self) -> &'static str {
        match self {
            Operation::Upsert(_) => "upsert",
            Operation::Delete => "delete",
        }
    }

    fn fields(self) -> FieldSet {
        match self {
            Operation::Upsert(fields) => fields,
            Operation::Delete => FieldSet::ALL,
        }
    }
}

/// The synced fields of the user's event, its row locked until the transaction ends (on
/// PostgreSQL; SQLite's one writer serialises writes anyway), so that what an update changed
/// is measured against what it overwrites.
fn locked_fields(
    c: &mut AnyConnection,
    user: UserId,
    id: EventId,
) -> QueryResult<Option<EventFields>> {
    let query = events::table
        .filter(events::id.eq(id.0))
        .filter(events::user_id.eq(user.0))
        .select((
            events::title,
            events::description,
            events::start_time,
            events::end_time,
            events::all_day,
        ));
    let row: Option<(String, String, NaiveDateTime, NaiveDateTime, bool)> = match c {
        AnyConnection::Postgresql(c) => query.for_update().first(c).optional()?,
        AnyConnection::Sqlite(c) => query.first(c).optional()?,
    };
    Ok(
        row.map(|(title, description, start, end, all_day)| EventFields {
            title,
            description,
            start_time: from_db(start),
            end_time: from_db(end),
            all_day,
        }),
    )
}

/// The synced fields a draft writes.
fn fields_of(draft: &EventDraft) -> EventFields {
    EventFields {
        title: draft.title.clone(),
        description: draft.description.clone(),
        start_time: draft.start_time,
        end_time: draft.end_time,
        all_day: draft.all_day,
    }
}

/// The status a change of this user's event starts in: `pending` when a sync is queued.
pub(super) fn is_connected(c: &mut AnyConnection, user: i64) -> QueryResult<bool> {
    users::table
        .find(user)
        .select(users::google_calendar_token.is_not_null())
        .first::<bool>(c)
}

pub(super) fn status_after_change(connected: bool) -> SyncStatus {
    if connected {
        SyncStatus::Pending
    } else {
        SyncStatus::NotConnected
    }
}

/// Marks the user due by `now` (or by the end of a pause) unless it already is: the claim
/// finds users by this mark. A leased user's mark is left alone: its worker sets it when it
/// releases the user. Parameters: 1 the user, 2 now.
fn mark_due_sql(p: char) -> String {
    let due = format!(
        "CASE WHEN google_sync_paused_until > {p}2 THEN google_sync_paused_until ELSE {p}2 END"
    );
    format!(
        "UPDATE users SET sync_due_at = {due} \
         WHERE id = {p}1 AND google_calendar_token IS NOT NULL AND NOT google_needs_reconnect \
           AND (sync_due_at IS NULL OR sync_due_at > {due}) \
           AND (sync_lease_until IS NULL OR sync_lease_until < {p}2)"
    )
}

/// Queues `op` for the event, collapsing it into a row already queued for the same event:
/// the operation is replaced, its fields join those queued before, `version` goes up (so a
/// worker that read the older version will not delete the row on success) and the row is
/// due now. The user is marked due. `fields`, the event's state after the change, is
/// remembered by its fingerprint among the row's queued versions (see
/// [`phantom_domain::google_changes::KnownEvent::queued_versions`]).
pub(super) fn enqueue(
    c: &mut AnyConnection,
    user: i64,
    event: i64,
    google_event_id: &str,
    op: Operation,
    fields: Option<&EventFields>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    enqueue_for(c, user, event, google_event_id, None, op, fields, now)
}

/// [`enqueue`] for one Google resource of the event: the event (or series) itself, or, with
/// `original_start` (the occurrence id's suffix), the series' instance `google_event_id`.
/// Rows collapse per Google resource, so a series' row and its instances' never swallow
/// each other.
#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub(super) fn enqueue_for(
    c: &mut AnyConnection,
    user: i64,
    event: i64,
    google_event_id: &str,
    original_start: Option<&str>,
    op: Operation,
    fields: Option<&EventFields>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = c {
        // Held shared until commit; a worker releasing the user takes it exclusively, so it
        // reads the user's queue only once this change is committed (see `release`). Shared:
        // the user's event writes never wait for each other.
        diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind::<BigInt, _>(user)
            .execute(c)?;
    }
    let version = fields.map_or_else(String::new, |f| format!("{:x},", f.fingerprint()));
    let same_resource = sync_outbox::table
        .filter(sync_outbox::event_id.eq(event))
        .filter(sync_outbox::google_event_id.eq(google_event_id));
    let updated = diesel::update(same_resource)
        .set((
            sync_outbox::operation.eq(op.as_str()),
            sync_outbox::fields
                .eq(sql::<Integer>("fields | ").bind::<Integer, _>(op.fields().bits())),
            sync_outbox::version.eq(sync_outbox::version + 1),
            sync_outbox::attempts.eq(0),
            sync_outbox::available_at.eq(now),
            sync_outbox::updated_at.eq(now),
            // The newest QUEUED_VERSIONS at most: past that the list starts again.
            sync_outbox::versions.eq(sql::<Text>("CASE WHEN length(versions) >= ")
                .bind::<Integer, _>(QUEUED_VERSIONS_CHARS)
                .sql(" THEN ")
                .bind::<Text, _>(version.clone())
                .sql(" ELSE versions || ")
                .bind::<Text, _>(version.clone())
                .sql(" END")),
        ))
        .execute(c)?;
    if updated == 0 {
        diesel::insert_into(sync_outbox::table)
            .values((
                sync_outbox::user_id.eq(user),
                sync_outbox::event_id.eq(event),
                sync_outbox::google_event_id.eq(google_event_id),
                sync_outbox::operation.eq(op.as_str()),
                sync_outbox::fields.eq(op.fields().bits()),
                sync_outbox::available_at.eq(now),
                sync_outbox::created_at.eq(now),
                sync_outbox::updated_at.eq(now),
                sync_outbox::versions.eq(version),
                sync_outbox::original_start.eq(original_start),
            ))
            .execute(c)?;
    }
    mark_due(c, user, now)
}

/// How many characters of fingerprints a row keeps (16 of them, `hex,` each at most 17).
const QUEUED_VERSIONS_CHARS: i32 = 16 * 17;

/// Runs [`mark_due_sql`]: the user has work due by `now`.
pub(super) fn mark_due(c: &mut AnyConnection, user: i64, now: NaiveDateTime) -> QueryResult<()> {
    match c {
        AnyConnection::Sqlite(c) => diesel::sql_query(mark_due_sql('?'))
            .bind::<BigInt, _>(user)
            .bind::<Timestamp, _>(now)
            .execute(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(mark_due_sql('$'))
            .bind::<BigInt, _>(user)
            .bind::<Timestamp, _>(now)
            .execute(c)?,
    };
    Ok(())
}

type Joined = diesel::dsl::InnerJoin<events::table, categories::table>;
pub(super) type Filtered<'a> = diesel::dsl::IntoBoxed<'a, Joined, MultiBackend>;
pub(super) type Own<'a> = diesel::dsl::IntoBoxed<'a, events::table, MultiBackend>;

/// Narrows a boxed query over `events` (joined or not) to `user`, to events starting at or
/// after `since`, and by every filter of `filter` but the priority (which needs the join).
macro_rules! narrowed {
    ($query:expr, $user:expr, $filter:expr, $since:expr, $singles:expr) => {{
        let (filter, mut query) = ($filter, $query.filter(events::user_id.eq($user.0)));
        if $singles {
            query = query.filter(events::recurrence.eq(""));
        }
        if let Some(since) = $since {
            query = query.filter(events::start_time.ge(since));
        }
        if let Some(start) = filter.start {
            query = query.filter(events::end_time.gt(to_db(start)));
        }
        if let Some(end) = filter.end {
            query = query.filter(events::start_time.lt(to_db(end)));
        }
        if let Some(category) = filter.category {
            query = query.filter(events::category_id.eq(category.0));
        }
        query
    }};
}

/// The user's events joined to their categories, narrowed by `filter`, and to those starting
/// at or after `since` (see [`earliest_start`]).
pub(super) fn filtered<'a>(
    user: UserId,
    filter: &EventFilter,
    since: Option<NaiveDateTime>,
    singles: bool,
) -> Filtered<'a> {
    let joined = events::table.inner_join(categories::table).into_boxed();
    let query = narrowed!(joined, user, filter, since, singles);
    match filter.priority {
        Some(priority) => query.filter(categories::priority_level.eq(priority)),
        None => query,
    }
}

/// [`filtered`] without the join: every filter but the priority, which the caller checks is
/// absent.
pub(super) fn own<'a>(
    user: UserId,
    filter: &EventFilter,
    since: Option<NaiveDateTime>,
    singles: bool,
) -> Own<'a> {
    narrowed!(events::table.into_boxed(), user, filter, since, singles)
}

/// What a list needs to know of the user's whole history, from `event_stats` (kept by
/// triggers on `events`, see the migration `event_stats`): a handful of rows, whatever the
/// history's length.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct History {
    /// The user's events.
    count: i64,
    /// At least the longest event the user ever stored, in seconds.
    longest_secs: i64,
}

pub(super) fn history(c: &mut AnyConnection, user: UserId) -> QueryResult<History> {
    let shards = event_stats::table
        .filter(event_stats::user_id.eq(user.0))
        .select((event_stats::event_count, event_stats::longest_secs))
        .load::<(i64, i64)>(c)?;
    Ok(shards
        .into_iter()
        .fold(History::default(), |h, (count, longest)| History {
            count: h.count + count,
            longest_secs: h.longest_secs.max(longest),
        }))
}

/// The earliest start an event meeting the filter's window can have: an event ending after
/// `filter.start` and lasting at most `longest_secs` started after `start - longest_secs`.
/// With it the overlap is bounded on both sides of the `(user_id, start_time)` index. `None`
/// (no bound) without a window start, or if the subtraction leaves chrono's range.
pub(super) fn earliest_start(filter: &EventFilter, history: History) -> Option<NaiveDateTime> {
    let start = to_db(filter.start?);
    start.checked_sub_signed(chrono::TimeDelta::try_seconds(history.longest_secs)?)
}

/// Runs `read` in one snapshot, so that the history figures, the count and the page agree
/// with each other whatever commits meanwhile: a read transaction on SQLite (WAL), a
/// read-only `REPEATABLE READ` one on PostgreSQL.
pub(super) fn in_snapshot<T>(
    c: &mut AnyConnection,
    read: impl FnOnce(&mut AnyConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    c.transaction(|c| {
        if let AnyConnection::Postgresql(pg) = c {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(pg)?;
        }
        read(c)
    })
}

/// How many of the user's events pass `filter`, reading no more than the filter's range:
/// the history's count for the unfiltered list, the complement of the later events for an
/// `end` alone, the bounded range (`since`) for a window.
pub(super) fn count_matching(
    c: &mut AnyConnection,
    user: UserId,
    filter: &EventFilter,
    since: Option<NaiveDateTime>,
    history: History,
    singles: bool,
) -> QueryResult<i64> {
    if filter.priority.is_some() {
        return filtered(user, filter, since, singles).count().get_result(c);
    }
    if filter.start.is_none() && filter.category.is_none() && !singles {
        let Some(end) = filter.end else {
            return Ok(history.count);
        };
        let later = own(user, &EventFilter::default(), None, false)
            .filter(events::start_time.ge(to_db(end)))
            .count()
            .get_result::<i64>(c)?;
        return Ok(history.count - later);
    }
    own(user, filter, since, singles).count().get_result(c)
}

/// The ids of one page, in `(start_time, id)` order, read from the index alone (no join,
/// unless the priority filter needs the category), then the page's rows with their
/// categories.
pub(super) fn page_rows(
    c: &mut AnyConnection,
    user: UserId,
    filter: &EventFilter,
    since: Option<NaiveDateTime>,
    limit: i64,
    offset: i64,
    singles: bool,
) -> QueryResult<Vec<ViewRow>> {
    let ids = if filter.priority.is_some() {
        filtered(user, filter, since, singles)
            .select(events::id)
            .order((events::start_time.asc(), events::id.asc()))
            .limit(limit)
            .offset(offset)
            .load::<i64>(c)?
    } else {
        own(user, filter, since, singles)
            .select(events::id)
            .order((events::start_time.asc(), events::id.asc()))
            .limit(limit)
            .offset(offset)
            .load::<i64>(c)?
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    events::table
        .inner_join(categories::table)
        .filter(events::id.eq_any(ids))
        .select((
            events::all_columns,
            categories::name,
            categories::priority_level,
        ))
        .order((events::start_time.asc(), events::id.asc()))
        .load::<ViewRow>(c)
}

/// The user's event `id` with its category's name and priority. A query of a fixed type (not
/// boxed, no `LIMIT`: the id is the primary key), so diesel finds its prepared statement by
/// type instead of writing its SQL again: it runs in every create and update, on the SQLite
/// writer's one thread.
pub(super) fn load_view(
    c: &mut AnyConnection,
    user: UserId,
    id: EventId,
) -> QueryResult<Option<ViewRow>> {
    Ok(events::table
        .inner_join(categories::table)
        .filter(events::id.eq(id.0))
        .filter(events::user_id.eq(user.0))
        .select((
            events::all_columns,
            categories::name,
            categories::priority_level,
        ))
        .load::<ViewRow>(c)?
        .pop())
}

/// Stores a new event and queues its insert; in the caller's transaction.
fn insert_in(c: &mut AnyConnection, new: NewEvent) -> QueryResult<ViewRow> {
    let user = new.user_id;
    let connected = is_connected(c, user.0)?;
    let now = to_db(new.created_at);
    let google_id = new.google_event_id.as_str();
    let fields = fields_of(&new.draft);
    let inserted = diesel::insert_into(events::table)
        .values((
            DraftRow::from(new.draft),
            events::user_id.eq(user.0),
            events::google_event_id.eq(google_id),
            events::origin.eq(new.origin.as_str()),
            events::sync_status.eq(status_after_change(connected).as_str()),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .returning(events::id)
        .get_results::<i64>(c)
        .and_then(first)?;
    if connected {
        enqueue(
            c,
            user.0,
            inserted,
            google_id,
            Operation::UPSERT,
            Some(&fields),
            now,
        )?;
    }
    load_view(c, user, EventId(inserted))?.ok_or(diesel::result::Error::NotFound)
}

/// Replaces the user's event's writable state, forgets the `dropped` occurrences and queues
/// the update; in the caller's transaction. `None` when the user has no such event.
fn update_in(
    c: &mut AnyConnection,
    user: UserId,
    id: EventId,
    draft: EventDraft,
    now: NaiveDateTime,
    dropped: &[OriginalStart],
) -> QueryResult<Option<ViewRow>> {
    let connected = is_connected(c, user.0)?;
    let Some(before) = locked_fields(c, user, id)? else {
        return Ok(None);
    };
    let after = fields_of(&draft);
    // A series' rule or zone is not among the fields a patch of a Google event carries:
    // a series is written whole.
    let series = draft.recurrence.as_ref().is_some_and(|r| !r.is_empty());
    let changed = if series {
        FieldSet::ALL
    } else {
        FieldSet::between(&before, &after)
    };
    let mine = events::table
        .filter(events::id.eq(id.0))
        .filter(events::user_id.eq(user.0));
    let google_ids = diesel::update(mine)
        .set((
            DraftRow::from(draft),
            events::sync_status.eq(status_after_change(connected).as_str()),
            events::updated_at.eq(now),
        ))
        .returning(events::google_event_id)
        .get_results::<String>(c)?;
    let Some(google_id) = google_ids.first() else {
        return Ok(None);
    };
    series::drop_changes(c, id.0, Some(dropped))?;
    if connected {
        let op = Operation::Upsert(changed);
        enqueue(c, user.0, id.0, google_id, op, Some(&after), now)?;
    }
    load_view(c, user, id)
}

/// [`EventRepository`] over the `events` table, queuing syncs in `sync_outbox`.
#[derive(Debug, Clone)]
pub struct DieselEventRepository {
    db: Database,
}

impl DieselEventRepository {
    /// A repository on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EventRepository for DieselEventRepository {
    async fn create(&self, new: NewEvent) -> Result<EventView, RepoError> {
        self.db
            .write(move |c| {
                let row = c.transaction(|c| insert_in(c, new)).map_err(from_diesel)?;
                into_view(row)
            })
            .await
    }

    async fn get(&self, user: UserId, id: EventId) -> Result<Option<EventView>, RepoError> {
        self.db
            .read(move |c| {
                load_view(c, user, id)
                    .map_err(from_diesel)?
                    .map(into_view)
                    .transpose()
            })
            .await
    }

    async fn update(
        &self,
        user: UserId,
        id: EventId,
        draft: EventDraft,
        updated_at: DateTime<Utc>,
        dropped: Vec<OriginalStart>,
    ) -> Result<Option<EventView>, RepoError> {
        self.db
            .write(move |c| {
                let row = c
                    .transaction(|c| update_in(c, user, id, draft, to_db(updated_at), &dropped))
                    .map_err(from_diesel)?;
                row.map(into_view).transpose()
            })
            .await
    }

    async fn get_series(&self, user: UserId, id: EventId) -> Result<Option<SeriesView>, RepoError> {
        self.db
            .read(move |c| {
                let Some(row) = load_view(c, user, id).map_err(from_diesel)? else {
                    return Ok(None);
                };
                let view = into_view(row)?;
                let changes = if view.event.is_series() {
                    series::changes_of(c, &[id.0]).map_err(from_diesel)?
                } else {
                    Vec::new()
                };
                Ok(Some(SeriesView {
                    view,
                    changes: changes.into_iter().map(|(_, change)| change).collect(),
                }))
            })
            .await
    }

    async fn range_sources(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<EventView>, Vec<SeriesView>), RepoError> {
        let filter = EventFilter {
            start: Some(from),
            end: Some(to),
            ..EventFilter::default()
        };
        self.db
            .read(move |c| {
                let (singles, spanning, changes) = in_snapshot(c, |c| {
                    let since = earliest_start(&filter, history(c, user)?);
                    let spanning = if series::has_series(c, user)? {
                        series::spanning(c, user, &filter)?
                    } else {
                        Vec::new()
                    };
                    let singles = filtered(user, &filter, since, !spanning.is_empty())
                        .select((
                            events::all_columns,
                            categories::name,
                            categories::priority_level,
                        ))
                        .order((events::start_time.asc(), events::id.asc()))
                        .load::<ViewRow>(c)?;
                    let ids: Vec<i64> = spanning.iter().map(|r| r.0.id()).collect();
                    let changes = series::changes_of(c, &ids)?;
                    Ok((singles, spanning, changes))
                })
                .map_err(from_diesel)?;
                let singles = singles
                    .into_iter()
                    .map(into_view)
                    .collect::<Result<_, _>>()?;
                // Each series' changes, moved out once: not a scan of every change per series.
                let mut by_series: HashMap<i64, Vec<_>> = HashMap::new();
                for (series, change) in changes {
                    by_series.entry(series).or_default().push(change);
                }
                let mut all = Vec::with_capacity(spanning.len());
                for row in spanning {
                    let view = into_view(row)?;
                    let own = by_series.remove(&view.event.id.0).unwrap_or_default();
                    all.push(SeriesView { view, changes: own });
                }
                Ok((singles, all))
            })
            .await
    }

    async fn put_occurrence(
        &self,
        user: UserId,
        series: EventId,
        change: OccurrenceChange,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.db
            .write(move |c| {
                c.transaction(|c| {
                    series::put_occurrence(c, user, series, &change, to_db(updated_at))
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn split(
        &self,
        user: UserId,
        series_id: EventId,
        old: EventDraft,
        at: OriginalStart,
        new: NewEvent,
    ) -> Result<Option<EventView>, RepoError> {
        self.db
            .write(move |c| {
                let row = c
                    .transaction(|c| {
                        let now = to_db(new.created_at);
                        let dropped = series::changes_from(c, series_id.0, at)?;
                        if update_in(c, user, series_id, old, now, &dropped)?.is_none() {
                            return Ok(None);
                        }
                        insert_in(c, new).map(Some)
                    })
                    .map_err(from_diesel)?;
                row.map(into_view).transpose()
            })
            .await
    }

    async fn delete(&self, user: UserId, id: EventId) -> Result<bool, RepoError> {
        self.db
            .write(move |c| {
                c.transaction(|c| {
                    let connected = is_connected(c, user.0)?;
                    let mine = events::table
                        .filter(events::id.eq(id.0))
                        .filter(events::user_id.eq(user.0));
                    let deleted = diesel::delete(mine)
                        .returning((
                            events::google_event_id,
                            events::google_etag,
                            events::google_calendar_id,
                        ))
                        .get_results::<(String, Option<String>, Option<String>)>(c)?;
                    let Some((google_id, etag, in_google)) = deleted.first() else {
                        return Ok(false);
                    };
                    // A series' occurrences and their queued instance writes go with it:
                    // deleting the Google series deletes its instances.
                    series::drop_changes(c, id.0, None)?;
                    let now = to_db(Utc::now());
                    // Even while disconnected, when Google may hold it: a read after
                    // reconnecting must neither bring it back nor leave it in Google. An event
                    // Google never held (never connected) needs no tombstone.
                    if connected || in_google.is_some() {
                        super::google_reads::bury(
                            c,
                            user.0,
                            google_id,
                            id.0,
                            etag.as_deref(),
                            false,
                            now,
                        )?;
                    }
                    if connected {
                        enqueue(c, user.0, id.0, google_id, Operation::Delete, None, now)?;
                    }
                    Ok(true)
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn list(
        &self,
        user: UserId,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<EventPage, RepoError> {
        self.db
            .read(move |c| {
                let offset = i64::try_from(page.offset()).map_err(storage)?;
                let (count, rows) = in_snapshot(c, |c| {
                    let history = history(c, user)?;
                    let since = earliest_start(&filter, history);
                    // A window's start is where a series' span and its first occurrence
                    // differ: only then are series listed apart (see `series::page`).
                    let series = match filter.start {
                        Some(_) if super::series::has_series(c, user)? => {
                            super::series::spanning(c, user, &filter)?
                        }
                        _ => Vec::new(),
                    };
                    if series.is_empty() {
                        let count = count_matching(c, user, &filter, since, history, false)?;
                        let rows = page_rows(
                            c,
                            user,
                            &filter,
                            since,
                            i64::from(page.size),
                            offset,
                            false,
                        )?;
                        return Ok((count, rows));
                    }
                    let singles = count_matching(c, user, &filter, since, history, true)?;
                    let count = singles + i64::try_from(series.len()).unwrap_or(i64::MAX);
                    let rows =
                        super::series::page(c, user, &filter, since, series, page.size, offset)?;
                    Ok((count, rows))
                })
                .map_err(from_diesel)?;
                Ok(EventPage {
                    count: u64::try_from(count).map_err(storage)?,
                    items: rows.into_iter().map(into_view).collect::<Result<_, _>>()?,
                })
            })
            .await
    }

    async fn list_all(
        &self,
        user: UserId,
        filter: EventFilter,
    ) -> Result<Vec<EventView>, RepoError> {
        self.db
            .read(move |c| {
                in_snapshot(c, |c| {
                    let since = earliest_start(&filter, history(c, user)?);
                    filtered(user, &filter, since, false)
                        .select((
                            events::all_columns,
                            categories::name,
                            categories::priority_level,
                        ))
                        .order((events::start_time.asc(), events::id.asc()))
                        .load::<ViewRow>(c)
                })
                .map_err(from_diesel)?
                .into_iter()
                .map(into_view)
                .collect()
            })
            .await
    }
}
