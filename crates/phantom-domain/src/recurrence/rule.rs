//! Reading the `recurrence` lines: the one `RRULE`, and the `EXDATE`/`RDATE` lines, checked and
//! normalised to the one form the series' start has (a local date-time in its zone, or a date).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use rrule::Frequency;

use super::{OriginalStart, RecurrenceError};
use crate::event::local_midnight;
use crate::timezone::TimeZoneName;

/// Largest `COUNT` accepted: a `COUNT` series is counted from its start at every parse.
pub const MAX_COUNT: u32 = 10_000;

/// Most occurrences a rule may have in one day (every quarter of an hour): an API window of
/// 366 days then holds at most ~35,000 occurrences.
pub const MAX_PER_DAY: u64 = 96;

/// The parsed `RRULE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RuleLine {
    /// `NAME=VALUE` parts in the order given, names upper-cased, without `COUNT` and `UNTIL`.
    pub parts: Vec<(String, String)>,
    /// `FREQ`.
    pub freq: Frequency,
    /// `INTERVAL`, 1 when absent.
    pub interval: u32,
    /// `COUNT`.
    pub count: Option<u32>,
    /// `UNTIL`, inclusive, as an original start of this series.
    pub until: Option<OriginalStart>,
}

impl RuleLine {
    /// The value of a part other than `COUNT`/`UNTIL`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the lines say, before the rule is checked against the series' start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lines {
    pub rule: RuleLine,
    pub exdates: BTreeSet<OriginalStart>,
    pub rdates: BTreeSet<OriginalStart>,
}

/// How the series' times are written: its zone, and whether it goes by dates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Form {
    pub zone: TimeZoneName,
    pub all_day: bool,
}

pub(super) fn parse_lines<S: AsRef<str>>(
    lines: &[S],
    form: Form,
) -> Result<Lines, RecurrenceError> {
    let mut rule = None;
    let mut exdates = BTreeSet::new();
    let mut rdates = BTreeSet::new();
    for raw in lines {
        let line = raw.as_ref().trim();
        let (head, value) = line
            .split_once(':')
            .ok_or_else(|| RecurrenceError::UnsupportedLine(line.to_owned()))?;
        let mut params = head.split(';');
        let name = params.next().unwrap_or_default().to_ascii_uppercase();
        match name.as_str() {
            "RRULE" => {
                if rule.is_some() {
                    return Err(RecurrenceError::SeveralRules);
                }
                if params.next().is_some() {
                    return Err(RecurrenceError::InvalidRule(
                        "RRULE takes no parameters".to_owned(),
                    ));
                }
                rule = Some(parse_rule(value, form)?);
            }
            "EXDATE" | "RDATE" => {
                let into = if name == "EXDATE" {
                    &mut exdates
                } else {
                    &mut rdates
                };
                into.extend(parse_dates(&name, params, value, form)?);
            }
            "EXRULE" => return Err(RecurrenceError::ExRule),
            "DTSTART" => return Err(RecurrenceError::DtStart),
            _ => return Err(RecurrenceError::UnsupportedLine(line.to_owned())),
        }
    }
    let rule = rule.ok_or(RecurrenceError::NoRule)?;
    Ok(Lines {
        rule,
        exdates,
        rdates,
    })
}

fn parse_rule(value: &str, form: Form) -> Result<RuleLine, RecurrenceError> {
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut count = None;
    let mut until = None;
    for part in value.split(';').filter(|p| !p.is_empty()) {
        let (name, val) = part
            .split_once('=')
            .ok_or_else(|| RecurrenceError::InvalidRule(format!("\"{part}\" is not NAME=VALUE")))?;
        let name = name.trim().to_ascii_uppercase();
        let val = val.trim().to_ascii_uppercase();
        let repeated = parts.iter().any(|(n, _)| *n == name)
            || (name == "COUNT" && count.is_some())
            || (name == "UNTIL" && until.is_some());
        if repeated {
            return Err(RecurrenceError::InvalidRule(format!(
                "{name} is given twice"
            )));
        }
        match name.as_str() {
            "COUNT" => {
                let n: u32 = val.parse().map_err(|_| {
                    RecurrenceError::InvalidRule(format!("COUNT={val} is not a whole number"))
                })?;
                if n == 0 || n > MAX_COUNT {
                    return Err(RecurrenceError::CountOutOfRange);
                }
                count = Some(n);
            }
            "UNTIL" => until = Some(parse_until(&val, form)?),
            _ => parts.push((name, val)),
        }
    }
    if count.is_some() && until.is_some() {
        return Err(RecurrenceError::CountWithUntil);
    }
    let freq = parts
        .iter()
        .find(|(n, _)| n == "FREQ")
        .ok_or(RecurrenceError::NoFreq)?
        .1
        .parse::<Frequency>()
        .map_err(|_| {
            RecurrenceError::InvalidRule(
                "FREQ must be one of YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY"
                    .to_owned(),
            )
        })?;
    let interval = match parts.iter().find(|(n, _)| n == "INTERVAL") {
        None => 1,
        Some((_, v)) => v
            .parse::<u16>()
            .ok()
            .filter(|i| *i >= 1)
            .map(u32::from)
            .ok_or_else(|| {
                RecurrenceError::InvalidRule(format!(
                    "INTERVAL={v} must be a whole number from 1 to 65535"
                ))
            })?,
    };
    Ok(RuleLine {
        parts,
        freq,
        interval,
        count,
        until,
    })
}

/// `UNTIL` as the last original start it lets through: a date means "through that local day".
fn parse_until(value: &str, form: Form) -> Result<OriginalStart, RecurrenceError> {
    let bad = || RecurrenceError::InvalidDate {
        property: "UNTIL".to_owned(),
        value: value.to_owned(),
    };
    let tz = form.zone.tz();
    let moment = match value.len() {
        8 => {
            let day = parse_date(value).ok_or_else(bad)?;
            if form.all_day {
                return Ok(OriginalStart::Day(day));
            }
            let next = day.succ_opt().ok_or_else(bad)?;
            local_midnight(next, form.zone) - TimeDelta::seconds(1)
        }
        16 if value.ends_with('Z') => parse_date_time(&value[..15]).ok_or_else(bad)?.and_utc(),
        // A floating UNTIL (not RFC 5545 with a zoned start, but seen in the wild): the
        // series' own zone is the only sensible reading.
        15 => earliest(tz, parse_date_time(value).ok_or_else(bad)?).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(if form.all_day {
        OriginalStart::Day(moment.with_timezone(&tz).date_naive())
    } else {
        OriginalStart::At(moment)
    })
}

fn parse_dates<'a>(
    property: &str,
    params: impl Iterator<Item = &'a str>,
    value: &str,
    form: Form,
) -> Result<Vec<OriginalStart>, RecurrenceError> {
    let mut zone = form.zone.tz();
    let mut dates = false;
    for param in params {
        let (name, val) = param.split_once('=').unwrap_or((param, ""));
        match (name.to_ascii_uppercase().as_str(), val) {
            ("TZID", tzid) => {
                zone = tzid
                    .parse::<TimeZoneName>()
                    .map_err(|_| RecurrenceError::UnknownZone(tzid.to_owned()))?
                    .tz();
            }
            ("VALUE", v) if v.eq_ignore_ascii_case("DATE") => dates = true,
            ("VALUE", v) if v.eq_ignore_ascii_case("DATE-TIME") => {}
            _ => {
                return Err(RecurrenceError::InvalidRule(format!(
                    "{property} parameter \"{param}\" is not supported (use TZID=… or VALUE=DATE)"
                )));
            }
        }
    }
    value
        .split(',')
        .map(|v| {
            let v = v.trim();
            let bad = || RecurrenceError::InvalidDate {
                property: property.to_owned(),
                value: v.to_owned(),
            };
            if dates || v.len() == 8 {
                if !form.all_day {
                    return Err(RecurrenceError::DateOnTimedSeries(property.to_owned()));
                }
                return parse_date(v).map(OriginalStart::Day).ok_or_else(bad);
            }
            let (local, at) = match v.len() {
                16 if v.ends_with('Z') => {
                    let at = parse_date_time(&v[..15]).ok_or_else(bad)?.and_utc();
                    (at.with_timezone(&form.zone.tz()).naive_local(), at)
                }
                15 => {
                    let local = parse_date_time(v).ok_or_else(bad)?;
                    let at =
                        earliest(zone, local).ok_or_else(|| RecurrenceError::NonexistentTime {
                            value: v.to_owned(),
                            zone: zone.name().to_owned(),
                        })?;
                    (at.with_timezone(&form.zone.tz()).naive_local(), at)
                }
                _ => return Err(bad()),
            };
            Ok(if form.all_day {
                OriginalStart::Day(local.date())
            } else {
                OriginalStart::At(at)
            })
        })
        .collect()
}

/// `YYYYMMDD`, digits only.
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s[..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..].parse().ok()?,
    )
}

/// `YYYYMMDDTHHMMSS`, with an upper-case `T`.
pub(super) fn parse_date_time(s: &str) -> Option<NaiveDateTime> {
    if s.len() != 15 || s.as_bytes().get(8) != Some(&b'T') {
        return None;
    }
    let time = &s[9..];
    if !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(
        time[..2].parse().ok()?,
        time[2..4].parse().ok()?,
        time[4..].parse().ok()?,
    )?;
    Some(parse_date(&s[..8])?.and_time(time))
}

/// The instant a local time names: the first of two in a repeated hour (RFC 5545 §3.3.5),
/// none in a skipped one.
pub(super) fn earliest(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `YYYYMMDD`.
pub(super) fn format_date(day: NaiveDate) -> String {
    let mut out = String::with_capacity(8);
    push_date(&mut out, day);
    out
}

/// `YYYYMMDDTHHMMSS`.
pub(super) fn format_local(t: NaiveDateTime) -> String {
    let mut out = String::with_capacity(16);
    push_date(&mut out, t.date());
    push_time(&mut out, t.time());
    out
}

/// `YYYYMMDDTHHMMSSZ`: every occurrence id of a timed series has one.
pub(super) fn format_utc(t: DateTime<Utc>) -> String {
    let mut out = format_local(t.naive_utc());
    out.push('Z');
    out
}

/// `%Y%m%d` (chrono's own for a year outside 0–9999, which it signs), without parsing a format
/// string for each of the many ids a `range/` writes.
fn push_date(out: &mut String, day: NaiveDate) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = if (0..=9999).contains(&day.year()) {
        write!(out, "{:04}{:02}{:02}", day.year(), day.month(), day.day())
    } else {
        write!(out, "{}", day.format("%Y%m%d"))
    };
}

/// `T%H%M%S`.
fn push_time(out: &mut String, t: NaiveTime) {
    use std::fmt::Write as _;
    let _ = write!(out, "T{:02}{:02}{:02}", t.hour(), t.minute(), t.second());
}

/// The normalised lines: the `RRULE` (its `UNTIL` in UTC, or a date for an all-day series),
/// then one `EXDATE` and one `RDATE` line in the series' own form.
pub(super) fn write_lines(lines: &Lines, form: Form) -> Vec<String> {
    let rule = &lines.rule;
    let mut parts: Vec<String> = rule.parts.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if let Some(count) = rule.count {
        parts.push(format!("COUNT={count}"));
    }
    match rule.until {
        Some(OriginalStart::At(t)) => parts.push(format!("UNTIL={}", format_utc(t))),
        Some(OriginalStart::Day(d)) => parts.push(format!("UNTIL={}", format_date(d))),
        None => {}
    }
    let mut out = vec![format!("RRULE:{}", parts.join(";"))];
    for (name, set) in [("EXDATE", &lines.exdates), ("RDATE", &lines.rdates)] {
        out.extend(write_dates(name, set, form));
    }
    out
}

fn write_dates(name: &str, set: &BTreeSet<OriginalStart>, form: Form) -> Vec<String> {
    let tz = form.zone.tz();
    let mut days = Vec::new();
    let mut local = Vec::new();
    let mut utc = Vec::new();
    for moment in set {
        match *moment {
            OriginalStart::Day(d) => days.push(format_date(d)),
            OriginalStart::At(t) => {
                let wall = t.with_timezone(&tz).naive_local();
                // The second of two equal local times cannot be written in the local form
                // (it reads as the first): it keeps the UTC form.
                if earliest(tz, wall) == Some(t) {
                    local.push(format_local(wall));
                } else {
                    utc.push(format_utc(t));
                }
            }
        }
    }
    let mut out = Vec::new();
    if !days.is_empty() {
        out.push(format!("{name};VALUE=DATE:{}", days.join(",")));
    }
    if !local.is_empty() {
        out.push(format!(
            "{name};TZID={}:{}",
            form.zone.name(),
            local.join(",")
        ));
    }
    if !utc.is_empty() {
        out.push(format!("{name}:{}", utc.join(",")));
    }
    out
}
