//! HTTP routes: parse and authenticate, call a domain service, render the result.

mod auth;
mod categories;
mod events;
mod google_calendar;
mod health;
mod preferences;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, Resource, web};

use crate::error::ApiError;
use crate::rate_limit::limit_auth;

/// Registers every route of the API contract.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(limited("/api/auth/register/").route(web::post().to(auth::register)))
        .service(limited("/api/auth/login/").route(web::post().to(auth::login)))
        .service(limited("/api/auth/token/refresh/").route(web::post().to(auth::refresh)))
        .service(resource("/api/auth/token/verify/").route(web::post().to(auth::verify)))
        .service(resource("/api/auth/logout/").route(web::post().to(auth::logout)))
        .service(
            resource("/api/categories/")
                .route(web::get().to(categories::list))
                .route(web::post().to(categories::create)),
        )
        .service(
            resource("/api/preferences/")
                .route(web::get().to(preferences::show))
                .route(web::put().to(preferences::replace))
                .route(web::patch().to(preferences::patch)),
        )
        .service(
            resource("/api/events/")
                .route(web::get().to(events::list))
                .route(web::post().to(events::create)),
        )
        .service(resource("/api/events/range/").route(web::get().to(events::range)))
        .service(
            resource("/api/events/{id}/")
                .route(web::get().to(events::show))
                .route(web::put().to(events::replace))
                .route(web::patch().to(events::patch))
                .route(web::delete().to(events::delete)),
        )
        .service(
            resource("/api/integrations/google-calendar/connect/")
                .route(web::get().to(google_calendar::connect)),
        )
        .service(
            resource("/api/integrations/google-calendar/callback/")
                .route(web::get().to(google_calendar::callback)),
        )
        .service(
            resource("/api/integrations/google-calendar/status/")
                .route(web::get().to(google_calendar::status)),
        )
        .service(
            resource("/api/integrations/google-calendar/disconnect/")
                .route(web::post().to(google_calendar::disconnect)),
        )
        .service(resource("/healthz/").route(web::get().to(health::healthz)))
        .service(resource("/readyz/").route(web::get().to(health::readyz)));
}

/// A resource that answers other methods with DRF's `405`.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// A [`resource`] behind the authentication rate limit ([`crate::rate_limit`]).
fn limited(
    path: &str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource(path).wrap(from_fn(limit_auth))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

/// Any path the API does not have.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
