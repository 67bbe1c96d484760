//! Events: the scheduled items users create, and the rules they obey.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::ids::{CategoryId, EventId, UserId};
use crate::sync::{GoogleEventId, SyncStatus};
use crate::validation::{FieldErrors, required_text};

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
}

impl EventDraft {
    /// Checks the title and the time order, and normalises: trims the title and truncates
    /// times to microseconds (the precision every supported database keeps).
    pub fn validate(mut self) -> Result<EventDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        self.title = required_text(&mut errors, "title", &self.title, TITLE_MAX_CHARS);
        self.start_time = to_micros(self.start_time);
        self.end_time = to_micros(self.end_time);
        if self.end_time <= self.start_time {
            errors.add("end_time", "end_time must be after start_time.");
        }
        errors.into_result().map(|()| self)
    }
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
        }
    }

    #[test]
    fn rejects_blank_long_titles_and_reversed_times() {
        assert!(draft("Exam", 9, 11).validate().is_ok());
        assert!(draft(&"x".repeat(200), 9, 11).validate().is_ok());
        let errors = draft("  ", 9, 9).validate().unwrap_err();
        assert!(errors.has("title") && errors.has("end_time"));
        assert!(
            draft(&"x".repeat(201), 9, 11)
                .validate()
                .unwrap_err()
                .has("title")
        );
        assert!(draft("Exam", 11, 9).validate().unwrap_err().has("end_time"));
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
