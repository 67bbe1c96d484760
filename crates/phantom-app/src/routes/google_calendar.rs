//! `/api/integrations/google-calendar/`: connect, callback, status, disconnect.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use phantom_domain::services::Callback;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthUser, QueryParams, format_time};
use crate::openapi::{ErrorDetail, Message};
use crate::state::AppState;

/// The answer of `connect/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoogleCalendarConnect)]
pub struct ConnectBody {
    /// Google's consent screen; send the user's browser there.
    #[schema(format = "uri")]
    pub authorization_url: String,
    /// What to do with it.
    pub message: &'static str,
}

/// The answer of `callback/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoogleCalendarConnected)]
pub struct CallbackBody {
    /// `Google Calendar connected successfully`.
    pub message: &'static str,
    /// The username of the user now connected.
    pub user: String,
}

/// The answer of `status/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoogleCalendarStatus)]
pub struct StatusBody {
    /// A usable token is stored.
    pub connected: bool,
    /// The user's username.
    pub user: String,
    /// Google refused the stored token: the user must connect again.
    pub needs_reconnect: bool,
    /// When the current connection was made (RFC 3339, UTC), `null` when not connected.
    #[schema(required = true, format = DateTime)]
    pub connected_at: Option<String>,
    /// How the user's events stand with Google Calendar.
    pub sync: SyncBody,
    /// How changes made in Google Calendar come back.
    pub google_changes: GoogleChangesBody,
}

/// The `google_changes` part of `status/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoogleCalendarChanges)]
pub struct GoogleChangesBody {
    /// When a read of the calendar last completed (RFC 3339, UTC); `null` before the first.
    #[schema(required = true, format = DateTime)]
    pub last_read_at: Option<String>,
    /// Whether Google's push notifications trigger reads: `off` while changes are found by
    /// polling only.
    pub notifications: Notifications,
    /// When the watch channel expires; `null` without one.
    #[schema(required = true, format = DateTime)]
    pub channel_expires_at: Option<String>,
}

/// `google_changes.notifications`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notifications {
    /// A watch channel is open.
    On,
    /// Changes are found by polling.
    Off,
}

/// The `sync` part of `status/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GoogleCalendarSync)]
pub struct SyncBody {
    /// Events whose latest change is still on its way to Google Calendar.
    pub pending: u64,
    /// Events whose latest change failed (retried automatically unless Google refused it).
    pub failed: u64,
    /// Google's daily quota for the account is spent: nothing is sent before this time
    /// (RFC 3339, UTC); `null` when not paused.
    #[schema(required = true, format = DateTime)]
    pub paused_until: Option<String>,
    /// The `sync_error` of the most recently edited event that has one, in words a user can
    /// act on; `null` when none.
    #[schema(required = true)]
    pub last_error: Option<String>,
}

/// Ties an authorization to the browser that started it (RFC 9700 §2.1).
const BINDING_COOKIE: &str = "phantom_oauth_binding";
const COOKIE_PATH: &str = "/api/integrations/google-calendar/";

fn binding_cookie(state: &AppState, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(BINDING_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .max_age(max_age)
        .finish()
}

/// `GET connect/`: the consent-screen URL for this user.
#[utoipa::path(
    get,
    path = "/api/integrations/google-calendar/connect/",
    tag = "google-calendar",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The consent-screen URL; also sets the browser-binding cookie.", body = ConnectBody),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 503, description = "Google Calendar is not configured on this server, or Google is unavailable.", body = ErrorDetail),
    )
)]
pub async fn connect(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let start = state.connection.connect(user).await?;
    tracing::info!("Google Calendar connection started");
    Ok(HttpResponse::Ok()
        .cookie(binding_cookie(
            &state,
            start.nonce,
            CookieDuration::minutes(10),
        ))
        .json(ConnectBody {
            authorization_url: start.url,
            message: "Please visit the authorization URL to connect your Google Calendar",
        }))
}

/// `GET callback/?code=&state=` (or `?error=access_denied&state=`): public, as Google
/// redirects the user's browser here.
#[utoipa::path(
    get,
    path = "/api/integrations/google-calendar/callback/",
    tag = "google-calendar",
    params(
        ("code" = Option<String>, Query, description = "The authorization code Google issued."),
        ("state" = Option<String>, Query, description = "The signed state `connect/` put in the authorization URL."),
        ("error" = Option<String>, Query, description = "Google's error, e.g. `access_denied` when the user declined."),
    ),
    responses(
        (status = 200, description = "Connected.", body = CallbackBody),
        (status = 302, description = "A browser's navigation (`Accept` names `text/html`, not `application/json`): back to the web app at `/?google=connected`, or `/?google=error&reason=<words a user can act on>`."),
        (status = 400, description = "A missing, forged, expired or replayed state; consent refused; the calendar scope not granted.", body = ErrorDetail),
        (status = 503, description = "Google is unavailable.", body = ErrorDetail),
    )
)]
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !is_browser_navigation(&req) {
        return connect_callback(&state, &req).await;
    }
    // A browser lands here from Google's consent screen: send it back to the app with the
    // outcome in words, as the app cannot read a JSON answer to a navigation.
    let query = match connect_callback(&state, &req).await {
        Ok(response) => {
            let mut redirect = HttpResponse::Found();
            for cookie in response.cookies() {
                redirect.cookie(cookie.into_owned());
            }
            return Ok(redirect
                .insert_header((header::LOCATION, "/?google=connected"))
                .finish());
        }
        Err(e) => {
            tracing::info!(error = %e, "Google Calendar connection refused at the callback");
            serde_urlencoded::to_string([("google", "error"), ("reason", &e.message())])
                .map_err(ApiError::internal)?
        }
    };
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/?{query}")))
        .finish())
}

/// A browser's navigation rather than an API client: the `Accept` header names `text/html`
/// and does not name `application/json` (a media range with `q=0` names nothing).
fn is_browser_navigation(req: &HttpRequest) -> bool {
    let accepted: Vec<String> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|range| {
            !range
                .split(';')
                .skip(1)
                .any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
        })
        .filter_map(|range| range.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .collect();
    accepted.iter().any(|m| m == "text/html") && !accepted.iter().any(|m| m == "application/json")
}

/// The callback as JSON clients see it.
async fn connect_callback(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(req)?;
    let callback = Callback {
        code: params.get("code").map(str::to_owned),
        state: params.get("state").map(str::to_owned),
        error: params.get("error").map(str::to_owned),
        bearer_user: AuthUser::optional(req)?.map(|AuthUser(u)| u),
        browser_nonce: req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned()),
        require_browser_binding: state.strict_browser_binding,
    };
    let user = state.connection.callback(callback).await?;
    tracing::Span::current().record("user_id", user.0);
    let username = state.accounts.user(user).await?.username;
    tracing::info!("Google Calendar connected");
    Ok(HttpResponse::Ok()
        .cookie(binding_cookie(state, String::new(), CookieDuration::ZERO))
        .json(CallbackBody {
            message: "Google Calendar connected successfully",
            user: username,
        }))
}

/// `GET status/`
#[utoipa::path(
    get,
    path = "/api/integrations/google-calendar/status/",
    tag = "google-calendar",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's connection.", body = StatusBody),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn status(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let status = state.connection.status(user).await?;
    let username = state.accounts.user(user).await?.username;
    Ok(HttpResponse::Ok().json(StatusBody {
        connected: status.connected,
        user: username,
        needs_reconnect: status.needs_reconnect,
        connected_at: status.connected_at.map(format_time),
        sync: SyncBody {
            pending: status.sync.pending,
            failed: status.sync.failed,
            paused_until: status.sync.paused_until.map(format_time),
            last_error: status.sync.last_error,
        },
        google_changes: GoogleChangesBody {
            last_read_at: status.last_read_at.map(format_time),
            notifications: if status.channel_expires_at.is_some() {
                Notifications::On
            } else {
                Notifications::Off
            },
            channel_expires_at: status.channel_expires_at.map(format_time),
        },
    }))
}

/// `POST disconnect/`
#[utoipa::path(
    post,
    path = "/api/integrations/google-calendar/disconnect/",
    tag = "google-calendar",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored tokens are deleted and revoked at Google (the revocation is retried later if Google is unreachable). Idempotent: also the answer when nothing is connected.", body = Message),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn disconnect(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    // The watch channels are stopped with the token, then it is revoked (both retried later
    // if Google cannot be reached now).
    state.connection.disconnect(user).await?;
    tracing::info!("Google Calendar disconnected");
    Ok(HttpResponse::Ok().json(Message {
        message: "Google Calendar disconnected successfully",
    }))
}

/// `POST notifications/`: Google's push notifications.
#[utoipa::path(
    post,
    path = "/api/integrations/google-calendar/notifications/",
    tag = "google-calendar",
    params(
        ("X-Goog-Channel-ID" = Option<String>, Header, description = "The watch channel's id."),
        ("X-Goog-Channel-Token" = Option<String>, Header, description = "The channel's secret token."),
        ("X-Goog-Resource-ID" = Option<String>, Header, description = "The watched calendar."),
        ("X-Goog-Resource-State" = Option<String>, Header, description = "`sync`, `exists` or `not_exists`."),
        ("X-Goog-Message-Number" = Option<String>, Header, description = "Increases per channel."),
    ),
    responses(
        (status = 200, description = "Always, with an empty body, whoever sends it: a live channel with its exact token makes `exists` and `not_exists` queue one read of the channel's user; anything else changes nothing."),
    )
)]
pub async fn notifications(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (channel, token, resource_state) = (
        header("x-goog-channel-id"),
        header("x-goog-channel-token"),
        header("x-goog-resource-state"),
    );
    let outcome = match state.sync.notified(channel, token, resource_state).await {
        Ok(true) => {
            state.sync_wakeup.notify_one();
            "read"
        }
        Ok(false) => "ignored",
        Err(e) => {
            tracing::error!(error = %e, "a notification could not be recorded");
            "failed"
        }
    };
    ::metrics::counter!(crate::metrics::NOTIFICATIONS, "outcome" => outcome).increment(1);
    HttpResponse::Ok().finish()
}
