//! Bearer-token checks in front of Calendar API v3.

use actix_web::{HttpMessage, HttpRequest};

use crate::errors::{ApiError, Challenge};
use crate::request_log::Operation;
use crate::state::AppState;

/// Scopes that allow reading and writing events.
const WRITE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events",
];
/// Scopes that allow reading events only.
const READ_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
];

/// The account a request's bearer token belongs to, kept in the request's extensions for the
/// request log.
#[derive(Debug, Clone)]
pub(crate) struct Account(pub(crate) String);

/// Returns the calendar owner for a valid bearer token allowed to do `operation`.
pub(crate) fn authorize(
    state: &AppState,
    req: &HttpRequest,
    calendar_id: &str,
    operation: Operation,
) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::new(
            401,
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
        .challenge(Challenge::InvalidToken, "Login Required."));
    };
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let grant = token.and_then(|token| state.lock().valid_access_token(token).cloned());
    let Some(grant) = grant else {
        return Err(ApiError::new(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
        .challenge(Challenge::InvalidToken, "Invalid Credentials"));
    };
    let read_only = matches!(
        operation,
        Operation::Get | Operation::List | Operation::Watch | Operation::StopChannel
    );
    let allowed = grant.scopes.iter().any(|scope| {
        WRITE_SCOPES.contains(&scope.as_str())
            || (read_only && READ_SCOPES.contains(&scope.as_str()))
    });
    if !allowed {
        return Err(ApiError::new(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
        .challenge(Challenge::InsufficientScope, ""));
    }
    // The request log names whose calendar each call was for.
    req.extensions_mut().insert(Account(grant.user.clone()));
    if calendar_id == "primary" || calendar_id.eq_ignore_ascii_case(&grant.user) {
        Ok(grant.user)
    } else {
        Err(ApiError::not_found())
    }
}
