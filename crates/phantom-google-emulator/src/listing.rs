//! `events.list`: filters, ordering, pagination and incremental sync, the way
//! Calendar v3 documents them.

use std::sync::Arc;

use actix_web::HttpResponse;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::calendar::Answer;
use crate::errors::ApiError;
use crate::event::{EventStatus, StoredEvent};
use crate::recurrence::{BOUNDED_INSTANCES, OPEN_ENDED_INSTANCES, Schedule, cancelled_stub};
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
pub(crate) struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    pub(crate) fn parse(query: &str) -> Self {
        Self {
            pairs: serde_urlencoded::from_str(query).unwrap_or_default(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    pub(crate) fn instant(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| invalid(name))
            })
            .transpose()
    }
}

pub(crate) fn invalid(name: &str) -> ApiError {
    ApiError::bad_request("invalid", format!("Invalid value for: {name}"))
}

/// How the items are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Unspecified: the calendar's own (insertion) order.
    Stored,
    /// `orderBy=startTime` (needs `singleEvents=true`).
    StartTime,
    /// `orderBy=updated`.
    Updated,
}

/// Which events a listing selects.
pub(crate) struct Selection {
    /// Only events changed after this change number (`syncToken`).
    since: Option<u64>,
    pub(crate) show_deleted: bool,
    pub(crate) time_min: Option<DateTime<Utc>>,
    pub(crate) time_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    terms: Vec<String>,
    ical_uid: Option<String>,
    order: Order,
    /// `singleEvents=true`: series expanded into their instances.
    single_events: bool,
}

impl Selection {
    pub(crate) fn from_query(query: &ListQuery, since: Option<u64>) -> Result<Self, ApiError> {
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
            single_events: query.flag("singleEvents"),
        })
    }

    /// Live events meeting `[time_min, time_max)`, as `singleEvents=true` shows them.
    pub(crate) fn window(time_min: DateTime<Utc>, time_max: DateTime<Utc>) -> Self {
        Self {
            since: None,
            show_deleted: false,
            time_min: Some(time_min),
            time_max: Some(time_max),
            updated_min: None,
            terms: Vec::new(),
            ical_uid: None,
            order: Order::StartTime,
            single_events: true,
        }
    }

    /// Whether `event`, as served, is in the result.
    pub(crate) fn selects(&self, event: &StoredEvent) -> bool {
        if self.since.is_some_and(|since| event.change <= since) {
            return false;
        }
        if !self.show_deleted && event.status == EventStatus::Cancelled {
            return false;
        }
        if let Some((start, end)) = extent(event)
            && (self.time_min.is_some_and(|min| end <= min)
                || self.time_max.is_some_and(|max| start >= max))
        {
            return false;
        }
        if self.updated_min.is_some_and(|min| event.updated < min) {
            return false;
        }
        if let Some(uid) = &self.ical_uid {
            let own = event
                .fields
                .get("recurringEventId")
                .and_then(Value::as_str)
                .unwrap_or(&event.id);
            if *uid != format!("{own}@google.com") {
                return false;
            }
        }
        let text: String = ["summary", "description", "location"]
            .iter()
            .filter_map(|key| event.fields.get(*key).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        self.terms.iter().all(|term| text.contains(term.as_str()))
    }

    /// What one stored event contributes, as served: itself, or with
    /// `singleEvents=true` a series' instances in the window (exceptions laid
    /// over); an exception then comes through its series unless it is no
    /// longer one of its instances.
    fn served(&self, inner: &Inner, stored: &StoredEvent) -> Vec<StoredEvent> {
        if self.single_events {
            if let Some(occurrence) = &stored.occurrence {
                if let Some((series, schedule)) = inner.series(&stored.owner, &occurrence.series)
                    && series.status != EventStatus::Cancelled
                    && schedule.has_start(occurrence.original)
                {
                    return Vec::new();
                }
            } else if stored.status != EventStatus::Cancelled
                && let Ok(Some(schedule)) = Schedule::of(&stored.fields)
            {
                let cap = if self.time_max.is_some() {
                    BOUNDED_INSTANCES
                } else {
                    OPEN_ENDED_INSTANCES
                };
                return schedule
                    .starts_within(self.time_min, self.time_max, cap)
                    .into_iter()
                    .map(|original| inner.instance(stored, &schedule, original))
                    .filter(|instance| self.selects(instance))
                    .collect();
            }
        }
        let event = inner.view(stored);
        if self.selects(&event) {
            vec![event]
        } else {
            Vec::new()
        }
    }

    /// The whole result, as of now.
    fn snapshot(&self, state: &AppState, inner: &Inner, owner: &str) -> Snapshot {
        let events = inner.calendars.get(owner).map(Vec::as_slice).unwrap_or(&[]);
        let mut selected: Vec<StoredEvent> = events
            .iter()
            .flat_map(|stored| self.served(inner, stored))
            .collect();
        match self.order {
            Order::Stored => {}
            Order::Updated => selected.sort_by_key(|event| event.updated),
            Order::StartTime => selected.sort_by_key(|event| event.span().map(|(start, _)| start)),
        }
        Snapshot {
            owner: owner.to_owned(),
            items: selected.iter().map(listed).collect(),
            updated: last_updated(inner, owner),
            // Google gives no sync token for a listing ordered by start time.
            next_sync_token: (self.order != Order::StartTime)
                .then(|| sync_token(&state.instance, inner.sync_epoch, inner.change)),
        }
    }
}

/// Start and end of what `event` covers: a series from its first start to its
/// last end (or forever).
fn extent(event: &StoredEvent) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if event.occurrence.is_none()
        && let Ok(Some(schedule)) = Schedule::of(&event.fields)
    {
        let (start, end) = schedule.span();
        return Some((start, end.unwrap_or(DateTime::<Utc>::MAX_UTC)));
    }
    event.span()
}

/// An item of a listing: a cancelled instance carries only what names it.
pub(crate) fn listed(event: &StoredEvent) -> Value {
    if event.occurrence.is_some() && event.status == EventStatus::Cancelled {
        cancelled_stub(event)
    } else {
        event.resource()
    }
}

/// The newest `updated` in `owner`'s calendar.
pub(crate) fn last_updated(inner: &Inner, owner: &str) -> DateTime<Utc> {
    inner
        .calendars
        .get(owner)
        .and_then(|events| events.iter().map(|event| event.updated).max())
        .unwrap_or_else(Utc::now)
}

/// The page size `maxResults` asks for.
pub(crate) fn page_size(query: &ListQuery) -> Result<usize, ApiError> {
    match query.get("maxResults") {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => Ok(raw
            .parse::<usize>()
            .ok()
            .filter(|&max| max > 0)
            .ok_or_else(|| invalid("maxResults"))?
            .min(MAX_PAGE)),
    }
}

/// One page of a listing: from the snapshot behind `pageToken`, or from a
/// new one `make` computes.
pub(crate) fn page(
    inner: &mut Inner,
    owner: &str,
    query: &ListQuery,
    make: impl FnOnce(&Inner) -> Result<Snapshot, ApiError>,
) -> Answer {
    let page_size = page_size(query)?;
    let (snapshot, offset) = match query.get("pageToken") {
        Some(token) => inner
            .cursors
            .get(owner, token)
            .ok_or_else(|| invalid("pageToken"))?,
        None => (Arc::new(make(inner)?), 0),
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
    } else if let Some(token) = &snapshot.next_sync_token {
        answer["nextSyncToken"] = token.clone().into();
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// Answers `events.list` on `owner`'s calendar for the raw `query` string.
pub(crate) fn list_events(state: &AppState, owner: &str, query: &str) -> Answer {
    let query = ListQuery::parse(query);
    page_size(&query)?;
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
    page(&mut inner, owner, &query, |inner| {
        Ok(selection.snapshot(state, inner, owner))
    })
}
