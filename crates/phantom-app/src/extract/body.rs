//! JSON object bodies read field by field, so each wrong field gets its own message.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Utc};
use phantom_domain::validation::{FieldErrors, REQUIRED};
use serde_json::{Map, Value};

use super::time::parse_time;
use crate::error::ApiError;

/// Largest body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

const NOT_NULL: &str = "This field may not be null.";

/// A JSON object body. Read fields with the typed getters, then call [`JsonForm::finish`]:
/// every problem found on the way is reported at once, per field.
#[derive(Debug)]
pub struct JsonForm {
    fields: Map<String, Value>,
    errors: FieldErrors,
}

impl JsonForm {
    /// Parses `bytes` as a JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::BadRequest(format!("JSON parse error - {e}")))?;
        match value {
            Value::Object(fields) => Ok(Self {
                fields,
                errors: FieldErrors::new(),
            }),
            other => Err(FieldErrors::single(
                phantom_domain::validation::NON_FIELD_ERRORS,
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    type_name(&other)
                ),
            )
            .into()),
        }
    }

    fn take(&mut self, name: &str, required: bool) -> Option<Value> {
        match self.fields.remove(name) {
            None => {
                if required {
                    self.errors.add(name, REQUIRED);
                }
                None
            }
            Some(Value::Null) => {
                self.errors.add(name, NOT_NULL);
                None
            }
            Some(value) => Some(value),
        }
    }

    fn typed<T>(
        &mut self,
        name: &str,
        required: bool,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.take(name, required)?;
        convert(&value)
            .map_err(|message| self.errors.add(name, message))
            .ok()
    }

    /// An optional string.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.typed(name, false, as_text)
    }

    /// A required string (empty when missing; the error is recorded).
    pub fn required_text(&mut self, name: &str) -> String {
        self.typed(name, true, as_text).unwrap_or_default()
    }

    /// An optional integer (a JSON number or a numeric string, as DRF accepts).
    pub fn integer(&mut self, name: &str) -> Option<i64> {
        self.typed(name, false, as_integer)
    }

    /// A required integer (0 when missing; the error is recorded).
    pub fn required_integer(&mut self, name: &str) -> i64 {
        self.typed(name, true, as_integer).unwrap_or_default()
    }

    /// An optional id of a related object.
    pub fn pk(&mut self, name: &str) -> Option<i64> {
        self.typed(name, false, as_pk)
    }

    /// An optional id of a related object that may be `null`: `None` when absent,
    /// `Some(None)` for `null`.
    pub fn nullable_pk(&mut self, name: &str) -> Option<Option<i64>> {
        match self.fields.get(name) {
            None => None,
            Some(Value::Null) => {
                self.fields.remove(name);
                Some(None)
            }
            Some(_) => self.typed(name, false, as_pk).map(Some),
        }
    }

    /// A required id of a related object.
    pub fn required_pk(&mut self, name: &str) -> i64 {
        self.typed(name, true, as_pk).unwrap_or_default()
    }

    /// An optional boolean (`true`/`false`, or DRF's `"true"`, `"false"`, `1`, `0`).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.typed(name, false, as_bool)
    }

    /// An optional RFC 3339 time.
    pub fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        self.typed(name, false, as_time)
    }

    /// A required RFC 3339 time (the epoch when missing; the error is recorded).
    pub fn required_time(&mut self, name: &str) -> DateTime<Utc> {
        self.typed(name, true, as_time).unwrap_or_default()
    }

    /// An optional list of strings (`recurrence`).
    pub fn text_list(&mut self, name: &str) -> Option<Vec<String>> {
        self.typed(name, false, |value| match value {
            Value::Array(items) => items.iter().map(as_text).collect(),
            other => Err(format!(
                "Expected a list of items but got type \"{}\".",
                type_name(other)
            )),
        })
    }

    /// An optional IANA time zone name.
    pub fn zone(&mut self, name: &str) -> Option<phantom_domain::timezone::TimeZoneName> {
        self.typed(name, false, |value| {
            let text = as_text(value)?;
            text.parse()
                .map_err(|_| format!("\"{text}\" is not a known IANA time zone."))
        })
    }

    /// Ends reading: fails with every recorded error. Fields nobody read are ignored, as DRF
    /// ignores them.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result().map_err(ApiError::Validation)
    }

    /// Like [`JsonForm::finish`], but a field that is neither read nor in `read_only` is an
    /// error: a misspelt field name must not be silently dropped from an update.
    pub fn finish_strict(mut self, read_only: &[&str]) -> Result<(), ApiError> {
        let unknown: Vec<String> = self
            .fields
            .keys()
            .filter(|k| !read_only.contains(&k.as_str()))
            .cloned()
            .collect();
        for field in unknown {
            self.errors.add(&field, "Unknown field.");
        }
        self.finish()
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A string field. NUL characters are refused here, for every field at once: PostgreSQL
/// cannot store them, and nothing a person types contains one.
fn as_text(value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(text) if text.contains('\0') => Err("Null characters are not allowed.".to_owned()),
        Some(text) => Ok(text.to_owned()),
        None => Err("Not a valid string.".to_owned()),
    }
}

fn as_integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| "A valid integer is required.".to_owned())
}

fn as_pk(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| "Incorrect type. Expected pk value, received float.".to_owned()),
        other => Err(format!(
            "Incorrect type. Expected pk value, received {}.",
            type_name(other)
        )),
    }
}

fn as_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| "Must be a valid boolean.".to_owned())
}

fn as_time(value: &Value) -> Result<DateTime<Utc>, String> {
    let text = value.as_str().ok_or(super::time::TIME_FORMAT_HELP)?;
    parse_time(text).map_err(str::to_owned)
}

impl FromRequest for JsonForm {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let media = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        if let Some(media) = media.filter(|m| !is_json(m)) {
            return Box::pin(std::future::ready(Err(ApiError::UnsupportedMediaType(
                media,
            ))));
        }
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes
                .await
                .map_err(|e| match e.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::PayloadTooLarge,
                    _ => ApiError::BadRequest("The request body could not be read.".to_owned()),
                })?;
            JsonForm::parse(&bytes)
        })
    }
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_bad_field_once() {
        let mut form = JsonForm::parse(
            br#"{"title": 5, "category": "1", "is_flexible": "maybe", "end_time": null, "junk": 1}"#,
        )
        .expect("object");
        assert_eq!(form.required_text("title"), "");
        assert_eq!(form.required_pk("category"), 0);
        assert_eq!(form.boolean("is_flexible"), None);
        assert_eq!(form.time("end_time"), None);
        let _ = form.required_time("start_time");
        let Err(ApiError::Validation(errors)) = form.finish_strict(&[]) else {
            panic!("expected validation errors");
        };
        for field in [
            "title",
            "category",
            "is_flexible",
            "end_time",
            "start_time",
            "junk",
        ] {
            assert!(errors.has(field), "{field} not reported: {errors}");
        }
    }

    #[test]
    fn refuses_non_objects_and_bad_json() {
        assert!(matches!(
            JsonForm::parse(b"[1]"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            JsonForm::parse(b"{"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
