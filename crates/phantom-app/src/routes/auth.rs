//! Registration, login and simplejwt-style token endpoints.

use actix_web::{HttpResponse, web};
use phantom_domain::user::{Registration, User};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::state::AppState;

/// The public representation of a user.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "timezone": user.preferences.timezone.name(),
        "default_event_duration": user.preferences.default_event_duration,
    })
}

/// `POST /api/auth/register/`
pub async fn register(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let registration = Registration {
        username: form.required_text("username"),
        password: form.required_text("password"),
        email: form.text("email"),
        name: form.text("name"),
        timezone: form.text("timezone"),
    };
    form.finish()?;
    let user = state.accounts.register(registration).await?;
    tracing::info!(user_id = user.id.0, "user registered");
    Ok(HttpResponse::Created().json(user_json(&user)))
}

/// `POST /api/auth/login/`
pub async fn login(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let username = form.required_text("username");
    let password = form.required_text("password");
    form.finish()?;
    let pair = state.accounts.login(&username, &password).await?;
    Ok(HttpResponse::Ok().json(json!({ "access": pair.access, "refresh": pair.refresh })))
}

/// `POST /api/auth/token/refresh/`
pub async fn refresh(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let refresh = form.required_text("refresh");
    form.finish()?;
    let access = state.accounts.refresh(&refresh).await?;
    Ok(HttpResponse::Ok().json(json!({ "access": access })))
}

/// `POST /api/auth/token/verify/`
pub async fn verify(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let token = form.required_text("token");
    form.finish()?;
    state.accounts.verify(&token).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// `POST /api/auth/logout/`: blacklists the refresh token; `205 Reset Content`.
pub async fn logout(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let refresh = form.required_text("refresh");
    form.finish()?;
    state.accounts.logout(user, &refresh).await?;
    Ok(HttpResponse::ResetContent().finish())
}
