//! Field-level validation errors in the shape clients of the original DRF API expect.

use std::collections::BTreeMap;
use std::fmt;

/// The key for errors that belong to no single field.
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// Validation failures keyed by field name, each with one or more messages a user can act on.
///
/// Rendered by the HTTP layer as `{"field": ["message", …]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One error on one field.
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Adds every error of `other`.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `field` has at least one error.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The messages by field, in field-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, messages) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {}", messages.join(" "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// DRF's message for a missing required field.
pub const REQUIRED: &str = "This field is required.";
/// DRF's message for an empty string where text is required.
pub const BLANK: &str = "This field may not be blank.";

/// DRF's message for a string over `max` characters.
pub fn too_long(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

/// Checks a trimmed, required, length-limited text field; returns the trimmed text.
pub fn required_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, BLANK);
    } else if trimmed.chars().count() > max_chars {
        errors.add(field, too_long(max_chars));
    }
    trimmed.to_owned()
}

/// Checks an optional length-limited text field.
pub fn optional_text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) {
    if value.chars().count() > max_chars {
        errors.add(field, too_long(max_chars));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_messages_per_field_and_renders_them() {
        let mut errors = FieldErrors::single("title", BLANK);
        errors.add("title", "second");
        errors.merge(FieldErrors::single("end_time", "bad"));
        assert!(errors.has("title") && errors.has("end_time"));
        assert_eq!(
            errors.to_string(),
            format!("end_time: bad; title: {BLANK} second")
        );
        assert!(FieldErrors::new().into_result().is_ok());
    }

    #[test]
    fn required_text_trims_and_limits_by_characters() {
        let mut errors = FieldErrors::new();
        assert_eq!(required_text(&mut errors, "t", "  é  ", 1), "é");
        assert!(errors.is_empty());
        required_text(&mut errors, "t", "   ", 5);
        required_text(&mut errors, "u", "ab", 1);
        assert!(errors.has("t") && errors.has("u"));
    }
}
