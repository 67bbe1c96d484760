//! Instance ids: `<seriesId>_<YYYYMMDDTHHMMSSZ>` (the original start in UTC)
//! or `<seriesId>_<YYYYMMDD>` for an all-day series, exactly as Google
//! spells them (upper-case `T` and `Z`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// The instance id of `series`'s instance originally starting `at`.
pub(crate) fn format_instance_id(series: &str, at: DateTime<Utc>, all_day: bool) -> String {
    let stamp = if all_day {
        at.format("%Y%m%d")
    } else {
        at.format("%Y%m%dT%H%M%SZ")
    };
    format!("{series}_{stamp}")
}

/// The series id and original start an instance id names, if it has the
/// form `all_day` asks for; whether it is an occurrence is for the caller.
pub(crate) fn parse_instance_id(id: &str) -> Option<(&str, Stamp)> {
    let (series, stamp) = id.rsplit_once('_')?;
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    let parsed = match stamp.len() {
        8 if digits(stamp) => Stamp::Date(NaiveDate::parse_from_str(stamp, "%Y%m%d").ok()?),
        16 if stamp.as_bytes()[8] == b'T'
            && stamp.ends_with('Z')
            && digits(&stamp[..8])
            && digits(&stamp[9..15]) =>
        {
            let naive = NaiveDateTime::parse_from_str(&stamp[..15], "%Y%m%dT%H%M%S").ok()?;
            Stamp::Timed(naive.and_utc())
        }
        _ => return None,
    };
    (!series.is_empty()).then_some((series, parsed))
}

/// The original-start part of an instance id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// `YYYYMMDD`: an all-day series' instance.
    Date(NaiveDate),
    /// `YYYYMMDDTHHMMSSZ`: a timed series' instance.
    Timed(DateTime<Utc>),
}

impl Stamp {
    /// The original start, if the stamp has the form a series of this kind uses.
    pub(crate) fn instant(self, all_day: bool) -> Option<DateTime<Utc>> {
        match (self, all_day) {
            (Self::Date(date), true) => Some(date.and_hms_opt(0, 0, 0)?.and_utc()),
            (Self::Timed(at), false) => Some(at),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_round_trip_and_refuse_other_spellings() {
        let at = "2026-12-08T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let id = format_instance_id("abc123", at, false);
        assert_eq!(id, "abc123_20261208T090000Z");
        let (series, stamp) = parse_instance_id(&id).unwrap();
        assert_eq!((series, stamp.instant(false)), ("abc123", Some(at)));
        assert_eq!(stamp.instant(true), None);
        assert!(parse_instance_id("abc123_20261208t090000z").is_none());
        assert!(parse_instance_id("abc123_20261208T0900Z").is_none());
        assert!(parse_instance_id("abc123_2026120").is_none());
        assert!(parse_instance_id("abc123").is_none());
        let (_, day) = parse_instance_id("abc123_20261208").unwrap();
        assert!(day.instant(true).is_some());
    }
}
