//! One instance of a series as Google serves it: the series' fields, its own
//! start and end, `recurringEventId` and `originalStartTime`, and whatever
//! its exception changed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::instance_id::format_instance_id;
use super::rule::Schedule;
use crate::event::{EventStatus, StoredEvent};

/// Fields an instance takes from its series' rule, never from its series' fields.
const DERIVED: &[&str] = &["recurrence", "recurringEventId", "originalStartTime"];

/// Which instance an exception (or a served instance) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occurrence {
    /// The series' id.
    pub(crate) series: String,
    /// The start the series' rule gives it, whatever it was moved to.
    pub(crate) original: DateTime<Utc>,
}

impl Schedule {
    /// `at` as an event boundary in `zone`: local `dateTime` and `timeZone`,
    /// or a `date` for an all-day series.
    fn boundary(&self, at: DateTime<Utc>, zone: chrono_tz::Tz) -> Value {
        if self.all_day {
            json!({ "date": at.date_naive().format("%Y-%m-%d").to_string() })
        } else {
            json!({
                "dateTime": at.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Secs, false),
                "timeZone": zone.name(),
            })
        }
    }

    /// The fields every instance starting at `original` has before any
    /// change of its own.
    pub(crate) fn base_fields(
        &self,
        series: &StoredEvent,
        original: DateTime<Utc>,
    ) -> Map<String, Value> {
        let mut fields = series.fields.clone();
        for key in DERIVED {
            fields.remove(*key);
        }
        fields.insert("start".into(), self.boundary(original, self.zone));
        fields.insert(
            "end".into(),
            self.boundary(original + self.duration, self.end_zone),
        );
        fields.insert("recurringEventId".into(), series.id.clone().into());
        fields.insert(
            "originalStartTime".into(),
            self.boundary(original, self.zone),
        );
        fields
    }

    /// The instance of `series` originally starting at `original`, with its
    /// exception (if any) laid over it.
    pub(crate) fn instance(
        &self,
        series: &StoredEvent,
        original: DateTime<Utc>,
        exception: Option<&StoredEvent>,
    ) -> StoredEvent {
        let mut fields = self.base_fields(series, original);
        let mut instance = StoredEvent::new(
            format_instance_id(&series.id, original, self.all_day),
            &series.owner,
            Map::new(),
            series.status,
        );
        instance.created = series.created;
        instance.updated = series.updated;
        instance.change = series.change;
        instance.sequence = series.sequence;
        if self.excluded(original) {
            instance.status = EventStatus::Cancelled;
        }
        if let Some(exception) = exception {
            for (key, value) in &exception.fields {
                if DERIVED.contains(&key.as_str()) {
                    continue;
                }
                match value {
                    Value::Null => fields.remove(key),
                    value => fields.insert(key.clone(), value.clone()),
                };
            }
            instance.status = exception.status;
            instance.created = exception.created;
            instance.updated = instance.updated.max(exception.updated);
            instance.change = instance.change.max(exception.change);
            instance.sequence = exception.sequence;
        }
        if series.status == EventStatus::Cancelled {
            instance.status = EventStatus::Cancelled;
        }
        instance.fields = fields;
        instance.occurrence = Some(Occurrence {
            series: series.id.clone(),
            original,
        });
        instance
    }
}

/// What an exception stores of `fields`, an instance as changed: the fields
/// that differ from `base` (`null` for one removed), plus the keys naming the
/// instance.
pub(crate) fn overrides(
    base: &Map<String, Value>,
    fields: &Map<String, Value>,
) -> Map<String, Value> {
    let mut stored: Map<String, Value> = fields
        .iter()
        .filter(|(key, value)| !DERIVED.contains(&key.as_str()) && base.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for key in base.keys() {
        if !fields.contains_key(key) && !DERIVED.contains(&key.as_str()) {
            stored.insert(key.clone(), Value::Null);
        }
    }
    for key in ["recurringEventId", "originalStartTime"] {
        if let Some(value) = base.get(key) {
            stored.insert(key.into(), value.clone());
        }
    }
    stored
}

/// A cancelled instance as `events.list` shows it: only what names it.
pub(crate) fn cancelled_stub(event: &StoredEvent) -> Value {
    let mut stub = Map::new();
    stub.insert("id".into(), event.id.clone().into());
    stub.insert("status".into(), EventStatus::Cancelled.as_str().into());
    for key in ["recurringEventId", "originalStartTime"] {
        if let Some(value) = event.fields.get(key) {
            stub.insert(key.into(), value.clone());
        }
    }
    Value::Object(stub)
}
