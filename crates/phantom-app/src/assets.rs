//! Static files compiled into the binary and served by name (Swagger UI, the web app).

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::error::ApiError;

/// One file served as it was compiled in.
pub(crate) struct Asset {
    pub(crate) name: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
    /// Vendored files are requested with `?v=<version>`, so they may be cached for good.
    pub(crate) immutable: bool,
}

impl Asset {
    /// The file called `name` among `assets`; `404` for any other name.
    pub(crate) fn find(assets: &'static [Asset], name: &str) -> Result<&'static Asset, ApiError> {
        assets
            .iter()
            .find(|a| a.name == name)
            .ok_or(ApiError::NotFound)
    }

    /// The file on `response` (a `200`), with its type, its caching and `nosniff`.
    pub(crate) fn serve(&self, mut response: HttpResponseBuilder) -> HttpResponse {
        let cache = if self.immutable {
            vec![
                CacheDirective::Public,
                CacheDirective::MaxAge(365 * 24 * 60 * 60),
                CacheDirective::Extension("immutable".to_owned(), None),
            ]
        } else {
            vec![CacheDirective::NoCache]
        };
        response
            .content_type(self.content_type)
            .insert_header(CacheControl(cache))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(self.body)
    }
}
