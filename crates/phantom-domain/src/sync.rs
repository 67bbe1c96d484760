//! What the rest of the system needs to know about Google Calendar sync.

use std::fmt;
use std::str::FromStr;

/// Where an event stands with Google Calendar, as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncStatus {
    /// The user has not connected Google Calendar.
    NotConnected,
    /// A change is queued and not yet delivered.
    Pending,
    /// Google Calendar holds the current state.
    Synced,
    /// Delivery failed; `sync_error` says why.
    Failed,
}

impl SyncStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::NotConnected => "not_connected",
            SyncStatus::Pending => "pending",
            SyncStatus::Synced => "synced",
            SyncStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status string that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sync status {0:?}")]
pub struct UnknownSyncStatus(pub String);

impl FromStr for SyncStatus {
    type Err = UnknownSyncStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "not_connected" => SyncStatus::NotConnected,
            "pending" => SyncStatus::Pending,
            "synced" => SyncStatus::Synced,
            "failed" => SyncStatus::Failed,
            other => return Err(UnknownSyncStatus(other.to_owned())),
        })
    }
}

/// The id an event has in Google Calendar, chosen by us when the event is created and never
/// reused, so that a retried insert can be recognised as a duplicate (`409`).
///
/// Google requires base32hex characters (`a`–`v`, `0`–`9`), 5 to 1024 of them; a UUID v4 in
/// lowercase hex without hyphens is 32 such characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GoogleEventId(String);

impl GoogleEventId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Wraps an id read back from storage.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id as Google sees it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `id` is acceptable to Google as a client-chosen event id.
    pub fn is_valid(id: &str) -> bool {
        (5..=1024).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
    }
}

impl fmt::Display for GoogleEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Google Calendar's `colorId` for a category priority: 5→`"11"`, 4→`"9"`, 3→`"10"`, 2→`"5"`,
/// 1→`"8"`, anything else `"1"`.
pub fn color_id_for_priority(priority_level: i32) -> &'static str {
    match priority_level {
        5 => "11",
        4 => "9",
        3 => "10",
        2 => "5",
        1 => "8",
        _ => "1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [
            SyncStatus::NotConnected,
            SyncStatus::Pending,
            SyncStatus::Synced,
            SyncStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<SyncStatus>(), Ok(s));
        }
        assert!("done".parse::<SyncStatus>().is_err());
    }

    #[test]
    fn colour_mapping_matches_the_contract() {
        let got: Vec<_> = (0..=6).map(color_id_for_priority).collect();
        assert_eq!(got, ["1", "8", "5", "10", "9", "11", "1"]);
    }

    /// Every generated Google event id is one Google accepts, and none repeats.
    #[test]
    fn generated_google_ids_are_valid_base32hex_and_unique() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| GoogleEventId::generate().as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| GoogleEventId::is_valid(id)));
        assert!(!GoogleEventId::is_valid("UPPER") && !GoogleEventId::is_valid("abcd"));
    }
}
