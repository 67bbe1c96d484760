//! Services: the use cases, written against the ports.

mod accounts;
mod connection;
mod scheduling;
mod sync;

pub use accounts::AccountService;
pub use connection::{AuthorizationStart, Callback, ConnectionError, ConnectionService};
pub use scheduling::{EventChange, EventRef, MAX_RANGE_DAYS, SchedulingService};
pub use sync::{
    DEFAULT_LEASE, Lane, MAX_IN_ROUND_WAIT, Pacer, Pacing, PushSettings, QUOTA_PARK, ReadSettings,
    RetryPolicy, SyncService, TOMBSTONE_RETENTION, UNCONFIRMED_TOMBSTONE_RETENTION,
};
