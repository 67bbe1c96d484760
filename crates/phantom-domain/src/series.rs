//! Series as stored events: a series' row (its first occurrence, its rule, its zone), the
//! occurrences changed or cancelled on their own, and the view of one occurrence (the series'
//! fields overlaid by its own). Expansion itself is [`crate::recurrence`]'s.

use chrono::{DateTime, Utc};

use crate::event::{Event, EventView, OccurrenceOf};
use crate::ids::CategoryId;
use crate::recurrence::{
    Occurrence, OccurrenceKey, OriginalStart, Recurrence, RecurrenceError, RuleCache, SeriesTiming,
};
use crate::timezone::TimeZoneName;

/// An occurrence changed or cancelled on its own, keyed by its series and original start.
/// A `None` field is the series' own value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OccurrenceChange {
    /// Which occurrence (`None` only in a default value being built).
    pub original_start: Option<OriginalStart>,
    /// Its own title.
    pub title: Option<String>,
    /// Its own description.
    pub description: Option<String>,
    /// Its own category, with the category's name and priority as read.
    pub category: Option<(CategoryId, String, i32)>,
    /// Its own start.
    pub start_time: Option<DateTime<Utc>>,
    /// Its own end.
    pub end_time: Option<DateTime<Utc>>,
    /// Its own flexibility.
    pub is_flexible: Option<bool>,
    /// Its own completion.
    pub is_completed: Option<bool>,
    /// Its own whole-day flag.
    pub all_day: Option<bool>,
    /// Deleted ("this event"): it does not appear, and Google's instance is deleted.
    pub cancelled: bool,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A series with its changed and cancelled occurrences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesView {
    /// The series (its first occurrence's times, its rule).
    pub view: EventView,
    /// Its changed and cancelled occurrences.
    pub changes: Vec<OccurrenceChange>,
}

/// The timing of a series stored as `event`.
pub fn timing_of(event: &Event, owner_zone: TimeZoneName) -> SeriesTiming {
    SeriesTiming {
        start: event.start_time,
        end: event.end_time,
        zone: event.zone(owner_zone),
        all_day: event.all_day,
    }
}

/// The rule of a stored series; `None` for a single event.
pub fn recurrence_of(
    event: &Event,
    owner_zone: TimeZoneName,
) -> Option<Result<Recurrence, RecurrenceError>> {
    event
        .is_series()
        .then(|| Recurrence::parse(&event.recurrence, timing_of(event, owner_zone)))
}

/// The view of occurrence `occurrence` of `series`: the series' fields, overlaid by
/// `change`'s own, with its own times, id and original start, and no `recurrence`.
pub fn occurrence_view(
    series: &EventView,
    rule: &Recurrence,
    occurrence: Occurrence,
    change: Option<&OccurrenceChange>,
) -> EventView {
    let mut view = series.clone();
    let e = &mut view.event;
    e.start_time = occurrence.start;
    e.end_time = occurrence.end;
    e.recurrence = Vec::new();
    e.timezone = Some(rule.timing().zone);
    if let Some(c) = change {
        if let Some(title) = &c.title {
            e.title.clone_from(title);
        }
        if let Some(description) = &c.description {
            e.description.clone_from(description);
        }
        if let Some((id, name, priority)) = &c.category {
            e.category_id = *id;
            view.category_name.clone_from(name);
            view.priority_level = *priority;
        }
        e.start_time = c.start_time.unwrap_or(e.start_time);
        e.end_time = c.end_time.unwrap_or(e.end_time);
        e.is_flexible = c.is_flexible.unwrap_or(e.is_flexible);
        e.is_completed = c.is_completed.unwrap_or(e.is_completed);
        e.all_day = c.all_day.unwrap_or(e.all_day);
        if let Some(updated) = c.updated_at {
            e.updated_at = updated;
        }
    }
    view.occurrence = Some(OccurrenceOf {
        key: OccurrenceKey {
            series: view.event.id,
            original_start: occurrence.original_start,
        },
        original_start_time: occurrence.start,
    });
    view
}

/// The live occurrences of `series` (not cancelled, as changed) meeting `[from, to)`, by
/// start: the rule's occurrences in the window, and the changed ones moved into it. Its rule
/// is parsed through `rules`. An unreadable stored rule (it cannot be: rules are checked
/// before they are stored) shows the series' first occurrence only.
pub fn expand(
    series: &SeriesView,
    owner_zone: TimeZoneName,
    rules: &RuleCache,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<EventView> {
    let event = &series.view.event;
    let rule = event
        .is_series()
        .then(|| rules.parse(&event.recurrence, timing_of(event, owner_zone)));
    let Some(Ok(rule)) = rule else {
        let mut only = series.view.clone();
        only.event.recurrence = Vec::new();
        return if crate::event::intersects(event.start_time, event.end_time, from, to) {
            vec![only]
        } else {
            Vec::new()
        };
    };
    let changed = |m: OriginalStart| series.changes.iter().find(|c| c.original_start == Some(m));
    let mut out: Vec<EventView> = rule
        .occurrences(from, to)
        .into_iter()
        .filter(|o| changed(o.original_start).is_none())
        .map(|o| occurrence_view(&series.view, &rule, o, None))
        .collect();
    for change in series.changes.iter().filter(|c| !c.cancelled) {
        let Some(occurrence) = change.original_start.and_then(|m| rule.occurrence_at(m)) else {
            continue;
        };
        let view = occurrence_view(&series.view, &rule, occurrence, Some(change));
        if crate::event::intersects(view.event.start_time, view.event.end_time, from, to) {
            out.push(view);
        }
    }
    out.sort_by_key(|v| (v.event.start_time, v.event.id));
    out
}

/// The live occurrence `at` of `series`, as changed; `None` when `at` names none (not an
/// occurrence of the rule, or cancelled).
pub fn occurrence(
    series: &SeriesView,
    owner_zone: TimeZoneName,
    at: OriginalStart,
) -> Option<EventView> {
    let rule = recurrence_of(&series.view.event, owner_zone)?.ok()?;
    let occurrence = rule.occurrence_at(at)?;
    let change = series.changes.iter().find(|c| c.original_start == Some(at));
    if change.is_some_and(|c| c.cancelled) {
        return None;
    }
    Some(occurrence_view(&series.view, &rule, occurrence, change))
}
