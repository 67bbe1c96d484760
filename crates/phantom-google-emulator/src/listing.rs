//! `events.list`: filters, ordering, pagination and incremental sync, the way
//! Calendar v3 documents them.

use std::sync::Arc;

use actix_web::HttpResponse;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::calendar::Answer;
use crate::errors::ApiError;
use crate::event::{EventStatus, StoredEvent};
use crate::state::{AppState, Inner};
use crate::sync::{Snapshot, parse_sync_token, sync_token};

/// Page size when `maxResults` is absent.
const DEFAULT_PAGE: usize = 250;
/// The largest page Google serves, whatever `maxResults` asks.
const MAX_PAGE: usize = 2500;
/// Parameters Google refuses beside `syncToken`: with them, the changes
/// since the token would not be the same set the token was issued for.
const NOT_WITH_SYNC_TOKEN: &[&str] = &[
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
];

/// The query of one `events.list` call.
struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    fn parse(query: &str) -> Self {
        Self {
            pairs: serde_urlencoded::from_str(query).unwrap_or_default(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    fn instant(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| invalid(name))
            })
            .transpose()
    }
}

fn invalid(name: &str) -> ApiError {
    ApiError::bad_request("invalid", format!("Invalid value for: {name}"))
}

/// How the items are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Unspecified: the calendar's own (insertion) order.
    Stored,
    /// `orderBy=startTime` (needs `singleEvents=true`).
    StartTime,
    /// `orderBy=updated`.
    Updated,
}

/// Which events a listing selects.
struct Selection {
    /// Only events changed after this change number (`syncToken`).
    since: Option<u64>,
    show_deleted: bool,
    time_min: Option<DateTime<Utc>>,
    time_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    terms: Vec<String>,
    ical_uid: Option<String>,
    order: Order,
}

impl Selection {
    fn from_query(query: &ListQuery, since: Option<u64>) -> Result<Self, ApiError> {
        let order = match query.get("orderBy") {
            None => Order::Stored,
            Some("startTime") if query.flag("singleEvents") => Order::StartTime,
            Some("startTime") => {
                return Err(ApiError::bad_request(
                    "invalid",
                    "The requested ordering is not available for the particular query.",
                ));
            }
            Some("updated") => Order::Updated,
            Some(_) => return Err(invalid("orderBy")),
        };
        let updated_min = query.instant("updatedMin")?;
        Ok(Self {
            since,
            // Deletions are part of any change feed: Google always shows them
            // with `syncToken` or `updatedMin`.
            show_deleted: query.flag("showDeleted") || since.is_some() || updated_min.is_some(),
            time_min: query.instant("timeMin")?,
            time_max: query.instant("timeMax")?,
            updated_min,
            terms: query
                .get("q")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_lowercase)
                .collect(),
            ical_uid: query.get("iCalUID").map(str::to_owned),
            order,
        })
    }

    fn selects(&self, event: &StoredEvent) -> bool {
        if self.since.is_some_and(|since| event.change <= since) {
            return false;
        }
        if !self.show_deleted && event.status == EventStatus::Cancelled {
            return false;
        }
        if let Some((start, end)) = event.span()
            && (self.time_min.is_some_and(|min| end <= min)
                || self.time_max.is_some_and(|max| start >= max))
        {
            return false;
        }
        if self.updated_min.is_some_and(|min| event.updated < min) {
            return false;
        }
        if let Some(uid) = &self.ical_uid
            && *uid != format!("{}@google.com", event.id)
        {
            return false;
        }
        let text: String = ["summary", "description", "location"]
            .iter()
            .filter_map(|key| event.fields.get(*key).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        self.terms.iter().all(|term| text.contains(term.as_str()))
    }

    /// The whole result, as of now.
    fn snapshot(&self, state: &AppState, inner: &Inner, owner: &str) -> Snapshot {
        let events = inner.calendars.get(owner).map(Vec::as_slice).unwrap_or(&[]);
        let mut selected: Vec<&StoredEvent> =
            events.iter().filter(|event| self.selects(event)).collect();
        match self.order {
            Order::Stored => {}
            Order::Updated => selected.sort_by_key(|event| event.updated),
            Order::StartTime => selected.sort_by_key(|event| event.span().map(|(start, _)| start)),
        }
        Snapshot {
            owner: owner.to_owned(),
            items: selected.into_iter().map(StoredEvent::resource).collect(),
            updated: events
                .iter()
                .map(|event| event.updated)
                .max()
                .unwrap_or_else(Utc::now),
            next_sync_token: sync_token(&state.instance, inner.sync_epoch, inner.change),
        }
    }
}

/// Answers `events.list` on `owner`'s calendar for the raw `query` string.
pub(crate) fn list_events(state: &AppState, owner: &str, query: &str) -> Answer {
    let query = ListQuery::parse(query);
    let page_size = match query.get("maxResults") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|&max| max > 0)
            .ok_or_else(|| invalid("maxResults"))?
            .min(MAX_PAGE),
    };
    let mut inner = state.lock();
    let since = match query.get("syncToken") {
        None => None,
        Some(token) => {
            if let Some(clash) = NOT_WITH_SYNC_TOKEN
                .iter()
                .find(|name| query.get(name).is_some())
            {
                return Err(ApiError::bad_request(
                    "invalid",
                    format!("The parameter {clash} cannot be used together with syncToken."),
                ));
            }
            let since = parse_sync_token(&state.instance, inner.sync_epoch, inner.change, token)
                .ok_or_else(ApiError::full_sync_required)?;
            Some(since)
        }
    };
    let selection = Selection::from_query(&query, since)?;
    let (snapshot, offset) = match query.get("pageToken") {
        Some(token) => inner
            .cursors
            .get(owner, token)
            .ok_or_else(|| invalid("pageToken"))?,
        None => (Arc::new(selection.snapshot(state, &inner, owner)), 0),
    };
    let end = offset.saturating_add(page_size).min(snapshot.items.len());
    let items = snapshot.items.get(offset..end).unwrap_or_default().to_vec();
    let mut answer = json!({
        "kind": "calendar#events",
        "etag": format!("\"{}\"", snapshot.updated.timestamp_micros()),
        "summary": owner,
        "description": "",
        "updated": snapshot.updated.to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [],
        "items": items,
    });
    if end < snapshot.items.len() {
        answer["nextPageToken"] = inner.cursors.insert(Arc::clone(&snapshot), end).into();
    } else {
        answer["nextSyncToken"] = snapshot.next_sync_token.clone().into();
    }
    Ok(HttpResponse::Ok().json(answer))
}
