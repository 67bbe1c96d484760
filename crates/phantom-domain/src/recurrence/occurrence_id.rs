//! Occurrence ids: Google's instance-id form, `<series>_<original start>`, where the original
//! start is `YYYYMMDDTHHMMSSZ` in UTC, or the local date `YYYYMMDD` for an all-day series.
//! Phantom's ids use the series' integer id, Google's the series' Google id.

use std::fmt;
use std::str::FromStr;

use super::OriginalStart;
use super::rule::{format_date, format_utc, parse_date, parse_date_time};
use crate::ids::EventId;

/// One occurrence of a series, as its id names it (`"17_20261208T090000Z"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OccurrenceKey {
    /// The series.
    pub series: EventId,
    /// The occurrence's start under the rule.
    pub original_start: OriginalStart,
}

/// The text is not an occurrence id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an occurrence id (like \"17_20261208T090000Z\" or \"17_20261208\").")]
pub struct NotAnOccurrenceId(pub String);

impl OriginalStart {
    /// The id suffix: `20261208T090000Z` (UTC, upper-case `T` and `Z`) or `20261208`.
    pub fn id_suffix(self) -> String {
        match self {
            OriginalStart::At(t) => format_utc(t),
            OriginalStart::Day(d) => format_date(d),
        }
    }

    /// Reads an id suffix back; anything but the two exact forms is `None`.
    pub fn parse_id_suffix(suffix: &str) -> Option<OriginalStart> {
        match suffix.len() {
            8 => parse_date(suffix).map(OriginalStart::Day),
            16 => suffix
                .strip_suffix('Z')
                .and_then(parse_date_time)
                .map(|t| OriginalStart::At(t.and_utc())),
            _ => None,
        }
    }
}

impl fmt::Display for OccurrenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.series, self.original_start.id_suffix())
    }
}

impl FromStr for OccurrenceKey {
    type Err = NotAnOccurrenceId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not = || NotAnOccurrenceId(s.to_owned());
        let (series, suffix) = s.split_once('_').ok_or_else(not)?;
        // Exactly the digits `EventId` prints, so that an id reads back to the same text.
        let canonical = !series.is_empty()
            && series.bytes().all(|b| b.is_ascii_digit())
            && !series.starts_with('0');
        if !canonical {
            return Err(not());
        }
        Ok(OccurrenceKey {
            series: EventId(series.parse().map_err(|_| not())?),
            original_start: OriginalStart::parse_id_suffix(suffix).ok_or_else(not)?,
        })
    }
}

/// The id of a Google series' instance: `abc123_20261208T090000Z` or `abc123_20261208`.
pub fn google_instance_id(google_series_id: &str, original_start: OriginalStart) -> String {
    format!("{google_series_id}_{}", original_start.id_suffix())
}

/// Splits a Google instance id into the series' Google id and the original start.
pub fn parse_google_instance_id(id: &str) -> Option<(&str, OriginalStart)> {
    let (series, suffix) = id.rsplit_once('_')?;
    if series.is_empty() {
        return None;
    }
    Some((series, OriginalStart::parse_id_suffix(suffix)?))
}
