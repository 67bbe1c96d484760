//! End-to-end tests: the real server on port 0, over HTTP, each test on a fresh database
//! (a temporary SQLite file, or a fresh PostgreSQL schema when `PHANTOM_TEST_PG_URL` is set).
#![expect(
    clippy::expect_used,
    reason = "test helpers outside #[test] functions panic on a broken expectation too"
)]

mod auth;
mod binary;
mod browser;
mod categories;
mod chaos;
mod conditional;
mod convergence;
mod events;
mod fleet;
mod google;
mod google_reads;
mod health;
mod helpers;
mod input;
mod metrics;
mod notifications;
mod openapi;
mod outbox;
mod preferences;
mod properties;
mod rate_limit;
mod recurring;
mod recurring_ends;
mod recurring_instances;
mod recurring_property;
mod recurring_reads;
mod storage;
mod sync;
mod tombstones;
mod two_way;
mod web_app;
mod web_app_browser;
mod web_app_browser_more;
mod web_app_browser_recurring;
mod web_app_browser_use;
mod workers;
