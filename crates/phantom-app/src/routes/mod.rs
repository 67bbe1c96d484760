//! HTTP routes: parse and authenticate, call a domain service, render the result.

pub mod auth;
pub mod categories;
pub mod events;
pub mod google_calendar;
pub mod health;
pub mod preferences;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};

use crate::error::ApiError;
use crate::openapi;
use crate::rate_limit::limit_auth;
use crate::webapp;

/// Where Google sends push notifications (public).
pub const NOTIFICATIONS_PATH: &str = "/api/integrations/google-calendar/notifications/";

/// One route: a method on a path, its handler, and whether the authentication rate limit
/// applies (the same for every route of a path).
struct Endpoint {
    method: Method,
    path: &'static str,
    limited: bool,
    handler: fn(Route) -> Route,
}

const fn at(method: Method, path: &'static str, handler: fn(Route) -> Route) -> Endpoint {
    Endpoint {
        method,
        path,
        limited: false,
        handler,
    }
}

const fn limited_at(method: Method, path: &'static str, handler: fn(Route) -> Route) -> Endpoint {
    Endpoint {
        method,
        path,
        limited: true,
        handler,
    }
}

/// Every route the server registers, in matching order (`/api/events/range/` before
/// `/api/events/{id}/`). [`configure`] registers exactly these, so [`route_table`] can be
/// compared with the OpenAPI document.
const ENDPOINTS: &[Endpoint] = &[
    limited_at(Method::POST, "/api/auth/register/", |r| {
        r.to(auth::register)
    }),
    limited_at(Method::POST, "/api/auth/login/", |r| r.to(auth::login)),
    limited_at(Method::POST, "/api/auth/token/refresh/", |r| {
        r.to(auth::refresh)
    }),
    at(Method::POST, "/api/auth/token/verify/", |r| {
        r.to(auth::verify)
    }),
    at(Method::POST, "/api/auth/logout/", |r| r.to(auth::logout)),
    at(Method::GET, "/api/categories/", |r| r.to(categories::list)),
    at(Method::POST, "/api/categories/", |r| {
        r.to(categories::create)
    }),
    at(Method::GET, "/api/categories/{id}/", |r| {
        r.to(categories::show)
    }),
    at(Method::PUT, "/api/categories/{id}/", |r| {
        r.to(categories::replace)
    }),
    at(Method::PATCH, "/api/categories/{id}/", |r| {
        r.to(categories::patch)
    }),
    at(Method::DELETE, "/api/categories/{id}/", |r| {
        r.to(categories::delete)
    }),
    at(Method::GET, "/api/preferences/", |r| {
        r.to(preferences::show)
    }),
    at(Method::PUT, "/api/preferences/", |r| {
        r.to(preferences::replace)
    }),
    at(Method::PATCH, "/api/preferences/", |r| {
        r.to(preferences::patch)
    }),
    at(Method::GET, "/api/events/", |r| r.to(events::list)),
    at(Method::POST, "/api/events/", |r| r.to(events::create)),
    at(Method::GET, "/api/events/range/", |r| r.to(events::range)),
    at(Method::GET, "/api/events/{id}/", |r| r.to(events::show)),
    at(Method::PUT, "/api/events/{id}/", |r| r.to(events::replace)),
    at(Method::PATCH, "/api/events/{id}/", |r| r.to(events::patch)),
    at(Method::DELETE, "/api/events/{id}/", |r| {
        r.to(events::delete)
    }),
    at(Method::POST, "/api/events/{id}/split/", |r| {
        r.to(events::split)
    }),
    at(
        Method::GET,
        "/api/integrations/google-calendar/connect/",
        |r| r.to(google_calendar::connect),
    ),
    at(
        Method::GET,
        "/api/integrations/google-calendar/callback/",
        |r| r.to(google_calendar::callback),
    ),
    at(
        Method::GET,
        "/api/integrations/google-calendar/status/",
        |r| r.to(google_calendar::status),
    ),
    at(
        Method::POST,
        "/api/integrations/google-calendar/disconnect/",
        |r| r.to(google_calendar::disconnect),
    ),
    at(Method::POST, NOTIFICATIONS_PATH, |r| {
        r.to(google_calendar::notifications)
    }),
    at(Method::GET, "/healthz/", |r| r.to(health::healthz)),
    at(Method::GET, "/readyz/", |r| r.to(health::readyz)),
    // The documentation itself: not in the document it serves.
    at(Method::GET, openapi::SCHEMA_PATH, |r| r.to(openapi::schema)),
    at(Method::GET, openapi::DOCS_PATH, |r| r.to(openapi::docs)),
    at(Method::GET, openapi::ASSET_PATH, |r| r.to(openapi::asset)),
    // The web app: a client of the API, not part of its document either.
    at(Method::GET, webapp::PAGE_PATH, |r| r.to(webapp::page)),
    at(Method::GET, webapp::ASSET_PATH, |r| r.to(webapp::asset)),
];

/// Registers every route of the table: one resource per path, in the table's order.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    for endpoint in ENDPOINTS {
        if !paths.contains(&endpoint.path) {
            paths.push(endpoint.path);
        }
    }
    for path in paths {
        let endpoints = ENDPOINTS.iter().filter(|e| e.path == path);
        let route = |e: &Endpoint| (e.handler)(web::route().method(e.method.clone()));
        if ENDPOINTS.iter().any(|e| e.path == path && e.limited) {
            cfg.service(endpoints.fold(limited(path), |r, e| r.route(route(e))));
        } else {
            cfg.service(endpoints.fold(resource(path), |r, e| r.route(route(e))));
        }
    }
}

/// The `(method, path template)` of every route [`configure`] registers, the documentation
/// routes ([`openapi::SCHEMA_PATH`], [`openapi::DOCS_PATH`], [`openapi::ASSET_PATH`]) and
/// the web app's ([`webapp::PAGE_PATH`], [`webapp::ASSET_PATH`]) included.
pub fn route_table() -> Vec<(Method, &'static str)> {
    ENDPOINTS
        .iter()
        .map(|e| (e.method.clone(), e.path))
        .collect()
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
