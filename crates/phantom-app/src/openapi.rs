//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the response types, served at [`SCHEMA_PATH`]; and Swagger UI over it at
//! [`DOCS_PATH`], from files vendored in `assets/swagger-ui/` (no network at build or run time).

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::assets::Asset;
use crate::error::ApiError;
use crate::routes;

/// Where the JSON document is served.
pub const SCHEMA_PATH: &str = "/api/schema/";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs/";
/// The page's assets, `/api/docs/<file>`; the trailing slash is there because
/// `NormalizePath` appends one to every request path before routing.
pub const ASSET_PATH: &str = "/api/docs/{file}/";
/// The version of the vendored `swagger-ui-dist`.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearer";

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phantom Scheduler API",
        description = "A scheduling back end: JWT authentication, events with categories, and \
            durable sync of events to Google Calendar. Paths end with a slash; times are RFC 3339; \
            errors have Django REST Framework's shapes.",
    ),
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::verify,
        routes::auth::logout,
        routes::categories::list,
        routes::categories::create,
        routes::categories::show,
        routes::categories::replace,
        routes::categories::patch,
        routes::categories::delete,
        routes::preferences::show,
        routes::preferences::replace,
        routes::preferences::patch,
        routes::events::list,
        routes::events::create,
        routes::events::range,
        routes::events::show,
        routes::events::replace,
        routes::events::patch,
        routes::events::delete,
        routes::events::split,
        routes::google_calendar::connect,
        routes::google_calendar::callback,
        routes::google_calendar::status,
        routes::google_calendar::disconnect,
        routes::google_calendar::notifications,
        routes::health::healthz,
        routes::health::readyz,
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Registration and simplejwt-style tokens (public, rate limited)."),
        (name = "categories", description = "Event categories and their priorities."),
        (name = "preferences", description = "The user's time zone and default event duration."),
        (name = "events", description = "Events; changes are queued for Google Calendar in the same transaction."),
        (name = "google-calendar", description = "Connecting Google Calendar (OAuth 2.0 with PKCE)."),
        (name = "health", description = "Liveness and readiness probes."),
    )
)]
pub struct ApiDoc;

/// Adds the `Authorization: Bearer <access JWT>` scheme the operations refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access` token of `POST /api/auth/login/` (5 minutes by default).",
                    ))
                    .build(),
            ),
        );
    }
}

/// DRF's error body: `{"detail": "..."}` (401, 403, 404, 405, 413, 415, 429, 503, and 400s not
/// tied to a field).
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// What went wrong.
    pub detail: String,
    /// `token_not_valid` when a JWT was refused.
    #[schema(nullable = false)]
    pub code: Option<String>,
}

/// DRF's validation errors: one list of messages per field, e.g.
/// `{"end_time": ["end_time must be after start_time."]}`; errors not tied to a field are under
/// `non_field_errors`.
#[derive(Debug, ToSchema)]
pub struct ValidationErrors(pub HashMap<String, Vec<String>>);

/// `{"message": "..."}`.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// What happened.
    pub message: &'static str,
}

/// Built once: the document does not change while the server runs.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// `GET /api/schema/`: the OpenAPI document as JSON.
pub async fn schema() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

/// `GET /api/docs/`: Swagger UI over [`SCHEMA_PATH`].
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .body(include_str!("../assets/api-docs/index.html"))
}

/// Everything the page loads comes from this server; Swagger UI styles elements inline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
        immutable: true,
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/swagger-ui/swagger-ui.css"),
        immutable: true,
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/api-docs/init.js"),
        immutable: false,
    },
];

/// `GET /api/docs/<file>`: the bundle, the stylesheet or `init.js`; `404` for any other name.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(Asset::find(ASSETS, &file)?.serve(HttpResponse::Ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_asks_for_the_vendored_version() {
        let page = include_str!("../assets/api-docs/index.html");
        let query = format!("?v={SWAGGER_UI_VERSION}\"");
        assert_eq!(page.matches(&query).count(), 2, "{page}");
        let bundle = String::from_utf8_lossy(ASSETS[0].body);
        assert!(bundle.contains(&format!("PACKAGE_VERSION:\"{SWAGGER_UI_VERSION}\"")));
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_bearer_scheme() {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap_or_default();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
    }
}
