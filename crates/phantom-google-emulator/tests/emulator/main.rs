//! Drives the emulator over real HTTP the way Phantom Scheduler's server and
//! Google's own client libraries do.
#![expect(
    clippy::expect_used,
    reason = "test helpers fail the test loudly when the emulator misbehaves"
)]

mod calendar;
mod control;
mod faults;
mod generated_client;
mod oauth;
mod recurrence;
mod support;
mod sync;
mod watch;
