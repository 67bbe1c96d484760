//! The domain of Phantom Scheduler: users, categories and events, the rules they obey, the
//! ports (traits) the outside world must implement, and the services that use them.
//!
//! Nothing here knows about HTTP, SQL or Google: adapters implement the [`ports`], and an
//! application wires them into the [`services`]. Enable the `mock` feature to get a mockall
//! mock of every port (`ports::MockEventRepository`, …) for your own tests.
//!
//! # Example
//!
//! Validating an event the way the API does before storing it, and the Google Calendar colour
//! its category's priority maps to:
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use phantom_domain::event::EventDraft;
//! use phantom_domain::ids::CategoryId;
//! use phantom_domain::sync::color_id_for_priority;
//! use phantom_domain::timezone::TimeZoneName;
//!
//! let draft = EventDraft {
//!     title: "  Algebra exam ".to_owned(),
//!     description: String::new(),
//!     category: CategoryId(1),
//!     start_time: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
//!     end_time: Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap(),
//!     is_flexible: true,
//!     is_completed: false,
//!     all_day: false,
//!     recurrence: None,
//!     timezone: None,
//!     series_end: None,
//! };
//! let valid = draft.clone().validate(TimeZoneName::UTC).expect("a valid event");
//! assert_eq!(valid.title, "Algebra exam");
//!
//! let backwards = EventDraft { end_time: draft.start_time, ..draft };
//! let errors = backwards.validate(TimeZoneName::UTC).unwrap_err();
//! assert!(errors.has("end_time"));
//!
//! assert_eq!(color_id_for_priority(5), "11"); // an exam is tomato red in Google Calendar
//! ```

pub mod calendar;
pub mod category;
pub mod error;
pub mod event;
pub mod google;
pub mod google_changes;
pub mod ids;
pub mod ports;
pub mod recurrence;
pub mod series;
pub mod services;
pub mod sync;
pub mod timezone;
pub mod user;
pub mod validation;
