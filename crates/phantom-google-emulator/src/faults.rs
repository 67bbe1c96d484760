//! Fault injection: rules that make Google misbehave on purpose, checked in
//! order for every request.

use std::time::Duration;

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ApiError, USAGE_LIMITS, error_page, oauth_error};
use crate::request_log::Operation;

/// Which requests a [`Fault`] applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Match {
    /// Only this operation; `None` matches any.
    pub operation: Option<Operation>,
    /// Only paths containing this substring (e.g. an event id); `None` matches any.
    pub path_contains: Option<String>,
}

impl Match {
    /// Matches every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Matches requests recognised as `operation`.
    pub fn operation(operation: Operation) -> Self {
        Self {
            operation: Some(operation),
            path_contains: None,
        }
    }

    /// Narrows the match to paths containing `fragment`.
    pub fn path_contains(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    fn matches(&self, operation: Operation, path: &str) -> bool {
        self.operation.is_none_or(|wanted| wanted == operation)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|fragment| path.contains(fragment))
    }
}

/// The value of a `Retry-After` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>`, e.g. `Wed, 21 Oct 2015 07:28:00 GMT`.
    HttpDate(DateTime<Utc>),
}

impl RetryAfter {
    fn header_value(&self) -> String {
        match self {
            Self::Seconds(seconds) => seconds.to_string(),
            Self::HttpDate(at) => httpdate::fmt_http_date((*at).into()),
        }
    }
}

/// What a matching rule does to the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer this status (429, 500, 502, 503, 504 …) with a Google-shaped body.
    Status {
        /// HTTP status code.
        code: u16,
        /// Adds a `Retry-After` header when set.
        #[serde(default)]
        retry_after: Option<RetryAfter>,
    },
    /// Answer 403 with this reason (`rateLimitExceeded`, `userRateLimitExceeded`,
    /// `quotaExceeded`, …) and the message Google uses for it.
    Forbidden {
        /// The `errors[0].reason` value.
        reason: String,
    },
    /// Answer 400 with this reason and message (on `/token` and `/revoke` as
    /// `{"error": reason, "error_description": message}`).
    BadRequest {
        /// The reason (or OAuth `error` code).
        reason: String,
        /// The message (or OAuth `error_description`).
        message: String,
    },
    /// Wait this long, then handle the request normally (JSON: milliseconds).
    Delay(#[serde(with = "millis")] Duration),
    /// Handle the request at once, then hold its answer this long (JSON: milliseconds): a
    /// slow way back, during which the answer no longer shows later changes.
    DelayAnswer(#[serde(with = "millis")] Duration),
    /// Perform the operation for real, then answer 503 as if the response had
    /// been lost on the way back.
    #[serde(rename = "apply_then_503")]
    ApplyThen503,
}

/// One fault-injection rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which requests it applies to.
    #[serde(default)]
    pub matcher: Match,
    /// How many matching requests it applies to; `None` means until cleared.
    #[serde(default)]
    pub times: Option<u32>,
    /// What it does.
    pub action: FaultAction,
}

impl Fault {
    /// A rule that applies once.
    pub fn once(matcher: Match, action: FaultAction) -> Self {
        Self {
            matcher,
            times: Some(1),
            action,
        }
    }

    /// A rule that applies until cleared.
    pub fn always(matcher: Match, action: FaultAction) -> Self {
        Self {
            matcher,
            times: None,
            action,
        }
    }
}

/// The ordered rule queue.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    rules: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.times != Some(0) {
            self.rules.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules still armed, with the uses they have left.
    pub(crate) fn armed(&self) -> Vec<Fault> {
        self.rules.clone()
    }

    pub(crate) fn remove(&mut self, matcher: &Match) {
        self.rules.retain(|rule| rule.matcher != *matcher);
    }

    /// Consumes one use of the first matching rule and returns its action.
    pub(crate) fn take(&mut self, operation: Operation, path: &str) -> Option<FaultAction> {
        let index = self
            .rules
            .iter()
            .position(|rule| rule.matcher.matches(operation, path))?;
        let rule = &mut self.rules[index];
        let action = rule.action.clone();
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
            if *times == 0 {
                self.rules.remove(index);
            }
        }
        Some(action)
    }
}

/// The message Google pairs with a 403 usage-limit reason.
fn forbidden_message(reason: &str) -> &str {
    match reason {
        "rateLimitExceeded" => "Rate Limit Exceeded",
        "userRateLimitExceeded" => "User Rate Limit Exceeded",
        "quotaExceeded" => "Calendar usage limits exceeded.",
        "dailyLimitExceeded" => "Daily Limit Exceeded",
        other => other,
    }
}

fn is_oauth(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::Token | Operation::Refresh | Operation::Revoke
    )
}

/// The response a short-circuiting fault answers for `operation`, shaped the
/// way the endpoint in question shapes its errors.
pub(crate) fn fault_response(
    operation: Operation,
    code: u16,
    retry_after: Option<&RetryAfter>,
) -> HttpResponse {
    let mut response = if operation == Operation::Authorize {
        error_page(
            code,
            "server_error",
            "Something went wrong. Try again later.",
        )
    } else if is_oauth(operation) {
        let error = if code == 429 {
            "rate_limit_exceeded"
        } else {
            "internal_failure"
        };
        oauth_error(code, error, "Backend Error")
    } else if code == 429 {
        ApiError::new(429, "rateLimitExceeded", "Rate Limit Exceeded")
            .domain(USAGE_LIMITS)
            .response()
    } else {
        ApiError::new(code, "backendError", "Backend Error").response()
    };
    if operation == Operation::Authorize {
        *response.status_mut() = crate::errors::status_code(code);
    }
    if let Some(retry_after) = retry_after
        && let Ok(value) =
            actix_web::http::header::HeaderValue::from_str(&retry_after.header_value())
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    response
}

/// The response for the actions that answer without touching the operation.
pub(crate) fn short_circuit(operation: Operation, action: &FaultAction) -> Option<HttpResponse> {
    match action {
        FaultAction::Status { code, retry_after } => {
            Some(fault_response(operation, *code, retry_after.as_ref()))
        }
        FaultAction::Forbidden { reason } => Some(
            ApiError::new(403, reason.clone(), forbidden_message(reason))
                .domain(USAGE_LIMITS)
                .response(),
        ),
        FaultAction::BadRequest { reason, message } if is_oauth(operation) => {
            Some(oauth_error(400, reason, message))
        }
        FaultAction::BadRequest { reason, message } => {
            Some(ApiError::bad_request(reason, message.clone()).response())
        }
        FaultAction::Delay(_) | FaultAction::DelayAnswer(_) | FaultAction::ApplyThen503 => None,
    }
}

/// Durations as whole milliseconds in the control API's JSON.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_applies_and_is_used_up() {
        let mut queue = FaultQueue::default();
        let unavailable = FaultAction::Status {
            code: 503,
            retry_after: None,
        };
        queue.push(Fault {
            matcher: Match::operation(Operation::Insert),
            times: Some(2),
            action: unavailable.clone(),
        });
        queue.push(Fault::always(Match::any(), FaultAction::ApplyThen503));
        assert_eq!(
            queue.take(Operation::Get, "/x"),
            Some(FaultAction::ApplyThen503)
        );
        assert_eq!(
            queue.take(Operation::Insert, "/x"),
            Some(unavailable.clone())
        );
        assert_eq!(queue.take(Operation::Insert, "/x"), Some(unavailable));
        assert_eq!(
            queue.take(Operation::Insert, "/x"),
            Some(FaultAction::ApplyThen503)
        );
        queue.clear();
        assert_eq!(queue.take(Operation::Insert, "/x"), None);
    }

    #[test]
    fn faults_round_trip_through_the_control_json() {
        let json = r#"{"matcher":{"operation":"refresh"},"times":null,"action":{"delay":250}}"#;
        let fault: Fault = serde_json::from_str(json).unwrap();
        assert_eq!(fault.action, FaultAction::Delay(Duration::from_millis(250)));
        assert_eq!(fault.matcher, Match::operation(Operation::Refresh));
        let back: Fault = serde_json::from_str(&serde_json::to_string(&fault).unwrap()).unwrap();
        assert_eq!(back, fault);
    }
}
