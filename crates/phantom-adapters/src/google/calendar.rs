//! [`CalendarSync`] over `google-calendar3`'s `CalendarHub`, one call per method, no retries
//! inside (the domain's policy retries). A [`Delegate`] per call sees the failed response, so
//! the status, the `Retry-After` header and Google's `errors[].reason` can be classified
//! together (the crate's own error keeps only the body).

use std::time::Duration;

use async_trait::async_trait;
use google_calendar3::api::{Event, EventDateTime};
use google_calendar3::common::{Delegate, Response, Retry};
use google_calendar3::{CalendarHub, hyper_rustls, hyper_util};
use phantom_domain::calendar::{CalendarError, CalendarEvent};
use phantom_domain::google::Secret;
use phantom_domain::ports::CalendarSync;
use phantom_domain::sync::GoogleEventId;

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

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
    Event {
        id: Some(event.id.as_str().to_owned()),
        summary: Some(event.summary.clone()),
        description: Some(event.description.clone()),
        start: Some(at(event.start)),
        end: Some(at(event.end)),
        color_id: Some(event.color_id.clone()),
        ..Event::default()
    }
}

/// What the delegate saw of a failed response.
#[derive(Default)]
struct Failure {
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

impl Failure {
    fn classify(self, error: google_calendar3::Error) -> CalendarError {
        let Some(status) = self.status else {
            // No response at all: connection refused, reset, DNS.
            return CalendarError::Retryable {
                reason: format!("connection failed: {error}").trim().to_owned(),
                retry_after: None,
            };
        };
        let reason = self.reason.unwrap_or_default();
        let message = self.message.unwrap_or_else(|| format!("HTTP {status}"));
        match (status, reason.as_str()) {
            (401, _) => CalendarError::Unauthorized,
            (403, "quotaExceeded") => CalendarError::QuotaExceeded,
            (403, "rateLimitExceeded" | "userRateLimitExceeded")
            | (429 | 500 | 502 | 503 | 504, _) => CalendarError::Retryable {
                reason: format!("{status} {reason}").trim().to_owned(),
                retry_after: self.retry_after,
            },
            (409, _) => CalendarError::AlreadyExists,
            (404 | 410, _) => CalendarError::Gone,
            (status, _) if status >= 500 => CalendarError::Retryable {
                reason: format!("{status}"),
                retry_after: self.retry_after,
            },
            (status, _) => CalendarError::Permanent { status, message },
        }
    }
}

/// Runs one call with a timeout; the future returns what its delegate saw with the result.
async fn call<T>(
    run: impl std::future::Future<Output = (Failure, google_calendar3::Result<T>)>,
) -> Result<(), CalendarError> {
    match tokio::time::timeout(CALL_TIMEOUT, run).await {
        Err(_) => Err(CalendarError::Retryable {
            reason: "timeout".to_owned(),
            retry_after: None,
        }),
        Ok((_, Ok(_))) => Ok(()),
        Ok((seen, Err(error))) => Err(seen.classify(error)),
    }
}

#[async_trait]
impl CalendarSync for GoogleCalendar {
    async fn insert(&self, token: &Secret, event: &CalendarEvent) -> Result<(), CalendarError> {
        let hub = self.hub(token);
        let body = resource(event);
        call(async move {
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
    }

    async fn update(&self, token: &Secret, event: &CalendarEvent) -> Result<(), CalendarError> {
        let hub = self.hub(token);
        let body = resource(event);
        call(async move {
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
    }

    async fn delete(&self, token: &Secret, id: &GoogleEventId) -> Result<(), CalendarError> {
        let hub = self.hub(token);
        call(async move {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(later)).expect("date");
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
