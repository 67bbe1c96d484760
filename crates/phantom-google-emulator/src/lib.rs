//! An emulator of the parts of Google that Phantom Scheduler talks to: the
//! OAuth 2.0 web-server flow (authorization, token, refresh, revocation) and
//! Calendar API v3 events, answering the way Google documents, plus fault
//! injection (throttling, outages, lost responses, expired and revoked
//! tokens) and a request log.
//!
//! ```no_run
//! # async fn demo() -> Result<(), phantom_google_emulator::EmulatorError> {
//! use phantom_google_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, Match, Operation};
//!
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! // Point the code under test at emu.auth_url(), emu.token_url(),
//! // emu.revoke_url() and emu.calendar_api_url(), with emu.client_id().
//! emu.push_fault(Fault::once(
//!     Match::operation(Operation::Insert),
//!     FaultAction::Status { code: 503, retry_after: None },
//! ));
//! // ... run the code under test, then inspect:
//! let _calls = emu.request_log();
//! let _events = emu.events(emu.default_user());
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Fault rules are checked in the order pushed; the first rule that matches a
//! request is the only one applied to it, and uses up one of its `times`.
//!
//! # Control endpoints
//!
//! A separately running emulator (the `google-emulator` binary) is driven
//! over JSON under `/_emulator/`; these requests are neither faulted nor logged.
//! Bodies are the serde forms of this crate's types (snake_case):
//!
//! | request | body / answer |
//! | --- | --- |
//! | `PUT /_emulator/consent` | `"grant"`, `"deny"`, `"prompt"` or `{"grant_scopes": [..]}` |
//! | `PUT /_emulator/user` | `"someone@gmail.com"`: the signed-in account |
//! | `POST /_emulator/faults` | [`Fault`], e.g. `{"matcher": {"operation": "insert", "path_contains": null}, "times": 1, "action": {"status": {"code": 503, "retry_after": {"seconds": 2}}}}`; other actions: `{"forbidden": {"reason": "quotaExceeded"}}`, `{"bad_request": {"reason": "..", "message": ".."}}`, `{"delay": 250}` (ms, before handling), `{"delay_answer": 250}` (ms, after handling), `"apply_then_503"` |
//! | `DELETE /_emulator/faults` | clears all rules |
//! | `GET /_emulator/log`, `DELETE /_emulator/log` | array of [`LoggedRequest`] / clears it |
//! | `POST /_emulator/access-tokens/expire` | expires every access token |
//! | `POST /_emulator/refresh-tokens/invalidate` | `{"token": ".."}`, or `{}` for all |
//! | `GET /_emulator/events/{owner}` | array of [`EmulatedEvent`] |
//! | `POST /_emulator/calendars/{owner}/events` | [`EventEdit`], e.g. `{"summary": "Lunch", "start": {"dateTime": "2030-05-01T12:00:00Z"}, "end": {"dateTime": "2030-05-01T13:00:00Z"}}` → 200 [`EmulatedEvent`] with a Google-chosen id |
//! | `GET /_emulator/calendars/{owner}/events/{id}` | 200 [`EmulatedEvent`], cancelled ones included; 404 |
//! | `PATCH /_emulator/calendars/{owner}/events/{id}` | [`EventEdit`] (only the fields given change) → 200 [`EmulatedEvent`]; 404, 410 deleted, 400 invalid |
//! | `DELETE /_emulator/calendars/{owner}/events/{id}` | 200 [`EmulatedEvent`] (the tombstone); 404, 410 |
//! | `GET /_emulator/calendars/{owner}/events/{id}/instances?from=&to=` | 200 array of [`EmulatedEvent`]: the series' live instances meeting `[from, to)` (RFC 3339), as `singleEvents=true` shows them; 404 |
//!
//! In the `events/{id}` routes, `id` may be an instance id of a recurring
//! series (`<seriesId>_20261208T090000Z`, all-day `<seriesId>_20261208`):
//! the edit or deletion then changes or cancels that one instance.
//! | `POST /_emulator/sync-tokens/invalidate` | every sync token answers 410 `fullSyncRequired` from now on |
//! | `GET /_emulator/channels` | array of live [`WatchChannel`] |
//! | `POST /_emulator/channels/expire` | every channel expires now |
//! | `GET /_emulator/notifications`, `DELETE /_emulator/notifications` | array of [`Notification`] / clears it |
//!
//! Answers are 204 with no body unless noted. In the `calendars/{owner}`
//! routes, `owner` is a Google account email, or `primary` for the default
//! user; refusals there answer `{"error": ".."}`.
//!
//! # Recurring events
//!
//! A series (an event with `recurrence`) is expanded with the `rrule` crate
//! in its `start.timeZone` (all-day series by dates); its start is always its
//! first instance. Instances are served by id to `events.get`, `patch`,
//! `update` and `delete`, listed by `events.instances` and by `events.list`
//! with `singleEvents=true` (at most 730 per series without `timeMax`), and a
//! changed or cancelled instance is stored as an exception that `events.list`
//! shows beside its series (a cancelled one with only its ids).
//!
//! # Incremental sync and push notifications
//!
//! `events.list` pages (`maxResults`, default 250, at most 2500) from a
//! snapshot taken on its first page, and gives `nextSyncToken` on the last
//! page only. With `syncToken` it lists only what changed since, deletions
//! included (`status: "cancelled"`); an unknown or invalidated token is
//! `410 fullSyncRequired`. `events.watch` opens a channel (https addresses,
//! or http on loopback hosts); the emulator then POSTs `sync`, and `exists`
//! after every change to the calendar, whether made through the API or
//! through the edit controls above ([`Emulator::edit_event`] and friends).
//! It only ever delivers to loopback addresses, one at a time, and does not
//! retry a failed delivery.

mod bearer;
mod calendar;
mod config;
mod consent;
mod control;
mod errors;
mod event;
mod faults;
mod gate;
mod instances;
mod listing;
mod notify;
mod oauth;
mod person;
mod recurrence;
mod request_log;
mod server;
mod state;
mod sync;
mod token;
mod validation;
mod watch;

pub use config::{
    Consent, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, EmulatorConfig, RedirectUris,
};
pub use event::{EmulatedEvent, EventDateTime, EventStatus};
pub use faults::{Fault, FaultAction, Match, RetryAfter};
pub use notify::{DeliveryOutcome, Notification, ResourceState, WatchChannel};
pub use person::{EditError, EventEdit};
pub use request_log::{LoggedRequest, Operation};
pub use server::{Emulator, EmulatorError};
