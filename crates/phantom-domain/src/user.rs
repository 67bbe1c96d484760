//! Users, registration rules and scheduling preferences.

use chrono::{DateTime, Utc};

use crate::ids::{CategoryId, UserId};
use crate::timezone::TimeZoneName;
use crate::validation::{BLANK, FieldErrors, optional_text, too_long};

/// Longest username, as Django's `User.username`.
pub const USERNAME_MAX_CHARS: usize = 150;
/// Longest display name.
pub const NAME_MAX_CHARS: usize = 150;
/// Longest e-mail address (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Shortest acceptable password.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest acceptable password; bounds the work a login request can cause.
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Default length of a new event, in minutes.
pub const DEFAULT_EVENT_DURATION_MINUTES: i32 = 60;
/// Longest default event length: one day, in minutes.
pub const MAX_EVENT_DURATION_MINUTES: i32 = 24 * 60;

/// A registered user (never carries the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// Contact address, possibly empty.
    pub email: String,
    /// Display name, possibly empty.
    pub name: String,
    /// Time zone and default event length.
    pub preferences: Preferences,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// A user together with the stored password hash, for logging in.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The Argon2id PHC string.
    pub password_hash: String,
}

/// How a user's events are shown and created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    /// The zone events are written to Google Calendar in.
    pub timezone: TimeZoneName,
    /// Length in minutes that clients offer for a new event.
    pub default_event_duration: i32,
    /// Where events created in Google Calendar are imported; `None`: the user's own
    /// `Google Calendar` category.
    pub google_import_category: Option<CategoryId>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            timezone: TimeZoneName::UTC,
            default_event_duration: DEFAULT_EVENT_DURATION_MINUTES,
            google_import_category: None,
        }
    }
}

/// A change to preferences; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferencesPatch {
    /// New IANA time zone name.
    pub timezone: Option<String>,
    /// New default event length in minutes.
    pub default_event_duration: Option<i64>,
    /// New import category: `Some(None)` clears it. Whether the user may use the category is
    /// checked by the service, which can see categories.
    pub google_import_category: Option<Option<CategoryId>>,
}

impl PreferencesPatch {
    /// Validates the patch and applies it to `current` (all but the import category's
    /// visibility).
    pub fn apply_to(&self, current: Preferences) -> Result<Preferences, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = current;
        if let Some(name) = &self.timezone {
            match name.parse::<TimeZoneName>() {
                Ok(tz) => next.timezone = tz,
                Err(e) => errors.add("timezone", e.to_string()),
            }
        }
        if let Some(minutes) = self.default_event_duration {
            match i32::try_from(minutes) {
                Ok(m) if (1..=MAX_EVENT_DURATION_MINUTES).contains(&m) => {
                    next.default_event_duration = m;
                }
                _ => errors.add(
                    "default_event_duration",
                    format!(
                        "Ensure this value is between 1 and {MAX_EVENT_DURATION_MINUTES} minutes."
                    ),
                ),
            }
        }
        if let Some(category) = self.google_import_category {
            next.google_import_category = category;
        }
        errors.into_result().map(|()| next)
    }
}

/// What a client sends to register, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// Wanted login name.
    pub username: String,
    /// Plain-text password; only its hash is ever stored.
    pub password: String,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// Optional display name.
    pub name: Option<String>,
    /// Optional IANA time zone (default `UTC`).
    pub timezone: Option<String>,
}

/// A registration that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRegistration {
    /// Login name.
    pub username: String,
    /// Plain-text password, still to be hashed.
    pub password: String,
    /// E-mail address or empty.
    pub email: String,
    /// Display name or empty.
    pub name: String,
    /// Initial preferences.
    pub preferences: Preferences,
}

impl Registration {
    /// Applies the username, password, e-mail, name and time zone rules.
    pub fn validate(self) -> Result<ValidRegistration, FieldErrors> {
        let mut errors = FieldErrors::new();
        let username = self.username.trim().to_owned();
        validate_username(&mut errors, &username);
        for message in password_problems(&self.password, &username) {
            errors.add("password", message);
        }
        let email = self.email.unwrap_or_default().trim().to_owned();
        if !email.is_empty() && !looks_like_email(&email) {
            errors.add("email", "Enter a valid email address.");
        }
        let name = self.name.unwrap_or_default().trim().to_owned();
        optional_text(&mut errors, "name", &name, NAME_MAX_CHARS);
        let patch = PreferencesPatch {
            timezone: self.timezone,
            default_event_duration: None,
            google_import_category: None,
        };
        let preferences = match patch.apply_to(Preferences::default()) {
            Ok(p) => p,
            Err(e) => {
                errors.merge(e);
                Preferences::default()
            }
        };
        errors.into_result().map(|()| ValidRegistration {
            username,
            password: self.password,
            email,
            name,
            preferences,
        })
    }
}

/// The data stored for a new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (validated).
    pub username: String,
    /// E-mail address or empty.
    pub email: String,
    /// Display name or empty.
    pub name: String,
    /// Initial preferences.
    pub preferences: Preferences,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn validate_username(errors: &mut FieldErrors, username: &str) {
    if username.is_empty() {
        errors.add("username", BLANK);
    } else if username.chars().count() > USERNAME_MAX_CHARS {
        errors.add("username", too_long(USERNAME_MAX_CHARS));
    } else if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        errors.add(
            "username",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        );
    }
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.chars().count() <= EMAIL_MAX_CHARS
        && !local.is_empty()
        && !email.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Passwords so common that an attacker tries them first (a short list in Django's spirit).
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "abc12345",
    "letmein1",
    "trustno1",
    "superman",
    "starwars",
    "passw0rd",
    "whatever",
    "11111111",
    "00000000",
    "zaq12wsx",
    "1q2w3e4r",
    "asdfghjkl",
    "changeme",
    "admin123",
    "qwerty12",
    "monkey123",
    "dragon123",
    "michael1",
    "computer",
    "internet",
    "p@ssw0rd",
];

/// Everything wrong with `password` for `username`, as messages (empty when acceptable).
///
/// Mirrors Django's default validators: minimum length, not entirely numeric, not a common
/// password, not too similar to the username.
pub fn password_problems(password: &str, username: &str) -> Vec<String> {
    if password.is_empty() {
        return vec![BLANK.to_owned()];
    }
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        problems.push(format!(
            "This password is too short. It must contain at least {PASSWORD_MIN_CHARS} characters."
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        problems.push(too_long(PASSWORD_MAX_CHARS));
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".to_owned());
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        problems.push("This password is too common.".to_owned());
    }
    let user_lower = username.to_lowercase();
    if user_lower.chars().count() >= 3
        && (lower.contains(&user_lower) || user_lower.contains(&lower))
    {
        problems.push("The password is too similar to the username.".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(username: &str, password: &str) -> Registration {
        Registration {
            username: username.into(),
            password: password.into(),
            ..Registration::default()
        }
    }

    #[test]
    fn accepts_a_reasonable_registration_with_defaults() {
        let valid = registration(" ada ", "correct horse battery").validate();
        let valid = valid.expect("valid");
        assert_eq!(valid.username, "ada");
        assert_eq!(valid.preferences, Preferences::default());
    }

    #[test]
    fn rejects_weak_passwords_with_reasons() {
        for weak in ["", "short", "12345678901", "password", "ada-lovelace-1"] {
            let errors = registration("ada-lovelace", weak).validate().unwrap_err();
            assert!(errors.has("password"), "{weak:?} accepted");
        }
    }

    #[test]
    fn rejects_bad_username_email_and_timezone() {
        let errors = Registration {
            username: "no spaces".into(),
            password: "correct horse battery".into(),
            email: Some("not-an-email".into()),
            timezone: Some("Nowhere/Town".into()),
            ..Registration::default()
        }
        .validate()
        .unwrap_err();
        for field in ["username", "email", "timezone"] {
            assert!(errors.has(field), "{field} not flagged: {errors}");
        }
    }

    #[test]
    fn preferences_patch_validates_each_field() {
        let current = Preferences::default();
        let ok = PreferencesPatch {
            timezone: Some("Asia/Tokyo".into()),
            default_event_duration: Some(90),
            google_import_category: Some(Some(CategoryId(4))),
        }
        .apply_to(current)
        .expect("valid");
        assert_eq!(
            (
                ok.timezone.name(),
                ok.default_event_duration,
                ok.google_import_category
            ),
            ("Asia/Tokyo", 90, Some(CategoryId(4)))
        );
        let cleared = PreferencesPatch {
            google_import_category: Some(None),
            ..PreferencesPatch::default()
        }
        .apply_to(ok)
        .expect("valid");
        assert_eq!(cleared.google_import_category, None);
        let bad = PreferencesPatch {
            timezone: Some("Asia/Atlantis".into()),
            default_event_duration: Some(0),
            google_import_category: None,
        }
        .apply_to(current)
        .unwrap_err();
        assert!(bad.has("timezone") && bad.has("default_event_duration"));
    }
}
