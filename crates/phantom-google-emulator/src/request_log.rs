//! What the emulator was asked and what it answered, so tests can measure
//! retry delays and call rates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The Google operation a request was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `GET /o/oauth2/v2/auth` (and the consent page's form post).
    Authorize,
    /// `POST /token` with `grant_type=authorization_code` (or anything but a refresh).
    Token,
    /// `POST /token` with `grant_type=refresh_token`.
    Refresh,
    /// `POST /revoke`.
    Revoke,
    /// `POST /calendar/v3/calendars/{calendarId}/events`.
    Insert,
    /// `GET /calendar/v3/calendars/{calendarId}/events/{eventId}`.
    Get,
    /// `GET /calendar/v3/calendars/{calendarId}/events`.
    List,
    /// `PUT /calendar/v3/calendars/{calendarId}/events/{eventId}`.
    Update,
    /// `PATCH /calendar/v3/calendars/{calendarId}/events/{eventId}`.
    Patch,
    /// `DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}`.
    Delete,
    /// `GET /calendar/v3/calendars/{calendarId}/events/{eventId}/instances`.
    Instances,
    /// `POST /calendar/v3/calendars/{calendarId}/events/watch`.
    Watch,
    /// `POST /calendar/v3/channels/stop`.
    StopChannel,
    /// Any other path the emulator does not implement.
    Other,
}

/// One request the emulator answered (control requests under `/_emulator/`
/// are not logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// When the request arrived, before any injected delay.
    pub at: DateTime<Utc>,
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// What the request was recognised as.
    pub operation: Operation,
    /// The HTTP status answered, after any fault.
    pub status: u16,
    /// The account whose valid access token the request carried (Calendar calls only;
    /// `None` for OAuth requests and for a missing or invalid token).
    #[serde(default)]
    pub account: Option<String>,
}
