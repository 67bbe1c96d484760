//! Conditional writes: `events.update`, `events.patch` and `events.delete` with Google's
//! `If-Match` precondition.
//!
//! The generated client cannot send them: its call builders take query parameters and a
//! delegate, never a request header (checked in google-calendar3 7.0), and Google's
//! conditional modification is the `If-Match` header. So a write on a known revision is sent
//! here, on the hub's own hyper client and connector, with the crate's [`Event`] as the body;
//! a failure goes through the same [`Delegate`] as the generated calls, so that it is
//! classified the same way. Unconditional writes still go through the generated calls.

use google_calendar3::api::Event;
use google_calendar3::common::Delegate;
use google_calendar3::hyper::{self, Method, header};
use http_body_util::{BodyExt, Full};

use super::calendar::{Connector, Failure};

/// A write to send on a known revision.
pub(super) struct ConditionalWrite<'a> {
    /// `PUT`, `PATCH` or `DELETE`.
    pub(super) method: Method,
    /// `…/calendar/v3/`.
    pub(super) base_url: &'a str,
    /// The calendar.
    pub(super) calendar_id: &'a str,
    /// The event.
    pub(super) event_id: &'a str,
    /// The body of an update or a patch.
    pub(super) body: Option<Event>,
    /// The etag the write is conditional on.
    pub(super) if_match: &'a str,
}

/// Characters a path segment keeps as they are (RFC 3986 unreserved, and `@` for calendar
/// ids that are addresses); everything else is percent-encoded.
fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// What the delegate saw and what came back: the written event (`None` for a delete, whose
/// answer is empty), or the crate's error for a failure.
pub(super) type Sent = (Failure, google_calendar3::Result<Option<Event>>);

/// Sends `write` with `Authorization: Bearer access` on `client`.
pub(super) async fn send(
    client: &google_calendar3::common::Client<Connector>,
    access: &str,
    write: ConditionalWrite<'_>,
) -> Sent {
    let mut seen = Failure::default();
    let url = format!(
        "{}calendars/{}/events/{}?alt=json",
        write.base_url,
        segment(write.calendar_id),
        segment(write.event_id)
    );
    let body = match write.body.map(serde_json::to_value) {
        None => Vec::new(),
        Some(Ok(mut value)) => {
            google_calendar3::common::remove_json_null_values(&mut value);
            value.to_string().into_bytes()
        }
        Some(Err(e)) => return (seen, Err(io_error(e))),
    };
    let mut request = hyper::Request::builder()
        .method(write.method)
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .header(header::IF_MATCH, write.if_match);
    if !body.is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = match request.body(Full::from(body).map_err(|never| match never {}).boxed()) {
        Ok(request) => request,
        Err(e) => return (seen, Err(io_error(e))),
    };
    let response = match client.request(request).await {
        Ok(response) => response,
        Err(e) => return (seen, Err(google_calendar3::Error::HttpError(e))),
    };
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return (seen, Err(io_error(e))),
    };
    if !parts.status.is_success() {
        let error = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        let response = hyper::Response::from_parts(
            parts,
            Full::from(bytes).map_err(|never| match never {}).boxed(),
        );
        seen.http_failure(&response, error.as_ref());
        let error = match error {
            Some(value) => google_calendar3::Error::BadRequest(value),
            None => google_calendar3::Error::Failure(response),
        };
        return (seen, Err(error));
    }
    if bytes.is_empty() {
        return (seen, Ok(None));
    }
    match serde_json::from_slice::<Event>(&bytes) {
        Ok(event) => (seen, Ok(Some(event))),
        Err(e) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            (seen, Err(google_calendar3::Error::JsonDecodeError(text, e)))
        }
    }
}

/// A failure before or after the exchange with Google (a body that cannot be built or read),
/// as the crate reports its own.
fn io_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> google_calendar3::Error {
    google_calendar3::Error::Io(std::io::Error::other(error))
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("primary"), "primary");
        assert_eq!(segment("ada@example.com"), "ada@example.com");
        assert_eq!(segment("a b/c?d#e"), "a%20b%2Fc%3Fd%23e");
        assert_eq!(
            segment("abc123_20261208T090000Z"),
            "abc123_20261208T090000Z"
        );
    }
}
