//! Incremental sync: sync tokens, and the result snapshots behind page tokens.
//!
//! A sync token names a point in the emulator's change history: the change
//! number of the last revision the client has seen. Tokens carry the
//! emulator instance and an epoch, so a token from another run, or from before
//! `invalidate_sync_tokens`, is unknown (`410 fullSyncRequired`).
//!
//! A listing is computed whole on its first page and kept as a snapshot; page
//! tokens point into it. Every page of one listing therefore shows the same
//! moment, and its `nextSyncToken` (on the last page) is that moment, so a
//! change made while a client pages through is in its next incremental read.

use std::collections::VecDeque;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::state::random_token;

/// How many page cursors are kept; older ones are forgotten first.
const MAX_CURSORS: usize = 1024;

/// The sync token for change number `change`.
pub(crate) fn sync_token(instance: &str, epoch: u64, change: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{instance}:{epoch}:{change}"))
}

/// The change number a sync token stands for, if it is one this instance
/// issued in the current epoch (and not from the future).
pub(crate) fn parse_sync_token(
    instance: &str,
    epoch: u64,
    current: u64,
    token: &str,
) -> Option<u64> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.split(':');
    let (Some(issuer), Some(issued_epoch), Some(change), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let change = change.parse::<u64>().ok()?;
    let valid =
        issuer == instance && issued_epoch.parse::<u64>().ok() == Some(epoch) && change <= current;
    valid.then_some(change)
}

/// One listing's full result, as of its first page.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The calendar it lists.
    pub(crate) owner: String,
    /// Event resources in answer order.
    pub(crate) items: Vec<Value>,
    /// The newest `updated` among the calendar's events then.
    pub(crate) updated: DateTime<Utc>,
    /// Handed out on the last page (none for listings ordered by start time,
    /// and for `events.instances`).
    pub(crate) next_sync_token: Option<String>,
}

/// Page tokens of unfinished listings.
#[derive(Debug, Default)]
pub(crate) struct PageCursors {
    pages: VecDeque<(String, Arc<Snapshot>, usize)>,
}

impl PageCursors {
    /// A new page token for `snapshot` from item `offset` on.
    pub(crate) fn insert(&mut self, snapshot: Arc<Snapshot>, offset: usize) -> String {
        let token = random_token("", 32);
        if self.pages.len() >= MAX_CURSORS {
            self.pages.pop_front();
        }
        self.pages.push_back((token.clone(), snapshot, offset));
        token
    }

    /// The snapshot and offset behind `token`, if it lists `owner`'s calendar.
    /// A token stays usable, so a client may retry a page.
    pub(crate) fn get(&self, owner: &str, token: &str) -> Option<(Arc<Snapshot>, usize)> {
        self.pages
            .iter()
            .find(|(known, snapshot, _)| known == token && snapshot.owner == owner)
            .map(|(_, snapshot, offset)| (Arc::clone(snapshot), *offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tokens_are_tied_to_instance_epoch_and_history() {
        let token = sync_token("abc", 2, 7);
        assert_eq!(parse_sync_token("abc", 2, 9, &token), Some(7));
        assert_eq!(parse_sync_token("abc", 3, 9, &token), None, "invalidated");
        assert_eq!(parse_sync_token("xyz", 2, 9, &token), None, "other run");
        assert_eq!(parse_sync_token("abc", 2, 6, &token), None, "future");
        assert_eq!(parse_sync_token("abc", 2, 9, "garbage!"), None);
    }
}
