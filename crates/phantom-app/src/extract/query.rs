//! Query-string parameters with per-parameter `400`s, and page links.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use phantom_domain::validation::FieldErrors;

use super::time::parse_time;
use crate::error::ApiError;

/// The decoded `name=value` pairs of a query string.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decodes the request's query string.
    pub fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(req.query_string())
            .map(QueryParams)
            .map_err(|_| ApiError::BadRequest("The query string could not be decoded.".to_owned()))
    }

    /// The last value given for `name`, if any and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter; a non-integer is recorded in `errors`.
    pub fn integer(&self, name: &str, errors: &mut FieldErrors) -> Option<i64> {
        let text = self.get(name)?;
        text.trim()
            .parse()
            .map_err(|_| errors.add(name, "A valid integer is required."))
            .ok()
    }

    /// An RFC 3339 time parameter; an unreadable one is recorded in `errors`.
    pub fn time(&self, name: &str, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
        let text = self.get(name)?;
        // An unencoded `+01:00` arrives as ` 01:00`: read it as the client meant it.
        parse_time(text)
            .or_else(|e| {
                if text.contains(' ') {
                    parse_time(&text.replace(' ', "+"))
                } else {
                    Err(e)
                }
            })
            .map_err(|message| errors.add(name, message))
            .ok()
    }

    /// The absolute URL of this request with `page` set (or removed, for the first page), as
    /// DRF's `next` and `previous` links.
    pub fn page_link(&self, req: &HttpRequest, page: u32) -> String {
        let mut pairs: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        if page > 1 {
            pairs.push(("page".to_owned(), page.to_string()));
        }
        let info = req.connection_info();
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let separator = if query.is_empty() { "" } else { "?" };
        format!(
            "{}://{}{}{separator}{query}",
            info.scheme(),
            info.host(),
            req.path()
        )
    }
}
