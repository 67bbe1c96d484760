//! A write Google refused with `412 conditionNotMet`: the event changed in Google since the
//! etag Phantom last saw. Every update, patch and delete is conditional on that etag, so an
//! older queued Phantom change can never overwrite a newer Google edit it has not read.
//!
//! The refusal is settled by the rule reads follow (API.md, "Conflicts"): Google's current
//! version is fetched (`events.get`) and applied as one read item would be, in one
//! transaction. If Google's change is the later one (or a deletion), Phantom takes it and the
//! queued change is dropped; if Phantom's is, it is written again on Google's new revision,
//! carrying every field in which Google now differs. Nothing is fetched unless Google
//! refuses, so the common case costs no extra call.

use chrono::TimeDelta;

use super::{Lane, SyncService};
use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::event::{EventView, Origin};
use crate::google::Secret;
use crate::google_changes::{EventFields, FieldSet, GoogleEvent, GoogleTime, ReadRules, adapt_any};
use crate::ports::OutboxEntry;
use crate::recurrence::{OriginalStart, parse_google_instance_id};
use crate::sync::color_id_for_priority;
use crate::timezone::TimeZoneName;

/// Conflicts settled within one attempt before the row waits for a later round (Google's
/// copy changed again between each fetch and write).
pub(super) const MAX_CONFLICTS: u32 = 2;

/// One write of an event's current state.
pub(super) struct Write<'a> {
    /// The event as Google should hold it.
    pub(super) event: &'a CalendarEvent,
    /// Made in Google: patched with `fields` only.
    pub(super) from_google: bool,
    /// The fields to patch.
    pub(super) fields: FieldSet,
    /// The etag the write is conditional on; `None`: Google has not held it yet.
    pub(super) if_match: Option<String>,
}

/// How a conflict ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resolution {
    /// Google's change is the later one, or a deletion: Phantom took it and dropped its
    /// queued change.
    GoogleWon,
    /// Phantom's change is the later one: write it again on this revision, with these fields.
    PhantomWins {
        /// Google's etag of its current version.
        etag: Option<String>,
        /// The queued fields and those in which Google's version differs.
        fields: FieldSet,
    },
}

impl SyncService {
    /// What the users' reads apply Google's changes with, for an owner in `zone`.
    pub(super) fn read_rules(&self, zone: TimeZoneName) -> ReadRules {
        let days = i64::from(self.reads.import_days_back);
        ReadRules {
            zone,
            import_from: self.clock.now() - TimeDelta::days(days),
            calendar_zone: None,
        }
    }

    /// Settles a `412` on the write of `view` (queued with `fields`): fetches Google's
    /// version and applies the conflict rule. `None` when the worker stopped while waiting
    /// for a slot, or when the user disconnected meanwhile (nothing was applied; the row
    /// stays as it is, and a reconnection queues every event again anyway).
    pub(super) async fn resolve_conflict(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
        view: &EventView,
        zone: TimeZoneName,
        fields: FieldSet,
    ) -> Result<Option<Result<Resolution, CalendarError>>, RepoError> {
        if !self.pace(entry.user).await {
            return Ok(None);
        }
        let item = match self.calendar.get(token, &entry.google_event_id).await {
            Ok(item) => item,
            Err(CalendarError::Gone) => gone(entry),
            Err(e) => return Ok(Some(Err(e))),
        };
        let applied = self
            .queue
            .apply_changes(
                entry.user,
                lane.connection,
                std::slice::from_ref(&item),
                self.read_rules(zone),
                self.clock.now(),
            )
            .await?;
        if applied.disconnected {
            return Ok(None);
        }
        let wanted = (view.event.origin == Origin::Phantom)
            .then(|| color_id_for_priority(view.priority_level));
        if applied.deleted > 0 || (applied.updated > 0 && !item.lacks_colour(wanted)) {
            tracing::info!(
                deleted = applied.deleted > 0,
                "changed in Google after Phantom's queued change; Google's change kept"
            );
            return Ok(Some(Ok(Resolution::GoogleWon)));
        }
        if applied.updated > 0 {
            // Google's edit won, yet Google lacks the colour Phantom owns: the queued write
            // stays, and now carries Google's fields along with the colour.
            tracing::info!(
                "changed in Google after Phantom's queued change; Google's change kept, Phantom's colour written"
            );
            return Ok(Some(Ok(Resolution::PhantomWins {
                etag: item.etag,
                fields,
            })));
        }
        let differing = differing(&item, view, self.read_rules(zone));
        tracing::info!("changed in Google before Phantom's queued change; writing Phantom's");
        Ok(Some(Ok(Resolution::PhantomWins {
            etag: item.etag,
            fields: fields.with(differing),
        })))
    }
}

/// What Google's `404`/`410` for the row's resource means: that event is gone, or (an
/// instance row) that occurrence of its series is cancelled.
fn gone(entry: &OutboxEntry) -> GoogleEvent {
    let id = entry.google_event_id.as_str();
    let mut item = GoogleEvent::gone(id);
    if entry.occurrence.is_some()
        && let Some((series, at)) = parse_google_instance_id(id)
    {
        item.recurrence.recurring_event_id = Some(series.to_owned());
        item.recurrence.original_start = Some(match at {
            OriginalStart::At(at) => GoogleTime::At(at),
            OriginalStart::Day(day) => GoogleTime::Day(day),
        });
    }
    item
}

/// The fields in which Google's version `item` differs from Phantom's `view`. A series'
/// rule and zone travel with its times: when Google holds another rule or zone (or no rule),
/// the times are marked, so that the write restoring Phantom's version carries its whole
/// Google shape.
fn differing(item: &GoogleEvent, view: &EventView, rules: ReadRules) -> FieldSet {
    let zone = rules.zone;
    let Some((google, shape)) = adapt_any(item, view.event.timezone, &rules) else {
        return FieldSet::ALL;
    };
    let mut differing = FieldSet::between(&EventFields::of(&view.event), &google);
    let mine = view
        .event
        .is_series()
        .then(|| (view.event.recurrence.clone(), view.event.zone(zone)));
    if shape.map(|s| (s.recurrence, s.zone)) != mine {
        differing = differing.with(FieldSet::TIMES);
    }
    differing
}

#[cfg(test)]
mod tests;
