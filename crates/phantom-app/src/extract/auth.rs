//! `Authorization: Bearer <access JWT>`.

use std::future::{Ready, ready};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use phantom_domain::ids::UserId;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated user of a protected endpoint.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

impl AuthUser {
    /// The user of a Bearer token if one is sent (and valid); `None` without the header.
    pub fn optional(req: &HttpRequest) -> Result<Option<AuthUser>, ApiError> {
        if req.headers().contains_key(AUTHORIZATION) {
            authenticate(req).map(Some)
        } else {
            Ok(None)
        }
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ApiError::NotAuthenticated)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(' '))
        .ok_or(ApiError::InvalidToken)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state is not registered"))?;
    let user = state.accounts.authenticate(token)?;
    tracing::Span::current().record("user_id", user.0);
    Ok(AuthUser(user))
}
