//! RFC 3339 times on the wire.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

/// The message for any time the API cannot read.
pub const TIME_FORMAT_HELP: &str = "Datetime has wrong format. Use RFC 3339 with an offset, e.g. 2026-11-24T09:00:00Z or 2026-11-24T10:00:00+01:00.";

/// Parses RFC 3339 with an offset (seconds optional, as DRF allows); years 1 to 9999 only.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, &'static str> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text).or_else(|_| {
        // `hh:mm` without seconds: insert them and try again.
        let (date_time, offset) = split_offset(text).ok_or(())?;
        DateTime::parse_from_rfc3339(&format!("{date_time}:00{offset}")).map_err(|_| ())
    });
    let time = parsed.map_err(|_| TIME_FORMAT_HELP)?.with_timezone(&Utc);
    if !(1..=9999).contains(&time.year()) {
        return Err("Datetime must be between the years 1 and 9999.");
    }
    Ok(time)
}

fn split_offset(text: &str) -> Option<(&str, &str)> {
    if let Some(stripped) = text.strip_suffix(['Z', 'z']) {
        return Some((stripped, "Z"));
    }
    let at = text.len().checked_sub(6)?;
    let (head, tail) = text.split_at_checked(at)?;
    (tail.starts_with(['+', '-']) && tail.as_bytes().get(3) == Some(&b':')).then_some((head, tail))
}

/// UTC with a `Z`, fractional seconds only when present: `2026-11-24T09:00:00Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_offsets_and_writes_utc() {
        let t = parse_time("2026-11-24T10:00:00+01:00").expect("valid");
        assert_eq!(format_time(t), "2026-11-24T09:00:00Z");
        let t = parse_time("2026-11-24T10:00+01:00").expect("valid without seconds");
        assert_eq!(format_time(t), "2026-11-24T09:00:00Z");
        let t = parse_time("2026-11-24T09:00:00.250Z").expect("valid");
        assert_eq!(format_time(t), "2026-11-24T09:00:00.250Z");
    }

    #[test]
    fn refuses_naive_garbage_and_far_years() {
        for bad in [
            "2026-11-24T09:00:00",
            "tomorrow",
            "",
            "2026-13-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
    }
}
