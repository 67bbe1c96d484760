//! Request extractors that answer bad input with DRF-shaped `400`s instead of actix defaults.

mod auth;
mod body;
mod query;
mod time;

pub use auth::AuthUser;
pub use body::{BODY_LIMIT, JsonForm};
pub use query::QueryParams;
pub use time::{format_time, parse_time};
