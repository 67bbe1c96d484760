//! `/api/integrations/google-calendar/`: connect, callback, status, disconnect.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, web};
use phantom_domain::services::Callback;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{AuthUser, QueryParams, format_time};
use crate::state::AppState;

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
        .json(json!({
            "authorization_url": start.url,
            "message": "Please visit the authorization URL to connect your Google Calendar",
        })))
}

/// `GET callback/?code=&state=` (or `?error=access_denied&state=`): public, as Google
/// redirects the user's browser here.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(&req)?;
    let callback = Callback {
        code: params.get("code").map(str::to_owned),
        state: params.get("state").map(str::to_owned),
        error: params.get("error").map(str::to_owned),
        bearer_user: AuthUser::optional(&req)?.map(|AuthUser(u)| u),
        browser_nonce: req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned()),
        require_browser_binding: state.strict_browser_binding,
    };
    let user = state.connection.callback(callback).await?;
    tracing::Span::current().record("user_id", user.0);
    let username = state.accounts.user(user).await?.username;
    tracing::info!("Google Calendar connected");
    Ok(HttpResponse::Ok()
        .cookie(binding_cookie(&state, String::new(), CookieDuration::ZERO))
        .json(json!({
            "message": "Google Calendar connected successfully",
            "user": username,
        })))
}

/// `GET status/`
pub async fn status(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let status = state.connection.status(user).await?;
    let username = state.accounts.user(user).await?.username;
    Ok(HttpResponse::Ok().json(json!({
        "connected": status.connected,
        "user": username,
        "needs_reconnect": status.needs_reconnect,
        "connected_at": status.connected_at.map(format_time),
    })))
}

/// `POST disconnect/`
pub async fn disconnect(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    state.connection.disconnect(user).await?;
    tracing::info!("Google Calendar disconnected");
    Ok(HttpResponse::Ok().json(json!({ "message": "Google Calendar disconnected successfully" })))
}
