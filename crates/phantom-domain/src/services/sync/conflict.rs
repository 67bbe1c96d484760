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

use std::ops::ControlFlow;

use chrono::TimeDelta;

use super::{Lane, SyncService};
use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::event::{EventView, Origin};
use crate::google::Secret;
use crate::google_changes::{EventFields, FieldSet, GoogleEvent, GoogleTime, ReadRules, adapt_any};
use crate::ports::{Applied, OutboxEntry};
use crate::recurrence::{OriginalStart, parse_google_instance_id};
use crate::series::recurrence_of;
use crate::sync::{GoogleEventId, color_id_for_priority};
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

/// What `events.get` of a row's resource found.
enum Fetched {
    /// Google's version (a deleted event or cancelled instance: cancelled).
    Item(Box<GoogleEvent>),
    /// `404`/`410` for an instance: Google has no such instance of the series.
    NoInstance,
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
        match self
            .fetch_or_end(lane, entry, token, view, zone, fields)
            .await?
        {
            ControlFlow::Continue(item) => {
                self.settle_fetched(lane, entry, item, view, zone, fields)
                    .await
            }
            ControlFlow::Break(end) => Ok(end),
        }
    }

    /// Google's current version of the row's resource to settle against, or how the conflict
    /// ends without one: the worker stopped while waiting for a slot (`None`), Google failed,
    /// or Google has no such instance of the series ([`SyncService::settle_missing_instance`]).
    async fn fetch_or_end(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
        view: &EventView,
        zone: TimeZoneName,
        fields: FieldSet,
    ) -> Result<ControlFlow<Option<Result<Resolution, CalendarError>>, GoogleEvent>, RepoError>
    {
        Ok(match self.fetch(entry, token).await {
            None => ControlFlow::Break(None),
            Some(Ok(Fetched::Item(item))) => ControlFlow::Continue(*item),
            Some(Ok(Fetched::NoInstance)) => ControlFlow::Break(
                self.settle_missing_instance(lane, entry, token, view, zone, fields)
                    .await?,
            ),
            Some(Err(e)) => ControlFlow::Break(Some(Err(e))),
        })
    }

    /// Before the first write of an instance Phantom holds no etag of (neither written nor
    /// read in this connection): Google's instance may carry an edit Phantom has not read,
    /// which a blind patch would overwrite. The instance is fetched, and its series: an
    /// instance Google shows as its series gives it (never changed on its own there) takes
    /// Phantom's change, written on the fetched revision; one changed or cancelled in Google
    /// is settled by the conflict rule, as a `412` is. Two `events.get`, only on an
    /// occurrence's first write.
    pub(super) async fn check_unseen_instance(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
        view: &EventView,
        zone: TimeZoneName,
        fields: FieldSet,
    ) -> Result<Option<Result<Resolution, CalendarError>>, RepoError> {
        let item = match self
            .fetch_or_end(lane, entry, token, view, zone, fields)
            .await?
        {
            ControlFlow::Continue(item) => item,
            ControlFlow::Break(end) => return Ok(end),
        };
        if !item.cancelled
            && let Some(series_id) = view.event.google_calendar_id.clone()
        {
            if !self.pace(entry.user).await {
                return Ok(None);
            }
            let series_id = GoogleEventId::from_stored(series_id);
            match self.calendar.get(token, &series_id).await {
                Ok(series) if !series.cancelled && as_its_series_gives_it(&item, &series) => {
                    return Ok(Some(Ok(Resolution::PhantomWins {
                        etag: item.etag,
                        fields,
                    })));
                }
                Ok(_) | Err(CalendarError::Gone) => {}
                Err(e) => return Ok(Some(Err(e))),
            }
        }
        self.settle_fetched(lane, entry, item, view, zone, fields)
            .await
    }

    /// Google's current version of the row's resource (`events.get`), a `404`/`410` of a
    /// single event or series read as [`gone`]; `None` when the worker stopped while waiting
    /// for a slot.
    async fn fetch(
        &self,
        entry: &OutboxEntry,
        token: &Secret,
    ) -> Option<Result<Fetched, CalendarError>> {
        if !self.pace(entry.user).await {
            return None;
        }
        Some(
            match self.calendar.get(token, &entry.google_event_id).await {
                Ok(item) => Ok(Fetched::Item(Box::new(item))),
                Err(CalendarError::Gone) if entry.occurrence.is_some() => Ok(Fetched::NoInstance),
                Err(CalendarError::Gone) => Ok(Fetched::Item(Box::new(gone(entry)))),
                Err(e) => Err(e),
            },
        )
    }

    /// Settles an instance Google has no instance of at all (`404`/`410` on `events.get`).
    /// When the series Google holds is live and its current rule has no such occurrence (the
    /// series was moved or its rule changed there, since Phantom last read it), the person
    /// did not cancel it: the write is dropped and Phantom's own change of the occurrence
    /// with it, so that the occurrence is its series' as Google would show it if the rule
    /// came back (Phantom's later change of the series restoring it) and goes with the rule
    /// otherwise (the next read applies Google's). Else it was cancelled in Google, which is
    /// final.
    async fn settle_missing_instance(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
        view: &EventView,
        zone: TimeZoneName,
        fields: FieldSet,
    ) -> Result<Option<Result<Resolution, CalendarError>>, RepoError> {
        let outside = match self.outside_google_rule(entry, token, view, zone).await {
            None => return Ok(None),
            Some(Ok(outside)) => outside,
            Some(Err(e)) => return Ok(Some(Err(e))),
        };
        let base = if outside {
            self.series_base(entry).await?
        } else {
            None
        };
        let Some(base) = base else {
            return self
                .settle_fetched(lane, entry, gone(entry), view, zone, fields)
                .await;
        };
        if self
            .apply_fetched(lane, entry, &base, zone)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        tracing::info!(
            "the occurrence is not one of the series' rule in Google; Phantom's change of it dropped"
        );
        Ok(Some(Ok(Resolution::GoogleWon)))
    }

    /// Whether the series Google holds (`events.get` of it) is live and its rule has no
    /// occurrence named by the row; `None` when the worker stopped.
    async fn outside_google_rule(
        &self,
        entry: &OutboxEntry,
        token: &Secret,
        view: &EventView,
        zone: TimeZoneName,
    ) -> Option<Result<bool, CalendarError>> {
        let (Some(at), Some(series_id)) = (entry.occurrence, view.event.google_calendar_id.clone())
        else {
            return Some(Ok(false));
        };
        if !self.pace(entry.user).await {
            return None;
        }
        let series = match self
            .calendar
            .get(token, &GoogleEventId::from_stored(series_id))
            .await
        {
            Ok(series) => series,
            Err(CalendarError::Gone) => return Some(Ok(false)),
            Err(e) => return Some(Err(e)),
        };
        if series.cancelled {
            return Some(Ok(false));
        }
        let rule = adapt_any(&series, view.event.timezone, &self.read_rules(zone))
            .and_then(|(fields, shape)| shape?.rule(&fields));
        Some(Ok(rule.is_some_and(|rule| !rule.is_occurrence(at))))
    }

    /// The row's occurrence as its series in Phantom gives it, as an instance item Google
    /// holds now: applied, it drops Phantom's own change of the occurrence (and the queued
    /// write). `None` when the series or the occurrence is gone in Phantom meanwhile.
    async fn series_base(&self, entry: &OutboxEntry) -> Result<Option<GoogleEvent>, RepoError> {
        let (Some(at), Some(series_id)) = (
            entry.occurrence,
            parse_google_instance_id(entry.google_event_id.as_str()).map(|(s, _)| s.to_owned()),
        ) else {
            return Ok(None);
        };
        let whole = OutboxEntry {
            occurrence: None,
            ..entry.clone()
        };
        let Some((series, owner_zone)) = self.queue.current(&whole).await? else {
            return Ok(None);
        };
        let Some(Ok(rule)) = recurrence_of(&series.event, owner_zone) else {
            return Ok(None);
        };
        let Some(occurrence) = rule.occurrence_at(at) else {
            return Ok(None);
        };
        let (start, end) = match at {
            OriginalStart::At(_) => (
                GoogleTime::At(occurrence.start),
                GoogleTime::At(occurrence.end),
            ),
            OriginalStart::Day(day) => {
                let tz = rule.timing().zone.tz();
                let last = occurrence.end.with_timezone(&tz).date_naive();
                (GoogleTime::Day(day), GoogleTime::Day(last))
            }
        };
        let mut item = GoogleEvent::gone(entry.google_event_id.as_str());
        item.cancelled = false;
        item.summary = Some(series.event.title.clone());
        item.description = Some(series.event.description.clone());
        item.start = Some(start);
        item.end = Some(end);
        item.updated = Some(self.clock.now());
        item.recurrence.recurring_event_id = Some(series_id);
        item.recurrence.original_start = Some(match at {
            OriginalStart::At(at) => GoogleTime::At(at),
            OriginalStart::Day(day) => GoogleTime::Day(day),
        });
        Ok(Some(item))
    }

    /// Applies `item`, fetched from Google, as a read would; `None` when the user was
    /// disconnected meanwhile (nothing applied).
    async fn apply_fetched(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        item: &GoogleEvent,
        zone: TimeZoneName,
    ) -> Result<Option<Applied>, RepoError> {
        let applied = self
            .queue
            .apply_changes(
                entry.user,
                lane.connection,
                std::slice::from_ref(item),
                self.read_rules(zone),
                self.clock.now(),
            )
            .await?;
        Ok((!applied.disconnected).then_some(applied))
    }

    /// Applies Google's fetched version `item` as a read would, and says who won.
    async fn settle_fetched(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        item: GoogleEvent,
        view: &EventView,
        zone: TimeZoneName,
        fields: FieldSet,
    ) -> Result<Option<Result<Resolution, CalendarError>>, RepoError> {
        let Some(applied) = self.apply_fetched(lane, entry, &item, zone).await? else {
            return Ok(None);
        };
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

/// Whether Google's `instance` is what its `series` gives it: the series' title and
/// description, at its original start, lasting as long as the series' first occurrence.
fn as_its_series_gives_it(instance: &GoogleEvent, series: &GoogleEvent) -> bool {
    let length = |start: Option<GoogleTime>, end: Option<GoogleTime>| match (start, end) {
        (Some(GoogleTime::At(s)), Some(GoogleTime::At(e))) => Some((e - s).num_seconds()),
        (Some(GoogleTime::Day(s)), Some(GoogleTime::Day(e))) => Some((e - s).num_days()),
        _ => None,
    };
    instance.summary == series.summary
        && instance.description == series.description
        && instance.start.is_some()
        && instance.start == instance.recurrence.original_start
        && length(instance.start, instance.end).is_some()
        && length(instance.start, instance.end) == length(series.start, series.end)
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
