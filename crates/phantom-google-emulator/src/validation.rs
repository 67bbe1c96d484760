//! What Google checks in event bodies, and how bodies become stored fields.

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::event::{EventDateTime, EventStatus};
use crate::recurrence::Schedule;

/// Fields Google computes itself; whatever a client sends for them is ignored.
const READ_ONLY: &[&str] = &[
    "kind",
    "etag",
    "id",
    "status",
    "htmlLink",
    "created",
    "updated",
    "creator",
    "organizer",
    "iCalUID",
    "sequence",
];

/// Google accepts client ids of 5–1024 characters from base32hex (`a`–`v`, `0`–`9`).
pub(crate) fn validate_id(id: &str) -> Result<(), ApiError> {
    let alphabet_ok = id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'));
    if alphabet_ok && (5..=1024).contains(&id.len()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid",
            "Invalid resource id value.",
        ))
    }
}

/// The `status` a request body asks for, if any.
pub(crate) fn requested_status(body: &Map<String, Value>) -> Result<Option<EventStatus>, ApiError> {
    match body.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_str() {
            Some("confirmed") => Ok(Some(EventStatus::Confirmed)),
            Some("tentative") => Ok(Some(EventStatus::Tentative)),
            Some("cancelled") => Ok(Some(EventStatus::Cancelled)),
            _ => Err(ApiError::bad_request(
                "invalid",
                "Invalid value for: status",
            )),
        },
    }
}

/// The writable fields of a full (insert or update) body; nulls mean absent.
pub(crate) fn writable_fields(body: Map<String, Value>) -> Map<String, Value> {
    body.into_iter()
        .filter(|(key, value)| !READ_ONLY.contains(&key.as_str()) && !value.is_null())
        .collect()
}

/// Patch semantics: given fields replace, nulls clear, nested objects merge,
/// except `start`/`end`, which are replaced whole so that a `date` and a
/// `dateTime` never end up side by side.
pub(crate) fn patched_fields(
    existing: &Map<String, Value>,
    patch: Map<String, Value>,
) -> Map<String, Value> {
    let mut fields = existing.clone();
    for (key, value) in patch {
        if READ_ONLY.contains(&key.as_str()) {
            continue;
        }
        let whole = matches!(key.as_str(), "start" | "end");
        match (fields.get_mut(&key), value) {
            (_, Value::Null) => {
                fields.remove(&key);
            }
            (Some(Value::Object(old)), Value::Object(new)) if !whole => {
                merge(old, new);
            }
            (_, value) => {
                fields.insert(key, value);
            }
        }
    }
    fields
}

fn merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match (target.get_mut(&key), value) {
            (_, Value::Null) => {
                target.remove(&key);
            }
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

/// Checks what Google checks on insert and update.
pub(crate) fn validate(fields: &Map<String, Value>) -> Result<(), ApiError> {
    let start = boundary(fields, "start")?;
    let end = boundary(fields, "end")?;
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) => (start, end),
        (None, _) => return Err(ApiError::bad_request("required", "Missing start time.")),
        (_, None) => return Err(ApiError::bad_request("required", "Missing end time.")),
    };
    if start.date.is_some() != end.date.is_some() {
        return Err(ApiError::bad_request(
            "invalid",
            "Start and end times must either both be date or both be dateTime.",
        ));
    }
    let (Some(from), Some(to)) = (start.instant(), end.instant()) else {
        return Err(ApiError::bad_request("invalid", "Bad Request"));
    };
    // All-day ends are exclusive, so an equal date is an empty range too.
    let empty = if start.date.is_some() {
        to <= from
    } else {
        to < from
    };
    if empty {
        return Err(ApiError::bad_request(
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    if let Some(recurrence) = fields.get("recurrence") {
        validate_recurrence(recurrence)?;
        // A series is expanded in its own zone, so Google insists on one.
        for (key, boundary) in [("start", &start), ("end", &end)] {
            if boundary.date_time.is_some() && boundary.time_zone.is_none() {
                return Err(ApiError::bad_request(
                    "required",
                    format!("Missing time zone definition for {key} time."),
                ));
            }
        }
        Schedule::of(fields)?;
    }
    if let Some(color) = fields.get("colorId") {
        let valid = color
            .as_str()
            .and_then(|color| color.parse::<u8>().ok())
            .is_some_and(|color| (1..=11).contains(&color));
        if !valid {
            return Err(ApiError::bad_request("invalid", "Invalid color ID."));
        }
    }
    Ok(())
}

/// `recurrence` must be a list of RRULE, EXRULE, RDATE or EXDATE lines; an
/// RRULE must say its `FREQ`.
fn validate_recurrence(recurrence: &Value) -> Result<(), ApiError> {
    let invalid = || ApiError::bad_request("invalid", "Invalid recurrence rule.");
    let lines = recurrence.as_array().ok_or_else(invalid)?;
    for line in lines {
        let line = line.as_str().ok_or_else(invalid)?.to_ascii_uppercase();
        let (name, value) = line.split_once(':').ok_or_else(invalid)?;
        let name = name.split(';').next().unwrap_or_default();
        let known = match name {
            "RRULE" | "EXRULE" => value.split(';').any(|part| part.starts_with("FREQ=")),
            "RDATE" | "EXDATE" => !value.is_empty(),
            _ => false,
        };
        if !known {
            return Err(invalid());
        }
    }
    Ok(())
}

/// Parses and checks `start` or `end`; `None` when absent or empty.
fn boundary(fields: &Map<String, Value>, key: &str) -> Result<Option<EventDateTime>, ApiError> {
    let Some(value) = fields.get(key) else {
        return Ok(None);
    };
    let parsed: EventDateTime = serde_json::from_value(value.clone())
        .map_err(|_| ApiError::bad_request("invalid", format!("Invalid value for: {key}")))?;
    if parsed.date.is_none() && parsed.date_time.is_none() {
        return Ok(None);
    }
    if parsed.date.is_some() && parsed.date_time.is_some() {
        return Err(ApiError::bad_request(
            "invalid",
            format!("Invalid {key} time."),
        ));
    }
    if let Some(zone) = &parsed.time_zone
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::bad_request(
            "invalid",
            format!("Invalid time zone definition for {key} time."),
        ));
    }
    if let Some(raw) = &parsed.date_time
        && DateTime::parse_from_rfc3339(raw).is_err()
    {
        if parsed.time_zone.is_none() {
            return Err(ApiError::bad_request(
                "required",
                format!("Missing time zone definition for {key} time."),
            ));
        }
        if parsed.instant().is_none() {
            return Err(ApiError::bad_request(
                "invalid",
                format!("Invalid {key} time."),
            ));
        }
    }
    if parsed.instant().is_none() {
        return Err(ApiError::bad_request(
            "invalid",
            format!("Invalid {key} time."),
        ));
    }
    Ok(Some(parsed))
}
