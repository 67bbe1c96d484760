//! The error bodies Google answers with: the API envelope used by Calendar v3
//! and the flat `{"error","error_description"}` shape of the OAuth endpoints.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use serde_json::json;

/// Domain Google puts on most API errors.
pub(crate) const GLOBAL: &str = "global";
/// Domain Google puts on quota and rate-limit errors.
pub(crate) const USAGE_LIMITS: &str = "usageLimits";

/// One Calendar API error, rendered as Google's JSON envelope:
/// `{"error":{"code","message","errors":[{"domain","reason","message"}],"status"}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    code: u16,
    domain: &'static str,
    reason: String,
    message: String,
    /// Google words the item of some errors differently from the top level.
    item_message: Option<&'static str>,
    challenge: Option<Challenge>,
    /// The item's `locationType` and `location`, where Google names the culprit.
    location: Option<(&'static str, &'static str)>,
}

/// The `WWW-Authenticate` challenge (and `location`) of an auth error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// 401: missing, unknown, expired or revoked token.
    InvalidToken,
    /// 403: the token lacks a Calendar scope.
    InsufficientScope,
}

impl ApiError {
    /// An error with domain `global`.
    pub(crate) fn new(code: u16, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            domain: GLOBAL,
            reason: reason.into(),
            message: message.into(),
            item_message: None,
            challenge: None,
            location: None,
        }
    }

    /// Replaces the error item's domain.
    pub(crate) fn domain(mut self, domain: &'static str) -> Self {
        self.domain = domain;
        self
    }

    /// Makes this an authentication error: `WWW-Authenticate` header, and for
    /// 401s the `location` of the Authorization header and a terser item message.
    pub(crate) fn challenge(mut self, challenge: Challenge, item_message: &'static str) -> Self {
        self.challenge = Some(challenge);
        if challenge == Challenge::InvalidToken {
            self.item_message = Some(item_message);
        }
        self
    }

    pub(crate) fn bad_request(reason: &str, message: impl Into<String>) -> Self {
        Self::new(400, reason, message)
    }

    pub(crate) fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(400, "parseError", format!("Parse Error: {detail}"))
    }

    pub(crate) fn not_found() -> Self {
        Self::new(404, "notFound", "Not Found")
    }

    pub(crate) fn deleted() -> Self {
        Self::new(410, "deleted", "Resource has been deleted")
    }

    /// 410 for a sync token that expired or was never issued.
    pub(crate) fn full_sync_required() -> Self {
        Self::new(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
    }

    /// 412 for an `If-Match` that names another revision than the stored one.
    pub(crate) fn condition_not_met() -> Self {
        let mut error = Self::new(412, "conditionNotMet", "Precondition Failed");
        error.location = Some(("header", "If-Match"));
        error
    }

    pub(crate) fn duplicate() -> Self {
        Self::new(409, "duplicate", "The requested identifier already exists.")
    }

    /// The top-level message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The envelope as JSON.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut item = serde_json::Map::new();
        let item_message = self
            .item_message
            .map_or_else(|| self.message.clone(), str::to_owned);
        item.insert("message".into(), item_message.into());
        item.insert("domain".into(), self.domain.into());
        item.insert("reason".into(), self.reason.clone().into());
        let location = match self.challenge {
            Some(Challenge::InvalidToken) => Some(("header", "Authorization")),
            _ => self.location,
        };
        if let Some((kind, name)) = location {
            item.insert("location".into(), name.into());
            item.insert("locationType".into(), kind.into());
        }
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.clone().into());
        error.insert(
            "errors".into(),
            vec![serde_json::Value::Object(item)].into(),
        );
        if let Some(status) = grpc_status(self.code) {
            error.insert("status".into(), status.into());
        }
        json!({ "error": error })
    }

    /// The HTTP response carrying the envelope.
    pub(crate) fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(status_code(self.code));
        match self.challenge {
            Some(Challenge::InvalidToken) => {
                response.insert_header((
                    WWW_AUTHENTICATE,
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                ));
            }
            Some(Challenge::InsufficientScope) => {
                response.insert_header((
                    WWW_AUTHENTICATE,
                    "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", \
                     scope=\"https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/calendar.events\"",
                ));
            }
            None => {}
        }
        response.json(self.body())
    }
}

/// The canonical status string Google's front end adds for a given HTTP code;
/// codes without a single canonical mapping (410, 502) carry none.
fn grpc_status(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => return None,
    })
}

/// Falls back to 500 for a code actix cannot represent, which only a
/// malformed fault rule can produce.
pub(crate) fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The flat error shape of `oauth2.googleapis.com` (`/token`, `/revoke`).
pub(crate) fn oauth_error(code: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status_code(code))
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

/// The plain-text page `accounts.google.com` shows instead of redirecting when
/// the authorization request itself is unusable. The page is served as 400
/// whatever error number it shows (e.g. "Error 401: invalid_client").
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    pub(crate) shown_code: u16,
    pub(crate) error: &'static str,
    pub(crate) detail: String,
}

impl ErrorPage {
    pub(crate) fn new(shown_code: u16, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            shown_code,
            error,
            detail: detail.into(),
        }
    }
}

impl From<ErrorPage> for HttpResponse {
    fn from(page: ErrorPage) -> Self {
        HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "Access blocked: this app's request is invalid\n\nError {}: {}\n\n{}\n",
                page.shown_code, page.error, page.detail
            ))
    }
}

/// Shorthand for an [`ErrorPage`] response.
pub(crate) fn error_page(shown_code: u16, error: &'static str, detail: &str) -> HttpResponse {
    ErrorPage::new(shown_code, error, detail).into()
}

impl From<ApiError> for HttpResponse {
    fn from(error: ApiError) -> Self {
        error.response()
    }
}
