//! Events: the scheduled items users create, and the rules they obey.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, DurationRound, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use crate::ids::{CategoryId, EventId, UserId};
use crate::sync::{GoogleEventId, SyncStatus};
use crate::timezone::TimeZoneName;
use crate::validation::{FieldErrors, required_text};

/// Where an event was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Through Phantom's API.
    Phantom,
    /// In Google Calendar, then imported.
    Google,
}

impl Origin {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Phantom => "phantom",
            Origin::Google => "google",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored origin that is neither.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event origin {0:?}")]
pub struct UnknownOrigin(pub String);

impl FromStr for Origin {
    type Err = UnknownOrigin;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "phantom" => Ok(Origin::Phantom),
            "google" => Ok(Origin::Google),
            other => Err(UnknownOrigin(other.to_owned())),
        }
    }
}

/// Longest event title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id.
    pub id: EventId,
    /// Its owner.
    pub user_id: UserId,
    /// Its category.
    pub category_id: CategoryId,
    /// 1 to 200 characters.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Inclusive start.
    pub start_time: DateTime<Utc>,
    /// Exclusive end, after `start_time`.
    pub end_time: DateTime<Utc>,
    /// May the scheduler move it.
    pub is_flexible: bool,
    /// Done.
    pub is_completed: bool,
    /// Whole days: `start_time` and `end_time` are midnights in the owner's time zone.
    pub all_day: bool,
    /// Where it was created.
    pub origin: Origin,
    /// Our id for it in Google Calendar, chosen at creation.
    pub google_event_id: GoogleEventId,
    /// Set once Google Calendar holds the event.
    pub google_calendar_id: Option<String>,
    /// Where it stands with Google Calendar.
    pub sync_status: SyncStatus,
    /// Why the last sync failed, in words a user can act on.
    pub sync_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// A series' normalised iCalendar lines (`RRULE`, `EXDATE`, `RDATE`); empty for a single
    /// event (and for an occurrence).
    pub recurrence: Vec<String>,
    /// The zone its local times belong to; `None` for events made before events had one
    /// (they read as the owner's current zone).
    pub timezone: Option<TimeZoneName>,
}

impl Event {
    /// True for a series.
    pub fn is_series(&self) -> bool {
        !self.recurrence.is_empty()
    }

    /// Its zone: its own, or (an event made before events had one) `owner_zone`.
    pub fn zone(&self, owner_zone: TimeZoneName) -> TimeZoneName {
        self.timezone.unwrap_or(owner_zone)
    }
}

/// What makes an [`EventView`] one occurrence of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccurrenceOf {
    /// Its id: the series and its original start.
    pub key: crate::recurrence::OccurrenceKey,
    /// The start the rule gives it (its name; never changes).
    pub original_start_time: DateTime<Utc>,
}

/// An event together with what clients see of its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    /// The event.
    pub event: Event,
    /// Its category's name.
    pub category_name: String,
    /// Its category's priority.
    pub priority_level: i32,
    /// Set when this is one occurrence of a series (the series' fields overlaid by its own).
    pub occurrence: Option<OccurrenceOf>,
}

/// The full writable state of an event (a create or a full update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category, which must be visible to the user.
    pub category: CategoryId,
    /// Start.
    pub start_time: DateTime<Utc>,
    /// End.
    pub end_time: DateTime<Utc>,
    /// May be moved.
    pub is_flexible: bool,
    /// Done.
    pub is_completed: bool,
    /// Whole days.
    pub all_day: bool,
    /// The `recurrence` lines; `None`: not given (`[]` for a new event, the current ones for
    /// an update). The scheduling service stores them normalised.
    pub recurrence: Option<Vec<String>>,
    /// The zone; `None`: not given (the owner's zone for a new event, the current one for an
    /// update).
    pub timezone: Option<TimeZoneName>,
    /// A series' last end (`None`: endless, or a single event). Computed by the scheduling
    /// service; what a client sends is never read.
    pub series_end: Option<DateTime<Utc>>,
}

impl EventDraft {
    /// Checks the title and the time order, and normalises: trims the title and truncates
    /// times to microseconds (the precision every supported database keeps). An all-day
    /// event's start moves to the start of its local day in `zone`, and its end to the start
    /// of the local day after its last day, unless it already is a midnight.
    pub fn validate(mut self, zone: TimeZoneName) -> Result<EventDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        self.title = required_text(&mut errors, "title", &self.title, TITLE_MAX_CHARS);
        self.start_time = to_micros(self.start_time);
        self.end_time = to_micros(self.end_time);
        if self.end_time <= self.start_time {
            errors.add("end_time", "end_time must be after start_time.");
        } else if self.all_day {
            let (start, end) = whole_days(self.start_time, self.end_time, zone);
            self.start_time = local_midnight(start, zone);
            self.end_time = local_midnight(end, zone);
        }
        errors.into_result().map(|()| self)
    }
}

/// The local days an interval covers in `zone`: its first day, and the day after its last
/// (an end at a local midnight ends the day before).
pub fn whole_days(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: TimeZoneName,
) -> (NaiveDate, NaiveDate) {
    let first = start.with_timezone(&zone.tz()).date_naive();
    let local_end = end.with_timezone(&zone.tz());
    let mut after_last = local_end.date_naive();
    if local_end.time() != NaiveTime::MIN || local_end.date_naive() == first {
        after_last = after_last.succ_opt().unwrap_or(after_last);
    }
    (first, after_last.max(first.succ_opt().unwrap_or(first)))
}

/// The instant `day` begins in `zone` (the first valid local time where a time change skips
/// midnight).
pub fn local_midnight(day: NaiveDate, zone: TimeZoneName) -> DateTime<Utc> {
    let tz = zone.tz();
    (0..=24 * 4)
        .map(|quarter| day.and_time(NaiveTime::MIN) + TimeDelta::minutes(15 * quarter))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(
            || day.and_time(NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// A partial update; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New category.
    pub category: Option<CategoryId>,
    /// New start.
    pub start_time: Option<DateTime<Utc>>,
    /// New end.
    pub end_time: Option<DateTime<Utc>>,
    /// New flexibility.
    pub is_flexible: Option<bool>,
    /// New completion.
    pub is_completed: Option<bool>,
    /// New whole-day flag.
    pub all_day: Option<bool>,
    /// New `recurrence` lines.
    pub recurrence: Option<Vec<String>>,
    /// New zone.
    pub timezone: Option<TimeZoneName>,
}

impl EventPatch {
    /// The full state after applying this patch to `current` (not yet validated).
    pub fn apply_to(self, current: &Event) -> EventDraft {
        EventDraft {
            title: self.title.unwrap_or_else(|| current.title.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            category: self.category.unwrap_or(current.category_id),
            start_time: self.start_time.unwrap_or(current.start_time),
            end_time: self.end_time.unwrap_or(current.end_time),
            is_flexible: self.is_flexible.unwrap_or(current.is_flexible),
            is_completed: self.is_completed.unwrap_or(current.is_completed),
            all_day: self.all_day.unwrap_or(current.all_day),
            recurrence: Some(
                self.recurrence
                    .unwrap_or_else(|| current.recurrence.clone()),
            ),
            timezone: self.timezone.or(current.timezone),
            series_end: None,
        }
    }
}

/// A validated event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Owner.
    pub user_id: UserId,
    /// Validated state.
    pub draft: EventDraft,
    /// The Google Calendar id chosen for it now.
    pub google_event_id: GoogleEventId,
    /// Where it was created.
    pub origin: Origin,
    /// Creation time (also the first `updated_at`).
    pub created_at: DateTime<Utc>,
}

/// Filters for listing a user's events; every given filter must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Events ending after this instant.
    pub start: Option<DateTime<Utc>>,
    /// Events starting before this instant.
    pub end: Option<DateTime<Utc>>,
    /// Events in this category.
    pub category: Option<CategoryId>,
    /// Events whose category has this priority.
    pub priority: Option<i32>,
}

impl EventFilter {
    /// True when `view` passes every filter (the rule the repositories implement in SQL).
    pub fn matches(&self, view: &EventView) -> bool {
        let e = &view.event;
        self.start.is_none_or(|s| e.end_time > s)
            && self.end.is_none_or(|end| e.start_time < end)
            && self.category.is_none_or(|c| e.category_id == c)
            && self.priority.is_none_or(|p| view.priority_level == p)
    }
}

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Page size when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Which page of a listing, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page number, from 1.
    pub number: u32,
    /// Items per page, 1 to [`MAX_PAGE_SIZE`].
    pub size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            number: 1,
            size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.number.saturating_sub(1)) * u64::from(self.size)
    }
}

/// One page of events and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Matching events in all pages.
    pub count: u64,
    /// This page, ordered by start time.
    pub items: Vec<EventView>,
}

/// True when `[start, end)` of an event meets the window `[from, to)`.
pub fn intersects(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    end > from && start < to
}

/// Truncates to whole microseconds: SQLite would keep nanoseconds and PostgreSQL would not,
/// and a stored value must read back equal on both.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0)
            .single()
            .expect("valid time")
    }

    fn draft(title: &str, start: u32, end: u32) -> EventDraft {
        EventDraft {
            title: title.into(),
            description: String::new(),
            category: CategoryId(1),
            start_time: at(start),
            end_time: at(end),
            is_flexible: true,
            is_completed: false,
            all_day: false,
            recurrence: None,
            timezone: None,
            series_end: None,
        }
    }

    const UTC: TimeZoneName = TimeZoneName::UTC;

    #[test]
    fn rejects_blank_long_titles_and_reversed_times() {
        assert!(draft("Exam", 9, 11).validate(UTC).is_ok());
        assert!(draft(&"x".repeat(200), 9, 11).validate(UTC).is_ok());
        let errors = draft("  ", 9, 9).validate(UTC).unwrap_err();
        assert!(errors.has("title") && errors.has("end_time"));
        assert!(
            draft(&"x".repeat(201), 9, 11)
                .validate(UTC)
                .unwrap_err()
                .has("title")
        );
        assert!(
            draft("Exam", 11, 9)
                .validate(UTC)
                .unwrap_err()
                .has("end_time")
        );
    }

    #[test]
    fn all_day_events_span_local_midnights() {
        let paris: TimeZoneName = "Europe/Paris".parse().expect("zone");
        let day = |d: u32, h: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .single()
                .expect("valid")
        };
        let all_day = |start, end| EventDraft {
            start_time: start,
            end_time: end,
            all_day: true,
            ..draft("Trip", 9, 11)
        };
        // 09:00–11:00 UTC on the 24th is one day in Paris: 23:00 UTC the 23rd to the 24th.
        let one = all_day(day(24, 9), day(24, 11))
            .validate(paris)
            .expect("ok");
        assert_eq!((one.start_time, one.end_time), (day(23, 23), day(24, 23)));
        // Already midnights: kept, and an end at midnight ends the day before.
        let two = all_day(day(23, 23), day(25, 23))
            .validate(paris)
            .expect("ok");
        assert_eq!((two.start_time, two.end_time), (day(23, 23), day(25, 23)));
        // Normalising again changes nothing.
        assert_eq!(two.clone().validate(paris), Ok(two));
        assert_eq!(
            whole_days(day(23, 23), day(25, 23), paris),
            (
                NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 26).expect("date")
            )
        );
    }

    #[test]
    fn a_skipped_midnight_begins_the_day_at_the_first_valid_time() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let santiago: TimeZoneName = "America/Santiago".parse().expect("zone");
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).expect("date");
        let begins = local_midnight(day, santiago).with_timezone(&santiago.tz());
        assert_eq!(begins.date_naive(), day);
        assert_eq!(
            begins.time(),
            NaiveTime::from_hms_opt(1, 0, 0).expect("time")
        );
    }

    #[test]
    fn truncates_to_microseconds() {
        let t = at(9) + TimeDelta::nanoseconds(1_234_567);
        assert_eq!(to_micros(t), at(9) + TimeDelta::microseconds(1_234));
    }

    #[test]
    fn intersection_is_half_open() {
        assert!(intersects(at(9), at(11), at(10), at(12)));
        assert!(!intersects(at(9), at(10), at(10), at(12)));
        assert!(!intersects(at(12), at(13), at(10), at(12)));
    }
}
