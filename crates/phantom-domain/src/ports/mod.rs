//! Ports: what the domain needs from the outside world, as traits.
//!
//! Adapters implement them; services hold them as `Arc<dyn Port>`. With the `mock` feature,
//! each has a mockall mock (`MockUserRepository`, …) for tests.

mod auth;
mod clock;
mod google;
mod repositories;
mod sync;

pub use auth::*;
pub use clock::*;
pub use google::*;
pub use repositories::*;
pub use sync::*;
