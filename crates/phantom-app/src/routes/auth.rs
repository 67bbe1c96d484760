//! Registration, login and simplejwt-style token endpoints.

use actix_web::{HttpResponse, web};
use phantom_domain::user::{Registration, User};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::openapi::{ErrorDetail, ValidationErrors};
use crate::state::AppState;

/// The public representation of a user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub struct UserBody {
    /// The user's id.
    pub id: i64,
    /// The login name (unique, at most 150 characters).
    pub username: String,
    /// The e-mail address, `""` when none was given.
    pub email: String,
    /// The display name, `""` when none was given.
    pub name: String,
    /// An IANA time zone name, e.g. `Europe/Paris`.
    pub timezone: &'static str,
    /// Minutes a new event lasts by default.
    pub default_event_duration: i32,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        UserBody {
            id: user.id.0,
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            timezone: user.preferences.timezone.name(),
            default_event_duration: user.preferences.default_event_duration,
        }
    }
}

/// The body of `POST /api/auth/register/`.
#[derive(Debug, ToSchema)]
pub struct RegisterRequest {
    /// The login name (1 to 150 characters), unique.
    pub username: String,
    /// At least 8 characters, not too common or entirely numeric.
    #[schema(format = Password)]
    pub password: String,
    /// An e-mail address.
    #[schema(required = false, format = Email)]
    pub email: String,
    /// A display name.
    #[schema(required = false)]
    pub name: String,
    /// An IANA time zone name (default `UTC`).
    #[schema(required = false)]
    pub timezone: String,
}

/// The body of `POST /api/auth/login/`.
#[derive(Debug, ToSchema)]
pub struct LoginRequest {
    /// The login name.
    pub username: String,
    /// The password.
    #[schema(format = Password)]
    pub password: String,
}

/// The body of `POST /api/auth/token/refresh/` and `POST /api/auth/logout/`.
#[derive(Debug, ToSchema)]
pub struct RefreshRequest {
    /// A refresh JWT.
    pub refresh: String,
}

/// The body of `POST /api/auth/token/verify/`.
#[derive(Debug, ToSchema)]
pub struct VerifyRequest {
    /// Any JWT the server issued (access or refresh).
    pub token: String,
}

/// An access and a refresh token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPair {
    /// The access JWT, for `Authorization: Bearer`.
    pub access: String,
    /// The refresh JWT, for `token/refresh/` and `logout/`.
    pub refresh: String,
}

/// A new access token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessToken {
    /// The access JWT.
    pub access: String,
}

/// The empty object `{}`: the token is valid.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `POST /api/auth/register/`
#[utoipa::path(
    post,
    path = "/api/auth/register/",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user.", body = UserBody),
        (status = 400, description = "Invalid input, e.g. a taken username or a weak password.", body = ValidationErrors),
        (status = 429, description = "Too many authentication attempts from this address.", body = ErrorDetail),
    )
)]
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
    Ok(HttpResponse::Created().json(UserBody::from(&user)))
}

/// `POST /api/auth/login/`
#[utoipa::path(
    post,
    path = "/api/auth/login/",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair.", body = TokenPair),
        (status = 400, description = "A missing field.", body = ValidationErrors),
        (status = 401, description = "Wrong credentials.", body = ErrorDetail),
        (status = 429, description = "Too many authentication attempts from this address.", body = ErrorDetail),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let username = form.required_text("username");
    let password = form.required_text("password");
    form.finish()?;
    let pair = state.accounts.login(&username, &password).await?;
    Ok(HttpResponse::Ok().json(TokenPair {
        access: pair.access,
        refresh: pair.refresh,
    }))
}

/// `POST /api/auth/token/refresh/`
#[utoipa::path(
    post,
    path = "/api/auth/token/refresh/",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token.", body = AccessToken),
        (status = 400, description = "A missing field.", body = ValidationErrors),
        (status = 401, description = "The refresh token is invalid, expired or blacklisted.", body = ErrorDetail),
        (status = 429, description = "Too many authentication attempts from this address.", body = ErrorDetail),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let refresh = form.required_text("refresh");
    form.finish()?;
    let access = state.accounts.refresh(&refresh).await?;
    Ok(HttpResponse::Ok().json(AccessToken { access }))
}

/// `POST /api/auth/token/verify/`
#[utoipa::path(
    post,
    path = "/api/auth/token/verify/",
    tag = "auth",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The token is valid.", body = Empty),
        (status = 400, description = "A missing field.", body = ValidationErrors),
        (status = 401, description = "The token is invalid or expired.", body = ErrorDetail),
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let token = form.required_text("token");
    form.finish()?;
    state.accounts.verify(&token).await?;
    Ok(HttpResponse::Ok().json(Empty {}))
}

/// `POST /api/auth/logout/`: blacklists the refresh token; `205 Reset Content`.
#[utoipa::path(
    post,
    path = "/api/auth/logout/",
    tag = "auth",
    request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 205, description = "The refresh token is blacklisted."),
        (status = 400, description = "A missing field.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token; or an invalid or already blacklisted refresh token.", body = ErrorDetail),
    )
)]
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
