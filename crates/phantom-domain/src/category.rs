//! Categories: what an event is about, and how much it matters.

use crate::ids::{CategoryId, UserId};
use crate::validation::{FieldErrors, optional_text, required_text};

/// Longest category name.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest category description.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
/// Lowest priority a category may carry.
pub const MIN_PRIORITY: i32 = 1;
/// Highest priority a category may carry (the seeded ones use 1 to 5).
pub const MAX_PRIORITY: i32 = 10;
/// Colour of a new category when the client gives none.
pub const DEFAULT_COLOR: &str = "#9E9E9E";

/// A category: a seeded default (no owner, visible to all) or a user's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// The category's id.
    pub id: CategoryId,
    /// `None` for the seeded defaults, which every user sees.
    pub owner: Option<UserId>,
    /// Unique within what one user sees.
    pub name: String,
    /// Higher is more important (Exam 5 … Gaming 1).
    pub priority_level: i32,
    /// `#RRGGBB`.
    pub color: String,
    /// Free text.
    pub description: String,
}

/// What a client sends to create a category, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryDraft {
    /// Wanted name.
    pub name: String,
    /// Wanted priority.
    pub priority_level: i64,
    /// `#RRGGBB`, or the default grey.
    pub color: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// A validated category to store for `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCategory {
    /// The user creating it.
    pub owner: UserId,
    /// Trimmed name.
    pub name: String,
    /// Priority within range.
    pub priority_level: i32,
    /// `#RRGGBB`.
    pub color: String,
    /// Free text.
    pub description: String,
}

/// What a client sends to change a category (`PATCH`; a `PUT` requires the name and the
/// priority): only the given fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryPatch {
    /// New name.
    pub name: Option<String>,
    /// New priority.
    pub priority_level: Option<i64>,
    /// New colour.
    pub color: Option<String>,
    /// New description.
    pub description: Option<String>,
}

impl CategoryPatch {
    /// The full state after applying this patch to `current` (not yet validated).
    pub fn apply_to(self, current: &Category) -> CategoryDraft {
        CategoryDraft {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            priority_level: self
                .priority_level
                .unwrap_or_else(|| i64::from(current.priority_level)),
            color: Some(self.color.unwrap_or_else(|| current.color.clone())),
            description: Some(
                self.description
                    .unwrap_or_else(|| current.description.clone()),
            ),
        }
    }
}

impl CategoryDraft {
    /// Validates the draft for `owner`.
    pub fn validate(self, owner: UserId) -> Result<NewCategory, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = required_text(&mut errors, "name", &self.name, NAME_MAX_CHARS);
        let priority_level = match i32::try_from(self.priority_level) {
            Ok(p) if (MIN_PRIORITY..=MAX_PRIORITY).contains(&p) => p,
            _ => {
                errors.add(
                    "priority_level",
                    format!("Ensure this value is between {MIN_PRIORITY} and {MAX_PRIORITY}."),
                );
                MIN_PRIORITY
            }
        };
        let color = self.color.unwrap_or_else(|| DEFAULT_COLOR.to_owned());
        if !is_hex_color(&color) {
            errors.add("color", "Enter a colour as #RRGGBB, for example #FF5733.");
        }
        let description = self.description.unwrap_or_default();
        optional_text(
            &mut errors,
            "description",
            &description,
            DESCRIPTION_MAX_CHARS,
        );
        errors.into_result().map(|()| NewCategory {
            owner,
            name,
            priority_level,
            color,
            description,
        })
    }
}

fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_name_priority_and_colour() {
        let ok = CategoryDraft {
            name: " Reading ".into(),
            priority_level: 4,
            color: None,
            description: None,
        }
        .validate(UserId(1))
        .expect("valid");
        assert_eq!(
            (ok.name.as_str(), ok.color.as_str()),
            ("Reading", DEFAULT_COLOR)
        );

        let bad = CategoryDraft {
            name: "".into(),
            priority_level: 11,
            color: Some("red".into()),
            description: None,
        }
        .validate(UserId(1))
        .unwrap_err();
        for field in ["name", "priority_level", "color"] {
            assert!(bad.has(field), "{field}");
        }
    }

    #[test]
    fn a_patch_keeps_the_fields_it_does_not_name() {
        let current = Category {
            id: CategoryId(9),
            owner: Some(UserId(1)),
            name: "Reading".into(),
            priority_level: 2,
            color: "#123ABC".into(),
            description: "Novels".into(),
        };
        let draft = CategoryPatch {
            priority_level: Some(4),
            ..CategoryPatch::default()
        }
        .apply_to(&current);
        let next = draft.validate(UserId(1)).expect("valid");
        assert_eq!(
            (next.name.as_str(), next.priority_level, next.color.as_str()),
            ("Reading", 4, "#123ABC")
        );
        assert_eq!(next.description, "Novels");
    }
}
