//! What every handler can reach.

use phantom_domain::services::{AccountService, SchedulingService};

/// The services, wired to their adapters once at start-up.
#[derive(Clone)]
pub struct AppState {
    /// Accounts, tokens and preferences.
    pub accounts: AccountService,
    /// Categories and events.
    pub scheduling: SchedulingService,
}
