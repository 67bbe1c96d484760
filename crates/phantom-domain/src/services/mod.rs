//! Services: the use cases, written against the ports.

mod accounts;
mod scheduling;

pub use accounts::AccountService;
pub use scheduling::{EventChange, SchedulingService};
