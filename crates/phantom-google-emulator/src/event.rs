//! Google Calendar's Event resource: how it is stored, validated and shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::recurrence::Occurrence;

/// An event's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// `"confirmed"`: the default.
    Confirmed,
    /// `"tentative"`.
    Tentative,
    /// `"cancelled"`: deleted; Google keeps it and its id stays taken.
    Cancelled,
}

impl EventStatus {
    /// The API's spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Tentative => "tentative",
            Self::Cancelled => "cancelled",
        }
    }
}

/// An event's `start` or `end`: either `date` (all-day) or `dateTime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDateTime {
    /// `yyyy-mm-dd` for all-day events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// RFC 3339 date-time, as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    /// IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl EventDateTime {
    /// An all-day boundary, `yyyy-mm-dd` (an end date is exclusive).
    pub fn all_day(date: impl Into<String>) -> Self {
        Self {
            date: Some(date.into()),
            ..Self::default()
        }
    }

    /// A timed boundary: an RFC 3339 date-time, and optionally its IANA zone.
    pub fn timed(date_time: impl Into<String>, time_zone: Option<&str>) -> Self {
        Self {
            date_time: Some(date_time.into()),
            time_zone: time_zone.map(str::to_owned),
            ..Self::default()
        }
    }

    /// The instant this stands for (all-day dates at midnight UTC, the
    /// emulated calendar's zone); `None` if it does not parse.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        if let Some(date) = &self.date {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
            return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
        }
        let raw = self.date_time.as_deref()?;
        if let Ok(parsed) = DateTime::parse_from_rfc3339(raw) {
            return Some(parsed.with_timezone(&Utc));
        }
        let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        let zone: chrono_tz::Tz = self.time_zone.as_deref()?.parse().ok()?;
        Some(
            zone.from_local_datetime(&naive)
                .earliest()?
                .with_timezone(&Utc),
        )
    }
}

/// An event as the emulated Google Calendar holds it, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmulatedEvent {
    /// Event id.
    pub id: String,
    /// Whether it is live or cancelled (deleted).
    pub status: EventStatus,
    /// Title.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Start.
    pub start: Option<EventDateTime>,
    /// End (exclusive).
    pub end: Option<EventDateTime>,
    /// Colour, `"1"`..=`"11"`.
    pub color_id: Option<String>,
    /// RRULE, EXRULE, RDATE and EXDATE lines of a recurring event.
    pub recurrence: Option<Vec<String>>,
    /// For an instance of a recurring event, the id of its series.
    pub recurring_event_id: Option<String>,
    /// For an instance of a recurring event, the start its series' rule
    /// gives it (it names the instance, even when the instance was moved).
    #[serde(default)]
    pub original_start_time: Option<EventDateTime>,
    /// Creation time (millisecond precision, as served).
    pub created: DateTime<Utc>,
    /// Last modification time (millisecond precision, as served); it grows
    /// on every modification, deletion included.
    pub updated: DateTime<Utc>,
    /// The quoted entity tag; it changes on every modification.
    pub etag: String,
    /// iCalendar sequence number.
    pub sequence: u64,
    /// The whole resource as the API serves it.
    pub resource: Value,
}

/// One stored event of one user's calendar.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) status: EventStatus,
    /// Client-writable fields, kept verbatim.
    pub(crate) fields: Map<String, Value>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) sequence: u64,
    /// The calendar-wide change number of the last revision (0: never
    /// stored); sync tokens and etags are built from it.
    pub(crate) change: u64,
    /// For an exception (or a served instance), which instance of which
    /// series it is.
    pub(crate) occurrence: Option<Occurrence>,
}

impl StoredEvent {
    pub(crate) fn new(
        id: String,
        owner: &str,
        fields: Map<String, Value>,
        status: EventStatus,
    ) -> Self {
        let now = millis(Utc::now());
        Self {
            id,
            owner: owner.to_owned(),
            status,
            fields,
            created: now,
            updated: now,
            sequence: 0,
            change: 0,
            occurrence: None,
        }
    }

    /// Replaces the writable fields, bumping `sequence` when the time moved
    /// (Google bumps it on changes attendees must hear about).
    pub(crate) fn replace(&mut self, fields: Map<String, Value>, status: EventStatus) {
        if fields.get("start") != self.fields.get("start")
            || fields.get("end") != self.fields.get("end")
        {
            self.sequence += 1;
        }
        self.fields = fields;
        self.status = status;
    }

    pub(crate) fn cancel(&mut self) {
        self.status = EventStatus::Cancelled;
    }

    /// Marks this as the revision numbered `change`, made `now`: `updated`
    /// is `now` to the millisecond, and always later than the previous
    /// revision's, so that it orders an event's changes as Google's does.
    pub(crate) fn revise(&mut self, change: u64, now: DateTime<Utc>) {
        let now = millis(now);
        if self.change == 0 {
            self.created = now;
            self.updated = now;
        } else {
            self.updated = now.max(self.updated + TimeDelta::milliseconds(1));
        }
        self.change = change;
    }

    /// The quoted entity tag of this revision.
    pub(crate) fn etag(&self) -> String {
        format!(
            "\"{}{:06}\"",
            self.updated.timestamp_millis(),
            self.change % 1_000_000
        )
    }

    fn date_time(&self, key: &str) -> Option<EventDateTime> {
        serde_json::from_value(self.fields.get(key)?.clone()).ok()
    }

    /// Start and end instants, for `timeMin`/`timeMax` filtering.
    pub(crate) fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((
            self.date_time("start")?.instant()?,
            self.date_time("end")?.instant()?,
        ))
    }

    /// The Event resource as the API serves it.
    pub(crate) fn resource(&self) -> Value {
        let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let eid = URL_SAFE_NO_PAD.encode(format!("{} {}", self.id, self.owner));
        let person = json!({ "email": self.owner, "self": true });
        let mut resource = Map::new();
        resource.insert("kind".into(), "calendar#event".into());
        resource.insert("etag".into(), self.etag().into());
        resource.insert("id".into(), self.id.clone().into());
        resource.insert("status".into(), self.status.as_str().into());
        resource.insert(
            "htmlLink".into(),
            format!("https://www.google.com/calendar/event?eid={eid}").into(),
        );
        resource.insert("created".into(), stamp(self.created).into());
        resource.insert("updated".into(), stamp(self.updated).into());
        resource.insert("creator".into(), person.clone());
        resource.insert("organizer".into(), person);
        resource.extend(self.fields.clone());
        // Instances share their series' iCalUID.
        let uid = self
            .fields
            .get("recurringEventId")
            .and_then(Value::as_str)
            .unwrap_or(&self.id);
        resource.insert("iCalUID".into(), format!("{uid}@google.com").into());
        resource.insert("sequence".into(), self.sequence.into());
        resource
            .entry("reminders")
            .or_insert_with(|| json!({ "useDefault": true }));
        resource
            .entry("eventType")
            .or_insert_with(|| "default".into());
        Value::Object(resource)
    }

    pub(crate) fn to_public(&self) -> EmulatedEvent {
        let text = |key: &str| {
            self.fields
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        EmulatedEvent {
            id: self.id.clone(),
            status: self.status,
            summary: text("summary"),
            description: text("description"),
            start: self.date_time("start"),
            end: self.date_time("end"),
            color_id: text("colorId"),
            recurrence: self
                .fields
                .get("recurrence")
                .and_then(|value| serde_json::from_value(value.clone()).ok()),
            recurring_event_id: text("recurringEventId"),
            original_start_time: self.date_time("originalStartTime"),
            created: self.created,
            updated: self.updated,
            etag: self.etag(),
            sequence: self.sequence,
            resource: self.resource(),
        }
    }
}

/// `at` without its sub-millisecond part: Google's timestamps have milliseconds.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
