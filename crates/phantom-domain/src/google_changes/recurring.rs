//! Series and their instances read back from Google (`singleEvents=false`): a series comes
//! as one item with `recurrence`, its changed and cancelled occurrences as items with
//! `recurringEventId` and `originalStartTime`. The rules are the single events' (later change
//! wins, deletion final, no echo), applied to the series as a whole and to each occurrence.

use chrono::{DateTime, Utc};

use super::{EventFields, GoogleEvent, GoogleTime, KnownEvent, ReadRules, Skip, adapt};
use crate::ids::EventId;
use crate::ports::SyncOperation;
use crate::recurrence::{OriginalStart, Recurrence, SeriesTiming, parse_google_instance_id};
use crate::timezone::TimeZoneName;

/// What makes an event a series, beside the fields it shares with single events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesFields {
    /// Its normalised `recurrence` lines ([`Recurrence::lines`]).
    pub recurrence: Vec<String>,
    /// The zone it repeats in.
    pub zone: TimeZoneName,
}

impl SeriesFields {
    /// The rule of a series with these `fields`; `None` when it cannot be read.
    pub fn rule(&self, fields: &EventFields) -> Option<Recurrence> {
        Recurrence::parse(&self.recurrence, timing(fields, self.zone)).ok()
    }
}

fn timing(fields: &EventFields, zone: TimeZoneName) -> SeriesTiming {
    SeriesTiming {
        start: fields.start_time,
        end: fields.end_time,
        zone,
        all_day: fields.all_day,
    }
}

/// The zone a series read from Google repeats in: a timed series' `start.timeZone`, else the
/// calendar's `timeZone`, else the zone Phantom holds it in, else the user's; an all-day series
/// (dates, no zone) the zone Phantom holds it in, else the user's.
pub fn series_zone(
    item: &GoogleEvent,
    held: Option<TimeZoneName>,
    rules: &ReadRules,
) -> TimeZoneName {
    if matches!(item.start, Some(GoogleTime::Day(_))) {
        return held.unwrap_or(rules.zone);
    }
    item.time_zone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .or(rules.calendar_zone)
        .or(held)
        .unwrap_or(rules.zone)
}

/// A series item's fields in Phantom's terms, its rule normalised through
/// [`Recurrence::parse`]; a single event's with `None`. `None` when unreadable (no times, or
/// a rule Phantom cannot take).
pub fn adapt_any(
    item: &GoogleEvent,
    held: Option<TimeZoneName>,
    rules: &ReadRules,
) -> Option<(EventFields, Option<SeriesFields>)> {
    if item.recurrence.rules.is_empty() {
        return adapt(item, rules.zone).map(|f| (f, None));
    }
    let zone = series_zone(item, held, rules);
    let fields = adapt(item, zone)?;
    let rule = Recurrence::parse(&item.recurrence.rules, timing(&fields, zone)).ok()?;
    let series = SeriesFields {
        recurrence: rule.lines(),
        zone,
    };
    Some((fields, Some(series)))
}

/// True when the series `fields`/`series` has no occurrence ending at `from` or later.
pub fn ended_before(fields: &EventFields, series: &SeriesFields, from: DateTime<Utc>) -> bool {
    match series.rule(fields) {
        Some(rule) => rule.span().last_end.is_some_and(|end| end < from),
        None => fields.end_time < from,
    }
}

/// Which series and occurrence an instance item names: Google's series id and the original
/// start (from `originalStartTime`, else from the instance id). `None` for any other item.
pub fn instance_of(item: &GoogleEvent) -> Option<(String, OriginalStart)> {
    let series = item.recurrence.recurring_event_id.as_deref()?;
    let at = match item.recurrence.original_start {
        Some(GoogleTime::At(at)) => OriginalStart::At(at),
        Some(GoogleTime::Day(day)) => OriginalStart::Day(day),
        None => parse_google_instance_id(&item.id)?.1,
    };
    Some((series.to_owned(), at))
}

/// Phantom's side of an occurrence Google returned an instance of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownOccurrence {
    /// The series.
    pub series: EventId,
    /// Its fields as Phantom shows it (the series' own where it was not changed on its own).
    pub fields: EventFields,
    /// Cancelled in Phantom.
    pub cancelled: bool,
    /// When it (or, never changed on its own, its series) last changed in Phantom.
    pub updated_at: DateTime<Utc>,
    /// A write of this instance waiting to reach Google.
    pub queued: Option<SyncOperation>,
    /// Google's etag of the instance as Phantom last wrote or read it.
    pub etag: Option<String>,
}

/// What Phantom does with one instance item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAction {
    /// Nothing, for this reason.
    Nothing(Skip),
    /// Take Google's fields for the occurrence (dropping an older queued write of it).
    Change {
        /// Google's fields, adapted.
        fields: EventFields,
        /// Drop the queued (older) Phantom write.
        drop_queued: bool,
    },
    /// Cancelled in Google: cancel it here (and drop any queued write of it).
    Cancel,
}

/// What an instance `item` means for the occurrence Phantom holds (`None`: Phantom does not
/// hold the series, or the series has no such occurrence), a series repeating in `zone`.
pub fn decide_instance(
    item: &GoogleEvent,
    known: Option<&KnownOccurrence>,
    zone: TimeZoneName,
) -> InstanceAction {
    let Some(known) = known else {
        return InstanceAction::Nothing(Skip::SeriesNotHeld);
    };
    if item.cancelled {
        return if known.cancelled {
            InstanceAction::Nothing(Skip::Gone)
        } else {
            InstanceAction::Cancel
        };
    }
    if known.cancelled {
        return InstanceAction::Nothing(Skip::DeletedHere);
    }
    if item.etag.is_some() && item.etag == known.etag {
        return InstanceAction::Nothing(Skip::Same);
    }
    let Some(fields) = adapt(item, zone) else {
        return InstanceAction::Nothing(Skip::Unreadable);
    };
    if fields == known.fields {
        return InstanceAction::Nothing(Skip::Same);
    }
    let queued = known.queued.is_some();
    if queued && item.updated.is_none_or(|google| google <= known.updated_at) {
        // Phantom's queued write is the later change: it restores Phantom's version.
        return InstanceAction::Nothing(Skip::Older);
    }
    InstanceAction::Change {
        fields,
        drop_queued: queued,
    }
}

/// The zone of a series Phantom holds.
pub(super) fn known_series(known: &KnownEvent) -> Option<TimeZoneName> {
    known.series.as_ref().map(|s| s.zone)
}
