//! Changes a person makes in Google Calendar itself (the web or phone app),
//! not through the API: each is a revision like an API write, with a new
//! `updated` and etag, and a notification to every live channel.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::{EmulatedEvent, EventDateTime, EventStatus, StoredEvent};
use crate::instances::series_instances;
use crate::listing::Selection;
use crate::state::{AppState, random_event_id};
use crate::validation::validate;

/// The fields a person changes in Google Calendar's own apps. `None` leaves
/// a field as it is; an empty string removes a text field. `start` and `end`
/// replace the whole boundary, so moving an event to all-day takes both as
/// dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventEdit {
    /// Title.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Start: [`EventDateTime::timed`] or [`EventDateTime::all_day`].
    pub start: Option<EventDateTime>,
    /// End (exclusive).
    pub end: Option<EventDateTime>,
    /// Colour, `"1"`..=`"11"`.
    pub color_id: Option<String>,
    /// RRULE, EXRULE, RDATE and EXDATE lines; an empty list removes them.
    pub recurrence: Option<Vec<String>>,
}

impl EventEdit {
    /// Applies the edit to an event's stored fields.
    fn apply(self, fields: &mut Map<String, Value>) {
        let mut text = |key: &str, value: Option<String>| match value {
            None => {}
            Some(value) if value.is_empty() => {
                fields.remove(key);
            }
            Some(value) => {
                fields.insert(key.to_owned(), value.into());
            }
        };
        text("summary", self.summary);
        text("description", self.description);
        text("location", self.location);
        text("colorId", self.color_id);
        for (key, boundary) in [("start", self.start), ("end", self.end)] {
            if let Some(boundary) = boundary
                && let Ok(value) = serde_json::to_value(boundary)
            {
                fields.insert(key.to_owned(), value);
            }
        }
        match self.recurrence {
            None => {}
            Some(lines) if lines.is_empty() => {
                fields.remove("recurrence");
            }
            Some(lines) => {
                fields.insert("recurrence".to_owned(), lines.into());
            }
        }
    }
}

/// Why a change "in Google" was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The calendar has no event with that id.
    #[error("no event {id} in the calendar of {owner}")]
    NotFound {
        /// The calendar's owner.
        owner: String,
        /// The event id.
        id: String,
    },
    /// The event was deleted; deletions are final.
    #[error("event {0} was deleted")]
    Deleted(String),
    /// Google Calendar would not save this (e.g. an end before the start).
    #[error("invalid event: {0}")]
    Invalid(String),
}

impl AppState {
    /// The calendar a control names: `"primary"` is the default user's.
    pub(crate) fn calendar_owner(&self, owner: &str) -> String {
        if owner == "primary" {
            self.config.default_user.clone()
        } else {
            owner.to_owned()
        }
    }

    /// Creates an event with a Google-chosen id.
    pub(crate) fn create_event(
        &self,
        owner: &str,
        edit: EventEdit,
    ) -> Result<EmulatedEvent, EditError> {
        let owner = self.calendar_owner(owner);
        let mut fields = Map::new();
        edit.apply(&mut fields);
        validate(&fields).map_err(|error| EditError::Invalid(error.message().to_owned()))?;
        let mut inner = self.lock();
        let mut id = random_event_id();
        while inner.event(&owner, &id).is_some() {
            id = random_event_id();
        }
        let event = StoredEvent::new(id, &owner, fields, EventStatus::Confirmed);
        Ok(inner.save(event).to_public())
    }

    /// Changes the given fields of a live event, or of one instance of a
    /// series (stored as its exception).
    pub(crate) fn edit_event(
        &self,
        owner: &str,
        id: &str,
        edit: EventEdit,
    ) -> Result<EmulatedEvent, EditError> {
        let owner = self.calendar_owner(owner);
        let mut inner = self.lock();
        let mut event = live(inner.lookup(&owner, id), &owner, id)?;
        if event.occurrence.is_some() && edit.recurrence.is_some() {
            return Err(EditError::Invalid(
                "an instance follows its series' rule".to_owned(),
            ));
        }
        let mut fields = event.fields.clone();
        edit.apply(&mut fields);
        validate(&fields).map_err(|error| EditError::Invalid(error.message().to_owned()))?;
        let status = event.status;
        event.replace(fields, status);
        Ok(inner.save(event).to_public())
    }

    /// Deletes a live event, leaving its tombstone, or cancels one instance
    /// of a series; returns the tombstone (the cancelled instance).
    pub(crate) fn delete_event(&self, owner: &str, id: &str) -> Result<EmulatedEvent, EditError> {
        let owner = self.calendar_owner(owner);
        let mut inner = self.lock();
        let mut event = live(inner.lookup(&owner, id), &owner, id)?;
        event.cancel();
        Ok(inner.save(event).to_public())
    }

    /// The stored state of an event, cancelled ones included, or of one
    /// instance of a series by its instance id.
    pub(crate) fn event(&self, owner: &str, id: &str) -> Option<EmulatedEvent> {
        let owner = self.calendar_owner(owner);
        self.lock()
            .lookup(&owner, id)
            .map(|event| event.to_public())
    }

    /// The live instances of the series `id` meeting `[from, to)`, in start
    /// order, as `events.list?singleEvents=true` shows them.
    pub(crate) fn instances(
        &self,
        owner: &str,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EmulatedEvent>, EditError> {
        let owner = self.calendar_owner(owner);
        let inner = self.lock();
        let instances = series_instances(&inner, &owner, id, &Selection::window(from, to))
            .map_err(|_| EditError::NotFound {
                owner: owner.clone(),
                id: id.to_owned(),
            })?;
        Ok(instances.iter().map(StoredEvent::to_public).collect())
    }
}

fn live(event: Option<StoredEvent>, owner: &str, id: &str) -> Result<StoredEvent, EditError> {
    match event {
        None => Err(EditError::NotFound {
            owner: owner.to_owned(),
            id: id.to_owned(),
        }),
        Some(event) if event.status == EventStatus::Cancelled => {
            Err(EditError::Deleted(id.to_owned()))
        }
        Some(event) => Ok(event),
    }
}
