//! What an event looks like in Google Calendar, and how a call to it can fail.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::event::{EventView, whole_days};
use crate::recurrence::google_instance_id;
use crate::sync::{GoogleEventId, color_id_for_priority};
use crate::timezone::TimeZoneName;

/// An event as written to Google Calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Our id for it, chosen at creation.
    pub id: GoogleEventId,
    /// The title.
    pub summary: String,
    /// The description.
    pub description: String,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
    /// The owner's IANA time zone, so Google shows it in their local time.
    pub time_zone: String,
    /// For an all-day event, its first local day and the day after its last (Google's
    /// `start.date` and exclusive `end.date`), written instead of the instants.
    pub all_day: Option<(NaiveDate, NaiveDate)>,
    /// From the category's priority.
    pub color_id: String,
    /// A series' `RRULE`/`EXDATE`/`RDATE` lines; empty otherwise.
    pub recurrence: Vec<String>,
}

impl CalendarEvent {
    /// The Google Calendar form of `view` for an owner in `time_zone`. A series and its
    /// occurrences are in the event's own zone (single events are written in the owner's, as
    /// they always were); an occurrence is addressed to Google's instance of it.
    pub fn from_view(view: &EventView, time_zone: TimeZoneName) -> Self {
        let e = &view.event;
        let time_zone = if e.is_series() || view.occurrence.is_some() {
            e.zone(time_zone)
        } else {
            time_zone
        };
        let id = match view.occurrence {
            Some(o) => GoogleEventId::from_stored(google_instance_id(
                e.google_event_id.as_str(),
                o.key.original_start,
            )),
            None => e.google_event_id.clone(),
        };
        Self {
            id,
            summary: e.title.clone(),
            description: e.description.clone(),
            start: e.start_time,
            end: e.end_time,
            time_zone: time_zone.name().to_owned(),
            all_day: e
                .all_day
                .then(|| whole_days(e.start_time, e.end_time, time_zone)),
            color_id: color_id_for_priority(view.priority_level).to_owned(),
            recurrence: e.recurrence.clone(),
        }
    }
}

/// How a Google Calendar call failed, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Worth retrying soon: 429, 500, 502, 503, 504, a timeout, a connection error, or 403
    /// `rateLimitExceeded` / `userRateLimitExceeded`. `retry_after` is Google's hint.
    #[error("Google Calendar is busy or unavailable ({reason})")]
    Retryable {
        /// Status and reason, for logs and the event's `sync_error`.
        reason: String,
        /// `Retry-After`, when Google sent one.
        retry_after: Option<Duration>,
    },
    /// 401: the access token was refused.
    #[error("Google refused the access token")]
    Unauthorized,
    /// 403 `quotaExceeded`: the account's daily limit.
    #[error("Google Calendar's daily usage limit for this account is reached")]
    QuotaExceeded,
    /// 409 on insert: an event with our id exists already.
    #[error("the event already exists in Google Calendar")]
    AlreadyExists,
    /// 412 `conditionNotMet`: the event changed in Google since the etag the write was
    /// conditional on (`If-Match`).
    #[error("the event changed in Google Calendar since Phantom last saw it")]
    PreconditionFailed,
    /// 404 or 410: no such event (any more).
    #[error("the event is not in Google Calendar")]
    Gone,
    /// Any other 4xx: retrying the same request cannot help.
    #[error("Google Calendar refused the event ({status}): {message}")]
    Permanent {
        /// HTTP status.
        status: u16,
        /// Google's message.
        message: String,
    },
}
