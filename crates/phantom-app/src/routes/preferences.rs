//! `GET` / `PUT` / `PATCH /api/preferences/`.

use actix_web::{HttpResponse, web};
use phantom_domain::user::{Preferences, PreferencesPatch};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::state::AppState;

fn respond(p: Preferences) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "timezone": p.timezone.name(),
        "default_event_duration": p.default_event_duration,
    }))
}

/// The user's preferences.
pub async fn show(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(respond(state.accounts.user(user).await?.preferences))
}

/// Both preferences, required.
pub async fn replace(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = PreferencesPatch {
        timezone: Some(form.required_text("timezone")),
        default_event_duration: Some(form.required_integer("default_event_duration")),
    };
    form.finish()?;
    Ok(respond(
        state.accounts.update_preferences(user, patch).await?,
    ))
}

/// Any of the preferences.
pub async fn patch(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = PreferencesPatch {
        timezone: form.text("timezone"),
        default_event_duration: form.integer("default_event_duration"),
    };
    form.finish()?;
    Ok(respond(
        state.accounts.update_preferences(user, patch).await?,
    ))
}
