//! Services: the use cases, written against the ports.

mod accounts;
mod connection;
mod scheduling;

pub use accounts::AccountService;
pub use connection::{AuthorizationStart, Callback, ConnectionError, ConnectionService};
pub use scheduling::{EventChange, SchedulingService};
