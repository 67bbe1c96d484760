//! Series and instances read from Google, in the database: a series' rule, zone and span
//! with its fields, and an instance's change or cancellation on its occurrence's row.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use phantom_domain::google_changes::{
    EventFields, GoogleEvent, InstanceAction, KnownEvent, KnownOccurrence, SeriesFields, Skip,
    decide_instance,
};
use phantom_domain::ids::{EventId, UserId};
use phantom_domain::ports::{Applied, SyncOperation};
use phantom_domain::recurrence::OriginalStart;
use phantom_domain::sync::SyncStatus;

use super::super::AnyConnection;
use super::super::schema::{event_occurrences as occ, events, sync_outbox};
use super::super::series::drop_changes;
use super::super::time::{from_db, to_db};

/// Writes a series' rule, zone and span (or, `None`, makes it a single event), and drops
/// the occurrences changed or cancelled on their own that the rule no longer has.
pub(super) fn set_series(
    c: &mut AnyConnection,
    event: EventId,
    fields: &EventFields,
    series: Option<&SeriesFields>,
) -> QueryResult<()> {
    let Some(series) = series else {
        diesel::update(events::table.find(event.0))
            .set((
                events::recurrence.eq(""),
                events::series_end.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
        return drop_changes(c, event.0, None);
    };
    let rule = series.rule(fields);
    let series_end = rule.as_ref().and_then(|r| r.span().last_end).map(to_db);
    diesel::update(events::table.find(event.0))
        .set((
            events::recurrence.eq(series.recurrence.join("\n")),
            events::timezone.eq(series.zone.name()),
            events::series_end.eq(series_end),
        ))
        .execute(c)?;
    let keys: Vec<String> = occ::table
        .filter(occ::series_id.eq(event.0))
        .select(occ::original_start)
        .load(c)?;
    let stale: Vec<OriginalStart> = keys
        .iter()
        .filter_map(|k| OriginalStart::parse_id_suffix(k))
        .filter(|at| !rule.as_ref().is_some_and(|r| r.is_occurrence(*at)))
        .collect();
    drop_changes(c, event.0, Some(&stale))
}

type OccRow = (
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<bool>,
    bool,
    NaiveDateTime,
    Option<String>,
);

/// Applies one instance item of the series Google knows as `series_google_id`, occurrence
/// `at`: nothing when Phantom does not hold that series (or it has no such occurrence).
pub(super) fn apply_instance(
    c: &mut AnyConnection,
    user: UserId,
    item: &GoogleEvent,
    series: Option<KnownEvent>,
    at: OriginalStart,
    now: NaiveDateTime,
    applied: &mut Applied,
) -> QueryResult<()> {
    let held = series.and_then(|s| s.series.clone().map(|f| (s, f)));
    let Some((series, shape)) = held else {
        tracing::debug!(google_event_id = %item.id, "an instance of a series not held here");
        applied.unchanged += 1;
        return Ok(());
    };
    let key = at.id_suffix();
    let row: Option<OccRow> = occ::table
        .filter(occ::series_id.eq(series.id.0))
        .filter(occ::original_start.eq(&key))
        .select((
            occ::title,
            occ::description,
            occ::start_time,
            occ::end_time,
            occ::all_day,
            occ::cancelled,
            occ::updated_at,
            occ::google_etag,
        ))
        .first(c)
        .optional()?;
    let queued: Option<String> = sync_outbox::table
        .filter(sync_outbox::event_id.eq(series.id.0))
        .filter(sync_outbox::original_start.eq(&key))
        .select(sync_outbox::operation)
        .first(c)
        .optional()?;
    let rule = shape.rule(&series.fields);
    let occurrence = rule.as_ref().and_then(|r| r.occurrence_at(at));
    let own = |row: &OccRow| row.clone();
    let known = occurrence.map(|o| {
        let (title, description, start, end, all_day, cancelled, updated_at, etag) =
            row.as_ref().map(own).unwrap_or((
                None,
                None,
                None,
                None,
                None,
                false,
                to_db(series.updated_at),
                None,
            ));
        KnownOccurrence {
            series: series.id,
            fields: EventFields {
                title: title.unwrap_or_else(|| series.fields.title.clone()),
                description: description.unwrap_or_else(|| series.fields.description.clone()),
                start_time: start.map_or(o.start, from_db),
                end_time: end.map_or(o.end, from_db),
                all_day: all_day.unwrap_or(series.fields.all_day),
            },
            cancelled,
            updated_at: from_db(updated_at),
            queued: queued.as_deref().map(|op| {
                if op == "delete" {
                    SyncOperation::Delete
                } else {
                    SyncOperation::Upsert
                }
            }),
            etag,
        }
    });
    let drop_queued = |c: &mut AnyConnection| -> QueryResult<()> {
        diesel::delete(
            sync_outbox::table
                .filter(sync_outbox::event_id.eq(series.id.0))
                .filter(sync_outbox::original_start.eq(&key)),
        )
        .execute(c)?;
        // Google's change of the occurrence won over Phantom's queued write of it: with that
        // write gone and nothing else queued for the series, the series is as Google holds it.
        let queued: i64 = sync_outbox::table
            .filter(sync_outbox::event_id.eq(series.id.0))
            .count()
            .get_result(c)?;
        if queued == 0 {
            diesel::update(events::table.find(series.id.0))
                .set((
                    events::sync_status.eq(SyncStatus::Synced.as_str()),
                    events::sync_error.eq(None::<String>),
                ))
                .execute(c)?;
        }
        Ok(())
    };
    match decide_instance(item, known.as_ref(), shape.zone) {
        InstanceAction::Nothing(skip) => {
            tracing::debug!(google_event_id = %item.id, ?skip, "instance read, nothing to do");
            let stale_etag = row
                .as_ref()
                .is_some_and(|r| item.etag.is_some() && r.7 != item.etag);
            if stale_etag && skip == Skip::Same {
                diesel::update(
                    occ::table
                        .filter(occ::series_id.eq(series.id.0))
                        .filter(occ::original_start.eq(&key)),
                )
                .set(occ::google_etag.eq(&item.etag))
                .execute(c)?;
            }
            applied.unchanged += 1;
        }
        InstanceAction::Change {
            fields,
            drop_queued: drop,
        } => {
            let Some(o) = occurrence else {
                return Ok(());
            };
            let differs = |mine: &String, series: &String| (mine != series).then(|| mine.clone());
            let values = (
                occ::title.eq(differs(&fields.title, &series.fields.title)),
                occ::description.eq(differs(&fields.description, &series.fields.description)),
                occ::start_time
                    .eq((fields.start_time != o.start).then(|| to_db(fields.start_time))),
                occ::end_time.eq((fields.end_time != o.end).then(|| to_db(fields.end_time))),
                occ::all_day
                    .eq((fields.all_day != series.fields.all_day).then_some(fields.all_day)),
                occ::cancelled.eq(false),
                occ::updated_at.eq(now),
                occ::google_etag.eq(&item.etag),
            );
            ensure_row(c, user, series.id, &key, row.is_some(), now)?;
            diesel::update(
                occ::table
                    .filter(occ::series_id.eq(series.id.0))
                    .filter(occ::original_start.eq(&key)),
            )
            .set(values)
            .execute(c)?;
            if drop {
                drop_queued(c)?;
            }
            tracing::info!(event_id = series.id.0, occurrence = %key, "instance edited in Google; applied");
            applied.updated += 1;
        }
        InstanceAction::Cancel => {
            let values = (
                occ::cancelled.eq(true),
                occ::updated_at.eq(now),
                occ::google_etag.eq(&item.etag),
            );
            ensure_row(c, user, series.id, &key, row.is_some(), now)?;
            diesel::update(
                occ::table
                    .filter(occ::series_id.eq(series.id.0))
                    .filter(occ::original_start.eq(&key)),
            )
            .set(values)
            .execute(c)?;
            drop_queued(c)?;
            tracing::info!(event_id = series.id.0, occurrence = %key, "instance cancelled in Google; cancelled here");
            applied.deleted += 1;
        }
    }
    Ok(())
}

/// Makes the occurrence's row unless it `exists` (its fields then are the series' own).
fn ensure_row(
    c: &mut AnyConnection,
    user: UserId,
    series: EventId,
    key: &str,
    exists: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    if !exists {
        diesel::insert_into(occ::table)
            .values((
                occ::series_id.eq(series.0),
                occ::original_start.eq(key),
                occ::user_id.eq(user.0),
                occ::updated_at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(())
}
