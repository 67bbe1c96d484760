//! Google Calendar through the generated `google-calendar3` client.

mod calendar;
mod conditional;

pub use calendar::{GoogleCalendar, SYNC_CALLS_METRIC};
