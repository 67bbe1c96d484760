//! How the calendar finds, shows and stores instances and exceptions.

use chrono::{DateTime, Utc};

use super::instance::overrides;
use super::instance_id::parse_instance_id;
use super::rule::Schedule;
use crate::event::{EventStatus, StoredEvent};
use crate::state::Inner;

impl Inner {
    /// The stored series `id` of `owner`'s calendar and its schedule.
    pub(crate) fn series(&self, owner: &str, id: &str) -> Option<(&StoredEvent, Schedule)> {
        let series = self.event(owner, id)?;
        let schedule = Schedule::of(&series.fields).ok().flatten()?;
        Some((series, schedule))
    }

    /// The exception stored for `series`'s instance starting at `original`.
    fn exception(&self, series: &StoredEvent, original: DateTime<Utc>) -> Option<&StoredEvent> {
        self.calendars.get(&series.owner)?.iter().find(|event| {
            event.occurrence.as_ref().is_some_and(|occurrence| {
                occurrence.series == series.id && occurrence.original == original
            })
        })
    }

    /// The instance of `series` starting at `original`, its exception laid over.
    pub(crate) fn instance(
        &self,
        series: &StoredEvent,
        schedule: &Schedule,
        original: DateTime<Utc>,
    ) -> StoredEvent {
        schedule.instance(series, original, self.exception(series, original))
    }

    /// A stored event as served: an exception shows as its instance.
    pub(crate) fn view(&self, event: &StoredEvent) -> StoredEvent {
        let Some(occurrence) = &event.occurrence else {
            return event.clone();
        };
        match self.series(&event.owner, &occurrence.series) {
            Some((series, schedule)) => schedule.instance(series, occurrence.original, Some(event)),
            None => {
                // Its series is a single event now: only what names it is left.
                let mut orphan = event.clone();
                orphan.fields.retain(|_, value| !value.is_null());
                orphan
            }
        }
    }

    /// The event or instance `id` names in `owner`'s calendar, as served; an
    /// instance id must name an original start of a series exactly as Google
    /// spells it.
    pub(crate) fn lookup(&self, owner: &str, id: &str) -> Option<StoredEvent> {
        if let Some(stored) = self.event(owner, id) {
            return Some(self.view(stored));
        }
        let (series_id, stamp) = parse_instance_id(id)?;
        let (series, schedule) = self.series(owner, series_id)?;
        let original = stamp.instant(schedule.all_day)?;
        schedule
            .has_start(original)
            .then(|| self.instance(series, &schedule, original))
    }

    /// Stores a revision of `event` as [`Inner::commit`] does; an instance
    /// is stored as its series' exception, and a series' exceptions that are
    /// no longer instances of it are cancelled. Returns `event` as served.
    pub(crate) fn save(&mut self, event: StoredEvent) -> StoredEvent {
        let Some(occurrence) = event.occurrence.clone() else {
            let saved = self.commit(event);
            self.drop_stale_exceptions(&saved);
            return saved;
        };
        let Some((series, schedule)) = self.series(&event.owner, &occurrence.series) else {
            return self.commit(event);
        };
        let base = schedule.base_fields(series, occurrence.original);
        let mut exception = self
            .exception(series, occurrence.original)
            .cloned()
            .unwrap_or_else(|| {
                let mut new = StoredEvent::new(
                    event.id.clone(),
                    &event.owner,
                    Default::default(),
                    event.status,
                );
                new.occurrence = Some(occurrence);
                new
            });
        exception.fields = overrides(&base, &event.fields);
        exception.status = event.status;
        exception.sequence = event.sequence;
        let stored = self.commit(exception);
        self.view(&stored)
    }

    /// Cancels the live exceptions of `series` that are no longer its
    /// instances (the series was deleted, cut, moved or made single).
    fn drop_stale_exceptions(&mut self, series: &StoredEvent) {
        let schedule = Schedule::of(&series.fields).ok().flatten();
        let stale: Vec<StoredEvent> = self
            .calendars
            .get(&series.owner)
            .map(|events| {
                events
                    .iter()
                    .filter(|event| event.status != EventStatus::Cancelled)
                    .filter(|event| {
                        event.occurrence.as_ref().is_some_and(|occurrence| {
                            occurrence.series == series.id
                                && (series.status == EventStatus::Cancelled
                                    || !schedule.as_ref().is_some_and(|schedule| {
                                        schedule.has_start(occurrence.original)
                                    }))
                        })
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for mut exception in stale {
            exception.cancel();
            self.commit(exception);
        }
    }
}
