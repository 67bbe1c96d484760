//! Phantom's web app: the page at [`PAGE_PATH`] and its files under `/app/`, all compiled into
//! the binary (FullCalendar is vendored in `assets/fullcalendar/`), served under a strict
//! Content-Security-Policy. The app is a plain client of the JSON API.

use actix_web::http::header::{self, CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, HttpResponseBuilder, web};

use crate::assets::Asset;
use crate::error::ApiError;

/// Where the app's page is served.
pub const PAGE_PATH: &str = "/";
/// The app's files, `/app/<file>`; the trailing slash is there because `NormalizePath`
/// appends one to every request path before routing.
pub const ASSET_PATH: &str = "/app/{file}/";
/// The version of the vendored FullCalendar standard bundle.
pub const FULLCALENDAR_VERSION: &str = "6.1.21";

/// Everything comes from this server; no inline script, no `eval`. FullCalendar writes its
/// stylesheet through the CSSOM into an empty `<style>` element, which the hash of the empty
/// string allows (and only that: no inline style text runs); its icon font is a `data:` URI.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The headers every answer of the app carries.
fn secured(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    response
}

/// `GET /`: the app's page. Never stored, so a new binary's app is picked up and Back after
/// signing out loads the page afresh instead of showing the user's calendar from the cache
/// (the page also clears itself when the browser restores it anyway).
pub async fn page() -> HttpResponse {
    secured(HttpResponse::Ok())
        .content_type(ContentType::html())
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(include_str!("../assets/web-app/index.html"))
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        name: "fullcalendar.js",
        content_type: JS,
        body: include_bytes!("../assets/fullcalendar/index.global.min.js"),
        immutable: true,
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_bytes!("../assets/web-app/app.js"),
        immutable: false,
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_bytes!("../assets/web-app/api.js"),
        immutable: false,
    },
    Asset {
        name: "calendar.js",
        content_type: JS,
        body: include_bytes!("../assets/web-app/calendar.js"),
        immutable: false,
    },
    Asset {
        name: "forms.js",
        content_type: JS,
        body: include_bytes!("../assets/web-app/forms.js"),
        immutable: false,
    },
    Asset {
        name: "google.js",
        content_type: JS,
        body: include_bytes!("../assets/web-app/google.js"),
        immutable: false,
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/web-app/style.css"),
        immutable: false,
    },
];

/// `GET /app/<file>`: FullCalendar, the app's modules or its stylesheet; `404` for any other
/// name.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(Asset::find(ASSETS, &file)?.serve(secured(HttpResponse::Ok())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_asks_for_the_vendored_version() {
        let page = include_str!("../assets/web-app/index.html");
        let query = format!("/app/fullcalendar.js?v={FULLCALENDAR_VERSION}\"");
        assert_eq!(page.matches(&query).count(), 1, "{page}");
        let bundle = String::from_utf8_lossy(ASSETS[0].body);
        assert!(bundle.contains(&format!(
            "FullCalendar Standard Bundle v{FULLCALENDAR_VERSION}"
        )));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = include_str!("../assets/web-app/index.html");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains(" style="), "{page}");
        for handler in ["onclick=", "onload=", "onsubmit=", "onerror="] {
            assert!(!page.contains(handler), "no inline handlers: {page}");
        }
    }
}
