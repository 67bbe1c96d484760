//! Google Calendar through the generated `google-calendar3` client.

mod calendar;

pub use calendar::{GoogleCalendar, SYNC_CALLS_METRIC};
