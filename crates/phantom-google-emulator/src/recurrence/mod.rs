//! Recurring events the way Google Calendar keeps them: a series is one
//! stored event with `recurrence` lines; its instances are computed from the
//! rule, and an instance changed or cancelled on its own is stored as an
//! exception, keyed by its series and original start, holding only what it
//! changed.

mod instance;
mod instance_id;
mod rule;
mod store;

pub(crate) use instance::{Occurrence, cancelled_stub};
pub(crate) use rule::{BOUNDED_INSTANCES, OPEN_ENDED_INSTANCES, Schedule};
