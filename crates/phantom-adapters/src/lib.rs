//! Adapters of Phantom Scheduler: the implementations of the domain's ports.
//!
//! - [`db`]: diesel repositories over SQLite (embedded default) and PostgreSQL, from one code
//!   path, with embedded migrations.
//! - [`auth`]: Argon2id password hashing and HS256 JWTs.

pub mod auth;
pub mod crypto;
pub mod db;
pub mod google;
pub mod oauth;
pub mod runtime;
pub mod threads;
