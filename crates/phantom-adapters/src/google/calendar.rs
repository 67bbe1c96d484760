//! [`CalendarSync`] over `google-calendar3`'s `CalendarHub`, one call per method, no retries
//! inside (the domain's policy retries). A [`Delegate`] per call sees the failed response, so
//! the status, the `Retry-After` header and Google's `errors[].reason` can be classified
//! together (the crate's own error keeps only the body).

use std::time::Duration;

use async_trait::async_trait;
use google_calendar3::api::{Event, EventDateTime};
use google_calendar3::common::{Delegate, Response, Retry};
use google_calendar3::hyper::Method;
use google_calendar3::{CalendarHub, hyper_rustls, hyper_util};

use super::conditional::{self, ConditionalWrite};
use phantom_domain::calendar::{CalendarError, CalendarEvent};
use phantom_domain::google::Secret;
use phantom_domain::google_changes::{
    ChangePage, ChannelRequest, FieldSet, GoogleEvent, GoogleRecurrence, GoogleTime, OpenChannel,
};
use phantom_domain::ports::CalendarSync;
use phantom_domain::sync::GoogleEventId;

pub(super) type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// How long one call may take before it counts as a (retryable) timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Google Calendar's events API for one calendar id (`primary` by default).
#[derive(Clone)]
pub struct GoogleCalendar {
    client: google_calendar3::common::Client<Connector>,
    base_url: String,
    root_url: String,
    calendar_id: String,
}

impl std::fmt::Debug for GoogleCalendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleCalendar")
            .field("base_url", &self.base_url)
            .field("calendar_id", &self.calendar_id)
            .finish_non_exhaustive()
    }
}

impl GoogleCalendar {
    /// A client for the Calendar API at `base_url` (ends with `calendar/v3/`), writing to
    /// `calendar_id`. HTTPS uses the bundled web PKI roots; plain HTTP is allowed for the
    /// local emulator.
    pub fn new(base_url: &str, calendar_id: &str) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        let base_url = if base_url.ends_with('/') {
            base_url.to_owned()
        } else {
            format!("{base_url}/")
        };
        let root_url = base_url
            .strip_suffix("calendar/v3/")
            .unwrap_or(&base_url)
            .to_owned();
        Self {
            client,
            base_url,
            root_url,
            calendar_id: calendar_id.to_owned(),
        }
    }

    /// A write of `event_id` on the revision `etag` (see [`super::conditional`]).
    fn conditional<'a>(
        &'a self,
        method: Method,
        event_id: &'a str,
        body: Option<Event>,
        etag: &'a str,
    ) -> ConditionalWrite<'a> {
        ConditionalWrite {
            method,
            base_url: &self.base_url,
            calendar_id: &self.calendar_id,
            event_id,
            body,
            if_match: etag,
        }
    }

    /// Sends a conditional write, counted and classified like every generated call; answers
    /// the etag of what was written.
    async fn send(
        &self,
        operation: &'static str,
        token: &Secret,
        write: ConditionalWrite<'_>,
    ) -> Result<Option<String>, CalendarError> {
        let written = call(
            operation,
            conditional::send(&self.client, token.expose(), write),
        )
        .await?;
        Ok(written.and_then(|event| event.etag))
    }

    fn hub(&self, token: &Secret) -> CalendarHub<Connector> {
        let mut hub = CalendarHub::new(self.client.clone(), token.expose().to_owned());
        hub.base_url(self.base_url.clone());
        hub.root_url(self.root_url.clone());
        hub
    }
}

fn resource(event: &CalendarEvent) -> Event {
    let at = |t: chrono::DateTime<chrono::Utc>| EventDateTime {
        date_time: Some(t),
        time_zone: Some(event.time_zone.clone()),
        ..EventDateTime::default()
    };
    let on = |day: chrono::NaiveDate| EventDateTime {
        date: Some(day),
        ..EventDateTime::default()
    };
    let (start, end) = match event.all_day {
        Some((first, after_last)) => (on(first), on(after_last)),
        None => (at(event.start), at(event.end)),
    };
    Event {
        id: Some(event.id.as_str().to_owned()),
        summary: Some(event.summary.clone()),
        description: Some(event.description.clone()),
        start: Some(start),
        end: Some(end),
        color_id: Some(event.color_id.clone()),
        recurrence: (!event.recurrence.is_empty()).then(|| event.recurrence.clone()),
        ..Event::default()
    }
}

/// An `events.patch` body: only `fields` (a field left out stays as Google holds it), never
/// the id or `colorId`. A series' times travel with its shape: its `recurrence` and the
/// `timeZone` of its start and end, so that a patch restoring Phantom's version of a series
/// (a later change over an older edit of its rule in Google) restores its rule too.
fn patch_body(event: &CalendarEvent, fields: FieldSet) -> Event {
    let full = resource(event);
    let times = fields.contains(FieldSet::TIMES);
    Event {
        summary: full.summary.filter(|_| fields.contains(FieldSet::TITLE)),
        description: full
            .description
            .filter(|_| fields.contains(FieldSet::DESCRIPTION)),
        start: full.start.filter(|_| times),
        end: full.end.filter(|_| times),
        recurrence: full.recurrence.filter(|_| times),
        ..Event::default()
    }
}

/// What the delegate saw of a failed response.
#[derive(Default)]
pub(super) struct Failure {
    status: Option<u16>,
    retry_after: Option<Duration>,
    reason: Option<String>,
    message: Option<String>,
}

impl Delegate for Failure {
    fn http_failure(&mut self, response: &Response, error: Option<&serde_json::Value>) -> Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if let Some(error) = error {
            self.reason = error["error"]["errors"][0]["reason"]
                .as_str()
                .map(str::to_owned);
            self.message = error["error"]["message"].as_str().map(str::to_owned);
        }
        Retry::Abort
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// `phantom_sync_calls_total`: one per Calendar call, by `operation` (`insert`, `update`,
/// `patch`, `delete`, `get`, `list`, `watch`, `stop_channel`) and `outcome` (`ok`, `retry`,
/// `rate_limited`, `quota`, `unauthorized`, `conflict`, `precondition`, `gone`, `failed`).
pub const SYNC_CALLS_METRIC: &str = "phantom_sync_calls_total";

/// How one Calendar call ended, as the `outcome` label of [`SYNC_CALLS_METRIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// 5xx, timeouts, refused or reset connections: retried later.
    Retry,
    /// 429, or 403 `rateLimitExceeded`/`userRateLimitExceeded`: retried after a pause.
    RateLimited,
    /// 403 `quotaExceeded`: the project's daily quota is spent.
    Quota,
    /// 401: the token needs a refresh.
    Unauthorized,
    /// 409: the event exists already (a normal answer to a repeated insert).
    Conflict,
    /// 412: the event changed in Google since the etag a conditional write named.
    Precondition,
    /// 404 or 410: the event is not there (a normal answer to a repeated delete).
    Gone,
    /// Any other 4xx: not retried.
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Retry => "retry",
            Outcome::RateLimited => "rate_limited",
            Outcome::Quota => "quota",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Conflict => "conflict",
            Outcome::Precondition => "precondition",
            Outcome::Gone => "gone",
            Outcome::Failed => "failed",
        }
    }
}

impl Failure {
    fn classify(self, error: google_calendar3::Error) -> (Outcome, CalendarError) {
        let Some(status) = self.status else {
            // No response at all: connection refused, reset, DNS.
            return (
                Outcome::Retry,
                CalendarError::Retryable {
                    reason: format!("connection failed: {error}").trim().to_owned(),
                    retry_after: None,
                },
            );
        };
        let reason = self.reason.unwrap_or_default();
        let message = self.message.unwrap_or_else(|| format!("HTTP {status}"));
        let retryable = |outcome| {
            (
                outcome,
                CalendarError::Retryable {
                    reason: format!("{status} {reason}").trim().to_owned(),
                    retry_after: self.retry_after,
                },
            )
        };
        match (status, reason.as_str()) {
            (401, _) => (Outcome::Unauthorized, CalendarError::Unauthorized),
            (403, "quotaExceeded") => (Outcome::Quota, CalendarError::QuotaExceeded),
            (403, "rateLimitExceeded" | "userRateLimitExceeded") | (429, _) => {
                retryable(Outcome::RateLimited)
            }
            (409, _) => (Outcome::Conflict, CalendarError::AlreadyExists),
            (412, _) => (Outcome::Precondition, CalendarError::PreconditionFailed),
            (404 | 410, _) => (Outcome::Gone, CalendarError::Gone),
            (status, _) if status >= 500 => retryable(Outcome::Retry),
            (status, _) => (
                Outcome::Failed,
                CalendarError::Permanent { status, message },
            ),
        }
    }
}

/// Runs one call with a timeout; the future returns what its delegate saw with the result.
/// Counts the call in [`SYNC_CALLS_METRIC`] under `operation`.
async fn call<T>(
    operation: &'static str,
    run: impl std::future::Future<Output = (Failure, google_calendar3::Result<T>)>,
) -> Result<T, CalendarError> {
    let (outcome, result) = match tokio::time::timeout(CALL_TIMEOUT, run).await {
        Err(_) => (
            Outcome::Retry,
            Err(CalendarError::Retryable {
                reason: "timeout".to_owned(),
                retry_after: None,
            }),
        ),
        Ok((_, Ok(value))) => (Outcome::Ok, Ok(value)),
        Ok((seen, Err(error))) => {
            let (outcome, error) = seen.classify(error);
            (outcome, Err(error))
        }
    };
    metrics::counter!(SYNC_CALLS_METRIC, "operation" => operation, "outcome" => outcome.label())
        .increment(1);
    result
}

#[async_trait]
impl CalendarSync for GoogleCalendar {
    async fn insert(
        &self,
        token: &Secret,
        event: &CalendarEvent,
    ) -> Result<Option<String>, CalendarError> {
        let hub = self.hub(token);
        let body = resource(event);
        call("insert", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .insert(body, &self.calendar_id)
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await
        .map(|(_, written)| written.etag)
    }

    async fn update(
        &self,
        token: &Secret,
        event: &CalendarEvent,
        if_match: Option<String>,
    ) -> Result<Option<String>, CalendarError> {
        let body = resource(event);
        if let Some(etag) = if_match {
            let write = self.conditional(Method::PUT, event.id.as_str(), Some(body), &etag);
            return self.send("update", token, write).await;
        }
        let hub = self.hub(token);
        call("update", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .update(body, &self.calendar_id, event.id.as_str())
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await
        .map(|(_, written)| written.etag)
    }

    async fn delete(
        &self,
        token: &Secret,
        id: &GoogleEventId,
        if_match: Option<String>,
    ) -> Result<(), CalendarError> {
        if let Some(etag) = if_match {
            let write = self.conditional(Method::DELETE, id.as_str(), None, &etag);
            return self.send("delete", token, write).await.map(drop);
        }
        let hub = self.hub(token);
        call("delete", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .delete(&self.calendar_id, id.as_str())
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await
        .map(drop)
    }

    async fn patch(
        &self,
        token: &Secret,
        event: &CalendarEvent,
        fields: FieldSet,
        if_match: Option<String>,
    ) -> Result<Option<String>, CalendarError> {
        let body = patch_body(event, fields);
        if let Some(etag) = if_match {
            let write = self.conditional(Method::PATCH, event.id.as_str(), Some(body), &etag);
            return self.send("patch", token, write).await;
        }
        let hub = self.hub(token);
        call("patch", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .patch(body, &self.calendar_id, event.id.as_str())
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await
        .map(|(_, written)| written.etag)
    }

    async fn get(&self, token: &Secret, id: &GoogleEventId) -> Result<GoogleEvent, CalendarError> {
        let hub = self.hub(token);
        let (_, event) = call("get", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .get(&self.calendar_id, id.as_str())
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await?;
        read_event(event).ok_or_else(|| CalendarError::Permanent {
            status: 200,
            message: "the event Google answered has no id".to_owned(),
        })
    }

    async fn watch(
        &self,
        token: &Secret,
        channel: &ChannelRequest,
    ) -> Result<OpenChannel, CalendarError> {
        let hub = self.hub(token);
        let body = google_calendar3::api::Channel {
            id: Some(channel.id.clone()),
            type_: Some("web_hook".to_owned()),
            address: Some(channel.address.clone()),
            token: Some(channel.token.expose().to_owned()),
            params: Some(std::collections::HashMap::from([(
                "ttl".to_owned(),
                channel.ttl.as_secs().to_string(),
            )])),
            ..google_calendar3::api::Channel::default()
        };
        let (_, answer) = call("watch", async move {
            let mut seen = Failure::default();
            let result = hub
                .events()
                .watch(body, &self.calendar_id)
                .delegate(&mut seen)
                .doit()
                .await;
            (seen, result)
        })
        .await?;
        opened(answer, &channel.id)
    }

    async fn stop_channel(
        &self,
        token: &Secret,
        channel: &OpenChannel,
    ) -> Result<(), CalendarError> {
        let hub = self.hub(token);
        let body = google_calendar3::api::Channel {
            id: Some(channel.id.clone()),
            resource_id: Some(channel.resource_id.clone()),
            ..google_calendar3::api::Channel::default()
        };
        call("stop_channel", async move {
            let mut seen = Failure::default();
            let result = hub.channels().stop(body).delegate(&mut seen).doit().await;
            (seen, result)
        })
        .await
        .map(drop)
    }

    async fn list_changes(
        &self,
        token: &Secret,
        sync_token: Option<String>,
        page_token: Option<String>,
    ) -> Result<ChangePage, CalendarError> {
        let hub = self.hub(token);
        let (_, events) = call("list", async move {
            let mut seen = Failure::default();
            let mut list = hub
                .events()
                .list(&self.calendar_id)
                .show_deleted(true)
                .max_results(LIST_PAGE_SIZE);
            if let Some(sync_token) = &sync_token {
                list = list.sync_token(sync_token);
            }
            if let Some(page_token) = &page_token {
                list = list.page_token(page_token);
            }
            let result = list.delegate(&mut seen).doit().await;
            (seen, result)
        })
        .await?;
        Ok(ChangePage {
            items: events
                .items
                .unwrap_or_default()
                .into_iter()
                .filter_map(read_event)
                .collect(),
            next_page_token: events.next_page_token,
            next_sync_token: events.next_sync_token,
            time_zone: events.time_zone,
        })
    }
}

/// An `events.watch` answer in the domain's terms.
fn opened(channel: google_calendar3::api::Channel, id: &str) -> Result<OpenChannel, CalendarError> {
    let invalid = |what: &str| CalendarError::Permanent {
        status: 200,
        message: format!("the watch answer has no {what}"),
    };
    let expires_at = channel
        .expiration
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| invalid("expiration"))?;
    Ok(OpenChannel {
        id: channel.id.unwrap_or_else(|| id.to_owned()),
        resource_id: channel.resource_id.ok_or_else(|| invalid("resourceId"))?,
        expires_at,
    })
}

/// Events per `events.list` page (Google's default is 250, its maximum 2500).
const LIST_PAGE_SIZE: i32 = 250;

/// A listed event in the domain's terms; `None` without an id.
fn read_event(event: Event) -> Option<GoogleEvent> {
    let time = |t: Option<&EventDateTime>| {
        let t = t?;
        t.date_time
            .map(GoogleTime::At)
            .or(t.date.map(GoogleTime::Day))
    };
    let time_zone = event
        .start
        .as_ref()
        .and_then(|s| s.time_zone.clone())
        .filter(|z| !z.is_empty());
    Some(GoogleEvent {
        id: event.id?,
        cancelled: event.status.as_deref() == Some("cancelled"),
        summary: event.summary,
        description: event.description,
        start: time(event.start.as_ref()),
        end: time(event.end.as_ref()),
        updated: event.updated,
        time_zone,
        recurrence: GoogleRecurrence {
            rules: event.recurrence.unwrap_or_default(),
            recurring_event_id: event.recurring_event_id,
            original_start: time(event.original_start_time.as_ref()),
        },
        etag: event.etag,
        color_id: event.color_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_carries_only_the_changed_fields() {
        let at = |h| {
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 29, h, 0, 0)
                .single()
                .expect("instant")
        };
        let event = CalendarEvent {
            id: GoogleEventId::from_stored("abc123".into()),
            summary: "Exam".into(),
            description: "Room 4".into(),
            start: at(9),
            end: at(11),
            time_zone: "Europe/Paris".into(),
            all_day: None,
            color_id: "11".into(),
            recurrence: Vec::new(),
        };
        let title = patch_body(&event, FieldSet::TITLE);
        assert_eq!(title.summary.as_deref(), Some("Exam"));
        assert!(title.description.is_none() && title.start.is_none() && title.end.is_none());
        let times = patch_body(&event, FieldSet::TIMES.with(FieldSet::DESCRIPTION));
        assert_eq!(times.summary, None);
        assert_eq!(times.description.as_deref(), Some("Room 4"));
        assert_eq!(times.end.and_then(|e| e.date_time), Some(at(11)));
        let all = patch_body(&event, FieldSet::ALL);
        assert_eq!((all.id, all.color_id), (None, None));
        assert!(all.summary.is_some() && all.start.is_some());
    }

    #[test]
    fn a_cancelled_instance_with_only_its_ids_is_read() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "id": "abc_20261201T080000Z",
            "status": "cancelled",
            "recurringEventId": "abc",
            "originalStartTime": {"date": "2026-12-01"},
        }))
        .expect("an event");
        let read = read_event(event).expect("read");
        assert!(read.cancelled && read.is_recurring());
        assert_eq!(read.recurrence.recurring_event_id.as_deref(), Some("abc"));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(read.recurrence.original_start, Some(GoogleTime::Day(day)));
        assert_eq!((read.start, read.end, read.time_zone), (None, None, None));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(later)).expect("date");
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }

    fn outcome_of(status: Option<u16>, reason: &str) -> Outcome {
        let seen = Failure {
            status,
            reason: Some(reason.to_owned()),
            ..Failure::default()
        };
        seen.classify(google_calendar3::Error::Cancelled).0
    }

    #[test]
    fn outcomes_follow_the_classification() {
        assert_eq!(outcome_of(Some(429), ""), Outcome::RateLimited);
        assert_eq!(
            outcome_of(Some(403), "rateLimitExceeded"),
            Outcome::RateLimited
        );
        assert_eq!(
            outcome_of(Some(403), "userRateLimitExceeded"),
            Outcome::RateLimited
        );
        assert_eq!(outcome_of(Some(403), "quotaExceeded"), Outcome::Quota);
        assert_eq!(outcome_of(Some(403), "forbidden"), Outcome::Failed);
        assert_eq!(outcome_of(Some(400), "invalid"), Outcome::Failed);
        assert_eq!(outcome_of(Some(401), "authError"), Outcome::Unauthorized);
        assert_eq!(outcome_of(Some(409), "duplicate"), Outcome::Conflict);
        assert_eq!(outcome_of(Some(404), "notFound"), Outcome::Gone);
        assert_eq!(outcome_of(Some(410), "deleted"), Outcome::Gone);
        assert_eq!(outcome_of(Some(503), "backendError"), Outcome::Retry);
        assert_eq!(outcome_of(Some(507), ""), Outcome::Retry);
        assert_eq!(outcome_of(None, ""), Outcome::Retry);
    }
}
