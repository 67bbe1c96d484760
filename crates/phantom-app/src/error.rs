//! The one mapping from errors to HTTP responses, in Django REST Framework's shapes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use phantom_domain::error::{AccountError, SchedulingError};
use phantom_domain::services::ConnectionError;
use phantom_domain::validation::FieldErrors;
use serde_json::{Map, Value, json};

/// Everything a handler can answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with messages per field.
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// 400 not tied to a field (malformed JSON and the like).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no credentials were sent.
    #[error("authentication credentials were not provided")]
    NotAuthenticated,
    /// 401: the token is malformed, forged, expired, of the wrong kind or blacklisted.
    #[error("token is invalid or expired")]
    InvalidToken,
    /// 401: wrong username or password.
    #[error("wrong credentials")]
    InvalidCredentials,
    /// 403: the user may see the object but not change it; the text says why.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 404: a page number past the last page.
    #[error("invalid page")]
    InvalidPage,
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// 413: the body is over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: a body that is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    /// 503: a dependency (Google) is unavailable or not configured; the text says what to do.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(String),
    /// 500: a real fault; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// Wraps a fault.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(e.into())
    }

    /// What the body says, in one line for a person: the `detail`, or every field's
    /// messages. For answers a browser shows as words instead of JSON (the OAuth callback's
    /// browser mode); logs a fault's cause as [`ResponseError::error_response`] does.
    pub fn message(&self) -> String {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause_chain(cause.as_ref()), "internal error");
        }
        match self.body() {
            Value::Object(fields) => match fields.get("detail").and_then(Value::as_str) {
                Some(detail) => detail.to_owned(),
                None => fields
                    .values()
                    .filter_map(Value::as_array)
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            },
            other => other.to_string(),
        }
    }

    fn body(&self) -> Value {
        match self {
            ApiError::Validation(errors) => {
                let fields: Map<String, Value> = errors
                    .iter()
                    .map(|(field, messages)| (field.to_owned(), json!(messages)))
                    .collect();
                Value::Object(fields)
            }
            ApiError::BadRequest(detail) => json!({ "detail": detail }),
            ApiError::NotAuthenticated => {
                json!({ "detail": "Authentication credentials were not provided." })
            }
            ApiError::InvalidToken => {
                json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
            }
            ApiError::InvalidCredentials => {
                json!({ "detail": "No active account found with the given credentials" })
            }
            ApiError::Forbidden(detail) => json!({ "detail": detail }),
            ApiError::NotFound => json!({ "detail": "Not found." }),
            ApiError::InvalidPage => json!({ "detail": "Invalid page." }),
            ApiError::MethodNotAllowed(method) => {
                json!({ "detail": format!("Method \"{method}\" not allowed.") })
            }
            ApiError::PayloadTooLarge => {
                json!({ "detail": "Request body is too large (the limit is 64 KiB)." })
            }
            ApiError::UnsupportedMediaType(media) => {
                json!({ "detail": format!("Unsupported media type \"{media}\" in request.") })
            }
            ApiError::ServiceUnavailable(detail) => json!({ "detail": detail }),
            ApiError::Internal(_) => json!({ "detail": "A server error occurred." }),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotAuthenticated | ApiError::InvalidToken | ApiError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause_chain(cause.as_ref()), "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            ));
        }
        response.json(self.body())
    }
}

/// `outer: inner: innermost`, for the log line of a fault.
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Validation(errors) => ApiError::Validation(errors),
            AccountError::InvalidCredentials => ApiError::InvalidCredentials,
            AccountError::InvalidToken | AccountError::UserNotFound => ApiError::InvalidToken,
            AccountError::Repo(e) => ApiError::internal(e),
            AccountError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<SchedulingError> for ApiError {
    fn from(e: SchedulingError) -> Self {
        match e {
            SchedulingError::Validation(errors) => ApiError::Validation(errors),
            SchedulingError::NotFound => ApiError::NotFound,
            SchedulingError::InvalidPage => ApiError::InvalidPage,
            SchedulingError::Forbidden(detail) => ApiError::Forbidden(detail),
            SchedulingError::Refused(detail) => ApiError::BadRequest(detail),
            SchedulingError::Repo(e) => ApiError::internal(e),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::NotConfigured => ApiError::ServiceUnavailable(
                "Google Calendar is not configured on this server: set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET."
                    .to_owned(),
            ),
            ConnectionError::Refused(message) => ApiError::BadRequest(message),
            ConnectionError::NotConnected | ConnectionError::NeedsReconnect => {
                ApiError::BadRequest(e.to_string())
            }
            ConnectionError::Unavailable(cause) => {
                tracing::warn!(error = %cause_chain(cause.as_ref()), "Google is unavailable");
                ApiError::ServiceUnavailable(
                    "Google could not be reached. Try again in a minute.".to_owned(),
                )
            }
            ConnectionError::Repo(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_show_a_generic_message_and_keep_the_chain_for_the_log() {
        let io = std::io::Error::other("disk on fire");
        let e = ApiError::internal(phantom_domain::error::RepoError::storage(io));
        assert_eq!(e.body(), json!({"detail": "A server error occurred."}));
        if let ApiError::Internal(cause) = &e {
            assert_eq!(cause_chain(cause.as_ref()), "storage failure: disk on fire");
        }
    }

    #[test]
    fn validation_errors_are_lists_per_field() {
        let e = ApiError::from(FieldErrors::single(
            "end_time",
            "end_time must be after start_time.",
        ));
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            json!({"end_time": ["end_time must be after start_time."]})
        );
    }
}
