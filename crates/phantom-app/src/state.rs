//! What every handler can reach.

use std::sync::Arc;

use phantom_domain::services::{AccountService, ConnectionService, SchedulingService, SyncService};
use tokio::sync::Notify;

/// The services, wired to their adapters once at start-up.
#[derive(Clone)]
pub struct AppState {
    /// Accounts, tokens and preferences.
    pub accounts: AccountService,
    /// Categories and events.
    pub scheduling: SchedulingService,
    /// Google Calendar connection.
    pub connection: ConnectionService,
    /// Delivers queued event changes to Google Calendar.
    pub sync: SyncService,
    /// Wakes the sync worker after a change is committed (it also polls).
    pub sync_wakeup: Arc<Notify>,
    /// Whether the OAuth callback requires the browser-binding cookie.
    pub strict_browser_binding: bool,
    /// Mark the browser-binding cookie `Secure` (the callback is served over HTTPS).
    pub secure_cookies: bool,
}
