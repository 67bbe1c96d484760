//! The Phantom Scheduler server: configuration, wiring and the HTTP API over the domain.
//!
//! The binary `phantom` is a thin command line over [`startup::Application`].

mod assets;
pub mod config;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod webapp;
