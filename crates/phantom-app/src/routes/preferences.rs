//! `GET` / `PUT` / `PATCH /api/preferences/`.

use actix_web::{HttpResponse, web};
use phantom_domain::ids::CategoryId;
use phantom_domain::user::{Preferences, PreferencesPatch};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::openapi::{ErrorDetail, ValidationErrors};
use crate::state::AppState;

/// A user's preferences.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Preferences)]
pub struct PreferencesBody {
    /// An IANA time zone name, e.g. `Europe/Paris`.
    pub timezone: &'static str,
    /// Minutes a new event lasts by default.
    pub default_event_duration: i32,
    /// The category events created in Google Calendar are imported into; `null`: the user's
    /// own `Google Calendar` category.
    #[schema(required = true)]
    pub google_import_category: Option<i64>,
}

/// The body of `PUT /api/preferences/`: both fields are required.
#[derive(Debug, ToSchema)]
pub struct PreferencesRequest {
    /// An IANA time zone name.
    pub timezone: String,
    /// Minutes, from 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub default_event_duration: i32,
    /// A category the user may use, or `null`; unchanged when absent.
    #[schema(required = false)]
    pub google_import_category: Option<i64>,
}

/// The body of `PATCH /api/preferences/`: any of the fields.
#[derive(Debug, ToSchema)]
pub struct PreferencesPatchRequest {
    /// An IANA time zone name.
    #[schema(required = false)]
    pub timezone: String,
    /// Minutes, from 1 to 1440.
    #[schema(required = false, minimum = 1, maximum = 1440)]
    pub default_event_duration: i32,
    /// A category the user may use, or `null`.
    #[schema(required = false)]
    pub google_import_category: Option<i64>,
}

fn import_category(form: &mut JsonForm) -> Option<Option<CategoryId>> {
    form.nullable_pk("google_import_category")
        .map(|id| id.map(CategoryId))
}

fn respond(p: Preferences) -> HttpResponse {
    HttpResponse::Ok().json(PreferencesBody {
        timezone: p.timezone.name(),
        default_event_duration: p.default_event_duration,
        google_import_category: p.google_import_category.map(|c| c.0),
    })
}

/// The user's preferences.
#[utoipa::path(
    get,
    path = "/api/preferences/",
    tag = "preferences",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's preferences.", body = PreferencesBody),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn show(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(respond(state.accounts.user(user).await?.preferences))
}

/// Both preferences, required.
#[utoipa::path(
    put,
    path = "/api/preferences/",
    tag = "preferences",
    request_body = PreferencesRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored preferences.", body = PreferencesBody),
        (status = 400, description = "A missing field, an unknown time zone or a duration out of range.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn replace(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = PreferencesPatch {
        timezone: Some(form.required_text("timezone")),
        default_event_duration: Some(form.required_integer("default_event_duration")),
        google_import_category: import_category(&mut form),
    };
    form.finish()?;
    Ok(respond(
        state.accounts.update_preferences(user, patch).await?,
    ))
}

/// Any of the preferences.
#[utoipa::path(
    patch,
    path = "/api/preferences/",
    tag = "preferences",
    request_body = PreferencesPatchRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored preferences.", body = PreferencesBody),
        (status = 400, description = "An unknown time zone or a duration out of range.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn patch(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = PreferencesPatch {
        timezone: form.text("timezone"),
        default_event_duration: form.integer("default_event_duration"),
        google_import_category: import_category(&mut form),
    };
    form.finish()?;
    Ok(respond(
        state.accounts.update_preferences(user, patch).await?,
    ))
}
